import Foundation

/// Turns a transcript into the form it is scored in: both the reference and the hypothesis
/// go through the same normaliser before words are compared.
public protocol TextNormalizer: Sendable {
    /// A short name for reports ("english", "basic").
    var name: String { get }
    /// The normalised text: words separated by single spaces (a leading or trailing space
    /// may remain, as in openai-whisper; split on white space before comparing).
    func normalize(_ text: String) -> String
}

extension TextNormalizer {
    /// The normalised words.
    public func words(_ text: String) -> [String] { pythonWords(normalize(text)) }

    public func callAsFunction(_ text: String) -> String { normalize(text) }
}

/// Python's regex `\s`, for use inside patterns.
let pythonSpacePattern = #"[\s\u001C-\u001F]"#

/// openai-whisper's `BasicTextNormalizer` (whisper/normalizers/basic.py), for languages other
/// than English: lower-case, drop text in brackets and parentheses, replace marks, symbols
/// and punctuation with spaces, collapse white space.
public struct BasicTextNormalizer: TextNormalizer {
    /// Also drop diacritics ("café" → "cafe"), via NFKD and a few extra letters ("ø" → "o").
    public var removeDiacritics: Bool
    /// Separate every grapheme cluster by a space (for scripts written without spaces).
    public var splitLetters: Bool

    public init(removeDiacritics: Bool = false, splitLetters: Bool = false) {
        self.removeDiacritics = removeDiacritics
        self.splitLetters = splitLetters
    }

    public var name: String { "basic" }

    static let brackets = PatternRewrite(#"[<\[][^>\]]*[>\]]"#)
    static let parentheses = PatternRewrite(#"\(([^)]+?)\)"#)

    public func normalize(_ text: String) -> String {
        var s = text.lowercased()
        s = Self.brackets.replacing(in: s, with: "")
        s = Self.parentheses.replacing(in: s, with: "")
        s = (removeDiacritics ? removeSymbolsAndDiacritics(s) : removeSymbols(s)).lowercased()
        if splitLetters {
            s = s.map { String($0) }.joined(separator: " ")
        }
        return collapsingWhitespace(s)
    }
}

/// Non-ASCII letters that NFKD does not split into a base letter and a mark.
let additionalDiacritics: [Unicode.Scalar: String] = [
    "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L",
]

/// Whether a code point's general category is a mark, a symbol or punctuation (Python's
/// `unicodedata.category(c)[0] in "MSP"`).
@inline(__always)
func isMarkSymbolOrPunctuation(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark,
         .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
         .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
         .initialPunctuation, .finalPunctuation, .otherPunctuation:
        return true
    default:
        return false
    }
}

/// whisper's `remove_symbols_and_diacritics`: NFKD, then drop nonspacing marks, spell out a
/// few letters, and replace other marks, symbols and punctuation with spaces, except those in
/// `keep`.
func removeSymbolsAndDiacritics(_ text: String, keep: Set<Unicode.Scalar> = []) -> String {
    var result = String.UnicodeScalarView()
    for scalar in text.decomposedStringWithCompatibilityMapping.unicodeScalars {
        if keep.contains(scalar) {
            result.append(scalar)
        } else if let replacement = additionalDiacritics[scalar] {
            result.append(contentsOf: replacement.unicodeScalars)
        } else if scalar.properties.generalCategory == .nonspacingMark {
            continue
        } else if isMarkSymbolOrPunctuation(scalar) {
            result.append(" ")
        } else {
            result.append(scalar)
        }
    }
    return String(result)
}

/// whisper's `remove_symbols`: NFKC, then marks, symbols and punctuation become spaces.
func removeSymbols(_ text: String) -> String {
    var result = String.UnicodeScalarView()
    for scalar in text.precomposedStringWithCompatibilityMapping.unicodeScalars {
        result.append(isMarkSymbolOrPunctuation(scalar) ? " " : scalar)
    }
    return String(result)
}
