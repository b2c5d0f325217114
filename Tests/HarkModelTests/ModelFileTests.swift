import Foundation
import HarkTestSupport
import XCTest

@testable import HarkModel

/// A bad model file is a clear error, never a crash or a wrong transcript.
final class ModelFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func modelDirectory(withModelBytes bytes: Data) throws -> URL {
        let model = directory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try bytes.write(to: model.appendingPathComponent("model.bin"))
        return model
    }

    private func realModelPrefix(_ count: Int) throws -> Data {
        let url = try TestSupport.modelDirectory("tiny.en").appendingPathComponent("model.bin")
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        return try handle.read(upToCount: count) ?? Data()
    }

    func testParsesTheRealFile() throws {
        let file = try CTranslate2File(path: try TestSupport.modelDirectory("tiny.en").appendingPathComponent("model.bin").path)
        XCTAssertEqual(file.binaryVersion, 6)
        XCTAssertEqual(file.specName, "WhisperSpec")
        XCTAssertEqual(file.variables["decoder/projection/weight"]?.offset, file.variables["decoder/embeddings/weight"]?.offset,
                       "the output projection is an alias of the embedding")
        XCTAssertEqual(file.variables["encoder/conv1/weight"]?.dataType, .float16)
        XCTAssertEqual(file.scalar("encoder/num_heads"), 6)
    }

    func testTruncatedFileIsReportedAsTruncated() throws {
        for size in [3, 100, 5_000_000] {
            let model = try modelDirectory(withModelBytes: try realModelPrefix(size))
            XCTAssertThrowsError(try WhisperModel(directory: model), "\(size) bytes") { error in
                guard case ModelError.truncated = error else { return XCTFail("\(size) bytes: \(error)") }
                XCTAssertTrue("\(error)".contains("fetch the model again"))
            }
        }
    }

    func testGarbageIsNotAModel() throws {
        let model = try modelDirectory(withModelBytes: Data("this is a text file, not weights\n".utf8))
        XCTAssertThrowsError(try WhisperModel(directory: model)) { error in
            guard case ModelError.notAModel = error else { return XCTFail("\(error)") }
        }
    }

    func testNewerVersionIsUnsupported() throws {
        var bytes = try realModelPrefix(64)
        bytes[0] = 7
        let model = try modelDirectory(withModelBytes: bytes)
        XCTAssertThrowsError(try WhisperModel(directory: model)) { error in
            guard case ModelError.unsupported = error else { return XCTFail("\(error)") }
        }
    }

    func testMissingDirectory() {
        XCTAssertThrowsError(try WhisperModel(directory: directory.appendingPathComponent("nothing"))) { error in
            XCTAssertEqual(error as? ModelError, .missingFile(path: directory.appendingPathComponent("nothing").path))
        }
    }
}
