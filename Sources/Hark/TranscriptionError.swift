package import HarkAudio
internal import HarkModel
internal import HarkModelStore
internal import HarkTokenizer

/// Why loading a model or transcribing a recording failed: a kind to act on in code and a
/// one-line message to show a user.
public struct TranscriptionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The recording cannot be read: missing, empty, not audio, corrupt, or too large.
        case audio
        /// No model has that name (it is not installed) or the path holds no model.
        case modelNotFound
        /// The model's files are malformed, incomplete or unsupported.
        case model
        /// A model could not be fetched (network, checksum, disk).
        case modelFetch
        /// The language is not one the model knows.
        case unknownLanguage
        /// The request needs a multilingual model (another language, or translation).
        case needsMultilingualModel
        /// An option is out of its range (see ``TranscriptionOptions/validate()``).
        case invalidOptions
        /// The transcription was cancelled.
        case cancelled
    }

    /// What went wrong, broadly.
    public let kind: Kind
    /// One line saying what went wrong and, where it can, what to do about it.
    public let message: String

    /// The audio error behind an error of kind ``Kind/audio``, when there is one.
    package let audioError: AudioError?

    /// Makes an error of `kind` with a message.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
        audioError = nil
    }

    private init(_ error: AudioError) {
        kind = .audio
        message = error.description
        audioError = error
    }

    /// The message.
    public var description: String { message }

    /// Whether the model (its weights, configuration or tokenizer) failed, not the recording.
    public var isModelProblem: Bool { kind == .model }

    package static func audio(_ error: AudioError) -> TranscriptionError { .init(error) }
    static func model(_ error: ModelError) -> TranscriptionError { .init(.model, error.description) }
    static func tokenizer(_ error: TokenizerError) -> TranscriptionError { .init(.model, error.description) }
    static func modelNotFound(_ error: ModelStoreError) -> TranscriptionError { .init(.modelNotFound, error.description) }
    static func modelFetch(_ error: FetchError) -> TranscriptionError { .init(.modelFetch, error.description) }

    /// The language `code` is not among `known`.
    package static func unknownLanguage(_ code: String, known: [String]) -> TranscriptionError {
        .init(.unknownLanguage, "unknown language '\(code)'; this model knows: \(known.joined(separator: ", "))")
    }

    /// `what` (e.g. "translation") needs a multilingual model.
    package static func needsMultilingualModel(_ what: String) -> TranscriptionError {
        .init(.needsMultilingualModel, "\(what) needs a multilingual model (e.g. base); this one is English-only")
    }

    /// The transcription was stopped.
    static let cancelled = TranscriptionError(.cancelled, "interrupted")
}
