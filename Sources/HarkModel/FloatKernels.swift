import CHarkKernels
import COpenBLAS
import Foundation
import HarkKernels

/// 32-bit float building blocks of the network: matrix products through OpenBLAS, and the
/// element-wise operations (LayerNorm, GELU, softmax) in plain loops over buffer pointers.
enum FloatKernels {
    /// `c[m][n] = alpha · a[m][k] · b[n][k]ᵀ + beta · c` (row-major, `b` stored as `[n][k]`),
    /// with leading dimensions for working on column slices.
    static func gemmTransposedB(m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// ``gemmTransposedB(m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` with `beta` 0, split over the
    /// compute threads when the product is large: by rows when there are many (encoder), by
    /// output columns when there are few (decoder steps). `bias` (`n` floats) is then added to
    /// every row and GELU applied when asked, each thread finishing the part it computed (the
    /// same values as adding and applying them afterwards, without a serial pass over `c`).
    static func parallelGemmTransposedB(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                        bias: UnsafePointer<Float>? = nil, gelu: Bool = false) {
        let byRows = m >= 64
        let threads = m * n * k >= 1 << 22 ? min(ComputeThreads.count, max(1, (byRows ? m : n) / 16)) : 1
        let a = SendablePointer(a), b = SendablePointer(b), c = SendableMutablePointer(c)
        let bias = bias.map { SendablePointer($0) }
        ComputeThreads.forEachRange(of: byRows ? m : n, pieces: threads) { part in
            if byRows {
                gemmTransposedB(m: part.count, n: n, k: k, a: a.value + part.lowerBound * lda, lda: lda, b: b.value, ldb: ldb,
                                c: c.value + part.lowerBound * ldc, ldc: ldc)
                finishRows(c.value + part.lowerBound * ldc, rows: part.count, columns: 0..<n, ldc: ldc,
                           bias: bias?.value, gelu: gelu)
            } else {
                gemmTransposedB(m: m, n: part.count, k: k, a: a.value, lda: lda, b: b.value + part.lowerBound * ldb, ldb: ldb,
                                c: c.value + part.lowerBound, ldc: ldc)
                finishRows(c.value, rows: m, columns: part, ldc: ldc, bias: bias?.value, gelu: gelu)
            }
        }
    }

    /// Adds `bias[j]` to `c[i][j]` for `j` in `columns` of each of `rows` rows (`ldc` apart),
    /// then applies GELU to them when asked.
    private static func finishRows(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Range<Int>, ldc: Int,
                                   bias: UnsafePointer<Float>?, gelu: Bool) {
        guard bias != nil || gelu else { return }
        for row in 0..<rows {
            let y = c + row * ldc + columns.lowerBound
            if let bias {
                let b = bias + columns.lowerBound
                for i in 0..<columns.count { y[i] += b[i] }
            }
            if gelu { self.gelu(y, count: columns.count) }
        }
    }

    /// Up to this many rows, a float linear layer reads its weights in place (decoder steps).
    static let fewRows = 8

    /// `y = x · wᵀ (+ bias)` for a few rows of `x` (`rows × k`), `w` being `n × k`; the output
    /// columns are split over the compute threads when the weights are large.
    static func fewRowsProduct(_ x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Float>, k: Int, n: Int,
                               bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let x = SendablePointer(x), w = SendablePointer(w), y = SendableMutablePointer(y)
        let b = bias.map { SendablePointer($0) }
        splitOutputs(n: n, k: k) { n0, n1 in
            hark_gemm_f32_few_rows(x.value, k, rows, w.value, k, n0, n1, b?.value, y.value, n)
        }
    }

    /// ``fewRowsProduct(_:rows:w:k:n:bias:into:)`` with half-precision weights, widened as they
    /// are read: the same result as with their single-precision copies, for half the bytes.
    static func fewRowsProduct(_ x: UnsafePointer<Float>, rows: Int, halfWeights w: UnsafePointer<UInt16>, k: Int, n: Int,
                               bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let x = SendablePointer(x), w = SendablePointer(w), y = SendableMutablePointer(y)
        let b = bias.map { SendablePointer($0) }
        splitOutputs(n: n, k: k) { n0, n1 in
            hark_gemm_f16w_few_rows(x.value, k, rows, w.value, k, n0, n1, b?.value, y.value, n)
        }
    }

    /// Runs `body(n0, n1)` over the `n` output columns of a few-rows product, split over the
    /// compute threads when the `n × k` weights are large.
    private static func splitOutputs(n: Int, k: Int, _ body: @Sendable (_ n0: Int, _ n1: Int) -> Void) {
        let threads = n * k >= 1 << 18 ? min(ComputeThreads.count, max(1, n / 64)) : 1
        ComputeThreads.forEachRange(of: n, pieces: threads) { body($0.lowerBound, $0.upperBound) }
    }

    /// `c[m][n] = a[m][k] · b[k][n] + beta · c` (row-major).
    static func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// LayerNorm over each row of `rows × width`, epsilon 1e-5, into `output` (see
    /// `hark_layer_norm_rows`); many rows (the encoder's 1500) are split over the compute threads.
    static func layerNorm(_ input: UnsafePointer<Float>, rows: Int, width: Int,
                          gamma: [Float], beta: [Float], output: UnsafeMutablePointer<Float>) {
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                let threads = rows >= 64 ? min(ComputeThreads.count, rows / 32) : 1
                let x = SendablePointer(input), y = SendableMutablePointer(output)
                let g = SendablePointer(g.start), b = SendablePointer(b.start)
                ComputeThreads.forEachRange(of: rows, pieces: threads) { part in
                    hark_layer_norm_rows(x.value + part.lowerBound * width, part.count, width, g.value, b.value,
                                         y.value + part.lowerBound * width)
                }
            }
        }
    }

    /// GELU, erf form (Whisper's), in place: the same code as the int8 kernels' fused epilogue.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if hark_kernels_use_avx2() != 0 {
            hark_gelu_avx2(x, count)
        } else {
            hark_gelu_portable(x, count)
        }
    }

    /// Copies `width` floats from each of `rows` rows `stride` apart into one contiguous
    /// `rows × width` block (a head's columns out of whole rows).
    static func gatherColumns(_ source: UnsafePointer<Float>, rows: Int, stride: Int, width: Int,
                              into block: UnsafeMutablePointer<Float>) {
        for row in 0..<rows {
            (block + row * width).update(from: source + row * stride, count: width)
        }
    }

    /// `x[i] += y[i]` for `i` in `0..<count`; a long vector (the encoder's residuals) is split
    /// over the compute threads.
    static func add(_ y: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        let y = SendablePointer(y), x = SendableMutablePointer(x)
        ComputeThreads.forEachRange(of: count, pieces: count >= 1 << 16 ? ComputeThreads.count : 1) { part in
            for i in part { x.value[i] += y.value[i] }
        }
    }
}

/// The weights of a linear layer as held in memory.
enum LinearWeights: Sendable {
    /// 32-bit floats.
    case float32([Float])
    /// The model file's half-precision values, computed with in 32-bit float: they widen
    /// exactly, so the products equal those of their 32-bit copies, for half the memory read.
    /// Held in a ``LargeBlock`` (huge pages where the system allows): every step streams them.
    case float16(LargeBlock<UInt16>)
    /// int8 per output channel (activations quantized per row on the fly).
    case int8(QuantizedMatrix)
}

/// A linear layer `y = x Wᵀ + b` with `W` stored `[out][in]`, in 32-bit float (held as 32 or
/// 16 bits) or in int8 (per-output-channel weights, activations quantized per row on the fly).
struct Linear: Sendable {
    let storage: LinearWeights
    let bias: [Float]?
    let inputs: Int
    let outputs: Int

    init(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int) {
        self.init(storage: .float32(weight), bias: bias, inputs: inputs, outputs: outputs)
    }

    init(quantized: QuantizedMatrix, bias: [Float]?, inputs: Int, outputs: Int) {
        self.init(storage: .int8(quantized), bias: bias, inputs: inputs, outputs: outputs)
    }

    init(storage: LinearWeights, bias: [Float]?, inputs: Int, outputs: Int) {
        self.storage = storage
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
    }

    /// The int8 weights, when quantized.
    var quantized: QuantizedMatrix? {
        if case .int8(let matrix) = storage { matrix } else { nil }
    }

    /// The weights in 32-bit float (half-precision ones widened); empty once quantized.
    var weight: [Float] {
        switch storage {
        case .float32(let weight): weight
        case .float16(let halves): withExtendedLifetime(halves) { halves.buffer.widened() }
        case .int8: []
        }
    }

    /// The same layer with int8 weights (the float weights are dropped).
    func quantizedToInt8() -> Linear {
        if quantized != nil { return self }
        return Linear(quantized: QuantizedMatrix(quantizing: weight, rows: outputs, columns: inputs),
                      bias: bias, inputs: inputs, outputs: outputs)
    }

    /// Applies the layer to `rows` input rows, optionally followed by GELU; returns `rows × outputs`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, gelu: Bool = false) -> [Float] {
        [Float](writingAll: rows * outputs) { out in
            let c = out.start
            switch storage {
            case .int8(let quantized):
                let input = UnsafeBufferPointer(start: x, count: rows * inputs)
                bias.withOptionalPointer { b in
                    Int8MatrixProduct.multiply(input, rows: rows, by: quantized, bias: b.map { UnsafeBufferPointer(start: $0, count: outputs) },
                                               gelu: gelu, into: out)
                }
                return  // GELU fused
            case .float32(let weight) where rows <= FloatKernels.fewRows:
                bias.withOptionalPointer { b in
                    weight.withUnsafeBufferPointer {
                        FloatKernels.fewRowsProduct(x, rows: rows, w: $0.start, k: inputs, n: outputs, bias: b, into: c)
                    }
                }
            case .float16(let halves) where rows <= FloatKernels.fewRows:
                bias.withOptionalPointer { b in
                    withExtendedLifetime(halves) {
                        FloatKernels.fewRowsProduct(x, rows: rows, halfWeights: halves.base, k: inputs, n: outputs, bias: b, into: c)
                    }
                }
            case .float32, .float16:
                // Many rows (encoder, prompts): half-precision weights are widened for the BLAS product.
                weight.withUnsafeBufferPointer { w in
                    bias.withOptionalPointer { b in
                        FloatKernels.parallelGemmTransposedB(m: rows, n: outputs, k: inputs, a: x, lda: inputs,
                                                             b: w.start, ldb: inputs, c: c, ldc: outputs, bias: b, gelu: gelu)
                    }
                }
                return  // bias and GELU added by the product's threads
            }
            if gelu { FloatKernels.gelu(c, count: rows * outputs) }
        }
    }

    func callAsFunction(_ x: [Float], rows: Int, gelu: Bool = false) -> [Float] {
        x.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return [] }
            return self(base, rows: rows, gelu: gelu)
        }
    }

    /// Applies the layer to `rows` input rows, writing the `rows × outputs` result in blocks of
    /// `columnBlock` columns (a multiple of 16 dividing `outputs`): block `b`, columns
    /// `b · columnBlock ..< (b + 1) · columnBlock` of every row, row-major at
    /// `output + b · rows · columnBlock`. int8 products write the blocks directly; float ones
    /// are computed whole and copied into them.
    func callAsFunction(_ x: [Float], rows: Int, columnBlock: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(columnBlock > 0 && outputs % columnBlock == 0, "Linear: column blocks of \(columnBlock) for \(outputs) outputs")
        if case .int8(let quantized) = storage {
            x.withUnsafeBufferPointer { input in
                bias.withOptionalPointer { b in
                    Int8MatrixProduct.multiply(input, rows: rows, by: quantized,
                                               bias: b.map { UnsafeBufferPointer(start: $0, count: outputs) }, gelu: false,
                                               columnBlock: columnBlock,
                                               into: UnsafeMutableBufferPointer(start: output, count: rows * outputs))
                }
            }
            return
        }
        let whole = self(x, rows: rows)
        whole.withUnsafeBufferPointer { whole in
            for block in 0..<(outputs / columnBlock) {
                FloatKernels.gatherColumns(whole.start + block * columnBlock, rows: rows, stride: outputs,
                                           width: columnBlock, into: output + block * rows * columnBlock)
            }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with the address of the floats, or nil when there are none.
    func withOptionalPointer<Result>(_ body: (UnsafePointer<Float>?) -> Result) -> Result {
        guard let self else { return body(nil) }
        return self.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

extension Array where Element == Float {
    /// `count` floats that `body` writes every one of, without filling them with zeros first
    /// (the products and norms of a window write megabytes at a time).
    init(writingAll count: Int, _ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.init(unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
    }
}

extension UnsafeBufferPointer where Element == UInt16 {
    /// Half-precision values widened to 32-bit floats (exactly); a large matrix's on the
    /// compute threads.
    func widened() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { floats, initialized in
            if let source = baseAddress, let destination = floats.baseAddress {
                let from = SendablePointer(source), to = SendableMutablePointer(destination)
                ComputeThreads.forEachRange(of: count, pieces: count >= 1 << 20 ? ComputeThreads.count : 1) { part in
                    hark_f16_to_f32(from.value + part.lowerBound, to.value + part.lowerBound, part.count)
                }
            }
            initialized = count
        }
    }
}

/// LayerNorm parameters.
struct LayerNorm: Sendable {
    let gamma: [Float]
    let beta: [Float]

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        [Float](writingAll: x.count) { output in
            x.withUnsafeBufferPointer { input in
                FloatKernels.layerNorm(input.start, rows: rows, width: gamma.count, gamma: gamma, beta: beta, output: output.start)
            }
        }
    }
}

/// The threads the model uses. Every parallel loop is ours (``ParallelLoop``) and runs on
/// the calling thread's pool: the ``ComputePool`` whose ``ComputePool/run(_:)`` it is inside,
/// else the process's default pool (``set(_:)``). OpenBLAS is kept on the calling thread: its
/// own spinning worker threads would compete with ours for the same cores, which costs most
/// on a busy machine.
public enum ComputeThreads {
    /// The most threads a parallel loop runs on (the caller and the pool's 15 workers).
    public static let maximum = 16

    /// The automatic thread count: the online CPUs, at most 8.
    public static var automatic: Int { max(1, hark_automatic_thread_count()) }

    /// Sets the default pool's thread count, within 1...``maximum``: that of every later model
    /// call made outside a ``ComputePool/run(_:)``.
    public static func set(_ count: Int) {
        hark_set_thread_count(min(max(1, count), maximum))
        keepBLASSingleThreaded()
    }

    /// The thread count of the calling thread's pool.
    public static var count: Int { max(1, hark_thread_count()) }

    /// Readies a program's process for the model; call it first thing. OpenBLAS is kept on
    /// the calling thread and its server threads are stopped (they would spin for about 0.1 s
    /// after start-up, while the model loads), and the C allocator keeps the large buffers of
    /// each window in its heap, so that their pages are faulted in once per process
    /// (`hark_keep_large_buffers`).
    public static func prepareProcess() {
        keepBLASSingleThreaded()
        hark_openblas_stop_server_threads()
        hark_keep_large_buffers()
    }

    /// Runs `body(i)` for every `i` in `0..<iterations` on the compute threads
    /// (``ParallelLoop``), returning when all have run.
    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        ParallelLoop.run(iterations, body)
    }

    /// Splits `0..<count` into `pieces` consecutive ranges of (nearly) equal length and runs
    /// `body` on each on the compute threads; one piece (or fewer) runs on the calling thread.
    static func forEachRange(of count: Int, pieces: Int, _ body: (Range<Int>) -> Void) {
        let pieces = max(1, pieces)
        ParallelLoop.run(pieces) { piece in
            body((count * piece / pieces)..<(count * (piece + 1) / pieces))
        }
    }

    /// Runs `body(piece, scratch)` for every one of `pieces` pieces of an attention (a head, or
    /// a block of a head's rows), each taken by the next free thread (all on the calling thread
    /// when `parallel` is false: too little work to share); `scratch` is `scratchCount` floats of
    /// undefined content, the running thread's own scratch (kept between calls, so that the
    /// scores are not faulted in afresh for every piece).
    static func forEachPiece(_ pieces: Int, scratchCount: Int, parallel: Bool = true,
                             _ body: @Sendable (_ piece: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void) {
        runPieces(pieces, parallel: parallel) { piece in body(piece, threadScratch(scratchCount)) }
    }

    /// ``forEachPiece(_:scratchCount:parallel:_:)`` with a second scratch of `zeroedCount`
    /// floats that is all zeros when `body` gets it and that `body` must leave all zeros
    /// (`hark_thread_zeroed_scratch`): a product can add into it (`beta` 1) without a pass that
    /// clears it first.
    static func forEachPiece(_ pieces: Int, scratchCount: Int, zeroedCount: Int,
                             _ body: @Sendable (_ piece: Int, _ scratch: UnsafeMutablePointer<Float>,
                                                _ zeroed: UnsafeMutablePointer<Float>) -> Void) {
        runPieces(pieces, parallel: true) { piece in
            body(piece, threadScratch(scratchCount), threadScratch(zeroedCount, zeroed: true))
        }
    }

    /// `body(piece)` for every piece, on the compute threads, or all on the calling thread when
    /// `parallel` is false or there is one thread.
    private static func runPieces(_ pieces: Int, parallel: Bool, _ body: @Sendable (_ piece: Int) -> Void) {
        guard parallel && count > 1 else {
            for piece in 0..<pieces { body(piece) }
            return
        }
        ParallelLoop.run(pieces, body)
    }

    /// The calling thread's scratch of `count` floats (`hark_thread_scratch`, or with `zeroed`
    /// `hark_thread_zeroed_scratch`: kept by the thread and reused, in huge pages where the
    /// system allows).
    private static func threadScratch(_ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<Float> {
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        guard let memory = zeroed ? hark_thread_zeroed_scratch(bytes) : hark_thread_scratch(bytes) else {
            fatalError("ComputeThreads: out of memory for \(bytes) bytes of scratch")
        }
        return memory.bindMemory(to: Float.self, capacity: max(1, count))
    }

    /// The core type OpenBLAS should be started with on this CPU (`OPENBLAS_CORETYPE`), when
    /// the library took the CPU for an older one and runs slower kernels than it could; nil
    /// when its own choice is fine. It is read when the library loads, so a program applies it
    /// by starting itself again with the variable set.
    public static var betterBLASCore: String? { hark_openblas_better_core().map { String(cString: $0) } }

    /// The core type OpenBLAS runs.
    public static var blasCore: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// Keeps OpenBLAS on the calling thread (idempotent; done by every model load). Only
    /// calls into OpenBLAS when needed: setting the count restarts the server threads that
    /// ``prepareProcess()`` stopped.
    static func keepBLASSingleThreaded() {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }
}

/// One float that empty buffers point at, so kernels always get a valid address (they read
/// nothing from an empty buffer).
nonisolated(unsafe) private let emptyFloat = UnsafeMutablePointer<Float>.allocate(capacity: 1)

extension UnsafeBufferPointer where Element == Float {
    /// The first element's address (a valid dummy when empty).
    var start: UnsafePointer<Float> { baseAddress ?? UnsafePointer(emptyFloat) }
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// The first element's address (a valid dummy when empty).
    var start: UnsafeMutablePointer<Float> { baseAddress ?? emptyFloat }
}
