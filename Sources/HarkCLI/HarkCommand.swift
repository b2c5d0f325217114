import ArgumentParser
import Foundation
import HarkKernels
import HarkModel

/// The `hark` command.
public struct HarkCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hark",
        abstract: "Offline speech transcription with Whisper models, on your own CPU.",
        discussion: """
            Examples:
              hark transcribe note.m4a                 print the text of a voice note
              hark transcribe -f srt,txt -o out/ *.wav write subtitles and text files
              hark --version                           the version, and which int8 kernels run here
            """,
        subcommands: [TranscribeCommand.self, ModelsCommand.self, QuantizeCommand.self, WatchCommand.self,
                      EvalCommand.self, BenchCommand.self])

    public init() {}

    /// Hark's version.
    static let version = "0.1.0"

    /// `hark --version`: the version, the commit when the binary was built in a git checkout
    /// (read from that checkout's `.git`, beside the `.build` folder the binary is in), and
    /// which int8 kernels this CPU runs.
    static func versionText() -> String {
        var text = "hark \(version)"
        if let commit = buildCommit() { text += " (commit \(commit.prefix(12)))" }
        return text + "\nint8 kernels: \(Int8MatrixProduct.implementation == "avx2" ? "AVX2" : "portable (no AVX2 on this CPU, or HARK_KERNELS=portable)")"
            + "\nOpenBLAS core: \(ComputeThreads.blasCore)"
    }

    /// The commit HEAD named in the checkout whose `.build` holds this executable, if any.
    static func buildCommit() -> String? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" && directory.lastPathComponent != ".build" { directory = directory.deletingLastPathComponent() }
        let git = directory.deletingLastPathComponent().appendingPathComponent(".git")
        guard directory.lastPathComponent == ".build",
              let head = try? String(contentsOf: git.appendingPathComponent("HEAD"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        guard head.hasPrefix("ref: ") else { return head }
        let reference = String(head.dropFirst(5))
        if let loose = try? String(contentsOf: git.appendingPathComponent(reference), encoding: .utf8) {
            return loose.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let packed = (try? String(contentsOf: git.appendingPathComponent("packed-refs"), encoding: .utf8)) ?? ""
        return packed.split(separator: "\n").first { $0.hasSuffix(" " + reference) }.map { String($0.prefix { $0 != " " }) }
    }

    /// An argument before `--` such as `-dash.wav`, an audio file's name (or an existing
    /// file) that starts with a single '-': the parser would take it for the short flags
    /// `-d -a -s -h …`, and `-h` prints the help and exits 0.
    static func fileNameParsedAsFlags(_ arguments: [String]) -> String? {
        for argument in arguments {
            if argument == "--" { return nil }
            guard argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.count > 2,
                  !argument.contains(where: \.isWhitespace), Double(argument) == nil else { continue }
            let fileExtension = (argument as NSString).pathExtension.lowercased()
            if InputList.audioExtensions.contains(fileExtension) || FileManager.default.fileExists(atPath: argument) {
                return argument
            }
        }
        return nil
    }

    /// Runs the command line, mapping usage errors to exit status 2.
    public static func main(arguments: [String]) -> Never {
        if arguments == ["--version"] {
            print(versionText())
            Foundation.exit(0)
        }
        if let name = fileNameParsedAsFlags(arguments) {
            FileHandle.standardError.write(Data("hark: '\(name)' would be read as options; write a file name that starts with '-' as ./\(name), or put it after --\n".utf8))
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch let error as CLIError {
            // Hark's own errors are one line of their own, without the parser's "Error: ".
            FileHandle.standardError.write(Data("hark: \(Console.printable(error.description))\n".utf8))
            Foundation.exit(1)
        } catch {
            let status = exitCode(for: error)
            if status == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = fullMessage(for: error)
            FileHandle.standardError.write(Data(("hark: " + message.trimmingCharacters(in: .whitespacesAndNewlines) + "\n").utf8))
            Foundation.exit(status == .validationFailure ? 2 : status.rawValue)
        }
    }
}
