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

    private func synthesize(version: UInt32, variables: [(String, [UInt32], UInt8, Data)], aliases: [(String, String)]) -> Data {
        CTranslate2Fixture.file(version: version, variables: variables.map { .init(name: $0.0, shape: $0.1, type: $0.2, payload: $0.3) },
                                aliases: aliases)
    }

    private func bytes<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }

    func testEveryDataTypeAndAliases() throws {
        let variables: [(String, [UInt32], UInt8, Data)] = [
            ("a/bf16", [2], 5, bytes([UInt16(0x3F80), UInt16(0xC040)])),            // 1, -3
            ("a/f16", [3], 4, bytes([UInt16(0x3C00), UInt16(0xC000), UInt16(0x3555)])),  // 1, -2, ≈1/3
            ("a/f32", [2, 2], 0, bytes([Float(1.5), -2, 0.25, 8])),
            ("a/i16", [], 2, bytes([Int16(-6)])),
            ("a/i32", [2], 3, bytes([Int32(70_000), -1])),
            ("w/weight", [2, 2], 1, bytes([Int8(127), -64, 10, -127])),
            ("w/weight_scale", [2], 0, bytes([Float(127), Float(12.7)])),
        ]
        let url = directory.appendingPathComponent("model.bin")
        try synthesize(version: 6, variables: variables, aliases: [("x/weight", "w/weight")]).write(to: url)
        let file = try CTranslate2File(path: url.path)
        XCTAssertEqual(try file.floats("a/bf16"), [1, -3])
        let half = try file.floats("a/f16")
        XCTAssertEqual(half[0], 1); XCTAssertEqual(half[1], -2); XCTAssertEqual(half[2], 1.0 / 3, accuracy: 1e-3)
        XCTAssertEqual(try file.floats("a/f32", shape: [2, 2]), [1.5, -2, 0.25, 8])
        XCTAssertEqual(file.scalar("a/i16"), -6)
        XCTAssertEqual(try file.floats("a/i32"), [70_000, -1])
        XCTAssertEqual(try file.floats("w/weight"), [1, -64.0 / 127, 10 / 12.7, -127 / 12.7].map { Float($0) })
        XCTAssertEqual(try file.floats("x/weight"), try file.floats("w/weight"), "an alias and its scale")
        XCTAssertThrowsError(try file.floats("a/f32", shape: [4])) { error in
            guard case ModelError.badTensor = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try file.floats("nope"))
    }

    func testLegacyBinaryVersions() throws {
        for version in [1, 2, 3] as [UInt32] {
            let url = directory.appendingPathComponent("v\(version).bin")
            try synthesize(version: version, variables: [("t", [2], 0, bytes([Float(3), 4])), ("u", [1], 1, bytes([Int8(-5)]))],
                           aliases: [("t2", "t")]).write(to: url)
            let file = try CTranslate2File(path: url.path)
            XCTAssertEqual(file.binaryVersion, Int(version))
            XCTAssertEqual(try file.floats("t"), [3, 4])
            XCTAssertEqual(try file.floats("u"), [-5])
            XCTAssertEqual(file.variables["t2"] != nil, version >= 3)
        }
    }

    func testMissingDirectory() {
        XCTAssertThrowsError(try WhisperModel(directory: directory.appendingPathComponent("nothing"))) { error in
            XCTAssertEqual(error as? ModelError, .missingFile(path: directory.appendingPathComponent("nothing").path))
        }
    }
}
