import CHarkKernels
import HarkKernels
import Foundation

/// A Whisper network loaded from a CTranslate2 model directory, run in 32-bit float.
///
/// The model is immutable and shared: encode a window with ``encode(_:)``, make a
/// ``DecoderState`` for it, then call ``decode(_:state:logitRows:)`` step by step.
public final class WhisperModel: Sendable {
    /// The model's dimensions.
    public let dimensions: WhisperDimensions
    /// Where it was loaded from: a CTranslate2 model directory, or a Hark int8 file.
    public let location: URL
    /// The size of the weights file (`model.bin` or the int8 file) in bytes.
    public let fileSize: Int
    /// The metadata of a Hark int8 file (see ``Int8ModelFile/Key``); empty for a directory.
    public let metadata: [String: String]
    let weights: WhisperWeights

    /// The numeric type of the matrix products.
    public var computeType: ComputeType { weights.computeType }

    /// Loads a model: a CTranslate2 directory (its `model.bin`) or a Hark int8 file
    /// (see ``Int8ModelFile``). With `int8`, float weights are quantized while loading and int8
    /// weights are used as stored; with `float32`, int8 weights are dequantized.
    public convenience init(at location: URL, computeType: ComputeType = .float32, plan: QuantizationPlan = .standard) throws(ModelError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory) else {
            throw .missingFile(path: location.path)
        }
        if isDirectory.boolValue {
            let file = try CTranslate2File(path: location.appendingPathComponent("model.bin").path)
            try self.init(weights: try WhisperWeights(source: file, computeType: computeType, plan: plan),
                          location: location, fileSize: file.byteCount, metadata: [:])
        } else {
            try self.init(int8File: try SafetensorsFile(path: location.path), computeType: computeType, plan: plan)
        }
    }

    /// Loads a Hark int8 file already opened (its metadata may be read meanwhile, for example
    /// the tokenizer it carries).
    public convenience init(int8File file: SafetensorsFile, computeType: ComputeType = .int8,
                            plan: QuantizationPlan = .standard) throws(ModelError) {
        guard file.metadata[Int8ModelFile.Key.format] == Int8ModelFile.formatName else {
            throw .notAModel(path: file.path, detail: "a safetensors file, but not a Hark int8 Whisper model (made by hark quantize)")
        }
        guard file.metadata[Int8ModelFile.Key.version] == Int8ModelFile.formatVersion else {
            throw .unsupported(path: file.path,
                               detail: "int8 format version \(file.metadata[Int8ModelFile.Key.version] ?? "?"), this Hark reads \(Int8ModelFile.formatVersion)")
        }
        // Matrices the file keeps in float were kept so when it was made; they stay float.
        let kept = (file.metadata[Int8ModelFile.Key.keptInFloat] ?? "").split(separator: ",").map(String.init)
        try self.init(weights: try WhisperWeights(source: file, computeType: computeType,
                                                  plan: QuantizationPlan(keptInFloat: plan.keptInFloat + kept)),
                      location: URL(fileURLWithPath: file.path), fileSize: file.byteCount, metadata: file.metadata)
    }

    private init(weights: WhisperWeights, location: URL, fileSize: Int, metadata: [String: String]) throws(ModelError) {
        ComputeThreads.keepBLASSingleThreaded()
        self.weights = weights
        self.dimensions = weights.dimensions
        self.location = location
        self.fileSize = fileSize
        self.metadata = metadata
    }

    /// Loads `model.bin` from a CTranslate2 model directory.
    public convenience init(directory: URL, computeType: ComputeType = .float32) throws(ModelError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .missingFile(path: directory.path)
        }
        try self.init(at: directory, computeType: computeType)
    }

    // MARK: Encoder

    /// Runs the encoder on one mel-major window (`melCount × 3000`); returns
    /// `audioContext × modelWidth` (1500 × d).
    public func encode(_ mel: [Float]) -> [Float] {
        let d = dimensions.modelWidth
        let frames = mel.count / dimensions.melCount
        // conv1: kernel 3, stride 1, padding 1, over time; then GELU.
        var x = convolve(weights.conv1, input: mel, channels: dimensions.melCount, length: frames,
                         channelMajor: true, stride: 1)
        // conv2: kernel 3, stride 2, padding 1; then GELU.
        x = convolve(weights.conv2, input: x, channels: d, length: frames, channelMajor: false, stride: 2)
        let positions = x.count / d
        add(weights.encoderPositions, to: &x)
        for layer in weights.encoderLayers {
            let h = layer.attentionNorm(x, rows: positions)
            let qkv = layer.qkv(h, rows: positions)
            let attended = Self.encoderAttention(qkv: qkv, rows: positions, width: d, heads: dimensions.encoderHeads)
            add(layer.attentionOut(attended, rows: positions), to: &x)
            feedForward(layer.ffnNorm, layer.ffnIn, layer.ffnOut, x: &x, rows: positions)
        }
        return weights.encoderNorm(x, rows: positions)
    }

    /// A 1-D convolution (kernel 3, padding 1) as one matrix product over im2col windows,
    /// followed by GELU. The input is channel-major (`[channel][time]`) or time-major.
    private func convolve(_ conv: Linear, input: [Float], channels: Int, length: Int,
                          channelMajor: Bool, stride: Int) -> [Float] {
        let outputLength = (length + 2 - 3) / stride + 1
        // Rows of columns in pieces over the compute threads (a window's are 2 to 4 MB).
        let pieces = min(ComputeThreads.count * 4, max(1, outputLength / 64))
        let columns = [Float](writingAll: outputLength * channels * 3) { col in
            input.withUnsafeBufferPointer { x in
                let x = SendablePointer(x.start), col = SendableMutablePointer(col.start)
                ComputeThreads.forEachRange(of: outputLength, pieces: pieces) { part in
                    for t in part {
                        let row = col.value + t * channels * 3
                        for k in 0..<3 {
                            let source = t * stride + k - 1
                            guard source >= 0 && source < length else {
                                for c in 0..<channels { row[c * 3 + k] = 0 }  // the padding
                                continue
                            }
                            for c in 0..<channels {
                                row[c * 3 + k] = channelMajor ? x.value[c * length + source] : x.value[source * channels + c]
                            }
                        }
                    }
                }
            }
        }
        return conv(columns, rows: outputLength, gelu: true)
    }

    /// Query rows per piece of the encoder's attention. A piece's scores (192 × 1500 floats)
    /// stay in the cache from the score product through the softmax to the value product,
    /// instead of a head's 9 MB going out to memory and back between them. 192 is a multiple of
    /// the row tile of OpenBLAS's sgemm kernels (8, 16, 24, 32 or 48, depending on the CPU),
    /// so every row is computed by the same kernel path as in one product over all the rows:
    /// the same sums, bit for bit (a block of 16 or 128 rows would not be: its rows would fall
    /// to the edge kernels, which sum in another order).
    static let attentionRowBlock = 192

    /// Bidirectional multi-head attention over fused `[q | k | v]` rows; the pieces (a head's
    /// block of ``attentionRowBlock`` query rows) are split over the compute threads.
    static func encoderAttention(qkv: [Float], rows: Int, width d: Int, heads: Int) -> [Float] {
        let headWidth = d / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let block = Self.attentionRowBlock
        let blocks = (rows + block - 1) / block
        // Every piece adds its head's columns of its rows into the zeros (beta 1).
        var output = [Float](repeating: 0, count: rows * d)
        output.withUnsafeMutableBufferPointer { out in
            qkv.withUnsafeBufferPointer { qkv in
                let base = SendablePointer(qkv.start), out = SendableMutablePointer(out.start)
                ComputeThreads.forEachPiece(heads * blocks, scratchCount: block * rows,
                                            zeroedCount: block * rows) { piece, probabilities, scores in
                    let head = piece / blocks, first = piece % blocks * block, count = min(block, rows - first)
                    let q = base.value + first * 3 * d + head * headWidth
                    let k = base.value + d + head * headWidth, v = k + d
                    // The scores add into zeros (beta 1: OpenBLAS makes no pass to clear them
                    // first); the softmax moves them out as probabilities and leaves the zeros.
                    FloatKernels.gemmTransposedB(m: count, n: rows, k: headWidth, alpha: scale, a: q, lda: 3 * d,
                                                 b: k, ldb: 3 * d, beta: 1, c: scores, ldc: rows)
                    hark_softmax_rows_moving(scores, probabilities, count, rows, rows)
                    FloatKernels.gemm(m: count, n: headWidth, k: rows, a: probabilities, lda: rows,
                                      b: v, ldb: 3 * d, beta: 1, c: out.value + first * d + head * headWidth, ldc: d)
                }
            }
        }
        return output
    }

    private func feedForward(_ norm: LayerNorm, _ first: Linear, _ second: Linear, x: inout [Float], rows: Int) {
        let h = first(norm(x, rows: rows), rows: rows, gelu: true)
        add(second(h, rows: rows), to: &x)
    }

    private func add(_ y: [Float], to x: inout [Float]) {
        precondition(y.count >= x.count, "add: \(y.count) floats to \(x.count)")
        x.withUnsafeMutableBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                FloatKernels.add(y.start, to: x.start, count: x.count)
            }
        }
    }

    // MARK: Decoder

    /// Prepares decoding of one encoded window for `batch` hypotheses: computes every
    /// layer's cross-attention keys and values once.
    public func makeDecoderState(encoderOutput: [Float], batch: Int) -> DecoderState {
        let d = dimensions.modelWidth
        let positions = encoderOutput.count / d
        let heads = dimensions.decoderHeads
        let layerFloats = 2 * positions * d
        let cross = LargeBlock<Float>(count: weights.decoderLayers.count * layerFloats)
        // Each layer's keys and values in one block per head, keys of every head first, then
        // values: `[2 · heads][positions][width / heads]`, which is the column order of the
        // `[k | v]` product in blocks of a head's width. Each step of the decoder then streams
        // a head's keys and values in order, which the hardware prefetchers follow.
        for (index, layer) in weights.decoderLayers.enumerated() {
            layer.crossKeyValue(encoderOutput, rows: positions, columnBlock: d / heads,
                                into: cross.base + index * layerFloats)
        }
        return DecoderState(batch: batch, width: d, heads: heads, capacity: dimensions.textContext,
                            layers: dimensions.decoderLayers, crossKeyValues: cross, audioPositions: positions)
    }

    /// Feeds `tokens[b]` (the same count for every hypothesis) after what the state holds;
    /// returns the logits (`rows × vocabularySize`) for the new positions `logitRows` of each
    /// hypothesis (default: the last), hypothesis-major.
    public func decode(_ tokens: [[Int]], state: inout DecoderState, logitRows: [Int]? = nil) -> [Float] {
        let d = dimensions.modelWidth
        let batch = tokens.count
        precondition(batch == state.batch, "decode: \(batch) hypotheses for a state of \(state.batch)")
        let steps = tokens.first?.count ?? 0
        let rows = batch * steps
        let start = state.length
        precondition(start + steps <= state.capacity, "decode: past the model's \(state.capacity) positions")
        var x = [Float](repeating: 0, count: rows * d)
        x.withUnsafeMutableBufferPointer { x in
            weights.decoderPositions.withUnsafeBufferPointer { positions in
                for b in 0..<batch {
                    for t in 0..<steps {
                        let row = x.start + (b * steps + t) * d
                        let position = positions.start + (start + t) * d
                        for i in 0..<d { row[i] = position[i] }
                        weights.embedding.add(tokens[b][t], to: row)
                    }
                }
            }
        }
        for (index, layer) in weights.decoderLayers.enumerated() {
            // Causal self-attention through the cache.
            let qkv = layer.selfQKV(layer.selfAttentionNorm(x, rows: rows), rows: rows)
            state.append(layer: index, qkv: qkv, steps: steps)
            let attended = state.selfAttention(layer: index, qkv: qkv, steps: steps)
            add(layer.selfOut(attended, rows: rows), to: &x)
            // Cross-attention to the window's encoder output.
            let query = layer.crossQuery(layer.crossNorm(x, rows: rows), rows: rows)
            let crossed = state.crossAttention(layer: index, query: query, rows: rows)
            add(layer.crossOut(crossed, rows: rows), to: &x)
            feedForward(layer.ffnNorm, layer.ffnIn, layer.ffnOut, x: &x, rows: rows)
        }
        state.length += steps
        // A prompt fed to a single hypothesis is read on every later step by every hypothesis.
        if batch == 1 && steps > 1 { state.moveIntoPrefix() }
        let wanted = logitRows ?? [steps - 1]
        var selected = [Float](repeating: 0, count: batch * wanted.count * d)
        for b in 0..<batch {
            for (j, row) in wanted.enumerated() {
                let from = (b * steps + row) * d, to = (b * wanted.count + j) * d
                for i in 0..<d { selected[to + i] = x[from + i] }
            }
        }
        let normalized = weights.decoderNorm(selected, rows: batch * wanted.count)
        return logits(normalized, rows: batch * wanted.count)
    }

    /// The output projection, tied to the token embedding.
    private func logits(_ x: [Float], rows: Int) -> [Float] {
        weights.embedding.projection(x, rows: rows)
    }
}
