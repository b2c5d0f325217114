import HarkDecoding
import XCTest

@testable import Hark

/// The long-form loop with a fake model: the guards, the prompts, the language and
/// cancellation, window by window.
final class LongFormLoopTests: XCTestCase {
    private var script: Script!

    override func setUpWithError() throws {
        script = Script(tokenizer: try LongFormFakes.tokenizer())
    }

    /// Window `n` says " Window n." in one segment.
    private func speech(_ window: Int) -> [Int] {
        [script.at(0)] + script.text(" Window \(window).") + [script.at(5)]
    }

    // MARK: Guards

    /// A window without sound above the threshold is skipped without being decoded.
    func testASilentWindowIsSkippedWithoutDecoding() throws {
        let s = script!, model = FakeWindowModel { s.result(self.speech($0.window)) }
        var features = FakeFeatures(seconds: 90, silent: [30..<60])
        var reports: [Double] = []
        let transcript = try s.transcribe(&features, model: model) { reports.append($0.secondsDone) }
        XCTAssertEqual(model.encodes, 3)
        XCTAssertEqual(model.decodedWindows, [0, 2])
        XCTAssertEqual(transcript.segments.map(\.text), [" Window 0.", " Window 2."])
        XCTAssertEqual(transcript.segments.map(\.seek), [0, 6000])
        XCTAssertEqual(reports, [0, 30, 60, 90])

        var options = TranscriptionOptions()
        options.silenceThreshold = nil
        let everything = FakeWindowModel { s.result(self.speech($0.window)) }
        features = FakeFeatures(seconds: 90, silent: [30..<60])
        XCTAssertEqual(try s.transcribe(&features, model: everything, options: options).segments.count, 3)
        XCTAssertEqual(everything.decodedWindows, [0, 1, 2])
    }

    /// Some sound anywhere in the window is enough to decode it.
    func testAWindowWithSomeSoundIsDecoded() throws {
        let s = script!, model = FakeWindowModel { s.result(self.speech($0.window)) }
        var features = FakeFeatures(seconds: 60, silent: [0..<29.9, 30.1..<60])
        _ = try s.transcribe(&features, model: model)
        XCTAssertEqual(model.decodedWindows, [0, 1])
    }

    /// Likely no speech and unsure text: the window is skipped; likely no speech but sure
    /// text is kept.
    func testANoSpeechWindowIsSkipped() throws {
        let s = script!
        let model = FakeWindowModel { call in
            switch call.window {
            case 0: s.result(self.speech(0), averageLogProb: -1.5, noSpeech: 0.9)
            case 1: s.result(self.speech(1), averageLogProb: -0.5, noSpeech: 0.9)
            default: s.result(self.speech(2))
            }
        }
        var features = FakeFeatures(seconds: 90)
        var reports: [Double] = []
        let transcript = try s.transcribe(&features, model: model) { reports.append($0.secondsDone) }
        XCTAssertEqual(model.calls.map(\.window), [0, 1, 2], "silence is not retried at higher temperatures")
        XCTAssertEqual(transcript.segments.map(\.text), [" Window 1.", " Window 2."])
        XCTAssertEqual(transcript.segments.map(\.seek), [3000, 6000])
        XCTAssertEqual(reports, [0, 30, 60, 90])
        XCTAssertEqual(model.calls[1].prompt, [s.special.sot], "a skipped window adds nothing to the prompt")
    }

    /// Every temperature loops: the window's text is dropped and the next window's prompt
    /// starts afresh; without `dropRepetitiveText`, it is kept.
    func testARepetitionIsDroppedAndResetsThePrompt() throws {
        let s = script!
        let model = FakeWindowModel { call in call.window == 1 ? s.result(s.loop) : s.result(self.speech(call.window)) }
        var features = FakeFeatures(seconds: 90)
        let transcript = try s.transcribe(&features, model: model)
        XCTAssertEqual(transcript.segments.map(\.text), [" Window 0.", " Window 2."])
        XCTAssertEqual(model.calls.filter { $0.window == 1 }.map(\.temperature), [0, 0.2, 0.4, 0.6, 0.8, 1])
        let history = [s.special.startOfPrev] + speech(0)
        XCTAssertEqual(model.calls.first { $0.window == 1 }?.prompt, history + [s.special.sot])
        XCTAssertEqual(model.calls.last?.prompt, [s.special.sot], "the prompt is reset after the dropped window")
        XCTAssertEqual(transcript.statistics.fallbacks, 1)

        var options = TranscriptionOptions()
        options.dropRepetitiveText = false
        let keeping = FakeWindowModel { call in call.window == 1 ? s.result(s.loop) : s.result(self.speech(call.window)) }
        features = FakeFeatures(seconds: 90)
        let kept = try s.transcribe(&features, model: keeping, options: options)
        XCTAssertEqual(kept.segments.count, 3)
        XCTAssertEqual(kept.segments[1].temperature, 1)
    }

    // MARK: Prompts

    /// The prompt carries the previous windows' text, at most textContext / 2 − 1 tokens of it.
    func testThePromptHistoryIsTruncated() throws {
        let s = script!
        let model = FakeWindowModel { s.result(self.speech($0.window)) }
        model.textContext = 32    // at most 15 history tokens
        var features = FakeFeatures(seconds: 90)
        _ = try s.transcribe(&features, model: model)
        XCTAssertEqual(model.calls.map(\.prompt), [
            [s.special.sot],
            [s.special.startOfPrev] + speech(0) + [s.special.sot],
            [s.special.startOfPrev] + (speech(0) + speech(1)).suffix(15) + [s.special.sot],
        ])
        XCTAssertEqual(speech(0).count, 12, "the second prompt's history is whole")
    }

    /// A window accepted above 0.5 (here at 0.6) leaves no history to the next; at 0.4 it does.
    func testThePromptIsResetAfterAHighTemperature() throws {
        let s = script!
        func model(acceptingAt temperature: Double) -> FakeWindowModel {
            FakeWindowModel { call in
                s.result(self.speech(call.window), averageLogProb: call.window == 0 && call.temperature < temperature ? -2 : -0.2)
            }
        }
        let high = model(acceptingAt: 0.6)
        var features = FakeFeatures(seconds: 60)
        let transcript = try s.transcribe(&features, model: high)
        XCTAssertEqual(transcript.segments.map(\.temperature), [0.6, 0])
        XCTAssertEqual(high.calls.last?.prompt, [s.special.sot])

        let moderate = model(acceptingAt: 0.4)
        features = FakeFeatures(seconds: 60)
        _ = try s.transcribe(&features, model: moderate)
        XCTAssertEqual(moderate.calls.last?.prompt, [s.special.startOfPrev] + speech(0) + [s.special.sot])
    }

    /// The initial prompt (trimmed, after a space) primes the first window; without
    /// conditioning on previous text, only the first.
    func testTheInitialPromptPrimesTheFirstWindow() throws {
        let s = script!
        var options = TranscriptionOptions()
        options.initialPrompt = "  Hark, Whisper. "
        let model = FakeWindowModel { s.result(self.speech($0.window)) }
        var features = FakeFeatures(seconds: 60)
        _ = try s.transcribe(&features, model: model, options: options)
        let primer = s.text(" Hark, Whisper.")
        XCTAssertEqual(model.calls.map(\.prompt), [[s.special.startOfPrev] + primer + [s.special.sot],
                                                   [s.special.startOfPrev] + primer + speech(0) + [s.special.sot]])

        options.conditionOnPreviousText = false
        let unconditioned = FakeWindowModel { s.result(self.speech($0.window)) }
        features = FakeFeatures(seconds: 60)
        _ = try s.transcribe(&features, model: unconditioned, options: options)
        XCTAssertEqual(unconditioned.calls.map(\.prompt), [[s.special.startOfPrev] + primer + [s.special.sot], [s.special.sot]])

        options.initialPrompt = "   "
        let blank = FakeWindowModel { s.result(self.speech($0.window)) }
        features = FakeFeatures(seconds: 10)
        _ = try s.transcribe(&features, model: blank, options: options)
        XCTAssertEqual(blank.calls.map(\.prompt), [[s.special.sot]])
    }

    /// The start-of-transcript sequence: language and task for a multilingual model, then
    /// `<|notimestamps|>` without timestamps.
    func testTheStartOfTranscriptSequence() throws {
        let multilingual = try LongFormFakes.tokenizer(multilingual: true)
        let special = multilingual.specialTokens
        let german = try XCTUnwrap(multilingual.languageToken(for: "de"))
        var options = TranscriptionOptions()
        XCTAssertEqual(PromptBuilder.sotSequence(tokenizer: multilingual, language: "de", options: options),
                       [special.sot, german, special.transcribe])
        options.task = .translate
        options.withoutTimestamps = true
        XCTAssertEqual(PromptBuilder.sotSequence(tokenizer: multilingual, language: "de", options: options),
                       [special.sot, german, special.translate, special.noTimestamps])
        XCTAssertEqual(PromptBuilder.sotSequence(tokenizer: script.tokenizer, language: "en", options: TranscriptionOptions()),
                       [script.special.sot])
    }

    // MARK: Language

    /// A multilingual model without a language: detected on the first window, which is
    /// encoded once, before the tokenizer is asked for.
    func testTheLanguageIsDetectedOnTheFirstWindow() throws {
        let tokenizer = try LongFormFakes.tokenizer(multilingual: true)
        let s = Script(tokenizer: tokenizer)
        let model = FakeWindowModel { _ in s.result([s.at(0)] + s.text(" Hallo.") + [s.at(1)]) }
        var features = FakeFeatures(seconds: 40)
        var encodedBeforeTokenizer: Int?
        let transcript = try LongForm.transcribe(
            features: &features, duration: 40, options: TranscriptionOptions(), model: model,
            tokenizer: { encodedBeforeTokenizer = model.encodes; return tokenizer }, cancellation: nil, progress: nil)
        XCTAssertEqual(encodedBeforeTokenizer, 1)
        XCTAssertEqual(model.detections, [0])
        XCTAssertEqual(transcript.language, "de")
        XCTAssertEqual(transcript.languageProbability, 0.75)
        XCTAssertEqual(features.requested, [0, 3000])
        let german = try XCTUnwrap(tokenizer.languageToken(for: "de"))
        XCTAssertEqual(model.calls.first?.prompt, [tokenizer.specialTokens.sot, german, tokenizer.specialTokens.transcribe])
    }

    /// A language given is checked, not detected, and checked before anything is encoded.
    func testAGivenLanguageIsCheckedFirst() throws {
        let tokenizer = try LongFormFakes.tokenizer(multilingual: true)
        let s = Script(tokenizer: tokenizer)
        var options = TranscriptionOptions()
        options.language = "en"
        let model = FakeWindowModel { _ in s.result(s.text(" Hello.")) }
        var features = FakeFeatures(seconds: 10)
        let transcript = try s.transcribe(&features, model: model, options: options)
        XCTAssertEqual([transcript.language], ["en"])
        XCTAssertEqual(transcript.languageProbability, 1)
        XCTAssertTrue(model.detections.isEmpty)

        options.language = "xx"
        let refused = FakeWindowModel { _ in s.result(s.text(" Hello.")) }
        features = FakeFeatures(seconds: 10)
        XCTAssertThrowsError(try s.transcribe(&features, model: refused, options: options)) { error in
            XCTAssertTrue("\(error)".contains("unknown language 'xx'"), "\(error)")
        }
        XCTAssertEqual(refused.encodes, 0, "refused before encoding")
    }

    /// An English-only model refuses another language and translation, before encoding.
    func testAnEnglishOnlyModelRefusesOtherLanguagesAndTranslation() throws {
        let s = script!
        var options = TranscriptionOptions()
        options.language = "de"
        let model = FakeWindowModel { _ in s.result(s.text(" Hello.")) }
        var features = FakeFeatures(seconds: 10)
        XCTAssertThrowsError(try s.transcribe(&features, model: model, options: options)) { error in
            XCTAssertTrue("\(error)".contains("unknown language 'de'"), "\(error)")
        }
        options = TranscriptionOptions()
        options.task = .translate
        XCTAssertThrowsError(try s.transcribe(&features, model: model, options: options)) { error in
            XCTAssertTrue("\(error)".contains("multilingual"), "\(error)")
        }
        XCTAssertEqual(model.encodes, 0)
        XCTAssertTrue(model.calls.isEmpty)
    }

    // MARK: Cancellation and progress

    /// Cancelling during a window stops the loop before the next one.
    func testCancellationStopsBetweenWindows() throws {
        let s = script!, model = FakeWindowModel { s.result(self.speech($0.window)) }
        let flag = CancellationFlag()
        var features = FakeFeatures(seconds: 120)
        var newSegments: [[String]] = []
        XCTAssertThrowsError(try s.transcribe(&features, model: model, cancellation: flag) { report in
            newSegments.append(report.newSegments.map(\.text))
            if report.secondsDone >= 30 { flag.cancel() }
        }) { error in
            XCTAssertEqual("\(error)", "\(TranscriptionError.cancelled)")
        }
        XCTAssertEqual(model.decodedWindows, [0])
        XCTAssertEqual(model.encodes, 1)
        XCTAssertEqual(newSegments, [[], [" Window 0."]])
    }

    /// An empty recording: one 0% report, no window, no segment.
    func testAnEmptyRecordingHasNoWindows() throws {
        let s = script!, model = FakeWindowModel { s.result(self.speech($0.window)) }
        var features = FakeFeatures(seconds: 0)
        var reports = 0
        let transcript = try s.transcribe(&features, model: model) { _ in reports += 1 }
        XCTAssertEqual(model.encodes, 0)
        XCTAssertTrue(transcript.segments.isEmpty)
        XCTAssertEqual(reports, 1)
    }

    /// The statistics count windows, fallbacks and accepted tokens.
    func testStatisticsCountWindowsFallbacksAndTokens() throws {
        let s = script!
        let model = FakeWindowModel { call in
            s.result(self.speech(call.window), averageLogProb: call.window == 1 && call.temperature == 0 ? -2 : -0.2)
        }
        var features = FakeFeatures(seconds: 90, silent: [60..<90])
        let statistics = try s.transcribe(&features, model: model).statistics
        XCTAssertEqual(statistics.windows, 3)
        XCTAssertEqual(statistics.fallbacks, 1)
        XCTAssertEqual(statistics.tokens, speech(0).count + speech(1).count)
    }
}
