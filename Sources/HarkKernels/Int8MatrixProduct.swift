// The int8 matrix product: dynamic activation quantization, then the C kernel split across
// the cores.

import CHarkKernels
import Foundation

/// Products of float activations with int8 weights (``QuantizedMatrix``).
///
/// `multiply` quantizes each activation row symmetrically to int8 (scale = max|row| / 127),
/// computes the exact int32 dot products with the weight rows, and writes
/// `acc · scale_x · scale_w + bias`, optionally followed by GELU (erf form), all in one pass
/// of the C kernel (`hark_gemm_s8`). Large products are split across the cores: by output
/// columns for few rows (decoder steps), by rows for many (encoder).
public enum Int8MatrixProduct {
    /// The kernel in use: `"avx2"`, or `"portable"` (no AVX2, or `HARK_KERNELS=portable`).
    public static var implementation: String { String(cString: hark_kernels_implementation()) }

    /// Products with fewer multiply-adds (rows × weights.rows × weights.columns) than this run
    /// on the calling thread alone: below it, half the work takes no longer than starting a
    /// spinning worker of ``ParallelLoop``, so handing it to a second thread gains nothing.
    /// Check with `Scripts/bench-kernels --threads-sweep` on an idle machine.
    public static let parallelThreshold = 1 << 18

    /// The best multiply-add rates of this CPU with every operand in registers, on the calling
    /// thread (per second): fp32 FMA; exact int8 through 16-bit lanes (`vpmaddwd` + `vpaddd`);
    /// and the `vpsignb`, `vpmaddubsw`, `vpmaddwd`, `vpaddd` chain of the AVX2 kernel. The
    /// ceiling of any int8 / fp32 throughput ratio on this CPU; all zero without AVX2.
    public static func multiplyAddCeiling(seconds: Double = 0.2) -> (fp32: Double, int8: Double, int8KernelChain: Double) {
        var fp32 = 0.0, int8 = 0.0, chain = 0.0
        hark_multiply_ceiling(seconds, &fp32, &int8, &chain)
        return (fp32, int8, chain)
    }

    /// The threads a product is shared by unless told otherwise: the thread count of the
    /// calling thread's pool (`hark_thread_count`).
    public static var maximumThreads: Int { max(1, hark_thread_count()) }

    /// `x` (row-major `rows` × `weights.columns`) times `weightsᵀ`, plus `bias`, optionally
    /// through GELU: a row-major `rows` × `weights.rows` result.
    ///
    /// `threads`: split the product into exactly this many pieces, run on the compute threads
    /// (1: on the calling thread); nil decides from the size of the product. The result does
    /// not depend on it.
    ///
    /// - Precondition: `x.count == rows * weights.columns`; `bias`, when given, has
    ///   `weights.rows` values.
    public static func multiply(_ x: [Float], rows: Int, by weights: QuantizedMatrix,
                                bias: [Float]? = nil, gelu: Bool = false, threads: Int? = nil) -> [Float] {
        precondition(rows >= 0, "Int8MatrixProduct: negative row count")
        precondition(x.count == rows * weights.columns,
                     "Int8MatrixProduct: \(x.count) inputs for \(rows) × \(weights.columns)")
        let count = rows * weights.rows
        return [Float](unsafeUninitializedCapacity: count) { output, initialized in
            x.withUnsafeBufferPointer { input in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        multiply(input, rows: rows, by: weights, bias: b, gelu: gelu, threads: threads, into: output)
                    }
                } else {
                    multiply(input, rows: rows, by: weights, bias: nil, gelu: gelu, threads: threads, into: output)
                }
            }
            initialized = count
        }
    }

    /// As ``multiply(_:rows:by:bias:gelu:)``, reading and writing caller-owned memory:
    /// `output` receives `rows * weights.rows` floats.
    ///
    /// `columnBlock`: when given (a multiple of 16 that divides `weights.rows`), the output is
    /// laid out in blocks of that many columns instead of whole rows: block `b` holds columns
    /// `b · columnBlock ..< (b + 1) · columnBlock` of every row, row-major, at
    /// `b · rows · columnBlock`. The values are the same, bit for bit.
    public static func multiply(_ x: UnsafeBufferPointer<Float>, rows: Int, by weights: QuantizedMatrix,
                                bias: UnsafeBufferPointer<Float>?, gelu: Bool, threads: Int? = nil,
                                columnBlock: Int? = nil, into output: UnsafeMutableBufferPointer<Float>) {
        let k = weights.columns, n = weights.rows
        precondition(rows >= 0 && x.count >= rows * k, "Int8MatrixProduct: input too short")
        precondition(output.count >= rows * n, "Int8MatrixProduct: output too short")
        precondition(bias.map { $0.count == n } ?? true,
                     "Int8MatrixProduct: bias has \(bias?.count ?? 0) values for \(n) outputs")
        let blockWidth = columnBlock ?? n
        precondition(columnBlock.map { $0 > 0 && $0 % Int(HARK_S8_PANEL) == 0 && n % $0 == 0 } ?? true,
                     "Int8MatrixProduct: column blocks of \(blockWidth) for \(n) outputs")
        guard rows > 0, n > 0, let out = output.baseAddress else { return }
        let rowBytes = hark_s8_activation_row_bytes(k)
        let flags: UInt32 = gelu ? UInt32(HARK_GEMM_GELU) : 0
        let (parts, byRows) = partition(rows: rows, outputs: n, depth: k, threads: threads)
        // (parts: pieces of work handed to the parallel loop, which runs them on the compute
        // threads, each thread taking the next piece as it finishes one.)

        withUnsafeTemporaryAllocation(of: Int8.self, capacity: max(1, rows * rowBytes)) { activations in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { rowScales in
                guard let a = activations.baseAddress, let sa = rowScales.baseAddress else { return }
                weights.withPackedBytes { packedBuffer in
                    weights.scales.withUnsafeBufferPointer { scaleBuffer in
                        guard let w = packedBuffer.baseAddress, let sw = scaleBuffer.baseAddress else { return }
                        let plan = ProductPlan(x: x.baseAddress, k: k, n: n, activations: a, rowBytes: rowBytes,
                                               rowScales: sa, packed: w, weightScales: sw,
                                               bias: bias?.baseAddress, output: out, blockWidth: blockWidth,
                                               blockStride: rows * blockWidth, flags: flags)
                        if parts == 1 {
                            plan.quantize(0, rows)
                            plan.compute(0, rows, 0, n)
                        } else if byRows {
                            // Many rows (encoder): each piece quantizes and computes its rows.
                            let bounds = split(rows, into: parts, granule: 4)
                            ParallelLoop.run(parts) { part in
                                plan.quantize(bounds[part], bounds[part + 1])
                                plan.compute(bounds[part], bounds[part + 1], 0, n)
                            }
                        } else {
                            // Few rows (decoder steps): split the output columns by panels.
                            plan.quantize(0, rows)
                            let bounds = split(n, into: parts, granule: Int(HARK_S8_PANEL))
                            ParallelLoop.run(parts) { part in
                                plan.compute(0, rows, bounds[part], bounds[part + 1])
                            }
                        }
                    }
                }
            }
        }
    }

    /// The buffers of one product. Threads share it but write disjoint rows of the
    /// activation buffers and disjoint blocks of the output, which is what makes sharing the
    /// raw pointers sound.
    private struct ProductPlan: @unchecked Sendable {
        let x: UnsafePointer<Float>?
        let k: Int, n: Int
        let activations: UnsafeMutablePointer<Int8>
        let rowBytes: Int
        let rowScales: UnsafeMutablePointer<Float>
        let packed: UnsafePointer<Int8>
        let weightScales: UnsafePointer<Float>
        let bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
        /// Columns per output block (`n`: one block, plain rows) and floats between blocks.
        let blockWidth: Int, blockStride: Int
        let flags: UInt32

        /// Quantizes activation rows [r0, r1).
        func quantize(_ r0: Int, _ r1: Int) {
            guard r1 > r0 else { return }
            if k > 0, let x {
                hark_s8_quantize_activations(x + r0 * k, r1 - r0, k, k, activations + r0 * rowBytes, rowBytes,
                                             rowScales + r0)
            } else {
                for r in r0..<r1 { rowScales[r] = 0 }
            }
        }

        /// Output rows [r0, r1) × columns [n0, n1), one output block at a time. The kernel
        /// writes column `j` of row `r` at `c[r · ldc + j]`, so each block's address is shifted
        /// back by its first column, with the block's width as the row stride.
        func compute(_ r0: Int, _ r1: Int, _ n0: Int, _ n1: Int) {
            guard r1 > r0, n1 > n0 else { return }
            var start = n0
            while start < n1 {
                let block = start / blockWidth, end = min(n1, (block + 1) * blockWidth)
                hark_gemm_s8(activations, rowBytes, rowScales, packed, weightScales, bias,
                             output + block * (blockStride - blockWidth), blockWidth, k, r0, r1, start, end, flags)
                start = end
            }
        }
    }

    /// Rows per thread from which a product is split by rows rather than by columns.
    static let rowSplitMinimum = 32

    /// Pieces per thread when the split is automatic: more pieces than threads let a thread
    /// that was descheduled (the machine is shared) fall behind without holding up the whole
    /// product.
    static let piecesPerThread = 4

    /// How many pieces a product of this shape is split into, and whether by rows (else by
    /// output columns). `threads`: an explicit count (exactly that many pieces), or nil.
    static func partition(rows: Int, outputs: Int, depth: Int, threads: Int? = nil) -> (parts: Int, byRows: Bool) {
        let limit = max(1, threads ?? maximumThreads)
        let work = rows * outputs * max(depth, 1)
        guard limit > 1, threads != nil || work >= parallelThreshold else { return (1, false) }
        let pieces = threads == nil ? limit * piecesPerThread : limit
        if rows >= rowSplitMinimum * 2 {
            return (max(1, min(pieces, rows / rowSplitMinimum)), true)
        }
        let panels = (outputs + Int(HARK_S8_PANEL) - 1) / Int(HARK_S8_PANEL)
        return (max(1, min(pieces, panels)), false)
    }

    /// `parts + 1` boundaries splitting `0..<count` into near-equal ranges whose inner
    /// boundaries are multiples of `granule`.
    static func split(_ count: Int, into parts: Int, granule: Int) -> [Int] {
        let units = (count + granule - 1) / granule
        var bounds = [0]
        for part in 1..<parts {
            bounds.append(min(count, units * part / parts * granule))
        }
        bounds.append(count)
        return bounds
    }
}
