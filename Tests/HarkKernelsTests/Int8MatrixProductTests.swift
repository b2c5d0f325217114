import CHarkKernels
import Foundation
@testable import HarkKernels
import XCTest

/// The Swift API: quantized matrices, the threaded product, accuracy against float.
final class Int8MatrixProductTests: XCTestCase {
    func testImplementationName() {
        let expected = hark_kernels_have_avx2() != 0 ? "avx2" : "portable"
        if ProcessInfo.processInfo.environment["HARK_KERNELS"] == "portable" {
            XCTAssertEqual(Int8MatrixProduct.implementation, "portable")
        } else {
            XCTAssertEqual(Int8MatrixProduct.implementation, expected)
        }
    }

    /// The register-only ceiling that `Scripts/bench-kernels` prints: measured on AVX2 CPUs
    /// (where 16 int8 multiply-adds per vpmaddwd can never be slower than 8 per FMA by more
    /// than the pipes allow), zero elsewhere.
    func testMultiplyAddCeilingIsMeasuredWithAVX2() {
        let ceiling = Int8MatrixProduct.multiplyAddCeiling(seconds: 0.02)
        guard hark_kernels_have_avx2() != 0 else {
            XCTAssertEqual(ceiling.fp32, 0)
            return
        }
        XCTAssertGreaterThan(ceiling.fp32, 1e9)
        XCTAssertGreaterThan(ceiling.int8, 0.5 * ceiling.fp32)
        XCTAssertGreaterThan(ceiling.int8KernelChain, 0.5 * ceiling.fp32)
        XCTAssertLessThan(ceiling.int8, 8 * ceiling.fp32, "an int8 loop was optimized away")
    }

    func testQuantizedMatrixKeepsValuesAndScales() throws {
        var rng = SeededGenerator(seed: 10)
        let rows = 21, columns = 37
        var values = rng.int8s(rows * columns)
        values[5] = -128
        let scales = (0..<rows).map { _ in Float.random(in: 0.01...1, using: &rng) }
        let matrix = try QuantizedMatrix(quantized: values, scales: scales, rows: rows, columns: columns)
        var clamped = values
        clamped[5] = -127
        XCTAssertEqual(matrix.int8Values(), clamped)
        XCTAssertEqual(matrix.scales, scales)
        XCTAssertEqual(matrix.withPackedBytes { $0.count }, hark_s8_packed_bytes(rows, columns))
        XCTAssertThrowsError(try QuantizedMatrix(quantized: values, scales: scales, rows: rows, columns: columns + 1))
        XCTAssertThrowsError(try QuantizedMatrix(quantized: values, scales: [1], rows: rows, columns: columns))
    }

    func testQuantizingRowsBlockByBlockOnThreadsEqualsQuantizingTheWholeMatrix() {
        var rng = SeededGenerator(seed: 15)
        // Blocks hold about 2^18 floats in whole panels: 4096 rows of 64 columns, 16 of 16 384.
        // Several blocks with a short last one, a partial last panel, k not a multiple of 4.
        for (rows, columns) in [(10_000, 64), (9_000, 61), (35, 16_385), (3, 5), (0, 8), (4, 0)] {
            let weights = (0..<rows * columns).map { _ in rng.gaussian() }
            let whole = QuantizedMatrix(quantizing: weights, rows: rows, columns: columns)
            let previous = hark_thread_count()
            defer { hark_set_thread_count(previous) }
            for threads in [1, 2, 3] {
                hark_set_thread_count(threads)
                let served = RowTally()
                let blockwise = QuantizedMatrix(rows: rows, columns: columns) { range, destination in
                    served.count(range)
                    for (offset, row) in range.enumerated() {
                        for column in 0..<columns { destination[offset * columns + column] = weights[row * columns + column] }
                    }
                }
                XCTAssertEqual(blockwise, whole, "\(rows) × \(columns) on \(threads) threads")
                let ranges = served.ranges.sorted { $0.lowerBound < $1.lowerBound }
                // Rows of no columns are not read at all.
                XCTAssertEqual(ranges.reduce(0) { $0 == $1.lowerBound ? $1.upperBound : -1 }, columns > 0 ? rows : 0,
                               "the blocks cover every row once (\(rows) × \(columns))")
                XCTAssertTrue(ranges.dropLast().allSatisfy { $0.count % 16 == 0 }, "blocks are whole panels")
            }
        }
    }

    func testQuantizingWeightsRoundTripsWithinHalfAStep() {
        var rng = SeededGenerator(seed: 11)
        let rows = 19, columns = 45
        var weights = (0..<rows * columns).map { _ in rng.gaussian() }
        for c in 0..<columns { weights[3 * columns + c] = 0 }
        let matrix = QuantizedMatrix(quantizing: weights, rows: rows, columns: columns)
        let values = matrix.int8Values()
        XCTAssertTrue(values.allSatisfy { $0 >= -127 })
        XCTAssertEqual(matrix.scales[3], 0)
        let restored = matrix.dequantized()
        for r in 0..<rows {
            for c in 0..<columns {
                XCTAssertLessThanOrEqual(abs(restored[r * columns + c] - weights[r * columns + c]),
                                         matrix.scales[r] * 0.5 * (1 + 1e-5))
            }
        }
    }

    /// The product computed by one kernel call over everything, for comparison.
    private func singleCall(_ x: [Float], rows m: Int, weights: QuantizedMatrix, bias: [Float]?, gelu: Bool) -> [Float] {
        let k = weights.columns, n = weights.rows
        let rowBytes = hark_s8_activation_row_bytes(k)
        var a = [Int8](repeating: 0, count: max(1, m * rowBytes))
        var sa = [Float](repeating: 0, count: max(1, m))
        x.withUnsafeBufferPointer { xp in
            a.withUnsafeMutableBufferPointer { ap in
                sa.withUnsafeMutableBufferPointer { hark_s8_quantize_activations(xp.baseAddress, m, k, k, ap.baseAddress, rowBytes, $0.baseAddress) }
            }
        }
        var out = [Float](repeating: .nan, count: m * n)
        let flags: UInt32 = gelu ? UInt32(HARK_GEMM_GELU) : 0
        a.withUnsafeBufferPointer { ap in
            sa.withUnsafeBufferPointer { sap in
                weights.withPackedBytes { wp in
                    weights.scales.withUnsafeBufferPointer { swp in
                        out.withUnsafeMutableBufferPointer { cp in
                            func run(_ b: UnsafePointer<Float>?) {
                                hark_gemm_s8(ap.baseAddress, rowBytes, sap.baseAddress, wp.baseAddress, swp.baseAddress, b,
                                             cp.baseAddress, n, k, 0, m, 0, n, flags)
                            }
                            if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
                        }
                    }
                }
            }
        }
        return out
    }

    func testThreadedProductEqualsOneKernelCall() {
        var rng = SeededGenerator(seed: 12)
        // Row split (many rows), column split (few rows, many outputs), and single-threaded.
        for (m, n, k) in [(300, 100, 100), (130, 70, 129), (2, 4000, 256), (1, 5000, 300), (3, 10, 20), (5, 33, 1)] {
            let x = (0..<m * k).map { _ in rng.gaussian() }
            let w = (0..<n * k).map { _ in rng.gaussian() * 0.1 }
            let bias = (0..<n).map { _ in rng.gaussian() }
            let weights = QuantizedMatrix(quantizing: w, rows: n, columns: k)
            for gelu in [false, true] {
                let single = singleCall(x, rows: m, weights: weights, bias: bias, gelu: gelu)
                for threads in [nil, 1, 2, 3, 7] as [Int?] {
                    let threaded = Int8MatrixProduct.multiply(x, rows: m, by: weights, bias: bias, gelu: gelu, threads: threads)
                    XCTAssertEqual(threaded, single, "m \(m) n \(n) k \(k) gelu \(gelu) threads \(threads ?? 0)")
                }
            }
        }
    }

    /// Output in column blocks (a decoder layer's cross-attention keys and values, one block per
    /// head) holds the plain product's values, bit for bit, whichever way the work is split.
    func testColumnBlocksHoldThePlainProductsColumns() {
        var rng = SeededGenerator(seed: 21)
        // Row split (1500 rows, Whisper's audio positions), column split with piece boundaries
        // inside blocks (few rows), and one block as wide as the output.
        for (m, n, k, block) in [(1500, 256, 64, 64), (3, 768, 96, 64), (1, 512, 40, 32), (7, 48, 16, 48)] {
            let x = (0..<m * k).map { _ in rng.gaussian() }
            let bias = (0..<n).map { _ in rng.gaussian() }
            let weights = QuantizedMatrix(quantizing: (0..<n * k).map { _ in rng.gaussian() * 0.1 }, rows: n, columns: k)
            let plain = Int8MatrixProduct.multiply(x, rows: m, by: weights, bias: bias)
            for threads in [nil, 1, 2, 5] as [Int?] {
                var blocks = [Float](repeating: .nan, count: m * n)
                x.withUnsafeBufferPointer { input in
                    bias.withUnsafeBufferPointer { bias in
                        blocks.withUnsafeMutableBufferPointer { output in
                            Int8MatrixProduct.multiply(input, rows: m, by: weights, bias: bias, gelu: false, threads: threads,
                                                       columnBlock: block, into: output)
                        }
                    }
                }
                var differing = 0
                for b in 0..<(n / block) {
                    for row in 0..<m {
                        for j in 0..<block where blocks[b * m * block + row * block + j].bitPattern != plain[row * n + b * block + j].bitPattern {
                            differing += 1
                        }
                    }
                }
                XCTAssertEqual(differing, 0, "m \(m) n \(n) k \(k) blocks of \(block), threads \(threads ?? 0)")
            }
        }
    }

    func testPartitionChoosesRowsForEncoderAndColumnsForDecoder() {
        XCTAssertEqual(Int8MatrixProduct.partition(rows: 1, outputs: 384, depth: 384).parts, 1)
        if Int8MatrixProduct.maximumThreads > 1 {
            let encoder = Int8MatrixProduct.partition(rows: 1500, outputs: 384, depth: 384)
            XCTAssertTrue(encoder.byRows)
            XCTAssertGreaterThan(encoder.parts, 1)
            let vocabulary = Int8MatrixProduct.partition(rows: 1, outputs: 51865, depth: 384)
            XCTAssertFalse(vocabulary.byRows)
            XCTAssertGreaterThan(vocabulary.parts, 1)
        }
        XCTAssertEqual(Int8MatrixProduct.partition(rows: 1500, outputs: 384, depth: 384, threads: 1).parts, 1)
        XCTAssertEqual(Int8MatrixProduct.partition(rows: 1500, outputs: 384, depth: 384, threads: 3).parts, 3)
    }

    func testSplitBoundariesCoverEverythingOnGranules() {
        for count in [1, 4, 15, 16, 17, 1500, 51865] {
            for parts in 1...4 {
                for granule in [4, 16] {
                    let bounds = Int8MatrixProduct.split(count, into: parts, granule: granule)
                    XCTAssertEqual(bounds.count, parts + 1)
                    for inner in bounds.dropFirst().dropLast() where inner < count {
                        XCTAssertEqual(inner % granule, 0)
                    }
                    XCTAssertEqual(bounds.first, 0)
                    XCTAssertEqual(bounds.last, count)
                    XCTAssertEqual(bounds, bounds.sorted())
                }
            }
        }
    }

    func testAccuracyAgainstFloatProductOnGaussianData() {
        var rng = SeededGenerator(seed: 13)
        for (m, n, k) in [(64, 256, 384), (1, 512, 512), (5, 384, 1536), (40, 96, 2048)] {
            let x = (0..<m * k).map { _ in rng.gaussian() }
            let w = (0..<n * k).map { _ in rng.gaussian() * 0.05 }
            let bias = (0..<n).map { _ in rng.gaussian() * 0.1 }
            let weights = QuantizedMatrix(quantizing: w, rows: n, columns: k)
            let exact = referenceProduct(x: x, w: w, m: m, n: n, k: k, bias: bias)
            let product = Int8MatrixProduct.multiply(x, rows: m, by: weights, bias: bias)
            let error = relativeError(product, exact)
            XCTAssertLessThan(error, 0.02, "m \(m) n \(n) k \(k): relative error \(error)")

            let geluProduct = Int8MatrixProduct.multiply(x, rows: m, by: weights, bias: bias, gelu: true)
            let geluError = relativeError(geluProduct, exact.map(referenceGelu))
            XCTAssertLessThan(geluError, 0.02, "gelu m \(m) n \(n) k \(k): relative error \(geluError)")
        }
    }

    func testZeroInputRowGivesBiasAndEmptyShapesWork() {
        var rng = SeededGenerator(seed: 14)
        let m = 3, n = 20, k = 30
        var x = (0..<m * k).map { _ in rng.gaussian() }
        for t in 0..<k { x[k + t] = 0 }
        let weights = QuantizedMatrix(quantizing: (0..<n * k).map { _ in rng.gaussian() }, rows: n, columns: k)
        let bias = (0..<n).map { _ in rng.gaussian() }
        let y = Int8MatrixProduct.multiply(x, rows: m, by: weights, bias: bias)
        XCTAssertEqual(Array(y[n..<2 * n]), bias)
        let g = Int8MatrixProduct.multiply(x, rows: m, by: weights, bias: bias, gelu: true)
        for j in 0..<n {
            XCTAssertEqual(Double(g[n + j]), referenceGelu(Double(bias[j])), accuracy: 1e-6)
        }
        XCTAssertEqual(Int8MatrixProduct.multiply([], rows: 0, by: weights, bias: bias), [])
        let noInputs = QuantizedMatrix(quantizing: [], rows: 4, columns: 0)
        XCTAssertEqual(Int8MatrixProduct.multiply([], rows: 2, by: noInputs, bias: [1, 2, 3, 4]), [1, 2, 3, 4, 1, 2, 3, 4])
        XCTAssertEqual(Int8MatrixProduct.multiply([], rows: 2, by: noInputs), [Float](repeating: 0, count: 8))
        let geluOfBias = Int8MatrixProduct.multiply([], rows: 1, by: noInputs, bias: [-1, 0, 1, 2], gelu: true)
        for (got, b) in zip(geluOfBias, [-1.0, 0, 1, 2]) {
            XCTAssertEqual(Double(got), referenceGelu(b), accuracy: 1e-6)
        }
        let noOutputs = QuantizedMatrix(quantizing: [], rows: 0, columns: 5)
        XCTAssertEqual(Int8MatrixProduct.multiply([Float](repeating: 1, count: 10), rows: 2, by: noOutputs), [])
    }
}

/// The blocks of rows handed over, collected from several threads.
private final class RowTally: @unchecked Sendable {
    private let lock = NSLock()
    private var blocks: [Range<Int>] = []

    func count(_ rows: Range<Int>) { lock.withLock { blocks.append(rows) } }

    var ranges: [Range<Int>] { lock.withLock { blocks } }
}
