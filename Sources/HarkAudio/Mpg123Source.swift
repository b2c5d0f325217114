import CMpg123
import Foundation

/// Interleaved float frames of an MPEG audio file (MP3, MP2), decoded by libmpg123 with the
/// settings libsndfile uses (32-bit float, gapless, no resampling, no stitched streams), so
/// the samples are the ones libsndfile would give, but quietly: libsndfile leaves libmpg123
/// printing its notes and errors about damaged frames on standard error, where they broke
/// `--quiet` and the watcher's JSON log lines.
final class Mpg123Source: FrameSource {
    private let handle: OpaquePointer
    let sampleRate: Int
    let channels: Int
    let frameCount: Int?
    let formatName: String
    private let path: String

    /// Whether a file holds MPEG audio, by its name (`.mp3`, `.mp2`, `.mpga`: libsndfile
    /// would take those for MPEG whatever they hold) or by its first bytes `head`: an ID3v2
    /// tag, or the sync word of an MPEG-1, -2 or -2.5 frame of layer I, II or III (not AAC's
    /// ADTS, whose layer bits are 0).
    static func recognises(path: String, head: [UInt8]) -> Bool {
        // Another container's magic wins over the name (a WAV named .mp3 stays a WAV).
        if ["RIFF", "RF64", "fLaC", "OggS", "FORM", "caff"].contains(where: { head.starts(with: Array($0.utf8)) }) { return false }
        let name = (path as NSString).lastPathComponent.lowercased()
        if [".mp3", ".mp2", ".mp1", ".mpga"].contains(where: name.hasSuffix) { return true }
        if head.starts(with: Array("ID3".utf8)) { return true }
        guard head.count >= 2, head[0] == 0xFF, head[1] & 0xE0 == 0xE0 else { return false }
        return head[1] & 0x18 != 0x08 && head[1] & 0x06 != 0
    }

    /// Opens the file, or returns libmpg123's reason for refusing it.
    static func open(path: String) -> Result<Mpg123Source, SndFileRefusal> {
        guard mpg123_init() == MPG123_OK.rawValue else { return .failure(SndFileRefusal(message: "libmpg123 could not start")) }
        var error: Int32 = 0
        guard let handle = mpg123_new(nil, &error) else {
            return .failure(SndFileRefusal(message: String(cString: mpg123_plain_strerror(error))))
        }
        func fail(_ message: String) -> Result<Mpg123Source, SndFileRefusal> {
            mpg123_close(handle)
            mpg123_delete(handle)
            return .failure(SndFileRefusal(message: message))
        }
        mpg123_param2(handle, Int32(MPG123_REMOVE_FLAGS.rawValue), Int(MPG123_AUTO_RESAMPLE.rawValue), 0)
        let flags = MPG123_QUIET.rawValue | MPG123_FORCE_FLOAT.rawValue | MPG123_GAPLESS.rawValue | MPG123_NO_FRANKENSTEIN.rawValue
        mpg123_param2(handle, Int32(MPG123_ADD_FLAGS.rawValue), Int(flags), 0)
        guard mpg123_open(handle, path) == MPG123_OK.rawValue else { return fail(String(cString: mpg123_strerror(handle))) }
        var rate = 0, channels: Int32 = 0, encoding: Int32 = 0
        guard mpg123_getformat(handle, &rate, &channels, &encoding) == MPG123_OK.rawValue else {
            return fail(String(cString: mpg123_strerror(handle)))
        }
        var length = mpg123_length(handle)
        if length <= 0 {
            guard mpg123_scan(handle) == MPG123_OK.rawValue else { return fail(String(cString: mpg123_strerror(handle))) }
            length = mpg123_length(handle)
        }
        if encoding != Int32(MPG123_ENC_FLOAT_32.rawValue) {
            guard mpg123_format(handle, rate, channels, Int32(MPG123_ENC_FLOAT_32.rawValue)) == MPG123_OK.rawValue else {
                return fail(String(cString: mpg123_strerror(handle)))
            }
        }
        var info = mpg123_frameinfo2()
        let layer = mpg123_info2(handle, &info) == MPG123_OK.rawValue ? Int(info.layer) : 3
        return .success(Mpg123Source(handle: handle, path: path, sampleRate: rate, channels: Int(channels),
                                     frameCount: length >= 0 ? Int(length) : nil, formatName: "MPEG Layer \(layer)"))
    }

    private init(handle: OpaquePointer, path: String, sampleRate: Int, channels: Int, frameCount: Int?, formatName: String) {
        self.handle = handle
        self.path = path
        self.sampleRate = sampleRate
        self.channels = channels
        self.frameCount = frameCount
        self.formatName = formatName
    }

    deinit {
        mpg123_close(handle)
        mpg123_delete(handle)
    }

    func readFrames(max frames: Int) throws(AudioError) -> [Float] {
        var buffer = [Float](repeating: 0, count: frames * channels)
        var done = 0
        let status = buffer.withUnsafeMutableBytes { mpg123_read(handle, $0.baseAddress, $0.count, &done) }
        guard status == MPG123_OK.rawValue || status == MPG123_DONE.rawValue else {
            let reason = status == MPG123_NEW_FORMAT.rawValue ? "the stream changes its format part-way" : String(cString: mpg123_strerror(handle))
            throw .decodingFailed(path: path, detail: reason)
        }
        let samples = done / MemoryLayout<Float>.size
        buffer.removeLast(buffer.count - samples / channels * channels)
        return buffer
    }
}
