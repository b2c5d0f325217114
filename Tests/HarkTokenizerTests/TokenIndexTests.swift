import XCTest
@testable import HarkTokenizer

final class TokenIndexTests: XCTestCase {
    func testFindsEveryTokenByItsBytesAndNothingElse() {
        var tokens = ["Ġthe", "the", "", "<|endoftext|>", "é", "e\u{301}", "ĠĠ", "Ġ"]
        // Many more, so that the table's probing and collisions are exercised.
        var state: UInt64 = 7
        while tokens.count < 60_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let length = Int(state >> 60) + 1
            let scalars = (0..<length).map { i in Unicode.Scalar(UInt32(0x21 + (state >> UInt64(4 * i)) % 300)) ?? "x" }
            tokens.append(String(String.UnicodeScalarView(scalars)))
        }
        let index = TokenIndex(tokens)
        var first: [[UInt8]: Int] = [:]
        for (id, token) in tokens.enumerated() where first[Array(token.utf8)] == nil { first[Array(token.utf8)] = id }
        for token in tokens {
            XCTAssertEqual(index.id(of: token), first[Array(token.utf8)], token)
        }
        XCTAssertEqual(index.id(of: "Ġthe"), 0)
        XCTAssertEqual(index.id(of: ""), 2)
        // Canonically equivalent strings are different tokens: bytes decide, not String's ==.
        XCTAssertEqual(index.id(of: "é"), 4)
        XCTAssertEqual(index.id(of: "e\u{301}"), 5)
        XCTAssertNil(index.id(of: "Ġth"))
        XCTAssertNil(index.id(of: "Ġthe "))
        XCTAssertNil(index.id(of: "<|no such token|>"))
    }

    func testTheFirstOfEqualTokensWins() {
        let index = TokenIndex(["a", "b", "a", "b", "c"])
        XCTAssertEqual(index.id(of: "a"), 0)
        XCTAssertEqual(index.id(of: "b"), 1)
        XCTAssertEqual(index.id(of: "c"), 4)
        XCTAssertNil(TokenIndex([]).id(of: "a"))
    }
}
