internal import HarkFeatures
internal import HarkModel
internal import HarkTokenizer

/// The language spoken in a recording, as the model hears its first 30 seconds.
public struct LanguageDetection: Sendable, Equatable, Codable {
    /// The most likely language's code.
    public var language: String
    /// Its probability.
    public var probability: Double
    /// Every language the model knows, with its probability, most likely first.
    public var candidates: [Candidate]

    /// A language and its probability.
    public struct Candidate: Sendable, Equatable, Codable {
        /// The language's code.
        public var language: String
        /// Its probability, from 0 to 1.
        public var probability: Double
    }
}

extension Transcriber {
    /// Detects the language spoken in the first 30 seconds of a recording (openai-whisper's
    /// `detect_language`: the decoder's first step, over the language tokens). An English-only
    /// model answers English with probability 1.
    public func detectLanguage(_ input: AudioInput) throws(TranscriptionError) -> LanguageDetection {
        let tokenizer = try tokenizer()
        guard tokenizer.isMultilingual else {
            return LanguageDetection(language: "en", probability: 1, candidates: [.init(language: "en", probability: 1)])
        }
        var prepared = try PreparedAudio(input, melCount: model.dimensions.melCount)
        let frames = min(MelSpectrogram.windowFrames, prepared.features.contentFrameCount)
        let window: [Float]
        do { window = try prepared.features.window(startingAt: 0, frames: frames) } catch {
            throw TranscriptionError(.audio, "\(error)")
        }
        return runOnOwnThreads {
            WhisperWindowModel(model: model, configuration: configuration).languages(encoderOutput: model.encode(window),
                                                                                     tokenizer: tokenizer)
        }
    }
}
