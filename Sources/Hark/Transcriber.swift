public import Foundation
internal import HarkAudio
internal import HarkDecoding
internal import HarkFeatures
package import HarkModel
internal import HarkModelStore
package import HarkTokenizer

/// Loads a Whisper model once and transcribes any number of recordings with it.
///
/// ```swift
/// let transcriber = try Transcriber(model: "base")
/// for try await segment in transcriber.segments(of: .path("note.wav")) {
///     print(segment.text)
/// }
/// ```
///
/// Each transcriber computes on threads of its own (``threads`` per call), so transcribers in
/// one process work at once without slowing each other beyond sharing the cores; calls on one
/// transcriber from several tasks are safe, each with threads of its own while it runs (the
/// weights are shared).
public final class Transcriber: Sendable {
    /// The model, as it was named when loaded.
    public let modelName: String
    /// The precision the model computes in.
    public let computeType: ComputeType
    /// The threads the model computes on, for each call.
    public var threads: Int { pools.threads }
    /// The compute threads, the transcriber's own.
    private let pools: ComputePools
    /// The network.
    package let model: WhisperModel
    let configuration: ModelConfiguration
    /// The tokenizer, read on another core from `init` on (a large JSON text).
    private let pendingTokenizer: Concurrent<Tokenizer, TranscriptionError>
    private let modelPath: String

    /// Loads a model by name from the model store (see ``Models``), or from a path: a model
    /// directory, or an int8 file made by `hark quantize`.
    /// - Parameters:
    ///   - model: A name such as `base` or `tiny.en`, or a path.
    ///   - models: The model store names are looked up in.
    ///   - computeType: The precision to compute in; int8 (the default) quantizes a float
    ///     model's matrix products while loading.
    ///   - threads: The CPU threads to compute on; 0 (the default) takes the online cores, up
    ///     to 8.
    /// - Throws: ``TranscriptionError`` of kind ``TranscriptionError/Kind/modelNotFound`` (with
    ///   the command that installs the model) or ``TranscriptionError/Kind/model``.
    public convenience init(model: String = "base", in models: Models = Models(), computeType: ComputeType = .int8,
                            threads: Int = 0) throws(TranscriptionError) {
        try self.init(location: try models.location(of: model), name: model, computeType: computeType, threads: threads)
    }

    /// Loads the model at `url`: a model directory, or an int8 file made by `hark quantize`.
    /// See ``init(model:in:computeType:threads:)``.
    public convenience init(modelAt url: URL, computeType: ComputeType = .int8, threads: Int = 0) throws(TranscriptionError) {
        try self.init(location: url, name: url.path, computeType: computeType, threads: threads)
    }

    /// Loads a model with its tokenizer and configuration.
    ///
    /// The tokenizer is read on another core while the weights load. With
    /// `waitingForTokenizer: false` this returns as soon as the weights are in, and the first
    /// transcription encodes its first window while the tokenizer is still being read (a cold
    /// voice note is done sooner, most of all on a slow machine); a missing or malformed
    /// tokenizer then fails that transcription, and ``tokenizer()``, instead of this call.
    package init(location: URL, name: String, computeType: ComputeType, threads: Int = 0,
                 waitingForTokenizer: Bool = true) throws(TranscriptionError) {
        var isDirectory: ObjCBool = false
        let directory = FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory) && isDirectory.boolValue
        modelPath = location.path
        modelName = name
        self.computeType = computeType
        let pools = ComputePools(threads: threads)
        self.pools = pools
        // Loading quantizes and converts on the transcriber's own threads.
        let loaded: (Concurrent<Tokenizer, TranscriptionError>, WhisperModel, ModelConfiguration)
        do throws(ModelError) {
            loaded = try pools.run { () throws(ModelError) in try Self.load(location, directory: directory, computeType: computeType) }
        } catch {
            throw .model(error)
        }
        (pendingTokenizer, model, configuration) = loaded
        if waitingForTokenizer { _ = try tokenizer() }
    }

    /// The tokenizer (being read on another thread), the network and the configuration of the
    /// model at `location`: a model directory, or an int8 file carrying the other two.
    private static func load(_ location: URL, directory: Bool, computeType: ComputeType) throws(ModelError)
        -> (Concurrent<Tokenizer, TranscriptionError>, WhisperModel, ModelConfiguration) {
        if directory {
            let tokenizer = Concurrent { () throws(TranscriptionError) in
                do throws(TokenizerError) { return try Tokenizer(modelDirectory: location) } catch { throw .tokenizer(error) }
            }
            let model = try WhisperModel(at: location, computeType: computeType.network)
            let configuration = try ModelConfiguration(directory: location)
            try configuration.check(vocabularySize: model.dimensions.vocabularySize,
                                    source: location.appendingPathComponent("config.json").path)
            return (tokenizer, model, configuration)
        }
        let file = try SafetensorsFile(path: location.path)
        let metadata = file.metadata
        let tokenizer = Concurrent { () throws(TranscriptionError) in try Self.tokenizer(carriedBy: metadata, path: location.path) }
        let model = try WhisperModel(int8File: file, computeType: computeType.network)
        guard let json = metadata[Int8ModelFile.Key.configuration] else {
            throw ModelError.badConfig(path: location.path, detail: "the file carries no config.json; make it again with hark quantize")
        }
        let configuration = try ModelConfiguration(json: Data(json.utf8), source: location.path + " (config.json)")
        try configuration.check(vocabularySize: model.dimensions.vocabularySize, source: location.path + " (config.json)")
        return (tokenizer, model, configuration)
    }

    /// Runs `body` on this transcriber's compute threads.
    func runOnOwnThreads<T>(_ body: () -> T) -> T { pools.run(body) }

    /// Whether the model knows many languages (and can translate); English-only models do not.
    public var isMultilingual: Bool {
        get throws(TranscriptionError) { try tokenizer().isMultilingual }
    }

    /// The codes of the languages the model knows (`["en"]` for an English-only model).
    public var languages: [String] {
        get throws(TranscriptionError) {
            let tokenizer = try tokenizer()
            return tokenizer.isMultilingual ? tokenizer.languageCodes : ["en"]
        }
    }

    /// The model's tokenizer, once it is read (this waits for it); throws if the model's
    /// tokenizer files are missing, malformed, or do not fit the model.
    package func tokenizer() throws(TranscriptionError) -> Tokenizer {
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

    /// Transcribes a recording, on the calling thread (see ``transcript(of:options:progress:)``
    /// and ``segments(of:options:)`` for Swift concurrency).
    /// - Parameters:
    ///   - input: The recording.
    ///   - options: How to transcribe it (checked first, see ``TranscriptionOptions/validate()``).
    ///   - cancellation: Checked between windows; raising it throws a
    ///     ``TranscriptionError/Kind/cancelled`` error.
    ///   - progress: Called once at 0% when the duration is known, then after every 30-second window.
    public func transcribe(_ input: AudioInput, options: TranscriptionOptions = TranscriptionOptions(),
                           cancellation: CancellationFlag? = nil,
                           progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        try options.validate()
        return try pools.run { () throws(TranscriptionError) in
            try transcribeOnThisThread(input, options: options, cancellation: cancellation, progress: progress)
        }
    }

    /// ``transcribe(_:options:cancellation:progress:)`` on the calling thread's compute threads.
    private func transcribeOnThisThread(_ input: AudioInput, options: TranscriptionOptions, cancellation: CancellationFlag?,
                                        progress: ((TranscriptionProgress) -> Void)?) throws(TranscriptionError) -> Transcript {
        var prepared = try PreparedAudio(input, melCount: model.dimensions.melCount)
        var transcript = try transcribe(features: &prepared.features, duration: prepared.duration, options: options,
                                        cancellation: cancellation, progress: progress)
        transcript.statistics.features += prepared.firstPass
        transcript.model = modelName
        transcript.computeType = computeType
        return transcript
    }

    /// Transcribes a recording on disk, streaming it in bounded memory.
    package func transcribe(path: String, options: TranscriptionOptions = TranscriptionOptions(),
                            cancellation: CancellationFlag? = nil,
                            progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        try transcribe(.path(path), options: options, cancellation: cancellation, progress: progress)
    }

    /// Transcribes 16 kHz mono samples held in memory.
    package func transcribe(samples: [Float], options: TranscriptionOptions = TranscriptionOptions(),
                            cancellation: CancellationFlag? = nil,
                            progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        try transcribe(.samples(samples, sampleRate: AudioReader.sampleRate), options: options,
                       cancellation: cancellation, progress: progress)
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
