/// Why a recording could not be read. Every case carries the path and reads as one line a
/// user can act on.
public enum AudioError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing exists at the path.
    case fileNotFound(path: String)
    /// The file exists but this process may not read it.
    case permissionDenied(path: String)
    /// The path names a directory or a device, not a file.
    case notAFile(path: String)
    /// The file has zero bytes.
    case emptyFile(path: String)
    /// The bytes are not audio that any decoder recognises (or the header is truncated).
    case notAudio(path: String, detail: String)
    /// The container or codec needs ffmpeg, which is not installed.
    case needsFFmpeg(path: String, format: String)
    /// The file decoded, but holds no audio frames.
    case noFrames(path: String)
    /// Decoding started but failed part-way.
    case decodingFailed(path: String, detail: String)
    /// The resampler could not be set up or failed.
    case resamplingFailed(detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .permissionDenied(let path):
            return "\(path): permission denied (check the file's read permission)"
        case .notAFile(let path):
            return "\(path): not a regular file"
        case .emptyFile(let path):
            return "\(path): the file is empty (0 bytes)"
        case .notAudio(let path, let detail):
            return "\(path): not a readable audio file (\(detail))"
        case .needsFFmpeg(let path, let format):
            return "\(path): \(format) audio needs ffmpeg, which is not installed; install it with 'apt-get install ffmpeg' or convert the file to WAV, FLAC, OGG or MP3"
        case .noFrames(let path):
            return "\(path): the file contains no audio samples"
        case .decodingFailed(let path, let detail):
            return "\(path): decoding failed (\(detail))"
        case .resamplingFailed(let detail):
            return "resampling failed (\(detail))"
        }
    }
}
