import XCTest

@testable import Hark

/// Seeking: how a window's tokens become segments, and where the next window starts.
final class WindowSeekingTests: XCTestCase {
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
}
