import CHarkKernels
import Foundation

/// What the model file readers share: mapping a file, and converting a stored tensor to floats.
enum MappedTensors {
    /// The file at `path`, memory-mapped.
    static func map(_ path: String) throws(ModelError) -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path: path) }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw .missingFile(path: path)
        }
    }

    /// The element types tensors are stored in, across file formats.
    enum Element {
        case float32, float16, bfloat16, int8, uint8, int16, int32, int64
    }

    /// Converts `count` little-endian elements at `source` (any alignment) to floats at `destination`.
    static func convert(_ source: UnsafeRawPointer, _ element: Element, count: Int, to destination: UnsafeMutablePointer<Float>) {
        switch element {
        case .float32:
            memcpy(destination, source, count * 4)
        case .float16:
            withAlignedCopy(source, bytes: count * 2) { hark_f16_to_f32($0.assumingMemoryBound(to: UInt16.self), destination, count) }
        case .bfloat16:
            withAlignedCopy(source, bytes: count * 2) { hark_bf16_to_f32($0.assumingMemoryBound(to: UInt16.self), destination, count) }
        case .int8:
            for i in 0..<count { destination[i] = Float(source.load(fromByteOffset: i, as: Int8.self)) }
        case .uint8:
            for i in 0..<count { destination[i] = Float(source.load(fromByteOffset: i, as: UInt8.self)) }
        case .int16:
            for i in 0..<count { destination[i] = Float(Int16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
        case .int32:
            for i in 0..<count { destination[i] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        case .int64:
            for i in 0..<count { destination[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
        }
    }

    /// Multiplies each of the `scales.count` rows of `values` by a factor derived from its scale.
    static func scaleRows(_ values: inout [Float], by scales: [Float], name: String,
                          factor: (Float) -> Float) throws(ModelError) {
        let rows = scales.count
        guard rows > 0, values.count % rows == 0 else {
            throw .badTensor(name: name, detail: "\(rows) scales for \(values.count) values")
        }
        let columns = values.count / rows
        for row in 0..<rows {
            let f = factor(scales[row])
            for column in 0..<columns { values[row * columns + column] *= f }
        }
    }

    /// Calls `body` with a 16-byte-aligned copy of `bytes` bytes at `source` (payloads may be unaligned).
    private static func withAlignedCopy(_ source: UnsafeRawPointer, bytes: Int, _ body: (UnsafeRawPointer) -> Void) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 16)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: source, byteCount: bytes)
        body(UnsafeRawPointer(buffer))
    }
}
