// Swift API over the int8 kernels: weights quantized once, kept packed for the GEMM.

import CHarkKernels
import Foundation

/// A weight matrix quantized to int8, symmetric per output channel (row).
///
/// `rows` is the number of output features and `columns` the number of input features, as in
/// a linear layer `y = x · Wᵀ + b`. Each row `r` is stored as int8 values `q[r][c]` in
/// [-127, 127] (never -128) and one scale `scales[r] = max|W[r]| / 127`, so that
/// `W[r][c] ≈ q[r][c] · scales[r]`; an all-zero row has scale 0.
///
/// The int8 values are kept in the kernels' packed panel layout (16 output columns per panel,
/// 4 consecutive input features per group, zero-padded), which is what
/// ``Int8MatrixProduct`` reads; ``int8Values()`` gives them back row-major.
public struct QuantizedMatrix: Sendable, Equatable {
    /// Output features (rows of W).
    public let rows: Int
    /// Input features (columns of W).
    public let columns: Int
    /// The int8 values in the packed layout of `hark_s8_pack_weights`
    /// (`hark_s8_packed_bytes(rows, columns)` bytes, or one zero byte when that is 0, so that
    /// the storage always has an address).
    private let packed: LargeBlock<Int8>
    /// One scale per row: `max|W[r]| / 127`.
    public let scales: [Float]

    /// A shape that does not match the data given.
    public struct ShapeError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Quantizes row-major float weights (`rows` × `columns`): per row, scale = max|row| / 127
    /// and q = round(w / scale), clamped to [-127, 127].
    ///
    /// - Precondition: `weights.count == rows * columns`, both non-negative.
    public init(quantizing weights: [Float], rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "QuantizedMatrix: negative shape")
        precondition(weights.count == rows * columns,
                     "QuantizedMatrix: \(weights.count) weights for \(rows) × \(columns)")
        var values = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 0, count: rows)
        if rows > 0 && columns > 0 {
            weights.withUnsafeBufferPointer { source in
                values.withUnsafeMutableBufferPointer { q in
                    scales.withUnsafeMutableBufferPointer { s in
                        guard let x = source.baseAddress, let qp = q.baseAddress, let sp = s.baseAddress else { return }
                        hark_s8_quantize_rows(x, rows, columns, columns, qp, columns, sp)
                    }
                }
            }
        }
        self.init(validatedValues: values, scales: scales, rows: rows, columns: columns)
    }

    /// Quantizes float weights handed over a block of rows at a time, so that no float copy of
    /// the whole matrix is needed: `fill(range, buffer)` writes rows `range` (row-major,
    /// `columns` floats each) into `buffer`. Blocks are quantized on the compute threads, so
    /// `fill` is called concurrently, once for each block of rows. The result is the same as
    /// ``init(quantizing:rows:columns:)`` on the whole matrix.
    public init(rows: Int, columns: Int, quantizingRowsFrom fill: @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        precondition(rows >= 0 && columns >= 0, "QuantizedMatrix: negative shape")
        let bytes = max(1, hark_s8_packed_bytes(rows, columns))
        let panel = Int(HARK_S8_PANEL)
        let panelBytes = panel * hark_s8_padded_k(columns)
        // Blocks of whole panels (16 rows), about 1 MiB of floats, quantized on the compute
        // threads: each of a few runs of blocks has its own scratch.
        let block = max(panel, (1 << 18) / max(columns, 1) / panel * panel)
        let blocks = rows > 0 && columns > 0 ? (rows + block - 1) / block : 0
        let runs = min(blocks, 4 * hark_thread_count())
        var scales = [Float](repeating: 0, count: rows)
        packed = LargeBlock<Int8>(count: bytes)   // zero-filled
        let destination = SendableMutablePointer(packed.base)
        if blocks > 0 {
            scales.withUnsafeMutableBufferPointer { scaleBuffer in
                guard let scaleBase = scaleBuffer.baseAddress else { return }
                ParallelLoop.run(runs) { run in
                    let floats = UnsafeMutablePointer<Float>.allocate(capacity: block * columns)
                    let values = UnsafeMutablePointer<Int8>.allocate(capacity: block * columns)
                    defer { floats.deallocate(); values.deallocate() }
                    for index in stride(from: run, to: blocks, by: runs) {
                        let start = index * block, end = min(rows, start + block)
                        fill(start..<end, floats)
                        hark_s8_quantize_rows(floats, end - start, columns, columns, values, columns, scaleBase + start)
                        // Writes every byte of its panels, padding included.
                        hark_s8_pack_weights(values, end - start, columns, columns,
                                             destination.value + (start / panel) * panelBytes)
                    }
                }
            }
        }
        self.rows = rows
        self.columns = columns
        self.scales = scales
    }

    /// Wraps weights that are already quantized (for example read from a model file):
    /// `values` row-major `rows` × `columns`, and one scale per row. A value of -128 is
    /// stored as -127 (the kernels' exactness relies on [-127, 127]).
    ///
    /// - Throws: ``ShapeError`` when the counts do not match the shape.
    public init(quantized values: [Int8], scales: [Float], rows: Int, columns: Int) throws(ShapeError) {
        let matrix = values.withUnsafeBufferPointer { buffer in
            Result { () throws(ShapeError) in try QuantizedMatrix(quantized: buffer, scales: scales, rows: rows, columns: columns) }
        }
        self = try matrix.get()
    }

    /// Wraps quantized weights read in place (for example from a memory-mapped file); they are
    /// copied once, into the packed layout.
    ///
    /// - Throws: ``ShapeError`` when the counts do not match the shape.
    public init(quantized values: UnsafeBufferPointer<Int8>, scales: [Float], rows: Int, columns: Int) throws(ShapeError) {
        guard rows >= 0, columns >= 0 else {
            throw ShapeError(description: "QuantizedMatrix: negative shape \(rows) × \(columns)")
        }
        guard values.count == rows * columns else {
            throw ShapeError(description: "QuantizedMatrix: \(values.count) values for \(rows) × \(columns)")
        }
        guard scales.count == rows else {
            throw ShapeError(description: "QuantizedMatrix: \(scales.count) scales for \(rows) rows")
        }
        self.init(validatedValues: values, scales: scales, rows: rows, columns: columns)
    }

    private init(validatedValues values: [Int8], scales: [Float], rows: Int, columns: Int) {
        let matrix = values.withUnsafeBufferPointer { QuantizedMatrix(validatedValues: $0, scales: scales, rows: rows, columns: columns) }
        self = matrix
    }

    private init(validatedValues values: UnsafeBufferPointer<Int8>, scales: [Float], rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        self.scales = scales
        let bytes = max(1, hark_s8_packed_bytes(rows, columns))
        packed = LargeBlock<Int8>(count: bytes)   // zero-filled
        if rows > 0 && columns > 0, let w = values.baseAddress {
            hark_s8_pack_weights(w, rows, columns, columns, packed.base)
        }
    }

    /// Calls `body` with the int8 values in the packed layout of `hark_s8_pack_weights`
    /// (`hark_s8_packed_bytes(rows, columns)` bytes, or one zero byte when that is 0).
    public func withPackedBytes<Result>(_ body: (UnsafeBufferPointer<Int8>) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(packed) { try body(packed.buffer) }
    }

    public static func == (lhs: QuantizedMatrix, rhs: QuantizedMatrix) -> Bool {
        lhs.rows == rhs.rows && lhs.columns == rhs.columns && lhs.scales == rhs.scales
            && lhs.packed.count == rhs.packed.count
            && (lhs.packed === rhs.packed || memcmp(lhs.packed.base, rhs.packed.base, lhs.packed.count) == 0)
    }

    /// The int8 values, row-major `rows` × `columns`.
    public func int8Values() -> [Int8] {
        var values = [Int8](repeating: 0, count: rows * columns)
        guard rows > 0 && columns > 0 else { return values }
        withPackedBytes { source in
            values.withUnsafeMutableBufferPointer { destination in
                guard let p = source.baseAddress, let w = destination.baseAddress else { return }
                hark_s8_unpack_weights(p, rows, columns, w, columns)
            }
        }
        return values
    }

    /// Adds row `row`, dequantized (`q · scale`), to the `columns` floats at `destination`,
    /// reading the packed layout in place (an embedding lookup without a row-major copy).
    public func addRow(_ row: Int, to destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "QuantizedMatrix: row \(row) of \(rows)")
        let panelBytes = Int(HARK_S8_PANEL) * hark_s8_padded_k(columns)
        let group = Int(HARK_S8_KGROUP)
        let scale = scales[row]
        withPackedBytes { p in
            guard let base = p.baseAddress else { return }
            let panel = base + (row / Int(HARK_S8_PANEL)) * panelBytes + (row % Int(HARK_S8_PANEL)) * group
            for c in 0..<columns {
                let value = panel[(c / group) * Int(HARK_S8_PANEL) * group + c % group]
                destination[c] += Float(value) * scale
            }
        }
    }

    /// The weights as floats, `q · scale`, row-major `rows` × `columns`.
    public func dequantized() -> [Float] {
        let values = int8Values()
        var result = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            let scale = scales[r]
            for c in 0..<columns {
                result[r * columns + c] = Float(values[r * columns + c]) * scale
            }
        }
        return result
    }

    /// Bytes held: packed int8 values plus scales.
    public var byteCount: Int { packed.count + scales.count * MemoryLayout<Float>.size }
}
