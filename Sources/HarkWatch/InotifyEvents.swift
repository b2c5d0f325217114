#if os(Linux)
import Foundation
import Glibc

/// Linux inotify: a file closed after writing (`IN_CLOSE_WRITE`) or moved into place
/// (`IN_MOVED_TO`), new subfolders in recursive mode (watched at once, then scanned, since files
/// may land before the watch exists), and `IN_Q_OVERFLOW`, which asks for a full rescan.
public final class InotifyEvents: FileEvents, @unchecked Sendable {
    public let name = "inotify"
    private let filter: FileFilter
    private let recursive: Bool
    private let queue = DispatchQueue(label: "hark.watch.inotify")
    // Everything below is touched only on `queue`.
    private var descriptor: Int32 = -1
    private var source: DispatchSourceRead?
    private var directories: [Int32: String] = [:]
    private var handler: (@Sendable (FileEvent) -> Void)?
    private var warnedAboutLimit = false

    private static let directoryMask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE)
        | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR)

    public init(filter: FileFilter, recursive: Bool) {
        self.filter = filter
        self.recursive = recursive
    }

    /// The number of folders watched.
    public var watchCount: Int { queue.sync { directories.count } }

    public func start(_ handler: @escaping @Sendable (FileEvent) -> Void) throws(FileEventsError) {
        let result: Result<Void, FileEventsError> = queue.sync {
            guard source == nil else { return .success(()) }
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard fd >= 0 else {
                return .failure(FileEventsError("inotify unavailable: \(String(cString: strerror(errno)))"))
            }
            descriptor = fd
            self.handler = handler
            guard addWatch(filter.root) else {
                let reason = String(cString: strerror(errno))
                close(fd)
                descriptor = -1
                return .failure(FileEventsError("cannot watch \(filter.root): \(reason)"))
            }
            if recursive { addWatches(under: filter.root) }
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setEventHandler { [weak self] in self?.drain() }
            source.setCancelHandler { close(fd) }
            self.source = source
            source.resume()
            return .success(())
        }
        try result.get()
    }

    public func stop() {
        queue.sync {
            source?.cancel()
            source = nil
            handler = nil
            directories.removeAll()
            descriptor = -1
        }
    }

    public func resync() {
        queue.async { [self] in
            guard source != nil else { return }
            if !directories.values.contains(filter.root) && addWatch(filter.root) {
                handler?(.warning("the watched folder is back; inotify watches it again"))
            }
            if recursive { addWatches(under: filter.root) }
        }
    }

    @discardableResult
    private func addWatch(_ directory: String) -> Bool {
        let wd = inotify_add_watch(descriptor, directory, Self.directoryMask)
        guard wd >= 0 else {
            if errno == ENOSPC && !warnedAboutLimit {
                warnedAboutLimit = true
                handler?(.warning("inotify watch limit reached (fs.inotify.max_user_watches); folders beyond it are found by the periodic rescan"))
            }
            return false
        }
        directories[wd] = directory
        return true
    }

    private func addWatches(under directory: String) {
        addWatches(under: directory, watched: Set(directories.values))
    }

    private func addWatches(under directory: String, watched: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            let path = directory + "/" + name
            guard let info = FileInfo.lstat(path), info.isDirectory, filter.acceptsDirectory(path) else { continue }
            if watched.contains(path) || addWatch(path) { addWatches(under: path, watched: watched) }
        }
    }

    private func drain() {
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        let header = MemoryLayout<inotify_event>.size
        while descriptor >= 0 {
            let count = read(descriptor, buffer, size)
            if count <= 0 { return }
            var offset = 0
            while offset + header <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                var name = ""
                if event.len > 0 {
                    let start = (buffer + offset + header).assumingMemoryBound(to: CChar.self)
                    name = String(cString: start)
                }
                handle(wd: event.wd, mask: event.mask, name: name)
                offset += header + Int(event.len)
            }
        }
    }

    private func handle(wd: Int32, mask: UInt32, name: String) {
        guard let handler else { return }
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            handler(.rescan(reason: "inotify queue overflow"))
            return
        }
        guard let directory = directories[wd] else { return }
        if mask & UInt32(IN_IGNORED) != 0 {
            directories[wd] = nil
            if directory == filter.root { handler(.rescan(reason: "the watched folder was removed or unmounted")) }
            return
        }
        if mask & (UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)) != 0 {
            if directory == filter.root {
                handler(.warning("the watched folder was moved or deleted; inotify no longer sees it, rescans continue"))
            } else {
                inotify_rm_watch(descriptor, wd)
                directories[wd] = nil
            }
            return
        }
        guard !name.isEmpty else { return }
        let path = directory + "/" + name
        if mask & UInt32(IN_ISDIR) != 0 {
            if recursive, mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0, filter.acceptsDirectory(path) {
                if addWatch(path) { addWatches(under: path) }
                handler(.scan(directory: path))
            }
            return
        }
        if mask & (UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)) != 0 && filter.accepts(path) {
            handler(.changed(path: path))
        }
    }
}
#endif
