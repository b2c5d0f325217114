import HarkDecoding
import HarkTokenizer

/// The model side of the long-form loop: what it asks of the network for one 30-second
/// window. ``WhisperWindowModel`` runs Whisper; tests drive the loop with a scripted fake.
protocol WindowModel {
    associatedtype Decoder: WindowDecoding
    /// The decoder's text positions (448): a prompt's history keeps at most half of them.
    var textContext: Int { get }
    /// The encoder output of a mel-major window of features.
    func encode(_ window: [Float]) -> [Float]
    /// The most likely language of an encoded window, and its probability.
    func detectLanguage(encoderOutput: [Float], tokenizer: Tokenizer) -> (code: String, probability: Double)
    /// The decoder of one transcription: its rules depend on the tokenizer and the options,
    /// and its sampler starts from `options.seed`.
    func makeDecoder(tokenizer: Tokenizer, options: TranscriptionOptions) -> Decoder
}

/// Decodes encoded windows, one search (one temperature) at a time. Mutating: a sampler's
/// random state runs on from one window to the next.
protocol WindowDecoding {
    /// The tokens of an encoded window after `prompt` (which holds the start-of-transcript
    /// sequence), with their score and the window's no-speech probability.
    mutating func decode(encoderOutput: [Float], prompt: [Int], search: SearchOptions) -> WindowResult
}
