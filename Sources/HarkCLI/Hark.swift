import ArgumentParser
import Foundation

/// The `hark` command.
public struct Hark: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hark",
        abstract: "Offline speech transcription with Whisper models, on your own CPU.",
        discussion: """
            Examples:
              hark transcribe note.m4a                 print the text of a voice note
              hark transcribe -f srt,txt -o out/ *.wav write subtitles and text files
            """,
        subcommands: [TranscribeCommand.self, ModelsCommand.self, QuantizeCommand.self, WatchCommand.self,
                      EvalCommand.self, BenchCommand.self])

    public init() {}

    /// Runs the command line, mapping usage errors to exit status 2.
    public static func main(arguments: [String]) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
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
