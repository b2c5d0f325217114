import XCTest

@testable import HarkTokenizer

/// Our UTF-8 check against the standard library's, which it replaces on the tokenizer's load.
final class UTF8TextTests: XCTestCase {
    private func ours(_ bytes: [UInt8]) -> String? { bytes.withUnsafeBytes { UTF8Text.string(validating: $0) } }
    private func standard(_ bytes: [UInt8]) -> String? { String(validating: bytes, as: UTF8.self) }

    func testEdgeCasesOfTheEncoding() {
        let valid: [[UInt8]] = [[], Array("Ġthe".utf8), Array("漢字 ½ 😀".utf8), [0x7F], [0xC2, 0x80], [0xDF, 0xBF],
                                [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xF0, 0x90, 0x80, 0x80],
                                [0xF4, 0x8F, 0xBF, 0xBF]]
        let invalid: [[UInt8]] = [[0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x9F, 0xBF],
                                  [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xE1, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],
                                  [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0x41, 0xF0, 0x90, 0x80],
                                  [0xE2, 0x82, 0x41]]
        for bytes in valid {
            XCTAssertEqual(ours(bytes), standard(bytes), "\(bytes)")
            XCTAssertNotNil(ours(bytes), "\(bytes)")
        }
        for bytes in invalid { XCTAssertNil(ours(bytes), "\(bytes)") }
    }

    func testAgreesWithTheStandardLibraryOnRandomBytes() {
        var generator = SystemRandomNumberGenerator()
        // Bytes biased to the lead and continuation ranges, so that most strings are near-valid.
        let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED,
                                 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF]
        var validSeen = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...6, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator) ?? 0 }
            let expected = standard(bytes)
            XCTAssertEqual(ours(bytes), expected, "\(bytes)")
            if expected != nil { validSeen += 1 }
        }
        XCTAssertGreaterThan(validSeen, 1000, "the random strings should include valid ones")
    }
}

extension UTF8TextTests {
    func testSameBytesIsByteEqualityNotCanonicalEquivalence() {
        XCTAssertTrue(UTF8Text.sameBytes("Ġthe", "Ġthe"))
        XCTAssertTrue(UTF8Text.sameBytes("", ""))
        XCTAssertFalse(UTF8Text.sameBytes("Ġthe", "Ġth"))
        // "é" precomposed and decomposed: equal Strings, different bytes.
        XCTAssertEqual("\u{E9}", "e\u{301}")
        XCTAssertFalse(UTF8Text.sameBytes("\u{E9}", "e\u{301}"))
    }
}
