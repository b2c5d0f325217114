/// Why a ``Tokenizer`` could not be loaded from a model directory.
///
/// Every case carries the path involved; ``description`` is a one-line message
/// that says what is wrong and what to do about it.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model directory does not exist or is not a directory.
    case modelDirectoryNotFound(path: String)
    /// A file the tokenizer needs is missing from the model directory.
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A file was read but its contents are not what a Whisper model ships.
    case malformedFile(path: String, reason: String)
    /// The vocabulary file and tokenizer.json disagree about a token's id.
    case inconsistentVocabulary(path: String, reason: String)
    /// A special token Whisper needs (such as `<|endoftext|>`) is not in the vocabulary.
    case missingSpecialToken(String)

    public var description: String {
        switch self {
        case .modelDirectoryNotFound(let path):
            return "Model directory \(path) does not exist; pass a CTranslate2 Whisper model directory (run Scripts/setup to fetch the models)."
        case .fileNotFound(let path):
            return "Tokenizer file \(path) is missing; re-download the model directory (run Scripts/setup)."
        case .unreadableFile(let path, let reason):
            return "Cannot read \(path) (\(reason)); check its permissions or re-download the model (run Scripts/setup)."
        case .malformedFile(let path, let reason):
            return "\(path) is not a valid Whisper tokenizer file (\(reason)); re-download the model (run Scripts/setup)."
        case .inconsistentVocabulary(let path, let reason):
            return "\(path) does not match tokenizer.json (\(reason)); the model directory mixes files from different models, re-download it (run Scripts/setup)."
        case .missingSpecialToken(let token):
            return "The vocabulary has no \(token) token; this is not a Whisper model, point at a Whisper model directory."
        }
    }
}
