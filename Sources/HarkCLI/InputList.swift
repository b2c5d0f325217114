import Foundation
import HarkAudio

/// One recording to transcribe.
struct Input {
    /// Where the audio is read from.
    let path: String
    /// How it is named in messages.
    let displayName: String
    /// The output file's path below the output folder, without extension: the file's name,
    /// or its path relative to the folder given with `--recursive` (so that `a/one.wav` and
    /// `c/one.wav` do not write the same outputs).
    let stem: String
    /// The unnamed file holding audio that came through a pipe, kept open while the input is.
    var spool: Spool? = nil
}

/// The inputs named on the command line: files, folders (with `--recursive`), `-` for standard
/// input, and pipes (such as `<(command)`).
struct InputList {
    private(set) var files: [Input] = []
    /// Inputs that cannot be used, as messages.
    private(set) var problems: [String] = []

    static let audioExtensions: Set<String> = ["wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff",
                                               "m4a", "mp4", "aac", "webm", "mkv", "mov", "3gp", "amr", "wma", "caf"]

    /// The name `-` takes in output file names.
    static let standardInputStem = "stdin"

    init(arguments: [String], recursive: Bool) throws {
        for argument in arguments {
            if argument == "-" {
                let spool = try Self.spool(STDIN_FILENO, name: "standard input")
                guard spool.bytes > 0 else {
                    problems.append("-: standard input is empty")
                    continue
                }
                files.append(Input(path: spool.path, displayName: "-", stem: InputList.standardInputStem, spool: spool))
                continue
            }
            var status = stat()
            guard stat(argument, &status) == 0 else {
                // Said before the model loads, instead of after.
                problems.append("\(argument): \(errno == ENOENT ? "no such file" : String(cString: strerror(errno)))")
                continue
            }
            let url = URL(fileURLWithPath: argument)
            let stem = url.deletingPathExtension().lastPathComponent
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                guard recursive else {
                    problems.append("\(argument): is a folder; pass --recursive to transcribe the audio files in it")
                    continue
                }
                let found = InputList.audioFiles(under: argument)
                if found.isEmpty { problems.append("\(argument): no audio files found") }
                files += found
            case S_IFIFO, S_IFCHR:
                // A pipe can be read once only, and the decoder may read a file twice.
                let descriptor = open(argument, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    problems.append("\(argument): \(String(cString: strerror(errno)))")
                    continue
                }
                defer { close(descriptor) }
                let spool = try Self.spool(descriptor, name: argument)
                guard spool.bytes > 0 else {
                    problems.append("\(argument): nothing came through the pipe")
                    continue
                }
                files.append(Input(path: spool.path, displayName: argument, stem: stem, spool: spool))
            default:
                files.append(Input(path: argument, displayName: argument, stem: stem))
            }
        }
    }

    /// A pipe's audio in a ``Spool``; failing to hold it is a usage error.
    private static func spool(_ descriptor: Int32, name: String) throws(CLIError) -> Spool {
        do { return try Spool(copying: descriptor, name: name) } catch { throw .usage(error.description) }
    }

    /// Pairs of inputs that would write the same output files, as messages.
    var outputClashes: [String] {
        var first: [String: Input] = [:]
        var clashes: [String] = []
        for input in files {
            if let earlier = first[input.stem] {
                clashes.append("\(earlier.displayName) and \(input.displayName) would write the same outputs (\(input.stem).*)")
            } else {
                first[input.stem] = input
            }
        }
        return clashes
    }

    private static func audioFiles(under folder: String) -> [Input] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
        var inputs: [Input] = []
        for case let relative as String in enumerator {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(relative)
            let name = url.lastPathComponent
            guard !name.hasPrefix("."), audioExtensions.contains(url.pathExtension.lowercased()) else { continue }
            let stem = (relative as NSString).deletingPathExtension
            inputs.append(Input(path: url.path, displayName: url.path, stem: stem))
        }
        return inputs.sorted { $0.path < $1.path }
    }
}
