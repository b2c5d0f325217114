import CHarkKernels
import Foundation
import XCTest

@testable import HarkModel

/// LayerNorm in C, rows four at a time and split over the threads, gives the plain loop's
/// result bit for bit: each row's mean and variance summed in index order, nothing fused.
final class LayerNormTests: XCTestCase {
    /// The plain loop, as the model computed LayerNorm before it moved to C.
    private func reference(_ x: [Float], rows: Int, width: Int, gamma: [Float], beta: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: rows * width)
        for row in 0..<rows {
            var mean: Float = 0
            for i in 0..<width { mean += x[row * width + i] }
            mean /= Float(width)
            var variance: Float = 0
            for i in 0..<width {
                let d = x[row * width + i] - mean
                let square = d * d
                variance += square
            }
            variance /= Float(width)
            let inverse = 1 / (variance + 1e-5).squareRoot()
            for i in 0..<width {
                let centred = x[row * width + i] - mean
                let scaled = centred * inverse * gamma[i]
                y[row * width + i] = scaled + beta[i]
            }
        }
        return y
    }

    private func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { i in sin(Float(i * 7 + seed) * 0.61) * Float(1 + (i + seed) % 5) + Float(seed % 3) }
    }

    func testEveryRowIsThePlainLoopsResult() {
        for width in [384, 512, 13, 1] {
            let gamma = values(width, seed: 1), beta = values(width, seed: 2)
            for rows in [1, 2, 3, 4, 5, 7, 8, 9, 33] {
                let x = values(rows * width, seed: rows + width)
                var y = [Float](repeating: .nan, count: rows * width)
                hark_layer_norm_rows(x, rows, width, gamma, beta, &y)
                XCTAssertEqual(y, reference(x, rows: rows, width: width, gamma: gamma, beta: beta), "\(rows) × \(width)")
            }
        }
    }

    func testThreadsSplitTheRowsWithoutChangingThem() {
        let rows = 1500, width = 384
        let x = values(rows * width, seed: 9), gamma = values(width, seed: 3), beta = values(width, seed: 4)
        let expected = reference(x, rows: rows, width: width, gamma: gamma, beta: beta)
        let norm = LayerNorm(gamma: gamma, beta: beta)
        let threadsBefore = ComputeThreads.count
        defer { ComputeThreads.set(threadsBefore) }
        for threads in [1, 2, 3] {
            ComputeThreads.set(threads)
            XCTAssertEqual(norm(x, rows: rows), expected, "\(threads) threads")
        }
    }
}
