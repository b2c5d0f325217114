/// Which weight matrices of a Whisper model run in int8 when the compute type is int8.
///
/// Matrices are named as in CTranslate2 files, without the `/weight` suffix:
/// `encoder/conv1`, `encoder/layer_3/self_attention/linear_0`, `decoder/embeddings` (the
/// token embedding, which is also the output projection), and so on.
public struct QuantizationPlan: Sendable, Equatable {
    /// Matrices kept in 32-bit float: exact names, or a prefix ending in `/`
    /// (`decoder/layer_0/` keeps the whole first decoder block).
    public var keptInFloat: [String]

    public init(keptInFloat: [String] = []) {
        self.keptInFloat = keptInFloat
    }

    /// Every matrix in int8. Measured with `hark-bench sensitivity` (Models/README.md): the
    /// decoder FFN is the most sensitive group (keeping it in float removes the whole increase of
    /// the reference tokens' NLL on tiny.en), but it costs a large share of the decoding speed
    /// and of the file size budget, so it is an option (`hark quantize --keep-float`), not the
    /// default.
    public static let standard = QuantizationPlan()

    /// Everything in float: the reference the sensitivity measurement compares against.
    public static let nothing = QuantizationPlan(keptInFloat: ["encoder/", "decoder/"])

    /// Whether the matrix `name` runs in int8.
    public func quantizes(_ name: String) -> Bool {
        !keptInFloat.contains { kept in kept.hasSuffix("/") ? name.hasPrefix(kept) : name == kept }
    }

    /// The names of the weight matrices of a model with `dimensions`, in file order.
    public static func matrixNames(for dimensions: WhisperDimensions) -> [String] {
        var names = ["encoder/conv1", "encoder/conv2"]
        for i in 0..<dimensions.encoderLayers {
            names += ["self_attention/linear_0", "self_attention/linear_1", "ffn/linear_0", "ffn/linear_1"]
                .map { "encoder/layer_\(i)/\($0)" }
        }
        names.append("decoder/embeddings")
        for i in 0..<dimensions.decoderLayers {
            names += ["self_attention/linear_0", "self_attention/linear_1",
                      "attention/linear_0", "attention/linear_1", "attention/linear_2",
                      "ffn/linear_0", "ffn/linear_1"]
                .map { "decoder/layer_\(i)/\($0)" }
        }
        return names
    }
}
