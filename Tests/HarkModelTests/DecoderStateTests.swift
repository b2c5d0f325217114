import CHarkKernels
import Foundation
import HarkKernels
import HarkTestSupport
import XCTest

@testable import HarkModel

final class DecoderStateTests: XCTestCase {
    /// Hypotheses that branch from one prompt (its cache becomes the shared prefix), are fed
    /// different tokens and reordered with a duplicate (a shared cache copied before writing)
    /// give the logits of feeding each one's whole history to a fresh state.
    func testBranchedAndReorderedHypothesesMatchDecodingEachFromScratch() throws {
        for computeType in [ComputeType.float32, .int8] {
            let model = try WhisperModel(directory: try TestSupport.modelDirectory("tiny.en"), computeType: computeType)
            let encoded = model.encode(try voiceNoteWindow())
            let vocabulary = model.dimensions.vocabularySize
            // <|startofprev|>, some earlier text, <|startoftranscript|>, <|0.00|>.
            let prompt = [50360, 314, 373, 1016, 284, 3285, 257, 3465, 13, 50257, 50363]

            var state = model.makeDecoderState(encoderOutput: encoded, batch: 1)
            _ = model.decode([prompt], state: &state)
            var histories = [prompt]
            state.reorder([0, 0, 0])
            histories = [0, 0, 0].map { histories[$0] }
            let first = [[314], [632], [383]]
            _ = model.decode(first, state: &state)
            for i in 0..<3 { histories[i] += first[i] }
            state.reorder([1, 1, 2])
            histories = [1, 1, 2].map { histories[$0] }
            let second = [[588], [373], [1110]]
            let logits = model.decode(second, state: &state)
            for i in 0..<3 { histories[i] += second[i] }
            XCTAssertEqual(state.length, prompt.count + 2)

            for i in 0..<3 {
                var fresh = model.makeDecoderState(encoderOutput: encoded, batch: 1)
                let expected = model.decode([histories[i]], state: &fresh)
                let row = Array(logits[(i * vocabulary)..<((i + 1) * vocabulary)])
                let worst = zip(row, expected).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThan(worst, 2e-3, "\(computeType) hypothesis \(i): max |Δ logit| \(worst)")
                XCTAssertEqual(row.indices.max { row[$0] < row[$1] }, expected.indices.max { expected[$0] < expected[$1] },
                               "\(computeType) hypothesis \(i): best next token")
            }
        }
    }

    /// int8 decoding keeps the cross-attention keys and values in half precision, float32
    /// decoding in float; both give the same next token on a prompt longer than the few-rows
    /// path takes.
    func testInt8KeepsCrossKeysAndValuesInHalfPrecision() throws {
        let directory = try TestSupport.modelDirectory("tiny.en")
        var prompt = [50360]
        for i in 0..<36 { prompt.append([314, 373, 1016, 284, 3285, 257, 3465, 13][i % 8]) }
        prompt += [50257, 50363]
        XCTAssertGreaterThan(prompt.count, DecoderState.fewRows)
        var best: [ComputeType: Int] = [:]
        for computeType in [ComputeType.float32, .int8] {
            let model = try WhisperModel(directory: directory, computeType: computeType)
            var state = model.makeDecoderState(encoderOutput: model.encode(try voiceNoteWindow()), batch: 1)
            XCTAssertEqual(state.crossKeyValues.halves != nil, computeType == .int8, "\(computeType): half-precision keys")
            XCTAssertEqual(state.crossKeyValues.floats != nil, computeType == .float32, "\(computeType): float keys")
            let logits = model.decode([prompt], state: &state)
            best[computeType] = logits.indices.max { logits[$0] < logits[$1] }
        }
        XCTAssertNotNil(best[.int8])
        XCTAssertEqual(best[.int8], best[.float32])
    }

    /// Cross-attention reads half-precision keys and values in place for up to 32 rows and
    /// widens a head's for BLAS past that: on both paths, the attention of their float copies,
    /// bit for bit.
    func testHalfCrossKeysAndValuesGiveTheAttentionOfTheirWidenedCopies() {
        let width = 128, heads = 2, positions = 300, layers = 2
        var random = SystemRandomNumberGenerator()
        let count = layers * 2 * positions * width
        let halves = LargeBlock<UInt16>(count: count), floats = LargeBlock<Float>(count: count)
        for i in 0..<count { halves.base[i] = Float16(Float.random(in: -2...2, using: &random)).bitPattern }
        hark_f16_to_f32(halves.base, floats.base, count)
        let fromHalves = DecoderState(batch: 1, width: width, heads: heads, capacity: 64, layers: layers,
                                      crossKeyValues: .float16(halves), audioPositions: positions)
        let fromFloats = DecoderState(batch: 1, width: width, heads: heads, capacity: 64, layers: layers,
                                      crossKeyValues: .float32(floats), audioPositions: positions)
        for rows in [1, 5, DecoderState.fewRows + 8] {
            let query = (0..<(rows * width)).map { _ in Float.random(in: -1...1, using: &random) }
            for layer in 0..<layers {
                let expected = fromFloats.crossAttention(layer: layer, query: query, rows: rows)
                XCTAssertEqual(fromHalves.crossAttention(layer: layer, query: query, rows: rows), expected,
                               "\(rows) rows, layer \(layer)")
                XCTAssertTrue(expected.contains { $0 != 0 })
            }
        }
    }
}
