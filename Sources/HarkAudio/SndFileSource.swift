import CSndFile

/// Interleaved float frames from any format libsndfile reads (WAV, FLAC, OGG Vorbis/Opus,
/// MP3, AIFF, …), at the file's own rate and channel count.
final class SndFileSource: FrameSource {
    private let handle: OpaquePointer
    let sampleRate: Int
    let channels: Int
    let frameCount: Int?
    let formatName: String
    private let path: String

    /// Opens the file, or returns libsndfile's reason for refusing it.
    static func open(path: String) -> Result<SndFileSource, SndFileRefusal> {
        var info = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &info) else {
            return .failure(SndFileRefusal(message: String(cString: sf_strerror(nil))))
        }
        return .success(SndFileSource(handle: handle, info: info, path: path))
    }

    private init(handle: OpaquePointer, info: SF_INFO, path: String) {
        self.handle = handle
        self.path = path
        self.sampleRate = Int(info.samplerate)
        self.channels = Int(info.channels)
        self.frameCount = info.frames >= 0 && info.frames < Int64(Int32.max) * 64 ? Int(info.frames) : nil
        self.formatName = SndFileSource.describe(format: info.format)
        // Integer files read as float are scaled to [-1, 1) (1/32768 for 16-bit), as Whisper does.
        _ = sf_command(handle, Int32(SFC_SET_NORM_FLOAT), nil, Int32(SF_TRUE))
    }

    deinit { sf_close(handle) }

    func readFrames(max frames: Int) throws(AudioError) -> [Float] {
        var buffer = [Float](repeating: 0, count: frames * channels)
        let read = buffer.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(frames)) }
        if read < 0 || (read == 0 && sf_error(handle) != 0) {
            throw .decodingFailed(path: path, detail: String(cString: sf_strerror(handle)))
        }
        buffer.removeLast((frames - Int(read)) * channels)
        return buffer
    }

    private static func describe(format: Int32) -> String {
        var info = SF_FORMAT_INFO()
        info.format = format & Int32(SF_FORMAT_TYPEMASK)
        var major = "audio"
        if sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
           let name = info.name {
            major = String(cString: name)
        }
        info = SF_FORMAT_INFO()
        info.format = format & Int32(SF_FORMAT_SUBMASK)
        if sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
           let name = info.name {
            return "\(major), \(String(cString: name))"
        }
        return major
    }
}

/// libsndfile's reason for not opening a file.
struct SndFileRefusal: Error {
    let message: String
}
