import Foundation

/// The float32 initializers (constant tensors) of an ONNX model file, read straight from its
/// protobuf encoding: `ModelProto.graph` (field 7) → `GraphProto.initializer` (field 5, repeated)
/// → `TensorProto` with `dims` (1), `data_type` (2), `float_data` (4), `name` (8), `raw_data` (9)
/// and `data_location` (14). Nothing else of the model is interpreted (the network is
/// ``SileroVAD``'s own code); subgraphs are not searched.
///
/// Every length and varint is checked against the bytes that remain, so a truncated or
/// corrupt file gives an error, never a crash or an out-of-bounds read.
struct ONNXInitializers {
    /// A float32 tensor: its shape and its values, little-endian as stored.
    struct Tensor: Equatable {
        var shape: [Int]
        var values: [Float]
    }

    /// The initializers by name.
    let tensors: [String: Tensor]

    /// Why the bytes are not an ONNX model with float32 initializers (one phrase).
    struct Malformed: Error, Equatable {
        let detail: String
    }

    /// Decodes `data`, the whole file.
    init(data: Data) throws(Malformed) {
        let decoded: Result<[String: Tensor], Malformed> = data.withUnsafeBytes { bytes in
            do throws(Malformed) { return .success(try Self.initializers(in: bytes)) } catch { return .failure(error) }
        }
        tensors = try decoded.get()
    }

    /// The initializers of the graph of the `ModelProto` in `bytes`.
    private static func initializers(in bytes: UnsafeRawBufferPointer) throws(Malformed) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        var model = ProtobufReader(bytes)
        var graphs = 0
        while let field = try model.nextField() {
            guard field.number == 7 else { continue }  // ModelProto.graph
            graphs += 1
            var graph = ProtobufReader(try field.bytes())
            while let item = try graph.nextField() {
                guard item.number == 5 else { continue }  // GraphProto.initializer
                let (name, tensor) = try Self.tensor(try item.bytes())
                guard tensors.updateValue(tensor, forKey: name) == nil else {
                    throw Malformed(detail: "two initializers are named \(name)")
                }
            }
        }
        guard graphs > 0 else { throw Malformed(detail: "no model graph: not an ONNX model") }
        return tensors
    }

    /// Decodes one `TensorProto`.
    private static func tensor(_ bytes: UnsafeRawBufferPointer) throws(Malformed) -> (String, Tensor) {
        var reader = ProtobufReader(bytes)
        var name = "", shape: [Int] = [], dataType: UInt64 = 0, location: UInt64 = 0
        var raw: UnsafeRawBufferPointer?
        var floats: [Float] = []
        while let field = try reader.nextField() {
            switch field.number {
            case 1:  // dims: repeated int64, packed or not
                for value in try field.varints() {
                    guard value <= UInt64(Int32.max) else { throw Malformed(detail: "a tensor dimension of \(value)") }
                    shape.append(Int(value))
                }
            case 2: dataType = try field.varint()
            case 4: floats += try field.fixed32s().map { Float(bitPattern: $0) }  // float_data
            case 8: name = String(decoding: try field.bytes(), as: UTF8.self)
            case 9: raw = try field.bytes()
            case 14: location = try field.varint()
            default: break
            }
        }
        let label = name.isEmpty ? "an unnamed initializer" : "initializer \(name)"
        guard location == 0 else { throw Malformed(detail: "\(label) keeps its data in another file") }
        guard dataType == 1 else { throw Malformed(detail: "\(label) has ONNX data type \(dataType), not float32") }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= 1 << 28 else { throw Malformed(detail: "\(label) has shape \(shape)") }
            count = product
        }
        if let raw {
            guard raw.count == count * 4 else {
                throw Malformed(detail: "\(label) has \(raw.count) bytes of data for shape \(shape)")
            }
            floats = (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        } else {
            guard floats.count == count else {
                throw Malformed(detail: "\(label) has \(floats.count) values for shape \(shape)")
            }
        }
        return (name, Tensor(shape: shape, values: floats))
    }
}

/// Reads protobuf wire format (https://protobuf.dev/programming-guides/encoding/): a sequence
/// of (tag varint, value) pairs, the tag holding the field number and the wire type.
private struct ProtobufReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// One field: its number and its value's bytes (a varint's or fixed value's bytes too).
    struct Field {
        let number: UInt64
        let wireType: UInt64
        let value: UnsafeRawBufferPointer

        /// A length-delimited field's bytes.
        func bytes() throws(ONNXInitializers.Malformed) -> UnsafeRawBufferPointer {
            guard wireType == 2 else { throw .init(detail: "field \(number) is not length-delimited") }
            return value
        }

        /// A varint field's value.
        func varint() throws(ONNXInitializers.Malformed) -> UInt64 {
            guard wireType == 0 else { throw .init(detail: "field \(number) is not a varint") }
            var reader = ProtobufReader(value)
            return try reader.readVarint()
        }

        /// A repeated varint field's values, packed (length-delimited) or one.
        func varints() throws(ONNXInitializers.Malformed) -> [UInt64] {
            if wireType == 0 { return [try varint()] }
            var reader = ProtobufReader(try bytes())
            var values: [UInt64] = []
            while !reader.atEnd { values.append(try reader.readVarint()) }
            return values
        }

        /// A repeated 32-bit field's values, packed or one.
        func fixed32s() throws(ONNXInitializers.Malformed) -> [UInt32] {
            guard wireType == 5 || wireType == 2, value.count % 4 == 0 else {
                throw .init(detail: "field \(number) is not 32-bit values")
            }
            return (0..<(value.count / 4)).map { UInt32(littleEndian: value.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
    }

    var atEnd: Bool { offset >= bytes.count }

    /// The next field, or nil at the end of the message.
    mutating func nextField() throws(ONNXInitializers.Malformed) -> Field? {
        guard !atEnd else { return nil }
        let tag = try readVarint()
        let number = tag >> 3, wireType = tag & 7
        guard number > 0 else { throw .init(detail: "a field numbered 0 at byte \(offset)") }
        let start = offset
        switch wireType {
        case 0: _ = try readVarint()
        case 1: try skip(8)
        case 2:
            let length = try readVarint()
            guard length <= UInt64(bytes.count - offset) else {
                throw .init(detail: "field \(number) claims \(length) bytes where \(bytes.count - offset) remain (truncated?)")
            }
            let end = offset + Int(length)
            let value = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
            offset = end
            return Field(number: number, wireType: 2, value: value)
        case 5: try skip(4)
        default: throw .init(detail: "wire type \(wireType) at byte \(start)")
        }
        return Field(number: number, wireType: wireType, value: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
    }

    mutating func readVarint() throws(ONNXInitializers.Malformed) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .init(detail: "the file ends inside a number (truncated?)") }
            let byte = bytes[offset]
            offset += 1
            guard shift < 64 else { throw .init(detail: "a number of more than 64 bits") }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    private mutating func skip(_ count: Int) throws(ONNXInitializers.Malformed) {
        guard count <= bytes.count - offset else { throw .init(detail: "the file ends inside a field (truncated?)") }
        offset += count
    }
}
