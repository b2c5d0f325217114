import Foundation

/// Something happened in the watched folder.
public enum FileEvent: Sendable, Equatable {
    /// A file was closed after writing or moved into place.
    case changed(path: String)
    /// A folder appeared (recursive mode) and should be scanned.
    case scan(directory: String)
    /// Events may have been lost (queue overflow, watch limits); scan everything.
    case rescan(reason: String)
    /// Something the user should know (a watch could not be added, …).
    case warning(String)
}

/// A source of file events for one folder. Events are hints: the watcher always re-checks the
/// file itself and rescans periodically, so a source may drop or repeat events.
public protocol FileEvents: AnyObject, Sendable {
    /// A short name for logs ("inotify", "poll").
    var name: String { get }
    /// Starts delivering events to `handler`, on any thread.
    func start(_ handler: @escaping @Sendable (FileEvent) -> Void) throws(FileEventsError)
    /// Stops delivering events; idempotent.
    func stop()
    /// Called after each full rescan: re-establishes what may have been lost (a watch on a
    /// folder that was removed and recreated, folders beyond a watch limit).
    func resync()
}

extension FileEvents {
    public func resync() {}
}

/// A file event source could not be started.
public struct FileEventsError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Polls the folder: a scan every `interval` seconds, reporting new and changed files. Works on
/// every platform and filesystem (network mounts, FUSE, containers with no inotify).
public final class PollingEvents: FileEvents, @unchecked Sendable {
    public let name = "poll"
    private let scanner: FolderScanner
    private let interval: TimeInterval
    private let queue = DispatchQueue(label: "hark.watch.poll")
    // Touched only on `queue`.
    private var timer: DispatchSourceTimer?
    private var previous: [String: FileStamp]?

    public init(scanner: FolderScanner, interval: TimeInterval) {
        self.scanner = scanner
        self.interval = interval.isNaN ? 2 : min(max(0.05, interval), 3600)
    }

    public func start(_ handler: @escaping @Sendable (FileEvent) -> Void) throws(FileEventsError) {
        queue.sync {
            guard timer == nil else { return }
            previous = try? scanner.scan().files
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(10))
            timer.setEventHandler { [weak self] in self?.poll(handler) }
            self.timer = timer
            timer.resume()
        }
    }

    public func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
    }

    private func poll(_ handler: @Sendable (FileEvent) -> Void) {
        guard timer != nil, let files = try? scanner.scan().files else { return }
        let before = previous ?? [:]
        previous = files
        for (path, stamp) in files.sorted(by: { $0.key < $1.key }) where before[path] != stamp {
            handler(.changed(path: path))
        }
    }
}
