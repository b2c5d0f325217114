import Foundation
import HarkTestSupport
import XCTest

@testable import Hark

/// The async API gives what the synchronous one gives, and a cancelled task stops it.
final class AsyncTranscriptionTests: XCTestCase {
    private func tiny() throws -> Transcriber {
        try Transcriber(modelAt: try TestSupport.modelDirectory("tiny.en"), computeType: .float32)
    }

    private var greedy: TranscriptionOptions {
        var options = TranscriptionOptions()
        options.beamSize = 1
        return options
    }

    func testTheTranscriptAndTheSegmentStreamAreTheSynchronousResult() async throws {
        let transcriber = try tiny()
        let sample = TestSupport.sample("voice-note-16k.wav")
        let expected = try transcriber.transcribe(path: sample, options: greedy)
        XCTAssertFalse(expected.segments.isEmpty)
        let awaited = try await transcriber.transcript(of: .path(sample), options: greedy)
        XCTAssertEqual(awaited.segments, expected.segments)
        var streamed: [Segment] = []
        for try await segment in transcriber.segments(of: .path(sample), options: greedy) { streamed.append(segment) }
        XCTAssertEqual(streamed, expected.segments)
    }

    func testAMissingFileThrowsItsError() async throws {
        let transcriber = try tiny()
        do {
            _ = try await transcriber.transcript(of: .path("/nonexistent/note.wav"))
            XCTFail("a missing file transcribed")
        } catch let error as TranscriptionError {
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
    }

    /// About 8 minutes of speech, cancelled once its first window is out: the task ends with
    /// CancellationError well before the recording could have been transcribed.
    func testCancellingTheTaskStopsWithinAWindow() async throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let entries = try ManifestEntry.read("dev-clean.tsv", limit: 150).filter { $0.audioPath.hasSuffix(".flac") }
        let long = directory.appendingPathComponent("long.flac").path
        XCTAssertEqual(try TestSupport.run("/usr/bin/sox", entries.map(\.audioPath) + [long]).status, 0)
        let transcriber = try tiny()
        let options = greedy
        let firstSegment = expectation(description: "the first window's segments")
        let task = Task {
            var count = 0
            for try await _ in transcriber.segments(of: .path(long), options: options) {
                count += 1
                if count == 1 { firstSegment.fulfill() }
            }
            return count
        }
        await fulfillment(of: [firstSegment], timeout: 120)
        let cancelled = ContinuousClock.now
        task.cancel()
        do {
            let count = try await task.value
            XCTFail("finished with \(count) segments despite the cancellation")
        } catch is CancellationError {
            XCTAssertLessThan(ContinuousClock.now - cancelled, .seconds(20), "stopped within a window or two")
        }
        // The whole-transcript call returns only once the work has stopped.
        let awaited = Task { try await transcriber.transcript(of: .path(long), options: options) }
        try await Task.sleep(for: .seconds(2))
        let stopping = ContinuousClock.now
        awaited.cancel()
        do {
            _ = try await awaited.value
            XCTFail("the transcript finished despite the cancellation")
        } catch is CancellationError {
            XCTAssertLessThan(ContinuousClock.now - stopping, .seconds(20), "the work stopped within a window or two")
        }
    }
}
