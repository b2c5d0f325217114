import CHarkKernels
import Foundation
import HarkKernels

/// A file the weights of a Whisper model are read from, tensor by tensor, by CTranslate2
/// name (`encoder/layer_0/ffn/linear_0/weight`): a CTranslate2 `model.bin` or a Hark int8
/// safetensors file.
protocol WeightSource {
    var path: String { get }
    /// The model specification the file declares ("WhisperSpec"), or "" when it declares none.
    var specName: String { get }
    /// The shape of a tensor, if present.
    func shape(_ name: String) -> [Int]?
    /// A tensor as 32-bit floats (int8 tensors dequantized), checked against `shape`.
    func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float]
    /// A scalar attribute such as `num_heads`.
    func scalar(_ name: String) -> Int?
    /// The weight matrix `name` (`rows` × `columns` once flattened) when the file stores it in
    /// int8 with per-row scales; nil when it stores floats.
    func storedInt8(_ name: String, rows: Int, columns: Int) throws(ModelError) -> QuantizedMatrix?
    /// For a float tensor, a reader of its rows (`columns` values each) as 32-bit floats: the
    /// rows `range` go to the buffer. Nil for other element types.
    func floatRowReader(_ name: String, columns: Int) -> (@Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void)?
    /// The `count` values of tensor `name` as stored, when the file stores it in IEEE half
    /// precision; nil for other element types.
    func storedFloat16(_ name: String, count: Int) throws(ModelError) -> LargeBlock<UInt16>?
}

extension MappedTensors {
    /// `count` little-endian half-precision values at `source` (any alignment), in a
    /// ``LargeBlock`` (a decoder step streams them whole).
    static func halves(_ source: UnsafeRawBufferPointer, count: Int) -> LargeBlock<UInt16> {
        let halves = LargeBlock<UInt16>(count: count)
        if let base = source.baseAddress { memcpy(halves.base, base, count * 2) }
        return halves
    }
}

extension MappedTensors {
    /// A row reader over `data` for a float tensor at `offset`.
    static func rowReader(_ data: Data, offset: Int, element: Element, size: Int,
                          columns: Int) -> @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void {
        { range, destination in
            data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                convert(base + offset + range.lowerBound * columns * size, element, count: range.count * columns, to: destination)
            }
        }
    }
}

extension CTranslate2File: WeightSource {
    /// CTranslate2 int8 weights (as faster-whisper's `--quantization int8` conversion writes
    /// them) are taken as they are: CTranslate2 stores `q = round(w · s)` with `s = 127 / max|row|`,
    /// so Hark's scale is `1 / s`.
    func storedInt8(_ name: String, rows: Int, columns: Int) throws(ModelError) -> QuantizedMatrix? {
        guard let record = variables[name], record.dataType == .int8,
              let scaleRecord = variables[name + "_scale"] else { return nil }
        guard record.elementCount == rows * columns else {
            throw .badTensor(name: name, detail: "shape \(record.shape), expected \(rows) × \(columns) values")
        }
        let inverse = try floats(scaleRecord.name)
        guard inverse.count == rows else { throw .badTensor(name: name, detail: "\(inverse.count) scales for \(rows) rows") }
        let scales = inverse.map { $0 == 0 ? 0 : 1 / $0 }
        return try withBytes(of: record) { bytes in
            Result { () throws(QuantizedMatrix.ShapeError) in
                try QuantizedMatrix(quantized: bytes.bindMemory(to: Int8.self), scales: scales, rows: rows, columns: columns)
            }
        }.mapError { ModelError.badTensor(name: name, detail: $0.description) }.get()
    }
}

extension CTranslate2File {
    func storedFloat16(_ name: String, count: Int) throws(ModelError) -> LargeBlock<UInt16>? {
        guard let record = variables[name], record.dataType == .float16 else { return nil }
        guard record.elementCount == count else {
            throw .badTensor(name: name, detail: "shape \(record.shape), expected \(count) values")
        }
        return withBytes(of: record) { MappedTensors.halves($0, count: count) }
    }

    func floatRowReader(_ name: String, columns: Int) -> (@Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void)? {
        guard let record = variables[name] else { return nil }
        let element: MappedTensors.Element
        switch record.dataType {
        case .float32: element = .float32
        case .float16: element = .float16
        case .bfloat16: element = .bfloat16
        default: return nil
        }
        return MappedTensors.rowReader(mappedData, offset: record.offset, element: element, size: record.dataType.size, columns: columns)
    }
}

extension SafetensorsFile: WeightSource {
    func floatRowReader(_ name: String, columns: Int) -> (@Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void)? {
        guard let tensor = tensors[name] else { return nil }
        let element: MappedTensors.Element
        switch tensor.dataType {
        case .float32: element = .float32
        case .float16: element = .float16
        case .bfloat16: element = .bfloat16
        default: return nil
        }
        return MappedTensors.rowReader(mappedData, offset: tensor.offset, element: element, size: tensor.dataType.size, columns: columns)
    }

    func storedFloat16(_ name: String, count: Int) throws(ModelError) -> LargeBlock<UInt16>? {
        guard let tensor = tensors[name], tensor.dataType == .float16 else { return nil }
        guard tensor.elementCount == count else {
            throw .badTensor(name: name, detail: "shape \(tensor.shape), expected \(count) values")
        }
        return try withBytes(of: name) { MappedTensors.halves($0, count: count) }
    }

    /// Hark int8 files name their specification in the metadata.
    var specName: String { metadata[Int8ModelFile.Key.spec] ?? "" }

    func shape(_ name: String) -> [Int]? { tensors[name]?.shape }

    func scalar(_ name: String) -> Int? {
        guard let tensor = tensors[name], tensor.elementCount == 1 else { return nil }
        return (try? floats(name, shape: tensor.shape)).flatMap { $0.first.flatMap { CheckedSize.integer($0, in: Int(Int32.min)...Int(Int32.max)) } }
    }

    /// Any float tensor; an I8 tensor with an F32 `name_scale` companion is dequantized as
    /// `q · scale` per row.
    func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        guard let tensor = tensors[name] else { throw .badTensor(name: name, detail: "missing") }
        guard tensor.shape == shape else { throw .badTensor(name: name, detail: "shape \(tensor.shape), expected \(shape)") }
        let count = tensor.elementCount
        var result = [Float](repeating: 0, count: count)
        let element: MappedTensors.Element = switch tensor.dataType {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .int8: .int8
        case .uint8: .uint8
        case .int32: .int32
        case .int64: .int64
        }
        try withBytes(of: name) { bytes in
            result.withUnsafeMutableBufferPointer { out in
                guard let destination = out.baseAddress, let source = bytes.baseAddress else { return }
                MappedTensors.convert(source, element, count: count, to: destination)
            }
        }
        if tensor.dataType == .int8, let scaleTensor = tensors[name + "_scale"] {
            // Hark's files store the multiplier: w = q * scale.
            try MappedTensors.scaleRows(&result, by: try floats(name + "_scale", shape: scaleTensor.shape), name: name) { $0 }
        }
        return result
    }

    func storedInt8(_ name: String, rows: Int, columns: Int) throws(ModelError) -> QuantizedMatrix? {
        guard let tensor = tensors[name], tensor.dataType == .int8, let scaleTensor = tensors[name + "_scale"] else { return nil }
        guard tensor.elementCount == rows * columns else {
            throw .badTensor(name: name, detail: "shape \(tensor.shape), expected \(rows) × \(columns) values")
        }
        let scales = try floats(name + "_scale", shape: scaleTensor.shape)
        return try withBytes(of: name) { bytes in
            Result { () throws(QuantizedMatrix.ShapeError) in
                try QuantizedMatrix(quantized: bytes.bindMemory(to: Int8.self), scales: scales, rows: rows, columns: columns)
            }
        }.mapError { ModelError.badTensor(name: name, detail: $0.description) }.get()
    }
}
