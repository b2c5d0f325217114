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

    /// The full text: the segments' texts joined.
    public var text: String { segments.map(\.text).joined() }
}
