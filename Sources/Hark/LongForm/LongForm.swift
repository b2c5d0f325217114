import HarkFeatures
import HarkTokenizer

/// The long-form loop (faster-whisper's `generate_segments`): a recording, window by
/// 30-second window, through the stages: encoding (``WindowEncoder``), the silence guard,
/// the prompt (``PromptBuilder``), decoding with temperature fallback
/// (``TemperatureFallback``), the no-speech and repetition guards (``WindowGuards``),
/// seeking (``WindowSeeking``) and segments (``SegmentAssembly``).
enum LongForm {
    static let framesPerSecond = 100.0
    static let secondsPerTimestamp = 0.02
    /// Mel frames per encoder position.
    static let inputStride = 2

    /// Transcribes `features` of a recording of `duration` seconds with `model`.
    /// - Parameter tokenizer: asked for once the first window is encoded (it may still be
    ///   being read), or at once when the options need it checked first.
    /// - Parameter cancellation: checked before each window.
    /// - Parameter progress: called at 0%, then after every window.
    static func transcribe<F: FeatureSource, Model: WindowModel>(
        features: inout F, duration: Double, options: TranscriptionOptions, model: Model,
        tokenizer loadTokenizer: () throws(TranscriptionError) -> Tokenizer,
        cancellation: CancellationFlag?, progress: ((TranscriptionProgress) -> Void)?
    ) throws(TranscriptionError) -> Transcript {
        var statistics = TranscriptionStatistics()
        var encoder = WindowEncoder(model: model, contentFrames: features.contentFrameCount)
        let contentFrames = encoder.contentFrames

        // Every transcription starts with the window at 0, which needs no tokenizer: encoding
        // it first gives a tokenizer still being read the time to finish.
        if contentFrames > 0 && !LanguageChoice.checksFirst(options) {
            _ = try encoder.encode(at: 0, from: &features, statistics: &statistics)
        }
        let tokenizer = try loadTokenizer()
        let language = try LanguageChoice.choose(options: options, tokenizer: tokenizer) { () throws(TranscriptionError) in
            model.detectLanguage(encoderOutput: try encoder.encode(at: 0, from: &features, statistics: &statistics).output,
                                 tokenizer: tokenizer)
        }
        var prompts = PromptBuilder(tokenizer: tokenizer, language: language.code, options: options,
                                    textContext: model.textContext)
        var decoder = model.makeDecoder(tokenizer: tokenizer, options: options)
        var segments: [Segment] = []
        var seek = 0
        /// The audio done once the windows before `seek` are: the whole recording after the
        /// last window (whose last 10-ms frame ends short of the duration by a fraction of one).
        func secondsDone() -> Double { seek >= contentFrames ? duration : min(duration, Double(seek) / framesPerSecond) }
        /// Moves past a window that leaves no segment.
        func skip(_ window: WindowSpan) {
            seek = window.end
            progress?(TranscriptionProgress(secondsDone: secondsDone(), duration: duration, newSegments: []))
        }

        // A 0% report as soon as the duration is known, before the first window's decoding.
        progress?(TranscriptionProgress(secondsDone: 0, duration: duration, newSegments: []))
        while seek < contentFrames {
            if cancellation?.isCancelled == true { throw .cancelled }
            let window = WindowSpan(seek: seek, contentFrames: contentFrames)
            let encoded = try encoder.encode(at: seek, from: &features, statistics: &statistics)
            if WindowGuards.isSilent(loudness: encoded.loudness, options: options) {
                skip(window)
                continue
            }

            let decoderStarted = ContinuousClock.now
            let decoded = TemperatureFallback.decode(encoderOutput: encoded.output, prompt: prompts.prompt(),
                                                     decoder: &decoder, tokenizer: tokenizer, options: options)
            statistics.decoder += (ContinuousClock.now - decoderStarted).seconds
            statistics.tokens += decoded.result.tokens.count
            if decoded.temperature > 0 { statistics.fallbacks += 1 }
            if WindowGuards.isNoSpeech(decoded, options: options) {
                skip(window)
                continue
            }
            if WindowGuards.isRepetition(decoded, options: options) {
                prompts.reset()
                skip(window)
                continue
            }

            let (pieces, nextSeek) = WindowSeeking.split(decoded.result.tokens, window: window,
                                                         timestampBegin: tokenizer.specialTokens.timestampBegin)
            let newSegments = SegmentAssembly.segments(pieces, window: window, decoded: decoded, duration: duration,
                                                       firstID: segments.count, tokenizer: tokenizer)
            for segment in newSegments { prompts.append(segment.tokens) }
            segments += newSegments
            prompts.finishWindow(temperature: decoded.temperature)
            seek = nextSeek
            progress?(TranscriptionProgress(secondsDone: secondsDone(),
                                            duration: duration, newSegments: newSegments))
        }
        var transcript = Transcript(language: language.code, languageProbability: language.probability,
                                    duration: duration, segments: segments)
        transcript.statistics = statistics
        return transcript
    }
}
