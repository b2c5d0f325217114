import HarkAudio

/// The features of a recording on disk, in bounded memory whatever the length. A first pass
/// decodes the recording and computes its frames, for the clip maximum the normalisation
/// needs and the frame count. It keeps the frames when they fit in ``heldBytesLimit``
/// (recordings of up to ~25 minutes at 80 bands), and the windows are cut from them; a longer
/// recording is decoded a second time instead, and its windows are handed out in order from
/// a buffer of only the frames not yet passed. Either way the windows are the same.
public struct StreamedFeatures: FeatureSource {
    /// The most memory the first pass's frames may take to be kept for the windows: 48 MiB.
    public static let heldBytesLimit = 48 << 20

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
    /// `pending` holds every frame of the recording (kept from the first pass).
    private var holdsAll = false

    /// Decodes `path` once to measure it; the features themselves come in
    /// ``window(startingAt:frames:)``. `heldBytes`: the most memory the frames may take to be
    /// kept from this pass (0: always decode again for the windows).
    public init(path: String, melCount: Int = 80, holdingUpTo heldBytes: Int = heldBytesLimit) throws(AudioError) {
        self.path = path
        self.melCount = melCount
        let reader = try AudioReader(path: path)
        var frames = LogMelFrames(melCount: melCount)
        let heldFloats = heldBytes / MemoryLayout<Float>.stride
        var held: [Float]? = []
        if let duration = reader.sourceFormat.duration {
            // Room for the frames the container announces (and a few more), or none.
            let expected = (Int(duration * Double(AudioReader.sampleRate)) / LogMelFrames.hopLength + 2) * melCount
            if expected <= heldFloats { held?.reserveCapacity(expected) } else { held = nil }
        }
        var maximum = -Float.infinity
        var samples = 0
        func keep(_ new: [Float]) {
            maximum = max(maximum, new.max() ?? maximum)
            guard held != nil else { return }
            if (held?.count ?? 0) + new.count <= heldFloats { held?.append(contentsOf: new) } else { held = nil }
        }
        while true {
            let chunk = try reader.read(maxSamples: 1 << 17)
            if chunk.isEmpty { break }
            samples += chunk.count
            keep(frames.append(chunk))
        }
        keep(frames.finish())
        sourceFormat = reader.sourceFormat
        sampleCount = samples
        frameCount = LogMelFrames.frameCount(sampleCount: samples)
        normalisation = MelNormalisation(maximum: maximum)
        self.frames = LogMelFrames(melCount: melCount)
        if let held {
            pending = held
            finished = true
            holdsAll = true
        }
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
        if drop > 0 && !holdsAll {
            pending.removeFirst(drop * melCount)
            pendingStart += drop
        }
        // The window's first frame in `pending` (past the end when the recording is shorter).
        let first = start - pendingStart
        let available = max(0, min(count, pending.count / melCount - first))
        let normalisation = self.normalisation
        let melCount = self.melCount
        return pending.withUnsafeBufferPointer { buffer in
            MelSpectrogram.window(melCount: melCount, frames: available) { mel, offset in
                normalisation.apply(buffer[(first + offset) * melCount + mel])
            }
        }
    }
}
