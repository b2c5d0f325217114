import Foundation
import HarkAudio
import HarkDecoding
import HarkFeatures
@_exported import enum HarkModel.ComputeType
import HarkModel
import HarkTokenizer

/// Why a transcription failed, as one line a user can act on.
public enum TranscriptionError: Error, CustomStringConvertible, Sendable {
    case audio(AudioError)
    case model(ModelError)
    case tokenizer(TokenizerError)
    /// The language code is not one the model knows.
    case unknownLanguage(String, known: [String])
    /// The request needs a multilingual model.
    case needsMultilingualModel(String)
    /// ``CancellationFlag/cancel()`` was called.
    case cancelled

    public var description: String {
        switch self {
        case .audio(let error): return error.description
        case .model(let error): return error.description
        case .tokenizer(let error): return error.description
        case .unknownLanguage(let code, let known):
            return "unknown language '\(code)'; this model knows: \(known.joined(separator: ", "))"
        case .needsMultilingualModel(let what):
            return "\(what) needs a multilingual model (e.g. --model base); this one is English-only"
        case .cancelled:
            return "interrupted"
        }
    }

    /// Whether the model (its weights, configuration or tokenizer) failed, not the recording.
    public var isModelProblem: Bool {
        switch self {
        case .model, .tokenizer: return true
        case .audio, .unknownLanguage, .needsMultilingualModel, .cancelled: return false
        }
    }
}

/// Loads a Whisper model once and transcribes any number of recordings with it.
///
/// ```swift
/// let transcriber = try Transcriber(model: url)
/// let transcript = try transcriber.transcribe(path: "note.wav")
/// print(transcript.text)
/// ```
public final class Transcriber: Sendable {
    /// The network.
    public let model: WhisperModel
    let configuration: ModelConfiguration
    /// The tokenizer, read on another core from `init` on (a large JSON text).
    private let pendingTokenizer: Concurrent<Tokenizer, TranscriptionError>
    private let modelPath: String

    /// Loads a model with its tokenizer and configuration: a CTranslate2 model directory, or a
    /// Hark int8 file (made by `hark quantize`, which carries its tokenizer and configuration).
    /// `int8` quantizes a float model's matrix products while loading.
    ///
    /// The tokenizer is read on another core while the weights load. With
    /// `waitingForTokenizer: false` this returns as soon as the weights are in, and the first
    /// transcription encodes its first window while the tokenizer is still being read (a cold
    /// voice note is done sooner, most of all on a slow machine); a missing or malformed
    /// tokenizer then fails that transcription, and ``tokenizer()``, instead of this call.
    public init(model location: URL, computeType: ComputeType = .float32,
                waitingForTokenizer: Bool = true) throws(TranscriptionError) {
        var isDirectory: ObjCBool = false
        let directory = FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory) && isDirectory.boolValue
        modelPath = location.path
        do throws(ModelError) {
            if directory {
                pendingTokenizer = Concurrent { () throws(TranscriptionError) in
                    do throws(TokenizerError) { return try Tokenizer(modelDirectory: location) } catch { throw .tokenizer(error) }
                }
                model = try WhisperModel(at: location, computeType: computeType)
                configuration = try ModelConfiguration(directory: location)
                try configuration.check(vocabularySize: model.dimensions.vocabularySize,
                                        source: location.appendingPathComponent("config.json").path)
            } else {
                let file = try SafetensorsFile(path: location.path)
                let metadata = file.metadata
                pendingTokenizer = Concurrent { () throws(TranscriptionError) in try Self.tokenizer(carriedBy: metadata, path: location.path) }
                model = try WhisperModel(int8File: file, computeType: computeType)
                guard let json = metadata[Int8ModelFile.Key.configuration] else {
                    throw ModelError.badConfig(path: location.path, detail: "the file carries no config.json; make it again with hark quantize")
                }
                configuration = try ModelConfiguration(json: Data(json.utf8), source: location.path + " (config.json)")
                try configuration.check(vocabularySize: model.dimensions.vocabularySize, source: location.path + " (config.json)")
            }
        } catch {
            throw .model(error)
        }
        if waitingForTokenizer { _ = try tokenizer() }
    }

    /// The model's tokenizer, once it is read (this waits for it); throws if the model's
    /// tokenizer files are missing, malformed, or do not fit the model.
    public func tokenizer() throws(TranscriptionError) -> Tokenizer {
        let tokenizer = try pendingTokenizer.value()
        guard tokenizer.vocabularySize == model.dimensions.vocabularySize else {
            throw .model(.unsupported(path: modelPath,
                                      detail: "tokenizer has \(tokenizer.vocabularySize) tokens, model \(model.dimensions.vocabularySize)"))
        }
        return tokenizer
    }

    /// The tokenizer a Hark int8 file carries in its metadata.
    private static func tokenizer(carriedBy metadata: [String: String], path: String) throws(TranscriptionError) -> Tokenizer {
        guard let json = metadata[Int8ModelFile.Key.tokenizer] else {
            throw .model(.badConfig(path: path, detail: "the file carries no tokenizer.json; make it again with hark quantize"))
        }
        var vocabulary: [String]?
        if let listed = metadata[Int8ModelFile.Key.vocabulary] {
            guard let tokens = try? JSONDecoder().decode([String].self, from: Data(listed.utf8)) else {
                throw .model(.badConfig(path: path, detail: "its vocabulary.json is not a list of strings"))
            }
            vocabulary = tokens
        }
        do {
            return try Tokenizer(tokenizerJSON: Data(json.utf8), vocabulary: vocabulary, source: path + " (tokenizer.json)")
        } catch {
            throw .tokenizer(error)
        }
    }

    /// Transcribes a recording on disk, streaming it in bounded memory.
    /// - Parameter progress: called once at 0% when the duration is known, then after every 30-second window.
    /// - Parameter cancellation: checked between windows; raising it throws ``TranscriptionError/cancelled``.
    public func transcribe(path: String, options: TranscriptionOptions = TranscriptionOptions(),
                           cancellation: CancellationFlag? = nil,
                           progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        var features: StreamedFeatures
        let started = ContinuousClock.now
        do {
            features = try StreamedFeatures(path: path, melCount: model.dimensions.melCount)
        } catch {
            throw .audio(error)
        }
        let firstPass = (ContinuousClock.now - started).seconds
        var transcript = try transcribe(features: &features, duration: features.duration, options: options,
                                        cancellation: cancellation, progress: progress)
        transcript.statistics.features += firstPass
        return transcript
    }

    /// Transcribes 16 kHz mono samples held in memory.
    public func transcribe(samples: [Float], options: TranscriptionOptions = TranscriptionOptions(),
                           cancellation: CancellationFlag? = nil,
                           progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        var features = MelSpectrogram(samples: samples, melCount: model.dimensions.melCount)
        return try transcribe(features: &features, duration: Double(samples.count) / Double(AudioReader.sampleRate),
                              options: options, cancellation: cancellation, progress: progress)
    }

    /// The long-form loop (``LongForm``) over `features`, with this model and its tokenizer.
    func transcribe<F: FeatureSource>(features: inout F, duration: Double, options: TranscriptionOptions,
                                      cancellation: CancellationFlag?,
                                      progress: ((TranscriptionProgress) -> Void)?) throws(TranscriptionError) -> Transcript {
        try LongForm.transcribe(features: &features, duration: duration, options: options,
                                model: WhisperWindowModel(model: model, configuration: configuration),
                                tokenizer: tokenizer, cancellation: cancellation, progress: progress)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// Work started on another thread at once, its result collected later with ``value()``.
private final class Concurrent<Value: Sendable, Failure: Error>: @unchecked Sendable {
    private var result: Result<Value, Failure>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws(Failure) -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = Result(catching: work)
            self.done.signal()
        }
    }

    /// Waits for the work (once) and returns or throws its outcome.
    func value() throws(Failure) -> Value {
        done.wait()
        done.signal()
        guard let result else { preconditionFailure("Concurrent: signalled without a result") }
        return try result.get()
    }
}
