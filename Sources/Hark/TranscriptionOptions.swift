/// What to ask of the model.
public enum TranscriptionTask: String, Sendable, CaseIterable {
    /// Text in the spoken language.
    case transcribe
    /// English text, whatever the spoken language (multilingual models).
    case translate
}

/// How a recording is transcribed. The defaults are faster-whisper's.
public struct TranscriptionOptions: Sendable, Equatable {
    /// The spoken language's code; `nil` detects it (multilingual models) or means English.
    public var language: String?
    public var task: TranscriptionTask = .transcribe
    /// Beams at temperature 0 (1 = greedy).
    public var beamSize = 5
    /// Samples per window at temperatures above 0.
    public var bestOf = 5
    public var patience = 1.0
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

    public init() {}
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
