import Foundation
import HarkAudio

/// One recording to transcribe.
struct Input {
    /// Where the audio is read from.
    let path: String
    /// How it is named in messages.
    let displayName: String
    /// The output file name without extension.
    let stem: String
}

/// The inputs named on the command line: files, folders (with `--recursive`) and `-`.
struct InputList {
    private(set) var files: [Input] = []
    /// Inputs that cannot be used, as messages.
    private(set) var problems: [String] = []

    static let audioExtensions: Set<String> = ["wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff",
                                               "m4a", "mp4", "aac", "webm", "mkv", "mov", "3gp", "amr", "wma", "caf"]

    init(arguments: [String], recursive: Bool) throws {
        for argument in arguments {
            if argument == "-" {
                files.append(Input(path: try InputList.spoolStandardInput(), displayName: "-", stem: "stdin"))
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                guard recursive else {
                    problems.append("\(argument): is a folder; pass --recursive to transcribe the audio files in it")
                    continue
                }
                let found = InputList.audioFiles(under: argument)
                if found.isEmpty { problems.append("\(argument): no audio files found") }
                files += found
            } else {
                let url = URL(fileURLWithPath: argument)
                files.append(Input(path: argument, displayName: argument, stem: url.deletingPathExtension().lastPathComponent))
            }
        }
    }

    private static func audioFiles(under folder: String) -> [Input] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
        var inputs: [Input] = []
        for case let relative as String in enumerator {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(relative)
            let name = url.lastPathComponent
            guard !name.hasPrefix("."), audioExtensions.contains(url.pathExtension.lowercased()) else { continue }
            inputs.append(Input(path: url.path, displayName: url.path, stem: url.deletingPathExtension().lastPathComponent))
        }
        return inputs.sorted { $0.path < $1.path }
    }

    /// Copies standard input to a temporary file (the decoder reads files twice).
    private static func spoolStandardInput() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hark-stdin-\(getpid())")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        while let chunk = try FileHandle.standardInput.read(upToCount: 1 << 20), !chunk.isEmpty {
            try handle.write(contentsOf: chunk)
        }
        return url.path
    }
}
