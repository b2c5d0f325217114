import CHarkKernels
import XCTest

/// Rounding single precision to half precision (the cross-attention keys and values of int8
/// decoding), against Swift's `Float16(_:)`: to nearest, ties to even, on both paths.
final class HalfPrecisionConversionTests: XCTestCase {
    func testRoundsLikeFloat16OnTheVectorAndPortablePaths() {
        var generator = SeededGenerator(seed: 21)
        var inputs: [Float] = [0, -0, 1, -1, 65504, -65504, 65519.99, 65520, 1e9, -1e9, .infinity, -.infinity,
                               .leastNonzeroMagnitude, Float(Float16.leastNonzeroMagnitude),
                               Float(Float16.leastNonzeroMagnitude) / 2, Float(Float16.leastNonzeroMagnitude) * 0.75,
                               Float(Float16.leastNormalMagnitude), Float(Float16.leastNormalMagnitude) * 0.999,
                               Float(Float16.leastNormalMagnitude).nextDown, 2.9802322e-8, 5.9604645e-8]
        // Halfway between neighbouring halves (ties), and just off them, normal and subnormal.
        for bits in stride(from: UInt16(1), to: 0x7bff, by: 97) {
            let low = Float(Float16(bitPattern: bits)), high = Float(Float16(bitPattern: bits + 1))
            let middle = (low + high) / 2
            inputs += [middle, middle.nextUp, middle.nextDown, -middle]
        }
        inputs += (0..<5000).map { _ in generator.gaussian() * Float(1 << (Int.random(in: 0..<20, using: &generator))) / 1024 }
        var vector = [UInt16](repeating: 0xffff, count: inputs.count)
        hark_f32_to_f16(inputs, &vector, inputs.count)
        for (i, x) in inputs.enumerated() {
            let expected = Float16(x).bitPattern
            XCTAssertEqual(vector[i], expected, "hark_f32_to_f16(\(x))")
            XCTAssertEqual(hark_f32_to_f16_one(x), expected, "hark_f32_to_f16_one(\(x))")
        }
        XCTAssertTrue(Float16(bitPattern: hark_f32_to_f16_one(.nan)).isNaN)
    }

    func testEveryHalfSurvivesTheRoundTrip() {
        let halves = (0...UInt16.max).filter { !Float16(bitPattern: $0).isNaN }
        var floats = [Float](repeating: .nan, count: halves.count)
        hark_f16_to_f32(halves, &floats, halves.count)
        var back = [UInt16](repeating: 0, count: halves.count)
        hark_f32_to_f16(floats, &back, floats.count)
        XCTAssertEqual(back, halves)
        XCTAssertEqual(floats.map { hark_f32_to_f16_one($0) }, halves)
    }
}
