import Foundation
import HarkDecoding
import HarkTokenizer

/// A window's accepted decoding.
struct DecodedWindow {
    var result: WindowResult
    /// The score undone to a mean log-probability per token (end of text counted).
    var averageLogProb: Double
    /// The temperature it was decoded at (the last one tried when none passed).
    var temperature: Double
    /// The zlib compression ratio of its text: high for a repetition loop.
    var compressionRatio: Double
}

/// faster-whisper's `generate_with_fallback`: retry at rising temperatures while the text
/// loops (compression ratio) or the model is unsure (average log-probability), unless the
/// window looks like silence.
enum TemperatureFallback {
    static func decode<Decoder: WindowDecoding>(encoderOutput: [Float], prompt: [Int], decoder: inout Decoder,
                                                tokenizer: Tokenizer, options: TranscriptionOptions) -> DecodedWindow {
        var all: [DecodedWindow] = []
        var belowCompressionThreshold: [DecodedWindow] = []
        let temperatures = options.temperatures.isEmpty ? [0] : options.temperatures
        for temperature in temperatures {
            var search = SearchOptions()
            search.beamSize = options.beamSize
            search.bestOf = options.bestOf
            search.patience = options.patience
            search.lengthPenalty = options.lengthPenalty
            search.temperature = temperature
            let result = decoder.decode(encoderOutput: encoderOutput, prompt: prompt, search: search)
            let length = Double(result.tokens.count)
            let averageLogProb = result.score * pow(length, options.lengthPenalty) / (length + 1)
            let text = tokenizer.decode(result.tokens).trimmingCharacters(in: .whitespacesAndNewlines)
            let decoded = DecodedWindow(result: result, averageLogProb: averageLogProb, temperature: temperature,
                                        compressionRatio: compressionRatio(text))
            all.append(decoded)
            if !needsFallback(decoded, options: options) { return decoded }
            if options.compressionRatioThreshold.map({ decoded.compressionRatio <= $0 }) ?? true {
                belowCompressionThreshold.append(decoded)
            }
        }
        // Every temperature failed: the likeliest decoding that does not loop, if any.
        let pool = belowCompressionThreshold.isEmpty ? all : belowCompressionThreshold
        var best = pool.max { $0.averageLogProb < $1.averageLogProb || $1.averageLogProb.isNaN } ?? all[all.count - 1]
        best.temperature = temperatures[temperatures.count - 1]
        return best
    }

    /// Whether a decoding loops or is unsure, and the window does not look like silence
    /// (likely no speech and unsure: retrying would not help; the no-speech guard decides).
    static func needsFallback(_ decoded: DecodedWindow, options: TranscriptionOptions) -> Bool {
        var needsFallback = false
        if let threshold = options.compressionRatioThreshold, decoded.compressionRatio > threshold {
            needsFallback = true
        }
        if let threshold = options.logProbThreshold, decoded.averageLogProb < threshold {
            needsFallback = true
        }
        if let noSpeech = options.noSpeechThreshold, let logProb = options.logProbThreshold,
           decoded.result.noSpeechProbability > noSpeech, decoded.averageLogProb < logProb {
            needsFallback = false
        }
        return needsFallback
    }
}
