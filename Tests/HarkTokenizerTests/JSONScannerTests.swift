import Foundation
import XCTest

@testable import HarkTokenizer

/// Our JSON parser for the tokenizer files: the same values as Foundation's on the real files,
/// every escape, and clear errors on bad input.
final class JSONScannerTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBytes { bytes in try JSONScanner.parse(bytes) }
    }

    func testRealTokenizerFilesParseLikeFoundation() throws {
        for name in [TestModels.englishName, TestModels.multilingualName] {
            let url = try TestModels.url(name).appendingPathComponent("tokenizer.json")
            let data = try Data(contentsOf: url)
            let ours = try TokenizerFile(json: data, path: url.path)
            let foundation = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            let model = try XCTUnwrap(foundation["model"] as? [String: Any])
            XCTAssertEqual(Dictionary(ours.model.vocab, uniquingKeysWith: { $1 }), try XCTUnwrap(model["vocab"] as? [String: Int]), name)
            let merges = try XCTUnwrap(model["merges"] as? [Any])
            XCTAssertEqual(ours.model.merges.count, merges.count, name)
            for (rule, raw) in zip(ours.model.merges, merges).prefix(2000) {
                let pair = (raw as? [String]) ?? (raw as? String)?.split(separator: " ").map(String.init) ?? []
                XCTAssertEqual([rule.left, rule.right], pair, name)
            }
            let added = try XCTUnwrap(foundation["added_tokens"] as? [[String: Any]])
            XCTAssertEqual(ours.addedTokens.map(\.content), added.compactMap { $0["content"] as? String }, name)
            XCTAssertEqual(ours.addedTokens.map(\.id), added.compactMap { $0["id"] as? Int }, name)
        }
    }

    func testEscapesAndNumbers() throws {
        let value = try parse(#" {"a": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é", "n": [-0, 12, 3.5e2, -1E-2, true, false, null], "e": {}, "l": []} "#)
        guard case .string(let text)? = value["a"] else { return XCTFail("\(value)") }
        XCTAssertEqual(text, "x\"\\/\u{8}\u{c}\n\r\té😀é")
        guard case .array(let numbers)? = value["n"] else { return XCTFail("\(value)") }
        let decoded: [Double?] = numbers.map { if case .number(let x) = $0 { x } else { nil } }
        XCTAssertEqual(decoded.prefix(4).compactMap { $0 }, [0, 12, 350, -0.01])
        guard case .bool(true) = numbers[4], case .bool(false) = numbers[5], case .null = numbers[6] else { return XCTFail("\(numbers)") }
    }

    func testIntegersReadWithoutAStringEqualDoubleParsing() throws {
        // Up to 15 digits the integer fast path; beyond, and with a fraction or an exponent,
        // the general path: the same values as Double's own parsing either way.
        let texts = ["0", "-0", "7", "-7", "51864", "-50257", "999999999999999", "-123456789012345",
                     "1234567890123456", "98765432109876543210", "12.0", "-3e2", "1E+3"]
        let value = try parse("[" + texts.joined(separator: ", ") + "]")
        guard case .array(let numbers) = value else { return XCTFail("\(value)") }
        XCTAssertEqual(numbers.count, texts.count)
        for (number, text) in zip(numbers, texts) {
            guard case .number(let parsed) = number else { return XCTFail("\(text): \(number)") }
            let expected = try XCTUnwrap(Double(text))
            XCTAssertEqual(parsed, expected, text)
            XCTAssertEqual(parsed.sign, expected.sign, text)
        }
    }

    func testMergeRulesSplitBothForms() throws {
        let rules = [(#""Ġ t""#, "Ġ", "t"), (#"["Ġ", "t"]"#, "Ġ", "t"), (#""é ĠwÃ©""#, "é", "ĠwÃ©"),
                     (#"["a b", "c"]"#, "a b", "c"), (#"["", "x"]"#, "", "x")]
        for (json, left, right) in rules {
            let rule = try MergeRule(try parse(json), path: "test", index: 0)
            XCTAssertEqual(rule.left, left, json)
            XCTAssertEqual(rule.right, right, json)
            let parts = rule.withParts { (Array($0), Array($1), Array($2)) }
            XCTAssertEqual(parts.0, Array(left.utf8), json)
            XCTAssertEqual(parts.1, Array(right.utf8), json)
            XCTAssertEqual(parts.2, Array((left + right).utf8), json)
        }
        for bad in [#""a""#, #""a b c""#, #"["a"]"#, "3"] {
            XCTAssertThrowsError(try MergeRule(try parse(bad), path: "test", index: 0), bad)
        }
    }

    func testByteLevelBytesAppendInPlace() {
        // "Ġhi" is byte-level (a space, then h, i); "a b" has a raw space, outside the byte
        // map, so it stands for its own UTF-8 bytes, and what was appended of it is undone.
        var output: [UInt8] = [7]
        ByteLevel.appendBytes(for: "Ġhi", to: &output)
        ByteLevel.appendBytes(for: "ĠhĠ b", to: &output)
        XCTAssertEqual(output, [7, 0x20, 0x68, 0x69] + Array("ĠhĠ b".utf8))
        var alone: [UInt8] = []
        ByteLevel.appendBytes(for: "漢", to: &alone)
        XCTAssertEqual(alone, Array("漢".utf8))
    }

    func testBadInputIsASyntaxErrorWithItsOffset() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "\"abc", "\"a\u{1}\"", #""\x""#, #""\ud800""#,
                    #""\udc00x""#, "tru", "[1] 2", "{\"a\":[}", String(repeating: "[", count: 600) + String(repeating: "]", count: 600)] {
            XCTAssertThrowsError(try parse(bad), bad) { error in
                XCTAssertTrue(error is JSONSyntaxError, "\(bad): \(error)")
                XCTAssertTrue("\(error)".contains("at byte"), "\(error)")
            }
        }
        XCTAssertThrowsError(try [0x22, 0xFF, 0x22].withUnsafeBytes { try JSONScanner.parse($0) }, "invalid UTF-8")
    }
}
