import Foundation
@testable import HarkSpeech
import HarkTestSupport
import XCTest

/// Speech segments against faster-whisper 1.2.1's own `get_speech_timestamps`, run by
/// `Scripts/reference/silero_reference.py` on the same probabilities (`Fixtures/segments.json`).
final class SpeechSegmentsTests: XCTestCase {
    /// The fixture: faster-whisper's option names, and its segments per clip and option set.
    private struct Document: Decodable {
        struct OptionSet: Decodable {
            var name: String
            var threshold: Double?
            var negThreshold: Double?
            var minSpeechDurationMs: Int?
            var maxSpeechDurationS: Double?
            var minSilenceDurationMs: Int?
            var speechPadMs: Int?

            enum CodingKeys: String, CodingKey {
                case name, threshold
                case negThreshold = "neg_threshold"
                case minSpeechDurationMs = "min_speech_duration_ms"
                case maxSpeechDurationS = "max_speech_duration_s"
                case minSilenceDurationMs = "min_silence_duration_ms"
                case speechPadMs = "speech_pad_ms"
            }

            /// Absent keys take the defaults, as `VadOptions(**fields)` does.
            var options: SpeechDetectionOptions {
                var options = SpeechDetectionOptions()
                if let threshold { options.threshold = threshold }
                options.negativeThreshold = negThreshold
                if let minSpeechDurationMs { options.minSpeechDurationMs = minSpeechDurationMs }
                if let maxSpeechDurationS { options.maxSpeechDurationSeconds = maxSpeechDurationS }
                if let minSilenceDurationMs { options.minSilenceDurationMs = minSilenceDurationMs }
                if let speechPadMs { options.speechPadMs = speechPadMs }
                return options
            }
        }

        var optionSets: [OptionSet]
        var segments: [String: [String: [[Int]]]]

        enum CodingKeys: String, CodingKey {
            case optionSets = "option_sets"
            case segments
        }
    }

    private func document() throws -> Document {
        try JSONDecoder().decode(Document.self, from: Data(contentsOf: try SpeechFixtures.url("segments.json")))
    }

    /// Every clip, every option set: the same segments, to the sample.
    func testSegmentsMatchFasterWhisperToTheSample() throws {
        let document = try document()
        var compared = 0, segments = 0
        for clip in try SpeechFixtures.clips() {
            let probabilities = try SpeechFixtures.probabilities(clip.name)
            let expected = try XCTUnwrap(document.segments[clip.name], clip.name)
            for set in document.optionSets {
                let actual = SpeechSegments.timestamps(probabilities: probabilities.values, sampleCount: probabilities.samples,
                                                       options: set.options)
                let wanted = try XCTUnwrap(expected[set.name]).map { SpeechSegment(start: $0[0], end: $0[1]) }
                XCTAssertEqual(actual, wanted, "\(clip.name), \(set.name)")
                compared += 1
                segments += wanted.count
            }
        }
        XCTAssertEqual(compared, 7 * 8)
        print("SpeechSegments: \(compared) clip and option pairs, \(segments) segments, all equal to faster-whisper's")
    }

    func testTheDefaultsAreFasterWhispers() {
        let options = SpeechDetectionOptions()
        XCTAssertEqual(options.threshold, 0.5)
        XCTAssertNil(options.negativeThreshold)
        XCTAssertEqual(options.minSpeechDurationMs, 0)
        XCTAssertEqual(options.maxSpeechDurationSeconds, .infinity)
        XCTAssertEqual(options.minSilenceDurationMs, 2000)
        XCTAssertEqual(options.speechPadMs, 400)
    }

    /// The network's own probabilities give faster-whisper's segments on the clips with pauses
    /// (speech, silence, speech, noise, speech): three segments each, the pauses left out. On
    /// every clip and option set, how many agree is printed (probabilities a few 1e-6 apart can
    /// only differ where one sits that close to a threshold).
    func testDetectOnRecordingsWithPauses() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let detector = SileroVAD(weights: try SpeechFixtures.weights())
        let document = try document()
        var agreeing = 0, compared = 0
        for clip in try SpeechFixtures.clips() {
            let samples = try SpeechFixtures.samples(of: clip, building: directory)
            let expected = try XCTUnwrap(document.segments[clip.name])
            for set in document.optionSets {
                let segments = SpeechSegments.detect(in: samples, using: detector, options: set.options)
                let wanted = try XCTUnwrap(expected[set.name]).map { SpeechSegment(start: $0[0], end: $0[1]) }
                compared += 1
                if segments == wanted { agreeing += 1 }
                guard clip.name.hasPrefix("pauses-"), set.name == "defaults" else { continue }
                XCTAssertEqual(segments, wanted, clip.name)
                XCTAssertEqual(segments.count, 3, clip.name)
                let speech = segments.map(\.count).reduce(0, +)
                XCTAssertLessThan(Double(speech), 0.75 * Double(samples.count), "\(clip.name): the pauses are left out")
            }
        }
        print("SpeechSegments.detect: \(agreeing) of \(compared) clip and option pairs give faster-whisper's segments on Hark's own probabilities")
    }

    /// Probabilities are compared in single precision with the thresholds rounded to it, as
    /// NumPy 2 compares a float32 with a Python float: exactly Float(0.35), the default
    /// negative threshold, is not silence (0.35 as a double is above it).
    func testThresholdsCompareInSinglePrecision() {
        let options = SpeechDetectionOptions(minSilenceDurationMs: 0, speechPadMs: 0)
        let atNegative = Float(0.35)
        XCTAssertLessThan(Double(atNegative), 0.5 - 0.15)
        // Speech, then a chunk exactly at the negative threshold (not silence), then silence.
        let segments = SpeechSegments.timestamps(probabilities: [0.9, atNegative, 0.1, 0.1], sampleCount: 2048, options: options)
        XCTAssertEqual(segments, [SpeechSegment(start: 0, end: 1024)])
        // Exactly at the threshold starts speech.
        XCTAssertEqual(SpeechSegments.timestamps(probabilities: [0.1, Float(0.5), 0.0, 0.0], sampleCount: 2048, options: options),
                       [SpeechSegment(start: 512, end: 1024)])
    }

    func testEdgeCases() {
        XCTAssertEqual(SpeechSegments.timestamps(probabilities: [], sampleCount: 0), [])
        XCTAssertEqual(SpeechSegments.timestamps(probabilities: [0.1, 0.2], sampleCount: 700), [])
        // Speech to the end runs to the end of the recording, the padding kept inside it.
        XCTAssertEqual(SpeechSegments.timestamps(probabilities: [0.1, 0.9, 0.9], sampleCount: 1300), [SpeechSegment(start: 0, end: 1300)])
        // Two segments whose gap is under twice the padding share it (the floor of half each).
        let options = SpeechDetectionOptions(minSilenceDurationMs: 64, speechPadMs: 40)  // pad 640 samples
        let probabilities: [Float] = [0.9, 0.9] + [Float](repeating: 0, count: 4) + [0.9] + [Float](repeating: 0, count: 10)
        let segments = SpeechSegments.timestamps(probabilities: probabilities, sampleCount: 17 * 512, options: options)
        XCTAssertEqual(segments, [SpeechSegment(start: 0, end: 1024 + 640), SpeechSegment(start: 3072 - 640, end: 3584 + 640)])
        XCTAssertEqual(SpeechSegments.floorDivide(7, 2), 3)
        XCTAssertEqual(SpeechSegments.floorDivide(-7, 2), -4)
        XCTAssertEqual(SpeechSegments.floorDivide(-8, 2), -4)
    }
}
