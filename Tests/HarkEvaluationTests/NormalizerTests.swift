import HarkEvaluation
import XCTest

/// Hand-written cases for the behaviours the issue names (the fixture covers many more).
final class NormalizerTests: XCTestCase {
    let english = EnglishTextNormalizer()

    private func assertNormalizes(_ input: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(english.words(input).joined(separator: " "), expected, input, file: file, line: line)
    }

    func testCasePunctuationBracketsAndFillers() {
        assertNormalizes("Hello, World!", "hello world")
        assertNormalizes("[MUSIC] Um, welcome back (applause) uh everyone", "welcome back everyone")
    }

    func testContractions() {
        assertNormalizes("We won't go; it's late", "we will not go it is late")
        assertNormalizes("She's been here, he'd gone", "she has been here he had gone")
        assertNormalizes("I'm gonna", "i am going to")
    }

    func testSpellings() {
        assertNormalizes("The colour of the theatre", "the color of the theater")
    }

    func testNumbersScoreAlikeInWordsAndDigits() {
        assertNormalizes("twenty five", "25")
        assertNormalizes("one hundred and two", "102")
        assertNormalizes("1,234", "1234")
        assertNormalizes("the third", "the 3rd")
        assertNormalizes("five dollars", "$5")
        assertNormalizes("$5", "$5")
        assertNormalizes("fifty per cent", "50%")
        XCTAssertEqual(english.words("Twenty-five apples cost five dollars."), english.words("25 apples cost $5"))
    }

    func testNumberNormalizerAlone() {
        let numbers = EnglishNumberNormalizer()
        XCTAssertEqual(numbers("two thousand and nineteen"), "2019")
        XCTAssertEqual(numbers("nine hundred decillion"), "900" + String(repeating: "0", count: 33))
        XCTAssertEqual(numbers("one point five million"), "1500000")
    }

    func testBasicNormalizerKeepsLettersOfAnyScript() {
        XCTAssertEqual(BasicTextNormalizer().words("¿Qué tal? ¡Muy bien!"), ["qué", "tal", "muy", "bien"])
        XCTAssertEqual(BasicTextNormalizer(removeDiacritics: true).words("Qué tal"), ["que", "tal"])
    }
}
