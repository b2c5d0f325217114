import ArgumentParser
import Foundation
import HarkModel
import HarkModelStore

/// `hark quantize`: a float model to one int8 file that loads without a float copy.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model to int8 and write it as one safetensors file.",
        discussion: """
            The file holds every weight matrix in int8 (one scale per output row), the other tensors as they were, and the model's config.json and tokenizer, so it is a whole model: pass it to --model of any command. Layout: Models/README.md.

            Examples:
              hark quantize --model base --output base-int8.safetensors
              hark transcribe --model base-int8.safetensors note.wav
            """)

    @Option(name: .long, help: "Model name in the model store, or a model directory.")
    var model: String

    @Option(name: .long, help: "Directory of the model store (default: $HARK_MODELS, else ~/.local/share/hark/models).")
    var modelsDir: String?

    @Option(name: [.short, .long], help: "The file to write; it must end in .safetensors.")
    var output: String

    @Option(name: .long, parsing: .upToNextOption,
            help: "Matrices to keep in float, by CTranslate2 name (e.g. encoder/conv1) or prefix ending in '/'.")
    var keepFloat: [String] = []

    @Flag(name: .long, help: "Replace the output file if it exists.")
    var overwrite = false

    func validate() throws {
        guard output.hasSuffix("." + Int8ModelFile.fileExtension) else {
            throw ValidationError("--output must end in .\(Int8ModelFile.fileExtension)")
        }
    }

    func run() throws {
        let source = try ModelStore(explicit: modelsDir).find(model)
        guard !Int8ModelFile.isInt8ModelFile(source) else {
            throw CLIError.usage("\(model) is already an int8 file; quantize its source model directory")
        }
        let destination = URL(fileURLWithPath: output)
        var isDirectory: ObjCBool = false
        let folder = destination.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError.output(path: output, reason: "no folder \(folder)")
        }
        if FileManager.default.fileExists(atPath: destination.path) && !overwrite {
            throw CLIError.output(path: output, reason: "it exists; pass --overwrite to replace it")
        }
        let started = Date()
        let sha256: String
        do {
            sha256 = try SHA256.hex(ofFile: source.appendingPathComponent("model.bin").path)
        } catch {
            throw CLIError.modelNotFound("\(error)")
        }
        let summary = try Interruption.removingOnSignal(Safetensors.temporaryURL(for: destination).path) {
            try Int8ModelFile.write(quantizing: source, sourceSHA256: sha256,
                                    plan: QuantizationPlan(keptInFloat: keepFloat), to: destination)
        }
        let share = 100 * Double(summary.fileBytes) / Double(max(summary.float32Bytes, 1))
        print(String(format: "wrote %@: %.1f MB, %.1f%% of the float32 weights (%.1f MB); %d matrices in int8, %d in float; %.1f s",
                     output, Double(summary.fileBytes) / 1e6, share, Double(summary.float32Bytes) / 1e6,
                     summary.quantizedMatrices, summary.floatMatrices, Date().timeIntervalSince(started)))
    }
}
