import Foundation

/// A port of openai-whisper's `EnglishTextNormalizer` (whisper/normalizers/english.py), the
/// normaliser behind the WER figures published for Whisper, so that Hark's scores compare
/// with them:
///
/// 1. lower-case; drop text in `[brackets]`, `<angle brackets>` and `(parentheses)`;
/// 2. drop fillers: hmm, mm, mhm, mmm, uh, um;
/// 3. standardise contractions and titles: "won't" → "will not", "can't" → "can not",
///    "let's" → "let us", "gonna" → "going to", "mr" → "mister", "'s been" → " has been",
///    then the general "n't" → " not", "'re" → " are", "'s" → " is", "'d" → " would",
///    "'ll" → " will", "'ve" → " have", "'m" → " am" (whisper's choices, ambiguities and all:
///    a possessive "john's" becomes "john is" on both sides);
/// 4. remove commas between digits ("1,234" → "1234") and periods not followed by a digit;
///    replace other punctuation and symbols with spaces, dropping diacritics ("café" → "cafe")
///    but keeping `. % $ ¢ € £` for numbers;
/// 5. numbers: `EnglishNumberNormalizer` ("twenty five" → "25", "third" → "3rd",
///    "five dollars" → "$5");
/// 6. British → American spellings (whisper's table of 1,739 words: "colour" → "color");
/// 7. drop `. $ ¢ € £` not followed by a digit and `%` not preceded by one; collapse spaces.
///
/// The output keeps whisper's quirks, e.g. a possible leading or trailing space; split it on
/// white space (`words(_:)`) to score. Known differences from the Python original are listed
/// in Tests/HarkEvaluationTests/NormalizerFixtureTests.swift.
public struct EnglishTextNormalizer: TextNormalizer {
    public init() {}

    public var name: String { "english" }

    static let numbers = EnglishNumberNormalizer()

    static let brackets = PatternRewrite(#"[<\[][^>\]]*[>\]]"#)
    static let parentheses = PatternRewrite(#"\(([^)]+?)\)"#)
    static let fillers = PatternRewrite(#"\b(hmm|mm|mhm|mmm|uh|um)\b"#)
    static let spaceBeforeApostrophe = PatternRewrite(pythonSpacePattern + "+'")
    /// whisper's `replacers`, applied in order.
    static let replacers: [(PatternRewrite, String)] = [
        // common contractions
        (#"\bwon't\b"#, "will not"),
        (#"\bcan't\b"#, "can not"),
        (#"\blet's\b"#, "let us"),
        (#"\bain't\b"#, "aint"),
        (#"\by'all\b"#, "you all"),
        (#"\bwanna\b"#, "want to"),
        (#"\bgotta\b"#, "got to"),
        (#"\bgonna\b"#, "going to"),
        (#"\bi'ma\b"#, "i am going to"),
        (#"\bimma\b"#, "i am going to"),
        (#"\bwoulda\b"#, "would have"),
        (#"\bcoulda\b"#, "could have"),
        (#"\bshoulda\b"#, "should have"),
        (#"\bma'am\b"#, "madam"),
        // contractions in titles/prefixes
        (#"\bmr\b"#, "mister "),
        (#"\bmrs\b"#, "missus "),
        (#"\bst\b"#, "saint "),
        (#"\bdr\b"#, "doctor "),
        (#"\bprof\b"#, "professor "),
        (#"\bcapt\b"#, "captain "),
        (#"\bgov\b"#, "governor "),
        (#"\bald\b"#, "alderman "),
        (#"\bgen\b"#, "general "),
        (#"\bsen\b"#, "senator "),
        (#"\brep\b"#, "representative "),
        (#"\bpres\b"#, "president "),
        (#"\brev\b"#, "reverend "),
        (#"\bhon\b"#, "honorable "),
        (#"\basst\b"#, "assistant "),
        (#"\bassoc\b"#, "associate "),
        (#"\blt\b"#, "lieutenant "),
        (#"\bcol\b"#, "colonel "),
        (#"\bjr\b"#, "junior "),
        (#"\bsr\b"#, "senior "),
        (#"\besq\b"#, "esquire "),
        // perfect tenses, ideally it should be any past participles, but it's harder..
        (#"'d been\b"#, " had been"),
        (#"'s been\b"#, " has been"),
        (#"'d gone\b"#, " had gone"),
        (#"'s gone\b"#, " has gone"),
        (#"'d done\b"#, " had done"), // "'s done" is ambiguous
        (#"'s got\b"#, " has got"),
        // general contractions
        (#"n't\b"#, " not"),
        (#"'re\b"#, " are"),
        (#"'s\b"#, " is"),
        (#"'d\b"#, " would"),
        (#"'ll\b"#, " will"),
        (#"'t\b"#, " not"),
        (#"'ve\b"#, " have"),
        (#"'m\b"#, " am"),
    ].map { (PatternRewrite($0.0), $0.1) }
    static let commaBetweenDigits = PatternRewrite(#"(\d),(\d)"#)
    static let periodNotBeforeDigit = PatternRewrite(#"\.([^0-9]|$)"#)
    static let keptSymbols: Set<Unicode.Scalar> = [".", "%", "$", "¢", "€", "£"]
    static let strayPrefixSymbol = PatternRewrite(#"[.$¢€£]([^0-9])"#)
    static let strayPercent = PatternRewrite(#"([^0-9])%"#)

    public func normalize(_ text: String) -> String {
        var s = text.lowercased()
        s = Self.brackets.replacing(in: s, with: "")
        s = Self.parentheses.replacing(in: s, with: "")
        s = Self.fillers.replacing(in: s, with: "")
        s = Self.spaceBeforeApostrophe.replacing(in: s, with: "'")
        for (pattern, replacement) in Self.replacers {
            s = pattern.replacing(in: s, with: replacement)
        }
        s = Self.commaBetweenDigits.replacing(in: s, with: "$1$2")
        s = Self.periodNotBeforeDigit.replacing(in: s, with: " $1")
        s = removeSymbolsAndDiacritics(s, keep: Self.keptSymbols)

        s = Self.numbers.normalize(s)
        s = pythonWords(s).map { britishAmericanSpellings[$0] ?? $0 }.joined(separator: " ")

        s = Self.strayPrefixSymbol.replacing(in: s, with: " $1")
        s = Self.strayPercent.replacing(in: s, with: "$1 ")
        return collapsingWhitespace(s)
    }
}
