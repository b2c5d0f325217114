import Foundation
import HarkModel

/// Where models live: `--models-dir`, else `HARK_MODELS`, else
/// `${XDG_DATA_HOME:-~/.local/share}/hark/models`; a development checkout's `Models/` is
/// searched last.
struct ModelStore {
    /// The directories searched, in order; the first is where new models are installed.
    let directories: [URL]

    init(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var directories: [URL] = []
        if let explicit {
            directories.append(URL(fileURLWithPath: explicit))
        } else {
            if let store = environment["HARK_MODELS"], !store.isEmpty {
                directories.append(URL(fileURLWithPath: store))
            }
            let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.local/share")
            directories.append(URL(fileURLWithPath: dataHome).appendingPathComponent("hark/models"))
            if let checkout = ModelStore.checkoutModels() { directories.append(checkout) }
        }
        self.directories = directories
    }

    /// The `Models/` folder of the source checkout this binary was built in, if any.
    static func checkoutModels() -> URL? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for start in [executable.deletingLastPathComponent(), URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
            var directory = start
            for _ in 0..<6 {
                let models = directory.appendingPathComponent("Models")
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
                   FileManager.default.fileExists(atPath: models.path) {
                    return models
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// A model given by name (looked up in the store) or by path: a CTranslate2 model
    /// directory, or a Hark int8 file (`*.safetensors`, made by `hark quantize`).
    func locate(_ nameOrPath: String) throws(CLIError) -> URL {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasPrefix(".") || nameOrPath.hasSuffix("." + Int8ModelFile.fileExtension)
        if isPath {
            let url = URL(fileURLWithPath: nameOrPath)
            if Int8ModelFile.isInt8ModelFile(url) { return url }
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model.bin").path) else {
                throw .modelNotFound(FileManager.default.fileExists(atPath: nameOrPath)
                    ? "\(nameOrPath) is neither a model directory (with model.bin) nor a .safetensors file from hark quantize"
                    : "\(nameOrPath): no such model directory or file")
            }
            return url
        }
        for directory in directories {
            let candidate = directory.appendingPathComponent(nameOrPath)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("model.bin").path) {
                return candidate
            }
            let file = directory.appendingPathComponent(nameOrPath + "." + Int8ModelFile.fileExtension)
            if Int8ModelFile.isInt8ModelFile(file) { return file }
        }
        let store = directories.first?.path ?? "~/.local/share/hark/models"
        throw .modelNotFound("model '\(nameOrPath)' is not installed (looked in \(directories.map(\.path).joined(separator: ", "))); fetch it with: Scripts/fetch-models --models-dir \(store) \(nameOrPath)")
    }
}
