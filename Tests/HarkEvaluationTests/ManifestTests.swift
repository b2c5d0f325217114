import Foundation
import HarkEvaluation
import XCTest

final class ManifestTests: XCTestCase {
    private let base = URL(fileURLWithPath: "/data/set")

    func testReadsColumnsByNameAndResolvesAudioPaths() throws {
        let text = "audio\tid\ttext\textra\nclips/a.flac\ta\tHello there.\tx\n/abs/b.wav\tb\tGood bye\t\n\n"
        let manifest = try Manifest(parsing: text, path: "m.tsv", base: base)
        XCTAssertEqual(manifest.entries, [
            Manifest.Entry(id: "a", audioPath: "/data/set/clips/a.flac", text: "Hello there."),
            Manifest.Entry(id: "b", audioPath: "/abs/b.wav", text: "Good bye"),
        ])
    }

    func testLimitKeepsTheFirstEntries() throws {
        let text = "id\taudio\ttext\n" + (1...5).map { "u\($0)\t\($0).wav\tword \($0)" }.joined(separator: "\n")
        XCTAssertEqual(try Manifest(parsing: text, path: "m.tsv", base: base, limit: 2).entries.map(\.id), ["u1", "u2"])
    }

    func testRejectsBadManifests() {
        XCTAssertThrowsError(try Manifest(parsing: "", path: "m.tsv", base: base))
        XCTAssertThrowsError(try Manifest(parsing: "id\tpath\ttext\na\tb\tc\n", path: "m.tsv", base: base)) { error in
            XCTAssertTrue("\(error)".contains("id, audio and text"), "\(error)")
        }
        XCTAssertThrowsError(try Manifest(parsing: "id\taudio\ttext\na\tx.wav\n", path: "m.tsv", base: base)) { error in
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
        }
        XCTAssertThrowsError(try Manifest(parsing: "id\taudio\ttext\na\tx.wav\tt\na\ty.wav\tt\n", path: "m.tsv", base: base)) { error in
            XCTAssertTrue("\(error)".contains("repeats"), "\(error)")
        }
    }

    func testReadsTheSharedDevCleanManifest() throws {
        let url = TestSupportPaths.devClean
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("no shared data at \(url.path)") }
        let manifest = try Manifest(contentsOf: url, limit: 3)
        XCTAssertEqual(manifest.entries.count, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: manifest.entries[0].audioPath), manifest.entries[0].audioPath)
    }
}
