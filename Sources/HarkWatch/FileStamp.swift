import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `stat` says about a regular file: enough to notice any write, truncation or replacement.
///
/// Two stamps are equal only when size, modification and change times (nanoseconds), inode and
/// device all agree, so a file replaced by a rename (which keeps size and mtime, as `rsync -t`
/// does) still counts as changed.
public struct FileStamp: Sendable, Hashable, Codable, CustomStringConvertible {
    public var size: Int64
    /// Modification time, nanoseconds since 1970.
    public var modified: Int64
    /// Status-change time, nanoseconds since 1970.
    public var changed: Int64
    public var inode: UInt64
    public var device: UInt64

    public init(size: Int64, modified: Int64, changed: Int64 = 0, inode: UInt64 = 0, device: UInt64 = 0) {
        self.size = size
        self.modified = modified
        self.changed = changed
        self.inode = inode
        self.device = device
    }

    /// Whether two stamps are of the same file, possibly renamed (a rename changes only ctime).
    public func isSameFile(as other: FileStamp) -> Bool {
        inode == other.inode && device == other.device && size == other.size && modified == other.modified
    }

    /// The modification time as a date.
    public var modificationDate: Date { Date(timeIntervalSince1970: Double(modified) / 1e9) }

    public var description: String { "\(size) bytes, mtime \(modificationDate)" }

    /// The stamp of the regular file at `path`, or `nil` when nothing is there or it is not a
    /// regular file. Symbolic links are not followed: to the watcher a link is not a recording
    /// (in a shared folder it could point at a file its maker cannot read).
    public static func of(_ path: String) -> FileStamp? {
        guard let info = FileInfo.lstat(path), info.isRegularFile else { return nil }
        return info.stamp
    }
}

/// The parts of `stat`/`lstat` the watcher uses.
struct FileInfo {
    var stamp: FileStamp
    var isRegularFile: Bool
    var isDirectory: Bool
    var isSymbolicLink: Bool
    /// Permission bits (`0o7777`).
    var permissions: mode_t
    var group: gid_t

    static func lstat(_ path: String) -> FileInfo? {
        var info = stat()
        guard systemLstat(path, &info) == 0 else { return nil }
        return FileInfo(info)
    }

    /// What `fstat` says about an open file.
    static func fstat(_ descriptor: Int32) -> FileInfo? {
        var info = stat()
        guard systemFstat(descriptor, &info) == 0 else { return nil }
        return FileInfo(info)
    }

    init(_ info: stat) {
        #if canImport(Glibc)
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        #else
        let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        let changed = Int64(info.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(info.st_ctimespec.tv_nsec)
        #endif
        let type = info.st_mode & S_IFMT
        stamp = FileStamp(size: Int64(info.st_size), modified: modified, changed: changed,
                          inode: UInt64(info.st_ino), device: UInt64(info.st_dev))
        isRegularFile = type == S_IFREG
        isDirectory = type == S_IFDIR
        isSymbolicLink = type == S_IFLNK
        permissions = info.st_mode & 0o7777
        group = info.st_gid
    }
}

private func systemLstat(_ path: String, _ info: inout stat) -> Int32 { lstat(path, &info) }
private func systemFstat(_ descriptor: Int32, _ info: inout stat) -> Int32 { fstat(descriptor, &info) }
