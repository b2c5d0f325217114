import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `hark watch status` shows: counts per state, what failed and why, what is in progress,
/// and the last recordings done.
public struct WatchStatus: Sendable {
    public var folder: String
    public var ledgerPath: String
    public var counts: [RecordingState: Int]
    public var failed: [Recording]
    public var processing: [Recording]
    public var pending: [Recording]
    public var lastDone: [Recording]
    /// The process id of a watcher holding the folder, when one is running.
    public var watcherPID: Int32?

    public init(ledger: Ledger, folder: String, stateDirectory: URL, last: Int) throws {
        self.folder = folder
        ledgerPath = ledger.url.path
        counts = try ledger.counts()
        failed = try ledger.recordings(in: .failed).sorted { ($0.finishedAt ?? .distantPast) > ($1.finishedAt ?? .distantPast) }
        processing = try ledger.recordings(in: .processing)
        pending = try ledger.recordings(in: .pending)
        lastDone = try ledger.lastDone(limit: max(0, last))
        watcherPID = WatchStatus.runningWatcher(stateDirectory: stateDirectory)
    }

    /// The pid written in `watch.lock`, if that process is alive.
    static func runningWatcher(stateDirectory: URL) -> Int32? {
        let path = stateDirectory.appendingPathComponent("watch.lock").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        return kill(pid, 0) == 0 || errno == EPERM ? pid : nil
    }

    public func text(now: Date = Date()) -> String {
        var lines: [String] = []
        lines.append("folder   \(folder)")
        lines.append("ledger   \(ledgerPath)")
        lines.append("watcher  \(watcherPID.map { "running (pid \($0))" } ?? "not running")")
        lines.append(RecordingState.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: "   "))
        if !failed.isEmpty {
            lines.append("")
            lines.append("failed:")
            for row in failed {
                let triedOrInterrupted = row.attempts > 0 || row.interruptions > 0
                let retry = row.nextAttemptAt.map { "retry at \(Self.clock($0))" } ?? (triedOrInterrupted ? "gave up" : "retried when the file changes")
                var tries = "\(row.attempts) attempt\(row.attempts == 1 ? "" : "s")"
                if row.interruptions > 0 { tries += ", interrupted \(row.interruptions)×" }
                lines.append("  \(row.path)  (\(tries), \(retry))")
                lines.append("    \(row.lastError ?? "unknown error")")
            }
        }
        if !processing.isEmpty {
            lines.append("")
            lines.append("processing:")
            for row in processing {
                lines.append("  \(row.path)  (since \(row.startedAt.map(Self.clock) ?? "?"), attempt \(row.attempts))")
            }
        }
        if !pending.isEmpty {
            lines.append("")
            lines.append("pending:")
            for row in pending.prefix(20) { lines.append("  \(row.path)") }
            if pending.count > 20 { lines.append("  … and \(pending.count - 20) more") }
        }
        if !lastDone.isEmpty {
            lines.append("")
            lines.append("last \(lastDone.count) done:")
            for row in lastDone {
                var detail = ""
                if let audio = row.audioSeconds, let seconds = row.transcriptionSeconds {
                    detail = String(format: "  %.1f s of audio in %.1f s (%.1f× real time)", audio, seconds, row.speed ?? 0)
                }
                lines.append("  \(row.finishedAt.map(Self.clock) ?? "?")  \(row.path)\(detail)")
                if !row.outputs.isEmpty { lines.append("    → \(row.outputs.joined(separator: ", "))") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func json() -> String {
        func recording(_ row: Recording) -> [String: Any] {
            var object: [String: Any] = ["path": row.path, "sha256": row.sha256, "state": row.state.rawValue,
                                         "attempts": row.attempts, "interruptions": row.interruptions, "size": row.size]
            if let error = row.lastError { object["error"] = error }
            if let next = row.nextAttemptAt { object["next_attempt_at"] = Self.iso(next) }
            if !row.outputs.isEmpty { object["outputs"] = row.outputs }
            if let model = row.model { object["model"] = model }
            if let type = row.computeType { object["compute_type"] = type }
            if let audio = row.audioSeconds { object["audio_seconds"] = audio }
            if let seconds = row.transcriptionSeconds { object["transcription_seconds"] = seconds }
            if let started = row.startedAt { object["started_at"] = Self.iso(started) }
            if let finished = row.finishedAt { object["finished_at"] = Self.iso(finished) }
            return object
        }
        var object: [String: Any] = [
            "folder": folder, "ledger": ledgerPath,
            "counts": Dictionary(uniqueKeysWithValues: RecordingState.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
            "failed": failed.map(recording), "processing": processing.map(recording),
            "pending": pending.map(recording), "last_done": lastDone.map(recording),
        ]
        if let watcherPID { object["watcher_pid"] = Int(watcherPID) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func clock(_ date: Date) -> String {
        String(LogTime.string(date).prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    static func iso(_ date: Date) -> String { LogTime.string(date) }
}
