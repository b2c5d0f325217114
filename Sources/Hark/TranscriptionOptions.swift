/// What to ask of the model.
public enum TranscriptionTask: String, Sendable, CaseIterable, Codable {
    /// Text in the spoken language.
    case transcribe
    /// English text, whatever the spoken language (multilingual models).
    case translate
}

/// How a recording is transcribed. The defaults are faster-whisper's, and `hark transcribe`'s.
///
/// Encoded with faster-whisper's parameter names (`beam_size`, `best_of`, `temperature`, …);
/// decoding fills what is missing with the defaults.
public struct TranscriptionOptions: Sendable, Equatable, Codable {
    /// The spoken language's code; `nil` detects it (multilingual models) or means English.
    public var language: String?
    /// Transcribe, or translate to English.
    public var task: TranscriptionTask = .transcribe
    /// Beams at temperature 0 (1 = greedy).
    public var beamSize = 5
    /// Samples per window at temperatures above 0.
    public var bestOf = 5
    /// Beam search patience: how many finished hypotheses to wait for, as a multiple of the beam.
    public var patience = 1.0
    /// The exponent of the length normalisation of hypothesis scores.
    public var lengthPenalty = 1.0
    /// Temperatures tried in turn while a window's decoding looks wrong.
    public var temperatures: [Double] = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    /// A decoding whose text compresses better than this is a repetition loop.
    public var compressionRatioThreshold: Double? = 2.4
    /// A decoding whose average log-probability is below this is unreliable.
    public var logProbThreshold: Double? = -1
    /// A window whose no-speech probability exceeds this (with a low log-probability) is silence.
    public var noSpeechThreshold: Double? = 0.6
    /// Feed each window's text to the next as a prompt.
    public var conditionOnPreviousText = true
    /// Above this temperature the prompt history is dropped.
    public var promptResetOnTemperature = 0.5
    /// Text that primes the first window (names, spelling, style).
    public var initialPrompt: String?
    /// Decode text only, without timestamp tokens.
    public var withoutTimestamps = false
    /// The latest a window's first timestamp may be, in seconds.
    public var maxInitialTimestamp = 1.0
    /// Forbid a blank or end of text as a window's first token.
    public var suppressBlank = true
    /// Windows whose loudest log10-mel value is below this (about −70 dBFS) are silence and
    /// skipped without decoding; `nil` decodes everything, as faster-whisper does.
    public var silenceThreshold: Double? = -5
    /// Drop a window's text when even the last temperature produced a repetition loop
    /// (compression ratio above the threshold); faster-whisper keeps it.
    public var dropRepetitiveText = true
    /// Seed of the sampler used above temperature 0, for reproducible results.
    public var seed: UInt64 = 0

    /// The defaults.
    public init() {}

    /// Beam width and samples per window: each hypothesis keeps its own cache of the
    /// decoder's keys and values (11 MB at base's full context), so 32 bounds one window's
    /// memory to a few hundred MB.
    public static let hypotheses = 1...32
    /// Sampling temperatures (openai-whisper's fallback goes up to 1).
    public static let temperatureRange = 0.0...2.0

    /// Checks every option against its range; ``Transcriber`` does so before it starts.
    /// - Throws: ``TranscriptionError/Kind/invalidOptions`` naming the option.
    public func validate() throws(TranscriptionError) {
        func fail(_ what: String) -> TranscriptionError { TranscriptionError(.invalidOptions, what) }
        guard Self.hypotheses.contains(beamSize) else { throw fail("beam size must be from 1 to 32 (got \(beamSize))") }
        guard Self.hypotheses.contains(bestOf) else { throw fail("best of must be from 1 to 32 (got \(bestOf))") }
        guard temperatures.count <= 32, temperatures.allSatisfy({ $0.isFinite && Self.temperatureRange.contains($0) }) else {
            throw fail("temperatures must be at most 32 numbers from 0 to 2 (got \(temperatures))")
        }
        guard patience.isFinite, patience > 0 else { throw fail("patience must be a number above 0 (got \(patience))") }
        for (name, value) in [("length penalty", lengthPenalty), ("max initial timestamp", maxInitialTimestamp),
                              ("prompt reset temperature", promptResetOnTemperature)] where !value.isFinite || value < 0 {
            throw fail("\(name) must be a number from 0 (got \(value))")
        }
        for (name, value) in [("compression ratio threshold", compressionRatioThreshold), ("log-prob threshold", logProbThreshold),
                              ("no-speech threshold", noSpeechThreshold), ("silence threshold", silenceThreshold)] {
            if let value, !value.isFinite { throw fail("\(name) must be a finite number or off (got \(value))") }
        }
    }

    enum CodingKeys: String, CodingKey {
        case language, task, patience, seed
        case beamSize = "beam_size", bestOf = "best_of", lengthPenalty = "length_penalty", temperatures = "temperature"
        case compressionRatioThreshold = "compression_ratio_threshold", logProbThreshold = "log_prob_threshold"
        case noSpeechThreshold = "no_speech_threshold", conditionOnPreviousText = "condition_on_previous_text"
        case promptResetOnTemperature = "prompt_reset_on_temperature", initialPrompt = "initial_prompt"
        case withoutTimestamps = "without_timestamps", maxInitialTimestamp = "max_initial_timestamp"
        case suppressBlank = "suppress_blank", silenceThreshold = "silence_threshold"
        case dropRepetitiveText = "drop_repetitive_text"
    }

    /// Reads options; a key that is missing keeps its default (a threshold given as `null` is off).
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ current: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? current }
        func optional<T: Decodable>(_ key: CodingKeys, _ current: T?) throws -> T? {
            c.contains(key) ? try c.decodeIfPresent(T.self, forKey: key) : current
        }
        language = try optional(.language, language)
        task = try value(.task, task)
        beamSize = try value(.beamSize, beamSize)
        bestOf = try value(.bestOf, bestOf)
        patience = try value(.patience, patience)
        lengthPenalty = try value(.lengthPenalty, lengthPenalty)
        temperatures = try value(.temperatures, temperatures)
        compressionRatioThreshold = try optional(.compressionRatioThreshold, compressionRatioThreshold)
        logProbThreshold = try optional(.logProbThreshold, logProbThreshold)
        noSpeechThreshold = try optional(.noSpeechThreshold, noSpeechThreshold)
        conditionOnPreviousText = try value(.conditionOnPreviousText, conditionOnPreviousText)
        promptResetOnTemperature = try value(.promptResetOnTemperature, promptResetOnTemperature)
        initialPrompt = try optional(.initialPrompt, initialPrompt)
        withoutTimestamps = try value(.withoutTimestamps, withoutTimestamps)
        maxInitialTimestamp = try value(.maxInitialTimestamp, maxInitialTimestamp)
        suppressBlank = try value(.suppressBlank, suppressBlank)
        silenceThreshold = try optional(.silenceThreshold, silenceThreshold)
        dropRepetitiveText = try value(.dropRepetitiveText, dropRepetitiveText)
        seed = try value(.seed, seed)
    }

    /// Writes every option (a threshold that is off as `null`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(language, forKey: .language)
        try c.encode(task, forKey: .task)
        try c.encode(beamSize, forKey: .beamSize)
        try c.encode(bestOf, forKey: .bestOf)
        try c.encode(patience, forKey: .patience)
        try c.encode(lengthPenalty, forKey: .lengthPenalty)
        try c.encode(temperatures, forKey: .temperatures)
        try c.encode(compressionRatioThreshold, forKey: .compressionRatioThreshold)
        try c.encode(logProbThreshold, forKey: .logProbThreshold)
        try c.encode(noSpeechThreshold, forKey: .noSpeechThreshold)
        try c.encode(conditionOnPreviousText, forKey: .conditionOnPreviousText)
        try c.encode(promptResetOnTemperature, forKey: .promptResetOnTemperature)
        try c.encode(initialPrompt, forKey: .initialPrompt)
        try c.encode(withoutTimestamps, forKey: .withoutTimestamps)
        try c.encode(maxInitialTimestamp, forKey: .maxInitialTimestamp)
        try c.encode(suppressBlank, forKey: .suppressBlank)
        try c.encode(silenceThreshold, forKey: .silenceThreshold)
        try c.encode(dropRepetitiveText, forKey: .dropRepetitiveText)
        try c.encode(seed, forKey: .seed)
    }
}

/// How far a transcription has got.
public struct TranscriptionProgress: Sendable {
    /// Seconds of audio transcribed so far.
    public var secondsDone: Double
    /// The recording's duration in seconds.
    public var duration: Double
    /// The segments completed in the latest window.
    public var newSegments: [Segment]

    /// The fraction done, 0 to 1.
    public var fraction: Double { duration > 0 ? min(1, secondsDone / duration) : 1 }
}
