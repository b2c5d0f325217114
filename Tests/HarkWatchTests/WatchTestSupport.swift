import Foundation
import HarkTestSupport
import Hark
@testable import HarkWatch
import Logging
import XCTest

/// A deterministic engine: the "transcript" of a file is its text. Content starting with "BAD"
/// fails like a corrupt file, empty content like an empty one. It can be held at a gate to keep
/// a transcription running, and records every call.
final class FakeEngine: TranscriptionEngine, @unchecked Sendable {
    let modelName = "fake"
    let computeType = "float32"
    private let lock = NSLock()
    private var calls: [(name: String, text: String, time: Date)] = []
    private var gateOpen = true
    private var running = 0
    let delay: TimeInterval

    init(delay: TimeInterval = 0, gated: Bool = false) {
        self.delay = delay
        gateOpen = !gated
    }

    /// File names transcribed, in call order.
    var names: [String] { lock.withLock { calls.map(\.name) } }
    var texts: [String] { lock.withLock { calls.map(\.text) } }
    var times: [Date] { lock.withLock { calls.map(\.time) } }
    var inFlight: Int { lock.withLock { running } }
    func count(_ name: String) -> Int { names.filter { $0 == name }.count }

    func open() { lock.withLock { gateOpen = true } }

    func transcribe(path: String) throws(EngineFailure) -> TranscriptionOutput {
        let data = FileManager.default.contents(atPath: path)
        let text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
        lock.withLock {
            calls.append(((path as NSString).lastPathComponent, text, Date()))
            running += 1
        }
        defer { lock.withLock { running -= 1 } }
        while !lock.withLock({ gateOpen }) { Thread.sleep(forTimeInterval: 0.01) }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        guard let data else { throw EngineFailure(reason: "\(path): no such file", fileVanished: true) }
        if data.isEmpty { throw EngineFailure(reason: "\(path): the file is empty (0 bytes)") }
        if text.hasPrefix("BAD") { throw EngineFailure(reason: "\(path): not a readable audio file (fake)") }
        return TranscriptionOutput(duration: Double(data.count) / 100, text: text) { format, model, _, source in
            switch format {
            case .json:
                var object: [String: Any] = ["text": text, "model": model]
                if let source { object["source"] = source.name; object["sha256"] = source.sha256 }
                let json = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                return String(decoding: json ?? Data(), as: UTF8.self) + "\n"
            default:
                return text + "\n"
            }
        }
    }
}

/// Holds the first call until opened, then reads the file (so a rename in between makes it
/// vanish, as for the real decoder); later calls behave like `FakeEngine`.
final class VanishingEngine: TranscriptionEngine, @unchecked Sendable {
    let modelName = "fake"
    let computeType = "float32"
    private let inner = FakeEngine()
    private let lock = NSLock()
    private var gateOpen = false

    func open() { lock.withLock { gateOpen = true } }

    func transcribe(path: String) throws(EngineFailure) -> TranscriptionOutput {
        while !lock.withLock({ gateOpen }) { Thread.sleep(forTimeInterval: 0.01) }
        return try inner.transcribe(path: path)
    }
}

/// A watched temporary folder, its watcher, ledger and captured log.
final class Harness {
    let folder: URL
    var configuration: WatchConfiguration
    let sink = LogSink.capture()
    private(set) var ledger: Ledger!
    private(set) var watcher: Watcher?
    private var task: Task<WatchSummary, Never>?

    init(settle: TimeInterval = 0.2) throws {
        folder = try TestSupport.temporaryDirectory().resolvingSymlinksInPath()
        configuration = WatchConfiguration(folder: folder)
        configuration.settle = settle
        configuration.retryDelay = 0.2
        configuration.rescanInterval = 60
        configuration.grace = 5
    }

    deinit {
        watcher?.requestStop()
        try? FileManager.default.removeItem(at: folder)
    }

    var logger: Logger {
        Logger(label: "test", factory: LogFormat.text.handler(level: .debug, sink: sink))
    }

    /// Lets go of the test's connection to the ledger (before its files are removed).
    func closeLedger() { ledger = nil }

    func openLedger() throws -> Ledger {
        if ledger == nil { ledger = try Ledger(url: configuration.ledgerURL) }
        return ledger
    }

    enum Events { case inotify, poll(TimeInterval), none }

    /// Starts a watcher in the background.
    @discardableResult
    func start(_ engine: any TranscriptionEngine, events: Events = .inotify) throws -> Watcher {
        let fileEvents: (any FileEvents)?
        switch events {
        case .inotify:
            #if os(Linux)
            fileEvents = InotifyEvents(filter: configuration.filter, recursive: configuration.recursive)
            #else
            fileEvents = PollingEvents(scanner: FolderScanner(filter: configuration.filter, recursive: configuration.recursive), interval: 0.1)
            #endif
        case .poll(let interval):
            fileEvents = PollingEvents(scanner: FolderScanner(filter: configuration.filter, recursive: configuration.recursive),
                                       interval: interval)
        case .none:
            fileEvents = nil
        }
        let watcher = Watcher(configuration: configuration, engine: engine, ledger: try openLedger(),
                              fileEvents: fileEvents, logger: logger)
        self.watcher = watcher
        task = Task { await watcher.run() }
        return watcher
    }

    /// Waits for the running watcher to return.
    func finish(timeout: TimeInterval = 20) async throws -> WatchSummary {
        let task = try XCTUnwrap(task, "a watcher was started")
        let deadline = Date().addingTimeInterval(timeout)
        let result = ResultBox<WatchSummary>()
        Task { result.set(await task.value) }
        while result.value == nil {
            if Date() > deadline { throw TimeoutError(what: "the watcher to return\n" + log) }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        self.task = nil
        self.watcher = nil
        return result.value!
    }

    /// Stops the watcher and waits for it.
    @discardableResult
    func stop(timeout: TimeInterval = 20) async throws -> WatchSummary {
        watcher?.requestStop()
        return try await finish(timeout: timeout)
    }

    /// Runs a `once` watcher to completion.
    func runOnce(_ engine: any TranscriptionEngine) async throws -> WatchSummary {
        configuration.once = true
        defer { configuration.once = false }
        try start(engine, events: .none)
        return try await finish()
    }

    func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    func write(_ text: String, to name: String) throws {
        let url = self.url(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ name: String) -> String? {
        FileManager.default.contents(atPath: url(name).path).map { String(decoding: $0, as: UTF8.self) }
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: url(name).path) }

    /// Every file under the folder (hidden state folder excluded), relative, sorted.
    func files(includingState: Bool = false) -> [String] {
        var result: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        while let relative = enumerator?.nextObject() as? String {
            if !includingState && (relative == ".hark" || relative.hasPrefix(".hark/")) { continue }
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder.appendingPathComponent(relative).path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { result.append(relative) }
        }
        return result.sorted()
    }

    func recording(_ path: String) throws -> Recording? {
        try openLedger().recordings().first { $0.path == path }
    }

    func state(_ path: String) throws -> RecordingState? { try recording(path)?.state }

    var log: String { sink.lines.joined(separator: "\n") }

    func logLines(_ event: String) -> [String] {
        sink.lines.filter { $0.split(separator: " ").dropFirst(2).first == Substring(event) }
    }

    /// Polls `condition` until it holds.
    func waitUntil(_ what: String, timeout: TimeInterval = 15, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try !condition() {
            if Date() > deadline { throw TimeoutError(what: what + "\n" + log) }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    func set(_ value: T) { lock.withLock { stored = value } }
    var value: T? { lock.withLock { stored } }
}

/// Pauses the test.
func pause(_ seconds: TimeInterval) async throws {
    try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
}
