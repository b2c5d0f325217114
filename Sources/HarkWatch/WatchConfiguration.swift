import Foundation
import Hark

/// Everything `hark watch` can be told, with the documented defaults.
public struct WatchConfiguration: Sendable {
    /// The watched folder.
    public var folder: URL
    /// Where the ledger and lock live; `DIR/.hark` when `nil`.
    public var stateDirectory: URL?
    /// Where transcripts go; next to each recording when `nil`.
    public var outputDirectory: URL?
    public var formats: [TranscriptFormat] = [.txt, .json]
    public var extensions: [String] = FileFilter.defaultExtensions
    /// Watch subfolders too.
    public var recursive = false
    /// Seconds a file's size and times must stay unchanged before it is taken.
    public var settle: TimeInterval = 2
    /// Seconds between full rescans (they catch whatever events missed).
    public var rescanInterval: TimeInterval = 60
    /// Transcription attempts per recording before it is left failed.
    public var maxAttempts = 3
    /// Times a recording may be interrupted mid-transcription (the watcher killed or crashed)
    /// before it is given up. Far above `maxAttempts`: an interruption is rarely the file's
    /// fault, but a file that crashes the process every time must not do so forever.
    public var maxInterruptions = 50
    /// The wait before the first retry; each further retry waits four times longer (at most an hour).
    public var retryDelay: TimeInterval = 30
    /// Concurrent transcriptions.
    public var jobs = 1
    /// Process the backlog and return.
    public var once = false
    /// Seconds a stop request waits for running transcriptions before abandoning them.
    public var grace: TimeInterval = 10

    public init(folder: URL) {
        self.folder = folder
    }

    /// The accepted range of each numeric option, in seconds (or a count). `hark watch`
    /// refuses values outside them, nan and infinity included: an unbounded wait would overflow
    /// the conversion to a sleep (a crash at the first stop) or never end.
    public enum Limits {
        public static let settle: ClosedRange<Double> = 0...3600
        public static let rescan: ClosedRange<Double> = 0.1...86400
        public static let pollInterval: ClosedRange<Double> = 0.1...3600
        public static let retryDelay: ClosedRange<Double> = 0...3600
        public static let grace: ClosedRange<Double> = 0...3600
        public static let jobs: ClosedRange<Int> = 1...64
        public static let maxAttempts: ClosedRange<Int> = 1...100
        public static let last: ClosedRange<Int> = 0...10000
    }

    /// Nanoseconds for a sleep of `seconds`, clamped to 0...1 day (nan counts as 0), so that a
    /// value from outside the CLI's checks can never trap in the conversion.
    static func nanoseconds(_ seconds: TimeInterval) -> UInt64 {
        guard seconds > 0 else { return 0 }
        return UInt64(min(seconds, 86400) * 1e9)
    }

    /// The watched folder as an absolute, standardised path.
    public var root: String { FileFilter.standardize(folder.path) }

    public var effectiveStateDirectory: URL {
        stateDirectory ?? URL(fileURLWithPath: root).appendingPathComponent(".hark")
    }

    public var ledgerURL: URL { effectiveStateDirectory.appendingPathComponent("ledger.sqlite") }

    /// The wait after the `attempt`-th failed attempt.
    public func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(retryDelay * pow(4, Double(max(0, attempt - 1))), 3600)
    }

    /// How often tracked files are looked at again.
    public var tickInterval: TimeInterval { max(0.05, min(0.5, settle / 4)) }

    /// The recording filter: state and output folders excluded.
    public var filter: FileFilter {
        var excluded = [effectiveStateDirectory.path]
        if let outputDirectory { excluded.append(outputDirectory.path) }
        return FileFilter(root: root, extensions: extensions, excludedDirectories: excluded)
    }

    public var writer: OutputWriter {
        OutputWriter(root: root, outputDirectory: outputDirectory?.path, formats: formats)
    }
}
