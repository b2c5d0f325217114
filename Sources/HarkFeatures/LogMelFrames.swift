import CFFTW3
import Foundation

/// FFTW's 400-point real-to-complex plan, made once per process and shared: executing a
/// plan on distinct buffers is thread-safe, planning is not.
final class FFTPlan: @unchecked Sendable {
    static let whisper = FFTPlan(size: LogMelFrames.fftSize)

    let size: Int
    let plan: fftwf_plan

    private init(size: Int) {
        self.size = size
        let input = fftwf_alloc_real(size)
        let output = fftwf_alloc_complex(size / 2 + 1)
        // FFTW_UNALIGNED lets every caller bring its own buffers; ESTIMATE plans instantly.
        guard let plan = fftwf_plan_dft_r2c_1d(Int32(size), input, output,
                                               UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED))
        else { fatalError("FFTW could not plan a \(size)-point real FFT") }
        fftwf_free(input)
        fftwf_free(output)
        self.plan = plan
    }
}

/// Turns 16 kHz samples, fed in chunks of any size, into unnormalised log10-mel frames
/// exactly as Whisper defines them: a centred STFT (reflect padding of n_fft/2 on both sides
/// of the signal with 160 zeros appended), periodic Hann window, n_fft 400, hop 160,
/// power spectrum, Slaney mel filterbank, log10 with a 1e-10 floor, and the last STFT frame
/// dropped. N samples give N / 160 + 1 frames.
///
/// Memory stays bounded: only the samples the next frame needs are kept.
public struct LogMelFrames {
    public static let fftSize = 400
    public static let hopLength = 160
    static let halfWindow = fftSize / 2

    /// The filterbank in use.
    public let filterbank: MelFilterbank
    private let window: [Float]
    private var head: [Float] = []           // the first samples, for the reflection at the start
    private var retained: [Float] = []        // samples from index `retainedStart` on
    private var retainedStart = 0
    private var received = 0
    private var nextFrame = 0
    private var scratchFrame = [Float](repeating: 0, count: LogMelFrames.fftSize)
    private var scratchSpectrum = [Float](repeating: 0, count: LogMelFrames.fftSize + 2)
    private var scratchPower = [Float](repeating: 0, count: LogMelFrames.fftSize / 2 + 1)

    /// A processor with `melCount` bands (80, or 128 for large-v3 models).
    public init(melCount: Int = 80) {
        filterbank = MelFilterbank(bandCount: melCount, fftSize: LogMelFrames.fftSize)
        window = (0..<LogMelFrames.fftSize).map {
            Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(LogMelFrames.fftSize)))
        }
    }

    /// The number of frames emitted so far.
    public var framesEmitted: Int { nextFrame }

    /// The number of frames a signal of `sampleCount` samples yields.
    public static func frameCount(sampleCount: Int) -> Int { sampleCount / hopLength + 1 }

    /// Feeds samples; returns the frames now complete, frame-major (`[frame][mel]`).
    public mutating func append(_ samples: [Float]) -> [Float] {
        if head.count <= LogMelFrames.halfWindow {
            head.append(contentsOf: samples.prefix(LogMelFrames.halfWindow + 1 - head.count))
        }
        retained.append(contentsOf: samples)
        received += samples.count
        var frames: [Float] = []
        while LogMelFrames.hopLength * nextFrame + LogMelFrames.halfWindow + 1 <= received {
            emitFrame(into: &frames, paddedLength: nil)
        }
        dropConsumedSamples()
        return frames
    }

    /// Ends the signal; returns the remaining frames, frame-major.
    public mutating func finish() -> [Float] {
        let paddedLength = received + LogMelFrames.hopLength
        let total = LogMelFrames.frameCount(sampleCount: received)
        var frames: [Float] = []
        while nextFrame < total { emitFrame(into: &frames, paddedLength: paddedLength) }
        retained = []
        return frames
    }

    private mutating func dropConsumedSamples() {
        let keepFrom = max(0, LogMelFrames.hopLength * nextFrame - LogMelFrames.halfWindow)
        let drop = keepFrom - retainedStart
        if drop > 1 << 15 {
            retained.removeFirst(drop)
            retainedStart = keepFrom
        }
    }

    /// The sample at index `index` of the zero-extended signal (index < received + 160).
    private func sample(_ index: Int) -> Float {
        if index >= received { return 0 }
        if index >= retainedStart { return retained[index - retainedStart] }
        return head[index]
    }

    /// numpy's "reflect" padding, repeated for pads longer than the signal.
    private static func reflect(_ index: Int, length: Int) -> Int {
        guard length > 1 else { return 0 }
        let period = 2 * (length - 1)
        var m = index % period
        if m < 0 { m += period }
        return m >= length ? period - m : m
    }

    private mutating func emitFrame(into frames: inout [Float], paddedLength: Int?) {
        let start = LogMelFrames.hopLength * nextFrame - LogMelFrames.halfWindow
        let size = LogMelFrames.fftSize
        if start >= retainedStart && start + size <= received {
            for k in 0..<size { scratchFrame[k] = retained[start - retainedStart + k] * window[k] }
        } else {
            let length = paddedLength ?? received + LogMelFrames.hopLength
            for k in 0..<size {
                var index = start + k
                if index < 0 || index >= length { index = LogMelFrames.reflect(index, length: length) }
                scratchFrame[k] = sample(index) * window[k]
            }
        }
        appendLogMel(to: &frames)
        nextFrame += 1
    }

    private mutating func appendLogMel(to frames: inout [Float]) {
        let binCount = LogMelFrames.fftSize / 2 + 1
        scratchFrame.withUnsafeMutableBufferPointer { input in
            scratchSpectrum.withUnsafeMutableBytes { output in
                guard let inBase = input.baseAddress, let outBase = output.baseAddress else { return }
                fftwf_execute_dft_r2c(FFTPlan.whisper.plan, inBase, outBase.assumingMemoryBound(to: fftwf_complex.self))
            }
        }
        for bin in 0..<binCount {
            let re = scratchSpectrum[2 * bin], im = scratchSpectrum[2 * bin + 1]
            scratchPower[bin] = re * re + im * im
        }
        for band in filterbank.bands {
            var energy: Float = 0
            for (offset, weight) in band.weights.enumerated() { energy += weight * scratchPower[band.firstBin + offset] }
            frames.append(log10(max(energy, 1e-10)))
        }
    }
}
