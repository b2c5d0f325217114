import CHarkKernels
import HarkTestSupport
import XCTest

/// The selections the beam search makes on every row of logits.
final class SelectTests: XCTestCase {
    /// The k best against a sort, with ties (lower index first), suppressed (-infinity)
    /// entries, rows shorter than a vector and rows with fewer finite entries than k.
    func testTopKMatchesAStableSort() {
        var generator = SeededGenerator(seed: 23)
        for (n, k) in [(51_864, 10), (51_865, 2), (1000, 1), (7, 3), (20, 10), (3, 5), (0, 4)] {
            var x = (0..<n).map { _ in (generator.gaussian() * 4).rounded() / 4 }   // many ties
            for i in stride(from: 0, to: n, by: 3) { x[i] = -.infinity }
            let expected = x.indices.filter { x[$0] > -.infinity }
                .sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }
                .prefix(k)
            var indices = [Int32](repeating: -1, count: k)
            var values = [Float](repeating: .nan, count: k)
            let found = hark_top_k(x, n, k, &indices, &values)
            XCTAssertEqual(found, expected.count, "n \(n) k \(k)")
            XCTAssertEqual(indices.prefix(found).map(Int.init), Array(expected), "n \(n) k \(k)")
            XCTAssertEqual(Array(values.prefix(found)), expected.map { x[$0] }, "n \(n) k \(k)")
        }
    }

    func testMaximum() {
        var generator = SeededGenerator(seed: 29)
        for n in [0, 1, 7, 8, 9, 51_864] {
            var x = (0..<n).map { _ in generator.gaussian() }
            if n > 2 { x[n - 1] = -.infinity }
            XCTAssertEqual(hark_max(x, n), x.max() ?? -.infinity, "n \(n)")
        }
    }
}
