import Foundation

/// Decides when a file is complete: it is taken only once its stamp (size, times, inode) has
/// stayed the same for `settle` seconds, so a recording that is still being copied, downloaded
/// or synced is left alone.
///
/// A plain value: the watcher feeds it observations and asks which files are ready, so tests
/// drive it with their own clock.
public struct ReadinessTracker: Sendable {
    /// Seconds a file must stay unchanged.
    public let settle: TimeInterval

    struct Entry: Sendable {
        var stamp: FileStamp
        /// When the current stamp was first seen.
        var since: Date
    }

    private var entries: [String: Entry] = [:]

    public init(settle: TimeInterval) {
        self.settle = max(0, settle)
    }

    /// The files being watched for readiness.
    public var paths: [String] { entries.keys.sorted() }
    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public func contains(_ path: String) -> Bool { entries[path] != nil }
    /// The last stamp seen of each tracked file.
    public var stamps: [String: FileStamp] { entries.mapValues(\.stamp) }

    /// Records what a file looks like now; `nil` means it vanished (or is no longer a file),
    /// which forgets it. A changed stamp restarts its settle time.
    public mutating func observe(_ path: String, stamp: FileStamp?, now: Date) {
        guard let stamp else {
            entries[path] = nil
            return
        }
        if let entry = entries[path], entry.stamp == stamp { return }
        entries[path] = Entry(stamp: stamp, since: now)
    }

    /// Stops tracking a file.
    public mutating func forget(_ path: String) {
        entries[path] = nil
    }

    /// Removes and returns the files whose stamp has not changed for `settle` seconds, oldest first.
    public mutating func takeReady(now: Date) -> [(path: String, stamp: FileStamp)] {
        let ready = entries.filter { now.timeIntervalSince($0.value.since) >= settle }
            .sorted { ($0.value.since, $0.key) < ($1.value.since, $1.key) }
        for (path, _) in ready { entries[path] = nil }
        return ready.map { ($0.key, $0.value.stamp) }
    }

    /// When the next file could become ready, if any is tracked.
    public func nextDeadline() -> Date? {
        entries.values.map { $0.since.addingTimeInterval(settle) }.min()
    }
}
