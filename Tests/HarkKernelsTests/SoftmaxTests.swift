import CHarkKernels
import Foundation
import XCTest

/// The attention softmax: the AVX2 polynomial exp against libm, and both paths against a
/// double-precision reference on every tail length and on causal (ragged) rows.
final class SoftmaxTests: XCTestCase {
    func testPolynomialExpIsWithinTwoTenthsOfAMillionthOfLibm() throws {
        guard hark_kernels_have_avx2() != 0 else { throw XCTSkip("no AVX2 on this CPU") }
        var inputs: [Float] = stride(from: Float(-87), through: 0, by: 0.001).map { $0 }
        inputs += [0, -0.0, -1e-30, -Float.ulpOfOne, -87.3, -88, -100, -1000, -Float.infinity]
        var outputs = [Float](repeating: .nan, count: inputs.count)
        hark_exp_avx2(inputs, &outputs, inputs.count)
        for (x, y) in zip(inputs, outputs) {
            let reference = exp(Double(x))
            if x < -87.33654 {
                XCTAssertEqual(y, 0, "exp(\(x)) underflows to 0")
            } else {
                XCTAssertLessThan(abs(Double(y) - reference) / reference, 2e-7, "exp(\(x)) = \(y), expected \(reference)")
            }
        }
    }

    func testRowsSumToOneAndMatchTheReferenceOnEveryPathAndTail() {
        var generator = SeededGenerator(seed: 7)
        let width = 37, rows = 19
        var input = [Float](repeating: 0, count: rows * width)
        for i in input.indices { input[i] = generator.gaussian() * 8 }
        input[3] = 80  // one dominant score
        let valid = (0..<rows).map { $0 * 2 }  // 0 (an empty row) up to 36, every tail length mod 8
        var paths: [(String, (UnsafeMutablePointer<Float>, Int, Int, Int, UnsafePointer<Int>?) -> Void)] =
            [("portable", { hark_softmax_rows_portable($0, $1, $2, $3, $4) })]
        if hark_kernels_have_avx2() != 0 { paths.append(("avx2", { hark_softmax_rows_avx2($0, $1, $2, $3, $4) })) }
        for (name, softmax) in paths {
            var x = input
            x.withUnsafeMutableBufferPointer { x in valid.withUnsafeBufferPointer { softmax(x.baseAddress!, rows, width, width, $0.baseAddress) } }
            for r in 0..<rows {
                let row = input[(r * width)..<(r * width + valid[r])].map(Double.init)
                let maximum = row.max() ?? 0
                let total = row.map { exp($0 - maximum) }.reduce(0, +)
                var sum: Double = 0
                for i in 0..<width {
                    let y = Double(x[r * width + i])
                    if i < valid[r] {
                        XCTAssertEqual(y, exp(row[i] - maximum) / total, accuracy: 1e-6, "\(name) row \(r) entry \(i)")
                        sum += y
                    } else {
                        XCTAssertEqual(y, 0, "\(name) row \(r) entry \(i) is past the valid length")
                    }
                }
                if valid[r] > 0 { XCTAssertEqual(sum, 1, accuracy: 1e-5, "\(name) row \(r)") }
            }
        }
    }
}
