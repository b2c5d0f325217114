import Foundation
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
}
