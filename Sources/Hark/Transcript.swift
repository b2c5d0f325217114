/// One stretch of transcribed speech.
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

/// The transcription of one recording.
public struct Transcript: Sendable, Equatable {
    /// The spoken language's code ("en").
    public var language: String
    /// The detection probability of `language` (1 when it was given or the model is English-only).
    public var languageProbability: Double
    /// The recording's duration in seconds.
    public var duration: Double
    /// The segments, in time order.
    public var segments: [Segment]
    /// Where the time went (not part of equality).
    public var statistics = TranscriptionStatistics()

    /// The full text: the segments' texts joined.
    public var text: String { segments.map(\.text).joined() }

    public init(language: String, languageProbability: Double, duration: Double, segments: [Segment]) {
        self.language = language
        self.languageProbability = languageProbability
        self.duration = duration
        self.segments = segments
    }

    public static func == (a: Transcript, b: Transcript) -> Bool {
        a.language == b.language && a.languageProbability == b.languageProbability && a.duration == b.duration
            && a.segments == b.segments
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

    public init() {}
}
