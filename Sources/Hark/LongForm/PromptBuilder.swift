import Foundation
import HarkTokenizer

/// The prompt of each window: the text decoded so far (since the last reset, its latest
/// tokens), then the start-of-transcript sequence.
struct PromptBuilder {
    /// `<|startoftranscript|>`, then for a multilingual model the language and the task,
    /// then `<|notimestamps|>` when decoding without timestamps.
    let sotSequence: [Int]
    let startOfPrevious: Int
    /// The most history tokens in a prompt: half the decoder's context, less `<|startofprev|>`.
    let historyLimit: Int
    let conditionOnPreviousText: Bool
    let resetAboveTemperature: Double
    /// The initial prompt's tokens, then every kept segment's.
    private(set) var history: [Int] = []
    /// Where the history the next prompt may use begins.
    private(set) var resetSince = 0

    init(tokenizer: Tokenizer, language: String, options: TranscriptionOptions, textContext: Int) {
        sotSequence = Self.sotSequence(tokenizer: tokenizer, language: language, options: options)
        startOfPrevious = tokenizer.specialTokens.startOfPrev
        historyLimit = textContext / 2 - 1
        conditionOnPreviousText = options.conditionOnPreviousText
        resetAboveTemperature = options.promptResetOnTemperature
        if let prompt = options.initialPrompt?.trimmingCharacters(in: .whitespaces), !prompt.isEmpty {
            history = tokenizer.encode(" " + prompt)
        }
    }

    static func sotSequence(tokenizer: Tokenizer, language: String, options: TranscriptionOptions) -> [Int] {
        let special = tokenizer.specialTokens
        var sequence = [special.sot]
        if tokenizer.isMultilingual, let languageToken = tokenizer.languageToken(for: language) {
            sequence += [languageToken, options.task == .translate ? special.translate : special.transcribe]
        }
        if options.withoutTimestamps { sequence.append(special.noTimestamps) }
        return sequence
    }

    /// The next window's prompt.
    func prompt() -> [Int] {
        var prompt: [Int] = []
        let previous = history[resetSince...]
        if !previous.isEmpty {
            prompt = [startOfPrevious] + previous.suffix(historyLimit)
        }
        return prompt + sotSequence
    }

    /// Adds a kept segment's tokens to the history.
    mutating func append(_ tokens: [Int]) { history += tokens }

    /// Starts the next prompt without the history so far.
    mutating func reset() { resetSince = history.count }

    /// After a window's segments are appended: without conditioning on previous text, or
    /// after a decoding at a high temperature (the text is unreliable), the history is dropped.
    mutating func finishWindow(temperature: Double) {
        if !conditionOnPreviousText || temperature > resetAboveTemperature { reset() }
    }
}
