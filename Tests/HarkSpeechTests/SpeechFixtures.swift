import Foundation
import HarkAudio
import HarkModel
import HarkSpeech
import HarkTestSupport
import XCTest

/// A clip of `Fixtures/clips.json` (written by `Scripts/reference/silero_reference.py`): a
/// recording of the shared dev data as it is, or one built by sox commands.
struct SpeechClip: Decodable {
    var name: String
    /// The file to decode: `{data}` is the shared data folder, `{tmp}` where the recipe builds.
    var audio: String
    /// sox argument lists, run in order.
    var recipe: [[String]]
    var samples: Int
    var samplesSHA256: String
    var chunks: Int

    enum CodingKeys: String, CodingKey {
        case name, audio, recipe, samples, chunks
        case samplesSHA256 = "samples_sha256"
    }
}

/// The reference fixtures of the speech detector.
enum SpeechFixtures {
    static func url(_ name: String) throws -> URL {
        let url = try XCTUnwrap(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(name)"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path), "no fixture \(url.path)")
        return url
    }

    static func clips() throws -> [SpeechClip] {
        struct Document: Decodable { var clips: [SpeechClip] }
        return try JSONDecoder().decode(Document.self, from: Data(contentsOf: try url("clips.json"))).clips
    }

    /// The probabilities of `<name>.vad.f32` ("HVAD": sample count, chunk count, then one float per chunk).
    static func probabilities(_ name: String) throws -> (samples: Int, values: [Float]) {
        let fixture = try FloatFixture(url: try url("\(name).vad.f32"), magic: "HVAD", headerWords: 2)
        XCTAssertEqual(fixture.values.count, fixture.header[1], "\(name): chunk count")
        return (fixture.header[0], fixture.values)
    }

    /// The clip's 16 kHz samples as Hark decodes them (its sox recipe run first, in
    /// `directory`), checked against the reference's sample count and sha256, so that a
    /// difference in the audio is reported as such and not as a wrong probability.
    static func samples(of clip: SpeechClip, building directory: URL) throws -> [Float] {
        func expand(_ text: String) -> String {
            text.replacingOccurrences(of: "{data}", with: TestSupport.sharedData.path)
                .replacingOccurrences(of: "{tmp}", with: directory.path)
        }
        for command in clip.recipe {
            let run = try TestSupport.run("/usr/bin/sox", command.map(expand))
            XCTAssertEqual(run.status, 0, "sox \(command.joined(separator: " ")): \(run.stderr)")
        }
        let samples = try AudioReader.decode(path: expand(clip.audio))
        XCTAssertEqual(samples.count, clip.samples, "\(clip.name): sample count")
        var hash = HarkModel.SHA256()
        samples.withUnsafeBytes { hash.update($0) }  // little-endian float32, as the reference hashed them
        XCTAssertEqual(hash.finalizeHex(), clip.samplesSHA256, "\(clip.name): the decoded samples differ from the reference's")
        return samples
    }

    /// The installed weights (the tests fail, not skip, without them).
    static func weights() throws -> SileroVADWeights {
        try SileroVADWeights(directory: try TestSupport.speechDetectorDirectory())
    }
}
