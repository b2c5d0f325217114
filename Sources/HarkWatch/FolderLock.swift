import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One watcher per folder: an exclusive `flock` on `watch.lock` in the state folder, held for
/// the process's life and released by the kernel however it ends (kill -9 included).
public final class FolderLock: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Takes the lock or says which process holds it.
    public init(stateDirectory: URL) throws(WatchError) {
        do {
            try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw .stateDirectory(path: stateDirectory.path, reason: (error as NSError).localizedDescription)
        }
        path = stateDirectory.appendingPathComponent("watch.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .stateDirectory(path: path, reason: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &buffer, buffer.count)
            close(fd)
            let pid = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw .alreadyWatched(path: stateDirectory.deletingLastPathComponent().path, pid: pid)
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}

/// Why the watcher cannot start.
public enum WatchError: Error, Sendable, CustomStringConvertible {
    case folderNotFound(String)
    case stateDirectory(path: String, reason: String)
    case alreadyWatched(path: String, pid: String)

    public var description: String {
        switch self {
        case .folderNotFound(let path): return "\(path): no such folder"
        case .stateDirectory(let path, let reason):
            return "\(path): cannot use the state folder (\(reason)); choose another with --state-dir"
        case .alreadyWatched(let path, let pid):
            return "\(path) is already being watched by process \(pid); stop it first (one watcher per folder)"
        }
    }
}
