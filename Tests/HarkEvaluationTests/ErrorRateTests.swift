import HarkEvaluation
import XCTest

/// Word and character alignments with known edit counts.
final class ErrorRateTests: XCTestCase {
    private func words(_ text: String) -> [String] { text.split(separator: " ").map(String.init) }

    func testIdenticalSequencesHaveNoEdits() {
        let counts = Alignment.counts(reference: words("the cat sat"), hypothesis: words("the cat sat"))
        XCTAssertEqual(counts, EditCounts(hits: 3))
        XCTAssertEqual(counts.rate, 0)
    }

    func testOneDeletionOneInsertionOneSubstitution() {
        XCTAssertEqual(Alignment.counts(reference: words("the cat sat on the mat"), hypothesis: words("the cat sat on mat")),
                       EditCounts(hits: 5, deletions: 1))
        XCTAssertEqual(Alignment.counts(reference: words("the cat sat"), hypothesis: words("oh the cat sat")),
                       EditCounts(hits: 3, insertions: 1))
        XCTAssertEqual(Alignment.counts(reference: words("the cat sat"), hypothesis: words("the bat sat")),
                       EditCounts(hits: 2, substitutions: 1))
    }

    func testMixedEdits() {
        // b→x substituted, d deleted, g inserted.
        let counts = Alignment.counts(reference: words("a b c d e f"), hypothesis: words("a x c e f g"))
        XCTAssertEqual(counts, EditCounts(hits: 4, substitutions: 1, deletions: 1, insertions: 1))
        XCTAssertEqual(counts.errors, 3)
        XCTAssertEqual(counts.referenceLength, 6)
        XCTAssertEqual(counts.hypothesisLength, 6)
        XCTAssertEqual(counts.rate, 0.5, accuracy: 1e-12)
    }

    func testCharacterLevelKittenSitting() {
        let counts = Alignment.counts(reference: Array("kitten"), hypothesis: Array("sitting"))
        XCTAssertEqual(counts.errors, 3)
        XCTAssertEqual(counts, EditCounts(hits: 4, substitutions: 2, insertions: 1))
    }

    func testEmptySides() {
        XCTAssertEqual(Alignment.counts(reference: [String](), hypothesis: []), EditCounts())
        XCTAssertEqual(EditCounts().rate, 0)
        let inserted = Alignment.counts(reference: [], hypothesis: words("thank you"))
        XCTAssertEqual(inserted, EditCounts(insertions: 2))
        XCTAssertEqual(inserted.rate, .infinity)
        XCTAssertEqual(Alignment.counts(reference: words("thank you"), hypothesis: []), EditCounts(deletions: 2))
    }

    func testTotalEqualsLevenshteinDistanceOnRandomSequences() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let reference = (0..<Int.random(in: 0...12, using: &generator)).map { _ in Int.random(in: 0...3, using: &generator) }
            let hypothesis = (0..<Int.random(in: 0...12, using: &generator)).map { _ in Int.random(in: 0...3, using: &generator) }
            let counts = Alignment.counts(reference: reference, hypothesis: hypothesis)
            XCTAssertEqual(counts.errors, levenshtein(reference, hypothesis))
            XCTAssertEqual(counts.referenceLength, reference.count)
            XCTAssertEqual(counts.hypothesisLength, hypothesis.count)
        }
    }

    func testCorpusRateIsTotalEditsOverTotalWords() {
        let counts = [EditCounts(hits: 8, substitutions: 2), EditCounts(hits: 5)]
        XCTAssertEqual(ErrorRate.corpusRate(counts), 2.0 / 15.0, accuracy: 1e-12)
        XCTAssertEqual(counts.reduce(EditCounts(), +), EditCounts(hits: 13, substitutions: 2))
    }

    func testWordEditsAreCountedAfterNormalisation() {
        XCTAssertEqual(ErrorRate.wordEdits(reference: "Twenty-five dollars, please.", hypothesis: "$25 please").errors, 0)
        XCTAssertEqual(ErrorRate.wordEdits(reference: "I can't go to the theatre.", hypothesis: "i cannot go to the theater").errors, 2,
                       "'can not' against 'cannot': one substitution, one deletion")
        XCTAssertEqual(ErrorRate.wordEdits(reference: "Um, we won't [laughs] stop", hypothesis: "we will not stop").errors, 0)
    }

    func testCharacterEditsCountSpacesBetweenNormalisedWords() {
        let counts = ErrorRate.characterEdits(reference: "Hello, world!", hypothesis: "hello word")
        XCTAssertEqual(counts.referenceLength, 11) // "hello world"
        XCTAssertEqual(counts, EditCounts(hits: 10, deletions: 1))
        XCTAssertEqual(ErrorRate.characterEdits(reference: "ab cd", hypothesis: "abcd"), EditCounts(hits: 4, deletions: 1))
    }

    private func levenshtein(_ a: [Int], _ b: [Int]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
