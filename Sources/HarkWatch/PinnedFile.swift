import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A recording opened for transcription: exactly the file the watcher saw and hashed.
///
/// The path is opened without following a symbolic link, and the open file must have the stamp
/// the watcher took (inode, size, times), so a file swapped for a link or another file after it
/// was checked is never read. On Linux the engine then reads it through a symbolic link in a
/// private folder (mode 0700) to `/proc/PID/fd/N`, which names this open file rather than a path
/// (a decoder process such as ffmpeg can open it too) and keeps the recording's name, so the
/// decoder still sees its extension.
public final class PinnedFile {
    /// The private folders of the files open now, so that a process ending with a
    /// transcription still running (abandoned at a stop) can remove them: it ends without
    /// running deinitializers.
    private static let openFolders = Mutex<Set<String>>([])

    /// Removes the private folders of every file still open (their links and the folders).
    public static func removeOpenFolders() {
        openFolders.withLock { folders in
            for folder in folders {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] { unlink(folder + "/" + name) }
                rmdir(folder)
            }
            folders.removeAll()
        }
    }

    /// The path for the engine.
    let path: String
    private let descriptor: Int32
    private let folder: String?

    /// Opens `original`; fails with `fileVanished` when nothing or a link is there, and with a
    /// plain failure when another file is (the watcher then sees that the file changed).
    init(_ original: String, stamp: FileStamp) throws(EngineFailure) {
        let fd = open(original, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let error = errno
            throw EngineFailure(reason: "\(original): cannot open (\(String(cString: strerror(error))))",
                                fileVanished: error == ENOENT || error == ELOOP)
        }
        guard let info = FileInfo.fstat(fd), info.isRegularFile, info.stamp == stamp else {
            close(fd)
            throw EngineFailure(reason: "\(original): replaced or changed before it could be read")
        }
        #if os(Linux)
        var template = Array((FileManager.default.temporaryDirectory.path + "/hark-read-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkdtemp($0) } ?? nil }
        guard created != nil else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw EngineFailure(reason: "cannot make a private folder to read \(original) from (\(reason))")
        }
        let folder = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let alias = folder + "/" + (original as NSString).lastPathComponent
        guard symlink("/proc/\(getpid())/fd/\(fd)", alias) == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(folder)
            close(fd)
            throw EngineFailure(reason: "cannot prepare \(original) for reading (\(reason))")
        }
        path = alias
        self.folder = folder
        PinnedFile.openFolders.withLock { _ = $0.insert(folder) }
        #else
        path = original
        folder = nil
        #endif
        descriptor = fd
    }

    deinit {
        if let folder {
            unlink(path)
            rmdir(folder)
            PinnedFile.openFolders.withLock { _ = $0.remove(folder) }
        }
        close(descriptor)
    }
}
