extension AudioReader {
    /// Converts interleaved samples at any rate in ``sampleRates`` with any channel count in
    /// ``channelCounts`` to 16 kHz mono, as a file's samples are: channels averaged, then
    /// resampled by libsoxr. `name` names the samples in errors.
    public static func convert(interleaved samples: [Float], sampleRate: Int, channels: Int,
                               name: String = "samples") throws(AudioError) -> [Float] {
        guard sampleRates.contains(sampleRate) else {
            throw .notAudio(path: name, detail: "a sample rate of \(sampleRate) Hz, outside 1 kHz to 768 kHz")
        }
        guard channelCounts.contains(channels) else {
            throw .notAudio(path: name, detail: "\(channels) channels, outside 1 to 1024")
        }
        guard samples.count % channels == 0 else {
            throw .notAudio(path: name, detail: "\(samples.count) samples do not make whole frames of \(channels) channels")
        }
        guard samples.allSatisfy(\.isFinite) else {
            throw .notAudio(path: name, detail: "a sample is not a finite number")
        }
        let mono = downmix(samples, channels: channels)
        guard sampleRate != Self.sampleRate else { return mono }
        let resampler = try Resampler(inputRate: Double(sampleRate), outputRate: Double(Self.sampleRate))
        return try resampler.process(mono) + resampler.finish()
    }
}
