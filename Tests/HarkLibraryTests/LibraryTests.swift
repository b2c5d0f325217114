import Foundation
import Hark
import HarkTestSupport
import XCTest

/// Hark as another program embeds it: `import Hark` alone (no `@testable`), models by name,
/// inputs from files, memory and bytes, results as the CLI writes them.
final class LibraryTests: XCTestCase {
    private var models: Models { Models(directory: TestSupport.modelStore) }

    private func tiny(threads: Int = 0) throws -> Transcriber {
        try Transcriber(model: "tiny.en", in: models, threads: threads)
    }

    private let note = TestSupport.sample("voice-note-16k.wav")

    /// The library's defaults are the CLI's: the same model by name, int8, the same options,
    /// and its transcript encodes to the very JSON `hark transcribe -f json` prints.
    func testLoadsByNameWithTheCLIDefaultsAndEncodesTheCLIsJSON() async throws {
        let transcriber = try tiny()
        XCTAssertEqual(transcriber.computeType, .int8)
        XCTAssertEqual(transcriber.modelName, "tiny.en")
        let transcript = try await transcriber.transcript(of: .path(note))
        XCTAssertFalse(transcript.text.isEmpty)
        XCTAssertEqual(transcript.model, "tiny.en")
        XCTAssertEqual(transcript.computeType, .int8)

        let cli = try TestSupport.run(try TestSupport.harkExecutable(),
                                      ["transcribe", "--model", "tiny.en", "--models-dir", TestSupport.modelStore.path, "-f", "json", note])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        XCTAssertEqual(String(decoding: try encoder.encode(transcript), as: UTF8.self) + "\n", cli.stdout)
        XCTAssertEqual(TranscriptFormat.json.render(transcript), cli.stdout)
        let decoded = try JSONDecoder().decode(Transcript.self, from: Data(cli.stdout.utf8))
        XCTAssertEqual(decoded, transcript)
        XCTAssertEqual(decoded.model, "tiny.en")
        XCTAssertEqual(decoded.computeType, .int8)
    }

    /// An upload's bytes and samples in memory (stereo, 44.1 kHz) transcribe exactly as the
    /// same audio in a file; the upload's private file is gone afterwards.
    func testEncodedBytesAndSamplesTranscribeAsTheFile() async throws {
        let transcriber = try tiny()
        var options = TranscriptionOptions()
        options.beamSize = 1
        let flac = TestSupport.sample("shopping-48k.flac")
        let fromFile = try await transcriber.transcript(of: .path(flac), options: options)
        let fromBytes = try await transcriber.transcript(of: .encoded(try Data(contentsOf: URL(fileURLWithPath: flac))),
                                                         options: options)
        XCTAssertFalse(fromFile.segments.isEmpty)
        XCTAssertEqual(fromBytes, fromFile)
        XCTAssertEqual(try openSpools(), [], "an upload's spool is still open")

        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let raw = directory.appendingPathComponent("note.f32")
        let converted = try TestSupport.run("/usr/bin/sox", [note, "-t", "f32", "-e", "floating-point", "-c", "2",
                                                             "-r", "44100", raw.path])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        let samples = try Data(contentsOf: raw).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertGreaterThan(samples.count, 44_100 * 2)
        let wav = directory.appendingPathComponent("note-44k-stereo.wav")
        try WAVWriter.write(samples, to: wav, sampleRate: 44_100, channels: 2, encoding: .float32)
        let fromSamples = try await transcriber.transcript(of: .samples(samples, sampleRate: 44_100, channels: 2), options: options)
        let fromWAV = try await transcriber.transcript(of: .file(wav), options: options)
        XCTAssertFalse(fromSamples.segments.isEmpty)
        XCTAssertEqual(fromSamples, fromWAV)
    }

    /// Bad input and missing models are typed errors with one line naming what is wrong.
    func testErrorsAreTypedAndNameTheInput() async throws {
        let transcriber = try tiny()
        func failure(_ input: AudioInput, options: TranscriptionOptions = TranscriptionOptions()) async -> TranscriptionError? {
            do {
                _ = try await transcriber.transcript(of: input, options: options)
                return nil
            } catch {
                return error as? TranscriptionError
            }
        }
        let empty = await failure(.encoded(Data(), name: "empty.wav"))
        XCTAssertEqual(empty?.kind, .audio)
        XCTAssertEqual(empty?.message, "empty.wav: the file is empty (0 bytes)")
        let garbage = await failure(.encoded(Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }), name: "note.bin"))
        XCTAssertEqual(garbage?.kind, .audio)
        XCTAssertTrue(garbage?.message.hasPrefix("note.bin: ") ?? false, garbage?.message ?? "no error")
        XCTAssertFalse(garbage?.message.contains("/proc/") ?? true, garbage?.message ?? "")
        XCTAssertEqual(try openSpools(), [])
        let badRate = await failure(.samples([0, 0], sampleRate: 12, channels: 1))
        XCTAssertEqual(badRate?.kind, .audio)
        let partFrame = await failure(.samples([0, 0, 0], sampleRate: 16_000, channels: 2))
        XCTAssertEqual(partFrame?.kind, .audio)
        let notANumber = await failure(.samples([.nan], sampleRate: 16_000))
        XCTAssertEqual(notANumber?.kind, .audio)
        let missing = await failure(.path("/nonexistent/note.wav"))
        XCTAssertEqual(missing?.message, "/nonexistent/note.wav: no such file")
        var options = TranscriptionOptions()
        options.beamSize = 0
        let badOption = await failure(.path(note), options: options)
        XCTAssertEqual(badOption?.kind, .invalidOptions)
        XCTAssertTrue(badOption?.message.contains("beam size") ?? false)

        XCTAssertThrowsError(try Transcriber(model: "no-such-model", in: models)) { error in
            XCTAssertEqual((error as? TranscriptionError)?.kind, .modelNotFound)
            XCTAssertTrue("\(error)".contains("no-such-model"), "\(error)")
        }
        let englishOnly = try tiny()
        var german = TranscriptionOptions()
        german.language = "de"
        let unknown = await failure(.path(note), options: german)
        XCTAssertEqual(unknown?.kind, .unknownLanguage)
        XCTAssertFalse(try englishOnly.isMultilingual)
    }

    /// Two transcribers in one process, at once, on different recordings, each on its own
    /// threads, and two calls at once on one transcriber: each gives exactly what it gives alone.
    func testTwoTranscribersAtOnceGiveWhatEachGivesAlone() async throws {
        let first = try tiny(threads: 2), second = try tiny(threads: 1)
        XCTAssertEqual(first.threads, 2)
        XCTAssertEqual(second.threads, 1)
        let a = TestSupport.sample("shopping-48k.flac"), b = TestSupport.sample("dentist-22k.ogg")
        let aloneA = try await first.transcript(of: .path(a)), aloneB = try await second.transcript(of: .path(b))
        async let togetherA = first.transcript(of: .path(a))
        async let togetherB = second.transcript(of: .path(b))
        let (resultA, resultB) = try await (togetherA, togetherB)
        XCTAssertFalse(aloneA.segments.isEmpty)
        XCTAssertFalse(aloneB.segments.isEmpty)
        XCTAssertEqual(resultA, aloneA)
        XCTAssertEqual(resultB, aloneB)

        // One transcriber, two calls at once: each call has threads of its own.
        let aloneBOnFirst = try await first.transcript(of: .path(b))
        async let sharedA = first.transcript(of: .path(a))
        async let sharedB = first.transcript(of: .path(b))
        let (oneA, oneB) = try await (sharedA, sharedB)
        XCTAssertEqual(oneA, aloneA)
        XCTAssertEqual(oneB, aloneBOnFirst)
    }

    /// Language detection on its own gives what a transcription detects, with every candidate.
    func testLanguageDetectionOnItsOwn() async throws {
        let base = try Transcriber(model: "base", in: models)
        XCTAssertTrue(try base.isMultilingual)
        let speech = TestSupport.sharedData.appendingPathComponent("dev-clean/audio/jfk.flac")
        let detection = try await base.detectLanguage(of: .file(speech))
        XCTAssertEqual(detection.language, "en")
        XCTAssertGreaterThan(detection.probability, 0.5)
        XCTAssertEqual(detection.candidates.first?.language, "en")
        XCTAssertEqual(detection.candidates.count, try base.languages.count)
        XCTAssertEqual(detection.candidates.map(\.probability).reduce(0, +), 1, accuracy: 1e-6)
        var options = TranscriptionOptions()
        options.beamSize = 1
        let transcript = try await base.transcript(of: .file(speech), options: options)
        XCTAssertEqual(transcript.language, detection.language)
        XCTAssertEqual(transcript.languageProbability, detection.probability, accuracy: 1e-9)

        let englishOnly = try await tiny().detectLanguage(of: .path(note))
        XCTAssertEqual(englishOnly.language, "en")
        XCTAssertEqual(englishOnly.probability, 1)
    }

    /// Progress runs from 0 to the whole recording; options round-trip through JSON with
    /// faster-whisper's names, missing ones taking their defaults.
    func testProgressAndCodableOptions() async throws {
        let fractions = Fractions()
        _ = try await tiny().transcript(of: .path(note)) { fractions.add($0.fraction) }
        let seen = fractions.values
        XCTAssertEqual(seen.first, 0)
        XCTAssertEqual(seen.last, 1)
        XCTAssertEqual(seen, seen.sorted())

        var options = TranscriptionOptions()
        options.language = "de"
        options.beamSize = 2
        options.logProbThreshold = nil
        options.temperatures = [0, 0.5]
        let data = try JSONEncoder().encode(options)
        XCTAssertEqual(try JSONDecoder().decode(TranscriptionOptions.self, from: data), options)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"beam_size\":2"))
        let partial = try JSONDecoder().decode(TranscriptionOptions.self, from: Data(#"{"beam_size": 1, "no_speech_threshold": null}"#.utf8))
        var expected = TranscriptionOptions()
        expected.beamSize = 1
        expected.noSpeechThreshold = nil
        XCTAssertEqual(partial, expected)
    }

    /// This process's open files that are unnamed spools.
    private func openSpools() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { entry in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry)).flatMap {
                $0.contains("hark-spool") ? $0 : nil
            }
        }
    }
}

/// Progress fractions collected from the transcription's thread.
private final class Fractions: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Double] = []
    func add(_ value: Double) { lock.withLock { list.append(value) } }
    var values: [Double] { lock.withLock { list } }
}
