import CHarkKernels
import Foundation
import HarkKernels

/// The shape of a Whisper model, read off its weights.
public struct WhisperDimensions: Sendable, Equatable {
    public var melCount: Int
    public var modelWidth: Int
    public var encoderLayers: Int
    public var decoderLayers: Int
    public var encoderHeads: Int
    public var decoderHeads: Int
    public var vocabularySize: Int
    /// Encoder positions (1500 for 30 s windows).
    public var audioContext: Int
    /// Decoder positions (448).
    public var textContext: Int

    public var headWidth: Int { modelWidth / decoderHeads }
}

struct EncoderLayerWeights: Sendable {
    let attentionNorm: LayerNorm
    let qkv: Linear
    let attentionOut: Linear
    let ffnNorm: LayerNorm
    let ffnIn: Linear
    let ffnOut: Linear
}

struct DecoderLayerWeights: Sendable {
    let selfAttentionNorm: LayerNorm
    let selfQKV: Linear
    let selfOut: Linear
    let crossNorm: LayerNorm
    let crossQuery: Linear
    let crossKeyValue: Linear
    let crossOut: Linear
    let ffnNorm: LayerNorm
    let ffnIn: Linear
    let ffnOut: Linear
}

/// Every weight of a Whisper model, checked against the architecture: matrices in int8 or in
/// 32-bit float (kept as the file's half-precision values when it stores them so).
struct WhisperWeights: Sendable {
    let dimensions: WhisperDimensions
    let conv1: Linear          // [width][mels·3] as a matrix product over im2col windows
    let conv2: Linear          // [width][width·3]
    let encoderPositions: [Float]
    let encoderLayers: [EncoderLayerWeights]
    let encoderNorm: LayerNorm
    let embedding: TokenEmbedding   // [vocab][width], also the output projection
    let decoderPositions: [Float]
    let decoderLayers: [DecoderLayerWeights]
    let decoderNorm: LayerNorm
    /// The numeric type of the matrix products.
    let computeType: ComputeType

    /// Reads every tensor; with `int8`, each matrix the plan quantizes is taken as stored
    /// when the file holds it in int8, else quantized as soon as it is read, so the float copy
    /// of the whole model never exists at once. A float matrix the file stores in half
    /// precision stays so in memory (see ``LinearWeights/float16(_:)``).
    init(source: some WeightSource, computeType: ComputeType = .float32,
         plan: QuantizationPlan = .standard) throws(ModelError) {
        self.computeType = computeType
        let dimensions = try WhisperDimensions(source: source)
        let width = dimensions.modelWidth
        self.dimensions = dimensions
        let ffnWidth = source.shape("encoder/layer_0/ffn/linear_0/weight")?.first ?? 4 * width
        guard ffnWidth > 0 else { throw .unsupported(path: source.path, detail: "an empty feed-forward layer") }

        /// The matrix `name/weight` of `shape` (flattened to outputs × inputs), in int8 when
        /// the compute type and plan say so. In float, half-precision weights stay so when the
        /// decoder's steps read them (`readByFewRows`); the encoder's and the cross-attention
        /// keys' and values', only ever multiplied with a window's 1500 rows by BLAS, are
        /// widened once here instead of for every window.
        func matrix(_ name: String, shape: [Int], bias: [Float]?, readByFewRows: Bool) throws(ModelError) -> Linear {
            let weightName = "\(name)/weight"
            let outputs = shape[0], inputs = shape.dropFirst().reduce(1, *)
            guard let stored = source.shape(weightName) else { throw .badTensor(name: weightName, detail: "missing") }
            guard stored == shape else { throw .badTensor(name: weightName, detail: "shape \(stored), expected \(shape)") }
            let int8 = computeType == .int8 && plan.quantizes(name)
            if int8, let quantized = try source.storedInt8(weightName, rows: outputs, columns: inputs) {
                return Linear(quantized: quantized, bias: bias, inputs: inputs, outputs: outputs)
            }
            if int8, let reader = source.floatRowReader(weightName, columns: inputs) {
                // Quantized a block of rows at a time: no float copy of the matrix.
                return Linear(quantized: QuantizedMatrix(rows: outputs, columns: inputs, quantizingRowsFrom: reader),
                              bias: bias, inputs: inputs, outputs: outputs)
            }
            if !int8, let halves = try source.storedFloat16(weightName, count: outputs * inputs) {
                let storage: LinearWeights = readByFewRows ? .float16(halves) : .float32(withExtendedLifetime(halves) { halves.buffer.widened() })
                return Linear(storage: storage, bias: bias, inputs: inputs, outputs: outputs)
            }
            let layer = Linear(weight: try source.floats(weightName, shape: shape), bias: bias, inputs: inputs, outputs: outputs)
            return int8 ? layer.quantizedToInt8() : layer
        }
        func linear(_ name: String, outputs: Int, inputs: Int, readByFewRows: Bool = false) throws(ModelError) -> Linear {
            try matrix(name, shape: [outputs, inputs], bias: try source.floats("\(name)/bias", shape: [outputs]),
                       readByFewRows: readByFewRows)
        }
        func norm(_ name: String) throws(ModelError) -> LayerNorm {
            LayerNorm(gamma: try source.floats("\(name)/gamma", shape: [width]),
                      beta: try source.floats("\(name)/beta", shape: [width]))
        }
        func convolution(_ name: String, inputs: Int) throws(ModelError) -> Linear {
            // [out][in][k] flattens to [out][in·k]: the im2col column order is (in, k).
            try matrix(name, shape: [width, inputs, 3], bias: try source.floats("\(name)/bias", shape: [width]), readByFewRows: false)
        }

        conv1 = try convolution("encoder/conv1", inputs: dimensions.melCount)
        conv2 = try convolution("encoder/conv2", inputs: width)
        encoderPositions = try source.floats("encoder/position_encodings/encodings", shape: [dimensions.audioContext, width])
        var encoderLayers: [EncoderLayerWeights] = []
        for i in 0..<dimensions.encoderLayers {
            let p = "encoder/layer_\(i)"
            encoderLayers.append(EncoderLayerWeights(
                attentionNorm: try norm("\(p)/self_attention/layer_norm"),
                qkv: try linear("\(p)/self_attention/linear_0", outputs: 3 * width, inputs: width),
                attentionOut: try linear("\(p)/self_attention/linear_1", outputs: width, inputs: width),
                ffnNorm: try norm("\(p)/ffn/layer_norm"),
                ffnIn: try linear("\(p)/ffn/linear_0", outputs: ffnWidth, inputs: width),
                ffnOut: try linear("\(p)/ffn/linear_1", outputs: width, inputs: ffnWidth)))
        }
        self.encoderLayers = encoderLayers
        encoderNorm = try norm("encoder/layer_norm")
        embedding = TokenEmbedding(projection: try matrix("decoder/embeddings", shape: [dimensions.vocabularySize, width], bias: nil,
                                                           readByFewRows: true))
        decoderPositions = try source.floats("decoder/position_encodings/encodings", shape: [dimensions.textContext, width])
        var decoderLayers: [DecoderLayerWeights] = []
        for i in 0..<dimensions.decoderLayers {
            let p = "decoder/layer_\(i)"
            decoderLayers.append(DecoderLayerWeights(
                selfAttentionNorm: try norm("\(p)/self_attention/layer_norm"),
                selfQKV: try linear("\(p)/self_attention/linear_0", outputs: 3 * width, inputs: width, readByFewRows: true),
                selfOut: try linear("\(p)/self_attention/linear_1", outputs: width, inputs: width, readByFewRows: true),
                crossNorm: try norm("\(p)/attention/layer_norm"),
                crossQuery: try linear("\(p)/attention/linear_0", outputs: width, inputs: width, readByFewRows: true),
                crossKeyValue: try linear("\(p)/attention/linear_1", outputs: 2 * width, inputs: width),
                crossOut: try linear("\(p)/attention/linear_2", outputs: width, inputs: width, readByFewRows: true),
                ffnNorm: try norm("\(p)/ffn/layer_norm"),
                ffnIn: try linear("\(p)/ffn/linear_0", outputs: ffnWidth, inputs: width, readByFewRows: true),
                ffnOut: try linear("\(p)/ffn/linear_1", outputs: width, inputs: ffnWidth, readByFewRows: true)))
        }
        self.decoderLayers = decoderLayers
        decoderNorm = try norm("decoder/layer_norm")
        if let projection = source.shape("decoder/projection/weight"), projection != [dimensions.vocabularySize, width] {
            throw .unsupported(path: source.path, detail: "an output projection not tied to the token embedding")
        }
    }
}

extension WhisperDimensions {
    /// The dimensions of the Whisper model in `source`, read off the shapes of its tensors.
    init(source: some WeightSource) throws(ModelError) {
        guard source.specName.isEmpty || source.specName == "WhisperSpec" else {
            throw .unsupported(path: source.path, detail: "a \(source.specName) model, not Whisper")
        }
        guard let conv1Shape = source.shape("encoder/conv1/weight"), conv1Shape.count == 3,
              let embeddingShape = source.shape("decoder/embeddings/weight"), embeddingShape.count == 2,
              let encoderPositionShape = source.shape("encoder/position_encodings/encodings"),
              let decoderPositionShape = source.shape("decoder/position_encodings/encodings")
        else {
            throw .unsupported(path: source.path, detail: "no Whisper encoder/decoder tensors")
        }
        let width = conv1Shape[0]
        // A head count that is stored must be a whole number; only an absent one is derived.
        for name in ["encoder/num_heads", "decoder/num_heads"] where source.shape(name) != nil && source.scalar(name) == nil {
            throw .unsupported(path: source.path, detail: "\(name) is not a whole number")
        }
        func countLayers(_ prefix: String) -> Int {
            var n = 0
            while source.shape("\(prefix)/layer_\(n)/ffn/linear_0/weight") != nil { n += 1 }
            return n
        }
        let dimensions = WhisperDimensions(
            melCount: conv1Shape[1], modelWidth: width,
            encoderLayers: countLayers("encoder"), decoderLayers: countLayers("decoder"),
            encoderHeads: source.scalar("encoder/num_heads") ?? width / 64,
            decoderHeads: source.scalar("decoder/num_heads") ?? width / 64,
            vocabularySize: embeddingShape[0],
            audioContext: encoderPositionShape.first ?? 0, textContext: decoderPositionShape.first ?? 0)
        try dimensions.check(path: source.path, embeddingWidth: embeddingShape[1])
        self = dimensions
    }

    /// The encoder's positions: a 30-s window of 3000 mel frames, halved by the strided
    /// second convolution.
    static let windowPositions = 1500

    /// Checks the shape rules the network and its kernels rely on, so that a malformed file
    /// is an error, never a division by zero or an out-of-bounds read.
    func check(path: String, embeddingWidth: Int) throws(ModelError) {
        func fail(_ rule: String) -> ModelError {
            .unsupported(path: path, detail: "\(rule) (dimensions \(self))")
        }
        guard encoderLayers > 0, decoderLayers > 0 else { throw fail("no encoder or decoder layers") }
        guard modelWidth > 0, embeddingWidth == modelWidth else { throw fail("the embedding width is not the model width") }
        for heads in [encoderHeads, decoderHeads] {
            // Heads split the width evenly into blocks of 8 values (the attention kernels' unit).
            guard heads > 0, heads <= modelWidth, modelWidth % heads == 0, (modelWidth / heads) % 8 == 0 else {
                throw fail("\(heads) attention heads do not split the width \(modelWidth) into multiples of 8")
            }
        }
        guard melCount == 80 || melCount == 128 else { throw fail("\(melCount) mel bands; Whisper uses 80 or 128") }
        guard audioContext == Self.windowPositions else {
            throw fail("\(audioContext) encoder positions; Whisper's 30-s window has \(Self.windowPositions)")
        }
        guard textContext >= 16 else { throw fail("\(textContext) decoder positions, too few for a window's tokens") }
        guard vocabularySize > 0 else { throw fail("an empty vocabulary") }
    }
}

/// The numeric type of a model's matrix products.
public enum ComputeType: String, Sendable, CaseIterable {
    /// 32-bit float weights and activations (weights a file stores in half precision are kept
    /// so and widened exactly as they are read).
    case float32
    /// int8 weights (per output channel) and activations (per row, quantized on the fly);
    /// LayerNorm, softmax, GELU and residuals stay in float.
    case int8
}

/// The token embedding, whose transpose is also the output projection: float, or int8 rows
/// with one scale each (looked up in the packed int8 matrix, no second copy).
struct TokenEmbedding: Sendable {
    /// The output projection `logits = x Eᵀ`; its weight rows are the embeddings.
    let projection: Linear
    var width: Int { projection.inputs }

    init(projection: Linear) {
        self.projection = projection
    }

    /// Adds the embedding of `token` to `width` floats at `destination`.
    func add(_ token: Int, to destination: UnsafeMutablePointer<Float>) {
        let width = self.width
        switch projection.storage {
        case .int8(let quantized):
            quantized.addRow(token, to: destination)
        case .float32(let weight):
            weight.withUnsafeBufferPointer { e in
                for i in 0..<width { destination[i] += e[token * width + i] }
            }
        case .float16(let halves):
            withExtendedLifetime(halves) {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { row in
                    guard let widened = row.baseAddress else { return }
                    hark_f16_to_f32(halves.base + token * width, widened, width)
                    for i in 0..<width { destination[i] += widened[i] }
                }
            }
        }
    }
}
