/// Why the speech detector could not be loaded. Each case reads as one line that names the file
/// and says how to fix it.
public enum SpeechDetectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The weights file does not exist or cannot be read.
    case missingWeights(path: String, reason: String)
    /// The file is not Silero VAD's 16 kHz weights (not ONNX or safetensors, truncated, a
    /// tensor missing or of another shape or type).
    case malformedWeights(path: String, detail: String)

    /// The command that installs (or repairs) the weights.
    public static let fetchCommand = "hark models fetch silero-vad"

    public var description: String {
        switch self {
        case .missingWeights(let path, let reason):
            return "\(path): cannot read the speech detector's weights (\(reason)); install them with: \(Self.fetchCommand)"
        case .malformedWeights(let path, let detail):
            return "\(path): not Silero VAD 16 kHz weights (\(detail)); fetch them again with: \(Self.fetchCommand)"
        }
    }
}
