public import Foundation
internal import HarkAudio
internal import HarkDecoding
internal import HarkFeatures
package import HarkModel
internal import HarkModelStore
package import HarkTokenizer

/// Loads a Whisper model once and transcribes any number of recordings with it.
///
/// ```swift
/// let transcriber = try Transcriber(model: "base")
/// for try await segment in transcriber.segments(of: .path("note.wav")) {
///     print(segment.text)
/// }
/// ```
///
/// Each transcriber computes on threads of its own (``threads``), so transcribers in one
/// process work at once without slowing each other beyond sharing the cores; calls on one
/// transcriber from several tasks are safe and take turns with its threads.
public final class Transcriber: Sendable {
    /// The model, as it was named when loaded.
    public let modelName: String
    /// The precision the model computes in.
    public let computeType: ComputeType
    /// The threads the model computes on.
    public let threads: Int
    /// The network.
    package let model: WhisperModel
    let configuration: ModelConfiguration
    /// The tokenizer, read on another core from `init` on (a large JSON text).
    private let pendingTokenizer: Concurrent<Tokenizer, TranscriptionError>
    private let modelPath: String

    /// Loads a model by name from the model store (see ``Models``), or from a path: a model
    /// directory, or an int8 file made by `hark quantize`.
    /// - Parameters:
    ///   - model: A name such as `base` or `tiny.en`, or a path.
    ///   - models: The model store names are looked up in.
    ///   - computeType: The precision to compute in; int8 (the default) quantizes a float
    ///     model's matrix products while loading.
    ///   - threads: The CPU threads to compute on; 0 (the default) takes the online cores, up
    ///     to 8.
    /// - Throws: ``TranscriptionError`` of kind ``TranscriptionError/Kind/modelNotFound`` (with
    ///   the command that installs the model) or ``TranscriptionError/Kind/model``.
    public convenience init(model: String = "base", in models: Models = Models(), computeType: ComputeType = .int8,
                            threads: Int = 0) throws(TranscriptionError) {
        try self.init(location: try models.location(of: model), name: model, computeType: computeType, threads: threads)
    }

    /// Loads the model at `url`: a model directory, or an int8 file made by `hark quantize`.
    /// See ``init(model:in:computeType:threads:)``.
    public convenience init(modelAt url: URL, computeType: ComputeType = .int8, threads: Int = 0) throws(TranscriptionError) {
        try self.init(location: url, name: url.path, computeType: computeType, threads: threads)
    }

    /// Loads a model with its tokenizer and configuration.
    ///
    /// The tokenizer is read on another core while the weights load. With
    /// `waitingForTokenizer: false` this returns as soon as the weights are in, and the first
    /// transcription encodes its first window while the tokenizer is still being read (a cold
    /// voice note is done sooner, most of all on a slow machine); a missing or malformed
    /// tokenizer then fails that transcription, and ``tokenizer()``, instead of this call.
    package init(location: URL, name: String, computeType: ComputeType, threads: Int = 0,
                 waitingForTokenizer: Bool = true) throws(TranscriptionError) {
        var isDirectory: ObjCBool = false
        let directory = FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory) && isDirectory.boolValue
        modelPath = location.path
        modelName = name
        self.computeType = computeType
        self.threads = threads > 0 ? min(threads, ComputeThreads.maximum) : ComputeThreads.count
        do throws(ModelError) {
            if directory {
                pendingTokenizer = Concurrent { () throws(TranscriptionError) in
                    do throws(TokenizerError) { return try Tokenizer(modelDirectory: location) } catch { throw .tokenizer(error) }
                }
                model = try WhisperModel(at: location, computeType: computeType.network)
                configuration = try ModelConfiguration(directory: location)
                try configuration.check(vocabularySize: model.dimensions.vocabularySize,
                                        source: location.appendingPathComponent("config.json").path)
            } else {
                let file = try SafetensorsFile(path: location.path)
                let metadata = file.metadata
                pendingTokenizer = Concurrent { () throws(TranscriptionError) in try Self.tokenizer(carriedBy: metadata, path: location.path) }
                model = try WhisperModel(int8File: file, computeType: computeType.network)
                guard let json = metadata[Int8ModelFile.Key.configuration] else {
                    throw ModelError.badConfig(path: location.path, detail: "the file carries no config.json; make it again with hark quantize")
                }
                configuration = try ModelConfiguration(json: Data(json.utf8), source: location.path + " (config.json)")
                try configuration.check(vocabularySize: model.dimensions.vocabularySize, source: location.path + " (config.json)")
            }
        } catch {
            throw .model(error)
        }
        if waitingForTokenizer { _ = try tokenizer() }
    }

    /// Whether the model knows many languages (and can translate); English-only models do not.
    public var isMultilingual: Bool {
        get throws(TranscriptionError) { try tokenizer().isMultilingual }
    }

    /// The codes of the languages the model knows (`["en"]` for an English-only model).
    public var languages: [String] {
        get throws(TranscriptionError) {
            let tokenizer = try tokenizer()
            return tokenizer.isMultilingual ? tokenizer.languageCodes : ["en"]
        }
    }

    /// The model's tokenizer, once it is read (this waits for it); throws if the model's
    /// tokenizer files are missing, malformed, or do not fit the model.
    package func tokenizer() throws(TranscriptionError) -> Tokenizer {
        let tokenizer = try pendingTokenizer.value()
        guard tokenizer.vocabularySize == model.dimensions.vocabularySize else {
            throw .model(.unsupported(path: modelPath,
                                      detail: "tokenizer has \(tokenizer.vocabularySize) tokens, model \(model.dimensions.vocabularySize)"))
        }
        return tokenizer
    }

    /// The tokenizer a Hark int8 file carries in its metadata.
    private static func tokenizer(carriedBy metadata: [String: String], path: String) throws(TranscriptionError) -> Tokenizer {
        guard let json = metadata[Int8ModelFile.Key.tokenizer] else {
            throw .model(.badConfig(path: path, detail: "the file carries no tokenizer.json; make it again with hark quantize"))
        }
        var vocabulary: [String]?
        if let listed = metadata[Int8ModelFile.Key.vocabulary] {
            guard let tokens = try? JSONDecoder().decode([String].self, from: Data(listed.utf8)) else {
                throw .model(.badConfig(path: path, detail: "its vocabulary.json is not a list of strings"))
            }
            vocabulary = tokens
        }
        do {
            return try Tokenizer(tokenizerJSON: Data(json.utf8), vocabulary: vocabulary, source: path + " (tokenizer.json)")
        } catch {
            throw .tokenizer(error)
        }
    }

    /// Transcribes a recording, on the calling thread (see ``transcript(of:options:progress:)``
    /// and ``segments(of:options:)`` for Swift concurrency).
    /// - Parameters:
    ///   - input: The recording.
    ///   - options: How to transcribe it (checked first, see ``TranscriptionOptions/validate()``).
    ///   - cancellation: Checked between windows; raising it throws a
    ///     ``TranscriptionError/Kind/cancelled`` error.
    ///   - progress: Called once at 0% when the duration is known, then after every 30-second window.
    public func transcribe(_ input: AudioInput, options: TranscriptionOptions = TranscriptionOptions(),
                           cancellation: CancellationFlag? = nil,
                           progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        try options.validate()
        var prepared = try PreparedAudio(input, melCount: model.dimensions.melCount)
        // The last window ends on a whole 10-ms frame, short of the duration by a fraction of
        // one: a finished transcription reports the whole recording done.
        var reportedAll = false
        let reporting = progress.map { report in
            { (update: TranscriptionProgress) in
                reportedAll = update.secondsDone >= update.duration
                report(update)
            }
        }
        var transcript = try transcribe(features: &prepared.features, duration: prepared.duration, options: options,
                                        cancellation: cancellation, progress: reporting)
        if let progress, !reportedAll {
            progress(TranscriptionProgress(secondsDone: prepared.duration, duration: prepared.duration, newSegments: []))
        }
        transcript.statistics.features += prepared.firstPass
        transcript.model = modelName
        transcript.computeType = computeType
        return transcript
    }

    /// Transcribes a recording on disk, streaming it in bounded memory.
    package func transcribe(path: String, options: TranscriptionOptions = TranscriptionOptions(),
                            cancellation: CancellationFlag? = nil,
                            progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        try transcribe(.path(path), options: options, cancellation: cancellation, progress: progress)
    }

    /// Transcribes 16 kHz mono samples held in memory.
    package func transcribe(samples: [Float], options: TranscriptionOptions = TranscriptionOptions(),
                            cancellation: CancellationFlag? = nil,
                            progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        try transcribe(.samples(samples, sampleRate: AudioReader.sampleRate), options: options,
                       cancellation: cancellation, progress: progress)
    }

    // MARK: The long-form loop (faster-whisper's `generate_segments`)

    static let framesPerSecond = 100.0
    static let secondsPerTimestamp = 0.02
    /// Mel frames per encoder position.
    static let inputStride = 2

    func transcribe<F: FeatureSource>(features: inout F, duration: Double, options: TranscriptionOptions,
                                      cancellation: CancellationFlag?,
                                      progress: ((TranscriptionProgress) -> Void)?) throws(TranscriptionError) -> Transcript {
        let contentFrames = features.contentFrameCount
        var language = "en"
        var languageProbability = 1.0
        var seek = 0
        var encoded: (seek: Int, output: [Float], loudness: Float)?
        var statistics = TranscriptionStatistics()

        /// The encoder output of the window at `seek`, and its loudest log10-mel value.
        func encodeWindow(at seek: Int) throws(TranscriptionError) -> (output: [Float], loudness: Float) {
            if let encoded, encoded.seek == seek { return (encoded.output, encoded.loudness) }
            let size = min(MelSpectrogram.windowFrames, contentFrames - seek)
            let featuresStarted = ContinuousClock.now
            let window: [Float]
            do { window = try features.window(startingAt: seek, frames: size) } catch let error as AudioError {
                throw .audio(error)
            } catch {
                throw .audio(.decodingFailed(path: "", detail: "\(error)"))
            }
            let encoderStarted = ContinuousClock.now
            statistics.features += (encoderStarted - featuresStarted).seconds
            let output = model.encode(window)
            statistics.encoder += (ContinuousClock.now - encoderStarted).seconds
            statistics.windows += 1
            let loudness = Self.loudness(of: window, frames: size)
            encoded = (seek, output, loudness)
            return (output, loudness)
        }

        // Every transcription starts with the window at 0, which needs no tokenizer: encoding
        // it first gives a tokenizer still being read (see `init`) the time to finish. Options
        // the tokenizer must vouch for (another language, translation) are checked first, so
        // that a wrong one fails at once.
        let optionsToCheck = options.task == .translate || options.language.map { $0 != "en" } ?? false
        if contentFrames > 0 && !optionsToCheck { _ = try encodeWindow(at: 0) }
        let tokenizer = try tokenizer()
        let special = tokenizer.specialTokens
        if tokenizer.isMultilingual {
            if let code = options.language {
                guard tokenizer.languageToken(for: code) != nil else {
                    throw .unknownLanguage(code, known: tokenizer.languageCodes)
                }
                language = code
            } else {
                (language, languageProbability) = detectLanguage(encoderOutput: try encodeWindow(at: 0).output, tokenizer: tokenizer)
            }
        } else {
            if let code = options.language, code != "en" { throw .unknownLanguage(code, known: ["en"]) }
            if options.task == .translate { throw .needsMultilingualModel("translation") }
        }

        var sotSequence = [special.sot]
        if tokenizer.isMultilingual, let languageToken = tokenizer.languageToken(for: language) {
            sotSequence += [languageToken, options.task == .translate ? special.translate : special.transcribe]
        }
        if options.withoutTimestamps { sotSequence.append(special.noTimestamps) }

        let suppressed = Set(configuration.suppressed(nonSpeechTokens: tokenizer.nonSpeechTokens) + [special.transcribe, special.translate, special.sot,
                                                          special.startOfPrev, special.startOfLM, special.noSpeech])
        let rules = LogitRules(special: special, suppressedTokens: suppressed.sorted(),
                               suppressedAtBegin: options.suppressBlank ? configuration.suppressIDsBegin.filter { $0 >= 0 } : [],
                               timestamps: !options.withoutTimestamps,
                               maxInitialTimestampIndex: Int((options.maxInitialTimestamp / Self.secondsPerTimestamp).rounded()))
        let decoder = WindowDecoder(model: model, special: special, rules: rules)
        var generator = SeededGenerator(seed: options.seed)

        var allTokens: [Int] = []
        if let prompt = options.initialPrompt?.trimmingCharacters(in: .whitespaces), !prompt.isEmpty {
            allTokens = tokenizer.encode(" " + prompt)
        }
        var promptResetSince = 0
        var segments: [Segment] = []

        // A 0% report as soon as the duration is known, before the first window's decoding.
        progress?(TranscriptionProgress(secondsDone: 0, duration: duration, newSegments: []))
        while seek < contentFrames {
            if cancellation?.isCancelled == true { throw .cancelled }
            let windowSeek = seek
            let timeOffset = Double(seek) / Self.framesPerSecond
            let segmentSize = min(MelSpectrogram.windowFrames, contentFrames - seek)
            let segmentDuration = Double(segmentSize) / Self.framesPerSecond
            let (encoderOutput, loudness) = try encodeWindow(at: seek)
            if let threshold = options.silenceThreshold, Double(loudness) < threshold {
                // Guard: Whisper invents text ("Thank you.") on silence; a window with no
                // sound above the threshold is skipped without decoding.
                seek += segmentSize
                progress?(TranscriptionProgress(secondsDone: Double(seek) / Self.framesPerSecond, duration: duration, newSegments: []))
                continue
            }

            var prompt: [Int] = []
            let previous = allTokens[promptResetSince...]
            if !previous.isEmpty {
                prompt = [special.startOfPrev] + previous.suffix(model.dimensions.textContext / 2 - 1)
            }
            prompt += sotSequence

            let decoderStarted = ContinuousClock.now
            let decoded = decodeWithFallback(decoder, encoderOutput: encoderOutput, prompt: prompt, tokenizer: tokenizer,
                                             options: options, generator: &generator)
            statistics.decoder += (ContinuousClock.now - decoderStarted).seconds
            statistics.tokens += decoded.result.tokens.count
            if decoded.temperature > 0 { statistics.fallbacks += 1 }
            if let threshold = options.noSpeechThreshold, decoded.result.noSpeechProbability > threshold,
               !(options.logProbThreshold.map { decoded.averageLogProb > $0 } ?? false) {
                seek += segmentSize
                progress?(TranscriptionProgress(secondsDone: Double(seek) / Self.framesPerSecond, duration: duration, newSegments: []))
                continue
            }

            if options.dropRepetitiveText, let threshold = options.compressionRatioThreshold,
               decoded.compressionRatio > threshold {
                // Guard: even the last temperature looped; emit nothing rather than a
                // repetition, and start the next window without this text as a prompt.
                seek += segmentSize
                promptResetSince = allTokens.count
                progress?(TranscriptionProgress(secondsDone: Double(seek) / Self.framesPerSecond, duration: duration, newSegments: []))
                continue
            }

            let tokens = decoded.result.tokens
            var pieces: [(start: Double, end: Double, tokens: [Int])] = []
            let begin = special.timestampBegin
            let singleTimestampEnding = tokens.count >= 2 && tokens[tokens.count - 2] < begin && tokens[tokens.count - 1] >= begin
            let consecutive = tokens.indices.dropFirst().filter { tokens[$0] >= begin && tokens[$0 - 1] >= begin }
            if !consecutive.isEmpty {
                var slices = consecutive
                if singleTimestampEnding { slices.append(tokens.count) }
                var last = 0
                for current in slices {
                    let piece = Array(tokens[last..<current])
                    pieces.append((timeOffset + Double(piece[0] - begin) * Self.secondsPerTimestamp,
                                   timeOffset + Double(piece[piece.count - 1] - begin) * Self.secondsPerTimestamp, piece))
                    last = current
                }
                if singleTimestampEnding {
                    seek += segmentSize
                } else {
                    seek += (tokens[last - 1] - begin) * Self.inputStride
                }
            } else {
                var segmentEnd = segmentDuration
                if let lastTimestamp = tokens.last(where: { $0 >= begin }), lastTimestamp != begin {
                    segmentEnd = Double(lastTimestamp - begin) * Self.secondsPerTimestamp
                }
                pieces.append((timeOffset, timeOffset + segmentEnd, tokens))
                seek += segmentSize
            }

            var newSegments: [Segment] = []
            for piece in pieces {
                let text = tokenizer.decode(piece.tokens)
                guard let times = Self.segmentTimes(start: piece.start, end: piece.end, duration: duration),
                      !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
                allTokens += piece.tokens
                newSegments.append(Segment(id: segments.count + newSegments.count, seek: windowSeek, start: times.start,
                                           end: times.end, text: text,
                                           tokens: piece.tokens, temperature: decoded.temperature,
                                           avgLogprob: decoded.averageLogProb, compressionRatio: decoded.compressionRatio,
                                           noSpeechProb: decoded.result.noSpeechProbability))
            }
            segments += newSegments
            if !options.conditionOnPreviousText || decoded.temperature > options.promptResetOnTemperature {
                promptResetSince = allTokens.count
            }
            progress?(TranscriptionProgress(secondsDone: min(duration, Double(seek) / Self.framesPerSecond),
                                            duration: duration, newSegments: newSegments))
        }
        var transcript = Transcript(language: language, languageProbability: languageProbability, duration: duration,
                                    segments: segments)
        transcript.statistics = statistics
        return transcript
    }

    /// A segment's times within a recording of `duration` seconds: the end clamped to the
    /// recording's, and nil when nothing of the segment is left (it had no length, or it
    /// starts at or after the end: the window's padding, past the audio). Clamping first and
    /// filtering after is what keeps every subtitle cue of positive length.
    static func segmentTimes(start: Double, end: Double, duration: Double) -> (start: Double, end: Double)? {
        let clamped = min(end, duration)
        return clamped > start ? (start, clamped) : nil
    }

    /// The loudest log10-mel value of a window's first `frames` frames, undoing the
    /// normalisation (x + 4) / 4.
    static func loudness(of window: [Float], frames: Int) -> Float {
        let width = MelSpectrogram.windowFrames
        var maximum = -Float.infinity
        window.withUnsafeBufferPointer { values in
            for start in stride(from: 0, to: values.count, by: width) {
                for frame in 0..<min(frames, width) { maximum = max(maximum, values[start + frame]) }
            }
        }
        return maximum * 4 - 4
    }

    struct Decoded {
        var result: WindowResult
        var averageLogProb: Double
        var temperature: Double
        var compressionRatio: Double
    }

    /// faster-whisper's `generate_with_fallback`: retry at rising temperatures while the text
    /// loops (compression ratio) or the model is unsure (average log-probability), unless the
    /// window looks like silence.
    func decodeWithFallback<G: RandomNumberGenerator>(_ decoder: WindowDecoder, encoderOutput: [Float], prompt: [Int],
                                                      tokenizer: Tokenizer, options: TranscriptionOptions,
                                                      generator: inout G) -> Decoded {
        var all: [Decoded] = []
        var belowCompressionThreshold: [Decoded] = []
        let temperatures = options.temperatures.isEmpty ? [0] : options.temperatures
        for temperature in temperatures {
            var search = SearchOptions()
            search.beamSize = options.beamSize
            search.bestOf = options.bestOf
            search.patience = options.patience
            search.lengthPenalty = options.lengthPenalty
            search.temperature = temperature
            let result = decoder.decode(encoderOutput: encoderOutput, prompt: prompt, options: search, generator: &generator)
            let length = Double(result.tokens.count)
            let averageLogProb = result.score * pow(length, options.lengthPenalty) / (length + 1)
            let text = tokenizer.decode(result.tokens).trimmingCharacters(in: .whitespacesAndNewlines)
            let decoded = Decoded(result: result, averageLogProb: averageLogProb, temperature: temperature,
                                  compressionRatio: compressionRatio(text))
            all.append(decoded)
            var needsFallback = false
            if let threshold = options.compressionRatioThreshold, decoded.compressionRatio > threshold {
                needsFallback = true
            }
            if let threshold = options.logProbThreshold, averageLogProb < threshold {
                needsFallback = true
            }
            if let noSpeech = options.noSpeechThreshold, let logProb = options.logProbThreshold,
               result.noSpeechProbability > noSpeech, averageLogProb < logProb {
                needsFallback = false
            }
            if !needsFallback { return decoded }
            if options.compressionRatioThreshold.map({ decoded.compressionRatio <= $0 }) ?? true {
                belowCompressionThreshold.append(decoded)
            }
        }
        let pool = belowCompressionThreshold.isEmpty ? all : belowCompressionThreshold
        var best = pool.max { $0.averageLogProb < $1.averageLogProb || $1.averageLogProb.isNaN } ?? all[all.count - 1]
        best.temperature = temperatures[temperatures.count - 1]
        return best
    }

    /// The most likely language of a window, from the decoder's first step.
    func detectLanguage(encoderOutput: [Float], tokenizer: Tokenizer) -> (String, Double) {
        var state = model.makeDecoderState(encoderOutput: encoderOutput, batch: 1)
        let logits = model.decode([[tokenizer.specialTokens.sot]], state: &state)
        let codes = tokenizer.languageCodes
        let ids = codes.compactMap { tokenizer.languageToken(for: $0) }
        guard !ids.isEmpty else { return ("en", 1) }
        let values = ids.map { Double(logits[$0]) }
        let maximum = values.max() ?? 0
        let weights = values.map { exp($0 - maximum) }
        let total = weights.reduce(0, +)
        let best = weights.indices.max { weights[$0] < weights[$1] } ?? 0
        return (codes[best], weights[best] / total)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// A small deterministic generator (SplitMix64) so sampled decodings are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Work started on another thread at once, its result collected later with ``value()``.
private final class Concurrent<Value: Sendable, Failure: Error>: @unchecked Sendable {
    private var result: Result<Value, Failure>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws(Failure) -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = Result(catching: work)
            self.done.signal()
        }
    }

    /// Waits for the work (once) and returns or throws its outcome.
    func value() throws(Failure) -> Value {
        done.wait()
        done.signal()
        guard let result else { preconditionFailure("Concurrent: signalled without a result") }
        return try result.get()
    }
}
