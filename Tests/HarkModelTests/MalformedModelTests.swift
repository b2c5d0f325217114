import Foundation
import HarkTestSupport
import XCTest

@testable import HarkModel

/// Sizes, counts and offsets a model file declares are checked before use: a malformed file is
/// one clear error, never an overflow trap, a division by zero or a read out of bounds.
final class MalformedModelTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    // MARK: CTranslate2 model.bin

    /// tiny.en's model.bin with the int16 scalar `name` set to `value`, in a model directory.
    private func tinyEn(with name: String, setTo value: Int16) throws -> URL {
        let source = try TestSupport.modelDirectory("tiny.en").appendingPathComponent("model.bin")
        let record = try XCTUnwrap(try CTranslate2File(path: source.path).variables[name])
        XCTAssertEqual(record.dataType, .int16, name)
        var bytes = try Data(contentsOf: source)
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(record.offset..<(record.offset + 2), with: $0) }
        let model = directory.appendingPathComponent("\(name.replacingOccurrences(of: "/", with: "-"))-\(value)")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try bytes.write(to: model.appendingPathComponent("model.bin"))
        return model
    }

    func testHeadCountsThatDoNotSplitTheWidthAreRefused() throws {
        // tiny.en is 384 wide: 0 and -1 divided by zero or went negative; 7 and 5 do not divide
        // it; 384 heads would be 1 wide, not a multiple of 8.
        for name in ["encoder/num_heads", "decoder/num_heads"] {
            for value: Int16 in [0, -1, 7, 5, 384, 768] {
                let model = try tinyEn(with: name, setTo: value)
                for computeType in ComputeType.allCases {
                    XCTAssertThrowsError(try WhisperModel(at: model, computeType: computeType), "\(name) = \(value)") { error in
                        guard case ModelError.unsupported(_, let detail) = error else { return XCTFail("\(name) = \(value): \(error)") }
                        XCTAssertTrue(detail.contains("attention heads"), detail)
                    }
                }
            }
        }
        // A head count that does split it (6 → 12 heads of 32) still loads.
        XCTAssertNoThrow(try WhisperModel(at: try tinyEn(with: "encoder/num_heads", setTo: 12), computeType: .int8))
    }

    func testAHeadCountThatIsNotAWholeNumberIsRefused() throws {
        // NaN, infinity and 6.5 as half-precision values in place of the int16 scalar.
        for bits: UInt16 in [0x7E00, 0x7C00, 0x4680] {
            let model = try tinyEn(with: "decoder/num_heads", setTo: Int16(bitPattern: bits))
            let url = model.appendingPathComponent("model.bin")
            var bytes = try Data(contentsOf: url)
            let record = try XCTUnwrap(try CTranslate2File(path: url.path).variables["decoder/num_heads"])
            bytes[record.offset - 5] = 4  // the data type id, before the u32 byte count: float16
            try bytes.write(to: url)
            XCTAssertThrowsError(try WhisperModel(at: model, computeType: .int8), String(bits, radix: 16)) { error in
                guard case ModelError.unsupported(_, let detail) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(detail.contains("not a whole number"), detail)
            }
        }
    }

    func testQuantizingAMalformedModelFailsAndLeavesNoFile() throws {
        let model = try tinyEn(with: "decoder/num_heads", setTo: 0)
        for name in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(at: try TestSupport.modelDirectory("tiny.en").appendingPathComponent(name),
                                             to: model.appendingPathComponent(name))
        }
        let output = directory.appendingPathComponent("out/q.safetensors")
        try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        XCTAssertThrowsError(try Int8ModelFile.write(quantizing: model, sourceSHA256: "", to: output)) { error in
            guard case ModelError.unsupported = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output.deletingLastPathComponent().path), [])
    }

    func testDimensionsWhoseProductOverflowsAreRefused() throws {
        let cases: [([UInt32], UInt32)] = [
            ([UInt32.max, UInt32.max, UInt32.max], 0),          // 2^96 elements
            ([UInt32.max, UInt32.max, 4], 0),                   // 2^66 elements
            ([1 << 31, 1 << 31, 1 << 1], 0),                    // 2^63 elements: the byte count overflows
            ([65_536, 65_536], 0),                              // 2^32 elements, as 0 bytes (wraps as u32)
            (Array(repeating: UInt32.max, count: 255), 4),      // rank 255
        ]
        for (shape, byteCount) in cases {
            let url = directory.appendingPathComponent("m.bin")
            try CTranslate2Fixture.file(variables: [.init(name: "encoder/conv1/weight", shape: shape, type: 0,
                                                          payload: Data(count: Int(byteCount)), declaredBytes: byteCount)]).write(to: url)
            XCTAssertThrowsError(try CTranslate2File(path: url.path), "\(shape.prefix(4))") { error in
                guard case ModelError.notAModel = error else { return XCTFail("\(shape.prefix(4)): \(error)") }
            }
        }
    }

    func testNonIntegralScalarsAreNotHeadCounts() throws {
        for value: Float in [.nan, .infinity, 1e30, 6.5] {
            let payload = withUnsafeBytes(of: value.bitPattern.littleEndian) { Data($0) }
            let data = CTranslate2Fixture.file(variables: [.init(name: "encoder/num_heads", shape: [], type: 0, payload: payload)])
            let url = directory.appendingPathComponent("s.bin")
            try data.write(to: url)
            XCTAssertNil(try CTranslate2File(path: url.path).scalar("encoder/num_heads"), "\(value)")
        }
    }

    // MARK: safetensors

    /// A safetensors file with one tensor entry as given (raw JSON) and `dataBytes` bytes of data.
    private func safetensors(entry: String, dataBytes: Int = 16) throws -> String {
        let header = Data("{\"t\":\(entry)}".utf8)
        var data = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(header)
        data.append(Data(count: dataBytes))
        let url = directory.appendingPathComponent("t-\(UUID().uuidString).safetensors")
        try data.write(to: url)
        return url.path
    }

    func testSafetensorsOffsetsAndShapesThatOverflowAreRefused() throws {
        let entries = [
            #"{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775807,9223372036854775807]}"#,
            #"{"dtype":"F32","shape":[0],"data_offsets":[9223372036854775807,9223372036854775807]}"#,
            #"{"dtype":"F32","shape":[2],"data_offsets":[1,-9223372036854775808]}"#,
            #"{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}"#,
            #"{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}"#,
            #"{"dtype":"I64","shape":[1152921504606846976,8],"data_offsets":[0,0]}"#,
            #"{"dtype":"F32","shape":[-1],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[-4,-1],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[8],"data_offsets":[0,32]}"#,
        ]
        for entry in entries {
            let path = try safetensors(entry: entry)
            XCTAssertThrowsError(try SafetensorsFile(path: path), entry) { error in
                switch error as? ModelError {
                case .notAModel, .truncated: break
                default: XCTFail("\(entry): \(error)")
                }
            }
        }
        // The same reader still takes a well-formed tensor.
        let good = try SafetensorsFile(path: try safetensors(entry: #"{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#))
        XCTAssertEqual(good.tensors["t"]?.shape, [2, 2])
    }
}
