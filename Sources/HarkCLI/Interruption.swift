import Foundation
import Hark

/// Ctrl-C: the first stops the transcription at the next window (outputs are only ever
/// written whole, so nothing partial is left); a second exits at once.
enum Interruption {
    static let flag = CancellationFlag()

    static func install() {
        signal(SIGINT) { _ in
            if Interruption.flag.isCancelled { _exit(130) }
            Interruption.flag.cancel()
        }
    }

    /// The file to remove when a signal ends the process (see ``removingOnSignal(_:_:)``).
    nonisolated(unsafe) private static var pendingFile: UnsafeMutablePointer<CChar>?

    /// Runs `body`, which writes the file at `path`: Ctrl-C or SIGTERM meanwhile removes the
    /// file and exits at once (status 130 or 143), so no partial file is left behind.
    static func removingOnSignal<Result>(_ path: String, _ body: () throws -> Result) rethrows -> Result {
        pendingFile = strdup(path)
        let handler: @convention(c) (Int32) -> Void = { signal in
            if let file = Interruption.pendingFile { unlink(file) }
            _exit(128 + signal)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        defer {
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            free(pendingFile)
            pendingFile = nil
        }
        return try body()
    }
}
