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

/// Every weight of a Whisper model in 32-bit float, checked against the architecture.
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

    /// Reads every tensor; with `int8`, each matrix is quantized as soon as it is read, so the
    /// float copy of the whole model never exists at once.
    init(file: CTranslate2File, computeType: ComputeType = .float32) throws(ModelError) {
        self.computeType = computeType
        func stored(_ layer: Linear) -> Linear { computeType == .int8 ? layer.quantizedToInt8() : layer }
        guard file.specName.isEmpty || file.specName == "WhisperSpec" else {
            throw .unsupported(path: file.path, detail: "a \(file.specName) model, not Whisper")
        }
        guard let conv1Shape = file.shape("encoder/conv1/weight"), conv1Shape.count == 3,
              let embeddingShape = file.shape("decoder/embeddings/weight"), embeddingShape.count == 2,
              let encoderPositionShape = file.shape("encoder/position_encodings/encodings"),
              let decoderPositionShape = file.shape("decoder/position_encodings/encodings")
        else {
            throw .unsupported(path: file.path, detail: "no Whisper encoder/decoder tensors")
        }
        let width = conv1Shape[0]
        func countLayers(_ prefix: String) -> Int {
            var n = 0
            while file.variables["\(prefix)/layer_\(n)/ffn/linear_0/weight"] != nil { n += 1 }
            return n
        }
        let dimensions = WhisperDimensions(
            melCount: conv1Shape[1], modelWidth: width,
            encoderLayers: countLayers("encoder"), decoderLayers: countLayers("decoder"),
            encoderHeads: file.scalar("encoder/num_heads") ?? width / 64,
            decoderHeads: file.scalar("decoder/num_heads") ?? width / 64,
            vocabularySize: embeddingShape[0],
            audioContext: encoderPositionShape.first ?? 0, textContext: decoderPositionShape.first ?? 0)
        guard dimensions.encoderLayers > 0, dimensions.decoderLayers > 0,
              width % dimensions.encoderHeads == 0, width % dimensions.decoderHeads == 0,
              embeddingShape[1] == width
        else {
            throw .unsupported(path: file.path, detail: "inconsistent dimensions \(dimensions)")
        }
        self.dimensions = dimensions
        let ffnWidth = file.shape("encoder/layer_0/ffn/linear_0/weight")?.first ?? 4 * width

        func linear(_ name: String, outputs: Int, inputs: Int, bias: Bool = true) throws(ModelError) -> Linear {
            stored(Linear(weight: try file.floats("\(name)/weight", shape: [outputs, inputs]),
                          bias: bias ? try file.floats("\(name)/bias", shape: [outputs]) : nil,
                          inputs: inputs, outputs: outputs))
        }
        func norm(_ name: String) throws(ModelError) -> LayerNorm {
            LayerNorm(gamma: try file.floats("\(name)/gamma", shape: [width]),
                      beta: try file.floats("\(name)/beta", shape: [width]))
        }
        func convolution(_ name: String, inputs: Int) throws(ModelError) -> Linear {
            // [out][in][k] flattens to [out][in·k]: the im2col column order is (in, k).
            stored(Linear(weight: try file.floats("\(name)/weight", shape: [width, inputs, 3]),
                          bias: try file.floats("\(name)/bias", shape: [width]), inputs: inputs * 3, outputs: width))
        }

        conv1 = try convolution("encoder/conv1", inputs: dimensions.melCount)
        conv2 = try convolution("encoder/conv2", inputs: width)
        encoderPositions = try file.floats("encoder/position_encodings/encodings", shape: [dimensions.audioContext, width])
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
        let embedding = TokenEmbedding(floats: try file.floats("decoder/embeddings/weight",
                                                               shape: [dimensions.vocabularySize, width]), width: width)
        self.embedding = computeType == .int8 ? embedding.quantizedToInt8() : embedding
        decoderPositions = try file.floats("decoder/position_encodings/encodings", shape: [dimensions.textContext, width])
        var decoderLayers: [DecoderLayerWeights] = []
        for i in 0..<dimensions.decoderLayers {
            let p = "decoder/layer_\(i)"
            decoderLayers.append(DecoderLayerWeights(
                selfAttentionNorm: try norm("\(p)/self_attention/layer_norm"),
                selfQKV: try linear("\(p)/self_attention/linear_0", outputs: 3 * width, inputs: width),
                selfOut: try linear("\(p)/self_attention/linear_1", outputs: width, inputs: width),
                crossNorm: try norm("\(p)/attention/layer_norm"),
                crossQuery: try linear("\(p)/attention/linear_0", outputs: width, inputs: width),
                crossKeyValue: try linear("\(p)/attention/linear_1", outputs: 2 * width, inputs: width),
                crossOut: try linear("\(p)/attention/linear_2", outputs: width, inputs: width),
                ffnNorm: try norm("\(p)/ffn/layer_norm"),
                ffnIn: try linear("\(p)/ffn/linear_0", outputs: ffnWidth, inputs: width),
                ffnOut: try linear("\(p)/ffn/linear_1", outputs: width, inputs: ffnWidth)))
        }
        self.decoderLayers = decoderLayers
        decoderNorm = try norm("decoder/layer_norm")
        if let projection = file.shape("decoder/projection/weight"), projection != embeddingShape {
            throw .unsupported(path: file.path, detail: "an output projection not tied to the token embedding")
        }
    }
}

/// The numeric type of a model's matrix products.
public enum ComputeType: String, Sendable, CaseIterable {
    /// 32-bit float weights and activations.
    case float32
    /// int8 weights (per output channel) and activations (per row, quantized on the fly);
    /// LayerNorm, softmax, GELU and residuals stay in float.
    case int8
}

/// The token embedding, whose transpose is also the output projection: float, or int8 rows
/// with one scale each.
struct TokenEmbedding: Sendable {
    let width: Int
    /// The output projection `logits = x Eᵀ`.
    let projection: Linear
    private let floats: [Float]
    private let values: [Int8]
    private let scales: [Float]

    init(floats: [Float], width: Int) {
        self.width = width
        self.floats = floats
        values = []
        scales = []
        projection = Linear(weight: floats, bias: nil, inputs: width, outputs: floats.count / max(width, 1))
    }

    private init(projection: Linear, values: [Int8], scales: [Float], width: Int) {
        self.width = width
        self.projection = projection
        self.values = values
        self.scales = scales
        floats = []
    }

    func quantizedToInt8() -> TokenEmbedding {
        let projection = self.projection.quantizedToInt8()
        guard let matrix = projection.quantized else { return self }
        return TokenEmbedding(projection: projection, values: matrix.int8Values(), scales: matrix.scales, width: width)
    }

    /// Adds the embedding of `token` to `width` floats at `destination`.
    func add(_ token: Int, to destination: UnsafeMutablePointer<Float>) {
        if floats.isEmpty {
            let scale = scales[token]
            values.withUnsafeBufferPointer { v in
                for i in 0..<width { destination[i] += Float(v[token * width + i]) * scale }
            }
        } else {
            floats.withUnsafeBufferPointer { e in
                for i in 0..<width { destination[i] += e[token * width + i] }
            }
        }
    }
}
