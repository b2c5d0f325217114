import Foundation
import XCTest

@testable import HarkModel

/// A linear layer's output in column blocks (a decoder layer's cross-attention keys and values,
/// one block per head) holds the plain product's values, bit for bit, in float and in int8.
final class LinearTests: XCTestCase {
    func testColumnBlocksHoldThePlainProductsColumns() {
        let rows = 1500, inputs = 64, outputs = 256, block = 64
        let weight = (0..<(outputs * inputs)).map { sin(Float($0) * 0.37) * 0.2 }
        let bias = (0..<outputs).map { cos(Float($0) * 0.11) }
        let x = (0..<(rows * inputs)).map { sin(Float($0 % 977) * 1.3 + Float($0 / 977)) }
        let float = Linear(weight: weight, bias: bias, inputs: inputs, outputs: outputs)
        for layer in [float, float.quantizedToInt8()] {
            let plain = layer(x, rows: rows)
            var blocks = [Float](repeating: .nan, count: rows * outputs)
            blocks.withUnsafeMutableBufferPointer { output in
                guard let base = output.baseAddress else { return }
                layer(x, rows: rows, columnBlock: block, into: base)
            }
            var differing = 0
            for b in 0..<(outputs / block) {
                for row in 0..<rows {
                    for j in 0..<block where blocks[b * rows * block + row * block + j].bitPattern != plain[row * outputs + b * block + j].bitPattern {
                        differing += 1
                    }
                }
            }
            XCTAssertEqual(differing, 0, "\(layer.quantized == nil ? "float" : "int8")")
        }
    }

    /// The bias and GELU that the product's threads add to the parts they computed give the
    /// values of the same product followed by adding the bias and applying GELU to it all, bit
    /// for bit: split by rows (many rows), by columns (a few), and not split (a small product).
    func testProductsFinishTheirOwnPartsAsAWholePassWould() {
        for (rows, inputs, outputs) in [(300, 256, 384), (40, 128, 1024), (70, 32, 48)] {
            let weight = (0..<(outputs * inputs)).map { sin(Float($0) * 0.37) * 0.2 }
            let bias = (0..<outputs).map { cos(Float($0) * 0.11) }
            let x = (0..<(rows * inputs)).map { sin(Float($0 % 977) * 1.3 + Float($0 / 977)) }
            let plain = Linear(weight: weight, bias: nil, inputs: inputs, outputs: outputs)(x, rows: rows)
            for gelu in [false, true] {
                var expected = plain
                for row in 0..<rows {
                    for j in 0..<outputs { expected[row * outputs + j] += bias[j] }
                }
                if gelu { expected.withUnsafeMutableBufferPointer { FloatKernels.gelu($0.start, count: $0.count) } }
                let finished = Linear(weight: weight, bias: bias, inputs: inputs, outputs: outputs)(x, rows: rows, gelu: gelu)
                XCTAssertEqual(finished.map(\.bitPattern), expected.map(\.bitPattern), "\(rows) × \(outputs), GELU \(gelu)")
                XCTAssertGreaterThan(Set(finished).count, outputs, "not a constant output")
            }
        }
    }
}
