import Foundation
import HarkTestSupport
import XCTest

@testable import Hark

/// Outputs are written whole, all of a set or none, and never over a file that must be kept.
final class AtomicFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() }

    func testWithoutReplacingAnExistingFileOrLinkIsKeptAndTheSetIsUndone() throws {
        let kept = directory.appendingPathComponent("b.srt")
        try "keep\n".write(to: kept, atomically: false, encoding: .utf8)
        let dangling = directory.appendingPathComponent("c.vtt")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: "/nonexistent/target")
        for blocked in [kept, dangling] {
            let set = [("a", directory.appendingPathComponent("a.txt")), ("b", blocked)]
            XCTAssertThrowsError(try AtomicFile.write(set, replacing: false)) { error in
                XCTAssertEqual((error as? FileWriteError)?.reason, "it exists")
            }
            XCTAssertEqual(try names(), ["b.srt", "c.vtt"], "a.txt, placed first, is removed again; no temporaries")
        }
        XCTAssertEqual(try String(contentsOf: kept, encoding: .utf8), "keep\n")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dangling.path), "/nonexistent/target")

        try AtomicFile.write([("new\n", kept)], replacing: true)
        XCTAssertEqual(try String(contentsOf: kept, encoding: .utf8), "new\n")
    }

    func testAFailedWriteLeavesNoneOfTheSet() throws {
        // The second target's folder does not exist: its temporary cannot be made, and the
        // first, already written, is not placed.
        let set = [("a", directory.appendingPathComponent("a.txt")), ("b", directory.appendingPathComponent("missing/b.txt"))]
        XCTAssertThrowsError(try AtomicFile.write(set, replacing: true))
        XCTAssertEqual(try names(), [])
    }

    func testLongNamesFitTheirTemporaries() throws {
        let name = String(repeating: "é", count: 125) + ".json"   // 255 bytes, the longest name
        let url = directory.appendingPathComponent(name)
        try AtomicFile.write("{}\n", to: url)
        XCTAssertEqual(try names(), [name])
        let temporary = AtomicFile.temporaryName(for: name)
        XCTAssertLessThanOrEqual(temporary.utf8.count, 255)
        XCTAssertTrue(AtomicFile.isTemporary(temporary, for: name))
        XCTAssertFalse(AtomicFile.isTemporary("." + name + ".tmp", for: name))
    }
}
