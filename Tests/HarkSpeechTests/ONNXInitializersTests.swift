import Foundation
@testable import HarkSpeech
import XCTest

/// The protobuf reading of ONNX initializers, on hand-made messages: the encodings the wheel's
/// file does not use (packed dimensions, `float_data`) and the ones refused.
final class ONNXInitializersTests: XCTestCase {
    private func varint(_ value: UInt64) -> [UInt8] {
        var value = value, bytes: [UInt8] = []
        repeat {
            bytes.append(UInt8(value & 0x7f) | (value >= 0x80 ? 0x80 : 0))
            value >>= 7
        } while value > 0
        return bytes
    }

    private func field(_ number: UInt64, varint value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }
    private func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes }
    private func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

    /// A model holding one graph with these tensors (and an unrelated node and field).
    private func model(_ tensors: [[UInt8]]) -> Data {
        let graph = field(1, bytes: field(4, bytes: Array("Relu".utf8))) + tensors.flatMap { field(5, bytes: $0) }
        return Data(field(1, varint: 8) + field(7, bytes: graph) + field(2, bytes: Array("pytorch".utf8)))
    }

    func testRawDataPackedDimensionsAndFloatData() throws {
        let raw = field(1, varint: 2) + field(1, varint: 2) + field(2, varint: 1) + field(8, bytes: Array("a".utf8))
            + field(9, bytes: floats([1, 2, 3, -4]))
        let packed = field(1, bytes: varint(3)) + field(2, varint: 1) + field(8, bytes: Array("b".utf8))
            + field(4, bytes: floats([0.5, 300, -1e-3]))
        let tensors = try ONNXInitializers(data: model([raw, packed])).tensors
        XCTAssertEqual(tensors["a"], .init(shape: [2, 2], values: [1, 2, 3, -4]))
        XCTAssertEqual(tensors["b"], .init(shape: [3], values: [0.5, 300, -1e-3]))
    }

    func testWhatIsRefused() {
        let named = field(8, bytes: Array("w".utf8))
        let cases: [(Data, String)] = [
            (model([field(1, varint: 2) + field(2, varint: 10) + named + field(9, bytes: [0, 0, 0, 0])]),
             "initializer w has ONNX data type 10, not float32"),
            (model([field(1, varint: 2) + field(2, varint: 1) + named + field(9, bytes: floats([1]))]),
             "initializer w has 4 bytes of data for shape [2]"),
            (model([field(2, varint: 1) + named + field(14, varint: 1)]), "initializer w keeps its data in another file"),
            (model([field(2, varint: 1) + named + field(9, bytes: floats([1])), field(2, varint: 1) + named + field(9, bytes: floats([2]))]),
             "two initializers are named w"),
            (Data([0x3a, 0x05, 0x2a]), "field 7 claims 5 bytes where 1 remain (truncated?)"),
            (Data([0x08, 0x80]), "the file ends inside a number (truncated?)"),
            (Data([0x0b]), "wire type 3 at byte 1"),
            (Data(field(1, varint: 8)), "no model graph: not an ONNX model"),
        ]
        for (data, detail) in cases {
            XCTAssertThrowsError(try ONNXInitializers(data: data)) { error in
                XCTAssertEqual((error as? ONNXInitializers.Malformed)?.detail, detail)
            }
        }
    }
}
