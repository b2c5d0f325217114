package import Foundation

/// A file could not be written.
package struct FileWriteError: Error, CustomStringConvertible, Sendable {
    package let path: String
    package let reason: String
    package var description: String { "\(path): cannot write (\(reason))" }
}

/// Permissions a written file must not exceed.
package struct FilePermissions: Sendable, Equatable {
    /// The permission bits allowed (also limited by the umask).
    package var mode: mode_t
    /// The group the file should have; when it cannot be given, the file gets no group bits.
    package var group: gid_t?

    package init(mode: mode_t, group: gid_t?) {
        self.mode = mode
        self.group = group
    }
}

/// Writes files so that readers see the old content or the new, never a half-written file:
/// temporary files beside the targets, flushed to disk, then renamed over them (or linked to
/// their names, when an existing file must not be replaced).
package enum AtomicFile {
    /// Replaces `url` with `text` atomically; with `permissions`, the file is restricted to them
    /// before it appears under its name.
    package static func write(_ text: String, to url: URL, permissions: FilePermissions? = nil) throws(FileWriteError) {
        try write([(text, url)], replacing: true, permissions: permissions)
    }

    /// Writes every file, or none: all the temporaries are written and flushed before the
    /// first takes its name, and a failure on the way (a full disk, say) removes them all.
    /// With `replacing` false an existing file (or a symbolic link, dangling or not) at a
    /// target is an error, checked by the kernel as the file takes its name (`link(2)`), so
    /// two writers racing for one name cannot both win; the files this call had already
    /// placed are then removed again.
    package static func write(_ files: [(text: String, url: URL)], replacing: Bool,
                             permissions: FilePermissions? = nil) throws(FileWriteError) {
        var temporaries: [String] = []
        defer { for temporary in temporaries { unlink(temporary) } }
        for (text, url) in files {
            let temporary = url.deletingLastPathComponent().appendingPathComponent(temporaryName(for: url.lastPathComponent)).path
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
            temporaries.append(temporary)
            if let permissions, let failure = restrict(fd, to: permissions) {
                close(fd)
                throw FileWriteError(path: url.path, reason: failure)
            }
            if let failure = writeAll(Data(text.utf8), to: fd) { throw FileWriteError(path: url.path, reason: failure) }
        }
        var placed: [String] = []
        for ((_, url), temporary) in zip(files, temporaries) {
            let status = replacing ? rename(temporary, url.path) : link(temporary, url.path)
            guard status == 0 else {
                let reason = errno == EEXIST ? "it exists" : String(cString: strerror(errno))
                if !replacing { for path in placed { unlink(path) } }
                throw FileWriteError(path: url.path, reason: reason)
            }
            placed.append(url.path)
        }
    }

    /// Writes `data` to `fd`, flushes it to disk and closes it; returns the failure, if any.
    private static func writeAll(_ data: Data, to fd: Int32) -> String? {
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { failure = String(cString: strerror(errno)); return }
                offset += written
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        return failure
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

    /// The longest file name Linux file systems take.
    private static let maximumNameBytes = 255
    /// What a temporary name adds to the target's: a dot, `.UUID` and `.tmp`.
    private static let temporaryOverhead = 1 + 37 + 4

    /// `.<name>.<UUID>.tmp`, with the name shortened (at a character boundary) when the whole
    /// would be longer than a file name may be.
    static func temporaryName(for name: String) -> String {
        "." + shortened(name) + "." + UUID().uuidString + ".tmp"
    }

    /// Whether `candidate` is a temporary file name that ``write(_:to:)`` makes for `name`.
    package static func isTemporary(_ candidate: String, for name: String) -> Bool {
        let prefix = "." + shortened(name) + "."
        guard candidate.hasPrefix(prefix), candidate.hasSuffix(".tmp") else { return false }
        return UUID(uuidString: String(candidate.dropFirst(prefix.count).dropLast(4))) != nil
    }

    private static func shortened(_ name: String) -> String {
        var result = Substring(name)
        while result.utf8.count > maximumNameBytes - temporaryOverhead { result = result.dropLast() }
        return String(result)
    }
}
