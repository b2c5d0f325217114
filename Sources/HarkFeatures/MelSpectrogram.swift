/// Whisper's log-mel normalisation: values below (clip maximum − 8) are raised to it, then
/// mapped by (x + 4) / 4. The maximum is taken over the whole recording, as faster-whisper does.
public struct MelNormalisation: Sendable, Equatable {
    /// The largest log10-mel value of the recording.
    public var maximum: Float

    /// Normalises one log10-mel value.
    @inline(__always)
    public func apply(_ value: Float) -> Float { (max(value, maximum - 8) + 4) / 4 }
}

/// A whole recording's normalised log-mel features, mel-major.
public struct MelSpectrogram: Sendable {
    /// The number of frames in one 30-second model window.
    public static let windowFrames = 3000

    /// The number of mel bands.
    public let melCount: Int
    /// The number of frames (samples / 160 + 1).
    public let frameCount: Int
    /// Normalised values, `values[mel * frameCount + frame]`.
    public let values: [Float]

    /// Computes the features of a whole 16 kHz signal in memory.
    public init(samples: [Float], melCount: Int = 80) {
        var frames = LogMelFrames(melCount: melCount)
        var frameMajor = frames.append(samples)
        frameMajor.append(contentsOf: frames.finish())
        self.init(frameMajor: frameMajor, melCount: melCount)
    }

    init(frameMajor: [Float], melCount: Int) {
        self.melCount = melCount
        frameCount = frameMajor.count / melCount
        let normalisation = MelNormalisation(maximum: frameMajor.max() ?? 0)
        var values = [Float](repeating: 0, count: frameMajor.count)
        for frame in 0..<frameCount {
            for mel in 0..<melCount {
                values[mel * frameCount + frame] = normalisation.apply(frameMajor[frame * melCount + mel])
            }
        }
        self.values = values
    }

    /// The frames that hold audio: the last STFT frame only pads (faster-whisper's `content_frames`).
    public var contentFrameCount: Int { frameCount - 1 }

    /// The value of band `mel` at `frame`.
    public subscript(mel: Int, frame: Int) -> Float { values[mel * frameCount + frame] }
}

extension MelSpectrogram: FeatureSource {
    public func window(startingAt start: Int, frames: Int) -> [Float] {
        MelSpectrogram.window(melCount: melCount, frames: frames) { mel, offset in
            self[mel, start + offset]
        }
    }

    /// Builds a mel-major 3000-frame window: `frames` real frames, then 0.0 (the padding
    /// faster-whisper applies in the normalised domain).
    static func window(melCount: Int, frames: Int, value: (Int, Int) -> Float) -> [Float] {
        let width = windowFrames
        var window = [Float](repeating: 0, count: melCount * width)
        for mel in 0..<melCount {
            for offset in 0..<min(frames, width) { window[mel * width + offset] = value(mel, offset) }
        }
        return window
    }
}

/// Where a transcriber gets its 30-second feature windows from.
public protocol FeatureSource {
    /// The number of mel bands.
    var melCount: Int { get }
    /// The number of frames that hold audio (faster-whisper's `content_frames`).
    var contentFrameCount: Int { get }
    /// A mel-major window of ``MelSpectrogram/windowFrames`` frames holding `frames` frames
    /// from `start` on, zero-padded. Successive calls never move `start` backwards.
    mutating func window(startingAt start: Int, frames: Int) throws -> [Float]
}
