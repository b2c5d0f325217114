import Foundation

/// Audio that is not a file of its own (a pipe, standard input, bytes in memory), held in a
/// file that has no name: created private (0600, `mkstemp`) and unlinked at once, so no other
/// user can read, replace or redirect it, and the kernel frees it however the process ends
/// (Ctrl-C and kill -9 included), or when the spool is released. It is read through
/// `/proc/PID/fd/N`, which the `ffmpeg` child can open too.
public final class Spool: Sendable {
    /// The most a spool holds: past WAV's own 4-GiB limit, recordings come as files.
    public static let limit = 4 << 30

    /// The path to read the audio from while the spool exists.
    public let path: String
    /// Bytes held.
    public let bytes: Int
    private let descriptor: Int32

    /// Copies everything `source` gives until its end. `name` names the source in errors.
    public convenience init(copying source: Int32, name: String) throws(SpoolError) {
        try self.init(name: name) { descriptor, directory throws(SpoolError) in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            var total = 0
            while true {
                let count = read(source, buffer.baseAddress, buffer.count)
                if count == 0 { return total }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw SpoolError("\(name): cannot be read (\(String(cString: strerror(errno))))")
                }
                try Self.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), to: descriptor, name: name, directory: directory)
                total += count
                guard total <= Spool.limit else { throw SpoolError.tooLarge(name) }
            }
        }
    }

    /// Holds `data`, the bytes of an encoded recording.
    public convenience init(holding data: Data, name: String) throws(SpoolError) {
        guard data.count <= Self.limit else { throw SpoolError.tooLarge(name) }
        try self.init(name: name) { descriptor, directory throws(SpoolError) in
            var result: Result<Void, SpoolError> = .success(())
            data.withUnsafeBytes { bytes in
                do throws(SpoolError) { try Self.write(bytes, to: descriptor, name: name, directory: directory) } catch {
                    result = .failure(error)
                }
            }
            try result.get()
            return data.count
        }
    }

    private init(name: String, fill: (Int32, String) throws(SpoolError) -> Int) throws(SpoolError) {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((directory + "/hark-spool-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard descriptor >= 0 else {
            throw SpoolError("\(name): cannot be held in \(directory) (\(String(cString: strerror(errno))))")
        }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        _ = template.withUnsafeBufferPointer { buffer in buffer.baseAddress.map { unlink($0) } }
        do {
            bytes = try fill(descriptor, directory)
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        path = "/proc/\(getpid())/fd/\(descriptor)"
    }

    deinit { close(descriptor) }

    private static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, name: String,
                              directory: String) throws(SpoolError) {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw SpoolError("\(name): cannot be held in \(directory) (\(String(cString: strerror(errno))))")
            }
            offset += written
        }
    }
}

/// Audio could not be spooled: one line naming the source and the reason.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }

    static func tooLarge(_ name: String) -> SpoolError {
        SpoolError("\(name): more than \(Spool.limit >> 30) GiB of audio; give a recording that large as a file")
    }
}
