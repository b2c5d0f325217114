import Foundation
import HarkAudio
import HarkTestSupport
import XCTest

@testable import HarkFeatures

final class LogMelTests: XCTestCase {
    private func fixture(_ melCount: Int) throws -> FloatFixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/voice-note-16k.mel\(melCount)", withExtension: "f32"))
        return try FloatFixture(url: url, magic: "HMEL", headerWords: 2)
    }

    /// The golden test: Whisper's features of a committed sample, from the numpy reference.
    func testMatchesNumpyReferenceFor80And128Bands() throws {
        let samples = try AudioReader.decode(path: TestSupport.sample("voice-note-16k.wav"))
        for melCount in [80, 128] {
            let reference = try fixture(melCount)
            XCTAssertEqual(reference.header, [melCount, 641])
            let mel = MelSpectrogram(samples: samples, melCount: melCount)
            XCTAssertEqual(mel.melCount, melCount)
            XCTAssertEqual(mel.frameCount, 641)
            var worst: Float = 0
            for i in 0..<reference.values.count { worst = max(worst, abs(mel.values[i] - reference.values[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(melCount) bands: max abs difference \(worst)")
        }
    }

    /// Spot values of librosa 0.11's `filters.mel(sr=16000, n_fft=400, n_mels=80)`.
    func testFilterbankMatchesLibrosa() {
        let bank = MelFilterbank(bandCount: 80)
        XCTAssertEqual(bank.binCount, 201)
        let expected: [(band: Int, first: Int, weights: [Float])] = [
            (0, 1, [0.02486259490251541]),
            (1, 1, [0.001990821911022067, 0.022871771827340126]),
            (40, 42, [0.005411104764789343, 0.014735566452145576, 0.006518189795315266]),
            (79, 186, [0.000366741674952209, 0.0008330700220540166, 0.0012993983691558242, 0.0017657268326729536]),
        ]
        for (band, first, weights) in expected {
            XCTAssertEqual(bank.bands[band].firstBin, first, "band \(band)")
            for (i, weight) in weights.enumerated() {
                XCTAssertEqual(bank.bands[band].weights[i], weight, accuracy: 1e-8, "band \(band) weight \(i)")
            }
        }
        XCTAssertEqual(bank.bands[40].weights.count, 3)
        // The scale is linear below 1 kHz (200/3 Hz per mel) and logarithmic above.
        XCTAssertEqual(MelFilterbank.hertzToMel(1000), 15, accuracy: 1e-12)
        XCTAssertEqual(MelFilterbank.hertzToMel(500), 7.5, accuracy: 1e-12)
        XCTAssertEqual(MelFilterbank.melToHertz(MelFilterbank.hertzToMel(4321)), 4321, accuracy: 1e-9)
        XCTAssertEqual(MelFilterbank(bandCount: 128).bands.count, 128)
    }

    func testFrameCountAndRangeProperties() {
        var generator = SystemRandomNumberGenerator()
        for count in [1, 40, 159, 160, 161, 400, 1599, 16_000, 48_123] {
            let samples = (0..<count).map { _ in Float.random(in: -0.5...0.5, using: &generator) }
            let mel = MelSpectrogram(samples: samples)
            XCTAssertEqual(mel.frameCount, count / 160 + 1, "\(count) samples")
            XCTAssertEqual(mel.contentFrameCount, count / 160, "\(count) samples")
            let high = mel.values.max() ?? 0, low = mel.values.min() ?? 0
            XCTAssertLessThanOrEqual(high - low, 2.0 + 1e-6, "clamped to max − 8, then divided by 4")
            XCTAssertTrue(mel.values.allSatisfy(\.isFinite))
        }
    }

    func testSilenceIsFloorEverywhere() {
        let mel = MelSpectrogram(samples: [Float](repeating: 0, count: 16_000))
        // log10(1e-10) = -10, normalised: (-10 + 4) / 4 = -1.5.
        XCTAssertTrue(mel.values.allSatisfy { $0 == -1.5 })
    }

    func testStreamingInAnyChunkSizeEqualsWholeClip() {
        let samples = (0..<20_000).map { Float(sin(Double($0) * 0.05)) * 0.3 }
        var whole = LogMelFrames()
        let reference = whole.append(samples) + whole.finish()
        for chunk in [1, 7, 160, 401, 5000] {
            var frames = LogMelFrames()
            var output: [Float] = []
            var start = 0
            while start < samples.count {
                output += frames.append(Array(samples[start..<min(start + chunk, samples.count)]))
                start += chunk
            }
            output += frames.finish()
            XCTAssertEqual(output, reference, "chunk \(chunk)")
        }
    }

    func testWindowsPadWithZeroAfterTheContent() {
        let mel = MelSpectrogram(samples: (0..<8000).map { Float(sin(Double($0) * 0.1)) })
        let window = mel.window(startingAt: 0, frames: mel.contentFrameCount)
        XCTAssertEqual(window.count, 80 * 3000)
        XCTAssertEqual(window[5 * 3000 + 10], mel[5, 10])
        XCTAssertEqual(window[5 * 3000 + mel.contentFrameCount], 0, "the last STFT frame is not part of the window")
        XCTAssertEqual(window[79 * 3000 + 2999], 0)
    }

    func testStreamedFeaturesEqualInMemoryFeatures() throws {
        let path = TestSupport.sample("shopping-48k.flac")
        let samples = try AudioReader.decode(path: path)
        let mel = MelSpectrogram(samples: samples)
        var streamed = try StreamedFeatures(path: path)
        XCTAssertEqual(streamed.frameCount, mel.frameCount)
        XCTAssertEqual(streamed.contentFrameCount, mel.contentFrameCount)
        for start in [0, 37, 200] {
            let frames = min(3000, mel.contentFrameCount - start)
            let expected = mel.window(startingAt: start, frames: frames)
            let actual = try streamed.window(startingAt: start, frames: frames)
            var worst: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(expected[i] - actual[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "window at \(start)")
        }
    }

    /// A long recording spans many windows, the same whether the first pass's frames are kept
    /// (the default for a recording this short), decoded again in bounded memory (nothing may
    /// be held), or decoded again because they outgrew what may be held.
    func testLongRecordingGivesTheSameWindowsHeldOrStreamed() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("long.wav")
        let seconds = 75.0
        let tone = (0..<Int(seconds * 16_000)).map { Float(sin(Double($0) * 0.02)) * Float($0 % 48_000) / 96_000 }
        try WAVWriter.write(tone, to: file, sampleRate: 16_000)
        let mel = MelSpectrogram(samples: try AudioReader.decode(path: file.path))
        for heldBytes in [StreamedFeatures.heldBytesLimit, 0, 1 << 20] {
            var features = try StreamedFeatures(path: file.path, holdingUpTo: heldBytes)
            XCTAssertEqual(features.duration, seconds, accuracy: 1e-9)
            for start in [0, 1234, 3000, 6000, 7400] {
                let frames = min(3000, mel.contentFrameCount - start)
                let same = try features.window(startingAt: start, frames: frames) == mel.window(startingAt: start, frames: frames)
                XCTAssertTrue(same, "window at \(start), holding up to \(heldBytes) bytes")
            }
        }
    }
}
