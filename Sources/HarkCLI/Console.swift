import Foundation
import Hark
import Synchronization

/// Standard error: status lines unless quiet, errors always, progress only on a terminal.
struct Console {
    let quiet: Bool
    let isTerminal = isatty(STDERR_FILENO) == 1

    func status(_ line: String) {
        guard !quiet else { return }
        write(Console.printable(line) + "\n")
    }

    func error(_ line: String) {
        write("hark: " + Console.printable(line) + "\n")
    }

    /// `line` with control characters (a newline in a file name, say) written as escapes, so
    /// that a message stays one line and cannot move the terminal's cursor.
    static func printable(_ line: String) -> String {
        guard line.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return line }
        return String(line.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }.joined())
    }

    func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A one-line progress display: percent of audio done and the time left, redrawn in place
/// four times a second. Between 30-second windows the position is interpolated from the
/// speed so far (never past the window being decoded), so the ETA moves smoothly.
/// `@unchecked`: the timer is set once in `init` and only cancelled after; all drawing state is behind a Mutex.
final class ProgressLine: @unchecked Sendable {
    private struct State {
        var fraction = 0.0
        var updated = Date()
        var duration = 0.0
        var drawn = false
        var finished = false
    }

    private let console: Console
    private let name: String
    private let started = Date()
    private let state = Mutex(State())
    private let timer: DispatchSourceTimer?

    init(console: Console, name: String) {
        self.console = console
        self.name = name
        if console.isTerminal && !console.quiet {
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
            timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
            self.timer = timer
        } else {
            timer = nil
        }
        timer?.setEventHandler { [weak self] in self?.draw() }
        timer?.resume()
    }

    func update(_ progress: TranscriptionProgress) {
        state.withLock {
            $0.fraction = progress.fraction
            $0.duration = progress.duration
            $0.updated = Date()
        }
        draw()
    }

    /// Prints `line` (a status line such as a segment with `--verbose`) on a line of its own
    /// above the progress display, which the next redraw puts back.
    func above(_ line: String) {
        state.withLock { state in
            if state.drawn && !state.finished { console.write("\r\u{1B}[K") }
            console.status(line)
        }
    }

    private func draw() {
        guard console.isTerminal, !console.quiet else { return }
        state.withLock { state in
            guard !state.finished, state.duration > 0 else { return }
            let now = Date()
            let elapsed = now.timeIntervalSince(started)
            let rate = state.fraction > 0 ? state.fraction / max(state.updated.timeIntervalSince(started), 1e-3) : 0
            let window = 30 / state.duration
            let estimate = min(state.fraction + rate * now.timeIntervalSince(state.updated), state.fraction + window, 1)
            let remaining = rate > 0 ? (1 - estimate) / rate : 0
            state.drawn = true
            // Written under the lock, so that a line printed `above` never lands inside it.
            console.write(String(format: "\r%@: %3.0f%% of %@, %@ elapsed, about %@ left \u{1B}[K", name, estimate * 100,
                                 Self.clock(state.duration), Self.clock(elapsed), rate > 0 ? Self.clock(remaining) : "?"))
        }
    }

    /// `M:SS` or `H:MM:SS`.
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }

    func finish() {
        timer?.cancel()
        let clear = state.withLock { state -> Bool in
            defer { state.finished = true }
            return state.drawn && !state.finished
        }
        if clear { console.write("\r\u{1B}[K") }
    }
}
