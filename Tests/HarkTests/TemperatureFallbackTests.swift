@testable import HarkDecoding
import XCTest

@testable import Hark

/// Temperature fallback: which decoding of a window is accepted, at which temperature.
final class TemperatureFallbackTests: XCTestCase {
    private var script: Script!

    override func setUpWithError() throws {
        script = Script(tokenizer: try LongFormFakes.tokenizer())
    }

    /// Decodes window 0 with `answers` by temperature.
    private func decode(options: TranscriptionOptions = TranscriptionOptions(),
                        _ answers: [Double: WindowResult]) -> (decoded: DecodedWindow, model: FakeWindowModel) {
        let model = FakeWindowModel { call in
            answers[call.temperature] ?? WindowResult(tokens: [], sumLogProb: 0, score: 0, noSpeechProbability: 0)
        }
        var decoder = model
        let decoded = TemperatureFallback.decode(encoderOutput: [0], prompt: [script.special.sot], decoder: &decoder,
                                                 tokenizer: script.tokenizer, options: options)
        return (decoded, model)
    }

    private var good: [Int] { script.text(" A sentence that does not repeat itself.") }

    func testTheFirstGoodDecodingIsAcceptedAtTemperatureZero() {
        let (decoded, model) = decode([0: script.result(good)])
        XCTAssertEqual(model.calls.map(\.temperature), [0])
        XCTAssertEqual(decoded.temperature, 0)
        XCTAssertEqual(decoded.result.tokens, good)
        XCTAssertEqual(decoded.averageLogProb, -0.2, accuracy: 1e-12)
        XCTAssertLessThan(decoded.compressionRatio, 2.4)
        let search = model.searches[0]
        XCTAssertEqual([search.beamSize, search.bestOf], [5, 5])
        XCTAssertEqual([search.patience, search.lengthPenalty], [1, 1])
    }

    /// A loop at 0 (compression ratio above 2.4): decoded again at 0.2, which is accepted.
    func testALoopFallsBackToTheNextTemperature() {
        let (decoded, model) = decode([0: script.result(script.loop), 0.2: script.result(good)])
        XCTAssertEqual(model.calls.map(\.temperature), [0, 0.2])
        XCTAssertEqual(model.searches.map(\.temperature), [0, 0.2])
        XCTAssertEqual(decoded.temperature, 0.2)
        XCTAssertEqual(decoded.result.tokens, good)
    }

    /// An unsure decoding (average log-probability below −1) falls back too.
    func testALowLogProbFallsBackToTheNextTemperature() {
        let (decoded, model) = decode([0: script.result(good, averageLogProb: -1.5),
                                       0.2: script.result(good, averageLogProb: -1.2),
                                       0.4: script.result(good, averageLogProb: -0.5)])
        XCTAssertEqual(model.calls.map(\.temperature), [0, 0.2, 0.4])
        XCTAssertEqual(decoded.temperature, 0.4)
        XCTAssertEqual(decoded.averageLogProb, -0.5, accuracy: 1e-12)
    }

    /// Unsure but likely silence (no-speech probability above 0.6): no retry; the no-speech
    /// guard decides. A loop is retried all the same.
    func testLikelySilenceIsNotRetriedForItsLogProb() {
        let (decoded, model) = decode([0: script.result(good, averageLogProb: -1.5, noSpeech: 0.9)])
        XCTAssertEqual(model.calls.map(\.temperature), [0])
        XCTAssertEqual(decoded.temperature, 0)
        XCTAssertEqual(decoded.result.noSpeechProbability, 0.9)
        XCTAssertFalse(TemperatureFallback.needsFallback(decoded, options: TranscriptionOptions()))

        var options = TranscriptionOptions()
        options.logProbThreshold = nil
        XCTAssertTrue(TemperatureFallback.needsFallback(DecodedWindow(result: script.result(good, noSpeech: 0.9),
                                                                      averageLogProb: -0.2, temperature: 0,
                                                                      compressionRatio: 3), options: options))
    }

    /// Every temperature fails: the likeliest decoding that does not loop, with the last
    /// temperature recorded (faster-whisper's choice).
    func testWhenAllFailTheBestBelowTheCompressionThresholdIsKept() {
        var options = TranscriptionOptions()
        options.temperatures = [0, 0.5, 1]
        let other = script.text(" Another sentence, just as unsure.")
        let (decoded, model) = decode(options: options, [0: script.result(script.loop, averageLogProb: -0.1),
                                                         0.5: script.result(good, averageLogProb: -1.2),
                                                         1: script.result(other, averageLogProb: -1.8)])
        XCTAssertEqual(model.calls.map(\.temperature), [0, 0.5, 1])
        XCTAssertEqual(decoded.result.tokens, good, "the likelier of the two that do not loop")
        XCTAssertEqual(decoded.averageLogProb, -1.2, accuracy: 1e-12)
        XCTAssertEqual(decoded.temperature, 1, "the last temperature")
    }

    /// Every decoding loops: the likeliest of all.
    func testWhenAllLoopTheLikeliestIsKept() {
        var options = TranscriptionOptions()
        options.temperatures = [0, 0.5]
        let otherLoop = script.text(String(repeating: " again and again", count: 20))
        let (decoded, _) = decode(options: options, [0: script.result(script.loop, averageLogProb: -0.9),
                                                     0.5: script.result(otherLoop, averageLogProb: -0.3)])
        XCTAssertEqual(decoded.result.tokens, otherLoop)
        XCTAssertEqual(decoded.temperature, 0.5)
        XCTAssertGreaterThan(decoded.compressionRatio, 2.4)
    }

    /// No temperatures given: one decoding at 0. Without thresholds, no fallback.
    func testNoTemperaturesMeansZeroAndNoThresholdsMeansNoFallback() {
        var options = TranscriptionOptions()
        options.temperatures = []
        XCTAssertEqual(decode(options: options, [0: script.result(good)]).model.calls.map(\.temperature), [0])
        options = TranscriptionOptions()
        options.compressionRatioThreshold = nil
        options.logProbThreshold = nil
        let (decoded, model) = decode(options: options, [0: script.result(script.loop, averageLogProb: -5)])
        XCTAssertEqual(model.calls.count, 1)
        XCTAssertEqual(decoded.result.tokens, script.loop)
    }

    /// The average log-probability undoes the length penalty of the score: score · n^p / (n + 1).
    func testAverageLogProbUndoesTheLengthPenalty() {
        var options = TranscriptionOptions()
        options.lengthPenalty = 0.5
        let tokens = Array(good.prefix(8))
        let (decoded, model) = decode(options: options, [0: WindowResult(tokens: tokens, sumLogProb: -4, score: -2, noSpeechProbability: 0)])
        XCTAssertEqual(model.searches[0].lengthPenalty, 0.5)
        XCTAssertEqual(decoded.averageLogProb, -2 * 8.0.squareRoot() / 9, accuracy: 1e-12)
    }
}
