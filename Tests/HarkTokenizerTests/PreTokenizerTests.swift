import Foundation
import XCTest
@testable import HarkTokenizer

/// The hand-written GPT-2 pre-tokenizer against the regular expression it implements.
final class PreTokenizerTests: XCTestCase {
    private static let pattern =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The pieces the regular expression finds (ICU, through NSRegularExpression).
    private func regexPieces(_ text: String) throws -> [String] {
        let regex = try NSRegularExpression(pattern: Self.pattern)
        let string = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: string.length))
            .map { string.substring(with: $0.range) }
    }

    private func scannerPieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return PreTokenizer.split(scalars).map { range in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[range])
            return String(view)
        }
    }

    func testExamples() {
        XCTAssertEqual(scannerPieces("Hello world"), ["Hello", " world"])
        XCTAssertEqual(scannerPieces("I'm they'll"), ["I", "'m", " they", "'ll"])
        XCTAssertEqual(scannerPieces("a   b"), ["a", "  ", " b"])
        XCTAssertEqual(scannerPieces("a\n\nb "), ["a", "\n", "\n", "b", " "])
        XCTAssertEqual(scannerPieces("1,234.56"), ["1", ",", "234", ".", "56"])
        XCTAssertEqual(scannerPieces(" 'n' x"), [" '", "n", "'", " x"])
        XCTAssertEqual(scannerPieces(""), [])
    }

    func testRegexReference() throws {
        XCTAssertEqual(try regexPieces("I'm they'll  x\n"), ["I", "'m", " they", "'ll", " ", " x", "\n"])
    }

    func testMatchesRegexOnFixtureTexts() throws {
        for testCase in try TokenizerFixture.model(TestModels.englishName).encode {
            XCTAssertEqual(scannerPieces(testCase.text), try regexPieces(testCase.text),
                           testCase.text.debugDescription)
        }
    }

    func testMatchesRegexOnRandomText() throws {
        // Scalars from every class the pattern distinguishes, incl. contraction parts.
        let alphabet: [Unicode.Scalar] = [
            " ", " ", "\n", "\t", "\r", "\u{A0}", "\u{3000}", "\u{2028}", "\u{85}",
            "'", "'", "s", "t", "r", "e", "v", "m", "l", "d", "A", "S", "é", "ß", "Ω", "ж", "中", "ー", "ʰ",
            "0", "7", "½", "²", "Ⅻ", "٣",
            ".", ",", "!", "-", "$", "@", "\u{301}", "\u{200B}", "\u{FEFF}", "👍", "\u{1F3FD}", "\u{0}",
        ]
        var generator = SplitMix64(seed: 0x4841_524B)
        for _ in 0..<2000 {
            var view = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                view.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
            }
            let text = String(view)
            XCTAssertEqual(scannerPieces(text), try regexPieces(text), text.debugDescription)
        }
    }
}

/// A small seeded generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
