internal import HarkModel

/// The numeric precision the model computes in.
public enum ComputeType: String, Sendable, Codable, CaseIterable {
    /// Matrix products in 8-bit integers with a scale per row: about 4× smaller and 2× faster
    /// than float32, for a small accuracy cost (`hark eval` measures it). The default.
    case int8
    /// Everything in 32-bit floating point: the reference.
    case float32

    /// The model's own type.
    var network: HarkModel.ComputeType {
        switch self {
        case .int8: return .int8
        case .float32: return .float32
        }
    }
}
