import CHarkKernels
import Foundation
import HarkModel
import HarkTokenizer

/// How one 30-second window is searched.
public struct SearchOptions: Sendable, Equatable {
    /// Beams for deterministic decoding (1 = greedy).
    public var beamSize: Int = 5
    /// Beam search stops once `beamSize × patience` hypotheses have finished.
    public var patience: Double = 1
    /// Scores are divided by `length ^ lengthPenalty` when ranking finished hypotheses.
    public var lengthPenalty: Double = 1
    /// Sampling temperature; 0 means deterministic (beam or greedy) search.
    public var temperature: Double = 0
    /// Independent samples drawn when `temperature > 0`; the best is kept.
    public var bestOf: Int = 5
    /// The most tokens generated in the window.
    public var maxNewTokens: Int = 224

    public init() {}
}

/// The outcome of searching one window.
public struct WindowResult: Sendable, Equatable {
    /// The generated tokens, without the end-of-text token.
    public var tokens: [Int]
    /// The sum of the tokens' log-probabilities (including end of text).
    public var sumLogProb: Double
    /// The ranking score: `sumLogProb / length ^ lengthPenalty`.
    public var score: Double
    /// The probability of `<|nospeech|>` after the start-of-transcript token.
    public var noSpeechProbability: Double
}

/// Searches the next tokens of one encoded window: greedy, beam search or sampling, with
/// the logit rules of Whisper at every step.
public struct WindowDecoder {
    let model: WhisperModel
    let special: SpecialTokens
    let rules: LogitRules

    public init(model: WhisperModel, special: SpecialTokens, rules: LogitRules) {
        self.model = model
        self.special = special
        self.rules = rules
    }

    /// Decodes a window given its encoder output and the prompt (which must contain the
    /// start-of-transcript token; the no-speech probability is read there).
    public func decode<G: RandomNumberGenerator>(encoderOutput: [Float], prompt: [Int], options: SearchOptions,
                                                 generator: inout G) -> WindowResult {
        let vocabulary = model.dimensions.vocabularySize
        let sotIndex = prompt.lastIndex(of: special.sot) ?? 0
        // CTranslate2: at most min(448 / 2, 448 − (prompt length − 1)) steps.
        let maxNewTokens = max(1, min(options.maxNewTokens, model.dimensions.textContext - (prompt.count - 1)))
        let beams = options.temperature > 0 ? 1 : max(1, options.beamSize)
        let hypotheses = options.temperature > 0 ? max(1, options.bestOf) : 1

        // Run the prompt once; its logits at the start-of-transcript token give the
        // no-speech probability, those at its last token the first step.
        var state = model.makeDecoderState(encoderOutput: encoderOutput, batch: 1)
        let rows = sotIndex == prompt.count - 1 ? [sotIndex] : [sotIndex, prompt.count - 1]
        let promptLogits = model.decode([prompt], state: &state, logitRows: rows)
        var noSpeech = Array(promptLogits[0..<vocabulary])
        noSpeech.withUnsafeMutableBufferPointer { Scores.logSoftmax($0) }
        let noSpeechProbability = Double(expf(noSpeech[special.noSpeech]))
        let firstLogits = Array(promptLogits[(rows.count - 1) * vocabulary..<(rows.count * vocabulary)])

        if options.temperature > 0 {
            return sample(state: state, firstLogits: firstLogits, samples: hypotheses, options: options,
                          maxNewTokens: maxNewTokens, noSpeech: noSpeechProbability, generator: &generator)
        }
        return beamSearch(state: state, firstLogits: firstLogits, beams: beams, options: options,
                          maxNewTokens: maxNewTokens, noSpeech: noSpeechProbability)
    }

    /// Log-probabilities after the rules, for one hypothesis.
    private func logProbabilities(_ logits: ArraySlice<Float>, generated: [Int]) -> [Float] {
        var scores = Array(logits)
        scores.withUnsafeMutableBufferPointer { rules.logProbabilities($0, generated: generated[...]) }
        return scores
    }

    /// CTranslate2's final score: the summed log-probability (end of text included) divided
    /// by the token count (end of text excluded) raised to the length penalty.
    private func finish(_ tokens: [Int], sumLogProb: Double, lengthPenalty: Double, noSpeech: Double) -> WindowResult {
        let score = sumLogProb / pow(Double(tokens.count), lengthPenalty)
        return WindowResult(tokens: tokens, sumLogProb: sumLogProb, score: score, noSpeechProbability: noSpeech)
    }

    private static func best(_ results: [WindowResult], noSpeech: Double) -> WindowResult {
        results.enumerated().max { a, b in
            a.element.score < b.element.score || (a.element.score == b.element.score && a.offset > b.offset)
        }?.element ?? WindowResult(tokens: [], sumLogProb: 0, score: -.infinity, noSpeechProbability: noSpeech)
    }

    // MARK: Beam search (greedy when beams == 1)

    /// CTranslate2's beam search: at each step the 2·beams best continuations over all beams;
    /// an end of text among the first `beams` finishes that hypothesis and its slot goes to
    /// the next candidate that does not end; the search stops once `beams × patience`
    /// hypotheses have finished, or at the step limit, where the live beams finish as they are.
    private func beamSearch(state initialState: DecoderState, firstLogits: [Float], beams: Int, options: SearchOptions,
                            maxNewTokens: Int, noSpeech: Double) -> WindowResult {
        struct Beam { var tokens: [Int]; var logProb: Double }
        var alive = [Beam(tokens: [], logProb: 0)]
        var finished: [WindowResult] = []
        var state = initialState
        var logits = firstLogits
        let wanted = max(1, Int((Double(beams) * options.patience).rounded()))

        for step in 0..<maxNewTokens {
            let lastStep = step == maxNewTokens - 1
            var candidates: [(beam: Int, token: Int, logProb: Double)] = []
            let best = bestNextTokens(&logits, histories: alive.map(\.tokens), count: 2 * beams)
            for (index, beam) in alive.enumerated() {
                for (token, logProb) in best[index] {
                    candidates.append((index, token, beam.logProb + Double(logProb)))
                }
            }
            // Stable: equal scores keep beam-then-token order.
            candidates = candidates.enumerated().sorted {
                $0.element.logProb > $1.element.logProb || ($0.element.logProb == $1.element.logProb && $0.offset < $1.offset)
            }.map(\.element)
            candidates = Array(candidates.prefix(2 * beams))
            var next: [Beam] = []
            var parents: [Int] = []
            var spare = beams    // replacements come from candidates beams ..< 2·beams, in order
            for k in 0..<min(beams, candidates.count) {
                var candidate = candidates[k]
                if candidate.token == special.eot || lastStep {
                    let tokens = alive[candidate.beam].tokens + (candidate.token == special.eot ? [] : [candidate.token])
                    finished.append(finish(tokens, sumLogProb: candidate.logProb,
                                           lengthPenalty: options.lengthPenalty, noSpeech: noSpeech))
                    if lastStep { continue }
                    while spare < candidates.count && candidates[spare].token == special.eot { spare += 1 }
                    guard spare < candidates.count else { continue }
                    candidate = candidates[spare]
                    spare += 1
                }
                next.append(Beam(tokens: alive[candidate.beam].tokens + [candidate.token], logProb: candidate.logProb))
                parents.append(candidate.beam)
            }
            if lastStep || finished.count >= wanted || next.isEmpty { break }
            if parents != Array(0..<state.batch) { state.reorder(parents) }
            alive = next
            logits = model.decode(alive.map { [$0.tokens[$0.tokens.count - 1]] }, state: &state)
        }
        return Self.best(finished, noSpeech: noSpeech)
    }

    // MARK: Sampling

    /// `samples` independent draws from the rule-shaped distribution sharpened or flattened
    /// by the temperature; scored on the untempered log-probabilities; the best is kept.
    private func sample<G: RandomNumberGenerator>(state initialState: DecoderState, firstLogits: [Float], samples: Int,
                                                  options: SearchOptions, maxNewTokens: Int, noSpeech: Double,
                                                  generator: inout G) -> WindowResult {
        let vocabulary = model.dimensions.vocabularySize
        var state = initialState
        state.reorder(Array(repeating: 0, count: samples))
        var tokens = Array(repeating: [Int](), count: samples)
        var logProbs = Array(repeating: 0.0, count: samples)
        var done = Array(repeating: false, count: samples)
        var logits = [Float]()
        for _ in 0..<samples { logits += firstLogits }
        for step in 0..<maxNewTokens {
            var inputs: [[Int]] = []
            for s in 0..<samples {
                guard !done[s] else { inputs.append([special.eot]); continue }
                let plain = logProbabilities(logits[(s * vocabulary)..<((s + 1) * vocabulary)], generated: tokens[s])
                let token = Self.draw(plain, temperature: options.temperature, generator: &generator)
                logProbs[s] += Double(plain[token])
                if token == special.eot || step == maxNewTokens - 1 { done[s] = true }
                if token != special.eot { tokens[s].append(token) }
                inputs.append([token])
            }
            if done.allSatisfy({ $0 }) { break }
            logits = model.decode(inputs, state: &state)
        }
        return Self.best((0..<samples).map {
            finish(tokens[$0], sumLogProb: logProbs[$0], lengthPenalty: options.lengthPenalty, noSpeech: noSpeech)
        }, noSpeech: noSpeech)
    }

    /// Draws an index from `softmax(logProbs / temperature)`.
    static func draw<G: RandomNumberGenerator>(_ logProbs: [Float], temperature: Double, generator: inout G) -> Int {
        let scale = 1 / max(temperature, 1e-6)
        var maximum = -Double.infinity
        for value in logProbs { maximum = max(maximum, Double(value) * scale) }
        var weights = [Double](repeating: 0, count: logProbs.count)
        var total = 0.0
        for (index, value) in logProbs.enumerated() where value > -.infinity {
            let weight = exp(Double(value) * scale - maximum)
            weights[index] = weight
            total += weight
        }
        let threshold = Double.random(in: 0..<1, using: &generator) * total
        var cumulative = 0.0
        var last = 0
        for (index, weight) in weights.enumerated() where weight > 0 {
            cumulative += weight
            last = index
            if cumulative > threshold { return index }
        }
        return last
    }

    /// For each hypothesis (row `i` of `logits`, fed `histories[i]`), its `count` most likely
    /// next tokens after the rules and their log-probabilities, best first (equal ones lower
    /// token first). The rows are scored on the compute threads; `logits` gets the rules applied.
    private func bestNextTokens(_ logits: inout [Float], histories: [[Int]], count: Int) -> [[(token: Int, logProb: Float)]] {
        let vocabulary = model.dimensions.vocabularySize, rows = histories.count, rules = self.rules
        var tokens = [Int32](repeating: 0, count: rows * count)
        var logProbs = [Float](repeating: 0, count: rows * count)
        var found = [Int](repeating: 0, count: rows)
        logits.withUnsafeMutableBufferPointer { logits in
            tokens.withUnsafeMutableBufferPointer { tokens in
                logProbs.withUnsafeMutableBufferPointer { logProbs in
                    found.withUnsafeMutableBufferPointer { found in
                        guard let l = logits.baseAddress, let t = tokens.baseAddress, let p = logProbs.baseAddress,
                              let f = found.baseAddress else { return }
                        let shared = RowPointers(logits: l, tokens: t, logProbs: p, found: f)
                        ComputeThreads.forEach(rows) { row in
                            let scores = shared.logits + row * vocabulary
                            rules.apply(UnsafeMutableBufferPointer(start: scores, count: vocabulary),
                                        generated: histories[row][...])
                            // log-softmax shifts every logit by the same amount, so the best
                            // logits are the best log-probabilities.
                            let shift = hark_log_sum_exp(scores, vocabulary)
                            let n = hark_top_k(scores, vocabulary, count, shared.tokens + row * count,
                                               shared.logProbs + row * count)
                            for i in 0..<n { shared.logProbs[row * count + i] -= shift }
                            shared.found[row] = n
                        }
                    }
                }
            }
        }
        return (0..<rows).map { row in
            (0..<found[row]).map { (Int(tokens[row * count + $0]), logProbs[row * count + $0]) }
        }
    }
}

/// The buffers of ``WindowDecoder/bestNextTokens(_:histories:count:)``: each thread writes the
/// rows it scores, and only those.
private struct RowPointers: @unchecked Sendable {
    let logits: UnsafeMutablePointer<Float>
    let tokens: UnsafeMutablePointer<Int32>
    let logProbs: UnsafeMutablePointer<Float>
    let found: UnsafeMutablePointer<Int>
}
