import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file operations installing needs, with errno kept (a full disk is reported as such).
enum Files {
    /// `$HOME`, else the account's home directory.
    static func home(_ environment: [String: String]) -> URL {
        URL(fileURLWithPath: environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory())
    }

    static func createDirectory(_ url: URL) throws(FetchError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
            if let code = underlying, code.domain == NSPOSIXErrorDomain { throw .writing(url.path, errno: Int32(code.code)) }
            throw .cannotCreate(path: url.path, detail: (error as NSError).localizedDescription)
        }
    }

    /// A new directory `<parent>/<prefix>XXXXXX`.
    static func temporaryDirectory(in parent: URL, prefix: String) throws(FetchError) -> URL {
        var template = Array((parent.appendingPathComponent(prefix).path + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        guard let made else { throw .writing(parent.path, errno: errno) }
        return URL(fileURLWithPath: made)
    }

    /// Flushes a directory's entries (a rename in it) to the disk.
    static func sync(directory: URL) throws(FetchError) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .file(path: directory.path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .writing(directory.path, errno: errno) }
    }

    /// "78.1 MB".
    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MB", Double(bytes) / 1e6)
    }

    /// A new file open for writing (it must not exist yet).
    final class Output {
        let path: String
        private var fd: Int32

        init(path: String) throws(FetchError) {
            self.path = path
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .writing(path, errno: errno) }
        }

        deinit { if fd >= 0 { _ = systemClose(fd) } }

        func write(_ bytes: UnsafeRawBufferPointer) throws(FetchError) {
            var done = 0
            while done < bytes.count {
                guard let base = bytes.baseAddress else { return }
                let count = systemWrite(fd, base + done, bytes.count - done)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw .writing(path, errno: errno)
                }
                done += count
            }
        }

        func write(_ data: Data) throws(FetchError) {
            // Data.withUnsafeBytes rethrows untyped; carry the error out instead.
            let failure: FetchError? = data.withUnsafeBytes { bytes in
                do throws(FetchError) { try write(bytes) } catch { return error }
                return nil
            }
            if let failure { throw failure }
        }

        func sync() throws(FetchError) {
            guard fsync(fd) == 0 else { throw .writing(path, errno: errno) }
        }

        /// Closes the file; a delayed write error (NFS, quota) shows here.
        func close() throws(FetchError) {
            let status = systemClose(fd)
            fd = -1
            guard status == 0 else { throw .writing(path, errno: errno) }
        }
    }
}

// The free functions, under names the methods of `Output` do not shadow.
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
