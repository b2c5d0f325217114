import Foundation
import XCTest
import HarkTokenizer

final class TokenizerTests: XCTestCase {
    // MARK: Vocabulary and special tokens

    func testEnglishOnlyVocabulary() throws {
        let tokenizer = try TestModels.tokenizer(TestModels.englishName)
        XCTAssertEqual(tokenizer.vocabularySize, 51864)
        XCTAssertFalse(tokenizer.isMultilingual)
        XCTAssertEqual(tokenizer.specialTokens, SpecialTokens(
            eot: 50256, sot: 50257, translate: 50357, transcribe: 50358, startOfLM: 50359,
            startOfPrev: 50360, noSpeech: 50361, noTimestamps: 50362, timestampBegin: 50363))
        XCTAssertEqual(tokenizer.token(for: 50361), "<|nocaptions|>")
        XCTAssertEqual(tokenizer.token(for: 50363), "<|0.00|>")
        XCTAssertEqual(tokenizer.token(for: 51863), "<|30.00|>")
    }

    func testMultilingualVocabulary() throws {
        let tokenizer = try TestModels.tokenizer(TestModels.multilingualName)
        XCTAssertEqual(tokenizer.vocabularySize, 51865)
        XCTAssertTrue(tokenizer.isMultilingual)
        XCTAssertEqual(tokenizer.specialTokens, SpecialTokens(
            eot: 50257, sot: 50258, translate: 50358, transcribe: 50359, startOfLM: 50360,
            startOfPrev: 50361, noSpeech: 50362, noTimestamps: 50363, timestampBegin: 50364))
        XCTAssertEqual(tokenizer.token(for: 50362), "<|nospeech|>")
        XCTAssertEqual(tokenizer.token(for: 51864), "<|30.00|>")
    }

    func testTokenAndIdLookUp() throws {
        for name in [TestModels.englishName, TestModels.multilingualName] {
            let tokenizer = try TestModels.tokenizer(name)
            let special = tokenizer.specialTokens
            XCTAssertEqual(tokenizer.id(for: "<|endoftext|>"), special.eot, name)
            XCTAssertEqual(tokenizer.id(for: "<|1.00|>"), special.timestampBegin + 50, name)
            XCTAssertEqual(tokenizer.token(for: special.timestampBegin + 50), "<|1.00|>", name)
            XCTAssertEqual(tokenizer.token(for: 220), "Ġ", name)
            XCTAssertEqual(tokenizer.id(for: "Ġ"), 220, name)
            XCTAssertNil(tokenizer.token(for: -1), name)
            XCTAssertNil(tokenizer.token(for: tokenizer.vocabularySize), name)
            XCTAssertNil(tokenizer.id(for: "<|no such token|>"), name)
            for id in [0, 1000, special.eot, special.sot, tokenizer.vocabularySize - 1] {
                let token = try XCTUnwrap(tokenizer.token(for: id))
                XCTAssertEqual(tokenizer.id(for: token), id, "\(name): \(token)")
            }
        }
        let english = try TestModels.tokenizer(TestModels.englishName)
        XCTAssertEqual(english.token(for: 23748), "Ġhello")
        XCTAssertEqual(english.id(for: "Ġhello"), 23748)
    }

    // MARK: Languages

    func testMultilingualLanguages() throws {
        let tokenizer = try TestModels.tokenizer(TestModels.multilingualName)
        let codes = tokenizer.languageCodes
        XCTAssertEqual(Array(codes.prefix(3)), ["en", "zh", "de"])
        XCTAssertEqual(codes.count, 99)
        XCTAssertEqual(codes.last, "su")
        XCTAssertEqual(Set(codes).count, codes.count)
        XCTAssertEqual(tokenizer.languageToken(for: "en"), 50259)
        XCTAssertEqual(tokenizer.languageToken(for: "zh"), 50260)
        XCTAssertNil(tokenizer.languageToken(for: "xx"))
        XCTAssertNil(tokenizer.languageToken(for: "translate"))
        for (offset, code) in codes.enumerated() {
            XCTAssertEqual(tokenizer.languageToken(for: code), tokenizer.specialTokens.sot + 1 + offset, code)
            XCTAssertEqual(tokenizer.token(for: tokenizer.specialTokens.sot + 1 + offset), "<|\(code)|>")
        }
    }

    func testEnglishOnlyHasNoLanguageTokens() throws {
        let tokenizer = try TestModels.tokenizer(TestModels.englishName)
        XCTAssertNil(tokenizer.languageToken(for: "en"))
        XCTAssertTrue(tokenizer.languageCodes.isEmpty)
    }

    // MARK: Encoding and decoding

    func testEncodeKnownIds() throws {
        let english = try TestModels.tokenizer(TestModels.englishName)
        XCTAssertEqual(english.encode(" Hello world"), [18435, 995])
        XCTAssertEqual(english.encode(""), [])
        let multilingual = try TestModels.tokenizer(TestModels.multilingualName)
        XCTAssertEqual(multilingual.encode(" Hello world"), [2425, 1002])
    }

    func testEncodeTreatsSpecialTokenStringsAsText() throws {
        for name in [TestModels.englishName, TestModels.multilingualName] {
            let tokenizer = try TestModels.tokenizer(name)
            let text = "<|endoftext|><|en|><|0.00|>"
            let ids = tokenizer.encode(text)
            XCTAssertTrue(ids.allSatisfy { $0 < tokenizer.specialTokens.eot }, name)
            XCTAssertEqual(tokenizer.decode(ids), text, name)
        }
    }

    func testDecodeSkipsSpecialAndTimestampTokens() throws {
        for name in [TestModels.englishName, TestModels.multilingualName] {
            let tokenizer = try TestModels.tokenizer(name)
            let special = tokenizer.specialTokens
            let text = tokenizer.encode(" Hello world.")
            let more = tokenizer.encode(" Bye.")
            var ids = [special.sot]
            if let english = tokenizer.languageToken(for: "en") { ids.append(english) }
            ids += [special.transcribe, special.timestampBegin]
            ids += text
            ids += [special.timestampBegin + 75, special.timestampBegin + 75]
            ids += more
            ids += [special.timestampBegin + 100, special.noTimestamps, special.startOfPrev,
                    special.noSpeech, special.startOfLM, special.translate, special.eot,
                    tokenizer.vocabularySize - 1, tokenizer.vocabularySize, -1]
            XCTAssertEqual(tokenizer.decode(ids), " Hello world. Bye.", name)
            XCTAssertEqual(tokenizer.decode([special.eot, special.sot]), "", name)
            XCTAssertEqual(tokenizer.decode([]), "", name)
        }
    }

    func testDecodeReassemblesCharactersSplitAcrossTokens() throws {
        let tokenizer = try TestModels.tokenizer(TestModels.multilingualName)
        let ids = tokenizer.encode("👍🏽 你好")
        XCTAssertGreaterThan(ids.count, 3)
        XCTAssertEqual(tokenizer.decode(ids), "👍🏽 你好")
        // A prefix that cuts a character in the middle yields U+FFFD, never a crash.
        let partial = tokenizer.decode(Array(ids.prefix(1)))
        XCTAssertTrue(partial.unicodeScalars.contains("\u{FFFD}"))
    }

    func testEncodeLongPromptIsFast() throws {
        let tokenizer = try TestModels.tokenizer(TestModels.englishName)
        let sentence = " The quick brown fox jumps over the lazy dog, doesn't it? 1,234 times!"
        let prompt = String(repeating: sentence, count: 30)
        let start = Date()
        let ids = tokenizer.encode(prompt)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(tokenizer.decode(ids), prompt)
        XCTAssertLessThan(elapsed, 1.0, "encoding \(prompt.count) characters took \(elapsed) s")
    }

    func testTokenizerIsSendable() async throws {
        let tokenizer = try TestModels.tokenizer(TestModels.englishName)
        let decoded = await Task.detached { tokenizer.decode(tokenizer.encode(" concurrent")) }.value
        XCTAssertEqual(decoded, " concurrent")
    }
}
