import Foundation
import HarkModel
import HarkTestSupport
import HarkTokenizer
import XCTest

@testable import Hark

/// `config.json`'s token ids are checked against the model and `-1` means Whisper's default
/// set of non-speech tokens, as in Whisper's own configuration.
final class ModelConfigurationTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// tiny.en's files, linked, with `config` as its config.json.
    private func tinyEn(config: String) throws -> URL {
        let source = try TestSupport.modelDirectory("tiny.en")
        let model = directory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "config.json" {
            try FileManager.default.createSymbolicLink(at: model.appendingPathComponent(name),
                                                       withDestinationURL: source.appendingPathComponent(name))
        }
        try Data(config.utf8).write(to: model.appendingPathComponent("config.json"))
        return model
    }

    func testNonSpeechTokensAreWhatTheConverterWroteForTheRealModels() throws {
        for name in ["tiny.en", "base"] {
            let model = try TestSupport.modelDirectory(name)
            let tokenizer = try Tokenizer(modelDirectory: model)
            let configuration = try ModelConfiguration(directory: model)
            let nonSpeech = tokenizer.nonSpeechTokens
            // The converter wrote the default set plus special tokens, which Hark suppresses anyway.
            XCTAssertEqual(Set(configuration.suppressIDs.filter { $0 < tokenizer.specialTokens.eot }), Set(nonSpeech), name)
            XCTAssertGreaterThan(nonSpeech.count, 80, name)
        }
    }

    func testMinusOneIsTheDefaultSetAndTranscribesAsTheConvertersList() throws {
        let original = try Transcriber(modelAt: try TestSupport.modelDirectory("tiny.en"), computeType: .float32)
        let defaultSet = try Transcriber(modelAt: try tinyEn(config: #"{"suppress_ids": [-1], "suppress_ids_begin": [220, 50256]}"#), computeType: .float32)
        let tokenizer = try defaultSet.tokenizer()
        XCTAssertEqual(Set(defaultSet.configuration.suppressed(nonSpeechTokens: tokenizer.nonSpeechTokens)),
                       Set(tokenizer.nonSpeechTokens))
        var options = TranscriptionOptions()
        options.beamSize = 1
        let sample = TestSupport.sample("voice-note-16k.wav")
        XCTAssertEqual(try defaultSet.transcribe(path: sample, options: options).text,
                       try original.transcribe(path: sample, options: options).text)
    }

    func testIdsOutsideTheVocabularyAreAConfigurationError() throws {
        for ids in ["[-1099511627776]", "[-2]", "[51864]", "[1, 99999999]"] {
            for key in ["suppress_ids", "suppress_ids_begin"] {
                XCTAssertThrowsError(try Transcriber(modelAt: try tinyEn(config: "{\"\(key)\": \(ids)}"), computeType: .float32), "\(key) \(ids)") { error in
                    guard let error = error as? TranscriptionError, error.kind == .model else { return XCTFail("\(key) \(ids): \(error)") }
                    XCTAssertTrue(error.message.contains("config.json") && error.message.contains(key), error.message)
                }
            }
        }
    }
}
