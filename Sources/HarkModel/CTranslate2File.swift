import CHarkKernels
import Foundation

/// The element types a CTranslate2 model file stores, by their on-disk id.
public enum TensorDataType: UInt8, Sendable {
    case float32 = 0, int8 = 1, int16 = 2, int32 = 3, float16 = 4, bfloat16 = 5

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .int8: 1
        case .int16, .float16, .bfloat16: 2
        case .float32, .int32: 4
        }
    }
}

/// One variable of a model file: where its bytes are, its shape and type.
public struct TensorRecord: Sendable {
    public var name: String
    public var shape: [Int]
    public var dataType: TensorDataType
    /// Byte offset of the payload in the file.
    public var offset: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A CTranslate2 `model.bin` (binary versions 1 to 6), memory-mapped; tensors are read out
/// on demand and converted to 32-bit float.
///
/// Layout: u32 version, [str spec name, u32 spec revision], u32 count, then per variable
/// str name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, bytes; then (v3+) u32 count
/// of aliases, each str alias, str target. Strings are u16 length (with NUL) + bytes.
/// Nothing is aligned.
public struct CTranslate2File: @unchecked Sendable {
    /// The newest layout this reader understands (CTranslate2 4.x writes 6).
    public static let newestBinaryVersion = 6

    public let path: String
    public let binaryVersion: Int
    public let specName: String
    public let specRevision: Int
    /// Variables by name, aliases resolved.
    public let variables: [String: TensorRecord]
    /// The names of the variables stored in the file, in file order (aliases excluded).
    public let storedNames: [String]
    private let data: Data
    /// The mapped file, for readers in this module.
    var mappedData: Data { data }

    /// Maps and parses `path`.
    public init(path: String) throws(ModelError) {
        self.path = path
        data = try MappedTensors.map(path)
        var reader = ByteReader(data: data, path: path)
        let version = Int(try reader.u32())
        guard version >= 1 && version <= 64 else {
            throw .notAModel(path: path, detail: "binary version \(version) is not a CTranslate2 version")
        }
        guard version <= CTranslate2File.newestBinaryVersion else {
            throw .unsupported(path: path, detail: "binary version \(version) is newer than the \(CTranslate2File.newestBinaryVersion) Hark reads")
        }
        binaryVersion = version
        if version >= 2 {
            specName = try reader.string()
            specRevision = Int(try reader.u32())
        } else {
            specName = ""
            specRevision = 1
        }
        let count = Int(try reader.u32())
        guard count > 0 && count < 100_000 else {
            throw .notAModel(path: path, detail: "implausible variable count \(count)")
        }
        var variables: [String: TensorRecord] = [:]
        var storedNames: [String] = []
        for _ in 0..<count {
            let name = try reader.string()
            let rank = Int(try reader.u8())
            var shape: [Int] = []
            for _ in 0..<rank { shape.append(Int(try reader.u32())) }
            let dataType: TensorDataType
            let byteCount: Int
            if version >= 4 {
                let id = try reader.u8()
                guard let type = TensorDataType(rawValue: id) else {
                    throw .notAModel(path: path, detail: "unknown data type id \(id) for \(name)")
                }
                dataType = type
                byteCount = Int(try reader.u32())
            } else {
                let itemSize = try reader.u8()
                let elements = Int(try reader.u32())
                switch itemSize {
                case 4: dataType = .float32
                case 2: dataType = .int16
                case 1: dataType = .int8
                default: throw .notAModel(path: path, detail: "unknown item size \(itemSize) for \(name)")
                }
                byteCount = elements * Int(itemSize)
            }
            // Checked before any size is derived from the shape: dimensions are 32-bit, so
            // their product can overflow.
            guard CheckedSize.bytes(shape, elementSize: dataType.size) == byteCount else {
                throw .notAModel(path: path, detail: "\(name): \(byteCount) bytes for shape \(shape)")
            }
            let record = TensorRecord(name: name, shape: shape, dataType: dataType, offset: reader.position)
            try reader.skip(byteCount, what: name)
            variables[name] = record
            storedNames.append(name)
        }
        if version >= 3 {
            let aliasCount = Int(try reader.u32())
            for _ in 0..<aliasCount {
                let alias = try reader.string()
                let target = try reader.string()
                guard let record = variables[target] else {
                    throw .notAModel(path: path, detail: "alias \(alias) names missing \(target)")
                }
                variables[alias] = record
                for suffix in ["_scale", "_zero"] where variables[target + suffix] != nil {
                    variables[alias + suffix] = variables[target + suffix]
                }
            }
        }
        self.variables = variables
        self.storedNames = storedNames
    }

    /// The size of the file in bytes.
    public var byteCount: Int { data.count }

    /// A tensor as 32-bit floats; int8 tensors with a `_scale` companion are dequantized per row.
    public func floats(_ name: String) throws(ModelError) -> [Float] {
        guard let record = variables[name] else { throw .badTensor(name: name, detail: "missing") }
        let count = record.elementCount
        var result = [Float](repeating: 0, count: count)
        let element: MappedTensors.Element = switch record.dataType {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .int8: .int8
        case .int16: .int16
        case .int32: .int32
        }
        data.withUnsafeBytes { raw in
            result.withUnsafeMutableBufferPointer { out in
                guard let start = raw.baseAddress, let destination = out.baseAddress else { return }
                MappedTensors.convert(start.advanced(by: record.offset), element, count: count, to: destination)
            }
        }
        if record.dataType == .int8, let scaleRecord = variables[name + "_scale"] {
            // CTranslate2 stores q = round(w * scale), so w = q / scale.
            try MappedTensors.scaleRows(&result, by: try floats(scaleRecord.name), name: name) { 1 / $0 }
        }
        return result
    }

    /// A tensor checked against the shape the architecture expects.
    public func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        guard let record = variables[name] else { throw .badTensor(name: name, detail: "missing") }
        guard record.shape == shape else {
            throw .badTensor(name: name, detail: "shape \(record.shape), expected \(shape)")
        }
        return try floats(name)
    }

    /// A scalar stored as a rank-0 variable (attributes such as `num_heads`).
    public func scalar(_ name: String) -> Int? {
        guard let record = variables[name], record.elementCount == 1 else { return nil }
        return (try? floats(name)).flatMap { $0.first.flatMap { CheckedSize.integer($0, in: Int(Int32.min)...Int(Int32.max)) } }
    }

    /// The shape of a variable, if present.
    public func shape(_ name: String) -> [Int]? { variables[name]?.shape }

    /// Calls `body` with the payload bytes of `record` in place (no copy).
    func withBytes<Result>(of record: TensorRecord, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        data.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[record.offset..<(record.offset + record.elementCount * record.dataType.size)]))
        }
    }
}

/// A bounds-checked little-endian cursor.
private struct ByteReader {
    let data: Data
    let path: String
    var position = 0

    mutating func u8() throws(ModelError) -> UInt8 {
        try need(1, what: "u8")
        defer { position += 1 }
        return data[data.startIndex + position]
    }

    mutating func u16() throws(ModelError) -> UInt16 {
        try need(2, what: "u16")
        defer { position += 2 }
        return data.withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt16.self)) }
    }

    mutating func u32() throws(ModelError) -> UInt32 {
        try need(4, what: "u32")
        defer { position += 4 }
        return data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt32.self)) }
    }

    mutating func string() throws(ModelError) -> String {
        let length = Int(try u16())
        guard length > 0 else { throw .notAModel(path: path, detail: "empty string at byte \(position)") }
        try need(length, what: "string")
        let bytes = data[(data.startIndex + position)..<(data.startIndex + position + length - 1)]
        position += length
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw .notAModel(path: path, detail: "invalid name at byte \(position)")
        }
        return text
    }

    mutating func skip(_ count: Int, what: String) throws(ModelError) {
        try need(count, what: what)
        position += count
    }

    private func need(_ count: Int, what: String) throws(ModelError) {
        if position + count > data.count {
            throw .truncated(path: path, detail: "\(what) at byte \(position) needs \(count) bytes, the file has \(data.count)")
        }
    }
}
