import CHarkKernels
import HarkTokenizer

/// The rules that shape Whisper's next-token distribution at every step, as CTranslate2
/// applies them for faster-whisper: suppressed tokens, no blank at the start, and the timestamp
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

    /// Turns one hypothesis' raw logits into log-probabilities in place, after the rules, as
    /// CTranslate2 does: suppressions on the logits, then the timestamp grammar, then (where
    /// the grammar allows text) a timestamp is forced when the timestamps' total probability
    /// exceeds that of every other token; finally log-softmax.
    /// - Parameter generated: the tokens this hypothesis generated so far in the window.
    public func logProbabilities(_ scores: UnsafeMutableBufferPointer<Float>, generated: ArraySlice<Int>) {
        apply(scores, generated: generated)
        Scores.logSoftmax(scores)
    }

    /// The rules of ``logProbabilities(_:generated:)`` on the logits, in place, without the
    /// final log-softmax: a disallowed token's logit becomes -infinity.
    public func apply(_ scores: UnsafeMutableBufferPointer<Float>, generated: ArraySlice<Int>) {
        let vocabulary = scores.count
        func disable(_ range: Range<Int>) {
            for token in max(0, range.lowerBound)..<min(vocabulary, range.upperBound) { scores[token] = -.infinity }
        }
        for token in suppressedTokens where (0..<vocabulary).contains(token) { scores[token] = -.infinity }
        if generated.isEmpty {
            for token in suppressedAtBegin where (0..<vocabulary).contains(token) { scores[token] = -.infinity }
        }
        var checkTimestampMass = false
        if timestamps {
            let begin = special.timestampBegin
            scores[special.noTimestamps] = -.infinity
            if let last = generated.last {
                let penultimate = generated.count >= 2 ? generated[generated.index(generated.endIndex, offsetBy: -2)] : last
                if last >= begin {
                    if penultimate >= begin {
                        disable(begin..<vocabulary)          // a pair just closed: text or end next
                    } else {
                        disable(0..<special.eot)              // text then a timestamp: close the pair
                        disable(begin..<last)                 // never going back in time
                        checkTimestampMass = true
                    }
                } else {
                    checkTimestampMass = true
                    if let lastTimestamp = generated.last(where: { $0 >= begin }) {
                        disable(begin..<(lastTimestamp + 1))  // a new segment starts after the last one
                    }
                }
            } else {
                disable(0..<begin)                            // the window opens with a timestamp…
                if let maxInitialTimestampIndex {             // …no later than the allowed one
                    disable((begin + maxInitialTimestampIndex + 1)..<vocabulary)
                }
            }
        }
        if checkTimestampMass {
            // log-softmax shifts every score by the same constant, so comparing the
            // timestamps' log-sum-exp with the best text score on the logits themselves
            // decides as on log-probabilities, without a copy and a second softmax.
            let begin = special.timestampBegin
            let timestampMass = Scores.logSumExp(scores, begin..<vocabulary)
            let bestText = scores.baseAddress.map { hark_max($0, min(begin, vocabulary)) } ?? -.infinity
            if timestampMass > bestText { disable(0..<begin) }
        }
    }
}

/// Numerically careful helpers over score vectors.
public enum Scores {
    /// `log(softmax(x))` in place.
    public static func logSoftmax(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let base = x.baseAddress else { return }
        let shift = hark_log_sum_exp(base, x.count)
        for i in x.indices { x[i] -= shift }
    }

    /// `log Σ exp(x[i])` over a range.
    public static func logSumExp(_ x: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>) -> Float {
        guard let base = x.baseAddress, !range.isEmpty else { return -.infinity }
        return hark_log_sum_exp(base + range.lowerBound, range.count)
    }
}

#if canImport(Glibc)
import Glibc
#endif
