import Foundation
import HarkAudio
import Hark

/// Why a recording could not be transcribed.
public struct EngineFailure: Error, Sendable, CustomStringConvertible {
    /// One line for the log and the ledger.
    public var reason: String
    /// The file was not there (deleted or moved away before it could be read).
    public var fileVanished: Bool

    public init(reason: String, fileVanished: Bool = false) {
        self.reason = reason
        self.fileVanished = fileVanished
    }

    public var description: String { reason }
}

/// A finished transcription: its duration and how to render it in each output format.
public struct TranscriptionOutput: Sendable {
    /// Seconds of audio.
    public var duration: Double
    /// The plain text.
    public var text: String
    private let renderer: @Sendable (TranscriptFormat, _ model: String, _ computeType: String, TranscriptSource?) -> String

    /// A Whisper transcript, rendered by `TranscriptFormat.render`.
    public init(_ transcript: Transcript) {
        duration = transcript.duration
        text = transcript.text
        renderer = { format, model, computeType, source in
            format.render(transcript, model: model, computeType: ComputeType(rawValue: computeType), source: source)
        }
    }

    /// Any other renderer (test engines).
    public init(duration: Double, text: String,
                render: @escaping @Sendable (TranscriptFormat, _ model: String, _ computeType: String, TranscriptSource?) -> String) {
        self.duration = duration
        self.text = text
        renderer = render
    }

    /// Renders one format; `source` is recorded in the JSON output.
    public func render(_ format: TranscriptFormat, model: String, computeType: String, source: TranscriptSource? = nil) -> String {
        renderer(format, model, computeType, source)
    }
}

/// Turns a recording into a transcript. The watcher calls it from several threads at once
/// with `--jobs` above 1. Unit tests use a deterministic fake; the real one is `WhisperEngine`.
public protocol TranscriptionEngine: Sendable {
    /// The model's name, as recorded in the ledger and in JSON outputs.
    var modelName: String { get }
    /// The numeric precision ("float32").
    var computeType: String { get }
    /// Transcribes one file.
    func transcribe(path: String) throws(EngineFailure) -> TranscriptionOutput
}

/// Hark's Whisper transcriber: the model is loaded once and shared by all jobs (it is immutable).
public final class WhisperEngine: TranscriptionEngine {
    public let transcriber: Transcriber
    public let options: TranscriptionOptions
    public let modelName: String
    public let computeType: String

    public init(transcriber: Transcriber, options: TranscriptionOptions, modelName: String,
                computeType: String = "float32") throws(EngineFailure) {
        self.transcriber = transcriber
        self.options = options
        self.modelName = modelName
        self.computeType = computeType
        try validate()
    }

    /// Checks the options against the model up front, so that a wrong `--language` stops the
    /// watcher at start rather than failing every file.
    private func validate() throws(EngineFailure) {
        let multilingual: Bool, languages: [String]
        do { (multilingual, languages) = (try transcriber.isMultilingual, try transcriber.languages) } catch {
            throw EngineFailure(reason: error.description)
        }
        if let language = options.language {
            if multilingual {
                guard languages.contains(language) else {
                    throw EngineFailure(reason: TranscriptionError.unknownLanguage(language, known: languages).description)
                }
            } else if language != "en" {
                throw EngineFailure(reason: TranscriptionError.unknownLanguage(language, known: ["en"]).description
                                    + " (\(modelName) is English-only; use a multilingual model such as base)")
            }
        }
        if !multilingual && options.task == .translate {
            throw EngineFailure(reason: TranscriptionError.needsMultilingualModel("translation").description)
        }
    }

    public func transcribe(path: String) throws(EngineFailure) -> TranscriptionOutput {
        do {
            return TranscriptionOutput(try transcriber.transcribe(.path(path), options: options))
        } catch {
            if case .fileNotFound = error.audioError { throw EngineFailure(reason: error.description, fileVanished: true) }
            throw EngineFailure(reason: error.description)
        }
    }
}
