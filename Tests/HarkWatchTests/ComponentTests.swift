import Foundation
import HarkModel
import HarkTestSupport
@testable import HarkWatch
import Logging
import XCTest

/// The small parts: ignore rules, readiness, hashing, output naming, log lines.
final class ComponentTests: XCTestCase {
    func testIgnoreRules() {
        let filter = FileFilter(root: "/notes", excludedDirectories: ["/notes/.hark", "/notes/out"])
        for accepted in ["/notes/a.wav", "/notes/B.M4A", "/notes/sub/c.opus", "/notes/x.webm", "/notes/memo.2024.mp3"] {
            XCTAssertNil(filter.rejection(of: accepted), accepted)
        }
        let rejected = [
            "/notes/.hidden.wav": "hidden", "/notes/.sync/a.wav": "hidden", "/notes/.hark/ledger.wav": "in an excluded folder",
            "/notes/a.wav.part": "temporary name", "/notes/a.wav.tmp": "temporary name", "/notes/a.wav~": "temporary name",
            "/notes/a.mp3.crdownload": "temporary name", "/notes/a.txt": "a transcript", "/notes/a.json": "a transcript",
            "/notes/a.srt": "a transcript", "/notes/a.pdf": "extension not watched", "/notes/noext": "extension not watched",
            "/notes/out/a.wav": "in an excluded folder", "/notes/.a.wav.8A4B1C2D-0000-0000-0000-000000000000.tmp": "hidden",
        ]
        for (path, reason) in rejected { XCTAssertEqual(filter.rejection(of: path), reason, path) }
        XCTAssertFalse(filter.acceptsDirectory("/notes/.hark"))
        XCTAssertFalse(filter.acceptsDirectory("/notes/out"))
        XCTAssertTrue(filter.acceptsDirectory("/notes/2024"))

        let custom = FileFilter(root: "/notes", extensions: ["WAV", ".amr"])
        XCTAssertTrue(custom.accepts("/notes/a.amr"))
        XCTAssertFalse(custom.accepts("/notes/a.mp3"))
    }

    func testReadinessWaitsForTheSettleTime() {
        var tracker = ReadinessTracker(settle: 2)
        let t0 = Date(timeIntervalSince1970: 1000)
        let small = FileStamp(size: 10, modified: 1), bigger = FileStamp(size: 20, modified: 2)
        tracker.observe("/a", stamp: small, now: t0)
        XCTAssertTrue(tracker.takeReady(now: t0.addingTimeInterval(1.9)).isEmpty)
        // Still growing: the clock starts again.
        tracker.observe("/a", stamp: bigger, now: t0.addingTimeInterval(1.9))
        XCTAssertTrue(tracker.takeReady(now: t0.addingTimeInterval(3.0)).isEmpty)
        // Unchanged observations do not restart it.
        tracker.observe("/a", stamp: bigger, now: t0.addingTimeInterval(3.5))
        let ready = tracker.takeReady(now: t0.addingTimeInterval(3.9))
        XCTAssertEqual(ready.map(\.path), ["/a"])
        XCTAssertEqual(ready.first?.stamp, bigger)
        XCTAssertTrue(tracker.isEmpty, "taken files are no longer tracked")

        // A file that vanishes is forgotten; mtime alone (same size) counts as a change.
        tracker.observe("/b", stamp: small, now: t0)
        tracker.observe("/b", stamp: nil, now: t0.addingTimeInterval(1))
        XCTAssertFalse(tracker.contains("/b"))
        tracker.observe("/c", stamp: small, now: t0)
        tracker.observe("/c", stamp: FileStamp(size: 10, modified: 5), now: t0.addingTimeInterval(1.5))
        XCTAssertTrue(tracker.takeReady(now: t0.addingTimeInterval(2.5)).isEmpty)
        XCTAssertEqual(tracker.nextDeadline(), t0.addingTimeInterval(3.5))
    }

    func testFileStampSeesRewritesAndReplacements() throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("a.wav").path
        XCTAssertNil(FileStamp.of(path))
        try Data("one".utf8).write(to: URL(fileURLWithPath: path))
        let first = try XCTUnwrap(FileStamp.of(path))
        XCTAssertEqual(first.size, 3)
        // Same size and mtime, but a different file renamed over it (rsync -t does this).
        let other = folder.appendingPathComponent("b.wav").path
        try Data("two".utf8).write(to: URL(fileURLWithPath: other))
        var times = [timespec(tv_sec: Int(first.modified / 1_000_000_000), tv_nsec: Int(first.modified % 1_000_000_000)),
                     timespec(tv_sec: Int(first.modified / 1_000_000_000), tv_nsec: Int(first.modified % 1_000_000_000))]
        XCTAssertEqual(utimensat(AT_FDCWD, other, &times, 0), 0)
        XCTAssertEqual(rename(other, path), 0)
        let second = try XCTUnwrap(FileStamp.of(path))
        XCTAssertEqual(second.size, first.size)
        XCTAssertEqual(second.modified, first.modified)
        XCTAssertNotEqual(second, first)
        XCTAssertNil(FileStamp.of(folder.path), "a folder is not a file")
    }

    func testSHA256() throws {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Streaming in odd pieces and reading a file give the same digest as one update.
        let bytes = Data((0..<200_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        var pieces = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 1000, 127] + Array(repeating: 4096, count: 60) where offset < bytes.count {
            let end = min(bytes.count, offset + size)
            pieces.update(bytes[offset..<end])
            offset = end
        }
        pieces.update(bytes[offset...])
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("x.bin")
        try bytes.write(to: url)
        let whole = SHA256.hex(bytes)
        XCTAssertEqual(pieces.finalizeHex(), whole)
        XCTAssertEqual(try SHA256.hex(ofFile: url.path), whole)
        XCTAssertThrowsError(try SHA256.hex(ofFile: folder.appendingPathComponent("missing").path)) { error in
            XCTAssertTrue((error as? HashError)?.vanished ?? false)
        }
        // Cross-check against the system tool when there is one.
        if let tool = ["/usr/bin/sha256sum", "/bin/sha256sum"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let output = try TestSupport.run(tool, [url.path]).stdout
            XCTAssertEqual(output.split(separator: " ").first.map(String.init), whole)
        }
    }

    func testOutputCandidatesAndTemporaryCleanup() throws {
        let beside = OutputWriter(root: "/notes", outputDirectory: nil, formats: [.txt, .json])
        XCTAssertEqual(beside.candidates(for: "/notes/sub/a.m4a").prefix(3).map { $0 },
                       [["/notes/sub/a.txt", "/notes/sub/a.json"], ["/notes/sub/a.m4a.txt", "/notes/sub/a.m4a.json"],
                        ["/notes/sub/a.m4a-2.txt", "/notes/sub/a.m4a-2.json"]])
        let elsewhere = OutputWriter(root: "/notes", outputDirectory: "/out", formats: [.srt])
        XCTAssertEqual(elsewhere.candidates(for: "/notes/sub/deep/a.wav").first, ["/out/sub/deep/a.srt"])
        XCTAssertEqual(elsewhere.candidates(for: "/notes/a.wav").first, ["/out/a.srt"])

        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("a.txt").path
        let leftover = folder.appendingPathComponent(".a.txt.\(UUID().uuidString).tmp").path
        let unrelated = folder.appendingPathComponent(".a.txt.notauuid.tmp").path
        for path in [leftover, unrelated] { _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8)) }
        XCTAssertEqual(OutputWriter.removeTemporaries(of: [target]), [leftover])
        XCTAssertTrue(FileManager.default.fileExists(atPath: unrelated), "only AtomicFile's own temporaries are removed")
    }

    func testTextLogLinesAreOneEventEach() throws {
        let sink = LogSink.capture()
        let logger = Logger(label: "t", factory: LogFormat.text.handler(level: .info, sink: sink))
        logger.info("done", metadata: ["path": "my note.m4a", "speed": .stringConvertible(2.5), "outputs": .array(["a.txt", "a.json"])])
        logger.warning("failed", metadata: ["path": "x.wav", "reason": "bad\nheader \"RIFF\""])
        logger.debug("hidden")
        XCTAssertEqual(sink.lines.count, 2)
        let first = sink.lines[0]
        XCTAssertTrue(first.contains(" info    done path=\"my note.m4a\" outputs=a.txt,a.json speed=2.5"), first)
        XCTAssertTrue(sink.lines[1].contains("failed path=x.wav reason=\"bad\\nheader \\\"RIFF\\\"\""), sink.lines[1])
        XCTAssertFalse(sink.lines.joined().contains("\n"))
    }

    func testJSONLogLinesParse() throws {
        let sink = LogSink.capture()
        var logger = Logger(label: "t", factory: LogFormat.json.handler(level: .info, sink: sink))
        logger[metadataKey: "folder"] = "/notes"
        logger.info("done", metadata: ["path": "a\"b.wav", "audio_seconds": .stringConvertible(3.5),
                                       "attempt": .stringConvertible(2), "outputs": .array(["a.txt"])])
        let line = try XCTUnwrap(sink.lines.first)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["event"] as? String, "done")
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["path"] as? String, "a\"b.wav")
        XCTAssertEqual(object["audio_seconds"] as? Double, 3.5)
        XCTAssertEqual(object["attempt"] as? Int, 2)
        XCTAssertEqual(object["outputs"] as? [String], ["a.txt"])
        XCTAssertEqual(object["folder"] as? String, "/notes")
        XCTAssertNotNil(object["time"] as? String)
    }

    func testOneWatcherPerFolder() throws {
        let base = try TestSupport.temporaryDirectory().resolvingSymlinksInPath()
        defer { try? FileManager.default.removeItem(at: base) }
        let folder = base.appendingPathComponent("notes"), other = base.appendingPathComponent("other")
        for url in [folder, other] { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        let state = folder.appendingPathComponent(".hark")
        var first: FolderLock? = try FolderLock(folder: folder.path, stateDirectory: state)
        XCTAssertThrowsError(try FolderLock(folder: folder.path, stateDirectory: state)) { error in
            XCTAssertTrue("\(error)".contains("\(folder.path) is already being watched by process \(getpid()); stop it first"), "\(error)")
        }
        // The lock belongs to the folder, whatever the state folder: another --state-dir is refused too.
        XCTAssertThrowsError(try FolderLock(folder: folder.path, stateDirectory: base.appendingPathComponent("elsewhere"))) { error in
            XCTAssertTrue("\(error)".contains("\(folder.path) is already being watched by process \(getpid()); stop it first"), "\(error)")
        }
        // And a state folder is used by one watcher at a time.
        XCTAssertThrowsError(try FolderLock(folder: other.path, stateDirectory: state)) { error in
            XCTAssertTrue("\(error)".contains("\(state.path) is in use by process \(getpid())"), "\(error)")
        }
        var second: FolderLock? = try FolderLock(folder: other.path, stateDirectory: base.appendingPathComponent("other-state"))
        XCTAssertNotNil(second)
        second = nil
        first = nil
        XCTAssertNil(first)
        XCTAssertNoThrow(try FolderLock(folder: folder.path, stateDirectory: base.appendingPathComponent("elsewhere")),
                         "the locks are released with their holder")
    }
}
