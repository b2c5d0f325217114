internal import Foundation
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
        return languageProbabilities(encoderOutput: model.encode(window), tokenizer: tokenizer)
    }

    /// The language tokens' probabilities after the start-of-transcript token.
    func languageProbabilities(encoderOutput: [Float], tokenizer: Tokenizer) -> LanguageDetection {
        var state = model.makeDecoderState(encoderOutput: encoderOutput, batch: 1)
        let logits = model.decode([[tokenizer.specialTokens.sot]], state: &state)
        let known = tokenizer.languageCodes.compactMap { code in tokenizer.languageToken(for: code).map { (code, $0) } }
        guard !known.isEmpty else {
            return LanguageDetection(language: "en", probability: 1, candidates: [.init(language: "en", probability: 1)])
        }
        let values = known.map { Double(logits[$0.1]) }
        let maximum = values.max() ?? 0
        let weights = values.map { exp($0 - maximum) }
        let total = weights.reduce(0, +)
        let candidates = zip(known, weights).map { LanguageDetection.Candidate(language: $0.0, probability: $1 / total) }
            .sorted { $0.probability > $1.probability }
        return LanguageDetection(language: candidates[0].language, probability: candidates[0].probability, candidates: candidates)
    }
}
