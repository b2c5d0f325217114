public import Foundation
internal import HarkAudio
internal import HarkFeatures

/// A recording to transcribe.
public enum AudioInput: Sendable {
    /// An audio file (WAV, FLAC, OGG, Opus, MP3, AIFF; M4A and video through ffmpeg), read in
    /// bounded memory however long it is.
    case file(URL)
    /// Samples held in memory, at any rate from 1 kHz to 768 kHz; with several channels,
    /// interleaved (left, right, left, …). Averaged to mono and resampled to 16 kHz.
    case samples([Float], sampleRate: Int, channels: Int = 1)
    /// The bytes of an encoded audio file, such as an upload; `name` names it in errors. The
    /// bytes are held in an unnamed private temporary file while they are transcribed.
    case encoded(Data, name: String = "upload")

    /// The file at `path`.
    public static func path(_ path: String) -> AudioInput { .file(URL(fileURLWithPath: path)) }
}

/// The features of an input, ready for the long-form loop, and what keeps them readable.
struct PreparedAudio {
    var features: any FeatureSource
    var duration: Double
    /// Seconds spent reading and converting before the loop starts.
    var firstPass: Double = 0
    /// An encoded input's spool, kept open while its features are read.
    var spool: Spool?

    init(_ input: AudioInput, melCount: Int) throws(TranscriptionError) {
        let started = ContinuousClock.now
        switch input {
        case .file(let url):
            self = try Self.file(url.path, melCount: melCount, shownAs: nil)
        case .samples(let samples, let sampleRate, let channels):
            let mono: [Float]
            do {
                mono = try AudioReader.convert(interleaved: samples, sampleRate: sampleRate, channels: channels)
            } catch {
                throw .audio(error)
            }
            features = MelSpectrogram(samples: mono, melCount: melCount)
            duration = Double(mono.count) / Double(AudioReader.sampleRate)
        case .encoded(let data, let name):
            guard !data.isEmpty else { throw .audio(.emptyFile(path: name)) }
            let spool: Spool
            do { spool = try Spool(holding: data, name: name) } catch { throw TranscriptionError(.audio, error.description) }
            self = try Self.file(spool.path, melCount: melCount, shownAs: name)
            self.spool = spool
        }
        firstPass = (ContinuousClock.now - started).seconds
    }

    private init(features: any FeatureSource, duration: Double) {
        self.features = features
        self.duration = duration
    }

    /// A file's features; errors name the file `shownAs` when given (a spool's path means
    /// nothing to a user).
    private static func file(_ path: String, melCount: Int, shownAs name: String?) throws(TranscriptionError) -> PreparedAudio {
        do {
            let streamed = try StreamedFeatures(path: path, melCount: melCount)
            return PreparedAudio(features: streamed, duration: streamed.duration)
        } catch {
            guard let name else { throw .audio(error) }
            throw TranscriptionError(.audio, error.description.replacingOccurrences(of: path, with: name))
        }
    }
}
