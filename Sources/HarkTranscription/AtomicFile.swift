import Foundation

/// A file could not be written.
public struct FileWriteError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot write (\(reason))" }
}

/// Permissions a written file must not exceed.
public struct FilePermissions: Sendable, Equatable {
    /// The permission bits allowed (also limited by the umask).
    public var mode: mode_t
    /// The group the file should have; when it cannot be given, the file gets no group bits.
    public var group: gid_t?

    public init(mode: mode_t, group: gid_t?) {
        self.mode = mode
        self.group = group
    }
}

/// Writes files so that readers see the old content or the new, never a half-written file:
/// a temporary file beside the target, flushed to disk, then renamed over it.
public enum AtomicFile {
    /// Replaces `url` with `text` atomically; with `permissions`, the file is restricted to them
    /// before it appears under its name.
    public static func write(_ text: String, to url: URL, permissions: FilePermissions? = nil) throws(FileWriteError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let data = Data(text.utf8)
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
        var failure: String?
        if let permissions { failure = restrict(fd, to: permissions) }
        if failure == nil { data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if written <= 0 { failure = String(cString: strerror(errno)); return }
                offset += written
            }
        } }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil && rename(temporary.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary.path)
            throw FileWriteError(path: url.path, reason: failure)
        }
    }

    /// Narrows an open file's mode to `permissions`; the reason when it cannot.
    private static func restrict(_ fd: Int32, to permissions: FilePermissions) -> String? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return String(cString: strerror(errno)) }
        var mode = info.st_mode & 0o777 & permissions.mode
        // Group bits are for the recording's group only (another group may hold other people).
        if let group = permissions.group, info.st_gid != group, fchown(fd, uid_t.max, group) != 0 { mode &= ~0o070 }
        return fchmod(fd, mode) == 0 ? nil : String(cString: strerror(errno))
    }
}
