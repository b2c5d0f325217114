import HarkAudio

/// The features of a recording on disk, computed in two streaming passes so that memory
/// stays bounded whatever the length: the first pass finds the clip maximum the
/// normalisation needs and the frame count; the second decodes again and hands out
/// 30-second windows in order, keeping only the frames not yet passed.
public struct StreamedFeatures: FeatureSource {
    /// The number of mel bands.
    public let melCount: Int
    /// The total number of frames (samples / 160 + 1).
    public let frameCount: Int
    /// The number of 16 kHz samples the recording decoded to.
    public let sampleCount: Int
    /// The recording's original format.
    public let sourceFormat: SourceFormat
    /// The normalisation of this recording.
    public let normalisation: MelNormalisation

    private let path: String
    private var reader: AudioReader?
    private var frames: LogMelFrames
    private var pending: [Float] = []       // frame-major frames from `pendingStart` on
    private var pendingStart = 0
    private var finished = false

    /// Decodes `path` once to measure it; the features themselves come in ``window(startingAt:frames:)``.
    public init(path: String, melCount: Int = 80) throws(AudioError) {
        self.path = path
        self.melCount = melCount
        let reader = try AudioReader(path: path)
        var frames = LogMelFrames(melCount: melCount)
        var maximum = -Float.infinity
        var samples = 0
        while true {
            let chunk = try reader.read(maxSamples: 1 << 17)
            if chunk.isEmpty { break }
            samples += chunk.count
            maximum = max(maximum, frames.append(chunk).max() ?? maximum)
        }
        maximum = max(maximum, frames.finish().max() ?? maximum)
        sourceFormat = reader.sourceFormat
        sampleCount = samples
        frameCount = LogMelFrames.frameCount(sampleCount: samples)
        normalisation = MelNormalisation(maximum: maximum)
        self.frames = LogMelFrames(melCount: melCount)
    }

    /// The recording's duration in seconds.
    public var duration: Double { Double(sampleCount) / Double(AudioReader.sampleRate) }

    public var contentFrameCount: Int { frameCount - 1 }

    public mutating func window(startingAt start: Int, frames count: Int) throws -> [Float] {
        precondition(start >= pendingStart, "feature windows must be read in order")
        let needed = min(start + min(count, MelSpectrogram.windowFrames), frameCount)
        if reader == nil && !finished { reader = try AudioReader(path: path) }
        while pendingStart + pending.count / melCount < needed, let reader {
            let chunk = try reader.read(maxSamples: 1 << 16)
            if chunk.isEmpty {
                pending.append(contentsOf: frames.finish())
                self.reader = nil
                finished = true
            } else {
                pending.append(contentsOf: frames.append(chunk))
            }
        }
        let drop = min(start - pendingStart, pending.count / melCount)
        if drop > 0 {
            pending.removeFirst(drop * melCount)
            pendingStart += drop
        }
        let available = min(count, pending.count / melCount)
        let normalisation = self.normalisation
        let melCount = self.melCount
        return pending.withUnsafeBufferPointer { buffer in
            MelSpectrogram.window(melCount: melCount, frames: available) { mel, offset in
                normalisation.apply(buffer[offset * melCount + mel])
            }
        }
    }
}
