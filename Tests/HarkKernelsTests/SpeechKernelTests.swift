import CHarkKernels
import Foundation
import XCTest

/// The speech detector's float32 kernels: the dispatched path (AVX-512 and AVX2 on this
/// machine) against the portable loop and plain Swift.
final class SpeechKernelTests: XCTestCase {
    /// Every shape class the kernels split on (4-row blocks, single rows, 16 / 32 / 64-column
    /// panels), with leading dimensions wider than the operands: both paths close to a
    /// double-precision product and to each other (bit for bit where both fuse multiply-adds),
    /// and nothing written beyond column n.
    func testProductsMatchThePortableLoopAndDoublePrecision() {
        var rng = SeededGenerator(seed: 28)
        for (m, n, k) in [(1, 16, 1), (1, 512, 128), (3, 48, 7), (4, 16, 129), (5, 272, 256), (9, 64, 387), (128, 128, 192), (33, 512, 128)] {
            let lda = k + 3, ldb = n + 16, ldc = n + 8
            let a = (0..<(m * lda)).map { _ in rng.gaussian() }
            let b = (0..<(k * ldb)).map { _ in rng.gaussian() }
            let c0 = (0..<(m * ldc)).map { _ in rng.gaussian() }
            for flags in [0, HARK_F32_RELU] {
                var fast = c0, portable = c0
                hark_f32_gemm_acc(m, n, k, a, lda, b, ldb, &fast, ldc, flags)
                hark_f32_gemm_acc_portable(m, n, k, a, lda, b, ldb, &portable, ldc, flags)
                var apart = 0.0
                for (x, y) in zip(fast, portable) { apart = max(apart, abs(Double(x) - Double(y)) / (1 + abs(Double(y)))) }
                XCTAssertLessThan(apart, 1e-5, "m \(m) n \(n) k \(k) flags \(flags)")
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<ldc {
                        var expected = Double(c0[i * ldc + j])
                        if j < n {
                            for p in 0..<k { expected += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                            if flags == HARK_F32_RELU { expected = max(expected, 0) }
                        }
                        worst = max(worst, abs(Double(fast[i * ldc + j]) - expected) / (1 + abs(expected)))
                    }
                }
                XCTAssertLessThan(worst, 1e-5, "m \(m) n \(n) k \(k)")
            }
        }
    }

    /// The LSTM cell, both paths, against libm's sigmoid and tanh (in double precision).
    func testTheLSTMCellMatchesLibm() {
        var rng = SeededGenerator(seed: 6)
        let n = 128
        var gates = (0..<(4 * n)).map { _ in rng.gaussian() * 4 }
        gates[0] = 90; gates[1] = -90; gates[2 * n] = 1e-6; gates[2 * n + 1] = -40  // saturated and tiny inputs
        let cell = (0..<n).map { _ in rng.gaussian() * 3 }
        func sigmoid(_ x: Float) -> Double { 1 / (1 + exp(-Double(x))) }
        var worst: [Double] = [0, 0]
        for (index, portable) in [false, true].enumerated() {
            var c = cell, h = [Float](repeating: 0, count: n)
            if portable { hark_f32_lstm_cell_portable(gates, &c, &h, n) } else { hark_f32_lstm_cell(gates, &c, &h, n) }
            for j in 0..<n {
                let expectedC = sigmoid(gates[n + j]) * Double(cell[j]) + sigmoid(gates[j]) * tanh(Double(gates[2 * n + j]))
                let expectedH = sigmoid(gates[3 * n + j]) * tanh(expectedC)
                worst[index] = max(worst[index], abs(Double(c[j]) - expectedC), abs(Double(h[j]) - expectedH))
            }
        }
        XCTAssertLessThan(worst[0], 2e-6, "dispatched path")
        XCTAssertLessThan(worst[1], 2e-6, "portable path")
    }
}
