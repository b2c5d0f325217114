import Foundation

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

    /// The directory of a model given by name (looked up in the store) or by path.
    func locate(_ nameOrPath: String) throws(CLIError) -> URL {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasPrefix(".")
        if isPath {
            let url = URL(fileURLWithPath: nameOrPath)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model.bin").path) else {
                throw .modelNotFound("no model.bin in \(nameOrPath)")
            }
            return url
        }
        for directory in directories {
            let candidate = directory.appendingPathComponent(nameOrPath)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("model.bin").path) {
                return candidate
            }
        }
        let store = directories.first?.path ?? "~/.local/share/hark/models"
        throw .modelNotFound("model '\(nameOrPath)' is not installed (looked in \(directories.map(\.path).joined(separator: ", "))); fetch it with: Scripts/fetch-models --models-dir \(store) \(nameOrPath)")
    }
}
