import Foundation

/// A port of openai-whisper's `EnglishNumberNormalizer` (whisper/normalizers/english.py):
/// spelled-out numbers become digits so that "twenty five" and "25" score alike.
///
/// - commas between digits are removed (by `EnglishTextNormalizer`, before this runs);
/// - suffixes are kept: "1960s", "274th", "thirty second" → "32nd";
/// - currency words after a number become a prefix: "twenty dollars" → "$20",
///   "five pounds" → "£5", "two dollars and seven cents" → "$2.07", "ten cents" → "¢10";
/// - "percent" / "per cent" → "%"; "minus five" → "-5";
/// - "one" and "ones" stay words ("one" is as often a pronoun as a number);
/// - successive single digits are read as a nominal number: "one oh one" → "101",
///   "double five" → "55"; "point" makes decimals: "one point five" → "1.5";
/// - "and a half" after a number is ".5": "two and a half" → "2.5".
///
/// Python's integers are unbounded; here whole numbers are decimal digit strings, so
/// "nine hundred decillion" works too. Not covered: digits of scripts other than ASCII in
/// the letter/digit splitting (as in whisper, whose patterns there are `[0-9]`), and Python's
/// `Fraction` syntax beyond `digits[.digits]` (exponents, underscores), which never reaches
/// this stage because the punctuation is gone by then.
public struct EnglishNumberNormalizer: Sendable {
    public init() {}

    // MARK: Vocabulary (names as whisper's)

    static let zeros: Set<String> = ["o", "oh", "zero"]
    static let onesNames = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                            "eighteen", "nineteen"]
    static let ones: [String: Int] = Dictionary(uniqueKeysWithValues: onesNames.enumerated().map { ($1, $0 + 1) })
    static let onesPlural: [String: (Int, String)] = Dictionary(uniqueKeysWithValues: ones.map { name, value in
        (name == "six" ? "sixes" : name + "s", (value, "s"))
    })
    static let onesOrdinal: [String: (Int, String)] = {
        var result: [String: (Int, String)] = ["zeroth": (0, "th"), "first": (1, "st"), "second": (2, "nd"),
                                               "third": (3, "rd"), "fifth": (5, "th"), "twelfth": (12, "th")]
        for (name, value) in ones where value > 3 && value != 5 && value != 12 {
            result[name + (name.hasSuffix("t") ? "h" : "th")] = (value, "th")
        }
        return result
    }()
    static let onesSuffixed = onesPlural.merging(onesOrdinal) { _, new in new }
    static let tens: [String: Int] = ["twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
                                      "seventy": 70, "eighty": 80, "ninety": 90]
    static let tensPlural: [String: (Int, String)] = Dictionary(uniqueKeysWithValues: tens.map {
        ($0.key.replacingOccurrences(of: "y", with: "ies"), ($0.value, "s"))
    })
    static let tensOrdinal: [String: (Int, String)] = Dictionary(uniqueKeysWithValues: tens.map {
        ($0.key.replacingOccurrences(of: "y", with: "ieth"), ($0.value, "th"))
    })
    static let tensSuffixed = tensPlural.merging(tensOrdinal) { _, new in new }
    /// Multipliers by their number of zeros.
    static let multipliers: [String: Int] = ["hundred": 2, "thousand": 3, "million": 6, "billion": 9,
                                             "trillion": 12, "quadrillion": 15, "quintillion": 18,
                                             "sextillion": 21, "septillion": 24, "octillion": 27,
                                             "nonillion": 30, "decillion": 33]
    static let multipliersPlural: [String: (Int, String)] = Dictionary(uniqueKeysWithValues: multipliers.map {
        ($0.key + "s", ($0.value, "s"))
    })
    static let multipliersOrdinal: [String: (Int, String)] = Dictionary(uniqueKeysWithValues: multipliers.map {
        ($0.key + "th", ($0.value, "th"))
    })
    static let multipliersSuffixed = multipliersPlural.merging(multipliersOrdinal) { _, new in new }
    static let decimals: Set<String> = Set(ones.keys).union(tens.keys).union(zeros)
    static let precedingPrefixers: [String: String] = ["minus": "-", "negative": "-", "plus": "+", "positive": "+"]
    static let followingPrefixers: [String: String] = ["pound": "£", "pounds": "£", "euro": "€", "euros": "€",
                                                       "dollar": "$", "dollars": "$", "cent": "¢", "cents": "¢"]
    static let prefixes: Set<Unicode.Scalar> = Set((precedingPrefixers.values.map { $0 } + followingPrefixers.values.map { $0 })
        .compactMap { $0.unicodeScalars.first })
    /// "per cent" → "%" (a suffix that needs the next word) and "percent" → "%".
    static let suffixers: Set<String> = ["per", "percent"]
    static let specials: Set<String> = ["and", "double", "triple", "point"]
    static let words: Set<String> = {
        var words = zeros.union(ones.keys).union(onesSuffixed.keys).union(tens.keys).union(tensSuffixed.keys)
        words.formUnion(multipliers.keys)
        words.formUnion(multipliersSuffixed.keys)
        words.formUnion(precedingPrefixers.keys)
        words.formUnion(followingPrefixers.keys)
        words.formUnion(suffixers)
        words.formUnion(specials)
        return words
    }()

    // MARK: The word loop

    /// A number being built: whole numbers as `int` (canonical digits), anything else
    /// (nominal digit runs like "0101", decimals) as `text`, as whisper keeps `int` or `str`.
    enum Value {
        case int(String)
        case text(String)

        var string: String {
            switch self {
            case .int(let digits), .text(let digits): return digits
            }
        }

        var isText: Bool { if case .text = self { return true } else { return false } }

        /// Python's truthiness: `0` and `""` are false.
        var isTruthy: Bool {
            switch self {
            case .int(let digits): return digits != "0"
            case .text(let text): return !text.isEmpty
            }
        }
    }

    /// whisper's `process_words`.
    func processWords(_ words: [String]) -> [String] {
        var output: [String] = []
        var prefix: String?
        var value: Value?
        var skip = false

        func emit(_ result: String) {
            output.append((prefix ?? "") + result)
            value = nil
            prefix = nil
        }

        guard !words.isEmpty else { return [] }
        for index in words.indices {
            if skip {
                skip = false
                continue
            }
            let previous: String? = index > 0 ? words[index - 1] : nil
            let current = words[index]
            let next: String? = index + 1 < words.count ? words[index + 1] : nil
            let nextIsNumeric = next.map(Self.isPlainNumber) ?? false
            let nextIsWord = next.map { Self.words.contains($0) } ?? false
            let previousIsOnes = previous.map { Self.ones[$0] != nil } ?? false
            let previousIsTens = previous.map { Self.tens[$0] != nil } ?? false

            let first = current.unicodeScalars.first!
            let hasPrefix = Self.prefixes.contains(first)
            let withoutPrefix = hasPrefix ? String(current.unicodeScalars.dropFirst()) : current

            if Self.isPlainNumber(withoutPrefix) {
                // Arabic numbers, possibly with a currency prefix or a fraction.
                if let pending = value {
                    if case .text(let text) = pending, text.hasSuffix(".") {
                        // Decimals and IP address parts are concatenated.
                        value = .text(text + current)
                        continue
                    }
                    emit(pending.string)
                }
                if hasPrefix { prefix = String(first) }
                value = Self.fractionValue(withoutPrefix)
            } else if !Self.words.contains(current) {
                if let pending = value { emit(pending.string) }
                emit(current)
            } else if Self.zeros.contains(current) {
                value = .text((value?.isTruthy == true ? value!.string : "") + "0")
            } else if let ones = Self.ones[current] {
                if let pending = value {
                    if pending.isText || previousIsOnes {
                        let text = pending.string
                        if previousIsTens && ones < 10 {
                            value = .text(String(text.dropLast()) + String(ones))
                        } else {
                            value = .text(text + String(ones))
                        }
                    } else if ones < 10 {
                        value = Self.isMultiple(pending.string, zeros: 1)
                            ? .int(Self.add(pending.string, String(ones))) : .text(pending.string + String(ones))
                    } else {
                        value = Self.isMultiple(pending.string, zeros: 2)
                            ? .int(Self.add(pending.string, String(ones))) : .text(pending.string + String(ones))
                    }
                } else {
                    value = .int(String(ones))
                }
            } else if case let (ones, suffix)? = Self.onesSuffixed[current] {
                // Ordinal or plural: the number ends here.
                if let pending = value {
                    let text = pending.string
                    if pending.isText || previousIsOnes {
                        if previousIsTens && ones < 10 {
                            emit(String(text.dropLast()) + String(ones) + suffix)
                        } else {
                            emit(text + String(ones) + suffix)
                        }
                    } else if ones < 10 {
                        emit((Self.isMultiple(text, zeros: 1) ? Self.add(text, String(ones)) : text + String(ones)) + suffix)
                    } else {
                        emit((Self.isMultiple(text, zeros: 2) ? Self.add(text, String(ones)) : text + String(ones)) + suffix)
                    }
                } else {
                    emit(String(ones) + suffix)
                }
                value = nil
            } else if let tens = Self.tens[current] {
                if let pending = value {
                    if pending.isText {
                        value = .text(pending.string + String(tens))
                    } else if Self.isMultiple(pending.string, zeros: 2) {
                        value = .int(Self.add(pending.string, String(tens)))
                    } else {
                        value = .text(pending.string + String(tens))
                    }
                } else {
                    value = .int(String(tens))
                }
            } else if case let (tens, suffix)? = Self.tensSuffixed[current] {
                if let pending = value {
                    if pending.isText {
                        emit(pending.string + String(tens) + suffix)
                    } else if Self.isMultiple(pending.string, zeros: 2) {
                        emit(Self.add(pending.string, String(tens)) + suffix)
                    } else {
                        emit(pending.string + String(tens) + suffix)
                    }
                } else {
                    emit(String(tens) + suffix)
                }
            } else if let zeros = Self.multipliers[current] {
                if let pending = value {
                    if pending.isText || pending.string == "0" {
                        if let product = Self.scaled(pending.string, zeros: zeros) {
                            value = .int(product)
                        } else {
                            emit(pending.string)
                            value = .int(Self.power(zeros))
                        }
                    } else {
                        value = .int(Self.applyMultiplier(pending.string, zeros: zeros))
                    }
                } else {
                    value = .int(Self.power(zeros))
                }
            } else if case let (zeros, suffix)? = Self.multipliersSuffixed[current] {
                if let pending = value {
                    if pending.isText {
                        if let product = Self.scaled(pending.string, zeros: zeros) {
                            emit(product + suffix)
                        } else {
                            emit(pending.string)
                            emit(Self.power(zeros) + suffix)
                        }
                    } else {
                        emit(Self.applyMultiplier(pending.string, zeros: zeros) + suffix)
                    }
                } else {
                    emit(Self.power(zeros) + suffix)
                }
                value = nil
            } else if let sign = Self.precedingPrefixers[current] {
                // "minus", "plus" and the like before a number.
                if let pending = value { emit(pending.string) }
                if nextIsWord || nextIsNumeric {
                    prefix = sign
                } else {
                    emit(current)
                }
            } else if let currency = Self.followingPrefixers[current] {
                // "dollars", "cents" and the like after a number.
                if let pending = value {
                    prefix = currency
                    emit(pending.string)
                } else {
                    emit(current)
                }
            } else if Self.suffixers.contains(current) {
                if let pending = value {
                    if current == "per" {
                        if next == "cent" {
                            emit(pending.string + "%")
                            skip = true
                        } else {
                            emit(pending.string)
                            emit(current)
                        }
                    } else {
                        emit(pending.string + "%")
                    }
                } else {
                    emit(current)
                }
            } else if Self.specials.contains(current) {
                if !nextIsWord && !nextIsNumeric {
                    // Special only when the next word can be numeric.
                    if let pending = value { emit(pending.string) }
                    emit(current)
                } else if current == "and" {
                    // "and" after hundreds, thousands... is dropped.
                    if !(previous.map { Self.multipliers[$0] != nil } ?? false) {
                        if let pending = value { emit(pending.string) }
                        emit(current)
                    }
                } else if current == "double" || current == "triple" {
                    if let next, Self.ones[next] != nil || Self.zeros.contains(next) {
                        let repeats = current == "double" ? 2 : 3
                        let digit = String(Self.ones[next] ?? 0)
                        value = .text((value?.isTruthy == true ? value!.string : "")
                                      + String(repeating: digit, count: repeats))
                        skip = true
                    } else {
                        if let pending = value { emit(pending.string) }
                        emit(current)
                    }
                } else if current == "point" {
                    if (next.map { Self.decimals.contains($0) } ?? false) || nextIsNumeric {
                        value = .text((value?.isTruthy == true ? value!.string : "") + ".")
                    }
                }
            }
        }
        if let pending = value { emit(pending.string) }
        return output
    }

    // MARK: Pre- and post-processing

    static let andAHalf = PatternRewrite(#"\band"# + pythonSpacePattern + "+a" + pythonSpacePattern + #"+half\b"#)
    static let letterDigit = PatternRewrite("([a-z])([0-9])")
    static let digitLetter = PatternRewrite("([0-9])([a-z])")
    static let suffixAfterDigit = PatternRewrite("([0-9])" + pythonSpacePattern + #"+(st|nd|rd|th|s)\b"#)
    static let combineCents = PatternRewrite(#"([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b"#)
    static let extractCents = PatternRewrite(#"[€£$]0.([0-9]{1,2})\b"#)
    static let literalOne = PatternRewrite(#"\b1(s?)\b"#)

    /// "<number> and a half" → "<number> point five"; spaces between digits and letters,
    /// except before the suffixes st, nd, rd, th and s.
    func preprocess(_ text: String) -> String {
        var results: [String] = []
        let segments = Self.andAHalf.split(text)
        for (index, segment) in segments.enumerated() {
            if pythonStripped(segment).isEmpty { continue }
            results.append(segment)
            if index != segments.count - 1 {
                let lastWord = pythonWords(segment).last ?? ""
                if Self.decimals.contains(lastWord) || Self.multipliers[lastWord] != nil {
                    results.append("point five")
                } else {
                    results.append("and a half")
                }
            }
        }
        var s = results.joined(separator: " ")
        s = Self.letterDigit.replacing(in: s, with: "$1 $2")
        s = Self.digitLetter.replacing(in: s, with: "$1 $2")
        s = Self.suffixAfterDigit.replacing(in: s, with: "$1$2")
        return s
    }

    /// "$2 and ¢7" → "$2.07", "$0.05" → "¢5", and "1"/"1s" written back as "one"/"ones".
    func postprocess(_ text: String) -> String {
        var s = Self.combineCents.replacing(in: text) { groups in
            let cents = Int(groups[3] ?? "") ?? 0
            return (groups[1] ?? "") + (groups[2] ?? "") + "." + (cents < 10 ? "0" : "") + String(cents)
        }
        s = Self.extractCents.replacing(in: s) { groups in "¢" + String(Int(groups[1] ?? "") ?? 0) }
        s = Self.literalOne.replacing(in: s, with: "one$1")
        return s
    }

    public func normalize(_ text: String) -> String {
        let s = preprocess(text)
        return postprocess(processWords(pythonWords(s)).joined(separator: " "))
    }

    public func callAsFunction(_ text: String) -> String { normalize(text) }

    // MARK: Decimal arithmetic on digit strings

    static let plainNumber = PatternRewrite(#"^\d+(\.\d+)?$"#)

    /// `re.match(r"^\d+(\.\d+)?$", word)`.
    static func isPlainNumber(_ word: String) -> Bool {
        guard let first = word.unicodeScalars.first, first.properties.numericType == .decimal else { return false }
        return plainNumber.matchesWhole(word)
    }

    /// Python's `Fraction(word)` stored as whisper stores it: a whole number as canonical
    /// digits, anything with a fractional part as the text itself.
    static func fractionValue(_ word: String) -> Value {
        let parts = asciiDigits(word).split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        if fraction.allSatisfy({ $0 == "0" }) { return .int(canonical(whole)) }
        return .text(word)
    }

    /// Unicode decimal digits as ASCII (Python's `int` accepts any).
    static func asciiDigits(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.numericType == .decimal, let value = scalar.properties.numericValue {
                result += String(Int(value))
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Digits without leading zeros ("0" for zero).
    static func canonical(_ digits: String) -> String {
        let trimmed = digits.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    static func power(_ zeros: Int) -> String { "1" + String(repeating: "0", count: zeros) }

    /// Whether a whole number is a multiple of 10^zeros.
    static func isMultiple(_ digits: String, zeros: Int) -> Bool {
        digits == "0" || (digits.count > zeros && digits.suffix(zeros).allSatisfy { $0 == "0" })
    }

    /// The sum of two whole numbers.
    static func add(_ a: String, _ b: String) -> String {
        let x = Array(a.utf8.reversed()), y = Array(b.utf8.reversed())
        var result: [UInt8] = []
        var carry = 0
        for i in 0..<max(x.count, y.count) {
            let sum = (i < x.count ? Int(x[i]) - 48 : 0) + (i < y.count ? Int(y[i]) - 48 : 0) + carry
            result.append(UInt8(sum % 10 + 48))
            carry = sum / 10
        }
        if carry > 0 { result.append(UInt8(carry + 48)) }
        return canonical(String(decoding: result.reversed(), as: UTF8.self))
    }

    /// whisper's `before + residual * multiplier` with `before = value // 1000 * 1000` and
    /// `residual = value % 1000`.
    static func applyMultiplier(_ digits: String, zeros: Int) -> String {
        let before = digits.count > 3 ? String(digits.dropLast(3)) + "000" : "0"
        let residual = canonical(String(digits.suffix(3)))
        let product = residual == "0" ? "0" : residual + String(repeating: "0", count: zeros)
        return add(before, product)
    }

    /// `Fraction(text) * 10^zeros` when it is a whole number, else `nil` (also when `text`
    /// is not a number Python's `Fraction` reads).
    static func scaled(_ text: String, zeros: Int) -> String? {
        let ascii = asciiDigits(text)
        let parts = ascii.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let whole = String(parts[0])
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard whole.allSatisfy(\.isASCIIDigitCharacter), fraction.allSatisfy(\.isASCIIDigitCharacter),
              !(whole.isEmpty && fraction.isEmpty) else { return nil }
        let shifted = fraction.count <= zeros
            ? whole + fraction + String(repeating: "0", count: zeros - fraction.count)
            : whole + fraction.prefix(zeros)
        let rest = fraction.count > zeros ? fraction.dropFirst(zeros) : ""
        guard rest.allSatisfy({ $0 == "0" }) else { return nil }
        return canonical(shifted)
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
