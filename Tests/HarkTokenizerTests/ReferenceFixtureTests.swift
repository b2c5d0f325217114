import XCTest
import HarkTokenizer

/// The Swift tokenizer against HF `tokenizers` (Fixtures/tokenizer_fixture.json).
final class ReferenceFixtureTests: XCTestCase {
    func testEncodeMatchesReferenceEnglishOnly() throws {
        try checkEncode(model: TestModels.englishName)
    }

    func testEncodeMatchesReferenceMultilingual() throws {
        try checkEncode(model: TestModels.multilingualName)
    }

    func testDecodeMatchesReferenceEnglishOnly() throws {
        try checkDecode(model: TestModels.englishName)
    }

    func testDecodeMatchesReferenceMultilingual() throws {
        try checkDecode(model: TestModels.multilingualName)
    }

    func testFixtureCoversTrickyCases() throws {
        let cases = try TokenizerFixture.model(TestModels.englishName).encode
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        XCTAssertTrue(cases.contains { $0.text.isEmpty })
        XCTAssertTrue(cases.contains { $0.text.contains("你好世界") })
        XCTAssertTrue(cases.contains { $0.text.contains("👍🏽") })
    }

    private func checkEncode(model: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let tokenizer = try TestModels.tokenizer(model)
        for testCase in try TokenizerFixture.model(model).encode {
            XCTAssertEqual(tokenizer.encode(testCase.text), testCase.ids,
                           "\(model): encode(\(testCase.text.debugDescription))", file: file, line: line)
            XCTAssertEqual(tokenizer.decode(testCase.ids), testCase.decoded,
                           "\(model): decode of \(testCase.text.debugDescription)", file: file, line: line)
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(testCase.text)), testCase.text,
                           "\(model): round trip of \(testCase.text.debugDescription)", file: file, line: line)
        }
    }

    private func checkDecode(model: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let tokenizer = try TestModels.tokenizer(model)
        for testCase in try TokenizerFixture.model(model).decodeBytes {
            let decoded = tokenizer.decode(testCase.ids)
            XCTAssertEqual(Array(decoded.unicodeScalars), Array(testCase.decoded.unicodeScalars),
                           "\(model): decode of bytes \(testCase.bytes)", file: file, line: line)
        }
    }
}
