import Foundation
import HarkModel
import HarkTestSupport
import Hark
@testable import HarkWatch
import XCTest

/// The real tiny.en model, behind a gate so a transcription can be held "in progress".
final class GatedEngine: TranscriptionEngine, @unchecked Sendable {
    let inner: any TranscriptionEngine
    private let lock = NSLock()
    private var open = false
    private var calls: [String] = []

    init(_ inner: any TranscriptionEngine) { self.inner = inner }
    var modelName: String { inner.modelName }
    var computeType: String { inner.computeType }
    var names: [String] { lock.withLock { calls } }
    func release() { lock.withLock { open = true } }

    func transcribe(path: String) throws(EngineFailure) -> TranscriptionOutput {
        lock.withLock { calls.append((path as NSString).lastPathComponent) }
        while !lock.withLock({ open }) { Thread.sleep(forTimeInterval: 0.01) }
        return try inner.transcribe(path: path)
    }
}

/// The watcher with the real model on the committed samples: slow copies, renames, drops during
/// a transcription, duplicates, a corrupt file and a file deleted before its turn, all at once.
final class RealModelTests: XCTestCase {
    static let engine: WhisperEngine? = {
        guard let directory = try? TestSupport.modelDirectory("tiny.en"),
              let transcriber = try? Transcriber(modelAt: directory, computeType: .float32) else { return nil }
        var options = TranscriptionOptions()
        options.beamSize = 1 // greedy: the tests check behaviour, not accuracy
        return try? WhisperEngine(transcriber: transcriber, options: options, modelName: "tiny.en")
    }()

    func testAFolderOfVoiceNotes() async throws {
        _ = try TestSupport.modelDirectory("tiny.en")  // fails, not skips, without the model
        let whisper = try XCTUnwrap(Self.engine, "tiny.en loads")
        let engine = GatedEngine(whisper)
        let harness = try Harness(settle: 1.0)
        harness.configuration.retryDelay = 600
        try harness.start(engine)
        try await pause(0.2)

        // 1. A slow copy in chunks (each closes the file): nothing happens until it has settled.
        let source = try Data(contentsOf: URL(fileURLWithPath: TestSupport.sample("voice-note-16k.wav")))
        let note = harness.url("voice-note-16k.wav")
        _ = FileManager.default.createFile(atPath: note.path, contents: nil)
        let chunk = source.count / 5 + 1
        for start in stride(from: 0, to: source.count, by: chunk) {
            let handle = try FileHandle(forWritingTo: note)
            try handle.seekToEnd()
            try handle.write(contentsOf: source[start..<min(source.count, start + chunk)])
            try handle.close()
            try await pause(0.4)
            XCTAssertNil(try harness.recording("voice-note-16k.wav"), "taken before the copy finished")
        }
        try await harness.waitUntil("voice note started") { try harness.state("voice-note-16k.wav") == .processing }

        // 2. While it is being transcribed: a file renamed into place, the same content again,
        //    a corrupt file, and one that is deleted before its turn.
        let partial = harness.url("dentist-22k.ogg.part")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: TestSupport.sample("dentist-22k.ogg")), to: partial)
        try FileManager.default.moveItem(at: partial, to: harness.url("dentist-22k.ogg"))
        var corrupt = Data("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8)
        corrupt.append(Data((0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        try corrupt.write(to: harness.url("broken.wav"))
        try FileManager.default.copyItem(at: URL(fileURLWithPath: TestSupport.sample("fox-8k-stereo-float.wav")),
                                         to: harness.url("fox.wav"))
        try await harness.waitUntil("the drops queued") {
            try harness.state("dentist-22k.ogg") == .pending && harness.state("broken.wav") == .pending
                && harness.state("fox.wav") == .pending
        }
        try FileManager.default.copyItem(at: harness.url("dentist-22k.ogg"), to: harness.url("dentist-again.ogg"))
        try await harness.waitUntil("the copy seen as a duplicate") { !harness.logLines("duplicate").isEmpty }
        try FileManager.default.removeItem(at: harness.url("fox.wav"))
        XCTAssertEqual(try harness.state("voice-note-16k.wav"), .processing, "all of this happened during the first transcription")
        engine.release()

        try await harness.waitUntil("everything settled", timeout: 120) {
            try harness.state("voice-note-16k.wav") == .done && harness.state("dentist-22k.ogg") == .done
                && harness.state("broken.wav") == .failed && harness.recording("fox.wav") == nil
        }
        try await harness.stop()

        XCTAssertEqual(engine.names, ["voice-note-16k.wav", "dentist-22k.ogg", "broken.wav"], "each once; the duplicate and the deleted file never")
        XCTAssertEqual(harness.files(), ["broken.wav", "dentist-22k.json", "dentist-22k.ogg", "dentist-22k.txt", "dentist-again.ogg",
                                         "voice-note-16k.json", "voice-note-16k.txt", "voice-note-16k.wav"],
                       "exactly one output set per recording, nothing for the duplicate, the corrupt or the deleted file")
        let transcripts = try TestSupport.sampleTranscripts()
        let noteText = try XCTUnwrap(harness.read("voice-note-16k.txt"))
        XCTAssertLessThan(WordErrorRate.rate(reference: transcripts["voice-note-16k.wav"]!, hypothesis: noteText), 0.35, noteText)
        XCTAssertTrue(harness.read("dentist-22k.txt")?.lowercased().contains("dentist") ?? false)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: harness.url("dentist-22k.json"))) as? [String: Any])
        XCTAssertEqual(json["model"] as? String, "tiny.en")
        XCTAssertNotNil(json["segments"] as? [[String: Any]])

        let ledger = try harness.openLedger()
        XCTAssertEqual(try ledger.counts(), [.done: 2, .failed: 1, .pending: 0, .processing: 0])
        let broken = try XCTUnwrap(try harness.recording("broken.wav"))
        XCTAssertTrue(broken.lastError?.contains("not a readable audio file") ?? false, broken.lastError ?? "")
        XCTAssertEqual(broken.attempts, 1)
        XCTAssertNotNil(broken.nextAttemptAt, "retried later in case it was still being written")
        let done = try XCTUnwrap(try harness.recording("voice-note-16k.wav"))
        XCTAssertEqual(done.sha256, SHA256.hex(source))
        XCTAssertEqual(done.audioSeconds ?? 0, 6.4, accuracy: 0.1)
        XCTAssertEqual(done.model, "tiny.en")
        XCTAssertEqual(done.outputs, ["voice-note-16k.txt", "voice-note-16k.json"])
        XCTAssertTrue(harness.log.contains("gone path=fox.wav"), harness.log)
    }
}
