import XCTest

@testable import Hark

/// Seeking: how a window's tokens become segments, and where the next window starts.
final class WindowSeekingTests: XCTestCase {
    private var script: Script!

    override func setUpWithError() throws {
        script = Script(tokenizer: try LongFormFakes.tokenizer())
    }

    private func split(_ tokens: [Int], seek: Int = 0, contentFrames: Int = 100_000) -> (pieces: [SegmentPiece], nextSeek: Int) {
        WindowSeeking.split(tokens, window: WindowSpan(seek: seek, contentFrames: contentFrames),
                            timestampBegin: script.special.timestampBegin)
    }

    /// `<0.00> A <2.00><2.00> B <4.00><4.50> C`: two segments; the text after the last pair is
    /// unfinished, so the next window starts at that pair's first timestamp (4.00 s).
    func testConsecutiveTimestampsCutSegmentsAndSeekToTheLastPair() {
        let a = script.text(" A."), b = script.text(" B."), c = script.text(" C")
        let tokens = [script.at(0)] + a + [script.at(2), script.at(2)] + b + [script.at(4), script.at(4.5)] + c
        let (pieces, next) = split(tokens, seek: 3000)
        XCTAssertEqual(pieces, [SegmentPiece(start: 30, end: 32, tokens: [script.at(0)] + a + [script.at(2)]),
                                SegmentPiece(start: 32, end: 34, tokens: [script.at(2)] + b + [script.at(4)])])
        XCTAssertEqual(next, 3000 + 400)
    }

    /// `<0.00> A <2.00><2.00> B <4.00>`: a single timestamp at the end closes the last
    /// segment; it is kept and the next window follows this one.
    func testSingleTimestampEndingKeepsTheLastSegmentAndSeeksAWholeWindow() {
        let a = script.text(" A."), b = script.text(" B.")
        let tokens = [script.at(0)] + a + [script.at(2), script.at(2)] + b + [script.at(4)]
        let (pieces, next) = split(tokens, seek: 3000)
        XCTAssertEqual(pieces, [SegmentPiece(start: 30, end: 32, tokens: [script.at(0)] + a + [script.at(2)]),
                                SegmentPiece(start: 32, end: 34, tokens: [script.at(2)] + b + [script.at(4)])])
        XCTAssertEqual(next, 6000)
    }

    /// Text only: one segment over the whole window.
    func testNoTimestampsMakeOneSegmentOfTheWindow() {
        let a = script.text(" Just text.")
        XCTAssertEqual(split(a, seek: 3000).pieces, [SegmentPiece(start: 30, end: 60, tokens: a)])
        XCTAssertEqual(split(a, seek: 3000).nextSeek, 6000)
    }

    /// One segment with timestamps ends at its last timestamp, unless that is `<0.00>`.
    func testOneSegmentEndsAtItsLastTimestamp() {
        let a = script.text(" A.")
        let closed = [script.at(0)] + a + [script.at(3.5)]
        XCTAssertEqual(split(closed, seek: 500).pieces, [SegmentPiece(start: 5, end: 8.5, tokens: closed)])
        XCTAssertEqual(split(closed, seek: 500).nextSeek, 3500)
        let open = [script.at(0)] + a
        XCTAssertEqual(split(open, seek: 500).pieces, [SegmentPiece(start: 5, end: 35, tokens: open)])
    }

    /// The last window holds less than 30 s: it ends, and the next seek lands, at the recording's end.
    func testWindowShorterThan30Seconds() {
        let a = script.text(" The end.")
        let window = WindowSpan(seek: 6000, contentFrames: 7234)
        XCTAssertEqual(window.frames, 1234)
        XCTAssertEqual(window.duration, 12.34, accuracy: 1e-12)
        let (pieces, next) = split(a, seek: 6000, contentFrames: 7234)
        XCTAssertEqual(pieces, [SegmentPiece(start: 60, end: 72.34, tokens: a)])
        XCTAssertEqual(next, 7234)
    }

    /// Cues such as 11.58 → 11.58 on an 11.1-s recording: a segment's end is clamped to the
    /// recording before empty segments are dropped, and one that starts past the end is dropped.
    func testSegmentTimesLieInsideTheRecordingWithPositiveLength() {
        let duration = 11.1
        XCTAssertNil(WindowSeeking.segmentTimes(start: 11.58, end: 11.58, duration: duration))
        XCTAssertNil(WindowSeeking.segmentTimes(start: 13.14, end: 17.14, duration: duration))
        XCTAssertNil(WindowSeeking.segmentTimes(start: 11.1, end: 12, duration: duration))
        XCTAssertNil(WindowSeeking.segmentTimes(start: 4, end: 4, duration: duration))
        XCTAssertEqual(WindowSeeking.segmentTimes(start: 9, end: 12.5, duration: duration).map { [$0.start, $0.end] }, [9, 11.1])
        XCTAssertEqual(WindowSeeking.segmentTimes(start: 2, end: 5, duration: duration).map { [$0.start, $0.end] }, [2, 5])
    }

    /// Through the loop: on an 11.1-s recording, the segment running past the end is clamped
    /// to it and the one starting after it (in the window's padding) is dropped.
    func testSegmentsAreClampedAtTheRecordingsEnd() throws {
        let s = script!
        let tokens = [s.at(0)] + s.text(" A.") + [s.at(9), s.at(9)] + s.text(" B.") + [s.at(11.5), s.at(11.6)]
            + s.text(" C.") + [s.at(12)]
        let model = FakeWindowModel { _ in s.result(tokens) }
        var features = FakeFeatures(seconds: 11.1)
        let transcript = try s.transcribe(&features, model: model)
        XCTAssertEqual(transcript.segments.map { [$0.start, $0.end] }, [[0, 9], [9, 11.1]])
        XCTAssertEqual(transcript.segments.map(\.text), [" A.", " B."])
        XCTAssertEqual(transcript.duration, 11.1)
    }

    /// Through the loop, on 70 s: window 0 ends unfinished at 24 s, the window at 24 s ends
    /// with a single timestamp at 52 s (next at 54 s, a whole window on), and the last,
    /// 16-s window has no timestamps.
    func testTheSeekAdvancesThroughTheRecording() throws {
        let s = script!
        let model = FakeWindowModel { call in
            switch call.window {
            case 0: s.result([s.at(0)] + s.text(" One.") + [s.at(24), s.at(24)] + s.text(" Unfin"))
            case 1: s.result([s.at(0)] + s.text(" Two.") + [s.at(10), s.at(10)] + s.text(" Three.") + [s.at(28)])
            default: s.result(s.text(" Four."))
            }
        }
        var features = FakeFeatures(seconds: 70)
        var reports: [Double] = []
        let transcript = try s.transcribe(&features, model: model) { reports.append($0.secondsDone) }
        XCTAssertEqual(features.requested, [0, 2400, 5400])
        XCTAssertEqual(model.decodedWindows, [0, 1, 2])
        XCTAssertEqual(transcript.segments.map(\.text), [" One.", " Two.", " Three.", " Four."])
        XCTAssertEqual(transcript.segments.map(\.id), [0, 1, 2, 3])
        XCTAssertEqual(transcript.segments.map(\.seek), [0, 2400, 2400, 5400])
        XCTAssertEqual(transcript.segments.map { [$0.start, $0.end] }, [[0, 24], [24, 34], [34, 52], [54, 70]])
        XCTAssertEqual(reports, [0, 24, 54, 70])
        XCTAssertEqual(transcript.statistics.windows, 3)
    }

    /// A piece with no text (timestamps, or blanks only) makes no segment, and ids stay consecutive.
    func testPiecesWithoutTextAreDropped() throws {
        let s = script!
        let model = FakeWindowModel { call in
            call.window == 0
                ? s.result([s.at(0)] + s.text("  ") + [s.at(1), s.at(1)] + s.text(" A.") + [s.at(2)])
                : s.result([s.at(0), s.at(1), s.at(1)] + s.text(" B.") + [s.at(2)])
        }
        var features = FakeFeatures(seconds: 40)
        let transcript = try s.transcribe(&features, model: model)
        XCTAssertEqual(transcript.segments.map(\.text), [" A.", " B."])
        XCTAssertEqual(transcript.segments.map(\.id), [0, 1])
        XCTAssertEqual(transcript.segments.map(\.start), [1, 31])
    }
}
