import ArgumentParser
import Foundation
import HarkModelStore
import HarkTokenizer
import Hark

/// The options every command that runs a model takes: which model, where it lives, its
/// numeric type, the language, the beam and the threads.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model name in the model store, a model directory, or an int8 file from 'hark quantize'.")
    var model = "base"

    @Option(name: .long, help: "Directory of the model store (default: $HARK_MODELS, else ~/.local/share/hark/models).")
    var modelsDir: String?

    @Option(name: .long, help: "Numeric precision of the model: int8 (fast, small) or float32.")
    var computeType = "int8"

    @Option(name: .long, help: "Spoken language, as a code or a name (de, German); detected when omitted (multilingual models).")
    var language: String?

    @Option(name: .long, help: "Beam width at temperature 0, 1 to 32 (1 = greedy, faster).")
    var beamSize = 5

    @Option(name: .long, help: "CPU threads for the model, 1 to 16; 0 or absent: automatic (all cores up to 8; for watch, the cores divided by --jobs).")
    var threads: Int?

    func validate() throws {
        guard ComputeType(rawValue: computeType) != nil else { throw ValidationError("--compute-type must be int8 or float32") }
        try OptionBounds.check(beamSize, in: OptionBounds.hypotheses, option: "--beam-size")
        if let threads { try OptionBounds.check(threads, in: OptionBounds.threads, option: "--threads") }
        if let language, Languages.code(for: language) == nil {
            throw ValidationError("unknown language '\(language)'; give a code such as de or a name such as German")
        }
    }

    /// The code of the language asked for (`German` → `de`), if any (validated).
    var languageCode: String? { language.map { Languages.code(for: $0) ?? $0 } }

    /// Checks the language and task against the loaded model, which only its configuration
    /// tells: asking an English-only model for German or a translation is a usage error, said
    /// once before any file instead of once per file.
    func checkLanguage(of transcriber: Transcriber, translating: Bool) throws {
        guard languageCode.map({ $0 != "en" }) ?? false || translating else { return }
        if !(try transcriber.isMultilingual) {
            let what = translating ? "--task translate" : "--language \(language ?? "")"
            throw CLIError.usage("\(what) needs a multilingual model (e.g. --model base); \(model) is English-only")
        }
        if let code = languageCode, !(try transcriber.languages.contains(code)) {
            throw CLIError.usage("\(model) does not know the language '\(code)'")
        }
    }

    /// The compute type asked for (validated).
    var numericType: ComputeType { ComputeType(rawValue: computeType) ?? .int8 }

    /// Finds and loads the model with its tokenizer (see ``Transcriber/init(location:name:computeType:threads:waitingForTokenizer:)``);
    /// `threads` overrides `--threads` (the watcher divides the cores among its jobs).
    func loadTranscriber(threads explicit: Int? = nil, waitingForTokenizer: Bool = true) throws -> Transcriber {
        try Transcriber(location: try ModelStore(explicit: modelsDir).find(model), name: model, computeType: numericType,
                        threads: explicit ?? OptionBounds.explicitThreads(threads) ?? 0,
                        waitingForTokenizer: waitingForTokenizer)
    }
}
