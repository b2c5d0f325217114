import ArgumentParser
import Foundation
import HarkModel
import HarkTokenizer
import Hark

/// `hark transcribe`: voice notes to text, one model load for many files.
struct TranscribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "Transcribe audio files (WAV, FLAC, OGG, Opus, MP3, AIFF; M4A and video through ffmpeg).",
        discussion: """
            Without -o the text goes to standard output, in one format (with several files, each is preceded by a '==> FILE <==' line). With -o each format is written to DIR/<name>.<format>, all of a file's formats or none; with --recursive the folders' tree is mirrored under DIR.

            Exit status: 0 when every file was transcribed, 1 when any failed, 2 for usage errors (including a language or task the model cannot do), 130 when interrupted.
            """)

    @Argument(help: "Audio files or, with --recursive, folders. '-' reads audio from standard input (its outputs are named stdin.*).")
    var files: [String]

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "transcribe, or translate to English (multilingual models).")
    var task = "transcribe"

    @Option(name: .long, help: "Samples per window when falling back to temperatures above 0, 1 to 32.")
    var bestOf = 5

    @Option(name: .long, help: "Temperatures from 0 to 2 to try in turn, comma-separated (e.g. 0 for no fallback).")
    var temperature = "0,0.2,0.4,0.6,0.8,1.0"

    @Option(name: .long, help: "Text that primes the model: names, spellings, style.")
    var initialPrompt: String?

    @Flag(name: .long, help: "Decode without timestamp tokens (one segment per 30-second window).")
    var noTimestamps = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Use each window's text as the prompt of the next.")
    var conditionOnPreviousText = true

    @Option(name: [.short, .long], help: "Output formats: txt, srt, vtt, json, tsv or all; comma-separated (several need --output-dir).")
    var format = "txt"

    @Option(name: [.short, .long], help: "Write DIR/<name>.<format> files instead of printing (with --recursive, the folders' tree below DIR).")
    var outputDir: String?

    @Flag(name: .long, help: "Replace output files that already exist in --output-dir.")
    var overwrite = false

    @Flag(name: .long, help: "Skip inputs whose output files all exist in --output-dir.")
    var skipExisting = false

    @Flag(name: .long, help: "Descend into folders given as inputs.")
    var recursive = false

    @Flag(name: [.short, .long], help: "Print nothing on standard error but errors.")
    var quiet = false

    @Flag(name: [.short, .long], help: "Print each segment with its times as it is decoded.")
    var verbose = false

    func validate() throws {
        if overwrite && skipExisting { throw ValidationError("--overwrite and --skip-existing exclude each other") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("'-' (standard input) can be given only once") }
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other") }
        if outputDir == nil {
            if overwrite || skipExisting {
                throw ValidationError("--\(overwrite ? "overwrite" : "skip-existing") is about files in --output-dir; give one")
            }
            if try formats().count > 1 {
                throw ValidationError("standard output takes one format; write several with --output-dir")
            }
        }
        guard TranscriptionTask(rawValue: task) != nil else { throw ValidationError("--task must be transcribe or translate") }
        try OptionBounds.check(bestOf, in: OptionBounds.hypotheses, option: "--best-of")
        _ = try formats()
        _ = try temperatures()
    }

    func formats() throws -> [TranscriptFormat] { try TranscriptFormat.parseList(format) }

    func temperatures() throws -> [Double] {
        let values = temperature.split(separator: ",", omittingEmptySubsequences: false)
            .map { Double($0.trimmingCharacters(in: .whitespaces)) }
        let range = OptionBounds.temperature
        guard !values.isEmpty, values.count <= 20, values.allSatisfy({ $0.map { $0.isFinite && range.contains($0) } ?? false }) else {
            throw ValidationError("--temperature takes up to 20 numbers from \(Int(range.lowerBound)) to \(Int(range.upperBound)), separated by commas (got '\(temperature)')")
        }
        return values.compactMap { $0 }
    }

    func options() throws -> TranscriptionOptions {
        var options = TranscriptionOptions()
        options.language = modelOptions.languageCode
        options.task = TranscriptionTask(rawValue: task) ?? .transcribe
        options.beamSize = modelOptions.beamSize
        options.bestOf = bestOf
        options.temperatures = try temperatures()
        options.initialPrompt = initialPrompt
        options.withoutTimestamps = noTimestamps
        options.conditionOnPreviousText = conditionOnPreviousText
        return options
    }

    func run() throws {
        let console = Console(quiet: quiet)
        let formats = try formats()
        let options = try options()
        let inputs = try InputList(arguments: files, recursive: recursive)
        // What is wrong with the inputs is said before the model loads.
        for problem in inputs.problems { console.error(problem) }
        if outputDir != nil, !inputs.outputClashes.isEmpty {
            for clash in inputs.outputClashes { console.error(clash + "; transcribe them into separate folders") }
            throw ExitCode(2)
        }
        if inputs.files.isEmpty { throw ExitCode(1) }

        let transcriber: Transcriber
        let started = Date()
        do {
            // The tokenizer finishes loading while the first file's first window is encoded; if
            // it is broken, that file's transcription says so and the run stops (below).
            transcriber = try modelOptions.loadTranscriber(waitingForTokenizer: false)
        } catch {
            console.error("\(error)")
            throw ExitCode(1)
        }
        console.status("loaded \(modelOptions.model) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        do {
            try modelOptions.checkLanguage(of: transcriber, translating: options.task == .translate)
        } catch let error as CLIError {
            console.error("\(error)")
            throw ExitCode(2)
        }

        Interruption.install()
        var failures = inputs.problems.count
        var audioSeconds = 0.0
        var transcribed = 0
        for (index, input) in inputs.files.enumerated() {
            do {
                let count = inputs.files.count
                let outcome = try transcribeOne(input, transcriber: transcriber, options: options, formats: formats,
                                                console: console, printHeader: count > 1, first: index == 0,
                                                label: count > 1 ? "[\(index + 1)/\(count)] \(input.displayName)" : input.displayName)
                if let outcome {
                    audioSeconds += outcome
                    transcribed += 1
                }
            } catch let error as TranscriptionError where error.kind == .cancelled {
                console.error("interrupted; no output was written for \(input.displayName)")
                throw ExitCode(130)
            } catch let error as TranscriptionError where error.isModelProblem {
                // The model, not this file: no other file would fare better.
                console.error("\(error)")
                throw ExitCode(1)
            } catch {
                failures += 1
                console.error(Self.message(for: error, input: input))
            }
        }
        let wall = Date().timeIntervalSince(started)
        let skipped = inputs.files.count + inputs.problems.count - transcribed - failures
        var summary = "\(transcribed) file\(transcribed == 1 ? "" : "s") transcribed"
        if transcribed > 0 {
            summary += String(format: ", %.1f s of audio in %.1f s (%.1f× real time)", audioSeconds, wall, audioSeconds / max(wall, 1e-3))
        }
        if skipped > 0 { summary += ", \(skipped) skipped" }
        if failures > 0 { summary += ", \(failures) failed" }
        console.status(summary)
        if failures > 0 { throw ExitCode(1) }
    }

    /// One line for a file that failed: its name once, even when the error names it (by the
    /// path it was read from, which for standard input is a spool's).
    static func message(for error: Error, input: Input) -> String {
        let text = "\(error)".replacingOccurrences(of: input.path, with: input.displayName)
        return text.hasPrefix(input.displayName + ":") ? text : "\(input.displayName): \(text)"
    }

    /// Transcribes one input; returns its duration in seconds, or nil when it was skipped.
    private func transcribeOne(_ input: Input, transcriber: Transcriber, options: TranscriptionOptions,
                               formats: [TranscriptFormat], console: Console, printHeader: Bool, first: Bool,
                               label: String) throws -> Double? {
        var targets: [(TranscriptFormat, URL)] = []
        if let outputDir {
            let directory = URL(fileURLWithPath: outputDir)
            targets = formats.map { ($0, directory.appendingPathComponent("\(input.stem).\($0.fileExtension)")) }
            // The output folder, or its subfolder mirroring the input's with --recursive.
            let folder = targets.first?.1.deletingLastPathComponent() ?? directory
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw CLIError.output(path: folder.path, reason: error.localizedDescription)
            }
            // lstat: a symbolic link, even a dangling one, is an existing output.
            let existing = targets.filter { var status = stat(); return lstat($0.1.path, &status) == 0 }
            if skipExisting && existing.count == targets.count {
                console.status("\(input.displayName): skipped, outputs exist")
                return nil
            }
            if !overwrite && !skipExisting, let clash = existing.first {
                throw CLIError.output(path: clash.1.path, reason: "it exists; pass --overwrite to replace it or --skip-existing")
            }
        }
        let progress = ProgressLine(console: console, name: label)
        defer { progress.finish() }
        let transcript = try transcriber.transcribe(.path(input.path), options: options, cancellation: Interruption.flag) { update in
            progress.update(update)
            if verbose {
                for segment in update.newSegments {
                    progress.above(String(format: "[%@ --> %@]%@", TranscriptFormat.clockString(segment.start),
                                          TranscriptFormat.clockString(segment.end), segment.text))
                }
            }
        }
        progress.finish()
        if options.language == nil, (try? transcriber.isMultilingual) == true {
            console.status(String(format: "%@: detected language %@ (%@), probability %.2f", input.displayName, transcript.language,
                                  Languages.name(of: transcript.language), transcript.languageProbability))
        }
        if targets.isEmpty {
            if printHeader { print("\(first ? "" : "\n")==> \(input.displayName) <==") }
            let rendered = formats.map { $0.render(transcript) }
            print(rendered.joined(separator: "\n"), terminator: "")
        } else {
            // All the formats or none; without --overwrite an output that appeared meanwhile
            // (another run writing to the same folder) is kept, not replaced.
            try AtomicFile.write(targets.map { (format, url) in
                (format.render(transcript), url)
            }, replacing: overwrite)
        }
        return transcript.duration
    }
}

extension TranscriptFormat {
    /// The formats of a `--format` value: names separated by commas, `all` for every format.
    /// Every name is checked, `all` included among others.
    static func parseList(_ text: String) throws -> [TranscriptFormat] {
        var result: [TranscriptFormat] = []
        var all = false
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            if name == "all" {
                all = true
                continue
            }
            guard let format = TranscriptFormat(rawValue: name) else {
                throw ValidationError("unknown format '\(name)'; choose from txt, srt, vtt, json, tsv, all")
            }
            if !result.contains(format) { result.append(format) }
        }
        if all { return TranscriptFormat.allCases }
        if result.isEmpty { throw ValidationError("--format is empty") }
        return result
    }

    /// `MM:SS.mmm` (or `H:MM:SS.mmm`) for progress lines.
    static func clockString(_ seconds: Double) -> String {
        let clock = TranscriptFormat.clock(seconds, comma: false)
        return clock.hasPrefix("00:") ? String(clock.dropFirst(3)) : clock
    }
}
