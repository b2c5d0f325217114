import Foundation

/// A compiled regular expression with Python `re.sub`/`re.split` semantics, for porting
/// openai-whisper's normalisers. ICU's syntax and its default ("simple") `\b` match Python's
/// for the patterns used here; `\s` is widened to Python's `str.isspace` set.
struct PatternRewrite: @unchecked Sendable {
    // NSRegularExpression is immutable and documented as thread-safe.
    private let regex: NSRegularExpression

    init(_ pattern: String) {
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            preconditionFailure("bad normaliser pattern \(pattern): \(error)")
        }
    }

    /// `re.sub(pattern, template, text)`; the template uses `$1` for groups.
    func replacing(in text: String, with template: String) -> String {
        let string = text as NSString
        return regex.stringByReplacingMatches(in: text, range: NSRange(location: 0, length: string.length),
                                              withTemplate: template)
    }

    /// `re.sub(pattern, function, text)`: `transform` gets the match's groups (group 0 first;
    /// `nil` for a group that did not take part).
    func replacing(in text: String, using transform: ([String?]) -> String) -> String {
        let string = text as NSString
        var result = ""
        var last = 0
        for match in regex.matches(in: text, range: NSRange(location: 0, length: string.length)) {
            result += string.substring(with: NSRange(location: last, length: match.range.location - last))
            let groups = (0..<match.numberOfRanges).map { index -> String? in
                let range = match.range(at: index)
                return range.location == NSNotFound ? nil : string.substring(with: range)
            }
            result += transform(groups)
            last = match.range.location + match.range.length
        }
        result += string.substring(from: last)
        return result
    }

    /// `re.split(pattern, text)` for a pattern without groups.
    func split(_ text: String) -> [String] {
        let string = text as NSString
        var pieces: [String] = []
        var last = 0
        for match in regex.matches(in: text, range: NSRange(location: 0, length: string.length)) {
            pieces.append(string.substring(with: NSRange(location: last, length: match.range.location - last)))
            last = match.range.location + match.range.length
        }
        pieces.append(string.substring(from: last))
        return pieces
    }

    /// Whether the whole of `text` matches (Python `re.match` of a `^…$` pattern).
    func matchesWhole(_ text: String) -> Bool {
        let string = text as NSString
        return regex.firstMatch(in: text, options: [.anchored], range: NSRange(location: 0, length: string.length))
            .map { $0.range.length == string.length } ?? false
    }
}

/// Python's `str.isspace` for one code point: Unicode white space plus the information
/// separators U+001C–U+001F.
@inline(__always)
func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
}

/// `re.sub(r"\s+", " ", text)` with Python's white space.
func collapsingWhitespace(_ text: String) -> String {
    var result = String.UnicodeScalarView()
    var inSpace = false
    for scalar in text.unicodeScalars {
        if isPythonSpace(scalar) {
            if !inSpace { result.append(" ") }
            inSpace = true
        } else {
            result.append(scalar)
            inSpace = false
        }
    }
    return String(result)
}

/// Python's `str.split()`: runs of white space separate words; none are empty.
func pythonWords(_ text: String) -> [String] {
    var words: [String] = []
    var current = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if isPythonSpace(scalar) {
            if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { words.append(String(current)) }
    return words
}

/// Python's `str.strip()`.
func pythonStripped(_ text: String) -> String {
    let scalars = Array(text.unicodeScalars)
    guard let first = scalars.firstIndex(where: { !isPythonSpace($0) }),
          let last = scalars.lastIndex(where: { !isPythonSpace($0) }) else { return "" }
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars[first...last])
    return String(view)
}
