import Foundation
import XCTest
import HarkTokenizer

/// Loading from broken or partial model directories (temporary directories).
final class TokenizerLoadingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("HarkTokenizerTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func load() -> Result<Tokenizer, TokenizerError> {
        Result { () throws(TokenizerError) in try Tokenizer(modelDirectory: directory) }
    }

    private func write(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }

    private func copy(_ name: String, from model: String) throws {
        try FileManager.default.copyItem(
            at: TestModels.url(model).appendingPathComponent(name),
            to: directory.appendingPathComponent(name))
    }

    private func assertError(
        _ matches: (TokenizerError) -> Bool, file: StaticString = #filePath, line: UInt = #line
    ) {
        switch load() {
        case .success:
            XCTFail("loading succeeded", file: file, line: line)
        case .failure(let error):
            XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "multi-line message", file: file, line: line)
        }
    }

    func testMissingDirectory() {
        directory = directory.appendingPathComponent("absent")
        assertError {
            if case .modelDirectoryNotFound(let path) = $0 { return path.hasSuffix("absent") }
            return false
        }
        directory = directory.deletingLastPathComponent()
    }

    func testMissingTokenizerFile() {
        assertError {
            if case .fileNotFound(let path) = $0 { return path.hasSuffix("tokenizer.json") }
            return false
        }
        if case .failure(let error) = load() {
            XCTAssertTrue(error.description.contains("tokenizer.json"), error.description)
            XCTAssertTrue(error.description.contains("Scripts/setup"), error.description)
        }
    }

    func testCorruptTokenizerFile() throws {
        try write("{\"model\": {\"vocab\": ", to: "tokenizer.json")
        assertError {
            if case .malformedFile(let path, _) = $0 { return path.hasSuffix("tokenizer.json") }
            return false
        }
    }

    func testTokenizerFileWithoutModel() throws {
        try write("{\"added_tokens\": []}", to: "tokenizer.json")
        assertError {
            if case .malformedFile(_, let reason) = $0 { return reason.contains("model") }
            return false
        }
    }

    func testTokenizerFileWithoutSpecialTokens() throws {
        // A valid byte-level BPE with only the 256 byte tokens: not a Whisper vocabulary.
        var vocab: [String: Int] = [:]
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var next = 256
        for byte in 0..<256 {
            let value: Int
            if printable.contains(byte) { value = byte } else { value = next; next += 1 }
            vocab[String(UnicodeScalar(UInt32(value)).map(Character.init) ?? "?")] = byte
        }
        let json = try JSONSerialization.data(withJSONObject: [
            "model": ["type": "BPE", "vocab": vocab, "merges": [String]()],
        ])
        try json.write(to: directory.appendingPathComponent("tokenizer.json"))
        assertError { $0 == .missingSpecialToken("<|endoftext|>") }
    }

    func testMismatchedVocabularyFile() throws {
        try copy("tokenizer.json", from: TestModels.englishName)
        try write("!\n\"\n#\n", to: "vocabulary.txt")
        assertError {
            if case .inconsistentVocabulary(let path, _) = $0 { return path.hasSuffix("vocabulary.txt") }
            return false
        }
    }

    func testVocabularyFileFromAnotherModel() throws {
        try copy("tokenizer.json", from: TestModels.englishName)
        try copy("vocabulary.json", from: TestModels.multilingualName)
        assertError {
            if case .inconsistentVocabulary(let path, _) = $0 { return path.hasSuffix("vocabulary.json") }
            return false
        }
    }

    func testCorruptVocabularyJSON() throws {
        try copy("tokenizer.json", from: TestModels.multilingualName)
        try write("[\"!\", 3", to: "vocabulary.json")
        assertError {
            if case .malformedFile(let path, _) = $0 { return path.hasSuffix("vocabulary.json") }
            return false
        }
    }

    func testTokenizerFileAloneAddsTimestamps() throws {
        // tiny.en's tokenizer.json stops at <|notimestamps|>; the timestamps come from vocabulary.txt.
        try copy("tokenizer.json", from: TestModels.englishName)
        let tokenizer = try load().get()
        let reference = try TestModels.tokenizer(TestModels.englishName)
        XCTAssertEqual(tokenizer.vocabularySize, reference.vocabularySize)
        XCTAssertEqual(tokenizer.specialTokens, reference.specialTokens)
        for id in stride(from: 50_000, to: reference.vocabularySize, by: 7) {
            XCTAssertEqual(tokenizer.token(for: id), reference.token(for: id), "id \(id)")
        }
        XCTAssertEqual(tokenizer.token(for: reference.vocabularySize - 1), "<|30.00|>")
    }

    func testMultilingualTokenizerFileAlone() throws {
        try copy("tokenizer.json", from: TestModels.multilingualName)
        let tokenizer = try load().get()
        let reference = try TestModels.tokenizer(TestModels.multilingualName)
        XCTAssertEqual(tokenizer.vocabularySize, reference.vocabularySize)
        XCTAssertEqual(tokenizer.specialTokens, reference.specialTokens)
        XCTAssertEqual(tokenizer.languageCodes, reference.languageCodes)
    }

    func testErrorDescriptionsAreOneLine() {
        let errors: [TokenizerError] = [
            .modelDirectoryNotFound(path: "/m"), .fileNotFound(path: "/m/tokenizer.json"),
            .unreadableFile(path: "/m/tokenizer.json", reason: "permission denied"),
            .malformedFile(path: "/m/tokenizer.json", reason: "bad"),
            .inconsistentVocabulary(path: "/m/vocabulary.txt", reason: "bad"),
            .missingSpecialToken("<|endoftext|>"),
        ]
        for error in errors {
            XCTAssertFalse(error.description.isEmpty)
            XCTAssertFalse(error.description.contains("\n"), error.description)
        }
    }
}
