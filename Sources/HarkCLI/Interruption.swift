import Foundation
import HarkTranscription

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
}
