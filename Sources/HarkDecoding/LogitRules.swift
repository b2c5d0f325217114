import HarkTokenizer

/// The rules that shape Whisper's next-token distribution at every step, as openai-whisper
/// and CTranslate2 apply them: suppressed tokens, no blank at the start, and the timestamp
/// grammar (timestamps come in pairs, never decrease, and the first is at most
/// `maxInitialTimestamp`).
public struct LogitRules: Sendable {
    /// Token ids that may never be produced (config.json's `suppress_ids`).
    public var suppressedTokens: [Int]
    /// Token ids forbidden at the first generated step (blank and end of text).
    public var suppressedAtBegin: [Int]
    /// Whether the timestamp grammar applies (the prompt does not end with no-timestamps).
    public var timestamps: Bool
    /// The largest timestamp index allowed first (50 = 1.00 s).
    public var maxInitialTimestampIndex: Int?
    let special: SpecialTokens

    public init(special: SpecialTokens, suppressedTokens: [Int], suppressedAtBegin: [Int],
                timestamps: Bool, maxInitialTimestampIndex: Int? = 50) {
        self.special = special
        self.suppressedTokens = suppressedTokens
        self.suppressedAtBegin = suppressedAtBegin
        self.timestamps = timestamps
        self.maxInitialTimestampIndex = maxInitialTimestampIndex
    }

    /// Applies the rules to one hypothesis' log-probabilities (or logits) in place, given the
    /// tokens it generated so far in this window.
    public func apply(to scores: UnsafeMutableBufferPointer<Float>, generated: ArraySlice<Int>) {
        let vocabulary = scores.count
        for token in suppressedTokens where token < vocabulary { scores[token] = -.infinity }
        if generated.isEmpty {
            for token in suppressedAtBegin where token < vocabulary { scores[token] = -.infinity }
        }
        guard timestamps else { return }
        let begin = special.timestampBegin
        scores[special.noTimestamps] = -.infinity

        let last = generated.last
        let lastWasTimestamp = last.map { $0 >= begin } ?? false
        let penultimateWasTimestamp = generated.count < 2 || generated[generated.index(generated.endIndex, offsetBy: -2)] >= begin
        if lastWasTimestamp {
            if penultimateWasTimestamp {
                for token in begin..<vocabulary { scores[token] = -.infinity }
            } else {
                for token in 0..<special.eot { scores[token] = -.infinity }
            }
        }
        if let lastTimestamp = generated.last(where: { $0 >= begin }) {
            // Timestamps never decrease, and a segment has a nonzero length.
            let floor = lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1
            for token in begin..<min(floor, vocabulary) { scores[token] = -.infinity }
        }
        if generated.isEmpty {
            for token in 0..<begin { scores[token] = -.infinity }
            if let maxInitialTimestampIndex {
                for token in (begin + maxInitialTimestampIndex + 1)..<vocabulary { scores[token] = -.infinity }
            }
        }
    }
}

/// Numerically careful helpers over score vectors.
public enum Scores {
    /// `log(softmax(x))` in place.
    public static func logSoftmax(_ x: UnsafeMutableBufferPointer<Float>) {
        var maximum = -Float.infinity
        for v in x { maximum = max(maximum, v) }
        var sum: Float = 0
        for v in x { sum += expf(v - maximum) }
        let shift = maximum + logf(sum)
        for i in x.indices { x[i] -= shift }
    }

    /// `log Σ exp(x[i])` over a range.
    public static func logSumExp(_ x: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>) -> Float {
        var maximum = -Float.infinity
        for i in range { maximum = max(maximum, x[i]) }
        if maximum == -.infinity { return -.infinity }
        var sum: Float = 0
        for i in range { sum += expf(x[i] - maximum) }
        return maximum + logf(sum)
    }
}

#if canImport(Glibc)
import Glibc
#endif
