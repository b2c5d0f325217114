import ArgumentParser
import Foundation
import HarkEvaluation
import HarkModel
import HarkModelStore
import Hark

/// `hark eval`: word and character error rates, speed and memory of models on a manifest of
/// recordings with reference transcripts, and the accuracy change of int8 against float32.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure accuracy (WER, CER), speed and memory on recordings with reference transcripts.",
        usage: "hark eval MANIFEST.tsv [--model <model> ...] [--compute-type <types>] [--beam-size <n>] [--limit <n>] [--json <file>] [--hypotheses <dir>] [<options>]",
        discussion: """
            MANIFEST.tsv has a header line naming the columns id, audio and text (tab-separated); audio paths are relative to the manifest. Each model is loaded once per compute type and transcribes every recording. References and transcripts are normalised alike before scoring (openai-whisper's English rules: case, punctuation, contractions, spellings, numbers), and WER and CER are corpus-level: total edits / total reference words or characters. Other compute types are compared with float32 of the same model: utterances worse / better / same, and the absolute and relative WER change.

            A Markdown table goes to standard output, progress to standard error. Exit status: 0 when every utterance was decoded, 1 when any failed (the rest are still reported), 2 for usage errors.

            Examples:
              hark eval ../shared/data/dev-clean.tsv --model tiny.en --limit 50
              hark eval data.tsv --model tiny.en,base --beam-size 1 --json eval.json
              hark eval data.tsv --model tiny.en --compute-type int8 --baseline eval.json
            """)

    @Argument(help: ArgumentHelp("The manifest: a TSV with the columns id, audio and text.", valueName: "MANIFEST.tsv"))
    var inputs: [String] = []

    @Option(name: .long, parsing: .singleValue,
            help: "Model name in the model store or model directory; repeat or separate with commas (default: base).")
    var model: [String] = []

    @Option(name: .long, help: "Directory of the model store (default: $HARK_MODELS, else ~/.local/share/hark/models).")
    var modelsDir: String?

    @Option(name: .long, help: "Compute types to evaluate, comma-separated: float32, int8.")
    var computeType = "float32,int8"

    @Option(name: .long, help: "Beam width at temperature 0 (1 = greedy).")
    var beamSize = 5

    @Option(name: .long, help: "Spoken language code passed to the model; 'auto' detects it (multilingual models).")
    var language = "en"

    @Option(name: .long, help: "Text normaliser: english (openai-whisper's) or basic (default: english for --language en, else basic).")
    var normalizer: String?

    @Option(name: .long, help: "Evaluate only the first N utterances of the manifest.")
    var limit: Int?

    @Option(name: .long, help: "Also write the results, per utterance included, as JSON to FILE.")
    var json: String?

    @Option(name: .long, help: "Write each system's transcripts as id<TAB>text to DIR/<model>-<compute type>.tsv.")
    var hypotheses: String?

    @Option(name: .long, help: ArgumentHelp(
        "Compare with the float32 runs in FILE, an earlier --json report of this manifest (same models, beam size and normaliser), instead of running float32 again; use with --compute-type int8.",
        valueName: "file"))
    var baseline: String?

    @Option(name: .long, help: "CPU threads for the model, 1 to 16; 0 or absent: all cores up to 8.")
    var threads: Int?

    @Flag(name: [.short, .long], help: "Print nothing on standard error but errors.")
    var quiet = false

    @Flag(name: .customLong("normalise-only"),
          help: ArgumentHelp("Print each line of the given files (or standard input) normalised, and exit.", visibility: .hidden))
    var normaliseOnly = false

    @Flag(name: .long,
          help: ArgumentHelp("Score two text files, REFERENCE HYPOTHESIS, and print WER/CER as JSON.", visibility: .hidden))
    var score = false

    func validate() throws {
        if normaliseOnly && score { throw ValidationError("--normalise-only and --score exclude each other") }
        if score && inputs.count != 2 { throw ValidationError("--score takes two files: REFERENCE HYPOTHESIS") }
        if !normaliseOnly && !score && inputs.count != 1 {
            throw ValidationError(inputs.isEmpty ? "missing MANIFEST.tsv" : "give one manifest (got \(inputs.count) arguments)")
        }
        _ = try computeTypes()
        _ = try models()
        try OptionBounds.check(beamSize, in: OptionBounds.hypotheses, option: "--beam-size")
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let threads { try OptionBounds.check(threads, in: OptionBounds.threads, option: "--threads") }
        _ = try textNormalizer()
    }

    func computeTypes() throws -> [String] {
        var result: [String] = []
        for name in computeType.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard ComputeTypeSupport.known.contains(name) else {
                throw ValidationError("unknown compute type '\(name)'; choose from \(ComputeTypeSupport.known.joined(separator: ", "))")
            }
            if !result.contains(name) { result.append(name) }
        }
        if result.isEmpty { throw ValidationError("--compute-type is empty") }
        // The baseline first, so that the others are compared with it.
        return ComputeTypeSupport.known.filter(result.contains)
    }

    func models() throws -> [String] {
        var result: [String] = []
        for name in model.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            if !result.contains(name) { result.append(name) }
        }
        if model.isEmpty { return ["base"] }
        if result.isEmpty { throw ValidationError("--model is empty") }
        return result
    }

    func textNormalizer() throws -> any TextNormalizer {
        switch normalizer ?? (language == "en" ? "english" : "basic") {
        case "english": return EnglishTextNormalizer()
        case "basic": return BasicTextNormalizer()
        case let other: throw ValidationError("unknown normaliser '\(other)'; choose english or basic")
        }
    }

    func run() throws {
        let console = Console(quiet: quiet)
        let normalizer = try textNormalizer()
        if normaliseOnly { return try printNormalised(normalizer, console: console) }
        if score { return try printScore(normalizer, console: console) }

        let manifest: Manifest
        do {
            manifest = try Manifest(contentsOf: URL(fileURLWithPath: inputs[0]), limit: limit)
        } catch {
            console.error("\(error)")
            throw ExitCode(1)
        }
        guard !manifest.entries.isEmpty else {
            console.error("\(inputs[0]): no utterances")
            throw ExitCode(1)
        }
        let earlier = try baseline.map { path throws -> EvaluationReport in
            guard let data = FileManager.default.contents(atPath: path) else {
                console.error("\(path): cannot read the baseline report")
                throw ExitCode(1)
            }
            guard let report = try? JSONDecoder().decode(EvaluationReport.self, from: data) else {
                console.error("\(path): not a report written by hark eval --json")
                throw ExitCode(1)
            }
            return report
        }

        var options = TranscriptionOptions()
        options.beamSize = beamSize
        options.language = language == "auto" ? nil : language

        let store = ModelStore(explicit: modelsDir)
        var located: [(name: String, directory: URL)] = []
        for name in try models() {
            do {
                located.append((Self.displayName(name), try store.find(name)))
            } catch {
                console.error("\(error)")
                throw ExitCode(1)
            }
        }

        var systems: [EvaluationSystem] = []
        var skipped: [SkippedSystem] = []
        let types = try computeTypes()
        let unavailable = types.filter { !ComputeTypeSupport.isAvailable($0) }
        if !unavailable.isEmpty {
            console.status("hark: \(unavailable.joined(separator: ", ")) is not available yet in Hark's transcriber; skipped")
        }
        for (name, directory) in located {
            for type in types {
                if ComputeTypeSupport.isAvailable(type) {
                    systems.append(EvaluationSystem(model: name, modelDirectory: directory, computeType: type, options: options))
                } else {
                    skipped.append(SkippedSystem(model: name, computeType: type, reason: "not available yet"))
                }
            }
        }
        guard !systems.isEmpty else {
            console.error("nothing to evaluate: no requested compute type is available yet (use --compute-type float32)")
            throw ExitCode(1)
        }

        if let earlier, let baseline {
            // Fail before decoding anything when the earlier report cannot serve.
            for system in systems where system.computeType != ComputeTypeSupport.baseline
                && !types.contains(ComputeTypeSupport.baseline) {
                do {
                    _ = try earlier.baselineRun(model: system.model, beamSize: beamSize, ids: manifest.entries.map(\.id),
                                                normalizer: normalizer.name, source: baseline)
                } catch {
                    console.error("\(error)")
                    throw ExitCode(1)
                }
            }
        }
        let display = EvalProgressDisplay(console: console)
        var report = Evaluation(manifest: manifest, normalizer: normalizer)
            .run(systems, threads: OptionBounds.explicitThreads(threads)) { display.update($0) }
        report.skipped = skipped
        if let earlier, let baseline {
            do {
                try report.compare(withBaselinesOf: earlier, source: baseline)
            } catch {
                console.error("\(error)")
                throw ExitCode(1)
            }
        }

        for system in report.systems {
            if let error = system.loadError { console.error("\(system.label): \(error)") }
            for utterance in system.utterances {
                if let error = utterance.error { console.error("\(system.label): \(utterance.id): \(error)") }
            }
        }
        if let hypotheses { try writeHypotheses(report, to: hypotheses) }
        if let json {
            let data = try report.json()
            do {
                try AtomicFile.write(String(decoding: data, as: UTF8.self) + "\n", to: URL(fileURLWithPath: json))
            } catch {
                console.error("\(error)")
                throw ExitCode(1)
            }
        }
        print(report.markdown(), terminator: "")
        if report.failures > 0 { throw ExitCode(1) }
    }

    /// "tiny.en" for a name, the folder's name for a path.
    static func displayName(_ nameOrPath: String) -> String {
        let trimmed = nameOrPath.hasSuffix("/") ? String(nameOrPath.dropLast()) : nameOrPath
        return trimmed.contains("/") ? URL(fileURLWithPath: trimmed).lastPathComponent : trimmed
    }

    private func writeHypotheses(_ report: EvaluationReport, to path: String) throws {
        let directory = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for system in report.systems where system.loadError == nil {
                let url = directory.appendingPathComponent("\(system.model)-\(system.computeType).tsv")
                try AtomicFile.write(EvaluationReport.hypothesesTSV(system), to: url)
            }
        } catch {
            Console(quiet: quiet).error("\(error)")
            throw ExitCode(1)
        }
    }

    /// `--normalise-only`: each input line, normalised (words joined by single spaces).
    private func printNormalised(_ normalizer: any TextNormalizer, console: Console) throws {
        var text = ""
        if inputs.isEmpty {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            for path in inputs {
                guard let data = FileManager.default.contents(atPath: path) else {
                    console.error("\(path): cannot read")
                    throw ExitCode(1)
                }
                text += String(decoding: data, as: UTF8.self)
                if !text.hasSuffix("\n") { text += "\n" }
            }
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        print(lines.map { normalizer.words(String($0)).joined(separator: " ") }.joined(separator: "\n"))
    }

    /// `--score REFERENCE HYPOTHESIS`: the word and character edits of two whole texts.
    private func printScore(_ normalizer: any TextNormalizer, console: Console) throws {
        var texts: [String] = []
        for path in inputs {
            guard let data = FileManager.default.contents(atPath: path) else {
                console.error("\(path): cannot read")
                throw ExitCode(1)
            }
            texts.append(String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: " "))
        }
        let reference = normalizer.words(texts[0]), hypothesis = normalizer.words(texts[1])
        let words = Alignment.counts(reference: reference, hypothesis: hypothesis)
        let characters = Alignment.counts(reference: ErrorRate.characters(reference), hypothesis: ErrorRate.characters(hypothesis))
        struct Score: Encodable {
            var normalizer: String
            var wer: Double?
            var cer: Double?
            var word_edits: EditCounts
            var character_edits: EditCounts
            var reference_words: Int
            var hypothesis_words: Int
        }
        let result = Score(normalizer: normalizer.name, wer: words.rate.isFinite ? words.rate : nil,
                           cer: characters.rate.isFinite ? characters.rate : nil, word_edits: words,
                           character_edits: characters, reference_words: reference.count, hypothesis_words: hypothesis.count)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}

/// Progress of an evaluation on standard error: redrawn in place on a terminal, otherwise a
/// line every twentieth of the utterances.
final class EvalProgressDisplay {
    private let console: Console
    private let started = Date()
    private var systemStarted = Date()

    init(console: Console) { self.console = console }

    func update(_ progress: EvaluationProgress) {
        guard !console.quiet else { return }
        let prefix = progress.systemCount > 1 ? "[\(progress.systemIndex)/\(progress.systemCount)] " : ""
        switch progress.stage {
        case .loading:
            systemStarted = Date()
            console.status("\(prefix)\(progress.system): loading")
        case .decoding:
            let line = "\(prefix)\(progress.system): utterance \(progress.utterancesDone)/\(progress.utteranceCount)"
            if console.isTerminal {
                console.write("\r" + line + " (\(progress.utteranceID ?? ""))\u{1B}[K")
            } else {
                let step = max(1, progress.utteranceCount / 20)
                if progress.utterancesDone % step == 0 || progress.utterancesDone == progress.utteranceCount {
                    console.status(line)
                }
            }
        case .finished:
            if console.isTerminal { console.write("\r\u{1B}[K") }
            console.status(String(format: "%@%@: done in %.1f s", prefix, progress.system, Date().timeIntervalSince(systemStarted)))
        }
    }
}
