import Foundation

/// The Slaney-style mel filterbank Whisper uses (librosa's `filters.mel` with `htk=False`,
/// `norm="slaney"`, 0 Hz to Nyquist), computed in double precision and stored sparsely:
/// each band is a short run of consecutive FFT bins.
public struct MelFilterbank: Sendable {
    /// One triangular band: weights for bins `firstBin ..< firstBin + weights.count`.
    public struct Band: Sendable {
        public var firstBin: Int
        public var weights: [Float]
    }

    /// The number of mel bands (80 for most Whisper models, 128 for large-v3).
    public let bandCount: Int
    /// The number of FFT bins each band reads (n_fft / 2 + 1).
    public let binCount: Int
    /// The bands, lowest frequency first.
    public let bands: [Band]

    /// Builds the filterbank for `bandCount` bands over an `fftSize`-point FFT at `sampleRate`.
    public init(bandCount: Int, fftSize: Int = 400, sampleRate: Int = 16_000) {
        self.bandCount = bandCount
        binCount = fftSize / 2 + 1
        let dense = MelFilterbank.denseWeights(bandCount: bandCount, fftSize: fftSize, sampleRate: sampleRate)
        bands = dense.map { row in
            guard let first = row.firstIndex(where: { $0 != 0 }),
                  let last = row.lastIndex(where: { $0 != 0 })
            else { return Band(firstBin: 0, weights: []) }
            return Band(firstBin: first, weights: row[first...last].map { Float($0) })
        }
    }

    /// The full `bandCount × binCount` weight matrix, row-major (for tests and inspection).
    public var matrix: [[Float]] {
        bands.map { band in
            var row = [Float](repeating: 0, count: binCount)
            for (offset, weight) in band.weights.enumerated() { row[band.firstBin + offset] = weight }
            return row
        }
    }

    static func denseWeights(bandCount: Int, fftSize: Int, sampleRate: Int) -> [[Double]] {
        let binCount = fftSize / 2 + 1
        let nyquist = Double(sampleRate) / 2
        let fftFrequencies = (0..<binCount).map { nyquist * Double($0) / Double(binCount - 1) }
        let lowMel = hertzToMel(0), highMel = hertzToMel(nyquist)
        let melFrequencies = (0..<(bandCount + 2)).map { index -> Double in
            let mel = lowMel + (highMel - lowMel) * Double(index) / Double(bandCount + 1)
            return melToHertz(mel)
        }
        var weights = [[Double]](repeating: [Double](repeating: 0, count: binCount), count: bandCount)
        for band in 0..<bandCount {
            let lowerWidth = melFrequencies[band + 1] - melFrequencies[band]
            let upperWidth = melFrequencies[band + 2] - melFrequencies[band + 1]
            let normalisation = 2.0 / (melFrequencies[band + 2] - melFrequencies[band])
            for bin in 0..<binCount {
                let lower = (fftFrequencies[bin] - melFrequencies[band]) / lowerWidth
                let upper = (melFrequencies[band + 2] - fftFrequencies[bin]) / upperWidth
                weights[band][bin] = max(0, min(lower, upper)) * normalisation
            }
        }
        return weights
    }

    // Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
    private static let linearStep = 200.0 / 3.0
    private static let logRegionStartHz = 1000.0
    private static let logRegionStartMel = logRegionStartHz / linearStep
    private static let logStep = log(6.4) / 27.0

    static func hertzToMel(_ hertz: Double) -> Double {
        hertz >= logRegionStartHz
            ? logRegionStartMel + log(hertz / logRegionStartHz) / logStep
            : hertz / linearStep
    }

    static func melToHertz(_ mel: Double) -> Double {
        mel >= logRegionStartMel
            ? logRegionStartHz * exp(logStep * (mel - logRegionStartMel))
            : mel * linearStep
    }
}
