import Foundation
import HarkTestSupport
import XCTest

@testable import HarkAudio

final class AudioReaderTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func rms(_ samples: ArraySlice<Float>) -> Float {
        (samples.reduce(0) { $0 + $1 * $1 } / Float(max(samples.count, 1))).squareRoot()
    }

    /// Frequency of a tone from its zero crossings.
    private func frequency(_ samples: [Float]) -> Double {
        var crossings = 0
        for i in 1..<samples.count where (samples[i - 1] < 0) != (samples[i] < 0) { crossings += 1 }
        return Double(crossings) / 2 / (Double(samples.count) / 16_000)
    }

    private func soxDuration(_ path: String) throws -> Double {
        let result = try TestSupport.run("/usr/bin/soxi", ["-D", path])
        return try XCTUnwrap(Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func testCommittedSamplesDecodeToTheirDurationAt16kHz() throws {
        for name in ["voice-note-16k.wav", "fox-8k-stereo-float.wav", "shopping-48k.flac", "dentist-22k.ogg"] {
            let file = TestSupport.sample(name)
            let reader = try AudioReader(path: file)
            let samples = try reader.readAll()
            let expected = try soxDuration(file) * 16_000
            XCTAssertEqual(Double(samples.count), expected, accuracy: expected * 0.002 + 2, name)
            XCTAssertGreaterThan(rms(samples[...]), 0.01, "\(name) should hold speech")
            XCTAssertLessThanOrEqual(samples.map(abs).max() ?? 0, 1.5, name)
        }
    }

    /// A 52-KB WAV whose header said 1 Hz stood for 7 hours of audio and took 3.3 GB; rates
    /// outside 1 kHz to 768 kHz are refused before anything is decoded.
    func testAbsurdSampleRatesAreRefused() throws {
        let tone = WAVWriter.sine(frequency: 440, seconds: 1.6, sampleRate: 16_000)
        for rate in [1, 8, 999, 768_001, 4_000_000] {
            let file = path("rate-\(rate).wav")
            try WAVWriter.write(tone, to: URL(fileURLWithPath: file), sampleRate: rate)
            XCTAssertThrowsError(try AudioReader(path: file), "\(rate) Hz") { error in
                guard case AudioError.notAudio(_, let detail) = error else { return XCTFail("\(rate) Hz: \(error)") }
                XCTAssertTrue(detail.contains("\(rate) Hz"), detail)
            }
        }
        for rate in [1_000, 768_000] {
            let file = path("edge-\(rate).wav")
            try WAVWriter.write(WAVWriter.sine(frequency: 200, seconds: 0.5, sampleRate: rate), to: URL(fileURLWithPath: file), sampleRate: rate)
            XCTAssertEqual(Double(try AudioReader.decode(path: file).count), 8_000, accuracy: 40, "\(rate) Hz")
        }
    }

    func testManyChannelsDecodeInBoundedChunks() throws {
        let channels = 1000
        let frames = 800
        let interleaved = (0..<(frames * channels)).map { Float(($0 / channels) % 50) / 100 }
        let file = path("many.wav")
        try WAVWriter.write(interleaved, to: URL(fileURLWithPath: file), sampleRate: 16_000, channels: channels, encoding: .float32)
        let samples = try AudioReader.decode(path: file)
        XCTAssertEqual(samples.count, frames)
        XCTAssertEqual(samples[49], 0.49, accuracy: 1e-5, "channels averaged")
    }

    /// MPEG audio is decoded by libmpg123 directly, to the very samples libsndfile gives, but
    /// without libmpg123's messages on standard error.
    func testMP3DecodesAsLibsndfileDoesAndQuietly() throws {
        let source = TestSupport.sample("shopping-48k.flac")
        let variants: [(String, [String])] = [
            ("mono-22k.mp3", ["-ac", "1", "-ar", "22050"]),
            ("stereo-44k.mp3", ["-ac", "2", "-ar", "44100"]),
            ("tagged.mp3", ["-ac", "1", "-metadata", "title=A voice note", "-id3v2_version", "3"]),
            ("layer2.mp2", ["-ac", "1", "-c:a", "mp2"]),
        ]
        for (name, options) in variants {
            let file = path(name)
            let made = try TestSupport.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-i", source] + options + [file])
            XCTAssertEqual(made.status, 0, made.stderr)
            let reader = try AudioReader(path: file)
            XCTAssertTrue(reader.sourceFormat.formatName.hasPrefix("MPEG"), reader.sourceFormat.formatName)
            guard case .success(let sndfile) = SndFileSource.open(path: file),
                  case .success(let mpg123) = Mpg123Source.open(path: file) else { return XCTFail("\(name) opens") }
            XCTAssertEqual(mpg123.sampleRate, sndfile.sampleRate, name)
            XCTAssertEqual(mpg123.channels, sndfile.channels, name)
            XCTAssertEqual(mpg123.frameCount, sndfile.frameCount, name)
            var frames = 0
            while true {
                let (a, b) = (try mpg123.readFrames(max: 4096), try sndfile.readFrames(max: 4096))
                XCTAssertEqual(a, b, "\(name): frames from \(frames)")
                if a.isEmpty || a != b { break }
                frames += a.count
            }
            XCTAssertGreaterThan(frames, 0, name)
        }

        // A damaged stream: libmpg123 printed "error: dequantization failed!" lines and the
        // like on standard error, past --quiet and into JSON logs.
        var damaged = try Data(contentsOf: URL(fileURLWithPath: path("mono-22k.mp3")))
        for offset in stride(from: 400, to: damaged.count, by: 53) { damaged[offset] ^= 0x33 }
        let file = path("damaged.mp3")
        try damaged.write(to: URL(fileURLWithPath: file))
        func standardError(of body: () -> Void) throws -> String {
            let saved = dup(STDERR_FILENO)
            let capture = path("stderr-\(UUID().uuidString).txt")
            let descriptor = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            dup2(descriptor, STDERR_FILENO)
            body()
            fflush(nil)
            dup2(saved, STDERR_FILENO)
            close(descriptor)
            close(saved)
            return try String(contentsOfFile: capture, encoding: .utf8)
        }
        let throughLibsndfile = try standardError {
            guard case .success(let source) = SndFileSource.open(path: file) else { return }
            while let frames = try? source.readFrames(max: 4096), !frames.isEmpty {}
        }
        XCTAssertFalse(throughLibsndfile.isEmpty, "the damage makes libmpg123 speak through libsndfile")
        XCTAssertEqual(try standardError { _ = try? AudioReader.decode(path: file) }, "")
    }

    /// What libmpg123 refuses is not handed to libsndfile (which let libmpg123 print its notes),
    /// and a WAV with an MP3's name is still read as the WAV it is.
    func testMisnamedFilesAreReadByTheirContent() throws {
        var bytes = [UInt8](repeating: 0, count: 8192)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
        let noise = path("noise.mp3")
        try Data(bytes).write(to: URL(fileURLWithPath: noise))
        let saved = dup(STDERR_FILENO)
        let capture = path("stderr.txt")
        let descriptor = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        dup2(descriptor, STDERR_FILENO)
        XCTAssertThrowsError(try AudioReader(path: noise, allowFFmpeg: false))
        fflush(nil)
        dup2(saved, STDERR_FILENO)
        close(descriptor)
        close(saved)
        XCTAssertEqual(try String(contentsOfFile: capture, encoding: .utf8), "")

        let wav = path("tone.mp3")
        let tone = WAVWriter.sine(frequency: 440, seconds: 0.5, sampleRate: 16_000)
        try WAVWriter.write(tone, to: URL(fileURLWithPath: wav), sampleRate: 16_000, encoding: .float32)
        XCTAssertEqual(try AudioReader.decode(path: wav), tone)
    }

    func testSourceFormatIsReported() throws {
        let reader = try AudioReader(path: TestSupport.sample("fox-8k-stereo-float.wav"))
        XCTAssertEqual(reader.sourceFormat.sampleRate, 8000)
        XCTAssertEqual(reader.sourceFormat.channels, 2)
        XCTAssertTrue(reader.sourceFormat.formatName.contains("WAV"), reader.sourceFormat.formatName)
        XCTAssertTrue(reader.sourceFormat.formatName.lowercased().contains("float"), reader.sourceFormat.formatName)
    }

    func testPCM16IsScaledBy32768() throws {
        let file = path("steps.wav")
        try WAVWriter.write([0.5, -0.25, 1.0 - 1.0 / 32768, -1.0], to: URL(fileURLWithPath: file), sampleRate: 16_000)
        let samples = try AudioReader.decode(path: file)
        XCTAssertEqual(samples, [0.5, -0.25, 32767.0 / 32768, -1.0])
    }

    func testChannelsAreAveraged() throws {
        let left = WAVWriter.sine(frequency: 440, amplitude: 0.6, seconds: 1, sampleRate: 16_000)
        var interleaved: [Float] = []
        for value in left { interleaved += [value, 0.2] }
        let file = path("stereo.wav")
        try WAVWriter.write(interleaved, to: URL(fileURLWithPath: file), sampleRate: 16_000, channels: 2, encoding: .float32)
        let mono = try AudioReader.decode(path: file)
        XCTAssertEqual(mono.count, left.count)
        for i in stride(from: 0, to: mono.count, by: 997) {
            XCTAssertEqual(mono[i], (left[i] + 0.2) / 2, accuracy: 1e-6)
        }
    }

    func testResamplingKeepsPitchAndLevel() throws {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 192_000] {
            let tone = WAVWriter.sine(frequency: 1000, amplitude: 0.5, seconds: 2, sampleRate: rate)
            let file = path("tone-\(rate).wav")
            try WAVWriter.write(tone, to: URL(fileURLWithPath: file), sampleRate: rate, encoding: .float32)
            let samples = try AudioReader.decode(path: file)
            XCTAssertEqual(samples.count, 32_000, accuracy: 2, "rate \(rate)")
            let middle = samples[4000..<28_000]
            XCTAssertEqual(rms(middle), Float(0.5 / 2.0.squareRoot()), accuracy: 0.005, "rate \(rate)")
            XCTAssertEqual(frequency(Array(middle)), 1000, accuracy: 2, "rate \(rate)")
        }
    }

    func testChunkedReadsEqualWholeRead() throws {
        let file = TestSupport.sample("shopping-48k.flac")
        let whole = try AudioReader.decode(path: file)
        let reader = try AudioReader(path: file)
        var chunked: [Float] = []
        while true {
            let chunk = try reader.read(maxSamples: 1234)
            if chunk.isEmpty { break }
            XCTAssertLessThanOrEqual(chunk.count, 1234)
            chunked += chunk
        }
        XCTAssertEqual(chunked, whole)
        XCTAssertEqual(try reader.read(), [], "reads after the end stay empty")
    }

    /// Every encoding the issue names, made by sox/ffmpeg from one tone, decodes to that tone.
    func testFormatsLibsndfileReads() throws {
        let source = path("source.wav")
        try WAVWriter.write(WAVWriter.sine(frequency: 500, seconds: 1.5, sampleRate: 44_100),
                            to: URL(fileURLWithPath: source), sampleRate: 44_100)
        let conversions: [(String, [String])] = [
            ("u8.wav", ["-b", "8", "-e", "unsigned-integer"]),
            ("s24.wav", ["-b", "24"]),
            ("s32.wav", ["-b", "32", "-e", "signed-integer"]),
            ("f64.wav", ["-b", "64", "-e", "floating-point"]),
            ("stereo.aiff", ["-c", "2"]),
            ("tone.flac", []),
            ("tone.ogg", []),
            ("ext.wav", ["-c", "3"]),  // more than 2 channels: WAVE_FORMAT_EXTENSIBLE
        ]
        var files = conversions.map { name, options -> String in
            let out = path(name)
            let result = try? TestSupport.run("/usr/bin/sox", [source] + options + [out])
            XCTAssertEqual(result?.status, 0, "sox \(name): \(result?.stderr ?? "")")
            return out
        }
        for (name, codec) in [("tone.mp3", "libmp3lame"), ("tone.opus", "libopus")] {
            let out = path(name)
            let result = try TestSupport.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-i", source, "-c:a", codec, out])
            XCTAssertEqual(result.status, 0, "ffmpeg \(name): \(result.stderr)")
            files.append(out)
        }
        for file in files {
            let reader = try AudioReader(path: file, allowFFmpeg: false)
            let samples = try reader.readAll()
            let name = (file as NSString).lastPathComponent
            // Lossy codecs add a little padding; the length still agrees within 0.1 s.
            XCTAssertEqual(Double(samples.count), 24_000, accuracy: 1_700, name)
            XCTAssertEqual(rms(samples[2000..<20_000]), Float(0.5 / 2.0.squareRoot()), accuracy: 0.02, name)
            XCTAssertEqual(frequency(Array(samples[2000..<20_000])), 500, accuracy: 3, name)
        }
    }

    func testM4AGoesThroughFFmpeg() throws {
        let file = TestSupport.sample("memo-44k.m4a")
        let samples = try AudioReader.decode(path: file)
        XCTAssertEqual(Double(samples.count), try soxDurationOfM4A(file) * 16_000, accuracy: 16_000 * 0.1)
        XCTAssertGreaterThan(rms(samples[...]), 0.01)
    }

    private func soxDurationOfM4A(_ file: String) throws -> Double {
        let result = try TestSupport.run("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "format=duration",
                                                              "-of", "csv=p=0", file])
        return try XCTUnwrap(Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func testM4AWithoutFFmpegNamesTheFormatAndTheFix() throws {
        XCTAssertThrowsError(try AudioReader(path: TestSupport.sample("memo-44k.m4a"), allowFFmpeg: false)) { error in
            guard case AudioError.needsFFmpeg(_, let format) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(format.contains("M4A"))
            XCTAssertTrue("\(error)".contains("apt-get install ffmpeg"))
        }
    }

    func testVeryShortAndSilentFilesAreValid() throws {
        let short = path("short.wav")
        try WAVWriter.write([Float](repeating: 0.1, count: 800), to: URL(fileURLWithPath: short), sampleRate: 16_000)
        XCTAssertEqual(try AudioReader.decode(path: short).count, 800)
        let silent = path("silent.wav")
        try WAVWriter.write([Float](repeating: 0, count: 44_100), to: URL(fileURLWithPath: silent), sampleRate: 44_100)
        let samples = try AudioReader.decode(path: silent)
        XCTAssertEqual(samples.count, 16_000, accuracy: 2)
        XCTAssertEqual(samples.map(abs).max(), 0)
        let one = path("one.wav")
        try WAVWriter.write([0.3], to: URL(fileURLWithPath: one), sampleRate: 16_000)
        XCTAssertEqual(try AudioReader.decode(path: one).count, 1)
    }

    func testBadInputGivesTypedOneLineErrors() throws {
        func expect(_ file: String, _ check: (AudioError) -> Bool, line: UInt = #line) {
            XCTAssertThrowsError(try AudioReader.decode(path: file), line: line) { error in
                guard let error = error as? AudioError else { return XCTFail("untyped \(error)", line: line) }
                XCTAssertTrue(check(error), "\(error)", line: line)
                XCTAssertFalse("\(error)".contains("\n"), line: line)
                XCTAssertTrue("\(error)".contains(file), line: line)
            }
        }
        expect(path("missing.wav")) { if case .fileNotFound = $0 { true } else { false } }
        expect(directory.path) { if case .notAFile = $0 { true } else { false } }

        let empty = path("empty.wav")
        FileManager.default.createFile(atPath: empty, contents: Data())
        expect(empty) { if case .emptyFile = $0 { true } else { false } }

        let text = path("notes.wav")
        try "these are not the samples you are looking for\n".write(toFile: text, atomically: true, encoding: .utf8)
        expect(text) { if case .notAudio = $0 { true } else { false } }

        let good = path("good.wav")
        try WAVWriter.write(WAVWriter.sine(frequency: 300, seconds: 0.5, sampleRate: 16_000),
                            to: URL(fileURLWithPath: good), sampleRate: 16_000)
        let truncatedHeader = path("truncated.wav")
        try Data(try Data(contentsOf: URL(fileURLWithPath: good)).prefix(20)).write(to: URL(fileURLWithPath: truncatedHeader))
        expect(truncatedHeader) { if case .notAudio = $0 { true } else { false } }

        let zeroFrames = path("zero.wav")
        try WAVWriter.write([], to: URL(fileURLWithPath: zeroFrames), sampleRate: 16_000)
        expect(zeroFrames) { if case .noFrames = $0 { true } else { false } }
    }

    func testTruncatedDataDecodesWhatIsThere() throws {
        let good = path("good.wav")
        try WAVWriter.write(WAVWriter.sine(frequency: 300, seconds: 1, sampleRate: 16_000),
                            to: URL(fileURLWithPath: good), sampleRate: 16_000)
        let cut = path("cut.wav")
        try Data(try Data(contentsOf: URL(fileURLWithPath: good)).prefix(44 + 2 * 8000)).write(to: URL(fileURLWithPath: cut))
        XCTAssertEqual(try AudioReader.decode(path: cut).count, 8000)
    }

    func testUnreadableFileIsPermissionDenied() throws {
        guard getuid() != 0 else { throw XCTSkip("root reads every file; permission checks need another user") }
        let file = path("locked.wav")
        try WAVWriter.write([0.1, 0.2], to: URL(fileURLWithPath: file), sampleRate: 16_000)
        chmod(file, 0)
        XCTAssertThrowsError(try AudioReader.decode(path: file)) { error in
            XCTAssertEqual(error as? AudioError, .permissionDenied(path: file))
        }
    }
}
