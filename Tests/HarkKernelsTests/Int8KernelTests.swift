import CHarkKernels
import Foundation
import XCTest

/// The C kernels, both builds, against plain Swift integer math.
final class Int8KernelTests: XCTestCase {
    // MARK: Quantizer

    /// Quantizes `rows` with the given path; returns values (row stride `ldq`) and scales.
    private func quantize(_ x: [Float], rows: Int, cols: Int, ldq: Int, path: Path) -> ([Int8], [Float]) {
        var q = [Int8](repeating: 99, count: max(1, rows * ldq))
        var scales = [Float](repeating: -1, count: max(1, rows))
        x.withUnsafeBufferPointer { xp in
            q.withUnsafeMutableBufferPointer { qp in
                scales.withUnsafeMutableBufferPointer { sp in
                    switch path {
                    case .avx2: hark_s8_quantize_rows_avx2(xp.baseAddress, rows, cols, cols, qp.baseAddress, ldq, sp.baseAddress)
                    case .portable: hark_s8_quantize_rows_portable(xp.baseAddress, rows, cols, cols, qp.baseAddress, ldq, sp.baseAddress)
                    }
                }
            }
        }
        return (q, scales)
    }

    func testQuantizerStaysInSymmetricRangeAndRoundTripsWithinHalfAStep() {
        var rng = SeededGenerator(seed: 1)
        var rowsTried = 0
        for cols in Array(1...70) + [96, 384, 1000] {
            var rows: [[Float]] = []
            rows.append((0..<cols).map { _ in rng.gaussian() })
            rows.append((0..<cols).map { _ in rng.gaussian() * 1e-3 })
            // The largest magnitude is negative: it must map to -127, not -128.
            var negative = (0..<cols).map { _ in Float.random(in: -1...1, using: &rng) }
            negative[Int.random(in: 0..<cols, using: &rng)] = -10
            rows.append(negative)
            rows.append([Float](repeating: -3.5, count: cols))
            rows.append((0..<cols).map { $0 % 2 == 0 ? 1e4 : -1e4 })
            // Values exactly half-way between steps.
            rows.append((0..<cols).map { j in j == 0 ? 127 : Float(j % 127) + 0.5 })
            for row in rows {
                rowsTried += 1
                var results: [[Int8]] = []
                var scaleResults: [Float] = []
                for path in Path.available {
                    let (q, scales) = quantize(row, rows: 1, cols: cols, ldq: cols + 5, path: path)
                    let scale = scales[0]
                    let maximum = row.map { abs($0) }.max() ?? 0
                    XCTAssertEqual(scale, maximum / 127, "\(path) cols \(cols)")
                    for j in 0..<cols {
                        XCTAssertGreaterThanOrEqual(q[j], -127, "\(path): -128 produced")
                        let error = abs(row[j] - Float(q[j]) * scale)
                        XCTAssertLessThanOrEqual(error, scale * 0.5 * (1 + 1e-5) + 1e-30,
                                                 "\(path) cols \(cols) j \(j): \(row[j]) -> \(q[j]) × \(scale)")
                    }
                    XCTAssertEqual(q[cols..<cols + 5].map { $0 }, [0, 0, 0, 0, 0], "\(path): padding not zeroed")
                    XCTAssertEqual(q[..<cols].map { abs(Int($0)) }.max(), 127, "\(path): the maximum maps to ±127")
                    results.append(q)
                    scaleResults.append(scale)
                }
                if results.count == 2 {
                    XCTAssertEqual(results[0], results[1], "avx2 and portable quantizers differ (cols \(cols))")
                    XCTAssertEqual(scaleResults[0], scaleResults[1])
                }
            }
        }
        XCTAssertGreaterThan(rowsTried, 400)
    }

    func testZeroRowHasZeroScaleAndZeroValues() {
        for path in Path.available {
            for cols in [1, 7, 32, 33, 100] {
                let (q, scales) = quantize([Float](repeating: 0, count: cols), rows: 1, cols: cols, ldq: cols, path: path)
                XCTAssertEqual(scales[0], 0)
                XCTAssertTrue(q[..<cols].allSatisfy { $0 == 0 })
            }
        }
    }

    func testPackingWritesEveryByteOfTheLayoutPaddingIncluded() {
        var rng = SeededGenerator(seed: 3)
        for (n, k) in [(1, 1), (16, 4), (17, 37), (40, 128), (5, 3)] {
            let w = rng.int8s(n * k)
            let bytes = hark_s8_packed_bytes(n, k)
            var packed = [Int8](repeating: 0x55, count: bytes)  // not zero: padding must be written
            packed.withUnsafeMutableBufferPointer { dst in
                w.withUnsafeBufferPointer { hark_s8_pack_weights($0.baseAddress, n, k, k, dst.baseAddress) }
            }
            // The documented layout: panel p of 16 rows, k-group g of 4, row j of the panel, t.
            let panel = Int(HARK_S8_PANEL), group = Int(HARK_S8_KGROUP), kp = hark_s8_padded_k(k)
            var expected = [Int8](repeating: 0, count: bytes)
            for r in 0..<n {
                for c in 0..<k {
                    let index = (r / panel) * panel * kp + (c / group) * panel * group + (r % panel) * group + c % group
                    expected[index] = max(-127, w[r * k + c])
                }
            }
            XCTAssertEqual(packed, expected, "n \(n) k \(k)")
        }
    }

    func testMinus128IsNeverStoredForTheKernels() {
        // -128 would break vpsignb (it cannot be negated) and the no-saturation bound.
        let k = 37, n = 3, m = 2
        let w = [Int8](repeating: -128, count: n * k)
        let a = [Int8](repeating: -128, count: m * k)
        let operands = Operands(a: a, w: w, m: m, n: n, k: k)
        var unpacked = [Int8](repeating: 0, count: n * k)
        operands.packed.withUnsafeBufferPointer { p in
            unpacked.withUnsafeMutableBufferPointer { hark_s8_unpack_weights(p.baseAddress, n, k, $0.baseAddress, k) }
        }
        XCTAssertTrue(unpacked.allSatisfy { $0 == -127 })
        for path in Path.available {
            XCTAssertEqual(operands.accumulations(path), [Int32](repeating: Int32(k * 127 * 127), count: m * n), "\(path)")
        }
    }

    // MARK: Exact integer accumulations

    func testAccumulationsMatchReferenceForEveryTailLength() {
        var rng = SeededGenerator(seed: 2)
        for m in [1, 2, 3, 4, 5, 17] {
            for n in [1, 3, 8, 33] {
                for k in 1...64 {
                    let a = rng.int8s(m * k), w = rng.int8s(n * k)
                    let expected = referenceAccumulations(a: a, w: w, m: m, n: n, k: k)
                    let operands = Operands(a: a, w: w, m: m, n: n, k: k)
                    for path in Path.available {
                        let got = operands.accumulations(path)
                        if got != expected {
                            XCTFail("\(path) m \(m) n \(n) k \(k): accumulations differ")
                            return
                        }
                    }
                }
            }
        }
    }

    func testAccumulationsAtExtremeMagnitudesDoNotSaturate() {
        // Every pair vpmaddubsw sums is ±127·127 twice = ±32258, the largest it can see.
        let patterns: [(String, (Int) -> Int8, (Int) -> Int8)] = [
            ("+127 · +127", { _ in 127 }, { _ in 127 }),
            ("+127 · -127", { _ in 127 }, { _ in -127 }),
            ("-127 · -127", { _ in -127 }, { _ in -127 }),
            ("-127 · +127", { _ in -127 }, { _ in 127 }),
            ("alternating, same signs", { $0 % 2 == 0 ? 127 : -127 }, { $0 % 2 == 0 ? 127 : -127 }),
            ("alternating, opposite signs", { $0 % 2 == 0 ? 127 : -127 }, { $0 % 2 == 0 ? -127 : 127 }),
            ("pairs of signs", { ($0 / 2) % 2 == 0 ? -127 : 127 }, { _ in 127 }),
        ]
        for (name, aValue, wValue) in patterns {
            for k in [1, 2, 3, 4, 31, 32, 33, 64, 384, 1536, 4096] {
                let m = 5, n = 33
                let a = (0..<m * k).map { aValue($0 % k) }
                let w = (0..<n * k).map { wValue($0 % k) }
                let expected = referenceAccumulations(a: a, w: w, m: m, n: n, k: k)
                let operands = Operands(a: a, w: w, m: m, n: n, k: k)
                for path in Path.available {
                    XCTAssertEqual(operands.accumulations(path), expected, "\(path) \(name) k \(k)")
                }
            }
        }
        // The largest sums exactly: k · 127² for k = 4096 is 66 064 384.
        let k = 4096
        let all = Operands(a: [Int8](repeating: -127, count: k), w: [Int8](repeating: -127, count: k), m: 1, n: 1, k: k)
        for path in Path.available {
            XCTAssertEqual(all.accumulations(path), [Int32(k * 127 * 127)], "\(path)")
        }
    }

    func testZeroActivationRowsAccumulateToZero() {
        var rng = SeededGenerator(seed: 3)
        let m = 6, n = 20, k = 45
        var a = rng.int8s(m * k)
        for t in 0..<k { a[2 * k + t] = 0; a[5 * k + t] = 0 }
        let w = rng.int8s(n * k)
        let operands = Operands(a: a, w: w, m: m, n: n, k: k)
        let expected = referenceAccumulations(a: a, w: w, m: m, n: n, k: k)
        for path in Path.available {
            let got = operands.accumulations(path)
            XCTAssertEqual(got, expected, "\(path)")
            XCTAssertTrue(got[2 * n..<3 * n].allSatisfy { $0 == 0 })
            XCTAssertTrue(got[5 * n..<6 * n].allSatisfy { $0 == 0 })
        }
    }

    func testBlocksWriteOnlyTheirRowsAndColumns() {
        var rng = SeededGenerator(seed: 4)
        let m = 11, n = 53, k = 70
        let a = rng.int8s(m * k), w = rng.int8s(n * k)
        let expected = referenceAccumulations(a: a, w: w, m: m, n: n, k: k)
        let operands = Operands(a: a, w: w, m: m, n: n, k: k)
        let sentinel: Int32 = .min
        for (m0, m1, n0, n1) in [(0, 11, 0, 53), (1, 4, 3, 21), (5, 6, 16, 32), (2, 11, 17, 53), (0, 7, 50, 53), (3, 3, 0, 53)] {
            for path in Path.available {
                let got = operands.accumulations(path, m0: m0, m1: m1, n0: n0, n1: n1, fill: sentinel)
                for i in 0..<m {
                    for j in 0..<n {
                        let inside = i >= m0 && i < m1 && j >= n0 && j < n1
                        XCTAssertEqual(got[i * n + j], inside ? expected[i * n + j] : sentinel,
                                       "\(path) block \(m0)..<\(m1) × \(n0)..<\(n1) at \(i), \(j)")
                    }
                }
            }
        }
    }

    func testFloatBlocksWriteOnlyTheirRowsAndColumnsAndMatchTheWholeProduct() {
        var rng = SeededGenerator(seed: 6)
        let m = 9, n = 45, k = 33
        let a = rng.int8s(m * k), w = rng.int8s(n * k)
        let sa = (0..<m).map { _ in Float.random(in: 0.001...0.01, using: &rng) }
        let sw = (0..<n).map { _ in Float.random(in: 0.001...0.01, using: &rng) }
        let bias = (0..<n).map { _ in rng.gaussian() }
        let operands = Operands(a: a, w: w, m: m, n: n, k: k)
        for path in Path.available {
            for gelu in [false, true] {
                let whole = operands.product(path, sa: sa, sw: sw, bias: bias, gelu: gelu)
                for (m0, m1, n0, n1) in [(1, 4, 3, 21), (0, 9, 17, 45), (4, 9, 5, 6), (2, 7, 0, 16)] {
                    let block = operands.product(path, sa: sa, sw: sw, bias: bias, gelu: gelu,
                                                 m0: m0, m1: m1, n0: n0, n1: n1, fill: .infinity)
                    for i in 0..<m {
                        for j in 0..<n {
                            let inside = i >= m0 && i < m1 && j >= n0 && j < n1
                            XCTAssertEqual(block[i * n + j], inside ? whole[i * n + j] : .infinity,
                                           "\(path) gelu \(gelu) block \(m0)..<\(m1) × \(n0)..<\(n1) at \(i), \(j)")
                        }
                    }
                }
            }
        }
    }

    // MARK: Fused epilogue

    func testScalesBiasAndGeluEpilogueOnBothPaths() {
        var rng = SeededGenerator(seed: 5)
        for (m, n, k) in [(1, 1, 1), (3, 33, 17), (5, 16, 64), (17, 40, 100), (4, 7, 384)] {
            let a = rng.int8s(m * k), w = rng.int8s(n * k)
            let sa = (0..<m).map { _ in Float.random(in: 0.0001...0.01, using: &rng) }
            let sw = (0..<n).map { _ in Float.random(in: 0.0001...0.01, using: &rng) }
            let bias = (0..<n).map { _ in rng.gaussian() }
            let acc = referenceAccumulations(a: a, w: w, m: m, n: n, k: k)
            let operands = Operands(a: a, w: w, m: m, n: n, k: k)
            for gelu in [false, true] {
                for withBias in [false, true] {
                    for path in Path.available {
                        let got = operands.product(path, sa: sa, sw: sw, bias: withBias ? bias : nil, gelu: gelu)
                        for i in 0..<m {
                            for j in 0..<n {
                                var value = Double(acc[i * n + j]) * Double(sa[i]) * Double(sw[j])
                                    + (withBias ? Double(bias[j]) : 0)
                                if gelu { value = referenceGelu(value) }
                                let tolerance = 2e-6 * max(1, abs(value))
                                XCTAssertEqual(Double(got[i * n + j]), value, accuracy: tolerance,
                                               "\(path) m \(m) n \(n) k \(k) gelu \(gelu) bias \(withBias) at \(i), \(j)")
                            }
                        }
                    }
                }
            }
        }
    }

    func testGeluPolynomialMatchesErfForm() {
        var xs: [Float] = stride(from: -12.0, through: 12.0, by: 0.0007).map { Float($0) }
        xs += [0, -0, 1e-30, -1e-30, 50, -50, 1e4, -1e4, .greatestFiniteMagnitude / 2]
        for path in Path.available {
            var y = xs
            y.withUnsafeMutableBufferPointer { buffer in
                switch path {
                case .avx2: hark_gelu_avx2(buffer.baseAddress, buffer.count)
                case .portable: hark_gelu_portable(buffer.baseAddress, buffer.count)
                }
            }
            var worst = 0.0
            for (x, got) in zip(xs, y) {
                let expected = referenceGelu(Double(x))
                let error = abs(Double(got) - expected) / max(1, abs(expected))
                worst = max(worst, error)
                XCTAssertLessThanOrEqual(error, 1e-6, "\(path) gelu(\(x)) = \(got), expected \(expected)")
            }
            XCTAssertLessThan(worst, 1e-6)
        }
    }

    /// Switches the process-wide dispatch for a moment (restored at the end): run the suite
    /// serially, as Scripts/test does.
    func testImplementationFollowsCPUAndEnvironment() {
        let expected = hark_kernels_have_avx2() != 0 ? "avx2" : "portable"
        let saved = ProcessInfo.processInfo.environment["HARK_KERNELS"]
        defer {
            if let saved { setenv("HARK_KERNELS", saved, 1) } else { unsetenv("HARK_KERNELS") }
            hark_kernels_refresh_dispatch()
        }
        unsetenv("HARK_KERNELS")
        hark_kernels_refresh_dispatch()
        XCTAssertEqual(String(cString: hark_kernels_implementation()), expected)
        setenv("HARK_KERNELS", "portable", 1)
        hark_kernels_refresh_dispatch()
        XCTAssertEqual(String(cString: hark_kernels_implementation()), "portable")
    }
}
