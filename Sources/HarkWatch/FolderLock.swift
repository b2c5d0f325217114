import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One watcher per folder, whatever its state folder: an exclusive `flock` on the watched
/// folder itself (its directory, opened read-only, so a read-only folder can be watched too),
/// and one on `watch.lock` in the state folder, so that a ledger is used by one watcher at a
/// time. Both are held for the process's life and released by the kernel however it ends
/// (kill -9 included).
public final class FolderLock: Sendable {
    /// The state folder's lock file.
    public let path: String
    private let descriptors: [Int32]

    /// Takes both locks or says which process holds them.
    public init(folder: String, stateDirectory: URL) throws(WatchError) {
        var held: [Int32] = []
        do {
            held.append(contentsOf: try FolderLock.lockFolder(folder, stateDirectory: stateDirectory))
            held.append(try FolderLock.lockStateDirectory(stateDirectory, folder: folder))
        } catch {
            for fd in held { close(fd) }
            throw error
        }
        path = stateDirectory.appendingPathComponent("watch.lock").path
        descriptors = held
    }

    deinit {
        for fd in descriptors { close(fd) }
    }

    /// Locks the folder's directory. Where `flock` on a directory is not supported (NFS and
    /// SMB emulate it with byte-range locks, which need a file open for writing), a lock file
    /// in `DIR/.hark` stands in; a folder where neither works relies on the state folder's lock.
    private static func lockFolder(_ folder: String, stateDirectory: URL) throws(WatchError) -> [Int32] {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { throw .folderNotFound(folder) }
        if fd >= 0 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return [fd] }
            let error = errno
            let holder = error == EWOULDBLOCK ? lockHolder(of: fd) : nil
            close(fd)
            if error == EWOULDBLOCK { throw .alreadyWatched(path: folder, pid: holder.map(String.init) ?? "?") }
        }
        let fallback = URL(fileURLWithPath: folder).appendingPathComponent(".hark/folder.lock")
        guard (try? FileManager.default.createDirectory(at: fallback.deletingLastPathComponent(),
                                                        withIntermediateDirectories: true)) != nil else { return [] }
        let file = open(fallback.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard file >= 0 else { return [] }
        if flock(file, LOCK_EX | LOCK_NB) != 0 {
            let pid = readPID(file)
            close(file)
            throw .alreadyWatched(path: folder, pid: pid)
        }
        writePID(file)
        return [file]
    }

    private static func lockStateDirectory(_ stateDirectory: URL, folder: String) throws(WatchError) -> Int32 {
        do {
            try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw .stateDirectory(path: stateDirectory.path, reason: (error as NSError).localizedDescription)
        }
        let path = stateDirectory.appendingPathComponent("watch.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .stateDirectory(path: path, reason: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            // The folder itself is ours, so the holder watches another folder with this ledger.
            let pid = readPID(fd)
            close(fd)
            throw .stateDirectoryInUse(path: stateDirectory.path, pid: pid)
        }
        writePID(fd)
        return fd
    }

    /// A lock file holds the pid of its holder (`hark watch status` reads it too).
    private static func readPID(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        let text = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return text.isEmpty ? "?" : text
    }

    private static func writePID(_ fd: Int32) {
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// The process holding a `flock` on the file open as `fd`, from `/proc/locks` (Linux), where
    /// a lock reads `1: FLOCK  ADVISORY  WRITE 4242 08:02:1311 0 EOF` (pid, then the device's
    /// major and minor numbers in hex and the inode).
    static func lockHolder(of fd: Int32) -> Int32? {
        var info = stat()
        guard fstat(fd, &info) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let inode = UInt64(info.st_ino)
        let device = UInt64(info.st_dev)
        var sameInode: Int32?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]) else { continue }
            let id = fields[5].split(separator: ":")
            guard id.count == 3, UInt64(id[2]) == inode,
                  let major = UInt64(id[0], radix: 16), let minor = UInt64(id[1], radix: 16) else { continue }
            // glibc's makedev: the low 8 bits of minor, then major, then the rest of minor.
            let encoded = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
            if encoded == device { return pid }
            sameInode = sameInode ?? pid
        }
        return sameInode
    }
}

/// Why the watcher cannot start.
public enum WatchError: Error, Sendable, CustomStringConvertible {
    case folderNotFound(String)
    case stateDirectory(path: String, reason: String)
    case alreadyWatched(path: String, pid: String)
    case stateDirectoryInUse(path: String, pid: String)

    public var description: String {
        switch self {
        case .folderNotFound(let path): return "\(path): no such folder"
        case .stateDirectory(let path, let reason):
            return "\(path): cannot use the state folder (\(reason)); choose another with --state-dir"
        case .alreadyWatched(let path, let pid):
            return "\(path) is already being watched by process \(pid); stop it first (one watcher per folder)"
        case .stateDirectoryInUse(let path, let pid):
            return "\(path) is in use by process \(pid), which watches another folder; give each watched folder its own --state-dir"
        }
    }
}
