/// Why a model could not be loaded. Each case reads as one line that says what to do.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model directory or one of its files is missing.
    case missingFile(path: String)
    /// The file ends before the structure it declares (a partial download?).
    case truncated(path: String, detail: String)
    /// The bytes are not a CTranslate2 model file.
    case notAModel(path: String, detail: String)
    /// A CTranslate2 model, but not a Whisper one, or of an unsupported revision.
    case unsupported(path: String, detail: String)
    /// A tensor the Whisper architecture needs is absent or has the wrong shape.
    case badTensor(name: String, detail: String)
    /// config.json could not be read.
    case badConfig(path: String, detail: String)
    /// A model file could not be written.
    case unwritable(path: String, detail: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): model file not found"
        case .truncated(let path, let detail):
            return "\(path): the model file is truncated (\(detail)); fetch the model again"
        case .notAModel(let path, let detail):
            return "\(path): not a CTranslate2 model file (\(detail))"
        case .unsupported(let path, let detail):
            return "\(path): unsupported model (\(detail))"
        case .badTensor(let name, let detail):
            return "model tensor \(name): \(detail); the model file is corrupt or not a Whisper model"
        case .badConfig(let path, let detail):
            return "\(path): unreadable model configuration (\(detail))"
        case .unwritable(let path, let detail):
            return "\(path): cannot write the model file (\(detail))"
        }
    }
}
