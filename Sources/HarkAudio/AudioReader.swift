import Foundation

/// Interleaved frames at a source's own rate and channel count.
protocol FrameSource: AnyObject {
    var sampleRate: Int { get }
    var channels: Int { get }
    /// The number of frames, when the container says so.
    var frameCount: Int? { get }
    var formatName: String { get }
    /// Up to `max` frames; an empty array at the end of the stream.
    func readFrames(max frames: Int) throws(AudioError) -> [Float]
}

/// What a recording was before Hark converted it.
public struct SourceFormat: Sendable, Equatable {
    /// The file's own sample rate in Hz.
    public var sampleRate: Int
    /// The file's channel count.
    public var channels: Int
    /// The file's frame count, when the container states it.
    public var frameCount: Int?
    /// A human-readable container and encoding, e.g. "WAV (Microsoft), Signed 16 bit PCM".
    public var formatName: String

    /// The duration in seconds, when the frame count is known.
    public var duration: Double? { frameCount.map { Double($0) / Double(sampleRate) } }
}

/// A recording opened for reading as mono float samples at 16 kHz, pulled in bounded chunks
/// so that recordings of any length decode in constant memory.
///
/// Channels are averaged; other sample rates are converted with libsoxr's high-quality
/// resampler. Files libsndfile cannot read are decoded by `ffmpeg` when it is installed.
public final class AudioReader {
    /// The sample rate of everything Hark hands to the feature extractor.
    public static let sampleRate = 16_000

    /// The sample rates accepted from a file's header.
    public static let sampleRates = 1_000...768_000
    /// The channel counts accepted (libsndfile's own limit).
    public static let channelCounts = 1...1024

    /// The path the reader was opened with.
    public let path: String
    /// The recording's original format.
    public let sourceFormat: SourceFormat

    private let source: FrameSource
    private let resampler: Resampler?
    private var sourceEnded = false
    private var framesRead = 0
    private var buffered: [Float] = []

    /// Opens a recording.
    /// - Parameters:
    ///   - path: The file to read.
    ///   - allowFFmpeg: Whether formats libsndfile cannot read may be handed to `ffmpeg`.
    /// - Throws: ``AudioError`` naming the file and what is wrong with it.
    public init(path: String, allowFFmpeg: Bool = true) throws(AudioError) {
        self.path = path
        try AudioReader.checkReadable(path)
        let head = AudioReader.head(of: path)
        // MPEG audio goes to libmpg123 alone: libsndfile would hand what libmpg123 refuses back
        // to it, noisily. What the first decoder refuses, ffmpeg has the last word on.
        let opened: Result<FrameSource, SndFileRefusal> = Mpg123Source.recognises(path: path, head: head)
            ? Mpg123Source.open(path: path).map { $0 }
            : SndFileSource.open(path: path).map { $0 }
        switch opened {
        case .success(let source):
            self.source = source
        case .failure(let refusal):
            source = try AudioReader.openWithFFmpeg(path: path, head: head, refusal: refusal, allowed: allowFFmpeg)
        }
        sourceFormat = SourceFormat(sampleRate: source.sampleRate, channels: source.channels,
                                    frameCount: source.frameCount, formatName: source.formatName)
        // A corrupt header can claim any rate: at 1 Hz a 52-KB file would stand for 7 hours
        // of audio to resample. Real recordings lie well inside these bounds.
        guard AudioReader.sampleRates.contains(source.sampleRate) else {
            throw .notAudio(path: path, detail: "a sample rate of \(source.sampleRate) Hz, outside 1 kHz to 768 kHz; the header is probably corrupt")
        }
        guard AudioReader.channelCounts.contains(source.channels) else {
            throw .notAudio(path: path, detail: "\(source.channels) channels; the header is probably corrupt")
        }
        resampler = source.sampleRate == AudioReader.sampleRate
            ? nil
            : try Resampler(inputRate: Double(source.sampleRate), outputRate: Double(AudioReader.sampleRate))
    }

    /// Reads the next chunk of at most `maxSamples` 16 kHz mono samples; an empty array once
    /// the recording has ended.
    public func read(maxSamples: Int = 1 << 16) throws(AudioError) -> [Float] {
        precondition(maxSamples > 0, "maxSamples must be positive")
        while buffered.count < maxSamples && !sourceEnded {
            // Frames of many channels are read fewer at a time, so a chunk stays under 1 MB.
            let frames = try source.readFrames(max: min(16_384, max(256, (1 << 18) / source.channels)))
            if frames.isEmpty {
                if framesRead == 0 { throw .noFrames(path: path) }
                if let resampler { buffered.append(contentsOf: try resampler.finish()) }
                sourceEnded = true
            } else {
                framesRead += frames.count / source.channels
                let mono = AudioReader.downmix(frames, channels: source.channels)
                buffered.append(contentsOf: try resampler?.process(mono) ?? mono)
            }
        }
        let count = min(maxSamples, buffered.count)
        let chunk = Array(buffered[0..<count])
        buffered.removeFirst(count)
        return chunk
    }

    /// Reads the whole recording (use ``read(maxSamples:)`` for long files).
    public func readAll() throws(AudioError) -> [Float] {
        var samples: [Float] = []
        if let frames = sourceFormat.frameCount {
            samples.reserveCapacity(frames * AudioReader.sampleRate / max(sourceFormat.sampleRate, 1) + 1024)
        }
        while true {
            let chunk = try read(maxSamples: 1 << 18)
            if chunk.isEmpty { return samples }
            samples.append(contentsOf: chunk)
        }
    }

    /// Decodes a whole file to 16 kHz mono samples.
    public static func decode(path: String) throws(AudioError) -> [Float] {
        try AudioReader(path: path).readAll()
    }

    static func downmix(_ interleaved: [Float], channels: Int) -> [Float] {
        guard channels > 1 else { return interleaved }
        let frames = interleaved.count / channels
        var mono = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(channels)
        interleaved.withUnsafeBufferPointer { input in
            mono.withUnsafeMutableBufferPointer { output in
                for frame in 0..<frames {
                    var sum: Float = 0
                    let base = frame * channels
                    for channel in 0..<channels { sum += input[base + channel] }
                    output[frame] = sum * scale
                }
            }
        }
        return mono
    }

    private static func checkReadable(_ path: String) throws(AudioError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        if isDirectory.boolValue { throw .notAFile(path: path) }
        guard FileManager.default.isReadableFile(atPath: path) else { throw .permissionDenied(path: path) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        if size == 0 { throw .emptyFile(path: path) }
    }

    /// The first bytes of a file (fewer when it is shorter or unreadable).
    private static func head(of path: String) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        return [UInt8]((try? handle.read(upToCount: 12)) ?? Data())
    }

    /// Containers that only ffmpeg decodes, by file extension or leading bytes.
    private static func ffmpegOnlyFormat(path: String, head: [UInt8]) -> String? {
        let ext = (path as NSString).pathExtension.lowercased()
        let byExtension = ["m4a": "M4A/AAC", "mp4": "MP4", "aac": "AAC", "m4b": "M4B/AAC",
                           "webm": "WebM", "mkv": "Matroska", "mov": "QuickTime", "3gp": "3GP",
                           "amr": "AMR", "wma": "WMA", "caf": "CAF"]
        if let name = byExtension[ext] { return name }
        if head.count >= 8 && Array(head[4..<8]) == Array("ftyp".utf8) { return "MP4/M4A" }
        if head.starts(with: [0x1A, 0x45, 0xDF, 0xA3]) { return "WebM/Matroska" }
        if head.starts(with: Array("#!AMR".utf8)) { return "AMR" }
        return nil
    }

    private static func openWithFFmpeg(path: String, head: [UInt8], refusal: SndFileRefusal,
                                       allowed: Bool) throws(AudioError) -> FrameSource {
        let format = ffmpegOnlyFormat(path: path, head: head)
        guard allowed, let ffmpeg = FFmpegSource.executable else {
            if let format { throw .needsFFmpeg(path: path, format: format) }
            throw .notAudio(path: path, detail: refusal.message)
        }
        return try FFmpegSource(path: path, executable: ffmpeg, formatName: format ?? "decoded by ffmpeg")
    }
}
