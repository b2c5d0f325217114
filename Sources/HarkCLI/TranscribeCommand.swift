import ArgumentParser
import Foundation
import HarkModel
import HarkTranscription

/// `hark transcribe`: voice notes to text, one model load for many files.
struct TranscribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "Transcribe audio files (WAV, FLAC, OGG, Opus, MP3, AIFF; M4A and video through ffmpeg).",
        discussion: """
            Without -o the text goes to standard output (with several files, each is preceded by
            a '==> FILE <==' line). With -o each format is written to DIR/<name>.<format>.
            Exit status: 0 when every file was transcribed, 1 when any failed, 2 for usage errors.
            """)

    @Argument(help: "Audio files or, with --recursive, folders. '-' reads audio from standard input.")
    var files: [String]

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "transcribe, or translate to English (multilingual models).")
    var task = "transcribe"

    @Option(name: .long, help: "Samples per window when falling back to temperatures above 0.")
    var bestOf = 5

    @Option(name: .long, help: "Temperatures to try in turn, comma-separated (e.g. 0 for no fallback).")
    var temperature = "0,0.2,0.4,0.6,0.8,1.0"

    @Option(name: .long, help: "Text that primes the model: names, spellings, style.")
    var initialPrompt: String?

    @Flag(name: .long, help: "Decode without timestamp tokens (one segment per 30-second window).")
    var noTimestamps = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Use each window's text as the prompt of the next.")
    var conditionOnPreviousText = true

    @Option(name: [.short, .long], help: "Output formats: txt, srt, vtt, json, tsv or all; comma-separated.")
    var format = "txt"

    @Option(name: [.short, .long], help: "Write DIR/<name>.<format> files instead of printing.")
    var outputDir: String?

    @Flag(name: .long, help: "Replace output files that already exist.")
    var overwrite = false

    @Flag(name: .long, help: "Skip inputs whose output files all exist.")
    var skipExisting = false

    @Flag(name: .long, help: "Descend into folders given as inputs.")
    var recursive = false

    @Flag(name: [.short, .long], help: "Print nothing on standard error but errors.")
    var quiet = false

    @Flag(name: [.short, .long], help: "Print each segment with its times as it is decoded.")
    var verbose = false

    func validate() throws {
        if overwrite && skipExisting { throw ValidationError("--overwrite and --skip-existing exclude each other") }
        guard TranscriptionTask(rawValue: task) != nil else { throw ValidationError("--task must be transcribe or translate") }
        guard bestOf >= 1 else { throw ValidationError("--best-of must be at least 1") }
        _ = try formats()
        _ = try temperatures()
    }

    func formats() throws -> [TranscriptFormat] {
        var result: [TranscriptFormat] = []
        for name in format.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            if name == "all" { return TranscriptFormat.allCases }
            guard let format = TranscriptFormat(rawValue: name) else {
                throw ValidationError("unknown format '\(name)'; choose from txt, srt, vtt, json, tsv, all")
            }
            if !result.contains(format) { result.append(format) }
        }
        if result.isEmpty { throw ValidationError("--format is empty") }
        return result
    }

    func temperatures() throws -> [Double] {
        let values = temperature.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw ValidationError("--temperature takes non-negative numbers separated by commas")
        }
        return values.compactMap { $0 }
    }

    func options() throws -> TranscriptionOptions {
        var options = TranscriptionOptions()
        options.language = modelOptions.language
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
        if let threads = modelOptions.threads { ComputeThreads.set(threads) }

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

        Interruption.install()
        var failures = inputs.problems.count
        for problem in inputs.problems { console.error(problem) }
        var audioSeconds = 0.0
        for (index, input) in inputs.files.enumerated() {
            do {
                let outcome = try transcribeOne(input, transcriber: transcriber, options: options, formats: formats,
                                                console: console, printHeader: inputs.files.count > 1, first: index == 0)
                audioSeconds += outcome
            } catch TranscriptionError.cancelled {
                console.error("interrupted; no output was written for \(input.displayName)")
                throw ExitCode(130)
            } catch let error as TranscriptionError where error.isModelProblem {
                // The model, not this file: no other file would fare better.
                console.error("\(error)")
                throw ExitCode(1)
            } catch {
                failures += 1
                console.error("\(input.displayName): \(error)")
            }
        }
        let wall = Date().timeIntervalSince(started)
        console.status(String(format: "%d file%@, %.1f s of audio in %.1f s (%.1f× real time)%@",
                              inputs.files.count, inputs.files.count == 1 ? "" : "s", audioSeconds, wall,
                              wall > 0 ? audioSeconds / wall : 0, failures > 0 ? ", \(failures) failed" : ""))
        if failures > 0 { throw ExitCode(1) }
    }

    /// Transcribes one input; returns its duration in seconds.
    private func transcribeOne(_ input: Input, transcriber: Transcriber, options: TranscriptionOptions,
                               formats: [TranscriptFormat], console: Console, printHeader: Bool, first: Bool) throws -> Double {
        var targets: [(TranscriptFormat, URL)] = []
        if let outputDir {
            let directory = URL(fileURLWithPath: outputDir)
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw CLIError.output(path: outputDir, reason: error.localizedDescription)
            }
            targets = formats.map { ($0, directory.appendingPathComponent("\(input.stem).\($0.fileExtension)")) }
            let existing = targets.filter { FileManager.default.fileExists(atPath: $0.1.path) }
            if skipExisting && existing.count == targets.count {
                console.status("\(input.displayName): skipped, outputs exist")
                return 0
            }
            if !overwrite && !skipExisting, let clash = existing.first {
                throw CLIError.output(path: clash.1.path, reason: "it exists; pass --overwrite to replace it or --skip-existing")
            }
        }
        let progress = ProgressLine(console: console, name: input.displayName)
        defer { progress.finish() }
        let transcript = try transcriber.transcribe(path: input.path, options: options, cancellation: Interruption.flag) { update in
            progress.update(update)
            if verbose {
                for segment in update.newSegments {
                    console.status(String(format: "[%@ --> %@]%@", TranscriptFormat.clockString(segment.start),
                                          TranscriptFormat.clockString(segment.end), segment.text))
                }
            }
        }
        progress.finish()
        if targets.isEmpty {
            if printHeader { print("\(first ? "" : "\n")==> \(input.displayName) <==") }
            let rendered = formats.map { $0.render(transcript, model: modelOptions.model, computeType: modelOptions.computeType) }
            print(rendered.joined(separator: "\n"), terminator: "")
        } else {
            for (format, url) in targets {
                try AtomicFile.write(format.render(transcript, model: modelOptions.model, computeType: modelOptions.computeType), to: url)
            }
        }
        return transcript.duration
    }
}

extension TranscriptFormat {
    /// `MM:SS.mmm` (or `H:MM:SS.mmm`) for progress lines.
    static func clockString(_ seconds: Double) -> String {
        let clock = TranscriptFormat.clock(seconds, comma: false)
        return clock.hasPrefix("00:") ? String(clock.dropFirst(3)) : clock
    }
}
