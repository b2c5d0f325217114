import CHarkKernels
import Foundation

/// Silero VAD (v6, 16 kHz): a speech probability for every 32 ms of 16 kHz mono samples.
///
/// The audio goes through in chunks of 512 new samples, each seen with the 64 samples before
/// it (zeros before the first), as the silero-vad wheel's `OnnxWrapper` feeds its ONNX model;
/// for each chunk the network (the wheel's `tinygrad_model.py` describes it) computes:
///
/// 1. the 576 samples, reflect-padded by 64 on the right (640);
/// 2. an STFT as a convolution: 258 filters of 256 taps every 128 samples → 4 frames; the
///    magnitude of the 129 bins (real rows 0..<129, imaginary rows 129..<258);
/// 3. four convolutions of kernel 3, padding 1, strides 1, 2, 2, 1 (129 → 128 → 64 → 64 → 128
///    channels; 4 → 4 → 2 → 1 → 1 frames), each followed by ReLU;
/// 4. an LSTM cell of 128 whose state is carried from chunk to chunk;
/// 5. ReLU, a 1 × 1 convolution to one value, a sigmoid (the mean over the single frame).
///
/// Steps 1-3 and the LSTM's input product do not depend on earlier chunks, so they run for up
/// to ``batchChunks`` chunks at a time as single matrix products (`hark_f32_gemm_acc`: AVX2
/// and FMA, or a portable loop; on the calling thread); only the recurrent product (128 → 512)
/// and the gates run chunk by chunk. All buffers are allocated once, in `init`: processing
/// allocates nothing per chunk.
///
/// A detector carries state from call to call (a stream); it is not for use from two threads at
/// once. Make one per stream; they can share one ``SileroVADWeights``.
public final class SileroVAD {
    /// The only sample rate the network takes.
    public static let sampleRate = 16_000
    /// New samples per chunk (32 ms).
    public static let chunkSamples = 512
    /// Samples of the previous chunk seen before each chunk.
    public static let contextSamples = 64

    /// How a recording whose length is not a whole number of chunks is completed with zeros.
    public enum Padding: Sendable, Equatable {
        /// The last, partial chunk is filled up with zeros (the silero-vad wheel's
        /// `audio_forward`): ⌈n / 512⌉ chunks.
        case lastChunk
        /// `512 - n % 512` zeros are appended, as faster-whisper 1.2.1's `get_speech_timestamps`
        /// does before running its model: n / 512 + 1 chunks, the last all zeros when n is a
        /// multiple of 512.
        case fasterWhisper
    }

    /// The number of chunks `padding` makes of `samples` samples.
    public static func chunkCount(samples: Int, padding: Padding) -> Int {
        switch padding {
        case .lastChunk: (samples + chunkSamples - 1) / chunkSamples
        case .fasterWhisper: samples / chunkSamples + 1
        }
    }

    public let weights: SileroVADWeights
    /// Chunks whose front end runs as one batch (32: a second of audio).
    public let batchChunks: Int

    // The stream's state: the LSTM cell's h and c, and the last 64 samples seen.
    private let hidden: UnsafeMutablePointer<Float>
    private let cell: UnsafeMutablePointer<Float>
    private let context: UnsafeMutablePointer<Float>

    // Scratch for one batch; sizes in init.
    private let frames: UnsafeMutablePointer<Float>      // [chunks·4][256]
    private let spectrum: UnsafeMutablePointer<Float>    // [chunks·4][272]
    private let columns: UnsafeMutablePointer<Float>     // im2col, largest: [chunks·4][3·129]
    private let activationA: UnsafeMutablePointer<Float> // [chunks·4][129] at most
    private let activationB: UnsafeMutablePointer<Float>
    private let gates: UnsafeMutablePointer<Float>       // [chunks][512]
    private let allocations: [UnsafeMutablePointer<Float>]

    private static let framesPerChunk = 4

    /// The frames a convolution sees and makes per chunk, and the taps that meet an input
    /// frame for some output frame: all three but where a chunk has one or two frames (conv3:
    /// taps 1-2, conv4: tap 1); the others would only multiply padding.
    private struct ConvolutionPlan {
        let steps: Int
        let outSteps: Int
        let firstTap: Int
        let taps: Int
    }
    private let plans: [ConvolutionPlan]

    /// A detector on the weights of an installed `silero-vad` model (`directory`).
    public convenience init(directory: URL) throws(SpeechDetectorError) {
        self.init(weights: try SileroVADWeights(directory: directory))
    }

    /// A detector on loaded weights, with its own state and scratch (about 0.7 MB for 32
    /// chunks a batch).
    public init(weights: SileroVADWeights, batchChunks: Int = 32) {
        precondition(batchChunks > 0, "batchChunks must be positive")
        self.weights = weights
        self.batchChunks = batchChunks
        let rows = batchChunks * Self.framesPerChunk
        func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
            let memory = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: count)
            memory.initialize(repeating: 0, count: count)
            return memory
        }
        hidden = allocate(SileroVADWeights.hidden)
        cell = allocate(SileroVADWeights.hidden)
        context = allocate(Self.contextSamples)
        frames = allocate(rows * SileroVADWeights.fftSize)
        spectrum = allocate(rows * SileroVADWeights.stftColumns)
        columns = allocate(rows * 3 * SileroVADWeights.bins)
        activationA = allocate(rows * SileroVADWeights.bins)
        activationB = allocate(rows * SileroVADWeights.bins)
        gates = allocate(batchChunks * 4 * SileroVADWeights.hidden)
        allocations = [hidden, cell, context, frames, spectrum, columns, activationA, activationB, gates]
        var plans: [ConvolutionPlan] = []
        var steps = Self.framesPerChunk
        for layer in weights.convolutions {
            let outSteps = (steps - 1) / layer.stride + 1
            let taps = (0..<3).filter { tap in (0..<outSteps).contains { t in (0..<steps).contains(t * layer.stride + tap - 1) } }
            plans.append(ConvolutionPlan(steps: steps, outSteps: outSteps, firstTap: taps.first ?? 1, taps: taps.count))
            steps = outSteps
        }
        self.plans = plans
    }

    deinit {
        for memory in allocations { memory.deallocate() }
    }

    /// Starts a new stream: zero LSTM state and context.
    public func reset() {
        hidden.update(repeating: 0, count: SileroVADWeights.hidden)
        cell.update(repeating: 0, count: SileroVADWeights.hidden)
        context.update(repeating: 0, count: Self.contextSamples)
    }

    /// The speech probabilities of a whole recording, from a fresh state (the stream is reset
    /// before and left at the recording's end).
    public func probabilities(of samples: [Float], padding: Padding = .lastChunk) -> [Float] {
        reset()
        let chunks = Self.chunkCount(samples: samples.count, padding: padding)
        var result = [Float](repeating: 0, count: chunks)
        let whole = samples.count / Self.chunkSamples
        samples.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                if whole > 0 {
                    process(UnsafeBufferPointer(rebasing: input[0..<(whole * Self.chunkSamples)]),
                            into: UnsafeMutableBufferPointer(rebasing: output[0..<whole]))
                }
                if chunks > whole {
                    // The zero-padded tail: the leftover samples (possibly none), then zeros.
                    var last = [Float](repeating: 0, count: Self.chunkSamples)
                    for index in (whole * Self.chunkSamples)..<samples.count { last[index - whole * Self.chunkSamples] = input[index] }
                    last.withUnsafeBufferPointer { tail in
                        process(tail, into: UnsafeMutableBufferPointer(rebasing: output[whole..<chunks]))
                    }
                }
            }
        }
        return result
    }

    /// Continues the stream with `samples` (a whole number of 512-sample chunks), writing one
    /// probability per chunk into `probabilities`.
    public func process(_ samples: UnsafeBufferPointer<Float>, into probabilities: UnsafeMutableBufferPointer<Float>) {
        precondition(samples.count % Self.chunkSamples == 0, "process takes whole chunks of \(Self.chunkSamples) samples")
        let chunks = samples.count / Self.chunkSamples
        precondition(probabilities.count >= chunks, "one probability per chunk")
        guard let base = samples.baseAddress, let out = probabilities.baseAddress else { return }
        var done = 0
        while done < chunks {
            let count = min(batchChunks, chunks - done)
            runBatch(base + done * Self.chunkSamples, chunks: count, into: out + done)
            done += count
        }
    }

    /// `count` chunks starting at `samples`: the front end as batched products, then the LSTM
    /// chunk by chunk.
    private func runBatch(_ samples: UnsafePointer<Float>, chunks count: Int, into probabilities: UnsafeMutablePointer<Float>) {
        let fft = SileroVADWeights.fftSize, hop = SileroVADWeights.hop, bins = SileroVADWeights.bins
        let rows = count * Self.framesPerChunk

        // 1. Frames: frame t of a chunk is samples 128·t ..< 128·t + 256 of x = [context (64) |
        //    chunk (512)] reflected by 64 on the right (x[574], x[573], … x[511]):
        //    frame 0 = context + chunk[0..<192], frames 1 and 2 = chunk[64..<320] and
        //    chunk[192..<448], frame 3 = chunk[320..<512] + chunk[510], chunk[509], … chunk[447].
        let context = Self.contextSamples
        for chunk in 0..<count {
            let current = samples + chunk * Self.chunkSamples
            let frame = frames + chunk * Self.framesPerChunk * fft
            frame.update(from: chunk == 0 ? UnsafePointer(self.context) : current - context, count: context)
            (frame + context).update(from: current, count: fft - context)
            for t in 1..<Self.framesPerChunk {
                (frame + t * fft).update(from: current + t * hop - context, count: min(fft, Self.chunkSamples - (t * hop - context)))
            }
            let last = frame + 3 * fft + (Self.chunkSamples - (3 * hop - context))
            for index in 0..<context { last[index] = current[Self.chunkSamples - 2 - index] }
        }
        self.context.update(from: samples + count * Self.chunkSamples - context, count: context)

        // 2. STFT as one product, then magnitudes.
        let columnsSTFT = SileroVADWeights.stftColumns
        spectrum.update(repeating: 0, count: rows * columnsSTFT)
        hark_f32_gemm_acc(rows, columnsSTFT, fft, frames, fft, weights.stft, columnsSTFT, spectrum, columnsSTFT, 0)
        for row in 0..<rows {
            let source = spectrum + row * columnsSTFT, target = activationA + row * bins
            for bin in 0..<bins {
                let re = source[bin], im = source[bins + bin]
                target[bin] = (re * re + im * im).squareRoot()
            }
        }

        // 3. The convolutions, ping-ponging between the two activation buffers.
        var input = activationA, output = activationB
        for (convolution, plan) in zip(weights.convolutions, plans) {
            convolve(convolution, plan, input: input, output: output, chunks: count)
            swap(&input, &output)
        }
        // `input` now holds [chunks][128], the LSTM's inputs (one frame per chunk).

        // 4. The LSTM's input product for every chunk at once, biases (both, summed) included.
        let width = 4 * SileroVADWeights.hidden
        for chunk in 0..<count { (gates + chunk * width).update(from: weights.lstmBias, count: width) }
        hark_f32_gemm_acc(count, width, SileroVADWeights.hidden, input, SileroVADWeights.hidden,
                          weights.lstmInput, width, gates, width, 0)

        // 5. Chunk by chunk: the recurrent product, the cell, the output.
        for chunk in 0..<count {
            probabilities[chunk] = step(gates + chunk * width)
        }
    }

    /// One convolution (kernel 3, padding 1) over each chunk's frames, then ReLU. `input` is
    /// [chunks·steps][inputs], `output` [chunks·outSteps][outputs].
    private func convolve(_ layer: SileroVADWeights.Convolution, _ plan: ConvolutionPlan, input: UnsafeMutablePointer<Float>,
                          output: UnsafeMutablePointer<Float>, chunks: Int) {
        let steps = plan.steps, outSteps = plan.outSteps, first = plan.firstTap, tapCount = plan.taps
        let width = tapCount * layer.inputs
        // im2col: the row of output frame t holds input frames s·t − 1 + tap for those taps
        // (zeros outside the chunk), in the order of the weights' rows.
        for chunk in 0..<chunks {
            for t in 0..<outSteps {
                let row = columns + (chunk * outSteps + t) * width
                for index in 0..<tapCount {
                    let source = t * layer.stride + first + index - 1
                    let target = row + index * layer.inputs
                    if source >= 0 && source < steps {
                        target.update(from: input + (chunk * steps + source) * layer.inputs, count: layer.inputs)
                    } else {
                        target.update(repeating: 0, count: layer.inputs)
                    }
                }
            }
        }
        let rows = chunks * outSteps
        for row in 0..<rows { (output + row * layer.outputs).update(from: layer.bias, count: layer.outputs) }
        hark_f32_gemm_acc(rows, layer.outputs, width, columns, width, layer.weight + first * layer.inputs * layer.outputs,
                          layer.outputs, output, layer.outputs, HARK_F32_RELU)
    }

    /// The LSTM cell on one chunk (its input product and biases already in `gates`), then the
    /// output: the speech probability, σ(w · ReLU(h) + b).
    private func step(_ gates: UnsafeMutablePointer<Float>) -> Float {
        let size = SileroVADWeights.hidden
        hark_f32_gemm_acc(1, 4 * size, size, hidden, size, weights.lstmRecurrent, 4 * size, gates, 4 * size, 0)
        hark_f32_lstm_cell(gates, cell, hidden, size)
        var logit = weights.outputBias
        for unit in 0..<size { logit += weights.output[unit] * max(hidden[unit], 0) }
        return 1 / (1 + expf(-logit))
    }
}
