import Foundation
import HarkDecoding
import HarkModel
import HarkTokenizer

/// The real window model: Whisper's encoder, and a ``WindowDecoder`` with Whisper's logit rules.
struct WhisperWindowModel: WindowModel {
    let model: WhisperModel
    let configuration: ModelConfiguration

    var textContext: Int { model.dimensions.textContext }

    func encode(_ window: [Float]) -> [Float] { model.encode(window) }

    /// The most likely language (see ``languages(encoderOutput:tokenizer:)``).
    func detectLanguage(encoderOutput: [Float], tokenizer: Tokenizer) -> (code: String, probability: Double) {
        let detection = languages(encoderOutput: encoderOutput, tokenizer: tokenizer)
        return (detection.language, detection.probability)
    }

    /// Every language's probability from the decoder's first step: a softmax over the
    /// language tokens' logits after the start-of-transcript token.
    func languages(encoderOutput: [Float], tokenizer: Tokenizer) -> LanguageDetection {
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
        let best = weights.indices.max { weights[$0] < weights[$1] } ?? 0
        let candidates = zip(known, weights).map { LanguageDetection.Candidate(language: $0.0, probability: $1 / total) }
            .sorted { $0.probability > $1.probability }
        return LanguageDetection(language: known[best].0, probability: weights[best] / total, candidates: candidates)
    }

    /// A decoder with the rules of this transcription: the configuration's suppressed tokens
    /// and the special ones, the blank at the start, timestamps (or not) and the latest first one.
    func makeDecoder(tokenizer: Tokenizer, options: TranscriptionOptions) -> WhisperWindowDecoder {
        let special = tokenizer.specialTokens
        let suppressed = Set(configuration.suppressed(nonSpeechTokens: tokenizer.nonSpeechTokens)
                             + [special.transcribe, special.translate, special.sot,
                                special.startOfPrev, special.startOfLM, special.noSpeech])
        let rules = LogitRules(special: special, suppressedTokens: suppressed.sorted(),
                               suppressedAtBegin: options.suppressBlank ? configuration.suppressIDsBegin.filter { $0 >= 0 } : [],
                               timestamps: !options.withoutTimestamps,
                               maxInitialTimestampIndex: Int((options.maxInitialTimestamp / LongForm.secondsPerTimestamp).rounded()))
        return WhisperWindowDecoder(decoder: WindowDecoder(model: model, special: special, rules: rules),
                                    generator: SeededGenerator(seed: options.seed))
    }
}

/// ``WindowDecoder`` with the transcription's sampler.
struct WhisperWindowDecoder: WindowDecoding {
    let decoder: WindowDecoder
    var generator: SeededGenerator

    mutating func decode(encoderOutput: [Float], prompt: [Int], search: SearchOptions) -> WindowResult {
        decoder.decode(encoderOutput: encoderOutput, prompt: prompt, options: search, generator: &generator)
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
