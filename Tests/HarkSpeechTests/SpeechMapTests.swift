import Foundation
@testable import HarkSpeech
import HarkTestSupport
import XCTest

/// The way back from the speech-only timeline, against faster-whisper's `SpeechTimestampsMap`
/// (`Fixtures/map.json`, from `Scripts/reference/silero_reference.py`).
final class SpeechMapTests: XCTestCase {
    private struct Document: Decodable {
        struct Case: Decodable {
            var clip: String
            var optionSet: String
            var segments: [[Int]]
            var chunkEndSample: [Int]
            var totalSilenceBefore: [Double]
            /// time, chunk index, chunk index as an end, original time, original time as an end,
            /// and a word from time to time + 0.3 through the chunk of its middle: start, end.
            var times: [[Double]]

            enum CodingKeys: String, CodingKey {
                case clip, segments, times
                case optionSet = "option_set"
                case chunkEndSample = "chunk_end_sample"
                case totalSilenceBefore = "total_silence_before"
            }
        }
        var cases: [Case]
    }

    func testTheMapAnswersAsFasterWhispers() throws {
        let document = try JSONDecoder().decode(Document.self, from: Data(contentsOf: try SpeechFixtures.url("map.json")))
        var rows = 0
        for entry in document.cases {
            let label = "\(entry.clip), \(entry.optionSet)"
            let map = SpeechMap(segments: entry.segments.map { SpeechSegment(start: $0[0], end: $0[1]) })
            XCTAssertEqual(map.chunkEnds, entry.chunkEndSample, label)
            XCTAssertEqual(map.silenceBefore, entry.totalSilenceBefore, label)
            for row in entry.times {
                let time = row[0]
                XCTAssertEqual(map.chunkIndex(of: time), Int(row[1]), "\(label) at \(time)")
                XCTAssertEqual(map.chunkIndex(of: time, isEnd: true), Int(row[2]), "\(label) at \(time), as an end")
                XCTAssertEqual(map.originalTime(time), row[3], "\(label) at \(time)")
                XCTAssertEqual(map.originalTime(time, isEnd: true), row[4], "\(label) at \(time), as an end")
                let word = map.originalWord(start: time, end: time + 0.3)
                XCTAssertEqual(word.start, row[5], "\(label): word at \(time)")
                XCTAssertEqual(word.end, row[6], "\(label): word at \(time)")
                rows += 1
            }
        }
        XCTAssertGreaterThan(rows, 200)
        print("SpeechMap: \(rows) times on \(document.cases.count) segment lists, all as faster-whisper maps them")
    }

    /// Speech placed at known offsets between long pauses: the collected samples are the
    /// speech alone, and times in them map back to where the speech is in the recording.
    func testCollectedSpeechMapsBackToItsPlaceInTheRecording() {
        // 1 s of speech at 2 s, 0.5 s at 10 s, 2 s at 20 s, in 30 s of silence (sample i of
        // the recording holds the value i, to see where collected samples come from).
        let rate = 16_000
        let recording = (0..<(30 * rate)).map(Float.init)
        let segments = [SpeechSegment(start: 2 * rate, end: 3 * rate), SpeechSegment(start: 10 * rate, end: 10 * rate + rate / 2),
                        SpeechSegment(start: 20 * rate, end: 22 * rate)]
        let map = SpeechMap(segments: segments)
        let speech = map.collect(recording)
        XCTAssertEqual(speech.count, map.speechSampleCount)
        XCTAssertEqual(speech.count, rate * 7 / 2)
        XCTAssertEqual(speech[0], Float(2 * rate))
        XCTAssertEqual(speech[rate], Float(10 * rate), "the second segment follows the first directly")
        XCTAssertEqual(speech[rate * 3 / 2], Float(20 * rate))
        XCTAssertEqual(speech.last, Float(22 * rate - 1))

        XCTAssertEqual(map.originalTime(0), 2)
        XCTAssertEqual(map.originalTime(0.5), 2.5)
        XCTAssertEqual(map.originalTime(1), 10, "a start at the boundary is the next segment's")
        XCTAssertEqual(map.originalTime(1, isEnd: true), 3, "an end at the boundary stays in its segment")
        XCTAssertEqual(map.originalTime(1.25), 10.25)
        XCTAssertEqual(map.originalTime(1.5, isEnd: true), 10.5)
        XCTAssertEqual(map.originalTime(2.7), 21.2)
        XCTAssertEqual(map.originalTime(9), 27.5, "beyond the speech: the last segment's offset")
        XCTAssertEqual(map.originalSpan(start: 0.2, end: 1.0).end, 3)
        let word = map.originalWord(start: 0.9, end: 1.2)  // its middle, 1.05, is in the second segment
        XCTAssertEqual(word.start, 9.9)
        XCTAssertEqual(word.end, 10.2)
    }

    func testRoundingIsPythons() {
        XCTAssertEqual(SpeechMap.round(0.125, decimals: 2), 0.12, "an exact half goes to even")
        XCTAssertEqual(SpeechMap.round(0.375, decimals: 2), 0.38)
        XCTAssertEqual(SpeechMap.round(2.675, decimals: 2), 2.67, "2.675 is 2.67499… in binary")
        XCTAssertEqual(SpeechMap.round(1.005, decimals: 2), 1.0)
        XCTAssertEqual(SpeechMap.round(-0.004, decimals: 2), -0.0)
        XCTAssertEqual(SpeechMap.round(12.3456, decimals: 3), 12.346)
    }

    func testWithoutSegmentsNothingMoves() {
        let map = SpeechMap(segments: [])
        XCTAssertEqual(map.collect([1, 2, 3]), [])
        XCTAssertEqual(map.originalTime(1.234), 1.23)
        XCTAssertEqual(map.originalWord(start: 1, end: 2).end, 2)
    }
}
