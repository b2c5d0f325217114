import HarkAudio
import HarkFeatures

/// One window of the recording: the frame it starts at and how many frames of audio it
/// holds (3000, fewer at the end of the recording).
struct WindowSpan: Equatable {
    var seek: Int
    var frames: Int

    /// The window at `seek` of a recording of `contentFrames` frames.
    init(seek: Int, contentFrames: Int) {
        self.seek = seek
        frames = min(MelSpectrogram.windowFrames, contentFrames - seek)
    }

    /// Where the window starts, in seconds.
    var start: Double { Double(seek) / LongForm.framesPerSecond }
    /// How much audio it holds, in seconds.
    var duration: Double { Double(frames) / LongForm.framesPerSecond }
    /// The first frame after it.
    var end: Int { seek + frames }
}

/// A window through the encoder.
struct EncodedWindow {
    /// The encoder output.
    var output: [Float]
    /// The loudest log10-mel value of the window's audio (see ``WindowEncoder/loudness(of:frames:)``).
    var loudness: Float
}

/// The encoding stage: a window's features, read from the source, through the encoder. The
/// last window is kept: the first one is asked for twice (encoded while the tokenizer is
/// still being read, then for language detection and decoding).
struct WindowEncoder<Model: WindowModel> {
    let model: Model
    /// The frames that hold audio.
    let contentFrames: Int
    private var last: (seek: Int, window: EncodedWindow)?

    init(model: Model, contentFrames: Int) {
        self.model = model
        self.contentFrames = contentFrames
    }

    /// The encoded window at `seek`; the time spent and the windows encoded go to `statistics`.
    mutating func encode<F: FeatureSource>(at seek: Int, from features: inout F,
                                           statistics: inout TranscriptionStatistics) throws(TranscriptionError) -> EncodedWindow {
        if let last, last.seek == seek { return last.window }
        let span = WindowSpan(seek: seek, contentFrames: contentFrames)
        let featuresStarted = ContinuousClock.now
        let window: [Float]
        do { window = try features.window(startingAt: seek, frames: span.frames) } catch let error as AudioError {
            throw .audio(error)
        } catch {
            throw .audio(.decodingFailed(path: "", detail: "\(error)"))
        }
        let encoderStarted = ContinuousClock.now
        statistics.features += (encoderStarted - featuresStarted).seconds
        let output = model.encode(window)
        statistics.encoder += (ContinuousClock.now - encoderStarted).seconds
        statistics.windows += 1
        let encoded = EncodedWindow(output: output, loudness: Self.loudness(of: window, frames: span.frames))
        last = (seek, encoded)
        return encoded
    }

    /// The loudest log10-mel value of a window's first `frames` frames, undoing the
    /// normalisation (x + 4) / 4.
    static func loudness(of window: [Float], frames: Int) -> Float {
        let width = MelSpectrogram.windowFrames
        var maximum = -Float.infinity
        window.withUnsafeBufferPointer { values in
            for start in stride(from: 0, to: values.count, by: width) {
                for frame in 0..<min(frames, width) { maximum = max(maximum, values[start + frame]) }
            }
        }
        return maximum * 4 - 4
    }
}
