import HarkTokenizer

/// The language a recording is transcribed in: the one asked for, checked against the
/// model's, or the one detected in the first window.
enum LanguageChoice {
    /// Whether the options ask for what only the tokenizer can vouch for (another language
    /// than English, translation): those are checked before any encoding, so that a wrong
    /// one fails at once.
    static func checksFirst(_ options: TranscriptionOptions) -> Bool {
        options.task == .translate || options.language.map { $0 != "en" } ?? false
    }

    /// The language's code and probability (1 when it was given or the model is
    /// English-only); `detect` is called only for a multilingual model without a language.
    static func choose(options: TranscriptionOptions, tokenizer: Tokenizer,
                       detect: () throws(TranscriptionError) -> (code: String, probability: Double))
        throws(TranscriptionError) -> (code: String, probability: Double) {
        if tokenizer.isMultilingual {
            guard let code = options.language else { return try detect() }
            guard tokenizer.languageToken(for: code) != nil else {
                throw .unknownLanguage(code, known: tokenizer.languageCodes)
            }
            return (code, 1)
        }
        if let code = options.language, code != "en" { throw .unknownLanguage(code, known: ["en"]) }
        if options.task == .translate { throw .needsMultilingualModel("translation") }
        return ("en", 1)
    }
}
