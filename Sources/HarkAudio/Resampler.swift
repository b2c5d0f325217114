import CSoxr

/// A streaming mono resampler (libsoxr, high quality), fed in chunks of any size.
///
/// Output is delayed internally; call ``finish()`` once the input ends to get the tail.
final class Resampler {
    private let handle: soxr_t
    private let ratio: Double

    init(inputRate: Double, outputRate: Double) throws(AudioError) {
        var error: soxr_error_t? = nil
        // SOXR_HQ is SOXR_20_BITQ (4): the "high quality" recipe, flat pass-band.
        var quality = soxr_quality_spec(4, 0)
        guard let handle = soxr_create(inputRate, outputRate, 1, &error, nil, &quality, nil),
              error == nil
        else {
            throw .resamplingFailed(detail: error.map { String(cString: $0) } ?? "soxr_create failed")
        }
        self.handle = handle
        self.ratio = outputRate / inputRate
    }

    deinit { soxr_delete(handle) }

    /// Resamples the next chunk of input; returns whatever output is ready.
    func process(_ input: [Float]) throws(AudioError) -> [Float] {
        try run(input, final: false)
    }

    /// Flushes the resampler's delay line once the input has ended.
    func finish() throws(AudioError) -> [Float] {
        try run([], final: true)
    }

    private func run(_ input: [Float], final: Bool) throws(AudioError) -> [Float] {
        var output: [Float] = []
        output.reserveCapacity(Int(Double(input.count) * ratio) + 64)
        var chunk = [Float](repeating: 0, count: max(4096, Int(Double(input.count) * ratio) + 64))
        var consumed = 0
        while true {
            var inputDone = 0
            var outputDone = 0
            let remaining = input.count - consumed
            let error: soxr_error_t? = input.withUnsafeBufferPointer { inBuffer in
                chunk.withUnsafeMutableBufferPointer { outBuffer in
                    // A nil input pointer tells soxr the input has ended.
                    let inPointer = final ? nil : UnsafeRawPointer(inBuffer.baseAddress.map { $0 + consumed })
                    return soxr_process(handle, inPointer, final ? 0 : remaining, &inputDone,
                                        outBuffer.baseAddress, outBuffer.count, &outputDone)
                }
            }
            if let error { throw .resamplingFailed(detail: String(cString: error)) }
            consumed += inputDone
            output.append(contentsOf: chunk[0..<outputDone])
            let inputLeft = !final && consumed < input.count
            if !inputLeft && outputDone < chunk.count { break }
            if final && outputDone == 0 { break }
        }
        return output
    }
}
