import Foundation
import HarkFeatures
import HarkTestSupport
import XCTest

@testable import HarkModel

final class EncoderTests: XCTestCase {
    /// The encoder's output for a committed sample matches our numpy reference
    /// (`Scripts/reference/whisper_numpy.py`, itself checked against CTranslate2).
    func testEncoderMatchesNumpyReference() throws {
        let model = try WhisperModel(directory: try TestSupport.modelDirectory("tiny.en"))
        let output = model.encode(try voiceNoteWindow())
        XCTAssertEqual(output.count, 1500 * 384)

        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/voice-note-16k.tiny_en.encoder", withExtension: "f32"))
        let reference = try FloatFixture(url: url, magic: "HENC", headerWords: 3)
        let (rows, width, stride) = (reference.header[0], reference.header[1], reference.header[2])
        XCTAssertEqual(width, 384)
        var worst: Float = 0
        for row in 0..<rows {
            for i in 0..<width {
                worst = max(worst, abs(output[row * stride * width + i] - reference.values[row * width + i]))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-3, "max abs difference \(worst)")
    }

    func testDimensionsOfTinyEnAndBase() throws {
        let tiny = try WhisperModel(directory: try TestSupport.modelDirectory("tiny.en"))
        XCTAssertEqual(tiny.dimensions, WhisperDimensions(melCount: 80, modelWidth: 384, encoderLayers: 4, decoderLayers: 4,
                                                          encoderHeads: 6, decoderHeads: 6, vocabularySize: 51864,
                                                          audioContext: 1500, textContext: 448))
        let base = try WhisperModel(directory: try TestSupport.modelDirectory("base"))
        XCTAssertEqual(base.dimensions.modelWidth, 512)
        XCTAssertEqual(base.dimensions.encoderLayers, 6)
        XCTAssertEqual(base.dimensions.decoderHeads, 8)
        XCTAssertEqual(base.dimensions.vocabularySize, 51865)
    }
}

final class Int8EncoderTests: XCTestCase {
    /// The int8 encoder stays close to the float one: small relative error on real features.
    func testInt8EncoderIsCloseToFloat32() throws {
        let directory = try TestSupport.modelDirectory("tiny.en")
        let float32 = try WhisperModel(directory: directory)
        let int8 = try WhisperModel(directory: directory, computeType: .int8)
        let window = try voiceNoteWindow()
        let reference = float32.encode(window), quantized = int8.encode(window)
        var difference: Float = 0, norm: Float = 0
        for i in reference.indices {
            difference += (reference[i] - quantized[i]) * (reference[i] - quantized[i])
            norm += reference[i] * reference[i]
        }
        let relative = (difference / norm).squareRoot()
        XCTAssertLessThan(relative, 0.05, "relative L2 error \(relative)")
    }
}

/// The committed voice note's first window as faster-whisper feeds it: 80 mel bands × 3000
/// frames, the content frames (the last STFT frame dropped) then zeros.
func voiceNoteWindow() throws -> [Float] {
    let melURL = TestSupport.repositoryRoot.appendingPathComponent("Tests/HarkFeaturesTests/Fixtures/voice-note-16k.mel80.f32")
    let mel = try FloatFixture(url: melURL, magic: "HMEL", headerWords: 2)
    let frames = mel.header[1]
    var window = [Float](repeating: 0, count: 80 * 3000)
    for band in 0..<80 {
        for frame in 0..<(frames - 1) { window[band * 3000 + frame] = mel.values[band * frames + frame] }
    }
    return window
}
