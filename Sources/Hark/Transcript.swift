/// One stretch of transcribed speech, as openai-whisper's JSON has it.
public struct Segment: Sendable, Equatable, Codable {
    /// Position in the transcript, from 0.
    public var id: Int
    /// The first mel frame (10 ms each) of the window it was decoded in.
    public var seek: Int
    /// Start time in seconds.
    public var start: Double
    /// End time in seconds.
    public var end: Double
    /// The text, with Whisper's leading space.
    public var text: String
    /// The tokens, timestamps included.
    public var tokens: [Int]
    /// The sampling temperature of the window's accepted decoding.
    public var temperature: Double
    /// The window's average log-probability per token.
    public var avgLogprob: Double
    /// The window text's zlib compression ratio.
    public var compressionRatio: Double
    /// The window's probability of holding no speech.
    public var noSpeechProb: Double

    enum CodingKeys: String, CodingKey {
        case id, seek, start, end, text, tokens, temperature
        case avgLogprob = "avg_logprob", compressionRatio = "compression_ratio", noSpeechProb = "no_speech_prob"
    }
}

/// The transcription of one recording. Encoded as JSON it is the document `hark transcribe
/// -f json` writes (openai-whisper's, plus `duration`, `model` and `compute_type`).
public struct Transcript: Sendable, Equatable, Codable {
    /// The spoken language's code ("en").
    public var language: String
    /// The detection probability of `language` (1 when it was given or the model is English-only).
    public var languageProbability: Double
    /// The recording's duration in seconds.
    public var duration: Double
    /// The segments, in time order.
    public var segments: [Segment]
    /// The model, as it was named when loaded.
    public var model: String
    /// The precision the model computed in.
    public var computeType: ComputeType
    /// Where the time went (not encoded, not part of equality).
    public var statistics = TranscriptionStatistics()

    /// The full text: the segments' texts joined.
    public var text: String { segments.map(\.text).joined() }

    /// A transcript made of its parts.
    public init(language: String, languageProbability: Double, duration: Double, segments: [Segment],
                model: String = "", computeType: ComputeType = .int8) {
        self.language = language
        self.languageProbability = languageProbability
        self.duration = duration
        self.segments = segments
        self.model = model
        self.computeType = computeType
    }

    /// Equal transcriptions: the same language, duration and segments (whatever model made them).
    public static func == (a: Transcript, b: Transcript) -> Bool {
        a.language == b.language && a.languageProbability == b.languageProbability && a.duration == b.duration
            && a.segments == b.segments
    }

    enum CodingKeys: String, CodingKey {
        case text, language, duration, segments, model
        case languageProbability = "language_probability", computeType = "compute_type"
    }

    /// Reads a transcript as ``encode(to:)`` writes it (`text` is derived, so not read).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        language = try container.decode(String.self, forKey: .language)
        languageProbability = try container.decode(Double.self, forKey: .languageProbability)
        duration = try container.decode(Double.self, forKey: .duration)
        segments = try container.decode([Segment].self, forKey: .segments)
        model = try container.decodeIfPresent(String.self, forKey: .model) ?? ""
        computeType = try container.decodeIfPresent(ComputeType.self, forKey: .computeType) ?? .int8
    }

    /// Writes the transcript with its full text.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(text, forKey: .text)
        try container.encode(language, forKey: .language)
        try container.encode(languageProbability, forKey: .languageProbability)
        try container.encode(duration, forKey: .duration)
        try container.encode(segments, forKey: .segments)
        try container.encode(model, forKey: .model)
        try container.encode(computeType, forKey: .computeType)
    }
}

/// Time spent per stage of one transcription, in seconds.
public struct TranscriptionStatistics: Sendable, Equatable {
    /// Decoding the audio and computing features (both passes).
    public var features: Double = 0
    /// Running the encoder.
    public var encoder: Double = 0
    /// Searching tokens (decoder network, rules, search), fallbacks included.
    public var decoder: Double = 0
    /// 30-second windows encoded.
    public var windows = 0
    /// Windows decoded again at a higher temperature.
    public var fallbacks = 0
    /// Tokens in the accepted decodings.
    public var tokens = 0

    /// No time spent yet.
    public init() {}
}
