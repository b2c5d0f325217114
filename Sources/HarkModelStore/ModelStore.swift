import Foundation
import HarkModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where models live, searched in order: `--models-dir` alone when given; else `$HARK_MODELS`,
/// `${XDG_DATA_HOME:-~/.local/share}/hark/models`, and, only for a binary that lives inside a
/// source checkout's `.build` folder, that checkout's `Models/`. Never the current directory:
/// a folder that merely looks like a checkout must not supply models (or code).
public struct ModelStore: Sendable {
    /// The directories searched, in order; the first is where new models are installed.
    public let directories: [URL]
    /// Whether the store was given explicitly (`--models-dir`), so that advice repeats it.
    public let isExplicit: Bool

    /// The directory new models are installed in.
    public var installDirectory: URL { directories[0] }

    /// - Parameters:
    ///   - explicit: `--models-dir`, which replaces the search.
    ///   - environment: read for `HARK_MODELS`, `XDG_DATA_HOME` and `HOME`.
    ///   - executable: the running binary, whose checkout (if any) is searched last.
    public init(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                executable: URL? = ModelStore.currentExecutable()) {
        isExplicit = explicit != nil
        if let explicit {
            directories = [URL(fileURLWithPath: explicit)]
            return
        }
        var directories: [URL] = []
        if let store = environment["HARK_MODELS"], !store.isEmpty {
            directories.append(URL(fileURLWithPath: store))
        }
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? Files.home(environment).appendingPathComponent(".local/share")
        directories.append(dataHome.appendingPathComponent("hark/models"))
        if let checkout = executable.flatMap(Self.checkoutModels(executable:)) { directories.append(checkout) }
        self.directories = directories
    }

    /// The running binary, resolved (not `argv[0]`, which may be a bare name found on `PATH`).
    public static func currentExecutable() -> URL? {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return Bundle.main.executableURL?.resolvingSymlinksInPath()
    }

    /// The `Models/` folder of the source checkout whose `.build` folder holds `executable`:
    /// the parent of the nearest enclosing `.build*` directory, when it has a `Package.swift`
    /// and a `Models/` folder.
    public static func checkoutModels(executable: URL) -> URL? {
        var directory = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" && !directory.path.isEmpty {
            if directory.lastPathComponent.hasPrefix(".build") {
                let checkout = directory.deletingLastPathComponent()
                let models = checkout.appendingPathComponent("Models")
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: checkout.appendingPathComponent("Package.swift").path),
                      FileManager.default.fileExists(atPath: models.path, isDirectory: &isDirectory), isDirectory.boolValue
                else { return nil }
                return models
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    /// A model given by name (looked up in the store: `<dir>/<name>/model.bin`, else
    /// `<dir>/<name>.safetensors`) or by path: a CTranslate2 model directory, or a Hark int8
    /// file (`*.safetensors`, made by `hark quantize`).
    public func locate(_ nameOrPath: String, catalog: ModelCatalog = .builtIn) throws(ModelStoreError) -> URL {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasPrefix(".") || nameOrPath.hasSuffix("." + Int8ModelFile.fileExtension)
        if isPath {
            let url = URL(fileURLWithPath: nameOrPath)
            if Int8ModelFile.isInt8ModelFile(url) { return url }
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model.bin").path) else {
                throw FileManager.default.fileExists(atPath: nameOrPath) ? .notAModel(path: nameOrPath) : .noSuchPath(nameOrPath)
            }
            return url
        }
        for directory in directories {
            if let found = Self.model(named: nameOrPath, in: directory, catalog: catalog) {
                // The speech detector sits in the store beside the Whisper models but cannot transcribe.
                guard found.kind != .speechDetector else {
                    throw .notAWhisperModel(name: nameOrPath, whisperModels: catalog.models.filter { $0.kind == .whisper && $0.complete }.map(\.name))
                }
                return found.location
            }
        }
        throw .notInstalled(name: nameOrPath, searched: directories.map(\.path),
                            fetchCommand: catalog.model(named: nameOrPath) != nil ? fetchCommand(for: nameOrPath) : nil,
                            known: catalog.names)
    }

    /// The directory of the installed speech detector `name` (a catalogue model of kind
    /// `speech-detector`, such as `silero-vad`), searched like a Whisper model by name.
    public func locateSpeechDetector(_ name: String, catalog: ModelCatalog = .builtIn) throws(ModelStoreError) -> URL {
        for directory in directories {
            if let found = Self.model(named: name, in: directory, catalog: catalog), found.kind == .speechDetector {
                return found.location
            }
        }
        throw .notInstalled(name: name, searched: directories.map(\.path),
                            fetchCommand: catalog.model(named: name) != nil ? fetchCommand(for: name) : nil,
                            known: catalog.names)
    }

    /// The command that installs `name` into this store.
    public func fetchCommand(for name: String) -> String {
        isExplicit ? "hark models fetch --models-dir \(installDirectory.path) \(name)" : "hark models fetch \(name)"
    }

    /// The model `name` in one directory of the store, if there. A speech detector has no
    /// `model.bin`: its directory counts when it holds every file the catalogue lists for it.
    private static func model(named name: String, in directory: URL, catalog: ModelCatalog) -> InstalledModel? {
        let folder = directory.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.bin").path) {
            return InstalledModel(name: name, location: folder, kind: .directory, bytes: directorySize(folder))
        }
        if let entry = catalog.model(named: name), entry.kind == .speechDetector, !entry.files.isEmpty,
           entry.files.allSatisfy({ fileSize(folder.appendingPathComponent($0.name).path) != nil }) {
            return InstalledModel(name: name, location: folder, kind: .speechDetector, bytes: directorySize(folder))
        }
        let file = directory.appendingPathComponent(name + "." + Int8ModelFile.fileExtension)
        if Int8ModelFile.isInt8ModelFile(file) {
            return InstalledModel(name: name, location: file, kind: .int8File, bytes: fileSize(file.path) ?? 0)
        }
        return nil
    }

    /// Every model in the store, the first of each name (the one `locate` finds), by directory
    /// then name: model directories, int8 files from `hark quantize`, and the catalogue's
    /// speech detectors.
    public func installed(catalog: ModelCatalog = .builtIn) -> [InstalledModel] {
        var seen = Set<String>()
        var models: [InstalledModel] = []
        for directory in directories {
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
            for entry in entries where !entry.hasPrefix(".") {
                let suffix = "." + Int8ModelFile.fileExtension
                let name = entry.hasSuffix(suffix) ? String(entry.dropLast(suffix.count)) : entry
                guard !seen.contains(name), let model = Self.model(named: name, in: directory, catalog: catalog),
                      model.location.lastPathComponent == entry else { continue }
                seen.insert(name)
                models.append(model)
            }
        }
        return models
    }

    /// The bytes of the files in a model directory (following links, as a load does).
    static func directorySize(_ directory: URL) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return entries.reduce(0) { $0 + (fileSize(directory.appendingPathComponent($1).path) ?? 0) }
    }

    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else { return nil }
        return Int(info.st_size)
    }
}

/// A model found in the store.
public struct InstalledModel: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A CTranslate2 model directory (`model.bin`, tokenizer, vocabulary, config).
        case directory
        /// A Hark int8 file made by `hark quantize`.
        case int8File
        /// A speech detector's directory (`silero-vad`): weights for speech detection, not a Whisper model.
        case speechDetector
    }

    public var name: String
    public var location: URL
    public var kind: Kind
    /// Bytes on disk.
    public var bytes: Int
}

/// A model could not be found. One line, saying how to get it.
public enum ModelStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// `fetchCommand` is nil when the catalogue does not have the name.
    case notInstalled(name: String, searched: [String], fetchCommand: String?, known: [String])
    case noSuchPath(String)
    case notAModel(path: String)
    /// The name is the speech detector's, which cannot transcribe.
    case notAWhisperModel(name: String, whisperModels: [String])

    public var description: String {
        switch self {
        case .notInstalled(let name, let searched, let fetchCommand, let known):
            let looked = "model '\(name)' is not installed (looked in \(searched.joined(separator: ", ")))"
            if let fetchCommand { return "\(looked); fetch it with: \(fetchCommand)" }
            return "\(looked); the catalogue has \(known.joined(separator: ", ")) (hark models fetch NAME), or give a model directory or .safetensors file"
        case .noSuchPath(let path):
            return "\(path): no such model directory or file"
        case .notAModel(let path):
            return "\(path) is neither a model directory (with model.bin) nor a .safetensors file from hark quantize"
        case .notAWhisperModel(let name, let whisperModels):
            return "'\(name)' is the speech detector, not a Whisper model; transcribe with one of \(whisperModels.joined(separator: ", "))"
        }
    }
}
