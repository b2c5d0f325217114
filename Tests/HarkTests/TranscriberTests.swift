import Foundation
import HarkAudio
import HarkModel
import HarkTestSupport
import XCTest

@testable import Hark

/// End-to-end transcription with the real tiny.en (and base) models on real audio.
final class TranscriberTests: XCTestCase {
    nonisolated(unsafe) static var tinyEn: Transcriber?

    private func tiny() throws -> Transcriber {
        if let loaded = Self.tinyEn { return loaded }
        let transcriber = try Transcriber(modelAt: try TestSupport.modelDirectory("tiny.en"), computeType: .float32)
        Self.tinyEn = transcriber
        return transcriber
    }

    /// Progress starts with a 0% report that knows the duration, before any window is decoded.
    func testProgressStartsAtZeroWithTheDuration() throws {
        var reports: [TranscriptionProgress] = []
        var options = TranscriptionOptions()
        options.beamSize = 1
        _ = try tiny().transcribe(path: TestSupport.sample("voice-note-16k.wav"), options: options) { reports.append($0) }
        let first = try XCTUnwrap(reports.first)
        XCTAssertEqual(first.secondsDone, 0)
        XCTAssertGreaterThan(first.duration, 1)
        XCTAssertTrue(first.newSegments.isEmpty)
        XCTAssertGreaterThan(reports.count, 1)
        XCTAssertEqual(reports.last?.secondsDone ?? 0, first.duration, accuracy: 0.05)
    }

    func testBundledSamplesAreTranscribed() throws {
        let transcriber = try tiny()
        let references = try TestSupport.sampleTranscripts()
        var errors = 0, words = 0
        for (file, reference) in references.sorted(by: { $0.key < $1.key }) {
            let transcript = try transcriber.transcribe(path: TestSupport.sample(file))
            let ref = WordErrorRate.words(reference)
            errors += WordErrorRate.edits(ref, WordErrorRate.words(transcript.text))
            words += ref.count
            XCTAssertEqual(transcript.language, "en")
            XCTAssertFalse(transcript.segments.isEmpty, file)
        }
        // Synthetic voices at odd rates are hard for tiny.en; most words must still come through.
        XCTAssertLessThan(Double(errors) / Double(words), 0.25, "\(errors) errors in \(words) words")
    }

    func testRealSpeechGreedyAndBeamSearch() throws {
        let transcriber = try tiny()
        let entries = try ManifestEntry.read("dev-clean.tsv", limit: 8)
        for beamSize in [1, 5] {
            var options = TranscriptionOptions()
            options.beamSize = beamSize
            var errors = 0, words = 0
            for entry in entries {
                let transcript = try transcriber.transcribe(path: entry.audioPath, options: options)
                let ref = WordErrorRate.words(entry.text)
                errors += WordErrorRate.edits(ref, WordErrorRate.words(transcript.text))
                words += ref.count
                for segment in transcript.segments {
                    XCTAssertLessThan(segment.start, segment.end)
                    XCTAssertLessThanOrEqual(segment.end, transcript.duration + 0.01)
                    XCTAssertLessThanOrEqual(segment.avgLogprob, 0)
                    XCTAssertTrue((0...1).contains(segment.noSpeechProb))
                    XCTAssertEqual(segment.temperature, 0)
                }
            }
            XCTAssertLessThan(Double(errors) / Double(words), 0.15, "beam \(beamSize): \(errors) errors in \(words) words")
        }
    }

    /// A recording longer than one window: seeking by timestamps across several windows.
    func testLongRecordingAcrossWindows() throws {
        let entries = try ManifestEntry.read("dev-clean.tsv", limit: 24)
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let joined = directory.appendingPathComponent("joined.flac").path
        let result = try TestSupport.run("/usr/bin/sox", entries.map(\.audioPath) + [joined])
        XCTAssertEqual(result.status, 0, result.stderr)
        let transcript = try tiny().transcribe(path: joined)
        XCTAssertGreaterThan(transcript.duration, 60)
        XCTAssertGreaterThan(Set(transcript.segments.map(\.seek)).count, 2, "several windows")
        var previousStart = -1.0
        for segment in transcript.segments {
            XCTAssertGreaterThanOrEqual(segment.start, previousStart, "segments in time order")
            XCTAssertLessThan(segment.start, segment.end)
            previousStart = segment.start
        }
        XCTAssertLessThanOrEqual(transcript.segments.last?.end ?? 0, transcript.duration + 0.01)
        let reference = entries.map(\.text).joined(separator: " ")
        let rate = WordErrorRate.rate(reference: reference, hypothesis: transcript.text)
        XCTAssertLessThan(rate, 0.15, "WER \(rate)")
    }

    func testSilenceGivesNoText() throws {
        let transcript = try tiny().transcribe(samples: [Float](repeating: 0, count: 16_000 * 12))
        XCTAssertEqual(transcript.text.trimmingCharacters(in: .whitespaces), "", "hallucinated: \(transcript.text)")
        XCTAssertEqual(transcript.duration, 12, accuracy: 1e-9)
    }

    /// The silence guard skips near-silent windows but keeps quiet speech.
    func testSilenceGuardKeepsQuietSpeech() throws {
        var generator = SystemRandomNumberGenerator()
        let hiss = (0..<(16_000 * 8)).map { _ in Float.random(in: -1...1, using: &generator) * 0.0001 }  // −80 dBFS
        XCTAssertEqual(try tiny().transcribe(samples: hiss).text.trimmingCharacters(in: .whitespaces), "")

        let speech = try AudioReader.decode(path: TestSupport.sample("voice-note-16k.wav"))
        let peak = speech.map(abs).max() ?? 1
        let quiet = speech.map { $0 / peak * 0.01 }    // peak at −40 dBFS
        let transcript = try tiny().transcribe(samples: quiet)
        XCTAssertLessThan(WordErrorRate.rate(reference: "Hark is an offline transcriber. It turns voice notes into text on your own computer.",
                                             hypothesis: transcript.text), 0.3, transcript.text)
    }

    func testVeryShortInputIsValid() throws {
        let transcript = try tiny().transcribe(samples: [Float](repeating: 0.01, count: 800))
        XCTAssertEqual(transcript.duration, 0.05, accuracy: 1e-9)
    }

    func testTemperatureFallbackReportsTheTemperatureUsed() throws {
        var options = TranscriptionOptions()
        options.logProbThreshold = 0.5      // nothing passes: every temperature is tried
        options.noSpeechThreshold = nil
        options.temperatures = [0, 0.5, 1.0]
        options.bestOf = 2
        let transcript = try tiny().transcribe(path: TestSupport.sample("voice-note-16k.wav"), options: options)
        XCTAssertFalse(transcript.segments.isEmpty)
        XCTAssertEqual(transcript.segments.first?.temperature, 1.0)
    }

    func testWithoutTimestampsGivesOneSegmentPerWindow() throws {
        var options = TranscriptionOptions()
        options.withoutTimestamps = true
        let transcript = try tiny().transcribe(path: TestSupport.sample("voice-note-16k.wav"), options: options)
        XCTAssertEqual(transcript.segments.count, 1)
        XCTAssertEqual(transcript.segments.first?.start, 0)
        XCTAssertFalse(transcript.segments.first?.tokens.contains { $0 >= 50363 } ?? true)
    }

    func testInitialPromptIsNotEchoed() throws {
        var options = TranscriptionOptions()
        options.initialPrompt = "Hark, Whisper, transcriber."
        let transcript = try tiny().transcribe(path: TestSupport.sample("voice-note-16k.wav"), options: options)
        XCTAssertLessThan(WordErrorRate.rate(reference: "Hark is an offline transcriber. It turns voice notes into text on your own computer.",
                                             hypothesis: transcript.text), 0.25, transcript.text)
    }

    func testEnglishOnlyModelRefusesOtherLanguagesAndTranslation() throws {
        var options = TranscriptionOptions()
        options.language = "de"
        XCTAssertThrowsError(try tiny().transcribe(samples: [0, 0, 0], options: options))
        options = TranscriptionOptions()
        options.task = .translate
        XCTAssertThrowsError(try tiny().transcribe(samples: [0, 0, 0], options: options)) { error in
            XCTAssertTrue("\(error)".contains("multilingual"), "\(error)")
        }
    }

    func testMultilingualBaseDetectsEnglish() throws {
        let base = try Transcriber(modelAt: try TestSupport.modelDirectory("base"), computeType: .float32)
        let entry = try XCTUnwrap(try ManifestEntry.read("dev-clean.tsv", limit: 1).first)
        let transcript = try base.transcribe(path: entry.audioPath)
        XCTAssertEqual(transcript.language, "en")
        XCTAssertGreaterThan(transcript.languageProbability, 0.5)
        XCTAssertLessThan(WordErrorRate.rate(reference: entry.text, hypothesis: transcript.text), 0.3, transcript.text)
        var options = TranscriptionOptions()
        options.language = "xx"
        XCTAssertThrowsError(try base.transcribe(path: entry.audioPath, options: options)) { error in
            XCTAssertTrue("\(error)".contains("unknown language 'xx'"), "\(error)")
        }
    }

    /// German speech (espeak-ng): base detects the language, transcribes it, and translates it.
    func testMultilingualDetectionAndTranslation() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let german = directory.appendingPathComponent("de.wav").path
        let spoken = try TestSupport.run("/usr/bin/espeak-ng", ["-v", "de", "-s", "140", "-w", german,
                                                               "Guten Morgen. Ich möchte heute einen Termin vereinbaren."])
        XCTAssertEqual(spoken.status, 0, spoken.stderr)
        let base = try Transcriber(modelAt: try TestSupport.modelDirectory("base"), computeType: .float32)
        let transcript = try base.transcribe(path: german)
        XCTAssertEqual(transcript.language, "de")
        XCTAssertTrue(transcript.text.contains("Guten Morgen"), transcript.text)
        var options = TranscriptionOptions()
        options.task = .translate
        let translated = try base.transcribe(path: german, options: options)
        XCTAssertEqual(translated.language, "de")
        XCTAssertTrue(translated.text.lowercased().contains("good morning"), translated.text)
        options = TranscriptionOptions()
        options.language = "de"
        XCTAssertEqual(try base.transcribe(path: german, options: options).languageProbability, 1)
    }

    /// int8 (every matrix product quantized at load) transcribes real speech as well as float32, give or take.
    func testInt8MatchesFloat32OnRealSpeech() throws {
        let int8 = try Transcriber(modelAt: try TestSupport.modelDirectory("tiny.en"), computeType: .int8)
        XCTAssertEqual(int8.model.computeType, HarkModel.ComputeType.int8)
        let entries = try ManifestEntry.read("dev-clean.tsv", limit: 8)
        var errors = (float32: 0, int8: 0), words = 0
        for entry in entries {
            let ref = WordErrorRate.words(entry.text)
            words += ref.count
            errors.float32 += WordErrorRate.edits(ref, WordErrorRate.words(try tiny().transcribe(path: entry.audioPath).text))
            errors.int8 += WordErrorRate.edits(ref, WordErrorRate.words(try int8.transcribe(path: entry.audioPath).text))
        }
        XCTAssertLessThan(Double(errors.int8) / Double(words), 0.15, "int8: \(errors.int8) errors in \(words) words")
        XCTAssertLessThanOrEqual(errors.int8, errors.float32 + 3, "int8 \(errors.int8) vs float32 \(errors.float32) errors")
    }

    /// A file from `hark quantize` is a whole model (tokenizer and configuration inside) and
    /// transcribes exactly as quantizing the directory while loading does.
    func testInt8FileTranscribesLikeQuantizingAtLoad() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tiny.en-int8.safetensors")
        _ = try Int8ModelFile.write(quantizing: try TestSupport.modelDirectory("tiny.en"), sourceSHA256: "-", to: file)
        let fromFile = try Transcriber(modelAt: file, computeType: .int8)
        let atLoad = try Transcriber(modelAt: try TestSupport.modelDirectory("tiny.en"), computeType: .int8)
        XCTAssertEqual(try fromFile.tokenizer().vocabularySize, try atLoad.tokenizer().vocabularySize)
        for entry in try ManifestEntry.read("dev-clean.tsv", limit: 3) {
            let a = try fromFile.transcribe(path: entry.audioPath), b = try atLoad.transcribe(path: entry.audioPath)
            XCTAssertFalse(a.text.isEmpty)
            XCTAssertEqual(a.text, b.text, entry.id)
            XCTAssertEqual(a.segments.map(\.tokens), b.segments.map(\.tokens), entry.id)
        }
    }

    func testBadAudioIsATypedError() throws {
        XCTAssertThrowsError(try tiny().transcribe(path: "/nonexistent/note.wav")) { error in
            XCTAssertEqual((error as? TranscriptionError)?.kind, .audio)
            XCTAssertEqual("\(error)", "/nonexistent/note.wav: no such file")
        }
    }
}
