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

    func testMovingSoftmaxGivesTheInPlaceProbabilitiesAndLeavesZeros() {
        var generator = SeededGenerator(seed: 5)
        let rows = 7, width = 1500, ld = 1503
        let input = (0..<(rows * ld)).map { _ in generator.gaussian() * 6 }
        var paths: [(String, (UnsafeMutablePointer<Float>, Int, Int, Int, UnsafePointer<Int>?) -> Void,
                     (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int) -> Void)] =
            [("portable", { hark_softmax_rows_portable($0, $1, $2, $3, $4) },
              { hark_softmax_rows_moving_portable($0, $1, $2, $3, $4) })]
        if hark_kernels_have_avx2() != 0 {
            paths.append(("avx2", { hark_softmax_rows_avx2($0, $1, $2, $3, $4) },
                          { hark_softmax_rows_moving_avx2($0, $1, $2, $3, $4) }))
        }
        for (name, inPlace, moving) in paths {
            var expected = input
            expected.withUnsafeMutableBufferPointer { inPlace($0.baseAddress!, rows, width, ld, nil) }
            var scores = input
            var probabilities = [Float](repeating: .nan, count: rows * ld)
            scores.withUnsafeMutableBufferPointer { s in
                probabilities.withUnsafeMutableBufferPointer { moving(s.baseAddress!, $0.baseAddress!, rows, width, ld) }
            }
            for r in 0..<rows {
                for i in 0..<width {
                    XCTAssertEqual(probabilities[r * ld + i].bitPattern, expected[r * ld + i].bitPattern, "\(name) row \(r) entry \(i)")
                    XCTAssertEqual(scores[r * ld + i].bitPattern, 0, "\(name) leaves +0 at row \(r) entry \(i)")
                }
                for i in width..<ld where r < rows - 1 {
                    XCTAssertEqual(scores[r * ld + i].bitPattern, input[r * ld + i].bitPattern, "\(name): past the row is not written")
                }
            }
        }
    }
}

/// Attention of a few query rows against keys and values read in place (decoder steps).
final class AttentionKernelTests: XCTestCase {
    func testMatchesADoublePrecisionReferenceOnEveryPathWithRaggedRows() {
        var generator = SeededGenerator(seed: 11)
        for (dim, count, rows) in [(64, 1500, 5), (64, 37, 3), (8, 9, 1), (24, 17, 4), (12, 10, 2)] {
            // Keys and values interleaved in one buffer with strides, as the caches are laid out.
            let ldq = dim + 5, ldk = 2 * dim + 3, ldv = 2 * dim + 3, ldo = dim + 2
            let q = (0..<(rows * ldq)).map { _ in generator.gaussian() }
            let kv = (0..<(count * ldk + dim)).map { _ in generator.gaussian() }
            let valid = (0..<rows).map { count - 2 * $0 }  // causal-like: each row sees fewer keys
            let scale = 1 / Float(dim).squareRoot()
            var paths: [(String, (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Int>, UnsafeMutablePointer<Float>) -> Void)] = [
                ("portable", { hark_attend_rows_portable($0, ldq, $1, ldk, $1 + dim, ldv, $2, ldo, rows, count, $3, dim, scale, $4) }),
            ]
            if hark_kernels_have_avx2() != 0 {
                paths.append(("avx2", { hark_attend_rows_avx2($0, ldq, $1, ldk, $1 + dim, ldv, $2, ldo, rows, count, $3, dim, scale, $4) }))
            }
            for (name, attend) in paths {
                var out = [Float](repeating: .nan, count: rows * ldo)
                var scratch = [Float](repeating: 0, count: rows * count)
                q.withUnsafeBufferPointer { q in
                    kv.withUnsafeBufferPointer { kv in
                        valid.withUnsafeBufferPointer { valid in
                            attend(q.baseAddress!, kv.baseAddress!, &out, valid.baseAddress!, &scratch)
                        }
                    }
                }
                for r in 0..<rows {
                    let scores = (0..<valid[r]).map { t in
                        (0..<dim).reduce(0.0) { $0 + Double(q[r * ldq + $1]) * Double(kv[t * ldk + $1]) } * Double(scale)
                    }
                    let maximum = scores.max() ?? 0
                    let weights = scores.map { exp($0 - maximum) }
                    let total = weights.reduce(0, +)
                    for d in 0..<dim {
                        let expected = (0..<valid[r]).reduce(0.0) { $0 + weights[$1] / total * Double(kv[$1 * ldk + dim + d]) }
                        XCTAssertEqual(Double(out[r * ldo + d]), expected, accuracy: 1e-5, "\(name) dim \(dim) row \(r) lane \(d)")
                    }
                }
            }
        }
    }

    /// Decoder hypotheses that share a prompt: attention over the shared prefix and each row's
    /// own keys gives exactly (bit for bit) the attention over the joined keys.
    func testPrefixedAttentionEqualsAttentionOverTheJoinedKeys() {
        var generator = SeededGenerator(seed: 17)
        for (dim, prefix, own) in [(64, 150, [1, 9, 4, 17, 0]), (64, 0, [3, 8]), (24, 13, [5, 2, 11]), (12, 7, [1])] {
            let rows = own.count, ldq = 3 * dim, ldOwn = 2 * dim + 8, ldo = dim + 4
            let q = (0..<(rows * ldq)).map { _ in generator.gaussian() }
            let prefixKeys = (0..<(prefix * dim)).map { _ in generator.gaussian() }
            let prefixValues = (0..<(prefix * dim)).map { _ in generator.gaussian() }
            let ownKeys = own.map { n in (0..<(max(n, 1) * ldOwn)).map { _ in generator.gaussian() } }
            let ownValues = own.map { n in (0..<(max(n, 1) * ldOwn)).map { _ in generator.gaussian() } }
            let valid = own.map { prefix + $0 }
            let scale = 1 / Float(dim).squareRoot()

            var out = [Float](repeating: .nan, count: rows * ldo)
            var scratch = [Float](repeating: 0, count: rows * (valid.max() ?? 0))
            // Each row's own keys and values start `offset` floats into its buffer (a head's columns).
            let offset = 5
            let keyPointers = ownKeys.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count + offset) }
            let valuePointers = ownValues.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count + offset) }
            defer { (keyPointers + valuePointers).forEach { $0.deallocate() } }
            for r in 0..<rows {
                keyPointers[r].initialize(repeating: .nan, count: offset)
                valuePointers[r].initialize(repeating: .nan, count: offset)
                (keyPointers[r] + offset).initialize(from: ownKeys[r], count: ownKeys[r].count)
                (valuePointers[r] + offset).initialize(from: ownValues[r], count: ownValues[r].count)
            }
            hark_attend_prefixed(q, ldq, rows, prefixKeys.isEmpty ? [0] : prefixKeys, prefixValues.isEmpty ? [0] : prefixValues,
                                 dim, prefix, keyPointers.map { UnsafePointer($0) }, valuePointers.map { UnsafePointer($0) },
                                 ldOwn, offset, valid, &out, ldo, dim, scale, &scratch)

            for r in 0..<rows {
                // The same row against its joined keys and values, through hark_attend_rows.
                var keys = prefixKeys, values = prefixValues
                for t in 0..<own[r] {
                    keys += ownKeys[r][(t * ldOwn)..<(t * ldOwn + dim)]
                    values += ownValues[r][(t * ldOwn)..<(t * ldOwn + dim)]
                }
                var expected = [Float](repeating: .nan, count: dim)
                var joinedScratch = [Float](repeating: 0, count: max(1, valid[r]))
                hark_attend_rows(Array(q[(r * ldq)..<(r * ldq + dim)]), dim, keys.isEmpty ? [0] : keys, dim,
                                 values.isEmpty ? [0] : values, dim, &expected, dim, 1, valid[r], nil, dim, scale, &joinedScratch)
                for d in 0..<dim {
                    if valid[r] == 0 {
                        XCTAssertEqual(out[r * ldo + d], 0, "dim \(dim) row \(r) lane \(d): no keys, no output")
                    } else {
                        XCTAssertEqual(out[r * ldo + d], expected[d], "dim \(dim) prefix \(prefix) row \(r) lane \(d)")
                    }
                }
            }
        }
    }

    func testLogSumExpHandlesSuppressedEntries() {
        var x: [Float] = (0..<51_865).map { Float($0 % 97) / 7 - 5 }
        for i in stride(from: 0, to: x.count, by: 3) { x[i] = -.infinity }
        let reference = log(x.reduce(0.0) { $0 + exp(Double($1)) })
        XCTAssertEqual(Double(hark_log_sum_exp(x, x.count)), reference, accuracy: 1e-5 * abs(reference))
        let all = [Float](repeating: -.infinity, count: 13)
        XCTAssertEqual(hark_log_sum_exp(all, all.count), -.infinity)
        XCTAssertEqual(hark_log_sum_exp(x, 0), -.infinity)
        XCTAssertEqual(hark_log_sum_exp([3], 1), 3)
    }
}

/// The float product for few rows (decoder steps in float32) against a double reference.
final class FewRowsProductTests: XCTestCase {
    func testMatchesTheReferenceForEveryRowCountAndTail() {
        var generator = SeededGenerator(seed: 5)
        for (rows, n, k) in [(1, 7, 384), (5, 33, 13), (4, 16, 8), (8, 3, 1), (3, 100, 64), (6, 9, 40), (11, 10, 17)] {
            let x = (0..<(rows * k)).map { _ in generator.gaussian() }
            let w = (0..<(n * k)).map { _ in generator.gaussian() }
            let bias = (0..<n).map { _ in generator.gaussian() }
            for withBias in [false, true] {
                var y = [Float](repeating: .nan, count: rows * n)
                // Two column ranges, as the threads split them.
                let split = n / 2
                for (n0, n1) in [(0, split), (split, n)] {
                    if withBias {
                        hark_gemm_f32_few_rows(x, k, rows, w, k, n0, n1, bias, &y, n)
                    } else {
                        hark_gemm_f32_few_rows(x, k, rows, w, k, n0, n1, nil, &y, n)
                    }
                }
                for r in 0..<rows {
                    for c in 0..<n {
                        let expected = (0..<k).reduce(0.0) { $0 + Double(x[r * k + $1]) * Double(w[c * k + $1]) } + (withBias ? Double(bias[c]) : 0)
                        XCTAssertEqual(Double(y[r * n + c]), expected, accuracy: 1e-4 * max(1, abs(expected)), "\(rows)×\(n)×\(k) r\(r) n\(c)")
                    }
                }
            }
        }
    }

    func testEachRowIsTheSameWhateverRowsShareTheCall() {
        // Beam search and greedy decoding must give a hypothesis the same scores: a row's sums
        // may not depend on how many rows are multiplied with it, or on the column range.
        var generator = SeededGenerator(seed: 6)
        let n = 23, k = 387
        for rows in 1...9 {
            let x = (0..<(rows * k)).map { _ in generator.gaussian() }
            let w = (0..<(n * k)).map { _ in generator.gaussian() }
            let bias = (0..<n).map { _ in generator.gaussian() }
            var together = [Float](repeating: .nan, count: rows * n)
            hark_gemm_f32_few_rows(x, k, rows, w, k, 0, n, bias, &together, n)
            for r in 0..<rows {
                var alone = [Float](repeating: .nan, count: n)
                for c in 0..<n {  // one column at a time: no blocks of weight rows either
                    Array(x[(r * k)..<((r + 1) * k)]).withUnsafeBufferPointer { row in
                        hark_gemm_f32_few_rows(row.baseAddress, k, 1, w, k, c, c + 1, bias, &alone, n)
                    }
                }
                XCTAssertEqual(Array(together[(r * n)..<((r + 1) * n)]), alone, "row \(r) of \(rows)")
            }
        }
    }

    func testHalfWeightsGiveTheSumsOfTheirWidenedCopies() {
        // float32 models keep the file's half-precision weights: widened exactly as they are
        // read, they must give the very sums of the widened copies, tails and bias included.
        var generator = SeededGenerator(seed: 7)
        for (n, k) in [(23, 387), (70, 384), (5, 13), (3, 1)] {
            let halves = (0..<(n * k)).map { _ in Float16(generator.gaussian() * 0.1).bitPattern }
            var widened = [Float](repeating: .nan, count: n * k)
            hark_f16_to_f32(halves, &widened, halves.count)
            XCTAssertEqual(widened[1], Float(Float16(bitPattern: halves[1])))
            let bias = (0..<n).map { _ in generator.gaussian() }
            for rows in 1...9 {
                let x = (0..<(rows * k)).map { _ in generator.gaussian() }
                var fromHalves = [Float](repeating: .nan, count: rows * n), fromFloats = fromHalves
                let split = n / 3
                for (n0, n1) in [(0, split), (split, n)] {
                    hark_gemm_f16w_few_rows(x, k, rows, halves, k, n0, n1, bias, &fromHalves, n)
                    hark_gemm_f32_few_rows(x, k, rows, widened, k, n0, n1, bias, &fromFloats, n)
                }
                XCTAssertEqual(fromHalves, fromFloats, "\(rows) rows of \(n) × \(k)")
            }
        }
    }
}
