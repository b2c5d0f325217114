import HarkDecoding
import HarkTokenizer
import HarkTestSupport
import XCTest

/// The timestamp grammar, suppression and scoring helpers, on synthetic logits.
final class DecodingRulesTests: XCTestCase {
    // tiny.en's special ids.
    let special = SpecialTokens(eot: 50256, sot: 50257, translate: 50357, transcribe: 50358, startOfLM: 50359,
                                startOfPrev: 50360, noSpeech: 50361, noTimestamps: 50362, timestampBegin: 50363)
    let vocabulary = 51864

    private func logProbs(_ rules: LogitRules, generated: [Int], logits: [Float]? = nil) -> [Float] {
        var scores = logits ?? [Float](repeating: 0, count: vocabulary)
        scores.withUnsafeMutableBufferPointer { rules.logProbabilities($0, generated: generated[...]) }
        return scores
    }

    private func allowed(_ scores: [Float]) -> [Int] { scores.indices.filter { scores[$0] > -.infinity } }

    func testFirstStepIsATimestampNoLaterThanOneSecond() {
        let rules = LogitRules(special: special, suppressedTokens: [], suppressedAtBegin: [220, 50256], timestamps: true)
        let open = allowed(logProbs(rules, generated: []))
        XCTAssertEqual(open, Array(50363...50413))
        let sum = logProbs(rules, generated: []).filter { $0 > -.infinity }.reduce(0) { $0 + expf($1) }
        XCTAssertEqual(sum, 1, accuracy: 1e-4, "a distribution")
    }

    func testTimestampsComeInPairsAndNeverGoBack() {
        let rules = LogitRules(special: special, suppressedTokens: [], suppressedAtBegin: [], timestamps: true)
        // After <|0.00|> " hello" <|1.00|>: the pair must close at ≥ 1.00 or end.
        var logits = [Float](repeating: 0, count: vocabulary)
        logits[50256] = 10    // end of text likelier than all timestamps together: not forced away
        let afterText = allowed(logProbs(rules, generated: [50363, 31373, 50413], logits: logits))
        XCTAssertEqual(afterText.first, 50256, "end of text is allowed")
        XCTAssertFalse(afterText.contains(31373), "no text between paired timestamps")
        XCTAssertFalse(afterText.contains(50412), "no earlier timestamp")
        XCTAssertTrue(afterText.contains(50413))
        // After a closed pair, text or end, but no timestamp.
        let afterPair = allowed(logProbs(rules, generated: [50363, 31373, 50413, 50413]))
        XCTAssertTrue(afterPair.contains(31373))
        XCTAssertFalse(afterPair.contains { $0 >= 50363 })
        // After text, timestamps must be later than the last one.
        let midText = allowed(logProbs(rules, generated: [50363, 31373, 50413, 50413, 995]))
        XCTAssertFalse(midText.contains(50413))
        XCTAssertTrue(midText.contains(50414))
        XCTAssertFalse(midText.contains(50362), "no-timestamps is always suppressed")
    }

    func testTimestampIsForcedWhenLikelierThanAnyText() {
        let rules = LogitRules(special: special, suppressedTokens: [], suppressedAtBegin: [], timestamps: true)
        var logits = [Float](repeating: -10, count: vocabulary)
        logits[995] = 2            // the best text token
        for t in 50400..<50500 { logits[t] = 0 }   // many timestamps: their total mass wins
        let scores = logProbs(rules, generated: [50363, 31373], logits: logits)
        XCTAssertEqual(scores[995], -.infinity)
        XCTAssertGreaterThan(scores[50450], -.infinity)
    }

    func testSuppressionAndBlankAtBegin() {
        let rules = LogitRules(special: special, suppressedTokens: [1, 2, 3], suppressedAtBegin: [220, 50256], timestamps: false)
        let first = logProbs(rules, generated: [])
        XCTAssertEqual(first[220], -.infinity)
        XCTAssertEqual(first[50256], -.infinity)
        XCTAssertEqual(first[2], -.infinity)
        let later = logProbs(rules, generated: [995])
        XCTAssertGreaterThan(later[220], -.infinity)
        XCTAssertEqual(later[3], -.infinity)
    }

    func testIdsOutsideTheVocabularyAreIgnoredNotWritten() {
        // A guard behind the configuration check: an id outside the row never writes outside it.
        var row = [Float](repeating: 0, count: vocabulary + 2)
        let rules = LogitRules(special: special, suppressedTokens: [-1, -1_099_511_627_776, vocabulary, 5],
                               suppressedAtBegin: [-2, vocabulary + 1], timestamps: false)
        row.withUnsafeMutableBufferPointer { whole in
            rules.apply(UnsafeMutableBufferPointer(rebasing: whole[1..<(vocabulary + 1)]), generated: [])
        }
        XCTAssertEqual(row[0], 0, "before the row")
        XCTAssertEqual(row[vocabulary + 1], 0, "after the row")
        XCTAssertEqual(row[1 + 5], -.infinity)
    }

    func testCompressionRatioFlagsRepetition() {
        XCTAssertLessThan(compressionRatio("The quick brown fox jumps over the lazy dog."), 1.5)
        XCTAssertGreaterThan(compressionRatio(String(repeating: "thank you so much. ", count: 30)), 2.4)
        XCTAssertEqual(compressionRatio(""), 0)
    }
}
