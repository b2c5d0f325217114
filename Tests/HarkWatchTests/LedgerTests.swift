import Foundation
import HarkTestSupport
@testable import HarkWatch
import XCTest

/// The ledger's schema and state changes.
final class LedgerTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func row(_ key: String, _ path: String, state: RecordingState = .pending, at seconds: Double) -> Recording {
        var row = Recording(key: key, sha256: key, path: path, size: 1, modified: Date(timeIntervalSince1970: 0),
                            discoveredAt: Date(timeIntervalSince1970: seconds))
        row.state = state
        return row
    }

    func testSchemaIsMigratedInWALMode() throws {
        let url = folder.appendingPathComponent("state/ledger.sqlite")
        XCTAssertThrowsError(try Ledger(url: url, create: false), "status never creates a ledger")
        let ledger = try Ledger(url: url)
        XCTAssertEqual(try ledger.journalMode(), "wal")
        XCTAssertEqual(try ledger.appliedMigrations(), ["v1", "v2"])
        try ledger.save(row("k1", "a.wav", at: 1))
        let reopened = try Ledger(url: url, create: false)
        XCTAssertEqual(try reopened.appliedMigrations(), ["v1", "v2"], "migrating again is a no-op")
        XCTAssertEqual(try reopened.recording("k1")?.path, "a.wav")
    }

    /// `hark watch status` polling while a watcher starts opens a ledger that exists but is
    /// not migrated yet: it must not migrate it too (both processes would create the tables,
    /// and the watcher would fail on "table already exists").
    func testAReaderNeverMigratesALedgerTheWatcherIsSettingUp() throws {
        let url = folder.appendingPathComponent("state/ledger.sqlite")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: Data()))   // opened, not migrated yet
        XCTAssertThrowsError(try Ledger(url: url, create: false)) { error in
            XCTAssertTrue("\(error)".contains("not set up yet"), "\(error)")
        }
        XCTAssertEqual(try Ledger(url: url).appliedMigrations(), ["v1", "v2"], "the watcher still migrates it")
    }

    func testALedgerBelongsToOneFolder() throws {
        let ledger = try Ledger(url: folder.appendingPathComponent("shared/ledger.sqlite"))
        let first = folder.appendingPathComponent("first"), second = folder.appendingPathComponent("second")
        for url in [first, second] { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        try ledger.claim(folder: first.path)
        try ledger.claim(folder: first.path)
        XCTAssertThrowsError(try ledger.claim(folder: second.path)) { error in
            XCTAssertTrue("\(error)".contains("belongs to \(first.path)"), "\(error)")
        }
        // A folder that was moved: the ledger follows it.
        try FileManager.default.removeItem(at: first)
        XCTAssertNoThrow(try ledger.claim(folder: second.path))
    }

    func testDueOrderAndBackoff() throws {
        let ledger = try Ledger(url: folder.appendingPathComponent("l.sqlite"))
        let now = Date()
        try ledger.save(row("b", "b.wav", at: 2))
        try ledger.save(row("a", "a.wav", at: 1))
        try ledger.save(row("busy", "busy.wav", state: .processing, at: 0))
        try ledger.save(row("ok", "ok.wav", state: .done, at: 0))
        var waiting = row("wait", "wait.wav", state: .failed, at: 0)
        waiting.nextAttemptAt = now.addingTimeInterval(60)
        try ledger.save(waiting)
        var retry = row("retry", "retry.wav", state: .failed, at: 3)
        retry.nextAttemptAt = now.addingTimeInterval(-1)
        try ledger.save(retry)
        var givenUp = row("dead", "dead.wav", state: .failed, at: 0)
        givenUp.nextAttemptAt = nil
        try ledger.save(givenUp)

        var interrupted = row("interrupted", "0.wav", at: 0)
        interrupted.interruptions = 1
        try ledger.save(interrupted)
        XCTAssertEqual(try ledger.due(now: now).map(\.key), ["a", "b", "retry", "interrupted"], "interrupted ones wait behind")
        try ledger.delete("interrupted")
        XCTAssertEqual(try ledger.due(now: now).map(\.key), ["a", "b", "retry"])
        XCTAssertEqual(try ledger.due(now: now.addingTimeInterval(61)).map(\.key), ["wait", "a", "b", "retry"])
        let counts = try ledger.counts()
        XCTAssertEqual(counts[.pending], 2)
        XCTAssertEqual(counts[.failed], 3)
        XCTAssertEqual(counts[.processing], 1)
        XCTAssertEqual(counts[.done], 1)

        var configuration = WatchConfiguration(folder: folder)
        configuration.retryDelay = 30
        XCTAssertEqual([1, 2, 3, 9].map(configuration.backoff(afterAttempt:)), [30, 120, 480, 3600])
    }

    func testOutputsAreRecordedOnlyWhenCompleteAndPassToNewerContent() throws {
        let ledger = try Ledger(url: folder.appendingPathComponent("l.sqlite"))
        var old = row("old", "a.wav", state: .processing, at: 1)
        try ledger.startProcessing(old, planned: ["a.txt", "a.json"])
        XCTAssertEqual(try ledger.outputs(of: "old").map(\.complete), [false, false])
        XCTAssertEqual(try ledger.recording("old")?.outputs, [], "planned outputs are not the recording's outputs")
        old.state = .done
        try ledger.finish(old, outputs: ["a.txt", "a.json"])
        XCTAssertEqual(try ledger.recording("old")?.outputs, ["a.txt", "a.json"])
        XCTAssertEqual(try ledger.outputOwner("a.txt")?.key, "old")

        // The same file with new content takes the names over when it is done.
        var new = row("new", "a.wav", state: .processing, at: 2)
        try ledger.startProcessing(new, planned: ["a.txt", "a.json"])
        XCTAssertEqual(try ledger.outputOwner("a.txt")?.key, "old", "still the old transcript until the new one is written")
        new.state = .done
        try ledger.finish(new, outputs: ["a.txt", "a.json"])
        XCTAssertEqual(try ledger.outputOwner("a.json")?.key, "new")
        XCTAssertEqual(try ledger.recording("old")?.outputs, [])

        // Dropping an unfinished recording drops its planned outputs.
        try ledger.startProcessing(row("x", "x.wav", state: .processing, at: 3), planned: ["x.txt"])
        XCTAssertEqual(try ledger.dropIncompleteOutputs(of: "x"), ["x.txt"])
        try ledger.startProcessing(row("y", "y.wav", state: .processing, at: 3), planned: ["y.txt"])
        try ledger.delete("y")
        XCTAssertNil(try ledger.outputOwner("y.txt"))
    }
}
