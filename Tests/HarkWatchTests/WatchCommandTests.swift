import Foundation
import HarkTestSupport
@testable import HarkWatch
import XCTest

/// The built `hark watch` as a user (or systemd) runs it: --once, status, SIGTERM and kill -9.
final class WatchCommandTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try TestSupport.temporaryDirectory().resolvingSymlinksInPath() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// The `hark` executable built beside the test bundle.
    private var hark: String { get throws { try TestSupport.harkExecutable() } }

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = TestSupport.modelStore.path
        return environment
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(try hark, arguments, environment: environment)
    }

    /// Fails, not skips, without the model.
    private func requireModel() throws {
        _ = try TestSupport.modelDirectory("tiny.en")
    }

    private func copySample(_ name: String, as target: String? = nil) throws {
        try FileManager.default.copyItem(at: URL(fileURLWithPath: TestSupport.sample(name)),
                                         to: folder.appendingPathComponent(target ?? name))
    }

    private func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != ".hark" }.sorted()
    }

    /// The JSON log events, by name.
    private func events(_ stderr: String) throws -> [[String: Any]] {
        try stderr.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw TimeoutError(what: "a JSON object, got: \(line)")
            }
            return object
        }
    }

    private static let fast = ["--model", "tiny.en", "--beam-size", "1", "--settle", "0.3", "--log-format", "json"]

    func testOnceStatusAndUsage() throws {
        try requireModel()
        try copySample("dentist-22k.ogg")
        try Data("this is not audio".utf8).write(to: folder.appendingPathComponent("broken.wav"))

        let first = try run(["watch", folder.path, "--once"] + Self.fast)
        XCTAssertEqual(first.status, 1, "a file failed\n" + first.stderr)
        let log = try events(first.stderr)
        let names = log.compactMap { $0["event"] as? String }
        for event in ["loaded", "watching", "found", "started", "done", "failed", "stopped"] {
            XCTAssertTrue(names.contains(event), "\(event) in \(names)")
        }
        let done = try XCTUnwrap(log.first { $0["event"] as? String == "done" })
        XCTAssertEqual(done["path"] as? String, "dentist-22k.ogg")
        XCTAssertNotNil(done["speed"] as? Double)
        XCTAssertNotNil(done["seconds"] as? Double)
        let failed = try XCTUnwrap(log.first { $0["event"] as? String == "failed" })
        XCTAssertEqual(failed["path"] as? String, "broken.wav")
        XCTAssertTrue((failed["reason"] as? String)?.contains("not a readable audio file") ?? false, "\(failed)")
        XCTAssertEqual(try files(), ["broken.wav", "dentist-22k.json", "dentist-22k.ogg", "dentist-22k.txt"])
        XCTAssertTrue(try String(contentsOf: folder.appendingPathComponent("dentist-22k.txt"), encoding: .utf8)
            .lowercased().contains("dentist"))

        let status = try run(["watch", "status", folder.path])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("pending 0   processing 0   done 1   failed 1"), status.stdout)
        XCTAssertTrue(status.stdout.contains("broken.wav  (1 attempt, retry at "), status.stdout)
        XCTAssertTrue(status.stdout.contains("watcher  not running"), status.stdout)
        let json = try run(["watch", folder.path, "--status", "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["counts"] as? [String: Int])?["done"], 1)

        // Again: nothing is redone; the bad file waits for its retry time, so this run is clean.
        let second = try run(["watch", folder.path, "--once"] + Self.fast)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertFalse(try events(second.stderr).contains { $0["event"] as? String == "started" }, second.stderr)

        let badType = try run(["watch", folder.path, "--compute-type", "int4"])
        XCTAssertEqual(badType.status, 2)
        XCTAssertTrue(badType.stderr.contains("int8 or float32"), badType.stderr)
        // A configuration that cannot work exits 78, which the systemd unit does not restart on.
        let missing = try run(["watch", folder.appendingPathComponent("nope").path, "--once"])
        XCTAssertEqual(missing.status, 78)
        XCTAssertTrue(missing.stderr.contains("no such folder"), missing.stderr)
        let noModel = try run(["watch", folder.path, "--once", "--model", "nonesuch"])
        XCTAssertEqual(noModel.status, 78, noModel.stderr)
        let noLanguage = try run(["watch", folder.path, "--once", "--model", "tiny.en", "--language", "German"])
        XCTAssertEqual(noLanguage.status, 78, noLanguage.stderr)
        XCTAssertTrue(noLanguage.stderr.contains("needs a multilingual model"), noLanguage.stderr)
        let noLedger = try run(["watch", "status", TestSupport.audioDirectory.path])
        XCTAssertEqual(noLedger.status, 1)
        XCTAssertTrue(noLedger.stderr.contains("has 'hark watch' run on this folder?"), noLedger.stderr)
    }

    /// A second watcher on the same folder is refused even with another --state-dir (the lock
    /// used to live only in the state folder, so both ran and wrote duplicate transcripts).
    func testASecondWatcherOfTheFolderIsRefusedWhateverItsStateFolder() throws {
        try requireModel()
        try copySample("dentist-22k.ogg")
        let states = try TestSupport.temporaryDirectory().resolvingSymlinksInPath()
        defer { try? FileManager.default.removeItem(at: states) }
        let first = states.appendingPathComponent("first"), second = states.appendingPathComponent("second")
        let watcher = try Watch(hark: try hark, arguments: ["watch", folder.path, "--state-dir", first.path] + Self.fast,
                                environment: environment)
        try watcher.waitForState(.done, ledger: first.appendingPathComponent("ledger.sqlite"))

        let refused = try run(["watch", folder.path, "--once", "--state-dir", second.path] + Self.fast)
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("\(folder.path) is already being watched by process "
                                              + "\(watcher.process.processIdentifier); stop it first"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("\"event\":\"started\""), refused.stderr)
        let sameState = try run(["watch", folder.path, "--once", "--state-dir", first.path] + Self.fast)
        XCTAssertEqual(sameState.status, 1, sameState.stderr)
        XCTAssertTrue(sameState.stderr.contains("already being watched by process \(watcher.process.processIdentifier)"), sameState.stderr)

        kill(watcher.process.processIdentifier, SIGTERM)
        XCTAssertEqual(watcher.wait(), 0, watcher.stderr)
        XCTAssertEqual(try files(), ["dentist-22k.json", "dentist-22k.ogg", "dentist-22k.txt"], "one set of transcripts")
    }

    /// A ledger whose -wal file was lost, emptied to 0 bytes or deleted used to make the next run
    /// transcribe everything again and write a second set of transcripts (`name.wav.txt`).
    func testALostLedgerNeverLeadsToASecondTranscription() throws {
        try requireModel()
        try copySample("voice-note-16k.wav")
        let first = try run(["watch", folder.path, "--once"] + Self.fast)
        XCTAssertEqual(first.status, 0, first.stderr)
        let outputs = ["voice-note-16k.json", "voice-note-16k.txt"]
        let before = try outputs.map { try Data(contentsOf: folder.appendingPathComponent($0)) }
        let ledger = folder.appendingPathComponent(".hark/ledger.sqlite").path
        let losses: [(what: String, lose: () -> Void)] = [
            ("the -wal file deleted", { unlink(ledger + "-wal") }),
            ("the ledger emptied to 0 bytes", { truncate(ledger, 0) }),
            ("the ledger deleted", { for suffix in ["", "-wal", "-shm"] { unlink(ledger + suffix) } }),
        ]
        for (what, lose) in losses {
            lose()
            let again = try run(["watch", folder.path, "--once"] + Self.fast)
            XCTAssertEqual(again.status, 0, what + "\n" + again.stderr)
            XCTAssertFalse(again.stderr.contains("\"event\":\"started\""), what + ": transcribed again\n" + again.stderr)
            XCTAssertEqual(try files(), ["voice-note-16k.json", "voice-note-16k.txt", "voice-note-16k.wav"], what)
            XCTAssertEqual(try outputs.map { try Data(contentsOf: folder.appendingPathComponent($0)) }, before,
                           what + ": transcripts unchanged")
            let rows = try Ledger(url: URL(fileURLWithPath: ledger), create: false).recordings()
            XCTAssertEqual(rows.map(\.state), [.done], what)
            XCTAssertEqual(rows.first?.outputs, ["voice-note-16k.txt", "voice-note-16k.json"], what)
        }
    }

    /// Docs/watch.md said --compute-type defaulted to float32 when it was int8: every default the
    /// documentation's option table states is the one `hark watch run --help` shows.
    func testDocumentedDefaultsAreTheOnesTheHelpShows() throws {
        let help = try run(["watch", "run", "--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        // One entry per option: its lines joined, keyed by each long name it has.
        var helpDefaults: [String: String] = [:]
        var entry = ""
        func close() {
            guard let range = entry.range(of: #"\(default: (.*)\)\s*$"#, options: .regularExpression) else { return }
            let value = String(entry[range].dropFirst("(default: ".count).dropLast()).trimmingCharacters(in: .whitespaces)
            for name in entry.split(separator: " ").filter({ $0.hasPrefix("--") }).prefix(1) {
                helpDefaults[String(name)] = value
            }
        }
        for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  -") { close(); entry = String(line) } else { entry += " " + line.trimmingCharacters(in: .whitespaces) }
        }
        close()
        func normalized(_ text: String) -> String {
            var value = text.replacingOccurrences(of: "`", with: "").trimmingCharacters(in: .whitespaces)
            if value.hasSuffix(".0"), Double(value) != nil { value.removeLast(2) }
            return value
        }
        let doc = try String(contentsOf: TestSupport.repositoryRoot.appendingPathComponent("Docs/watch.md"), encoding: .utf8)
        let section = try XCTUnwrap(doc.components(separatedBy: "\n## Options\n").last?.components(separatedBy: "\n## ").first)
        var compared = 0
        for row in section.split(separator: "\n") where row.hasPrefix("| `-") {
            // Cells split at the table's pipes, not at escaped ones (`NAME\|DIR`).
            let cells = row.replacingOccurrences(of: "\\|", with: "/").split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { continue }
            let names = cells[0].split(whereSeparator: { " `,".contains($0) }).filter { $0.hasPrefix("--") }
            guard names.count == 1, let shown = helpDefaults[String(names[0])], cells[1] != "see above" else { continue }
            XCTAssertEqual(normalized(cells[1]), normalized(shown), "\(names[0]): Docs/watch.md says \(cells[1]), --help \(shown)")
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 10, "the table's defaults were found and compared")
    }

    /// Every numeric option is bounded and finite: `--grace inf` used to pass and then crash
    /// the watcher at SIGTERM (a Double to UInt64 conversion that traps).
    func testNumericOptionsOutsideTheirRangeAreUsageErrors() throws {
        let cases: [(arguments: [String], message: String)] = [
            (["--grace", "inf"], "--grace must be a number of seconds from 0 to 3600"),
            (["--grace", "1e19"], "--grace must be a number of seconds from 0 to 3600"),
            (["--grace", "nan"], "--grace must be"),
            (["--grace=-1"], "--grace must be"),
            (["--settle", "inf"], "--settle must be a number of seconds from 0 to 3600"),
            (["--rescan", "0"], "--rescan must be a number of seconds from 0.1 to 86400"),
            (["--rescan", "inf"], "--rescan must be"),
            (["--poll-interval", "1e19"], "--poll-interval must be a number of seconds from 0.1 to 3600"),
            (["--retry-delay", "nan"], "--retry-delay must be a number of seconds from 0 to 3600"),
            (["--jobs", "0"], "--jobs must be from 1 to 64"),
            (["--jobs", "65"], "--jobs must be from 1 to 64"),
            (["--max-attempts", "0"], "--max-attempts must be from 1 to 100"),
            (["--threads", "100000"], "--threads must be from 0 to 16"),
            (["--last=-1"], "--last must be from 0 to 10000"),
        ]
        for (arguments, message) in cases {
            let result = try run(["watch", folder.path, "--once"] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments)\n" + result.stderr)
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): " + result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent(".hark").path),
                           "\(arguments): refused before anything was set up")
        }
        let status = try run(["watch", "status", folder.path, "--last", "20000"])
        XCTAssertEqual(status.status, 2, status.stderr)
        XCTAssertTrue(status.stderr.contains("--last must be from 0 to 10000"), status.stderr)
    }

    /// SIGTERM mid-file, then kill -9 mid-file, then a restart: every recording ends with exactly
    /// one complete set of outputs and a correct ledger.
    func testSigtermAndKillNineMidTranscriptionThenRestart() throws {
        try requireModel()
        try copySample("voice-note-16k.wav")
        try copySample("dentist-22k.ogg")
        let ledgerURL = folder.appendingPathComponent(".hark/ledger.sqlite")

        // SIGTERM with --grace 0: the running file goes back to pending, exit status 0. The
        // abandoned transcription is still running as the process ends: that crashed one stop
        // in three and left its private reading folder in $TMPDIR.
        let temporary = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        var stopped: Watch!
        var firstKey = ""
        for _ in 1...3 {
            stopped = try Watch(hark: try hark, arguments: ["watch", folder.path, "--grace", "0"] + Self.fast,
                                environment: environment.merging(["TMPDIR": temporary.path]) { $1 })
            firstKey = try stopped.waitForProcessing(ledgerURL)
            kill(stopped.process.processIdentifier, SIGTERM)
            XCTAssertEqual(stopped.wait(), 0, stopped.stderr)
            XCTAssertEqual(stopped.process.terminationReason, .exit)
            XCTAssertTrue(stopped.stderr.contains("\"event\":\"stopping\""), stopped.stderr)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporary.path), [], "nothing left in TMPDIR")
        }
        var rows = try Ledger(url: ledgerURL, create: false).recordings()
        XCTAssertFalse(rows.contains { $0.state == .processing }, "nothing is left half-done")
        if let row = rows.first(where: { $0.key == firstKey }), row.state == .pending {
            XCTAssertEqual(row.attempts, 0, "an abandoned attempt is not counted")
            XCTAssertTrue(stopped.stderr.contains("\"event\":\"abandoned\""), stopped.stderr)
        }
        try assertCompleteSets(rows)

        // kill -9 in the middle of a transcription.
        let killed = try Watch(hark: try hark, arguments: ["watch", folder.path] + Self.fast, environment: environment)
        let killedKey = try killed.waitForProcessing(ledgerURL)
        Thread.sleep(forTimeInterval: 0.05) // well inside even a release-build transcription
        kill(killed.process.processIdentifier, SIGKILL)
        _ = killed.wait()
        XCTAssertEqual(killed.process.terminationReason, .uncaughtSignal)
        rows = try Ledger(url: ledgerURL, create: false).recordings()
        let interrupted = try XCTUnwrap(rows.first { $0.key == killedKey })
        let attemptsBefore = interrupted.attempts
        XCTAssertEqual(interrupted.state, .processing, "killed mid-transcription")

        // Restart: the interrupted file is redone once, everything ends done, one set each.
        let restart = try run(["watch", folder.path, "--once"] + Self.fast)
        XCTAssertEqual(restart.status, 0, restart.stderr)
        XCTAssertTrue(restart.stderr.contains("\"event\":\"recovered\""), restart.stderr)
        rows = try Ledger(url: ledgerURL, create: false).recordings()
        XCTAssertEqual(rows.map(\.state), [.done, .done], "\(rows)")
        XCTAssertEqual(rows.first { $0.key == killedKey }?.attempts, attemptsBefore, "redone once; the interrupted attempt not counted")
        XCTAssertEqual(rows.first { $0.key == killedKey }?.interruptions, 1)
        try assertCompleteSets(rows)
        XCTAssertEqual(try files(), ["dentist-22k.json", "dentist-22k.ogg", "dentist-22k.txt",
                                     "voice-note-16k.json", "voice-note-16k.txt", "voice-note-16k.wav"])
        let hidden = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(hidden, [], "no temporary files left")
    }

    /// Rapid kill -9 restarts, more of them than --max-attempts, each in the middle of the same
    /// transcription: the recording used to be left failed for good ("interrupted 3 times").
    func testKillNineRestartsAreNotCountedAgainstTheRecording() throws {
        try requireModel()
        try copySample("voice-note-16k.wav")
        let ledgerURL = folder.appendingPathComponent(".hark/ledger.sqlite")
        for _ in 1...5 {
            let killed = try Watch(hark: try hark, arguments: ["watch", folder.path, "--max-attempts", "3"] + Self.fast,
                                   environment: environment)
            try killed.waitForEvent("started") // this run's transcription, not the one the last run left
            kill(killed.process.processIdentifier, SIGKILL)
            _ = killed.wait()
        }
        let restart = try run(["watch", folder.path, "--once", "--max-attempts", "3"] + Self.fast)
        XCTAssertEqual(restart.status, 0, restart.stderr)
        let rows = try Ledger(url: ledgerURL, create: false).recordings()
        XCTAssertEqual(rows.map(\.state), [.done], "\(rows)")
        XCTAssertEqual(rows.first?.attempts, 1)
        XCTAssertEqual(rows.first?.interruptions, 5, "\(rows)")
        try assertCompleteSets(rows)
    }

    /// Every done recording has its txt and json, parseable and about it; nothing else has outputs.
    private func assertCompleteSets(_ rows: [Recording], file: StaticString = #filePath, line: UInt = #line) throws {
        for row in rows {
            let stem = (row.path as NSString).deletingPathExtension
            let outputs = ["\(stem).txt", "\(stem).json"]
            if row.state == .done {
                XCTAssertEqual(row.outputs, outputs, file: file, line: line)
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(outputs[1]))) as? [String: Any]
                XCTAssertEqual(json?["model"] as? String, "tiny.en", file: file, line: line)
                let text = try String(contentsOf: folder.appendingPathComponent(outputs[0]), encoding: .utf8)
                XCTAssertEqual((json?["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, false, file: file, line: line)
                XCTAssertFalse(text.isEmpty, file: file, line: line)
            } else {
                for output in outputs {
                    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent(output).path),
                                   "\(output) exists for a recording that is \(row.state)", file: file, line: line)
                }
            }
        }
    }
}

/// A `hark watch` process in the background, its standard error in a file.
private final class Watch {
    let process = Process()
    private let errorURL: URL

    init(hark: String, arguments: [String], environment: [String: String]) throws {
        errorURL = FileManager.default.temporaryDirectory.appendingPathComponent("hark-watch-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: hark)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: errorURL)
    }

    var stderr: String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }

    /// Waits until the ledger shows a recording being transcribed; returns its key.
    func waitForProcessing(_ ledgerURL: URL, timeout: TimeInterval = 60) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var ledger: Ledger?
        while Date() < deadline {
            guard process.isRunning else {
                process.waitUntilExit()
                throw TimeoutError(what: "a transcription; the watcher exited (status \(process.terminationStatus), "
                                   + "\(process.terminationReason == .exit ? "exit" : "signal")):\n" + stderr)
            }
            if ledger == nil { ledger = try? Ledger(url: ledgerURL, create: false) }
            if let row = try ledger?.recordings(in: .processing).first { return row.key }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw TimeoutError(what: "a transcription to start:\n" + stderr)
    }

    /// Waits for a log event (the JSON log) of this process.
    func waitForEvent(_ event: String, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains("\"event\":\"\(event)\"") { return }
            guard process.isRunning else { throw TimeoutError(what: "\(event); the watcher exited:\n" + stderr) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw TimeoutError(what: "\(event):\n" + stderr)
    }

    /// Waits until the ledger shows a recording in `state`.
    func waitForState(_ state: RecordingState, ledger ledgerURL: URL, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var ledger: Ledger?
        while Date() < deadline {
            guard process.isRunning else { throw TimeoutError(what: "\(state); the watcher exited:\n" + stderr) }
            if ledger == nil { ledger = try? Ledger(url: ledgerURL, create: false) }
            if try ledger?.recordings(in: state).isEmpty == false { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TimeoutError(what: "a recording \(state):\n" + stderr)
    }

    func wait(timeout: TimeInterval = 30) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
