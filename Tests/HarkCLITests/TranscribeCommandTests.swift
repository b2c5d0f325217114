import Foundation
import HarkTestSupport
import XCTest

/// Runs the built `hark` binary as a user would, on real audio.
final class TranscribeCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// The `hark` executable built beside the test bundle.
    private var hark: String { get throws { try TestSupport.harkExecutable() } }

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = TestSupport.modelStore.path
        return try TestSupport.run(try hark, arguments, environment: environment)
    }

    func testPrintsTheTextOfOneFile() throws {
        let result = try run(["transcribe", "--model", "tiny.en", TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertLessThan(WordErrorRate.rate(reference: "Please call the dentist on Monday morning to move the appointment to Thursday.",
                                             hypothesis: result.stdout), 0.2, result.stdout)
        XCTAssertFalse(result.stdout.contains("==>"), "a single file has no header")
    }

    func testWritesEveryFormatAtomicallyAndTheyParse() throws {
        let out = directory.appendingPathComponent("out")
        let sample = TestSupport.sample("voice-note-16k.wav")
        let result = try run(["transcribe", "--model", "tiny.en", "-f", "all", "-o", out.path, sample])
        XCTAssertEqual(result.status, 0, result.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        XCTAssertEqual(names, ["voice-note-16k.json", "voice-note-16k.srt", "voice-note-16k.tsv", "voice-note-16k.txt", "voice-note-16k.vtt"])

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("voice-note-16k.json"))) as? [String: Any]
        let segments = try XCTUnwrap(json?["segments"] as? [[String: Any]])
        let duration = try XCTUnwrap(json?["duration"] as? Double)
        XCTAssertEqual(json?["language"] as? String, "en")
        XCTAssertEqual(json?["model"] as? String, "tiny.en")
        for key in ["id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob"] {
            XCTAssertNotNil(segments.first?[key], "segment key \(key)")
        }
        let jsonTimes = segments.compactMap { segment -> (Double, Double)? in
            guard let start = segment["start"] as? Double, let end = segment["end"] as? Double else { return nil }
            return (start, end)
        }
        assertMonotonic(jsonTimes, within: duration)

        let srt = try String(contentsOf: out.appendingPathComponent("voice-note-16k.srt"), encoding: .utf8)
        let srtTimes = try parseCues(srt, separator: ",")
        XCTAssertEqual(srtTimes.count, segments.count)
        assertMonotonic(srtTimes, within: duration)
        XCTAssertTrue(srt.hasPrefix("1\n"))

        let vtt = try String(contentsOf: out.appendingPathComponent("voice-note-16k.vtt"), encoding: .utf8)
        XCTAssertTrue(vtt.hasPrefix("WEBVTT\n\n"))
        assertMonotonic(try parseCues(vtt, separator: "."), within: duration)

        let tsv = try String(contentsOf: out.appendingPathComponent("voice-note-16k.tsv"), encoding: .utf8)
        let rows = tsv.split(separator: "\n")
        XCTAssertEqual(rows.first, "start\tend\ttext")
        XCTAssertEqual(rows.count, segments.count + 1)
        XCTAssertEqual(rows.dropFirst().first?.split(separator: "\t").first.flatMap { Int($0) },
                       Int(((jsonTimes.first?.0 ?? -1) * 1000).rounded()), "milliseconds")

        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testExistingOutputsAreKeptUnlessAsked() throws {
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let existing = out.appendingPathComponent("dentist-22k.txt")
        try "keep me\n".write(to: existing, atomically: true, encoding: .utf8)
        let sample = TestSupport.sample("dentist-22k.ogg")

        let refused = try run(["transcribe", "--model", "tiny.en", "-o", out.path, sample])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("--overwrite"), refused.stderr)
        XCTAssertEqual(try String(contentsOf: existing, encoding: .utf8), "keep me\n")

        let skipped = try run(["transcribe", "--model", "tiny.en", "--skip-existing", "-o", out.path, sample])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertEqual(try String(contentsOf: existing, encoding: .utf8), "keep me\n")

        let replaced = try run(["transcribe", "--model", "tiny.en", "--overwrite", "-o", out.path, sample])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertTrue(try String(contentsOf: existing, encoding: .utf8).lowercased().contains("dentist"))
    }

    func testABadFileFailsAloneWithExitStatusOne() throws {
        let broken = directory.appendingPathComponent("broken.wav")
        try Data("not audio at all".utf8).write(to: broken)
        let result = try run(["transcribe", "--model", "tiny.en", broken.path, TestSupport.sample("dentist-22k.ogg"),
                              directory.appendingPathComponent("missing.flac").path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.lowercased().contains("dentist"), "the good file is still transcribed")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("hark: ") }
        XCTAssertEqual(errors.count, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("hark: \(broken.path): "), result.stderr)
        XCTAssertTrue(result.stderr.contains("missing.flac: no such file"), result.stderr)
    }

    func testReadsStandardInput() throws {
        let audio = try Data(contentsOf: URL(fileURLWithPath: TestSupport.sample("shopping-48k.flac")))
        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = TestSupport.modelStore.path
        let result = try TestSupport.run(try hark, ["transcribe", "--model", "tiny.en", "-"], stdin: audio, environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.lowercased().contains("milk"), result.stdout)
    }

    /// Ctrl-C stops between windows, exits 130 and leaves no output file, whole or partial.
    func testInterruptLeavesNoPartialOutput() throws {
        // About 8 minutes of speech: far longer than the 2 seconds before the interrupt, even fast.
        let entries = try ManifestEntry.read("dev-clean.tsv", limit: 150).filter { $0.audioPath.hasSuffix(".flac") }
        let long = directory.appendingPathComponent("long.flac").path
        XCTAssertEqual(try TestSupport.run("/usr/bin/sox", entries.map(\.audioPath) + [long]).status, 0)
        let out = directory.appendingPathComponent("out")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try hark)
        process.arguments = ["transcribe", "--model", "tiny.en", "-f", "all", "-o", out.path, long]
        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = TestSupport.modelStore.path
        process.environment = environment
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 2)
        XCTAssertTrue(process.isRunning, "still transcribing when interrupted")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        XCTAssertEqual(left, [])
    }

    /// `hark eval --baseline`: int8 alone against the float32 run of an earlier `--json`
    /// report gives the comparison that running both together gives.
    func testEvalComparesWithAnEarlierFloat32Report() throws {
        let manifest = TestSupport.sharedData.appendingPathComponent("dev-clean.tsv").path
        let both = directory.appendingPathComponent("both.json").path
        let together = try run(["eval", manifest, "--model", "tiny.en", "--limit", "3", "--beam-size", "1", "--json", both, "-q"])
        XCTAssertEqual(together.status, 0, together.stderr)
        let alone = try run(["eval", manifest, "--model", "tiny.en", "--limit", "2", "--beam-size", "1",
                             "--compute-type", "int8", "--baseline", both, "-q"])
        XCTAssertEqual(alone.status, 0, alone.stderr)
        let rows = alone.stdout.split(separator: "\n").filter { $0.hasPrefix("| tiny.en ") }
        XCTAssertEqual(rows.count, 2, alone.stdout)
        XCTAssertTrue(rows[0].hasPrefix("| tiny.en float32 | 1 | 2 | 0 |") && rows[0].contains("| baseline |"), alone.stdout)
        XCTAssertTrue(rows[1].hasPrefix("| tiny.en int8 | 1 | 2 | 0 |"), alone.stdout)
        XCTAssertTrue(alone.stdout.contains("float32 rows: from the earlier report \(both)"), alone.stdout)
        // Float32 of the first two utterances, as the earlier run scored them.
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: both))) as? [String: Any])
        let systems = try XCTUnwrap(report["systems"] as? [[String: Any]])
        let floatRun = try XCTUnwrap(systems.first { $0["compute_type"] as? String == "float32" })
        let utterances = try XCTUnwrap(floatRun["utterances"] as? [[String: Any]]).prefix(2)
        let edits = utterances.compactMap { $0["word_edits"] as? [String: Int] }
        let errors = edits.map { ($0["substitutions"] ?? 0) + ($0["deletions"] ?? 0) + ($0["insertions"] ?? 0) }.reduce(0, +)
        let words = edits.map { ($0["hits"] ?? 0) + ($0["substitutions"] ?? 0) + ($0["deletions"] ?? 0) }.reduce(0, +)
        XCTAssertTrue(rows[0].contains(String(format: "| %.2f |", 100 * Double(errors) / Double(words))), "\(rows[0]) \(errors)/\(words)")

        // A report without that model's float32 run is refused before any decoding.
        let refused = try run(["eval", manifest, "--model", "tiny.en", "--limit", "2", "--beam-size", "5",
                               "--compute-type", "int8", "--baseline", both])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "hark: \(both): cannot be the float32 baseline: it has no tiny.en float32 run with beam size 5\n")
        XCTAssertFalse(refused.stderr.contains("utterance"), "nothing was decoded: \(refused.stderr)")
    }

    func testUsageErrorsExitWithTwo() throws {
        for arguments in [["transcribe", "--format", "docx", "x.wav"], ["transcribe"], ["transcribe", "--beam-size", "0", "x.wav"],
                          ["transcribe", "--frobnicate", "x.wav"]] {
            let result = try run(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("hark: "), result.stderr)
        }
    }

    /// Options that meant nothing together were silently ignored or mixed: each pairing is
    /// now a usage error that says what to do.
    func testOptionInteractionsAreUsageErrors() throws {
        let sample = TestSupport.sample("voice-note-16k.wav")
        let cases: [([String], String)] = [
            (["-q", "--verbose"], "--quiet and --verbose exclude each other"),
            (["--skip-existing"], "--skip-existing is about files in --output-dir"),
            (["--overwrite"], "--overwrite is about files in --output-dir"),
            (["-f", "srt,vtt"], "standard output takes one format"),
            (["-f", "all"], "standard output takes one format"),
        ]
        for (options, message) in cases {
            let result = try run(["transcribe", "--model", "tiny.en"] + options + [sample])
            XCTAssertEqual(result.status, 2, "\(options): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(options): \(result.stderr)")
            XCTAssertEqual(result.stdout, "")
        }
    }

    /// Languages by name as openai-whisper takes them; what the model cannot do is one usage
    /// error before any file (it was a failure per file, exit 1).
    func testLanguagesByNameAndWhatTheModelCannotDo() throws {
        let german = directory.appendingPathComponent("de.wav").path
        let made = try TestSupport.run("/usr/bin/espeak-ng", ["-v", "de", "-w", german,
                                                              "Guten Morgen. Ich möchte einen Termin beim Zahnarzt, am liebsten am Dienstag."])
        XCTAssertEqual(made.status, 0, made.stderr)
        for (options, message) in [(["--language", "German"], "--language German needs a multilingual model"),
                                   (["--task", "translate"], "--task translate needs a multilingual model")] {
            let result = try run(["transcribe", "--model", "tiny.en"] + options + [german, german])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").filter { $0.hasPrefix("hark:") }.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
        }
        let unknown = try run(["transcribe", "--model", "base", "--language", "Klingon", german])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("unknown language 'Klingon'"), unknown.stderr)

        let named = try run(["transcribe", "--model", "base", "--beam-size", "1", "--language", "german", german])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertTrue(named.stdout.contains("Guten Morgen"), named.stdout)
        let detected = try run(["transcribe", "--model", "base", "--beam-size", "1", german])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        XCTAssertTrue(detected.stderr.contains("de.wav: detected language de (German), probability"), detected.stderr)
    }

    /// A run whose every file was skipped said "0.0× real time".
    func testTheSummarySaysWhatWasSkipped() throws {
        let out = directory.appendingPathComponent("out")
        let sample = TestSupport.sample("voice-note-16k.wav")
        XCTAssertEqual(try run(["transcribe", "--model", "tiny.en", "-o", out.path, sample]).status, 0)
        let skipped = try run(["transcribe", "--model", "tiny.en", "--skip-existing", "-o", out.path, sample])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.hasSuffix("0 files transcribed, 1 skipped\n"), skipped.stderr)
        XCTAssertFalse(skipped.stderr.contains("real time"), skipped.stderr)
    }

    func testMissingModelSaysHowToFetchIt() throws {
        let result = try run(["transcribe", "--model", "nonesuch", "--models-dir", directory.path, TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("hark models fetch NAME"), result.stderr)
        XCTAssertFalse(result.stderr.contains("Scripts/"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").filter { $0.hasPrefix("hark:") }.count, 1)

        let known = try run(["transcribe", "--model", "base", "--models-dir", directory.path, TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(known.status, 1)
        XCTAssertTrue(known.stderr.hasSuffix("; fetch it with: hark models fetch --models-dir \(directory.path) base\n"), known.stderr)
    }

    /// The tokenizer is still loading when the first file starts (`waitingForTokenizer: false`),
    /// so a broken one surfaces there: one line naming the tokenizer, the run stopped, nothing written.
    func testBrokenTokenizerStopsTheRunWithOneLine() throws {
        let model = directory.appendingPathComponent("tiny.en")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let source = try TestSupport.modelDirectory("tiny.en")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "tokenizer.json" {
            try FileManager.default.createSymbolicLink(at: model.appendingPathComponent(name),
                                                       withDestinationURL: source.appendingPathComponent(name))
        }
        try Data(#"{"model": {"type": "BPE", "vocab": {"#.utf8).write(to: model.appendingPathComponent("tokenizer.json"))
        let out = directory.appendingPathComponent("out")
        let sample = TestSupport.sample("dentist-22k.ogg")
        let result = try run(["transcribe", "--model", model.path, "-o", out.path, sample, TestSupport.sample("voice-note-16k.wav")])
        XCTAssertEqual(result.status, 1, result.stderr)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("hark:") }
        XCTAssertEqual(lines.count, 1, result.stderr)
        XCTAssertTrue(lines.first?.contains("tokenizer.json") == true, result.stderr)
        XCTAssertFalse(result.stderr.contains("voice-note-16k"), "the run stops at the first file: \(result.stderr)")
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? [], [])
    }

    func testQuantizeWritesAWholeModelAndNeverClobbers() throws {
        let file = directory.appendingPathComponent("tiny.en-int8.safetensors")
        let made = try run(["quantize", "--model", "tiny.en", "--output", file.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.contains("of the float32 weights"), made.stdout)
        let before = try Data(contentsOf: file)

        // The file alone is the model: by path, and by name in a store that holds it.
        let byPath = try run(["transcribe", "--model", file.path, TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(byPath.status, 0, byPath.stderr)
        XCTAssertLessThan(WordErrorRate.rate(reference: "Please call the dentist on Monday morning to move the appointment to Thursday.",
                                             hypothesis: byPath.stdout), 0.2, byPath.stdout)
        let byName = try run(["transcribe", "--models-dir", directory.path, "--model", "tiny.en-int8", TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(byName.stdout, byPath.stdout, byName.stderr)

        // An existing file is kept unless --overwrite; a wrong extension is a usage error.
        let again = try run(["quantize", "--model", "tiny.en", "--output", file.path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("--overwrite"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: file), before)
        let replaced = try run(["quantize", "--model", "tiny.en", "--output", file.path, "--overwrite"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(try Data(contentsOf: file).count, before.count, "--overwrite replaces the file with a whole new one")
        XCTAssertEqual(try run(["quantize", "--model", "tiny.en", "--output", directory.appendingPathComponent("x.bin").path]).status, 2)
        let missing = try run(["quantize", "--model", "nonesuch", "--models-dir", directory.path, "--output", directory.appendingPathComponent("y.safetensors").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("y.safetensors").path))
    }

    /// An evaluation whose every utterance failed printed a WER of 0.00.
    func testEvalWithEveryUtteranceFailedSaysNotApplicable() throws {
        let manifest = directory.appendingPathComponent("broken.tsv")
        try "id\taudio\ttext\na\tmissing-a.wav\thello there\nb\tmissing-b.wav\tgood morning\n"
            .write(to: manifest, atomically: true, encoding: .utf8)
        let result = try run(["eval", manifest.path, "--model", "tiny.en", "--compute-type", "int8", "--beam-size", "1", "-q"])
        XCTAssertEqual(result.status, 1, result.stderr)
        let row = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("| tiny.en int8 ") }, result.stdout)
        XCTAssertTrue(row.hasPrefix("| tiny.en int8 | 1 | 2 | 2 | n/a |"), String(row))
        XCTAssertTrue(row.contains("every utterance failed"), String(row))
        XCTAssertFalse(row.contains("0.00"), String(row))
    }

    func testVersionSaysTheCommitAndTheKernels() throws {
        let result = try run(["--version"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, result.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("hark 0.") == true, result.stdout)
        let head = try TestSupport.run("/usr/bin/git", ["-C", TestSupport.repositoryRoot.path, "rev-parse", "HEAD"])
        if head.status == 0 {
            XCTAssertTrue(result.stdout.contains("(commit \(head.stdout.prefix(12)))"), result.stdout)
        }
        XCTAssertTrue(lines[1].hasPrefix("int8 kernels: "), result.stdout)
        XCTAssertTrue(lines[2].hasPrefix("OpenBLAS core: "), result.stdout)
    }

    /// Where OpenBLAS takes this CPU for an older one (Debian 12's on Sapphire Rapids: its
    /// SSE3 kernels), hark starts again with the kernels the CPU can run; a core type the user
    /// sets is kept.
    func testOpenBLASRunsKernelsThisCPUCanRun() throws {
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        let chosen = try TestSupport.run(try hark, ["--version"], environment: environment)
        let core = chosen.stdout.split(separator: "\n").last.map { String($0.dropFirst("OpenBLAS core: ".count)) } ?? ""
        if flags.contains("avx2") && flags.contains("fma") {
            XCTAssertFalse(["Prescott", "Core2", "Penryn", "Nehalem", "Sandybridge"].contains(core), chosen.stdout)
        }
        environment["OPENBLAS_CORETYPE"] = "Prescott"
        let kept = try TestSupport.run(try hark, ["--version"], environment: environment)
        XCTAssertTrue(kept.stdout.hasSuffix("OpenBLAS core: Prescott\n"), kept.stdout)
    }

    func testHelpIsClear() throws {
        let result = try run(["transcribe", "--help"])
        XCTAssertEqual(result.status, 0)
        for option in ["--model", "--format", "--output-dir", "--language", "--beam-size", "--overwrite", "--skip-existing"] {
            XCTAssertTrue(result.stdout.contains(option), option)
        }
    }

    // MARK: Helpers

    private func parseCues(_ text: String, separator: String) throws -> [(Double, Double)] {
        try text.split(separator: "\n").filter { $0.contains("-->") }.map { line in
            let parts = line.components(separatedBy: " --> ")
            guard parts.count == 2 else { throw MalformedCue(line: String(line)) }
            return (try seconds(parts[0], separator: separator), try seconds(parts[1], separator: separator))
        }
    }

    private func seconds(_ clock: String, separator: String) throws -> Double {
        let pieces = clock.components(separatedBy: separator)
        let hms = pieces[0].split(separator: ":").compactMap { Double($0) }
        guard pieces.count == 2, hms.count == 3 else { throw MalformedCue(line: clock) }
        XCTAssertEqual(pieces.last?.count, 3, "milliseconds have three digits: \(clock)")
        return hms[0] * 3600 + hms[1] * 60 + hms[2] + (Double(pieces[1]) ?? 0) / 1000
    }

    private func assertMonotonic(_ times: [(Double, Double)], within duration: Double, file: StaticString = #filePath, line: UInt = #line) {
        var previous = 0.0
        for (start, end) in times {
            XCTAssertLessThanOrEqual(previous, start + 1e-9, file: file, line: line)
            XCTAssertLessThan(start, end, file: file, line: line)
            XCTAssertLessThanOrEqual(end, duration + 0.01, file: file, line: line)
            previous = start
        }
    }
}

/// A subtitle cue line that does not parse: a failure of the writer, never a skip.
private struct MalformedCue: Error, CustomStringConvertible {
    let line: String
    var description: String { "malformed cue line: \(line)" }
}
