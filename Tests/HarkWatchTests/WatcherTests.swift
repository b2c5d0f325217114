import Foundation
import HarkModel
import HarkTestSupport
@testable import HarkWatch
import XCTest

/// The watcher's behaviour with a deterministic fake engine, in a real temporary folder.
final class WatcherTests: XCTestCase {
    func testWaitsUntilACopyHasSettledThenTranscribesItOnce() async throws {
        let harness = try Harness(settle: 0.8)
        let engine = FakeEngine()
        try harness.start(engine)
        try await pause(0.2)

        // A slow copy: a chunk every 0.1 s (each closes the file, so inotify reports each one).
        let url = harness.url("note.wav")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        for chunk in ["one ", "two ", "three ", "four ", "five ", "six"] {
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(chunk.utf8))
            try handle.close()
            try await pause(0.1)
            XCTAssertEqual(engine.names, [], "taken while it was still being written")
            XCTAssertNil(try harness.recording("note.wav"))
        }
        try await harness.waitUntil("note.wav done") { try harness.state("note.wav") == .done && !harness.logLines("done").isEmpty }
        XCTAssertEqual(engine.texts, ["one two three four five six"], "the whole file, once")
        XCTAssertEqual(harness.read("note.txt"), "one two three four five six\n")
        let json = try XCTUnwrap(harness.read("note.json"))
        XCTAssertTrue(json.contains("\"model\":\"fake\""), json)

        let row = try XCTUnwrap(try harness.recording("note.wav"))
        XCTAssertEqual(row.sha256, SHA256.hex(Data("one two three four five six".utf8)))
        XCTAssertEqual(row.attempts, 1)
        XCTAssertEqual(row.outputs, ["note.txt", "note.json"])
        XCTAssertEqual(row.model, "fake")
        XCTAssertEqual(row.computeType, "float32")
        XCTAssertNotNil(row.startedAt)
        XCTAssertNotNil(row.transcriptionSeconds)
        XCTAssertEqual(row.size, 27)
        for event in ["found", "started", "done"] { XCTAssertEqual(harness.logLines(event).count, 1, event + "\n" + harness.log) }
        XCTAssertTrue(harness.logLines("done")[0].contains("speed="), harness.log)
        try await harness.stop()
    }

    func testIgnoresHiddenTemporaryForeignAndOwnFiles() async throws {
        let harness = try Harness()
        for name in [".hidden.wav", "download.mp3.part", "x.wav.tmp", "backup.wav~", "file.mp3.crdownload", "notes.pdf",
                     "old.txt", "old.json", "sub/nested.wav"] {
            try harness.write("content of \(name)", to: name)
        }
        let engine = FakeEngine()
        try harness.start(engine)
        try harness.write("hello", to: "real.flac")
        try harness.write("also ignored", to: "later.wav.part")
        try await harness.waitUntil("real.flac done") { try harness.state("real.flac") == .done }
        try await pause(0.5)
        XCTAssertEqual(engine.names, ["real.flac"], "only the recording; subfolders need --recursive")
        XCTAssertEqual(try harness.openLedger().recordings().map(\.path), ["real.flac"])
        try await harness.stop()
    }

    func testSameContentIsNeverTranscribedTwiceEvenRenamedOrCopied() async throws {
        let harness = try Harness()
        let engine = FakeEngine()
        try harness.start(engine)
        try harness.write("the same words", to: "a.wav")
        try await harness.waitUntil("a.wav done") { try harness.state("a.wav") == .done }

        try FileManager.default.copyItem(at: harness.url("a.wav"), to: harness.url("b.wav"))
        try await harness.waitUntil("b.wav seen as a duplicate") { !harness.logLines("duplicate").isEmpty }
        try FileManager.default.moveItem(at: harness.url("a.wav"), to: harness.url("c.wav"))
        try await harness.waitUntil("the rename noticed") { try harness.openLedger().recordings().first?.path == "c.wav" }
        try await pause(0.5)

        XCTAssertEqual(engine.names, ["a.wav"])
        let rows = try harness.openLedger().recordings()
        XCTAssertEqual(rows.count, 1, "one recording per content")
        XCTAssertEqual(rows.first?.outputs, ["a.txt", "a.json"])
        XCTAssertEqual(harness.files(), ["a.json", "a.txt", "b.wav", "c.wav"], "no second set of outputs")
        try await harness.stop()

        // Nor after a restart, nor when copied in again later.
        let again = FakeEngine()
        try harness.write("the same words", to: "d.wav")
        let summary = try await harness.runOnce(again)
        XCTAssertEqual(again.names, [])
        XCTAssertEqual(summary.duplicates, 1)
    }

    func testChangedContentIsTranscribedAgain() async throws {
        let harness = try Harness()
        let engine = FakeEngine()
        try harness.start(engine)
        try harness.write("first take", to: "a.wav")
        try await harness.waitUntil("first take done") { try harness.state("a.wav") == .done }
        try harness.write("second take, longer", to: "a.wav")
        let second = SHA256.hex(Data("second take, longer".utf8))
        try await harness.waitUntil("second take done") { try harness.openLedger().recording(second)?.state == .done }
        XCTAssertEqual(engine.texts, ["first take", "second take, longer"])
        XCTAssertEqual(harness.read("a.txt"), "second take, longer\n")
        XCTAssertEqual(harness.files(), ["a.json", "a.txt", "a.wav"], "still one set of outputs")
        let first = try XCTUnwrap(try harness.openLedger().recording(SHA256.hex(Data("first take".utf8))))
        XCTAssertEqual(first.outputs, [], "the old content's outputs now belong to the new content")
        XCTAssertEqual(try harness.openLedger().recording(second)?.outputs, ["a.txt", "a.json"])
        try await harness.stop()
    }

    /// A file whose content is replaced by content already transcribed under another name kept
    /// its old, now wrong, transcripts (logged "changed" then "duplicate").
    func testAFileGivenContentTranscribedElsewhereGetsThatContentsTranscripts() async throws {
        let harness = try Harness()
        let engine = FakeEngine()
        try harness.start(engine)
        try harness.write("first take", to: "a.wav")
        try harness.write("the other note", to: "b.wav")
        try await harness.waitUntil("both done") { try harness.state("a.wav") == .done && harness.state("b.wav") == .done }
        try harness.write("the other note", to: "a.wav")
        try await harness.waitUntil("a.wav's transcripts replaced") { harness.read("a.txt") == "the other note\n" }
        try await pause(0.5)
        XCTAssertEqual(engine.texts.sorted(), ["first take", "the other note"], "nothing transcribed again")
        XCTAssertEqual(harness.read("a.json"), harness.read("b.json"))
        XCTAssertEqual(harness.files(), ["a.json", "a.txt", "a.wav", "b.json", "b.txt", "b.wav"])
        let other = try XCTUnwrap(try harness.openLedger().recording(SHA256.hex(Data("the other note".utf8))))
        XCTAssertEqual(Set(other.outputs), ["a.txt", "a.json", "b.txt", "b.json"], "the copies belong to the content they describe")
        XCTAssertEqual(try harness.openLedger().recording(SHA256.hex(Data("first take".utf8)))?.outputs, [])
        try await harness.stop()
    }

    func testBadFilesAreRetriedWithBackoffThenLeftFailedAndTheWatcherGoesOn() async throws {
        let harness = try Harness()
        harness.configuration.retryDelay = 0.3 // then 1.2 s
        let engine = FakeEngine()
        try harness.start(engine)
        try harness.write("BAD header", to: "corrupt.wav")
        try harness.write("", to: "empty.mp3")
        try await harness.waitUntil("both given up", timeout: 20) {
            let rows = try harness.openLedger().recordings(in: .failed)
            return rows.count == 2 && rows.allSatisfy { $0.nextAttemptAt == nil }
        }
        let corrupt = try XCTUnwrap(try harness.recording("corrupt.wav"))
        XCTAssertEqual(corrupt.attempts, 3)
        XCTAssertEqual(corrupt.lastError, "not a readable audio file (fake)", "the reason, without the path")
        XCTAssertEqual(try harness.recording("empty.mp3")?.lastError, "the file is empty (0 bytes)")
        XCTAssertEqual(engine.count("corrupt.wav"), 3)
        let times = zip(engine.names, engine.times).filter { $0.0 == "corrupt.wav" }.map(\.1)
        XCTAssertGreaterThanOrEqual(times[1].timeIntervalSince(times[0]), 0.3, "first backoff")
        XCTAssertGreaterThanOrEqual(times[2].timeIntervalSince(times[1]), 1.2, "second backoff is four times longer")
        XCTAssertEqual(harness.logLines("failed").count, 6, harness.log)

        // The watcher is still alive and working.
        try harness.write("good words", to: "good.wav")
        try await harness.waitUntil("good.wav done") { try harness.state("good.wav") == .done }
        XCTAssertEqual(harness.files(), ["corrupt.wav", "empty.mp3", "good.json", "good.txt", "good.wav"], "no outputs for failures")

        // A failed file that is written again (it was still arriving) gets a fresh start.
        try harness.write("fixed now", to: "corrupt.wav")
        try await harness.waitUntil("corrupt.wav redone") { try harness.state("corrupt.wav") == .done }
        XCTAssertEqual(try harness.openLedger().recordings(in: .failed).map(\.path), ["empty.mp3"],
                       "the bad version is superseded, not left behind as failed")
        try await harness.stop()
    }

    func testFilesDroppedDuringATranscriptionAreQueuedAndOneDeletedBeforeItsTurnIsSkipped() async throws {
        let harness = try Harness()
        let engine = FakeEngine(gated: true)
        try harness.start(engine)
        try harness.write("first", to: "1.wav")
        try await harness.waitUntil("1.wav processing") { try harness.state("1.wav") == .processing }
        for name in ["2.wav", "3.wav", "4.wav"] { try harness.write("words of \(name)", to: name) }
        try await harness.waitUntil("all queued") { try harness.openLedger().recordings(in: .pending).count == 3 }
        try FileManager.default.removeItem(at: harness.url("3.wav"))
        engine.open()
        try await harness.waitUntil("the others done") {
            try harness.state("2.wav") == .done && harness.state("4.wav") == .done
        }
        try await pause(0.3)
        XCTAssertEqual(engine.names, ["1.wav", "2.wav", "4.wav"])
        XCTAssertNil(try harness.recording("3.wav"), "a deleted file leaves no recording behind")
        XCTAssertTrue(harness.log.contains("gone path=3.wav"), harness.log)
        XCTAssertEqual(harness.files(), ["1.json", "1.txt", "1.wav", "2.json", "2.txt", "2.wav", "4.json", "4.txt", "4.wav"])
        try await harness.stop()
    }

    func testAFileRenamedOrDeletedWhileBeingTranscribed() async throws {
        let harness = try Harness(settle: 0.5)
        let engine = FakeEngine(gated: true)
        try harness.start(engine)
        try harness.write("renamed words", to: "draft.wav")
        try await harness.waitUntil("draft.wav read by the engine") { engine.inFlight == 1 }
        try FileManager.default.moveItem(at: harness.url("draft.wav"), to: harness.url("final.wav"))
        engine.open() // finishes before final.wav has settled, maybe before its event arrived
        try await harness.waitUntil("done under its new name") { try harness.state("final.wav") == .done }
        try await pause(1.0) // final.wav settles and is hashed: known content, nothing to do
        XCTAssertEqual(engine.names, ["draft.wav"], "the finished work is kept, not redone\n" + harness.log)
        XCTAssertEqual(try harness.openLedger().recordings().count, 1)
        XCTAssertEqual(harness.files(), ["draft.json", "draft.txt", "final.wav"])
        try await harness.stop()

        let deleting = try Harness()
        let held = FakeEngine(gated: true)
        try deleting.start(held)
        try deleting.write("short-lived", to: "oops.wav")
        try await deleting.waitUntil("oops.wav read by the engine") { held.inFlight == 1 }
        try FileManager.default.removeItem(at: deleting.url("oops.wav"))
        held.open()
        try await deleting.waitUntil("oops.wav forgotten") { try deleting.openLedger().recordings().isEmpty }
        XCTAssertEqual(deleting.files(), [], "no transcript of a file the user deleted")
        try await deleting.stop()

        // Renamed, and a symbolic link to someone else's file put in its place, before the
        // engine reads it: the watcher opened the recording itself when the transcription
        // started, so the engine reads the file that was hashed, never the link's target (it used
        // to transcribe the target and write its text beside the link).
        let swapped = try Harness()
        let elsewhere = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let secret = elsewhere.appendingPathComponent("private.wav")
        try Data("private words of someone else".utf8).write(to: secret)
        let vanishing = VanishingEngine()
        try swapped.start(vanishing)
        try swapped.write("my own words", to: "mine.wav")
        try await swapped.waitUntil("mine.wav processing") { try swapped.state("mine.wav") == .processing }
        try FileManager.default.moveItem(at: swapped.url("mine.wav"), to: swapped.url("moved.wav"))
        try FileManager.default.createSymbolicLink(at: swapped.url("mine.wav"), withDestinationURL: secret)
        vanishing.open()
        try await swapped.waitUntil("the work kept for the moved file") { try swapped.state("moved.wav") == .done }
        try await pause(0.8) // anything still to happen (the link is seen by no event; rescans ignore it)
        XCTAssertEqual(swapped.read("mine.txt"), "my own words\n")
        for name in swapped.files() where name.hasSuffix(".txt") || name.hasSuffix(".json") {
            XCTAssertFalse(swapped.read(name)?.contains("someone else") ?? false, "\(name) holds the link target's text")
        }
        XCTAssertEqual(try swapped.openLedger().recordings().count, 1, swapped.log)
        try await swapped.stop()
    }

    /// A transcript is never more readable than its recording (they used to be created 0644
    /// whatever the recording's mode).
    func testTranscriptsAreNoMoreReadableThanTheirRecording() async throws {
        let saved = umask(0o022)
        defer { umask(saved) }
        let harness = try Harness()
        let modes: [String: mode_t] = ["private.wav": 0o600, "group.wav": 0o640, "open.wav": 0o644, "shared.wav": 0o666]
        for (name, mode) in modes {
            try harness.write("words of \(name)", to: name)
            XCTAssertEqual(chmod(harness.url(name).path, mode), 0)
        }
        _ = try await harness.runOnce(FakeEngine())
        let expected: [String: mode_t] = ["private": 0o600, "group": 0o640, "open": 0o644, "shared": 0o644] // the umask still applies
        for (stem, mode) in expected {
            for ext in ["txt", "json"] {
                let attributes = try FileManager.default.attributesOfItem(atPath: harness.url("\(stem).\(ext)").path)
                let permissions = try XCTUnwrap(attributes[.posixPermissions] as? Int, "\(stem).\(ext)")
                XCTAssertEqual(String(permissions, radix: 8), String(mode, radix: 8), "\(stem).\(ext)")
            }
        }
    }

    /// A symbolic link in the folder is not followed: in a shared folder it could point at a
    /// file its maker cannot read, whose transcript would then be written beside the link.
    func testSymbolicLinksAreNotFollowed() async throws {
        let harness = try Harness()
        let elsewhere = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let secret = elsewhere.appendingPathComponent("private.wav")
        try Data("private words".utf8).write(to: secret)
        try FileManager.default.createSymbolicLink(at: harness.url("link.wav"), withDestinationURL: secret)
        try harness.write("real words", to: "real.wav")
        let engine = FakeEngine()
        _ = try await harness.runOnce(engine)
        XCTAssertEqual(engine.names, ["real.wav"], "the link's target is not transcribed")
        XCTAssertEqual(harness.files(), ["link.wav", "real.json", "real.txt", "real.wav"])
        XCTAssertEqual(try harness.openLedger().recordings().map(\.path), ["real.wav"])
        XCTAssertEqual(harness.logLines("ignored").count, 1, harness.log)
        XCTAssertTrue(harness.logLines("ignored").first?.contains("path=link.wav") ?? false, harness.log)
    }

    func testSeveralJobsRunAtOnce() async throws {
        let harness = try Harness()
        harness.configuration.jobs = 3
        let engine = FakeEngine(gated: true)
        try harness.start(engine)
        for name in ["a.wav", "b.wav", "c.wav", "d.wav"] { try harness.write(name, to: name) }
        try await harness.waitUntil("three running, one waiting") {
            try engine.inFlight == 3 && harness.openLedger().recordings().count == 4
        }
        XCTAssertEqual(try harness.openLedger().recordings(in: .processing).count, 3)
        XCTAssertEqual(try harness.openLedger().recordings(in: .pending).count, 1, "bounded by --jobs")
        engine.open()
        try await harness.waitUntil("all done") { try harness.openLedger().recordings(in: .done).count == 4 }
        try await harness.stop()
    }

    func testInterruptedTranscriptionIsRedoneOnceWithOneCompleteSetOfOutputs() async throws {
        // The ledger and folder exactly as a kill -9 between writing a.txt and a.json leaves them.
        let harness = try Harness()
        try harness.write("recovered words", to: "a.wav")
        let ledger = try harness.openLedger()
        let path = harness.url("a.wav").path
        let stamp = try XCTUnwrap(FileStamp.of(path))
        let key = SHA256.hex(Data("recovered words".utf8))
        var row = Recording(key: key, sha256: key, path: "a.wav", size: stamp.size, modified: stamp.modificationDate,
                            discoveredAt: Date())
        try ledger.register(file: KnownFile(path: "a.wav", key: key, stamp: stamp, seenAt: Date()), newRecording: row)
        row.state = .processing
        row.attempts = 1
        try ledger.startProcessing(row, planned: ["a.txt", "a.json"])
        try harness.write("half-written transcript of an older run\n", to: "a.txt")
        let temporary = ".a.json.\(UUID().uuidString).tmp"
        try harness.write("{\"te", to: temporary)

        let engine = FakeEngine()
        let summary = try await harness.runOnce(engine)
        XCTAssertEqual(engine.names, ["a.wav"], "redone exactly once")
        XCTAssertEqual(summary.transcribed, 1)
        let done = try XCTUnwrap(try ledger.recording(key))
        XCTAssertEqual(done.state, .done)
        XCTAssertEqual(done.attempts, 1, "the interrupted attempt is not counted")
        XCTAssertEqual(done.interruptions, 1)
        XCTAssertEqual(done.outputs, ["a.txt", "a.json"])
        XCTAssertEqual(harness.read("a.txt"), "recovered words\n")
        XCTAssertEqual(harness.files(), ["a.json", "a.txt", "a.wav"], "the temporary file is cleaned up")
        XCTAssertEqual(harness.logLines("recovered").count, 1, harness.log)

        // Once done, a restart does nothing.
        let idle = FakeEngine()
        _ = try await harness.runOnce(idle)
        XCTAssertEqual(idle.names, [])
    }

    /// A deleted ledger used to mean every recording was transcribed again, with a second set
    /// of transcripts beside the first (`note.wav.txt`). The JSON records the recording's SHA-256,
    /// so the transcripts on disk are recognised and the ledger rebuilt from them.
    func testALostLedgerIsRebuiltFromTheTranscriptsOnDiskNotRedone() async throws {
        let harness = try Harness()
        try harness.write("alpha words", to: "note.wav")
        try harness.write("bravo words", to: "other.wav")
        _ = try await harness.runOnce(FakeEngine())
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: harness.url("note.json"))) as? [String: Any])
        XCTAssertEqual(json["sha256"] as? String, SHA256.hex(Data("alpha words".utf8)))
        XCTAssertEqual(json["source"] as? String, "note.wav")
        // A copy whose name sorts first is found first; it must not get a set of its own either.
        try FileManager.default.copyItem(at: harness.url("note.wav"), to: harness.url("a-copy.wav"))
        let outputs = ["note.txt", "note.json", "other.txt", "other.json"]
        let before = outputs.map { harness.read($0) }

        harness.closeLedger()
        let state = harness.configuration.effectiveStateDirectory
        for name in ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"] {
            try? FileManager.default.removeItem(at: state.appendingPathComponent(name))
        }
        let engine = FakeEngine()
        let summary = try await harness.runOnce(engine)
        XCTAssertEqual(engine.names, [], "nothing transcribed again\n" + harness.log)
        XCTAssertEqual(summary.transcribed, 0)
        XCTAssertEqual(harness.files(), ["a-copy.wav", "note.json", "note.txt", "note.wav", "other.json", "other.txt", "other.wav"],
                       "one set of transcripts per recording")
        XCTAssertEqual(outputs.map { harness.read($0) }, before, "transcripts unchanged")
        XCTAssertEqual(try harness.recording("note.wav")?.state, .done)
        XCTAssertEqual(try harness.recording("note.wav")?.outputs, ["note.txt", "note.json"])
        XCTAssertEqual(try harness.recording("other.wav")?.model, "fake")
        XCTAssertEqual(harness.logLines("restored").count, 2, harness.log)

        // Content that changed is not mistaken for its old transcript.
        try harness.write("charlie words", to: "other.wav")
        let changed = FakeEngine()
        _ = try await harness.runOnce(changed)
        XCTAssertEqual(changed.names, ["other.wav"])
        XCTAssertEqual(harness.read("other.txt"), "charlie words\n")
    }

    /// After a clean exit the whole ledger is in `ledger.sqlite`: it used to stay in the -wal file,
    /// so losing that file lost every record.
    func testACleanExitLeavesTheLedgerWholeInItsDatabaseFile() async throws {
        let harness = try Harness()
        try harness.write("alpha words", to: "a.wav")
        _ = try await harness.runOnce(FakeEngine())
        let state = harness.configuration.effectiveStateDirectory
        let wal = state.appendingPathComponent("ledger.sqlite-wal").path
        let size = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
        XCTAssertEqual(size, 0, "the write-ahead log is checkpointed and emptied")
        let copy = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.copyItem(at: state.appendingPathComponent("ledger.sqlite"), to: copy.appendingPathComponent("ledger.sqlite"))
        let alone = try Ledger(url: copy.appendingPathComponent("ledger.sqlite"), create: false)
        XCTAssertEqual(try alone.recordings().map(\.state), [.done], "the database file alone holds the state")
    }

    func testADamagedLedgerIsRefusedWithAClearMessage() throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("ledger.sqlite")
        try Data(repeating: 0x5a, count: 8192).write(to: url)
        XCTAssertThrowsError(try Ledger(url: url)) { error in
            XCTAssertTrue("\(error)".contains("the ledger is damaged"), "\(error)")
            XCTAssertTrue("\(error)".contains("move it aside"), "\(error)")
        }
    }

    /// 15 rapid kill -9 restarts used to leave an innocent recording failed for good
    /// ("interrupted 3 times"): each interruption counted as one of its --max-attempts.
    func testAnInterruptionIsNotCountedAgainstTheRecording() async throws {
        let harness = try Harness()
        try harness.write("innocent", to: "i.wav")
        try harness.write("waiting", to: "w.wav")
        let ledger = try harness.openLedger()
        let key = try simulateKilledTranscription(of: "i.wav", text: "innocent", harness: harness, attempts: 3)
        XCTAssertEqual(harness.configuration.maxAttempts, 3, "as many as its attempts allow")

        let engine = FakeEngine()
        let summary = try await harness.runOnce(engine)
        XCTAssertEqual(Set(engine.names), ["w.wav", "i.wav"], "redone, not given up")
        XCTAssertEqual(summary.failed, 0)
        let done = try XCTUnwrap(try ledger.recording(key))
        XCTAssertEqual(done.state, .done, done.lastError ?? "")
        XCTAssertEqual(done.attempts, 3, "the interrupted attempt given back, the successful one counted")
        XCTAssertEqual(done.interruptions, 1)
        XCTAssertEqual(harness.read("i.txt"), "innocent\n")
    }

    func testARecordingThatKeepsKillingTheWatcherIsGivenUp() async throws {
        let harness = try Harness()
        let ledger = try harness.openLedger()
        let key = try simulateKilledTranscription(of: "p.wav", text: "poison", harness: harness, attempts: 1,
                                                  interruptions: harness.configuration.maxInterruptions - 1)
        try harness.write("partial\n", to: "p.txt")

        let engine = FakeEngine()
        let summary = try await harness.runOnce(engine)
        XCTAssertEqual(engine.names, [])
        XCTAssertEqual(summary.failed, 1)
        let failed = try XCTUnwrap(try ledger.recording(key))
        XCTAssertEqual(failed.state, .failed)
        XCTAssertNil(failed.nextAttemptAt)
        XCTAssertTrue(failed.lastError?.contains("interrupted 50 times") ?? false, failed.lastError ?? "")
        XCTAssertEqual(harness.files(), ["p.wav"], "the partial output set is removed")

        // Touching the file gives it a fresh start.
        try harness.write("poison, fixed", to: "p.wav")
        _ = try await harness.runOnce(engine)
        XCTAssertEqual(try harness.recording("p.wav")?.state, .done)
    }

    /// The ledger as a kill -9 during a transcription leaves it: the recording `processing`.
    private func simulateKilledTranscription(of name: String, text: String, harness: Harness, attempts: Int,
                                             interruptions: Int = 0) throws -> String {
        try harness.write(text, to: name)
        let ledger = try harness.openLedger()
        let stamp = try XCTUnwrap(FileStamp.of(harness.url(name).path))
        let key = SHA256.hex(Data(text.utf8))
        var row = Recording(key: key, sha256: key, path: name, size: stamp.size, modified: stamp.modificationDate,
                            discoveredAt: Date())
        try ledger.register(file: KnownFile(path: name, key: key, stamp: stamp, seenAt: Date()), newRecording: row)
        row.state = .processing
        row.attempts = attempts
        row.interruptions = interruptions
        let stem = (name as NSString).deletingPathExtension
        try ledger.startProcessing(row, planned: ["\(stem).txt", "\(stem).json"])
        return key
    }

    func testStopAbandonsARunningTranscriptionWhichIsRedoneNextTime() async throws {
        let harness = try Harness()
        harness.configuration.grace = 0.2
        let engine = FakeEngine(gated: true)
        try harness.start(engine)
        try harness.write("long recording", to: "long.wav")
        try await harness.waitUntil("long.wav processing") { try harness.state("long.wav") == .processing }
        let summary = try await harness.stop(timeout: 5)
        XCTAssertEqual(summary.abandoned, 1)
        let row = try XCTUnwrap(try harness.recording("long.wav"))
        XCTAssertEqual(row.state, .pending)
        XCTAssertEqual(row.attempts, 0, "an abandoned attempt does not count")
        XCTAssertEqual(harness.files(), ["long.wav"])
        engine.open()

        let next = FakeEngine()
        let second = try await harness.runOnce(next)
        XCTAssertEqual(next.names, ["long.wav"])
        XCTAssertEqual(second.transcribed, 1)
        XCTAssertEqual(try harness.recording("long.wav")?.attempts, 1)
    }

    /// A grace too long for a sleep (infinity, from a caller that did not go through the CLI's
    /// checks) used to trap when the stop came; it now waits as long as it can.
    func testAnUnboundedGraceDoesNotCrashAStop() async throws {
        XCTAssertEqual(WatchConfiguration.nanoseconds(.infinity), 86_400_000_000_000)
        XCTAssertEqual(WatchConfiguration.nanoseconds(.nan), 0)
        XCTAssertEqual(WatchConfiguration.nanoseconds(-1), 0)
        XCTAssertEqual(WatchConfiguration.nanoseconds(1.5), 1_500_000_000)
        let harness = try Harness()
        harness.configuration.grace = .infinity
        let engine = FakeEngine(gated: true)
        try harness.start(engine)
        try harness.write("long recording", to: "long.wav")
        try await harness.waitUntil("long.wav processing") { try harness.state("long.wav") == .processing }
        harness.watcher?.requestStop()
        try await pause(0.3)
        engine.open()
        let summary = try await harness.finish()
        XCTAssertEqual(summary.transcribed, 1, "the running transcription finished within the grace")
        XCTAssertEqual(try harness.state("long.wav"), .done)
    }

    func testStopLetsARunningTranscriptionFinishWithinTheGrace() async throws {
        let harness = try Harness()
        let engine = FakeEngine(delay: 0.6)
        try harness.start(engine)
        try harness.write("short", to: "s.wav")
        try await harness.waitUntil("s.wav processing") { try harness.state("s.wav") == .processing }
        let summary = try await harness.stop()
        XCTAssertEqual(summary.transcribed, 1)
        XCTAssertEqual(summary.abandoned, 0)
        XCTAssertEqual(try harness.state("s.wav"), .done)
        XCTAssertEqual(harness.read("s.txt"), "short\n")
    }

    func testOnceProcessesTheBacklogAndCountsFailures() async throws {
        let harness = try Harness()
        harness.configuration.maxAttempts = 1
        for (name, text) in [("a.wav", "alpha"), ("b.ogg", "bravo"), ("c.mp3", "BAD")] { try harness.write(text, to: name) }
        let engine = FakeEngine()
        let summary = try await harness.runOnce(engine)
        XCTAssertEqual(Set(engine.names), ["a.wav", "b.ogg", "c.mp3"])
        XCTAssertEqual(summary.transcribed, 2)
        XCTAssertEqual(summary.failed, 1)
        XCTAssertEqual(try harness.state("c.mp3"), .failed)

        // Nothing left: a second run does nothing and reports no failure.
        let again = FakeEngine()
        let second = try await harness.runOnce(again)
        XCTAssertEqual(again.names, [])
        XCTAssertEqual(second.failed, 0)
    }

    func testOutputsNeverOverwriteAnotherRecordingsOrAPersonsFiles() async throws {
        let harness = try Harness()
        try harness.write("my own notes, not a transcript\n", to: "memo.txt")
        try harness.write("memo audio", to: "memo.wav")
        try harness.write("wav version", to: "note.wav")
        try harness.write("flac version", to: "note.flac")
        let engine = FakeEngine()
        _ = try await harness.runOnce(engine)
        XCTAssertEqual(harness.read("memo.txt"), "my own notes, not a transcript\n")
        XCTAssertEqual(harness.read("memo.wav.txt"), "memo audio\n")
        XCTAssertTrue(harness.exists("memo.wav.json"))
        XCTAssertEqual(harness.read("note.txt"), "flac version\n", "first come (sorted), first served")
        XCTAssertEqual(harness.read("note.wav.txt"), "wav version\n")
        XCTAssertEqual(try harness.recording("note.wav")?.outputs, ["note.wav.txt", "note.wav.json"])
    }

    func testRecursiveWatchFindsNewSubfoldersAndMirrorsThemUnderTheOutputFolder() async throws {
        let harness = try Harness()
        harness.configuration.recursive = true
        let output = harness.folder.appendingPathComponent("transcripts")
        harness.configuration.outputDirectory = output
        try harness.write("old", to: "2023/old.wav")
        let engine = FakeEngine()
        try harness.start(engine)
        try await harness.waitUntil("existing file done") { try harness.state("2023/old.wav") == .done }
        // A folder tree created after the start, with a file written into it at once.
        try harness.write("new", to: "2024/march/new.wav")
        try await harness.waitUntil("new subfolder file done") { try harness.state("2024/march/new.wav") == .done }
        XCTAssertEqual(try String(contentsOf: output.appendingPathComponent("2024/march/new.txt"), encoding: .utf8), "new\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.appendingPathComponent("2023/old.json").path))
        XCTAssertEqual(Set(engine.names), ["old.wav", "new.wav"], "the output folder inside the watched one is not watched")
        try await harness.stop()
    }

    func testPollingModeFindsNewFiles() async throws {
        let harness = try Harness()
        let engine = FakeEngine()
        try harness.start(engine, events: .poll(0.1))
        try await pause(0.2)
        try harness.write("polled", to: "p.opus")
        try await harness.waitUntil("p.opus done") { try harness.state("p.opus") == .done }
        try await harness.stop()
    }

    func testWithoutEventsARescanRequestFindsFiles() async throws {
        // What SIGHUP does, and the periodic rescan that catches whatever inotify missed.
        let harness = try Harness()
        harness.configuration.rescanInterval = 1000
        let engine = FakeEngine()
        let watcher = try harness.start(engine, events: .none)
        try await pause(0.3)
        try harness.write("missed by events", to: "m.wav")
        try await pause(0.6)
        XCTAssertEqual(engine.names, [])
        watcher.requestRescan(reason: "SIGHUP")
        try await harness.waitUntil("m.wav done") { try harness.state("m.wav") == .done }
        try await harness.stop()

        let periodic = try Harness()
        periodic.configuration.rescanInterval = 0.3
        try periodic.start(FakeEngine(), events: .none)
        try await pause(0.3)
        try periodic.write("found by the periodic rescan", to: "r.wav")
        try await periodic.waitUntil("r.wav done") { try periodic.state("r.wav") == .done }
        try await periodic.stop()
    }

    func testStatusReport() async throws {
        let harness = try Harness()
        harness.configuration.maxAttempts = 1
        try harness.write("alpha", to: "a.wav")
        try harness.write("BAD", to: "bad.wav")
        _ = try await harness.runOnce(FakeEngine())
        let status = try WatchStatus(ledger: try harness.openLedger(), folder: harness.folder.path,
                                     stateDirectory: harness.configuration.effectiveStateDirectory, last: 5)
        let text = status.text()
        XCTAssertTrue(text.contains("pending 0   processing 0   done 1   failed 1"), text)
        XCTAssertTrue(text.contains("bad.wav  (1 attempt, gave up)"), text)
        XCTAssertTrue(text.contains("not a readable audio file (fake)"), text)
        XCTAssertTrue(text.contains("a.wav"), text)
        XCTAssertTrue(text.contains("→ a.txt, a.json"), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.json().utf8)) as? [String: Any])
        XCTAssertEqual((json["counts"] as? [String: Int])?["done"], 1)
        XCTAssertEqual(((json["failed"] as? [[String: Any]])?.first?["error"] as? String), "not a readable audio file (fake)")
        XCTAssertEqual(((json["last_done"] as? [[String: Any]])?.first?["outputs"] as? [String]), ["a.txt", "a.json"])
    }
}
