import Foundation
import HarkTranscription

/// Standard error: status lines unless quiet, errors always, progress only on a terminal.
struct Console {
    let quiet: Bool
    let isTerminal = isatty(STDERR_FILENO) == 1

    func status(_ line: String) {
        guard !quiet else { return }
        write(line + "\n")
    }

    func error(_ line: String) {
        write("hark: " + line + "\n")
    }

    func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A one-line progress display: percent of audio done and the time left, redrawn in place.
final class ProgressLine {
    private let console: Console
    private let name: String
    private let started = Date()
    private var drawn = false

    init(console: Console, name: String) {
        self.console = console
        self.name = name
    }

    func update(_ progress: TranscriptionProgress) {
        guard console.isTerminal, !console.quiet else { return }
        let elapsed = Date().timeIntervalSince(started)
        let fraction = progress.fraction
        let remaining = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let line = String(format: "\r%@: %3.0f%% of %@, about %@ left ", name, fraction * 100,
                          TranscriptFormat.clockString(progress.duration), TranscriptFormat.clockString(remaining))
        console.write(line + "\u{1B}[K")
        drawn = true
    }

    func finish() {
        if drawn { console.write("\r\u{1B}[K") }
    }
}
