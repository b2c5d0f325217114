import Foundation
import Hark

/// The numeric precisions a model can be evaluated at, and how the transcriber is loaded at
/// each. A compute type the transcriber does not support yet has no loader: it is reported as
/// "not available yet" and skipped.
public enum ComputeTypeSupport {
    /// Every compute type `hark eval` knows, in report order; float32 is the baseline.
    public static let known = ["float32", "int8"]
    /// The baseline every other compute type of the same model is compared with.
    public static let baseline = "float32"

    /// Loaders by compute type.
    static let loaders: [String: @Sendable (URL, Int) throws -> Transcriber] = [
        "float32": { try Transcriber(modelAt: $0, computeType: .float32, threads: $1) },
        "int8": { try Transcriber(modelAt: $0, computeType: .int8, threads: $1) },
    ]

    /// Whether the transcriber supports `computeType` yet.
    public static func isAvailable(_ computeType: String) -> Bool { loaders[computeType] != nil }

    /// Loads the model in `directory` at `computeType`, on `threads` threads (0: automatic).
    public static func load(_ directory: URL, computeType: String, threads: Int = 0) throws -> Transcriber {
        guard let loader = loaders[computeType] else {
            throw EvaluationError.computeTypeNotAvailable(computeType)
        }
        return try loader(directory, threads)
    }
}

/// Why an evaluation could not be run or compared.
public enum EvaluationError: Error, CustomStringConvertible, Sendable {
    case computeTypeNotAvailable(String)
    /// An earlier report given as the float32 baseline cannot serve as one.
    case baselineMismatch(source: String, reason: String)

    public var description: String {
        switch self {
        case .computeTypeNotAvailable(let type): return "compute type \(type) is not available yet"
        case .baselineMismatch(let source, let reason):
            return "\(source): cannot be the float32 baseline: \(reason)"
        }
    }
}

/// One system to evaluate: a model at a compute type, with decoding options.
public struct EvaluationSystem: Sendable {
    /// The model's name as shown in reports ("tiny.en").
    public var model: String
    public var modelDirectory: URL
    public var computeType: String
    public var options: TranscriptionOptions

    public init(model: String, modelDirectory: URL, computeType: String, options: TranscriptionOptions) {
        self.model = model
        self.modelDirectory = modelDirectory
        self.computeType = computeType
        self.options = options
    }

    /// "tiny.en float32".
    public var label: String { "\(model) \(computeType)" }
}

/// Where an evaluation has got, for progress displays.
public struct EvaluationProgress: Sendable {
    public enum Stage: Sendable { case loading, decoding, finished }
    public var stage: Stage
    /// The system, counted from 1, of `systemCount`.
    public var systemIndex: Int
    public var systemCount: Int
    public var system: String
    /// Utterances done so far (0 while loading), of `utteranceCount`.
    public var utterancesDone: Int
    public var utteranceCount: Int
    /// The utterance just decoded.
    public var utteranceID: String?
}

/// Runs systems over a manifest and scores them.
///
/// ```swift
/// let manifest = try Manifest(contentsOf: url, limit: 100)
/// let evaluation = Evaluation(manifest: manifest)
/// let report = evaluation.run([EvaluationSystem(model: "tiny.en", modelDirectory: dir,
///                                               computeType: "float32", options: options)])
/// print(report.markdown())
/// ```
public struct Evaluation: Sendable {
    public var manifest: Manifest
    public var normalizer: any TextNormalizer

    public init(manifest: Manifest, normalizer: any TextNormalizer = EnglishTextNormalizer()) {
        self.manifest = manifest
        self.normalizer = normalizer
    }

    /// Evaluates each system in turn (one model load each), then compares every system with
    /// the float32 run of the same model and options.
    public func run(_ systems: [EvaluationSystem], threads: Int? = nil,
                    progress: ((EvaluationProgress) -> Void)? = nil) -> EvaluationReport {
        var results: [SystemResult] = []
        for (index, system) in systems.enumerated() {
            results.append(evaluate(system, index: index + 1, of: systems.count, threads: threads, progress: progress))
        }
        Self.attachComparisons(&results, systems: systems)
        return EvaluationReport(manifest: manifest.path, utteranceCount: manifest.entries.count,
                                normalizer: normalizer.name, threads: threads, systems: results)
    }

    /// Evaluates one system.
    public func evaluate(_ system: EvaluationSystem, index: Int = 1, of count: Int = 1, threads: Int? = nil,
                         progress: ((EvaluationProgress) -> Void)? = nil) -> SystemResult {
        var result = SystemResult(model: system.model, modelDirectory: system.modelDirectory.path,
                                   computeType: system.computeType, beamSize: system.options.beamSize)
        result.modelFileBytes = (try? FileManager.default.attributesOfItem(
            atPath: system.modelDirectory.appendingPathComponent("model.bin").path)[.size] as? NSNumber)?.intValue
        let total = manifest.entries.count
        func report(_ stage: EvaluationProgress.Stage, _ done: Int, _ id: String?) {
            progress?(EvaluationProgress(stage: stage, systemIndex: index, systemCount: count, system: system.label,
                                         utterancesDone: done, utteranceCount: total, utteranceID: id))
        }

        // The previous system's model is gone by now: restart the peak from here.
        result.peakRSSScope = ProcessMemory.resetPeak() ? "system" : "process"
        report(.loading, 0, nil)
        let clock = ContinuousClock()
        let loadStart = clock.now
        let transcriber: Transcriber
        do {
            transcriber = try ComputeTypeSupport.load(system.modelDirectory, computeType: system.computeType, threads: threads ?? 0)
        } catch {
            result.loadError = "\(error)"
            result.failures = total
            return result
        }
        result.loadSeconds = (clock.now - loadStart).seconds

        for (number, entry) in manifest.entries.enumerated() {
            var utterance = UtteranceResult(id: entry.id, audio: entry.audioPath, reference: entry.text)
            let start = clock.now
            do {
                let transcript = try transcriber.transcribe(.path(entry.audioPath), options: system.options)
                utterance.decodeSeconds = (clock.now - start).seconds
                utterance.audioSeconds = transcript.duration
                let hypothesis = transcript.text.trimmingCharacters(in: .whitespacesAndNewlines)
                utterance.hypothesis = hypothesis
                let referenceWords = normalizer.words(entry.text), hypothesisWords = normalizer.words(hypothesis)
                utterance.wordEdits = Alignment.counts(reference: referenceWords, hypothesis: hypothesisWords)
                utterance.characterEdits = Alignment.counts(reference: ErrorRate.characters(referenceWords),
                                                            hypothesis: ErrorRate.characters(hypothesisWords))
            } catch {
                utterance.decodeSeconds = (clock.now - start).seconds
                utterance.error = "\(error)"
            }
            result.utterances.append(utterance)
            report(.decoding, number + 1, entry.id)
        }
        result.peakRSSBytes = ProcessMemory.peakResidentBytes()
        result.summarise()
        report(.finished, total, nil)
        withExtendedLifetime(transcriber) {}
        return result
    }

    /// Sets `comparison` on each non-baseline system that has a float32 run of the same model
    /// and beam size.
    static func attachComparisons(_ results: inout [SystemResult], systems: [EvaluationSystem]) {
        for index in results.indices where results[index].computeType != ComputeTypeSupport.baseline {
            guard let baseline = results.indices.first(where: {
                results[$0].computeType == ComputeTypeSupport.baseline
                    && results[$0].modelDirectory == results[index].modelDirectory
                    && systems[$0].options == systems[index].options
            }) else { continue }
            results[index].comparison = BaselineComparison(system: results[index], baseline: results[baseline])
        }
    }
}

/// The outcome of one utterance.
public struct UtteranceResult: Sendable, Codable, Equatable {
    public var id: String
    public var audio: String
    public var reference: String
    /// The transcript, trimmed; `nil` when decoding failed.
    public var hypothesis: String?
    /// Why decoding failed.
    public var error: String?
    public var audioSeconds = 0.0
    public var decodeSeconds = 0.0
    /// Word-level edits of the normalised texts (`nil` when decoding failed).
    public var wordEdits: EditCounts?
    public var characterEdits: EditCounts?

    public init(id: String, audio: String, reference: String, hypothesis: String? = nil, error: String? = nil,
                audioSeconds: Double = 0, decodeSeconds: Double = 0, wordEdits: EditCounts? = nil,
                characterEdits: EditCounts? = nil) {
        self.id = id
        self.audio = audio
        self.reference = reference
        self.hypothesis = hypothesis
        self.error = error
        self.audioSeconds = audioSeconds
        self.decodeSeconds = decodeSeconds
        self.wordEdits = wordEdits
        self.characterEdits = characterEdits
    }

    enum CodingKeys: String, CodingKey {
        case id, audio, reference, hypothesis, error
        case audioSeconds = "audio_seconds", decodeSeconds = "decode_seconds"
        case wordEdits = "word_edits", characterEdits = "character_edits"
    }
}

/// One system's scores and costs over a manifest.
public struct SystemResult: Sendable, Codable, Equatable {
    public var model: String
    public var modelDirectory: String
    public var computeType: String
    public var beamSize: Int
    /// Why the model could not be loaded (then nothing was decoded).
    public var loadError: String?
    public var loadSeconds: Double?
    /// The size of model.bin.
    public var modelFileBytes: Int?
    /// VmHWM after the run: of this system alone when `peakRSSScope` is "system" (the peak
    /// was reset before its model was loaded), else of the whole process so far.
    public var peakRSSBytes: Int?
    public var peakRSSScope = "process"
    public var utterances: [UtteranceResult] = []
    /// Utterances that failed to decode (all of them when the model failed to load).
    public var failures = 0
    /// Totals over the utterances decoded.
    public var wordEdits = EditCounts()
    public var characterEdits = EditCounts()
    public var audioSeconds = 0.0
    /// Wall time spent transcribing, model load excluded.
    public var decodeSeconds = 0.0
    /// Set for non-baseline compute types with a float32 run of the same model.
    public var comparison: BaselineComparison?

    public init(model: String, modelDirectory: String, computeType: String, beamSize: Int) {
        self.model = model
        self.modelDirectory = modelDirectory
        self.computeType = computeType
        self.beamSize = beamSize
    }

    /// "tiny.en float32".
    public var label: String { "\(model) \(computeType)" }
    /// Corpus word error rate (total word edits / total reference words) as a fraction.
    public var wordErrorRate: Double { wordEdits.rate }
    /// Corpus character error rate as a fraction.
    public var characterErrorRate: Double { characterEdits.rate }
    /// Seconds of audio per second of wall time ("× real time"; higher is faster).
    public var speed: Double { decodeSeconds > 0 ? audioSeconds / decodeSeconds : 0 }
    /// The real-time factor: wall seconds per second of audio (lower is faster).
    public var realTimeFactor: Double { audioSeconds > 0 ? decodeSeconds / audioSeconds : 0 }

    /// Recomputes the totals from `utterances`.
    public mutating func summarise() {
        let decoded = utterances.filter { $0.error == nil }
        failures = utterances.count - decoded.count
        wordEdits = decoded.compactMap(\.wordEdits).reduce(EditCounts(), +)
        characterEdits = decoded.compactMap(\.characterEdits).reduce(EditCounts(), +)
        audioSeconds = decoded.map(\.audioSeconds).reduce(0, +)
        decodeSeconds = utterances.map(\.decodeSeconds).reduce(0, +)
    }

    enum CodingKeys: String, CodingKey {
        case model, modelDirectory = "model_directory", computeType = "compute_type", beamSize = "beam_size"
        case loadError = "load_error", loadSeconds = "load_seconds", modelFileBytes = "model_file_bytes"
        case peakRSSBytes = "peak_rss_bytes", peakRSSScope = "peak_rss_scope"
        case failures, wordEdits = "word_edits", characterEdits = "character_edits"
        case wordErrorRate = "wer", characterErrorRate = "cer"
        case audioSeconds = "audio_seconds", decodeSeconds = "decode_seconds"
        case speed = "speed", realTimeFactor = "rtf", comparison, utterances
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        modelDirectory = try c.decode(String.self, forKey: .modelDirectory)
        computeType = try c.decode(String.self, forKey: .computeType)
        beamSize = try c.decode(Int.self, forKey: .beamSize)
        loadError = try c.decodeIfPresent(String.self, forKey: .loadError)
        loadSeconds = try c.decodeIfPresent(Double.self, forKey: .loadSeconds)
        modelFileBytes = try c.decodeIfPresent(Int.self, forKey: .modelFileBytes)
        peakRSSBytes = try c.decodeIfPresent(Int.self, forKey: .peakRSSBytes)
        peakRSSScope = try c.decodeIfPresent(String.self, forKey: .peakRSSScope) ?? "process"
        failures = try c.decode(Int.self, forKey: .failures)
        wordEdits = try c.decode(EditCounts.self, forKey: .wordEdits)
        characterEdits = try c.decode(EditCounts.self, forKey: .characterEdits)
        audioSeconds = try c.decode(Double.self, forKey: .audioSeconds)
        decodeSeconds = try c.decode(Double.self, forKey: .decodeSeconds)
        comparison = try c.decodeIfPresent(BaselineComparison.self, forKey: .comparison)
        utterances = try c.decodeIfPresent([UtteranceResult].self, forKey: .utterances) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(modelDirectory, forKey: .modelDirectory)
        try c.encode(computeType, forKey: .computeType)
        try c.encode(beamSize, forKey: .beamSize)
        try c.encodeIfPresent(loadError, forKey: .loadError)
        try c.encodeIfPresent(loadSeconds, forKey: .loadSeconds)
        try c.encodeIfPresent(modelFileBytes, forKey: .modelFileBytes)
        try c.encodeIfPresent(peakRSSBytes, forKey: .peakRSSBytes)
        try c.encode(peakRSSScope, forKey: .peakRSSScope)
        try c.encode(failures, forKey: .failures)
        try c.encode(wordEdits, forKey: .wordEdits)
        try c.encode(characterEdits, forKey: .characterEdits)
        // An empty reference with a non-empty hypothesis has an infinite rate: null in JSON.
        try c.encodeIfPresent(wordErrorRate.isFinite ? wordErrorRate : nil, forKey: .wordErrorRate)
        try c.encodeIfPresent(characterErrorRate.isFinite ? characterErrorRate : nil, forKey: .characterErrorRate)
        try c.encode(audioSeconds, forKey: .audioSeconds)
        try c.encode(decodeSeconds, forKey: .decodeSeconds)
        try c.encode(speed, forKey: .speed)
        try c.encode(realTimeFactor, forKey: .realTimeFactor)
        try c.encodeIfPresent(comparison, forKey: .comparison)
        try c.encode(utterances, forKey: .utterances)
    }
}

/// How a system scores against the float32 run of the same model, utterance by utterance.
public struct BaselineComparison: Sendable, Codable, Equatable {
    /// The baseline's label ("tiny.en float32").
    public var baseline: String
    /// Utterances decoded by both.
    public var utterances: Int
    /// Utterances with more word errors than the baseline's.
    public var worse: Int
    /// Utterances with fewer word errors.
    public var better: Int
    /// Utterances with as many word errors.
    public var same: Int
    /// Corpus WERs (fractions) over the utterances decoded by both.
    public var baselineWordErrorRate: Double
    public var wordErrorRate: Double
    /// `wordErrorRate - baselineWordErrorRate` (a fraction; ×100 for percentage points).
    public var absoluteChange: Double { wordErrorRate - baselineWordErrorRate }
    /// The change relative to the baseline (a fraction; `nil` when the baseline is 0).
    public var relativeChange: Double? {
        baselineWordErrorRate > 0 ? absoluteChange / baselineWordErrorRate : nil
    }

    public init(system: SystemResult, baseline: SystemResult) {
        self.baseline = baseline.label
        let base = Dictionary(baseline.utterances.compactMap { u in u.wordEdits.map { (u.id, $0) } }) { a, _ in a }
        var worse = 0, better = 0, same = 0, count = 0
        var systemTotal = EditCounts(), baselineTotal = EditCounts()
        for utterance in system.utterances {
            guard let edits = utterance.wordEdits, let baseEdits = base[utterance.id] else { continue }
            count += 1
            systemTotal += edits
            baselineTotal += baseEdits
            if edits.errors > baseEdits.errors { worse += 1 } else if edits.errors < baseEdits.errors { better += 1 } else { same += 1 }
        }
        utterances = count
        self.worse = worse
        self.better = better
        self.same = same
        baselineWordErrorRate = baselineTotal.rate
        wordErrorRate = systemTotal.rate
    }

    enum CodingKeys: String, CodingKey {
        case baseline, utterances, worse, better, same
        case baselineWordErrorRate = "baseline_wer", wordErrorRate = "wer"
        case absoluteChange = "wer_change_absolute", relativeChange = "wer_change_relative"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        baseline = try c.decode(String.self, forKey: .baseline)
        utterances = try c.decode(Int.self, forKey: .utterances)
        worse = try c.decode(Int.self, forKey: .worse)
        better = try c.decode(Int.self, forKey: .better)
        same = try c.decode(Int.self, forKey: .same)
        baselineWordErrorRate = try c.decodeIfPresent(Double.self, forKey: .baselineWordErrorRate) ?? .infinity
        wordErrorRate = try c.decodeIfPresent(Double.self, forKey: .wordErrorRate) ?? .infinity
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(baseline, forKey: .baseline)
        try c.encode(utterances, forKey: .utterances)
        try c.encode(worse, forKey: .worse)
        try c.encode(better, forKey: .better)
        try c.encode(same, forKey: .same)
        func finite(_ value: Double?) -> Double? { value.flatMap { $0.isFinite ? $0 : nil } }
        try c.encodeIfPresent(finite(baselineWordErrorRate), forKey: .baselineWordErrorRate)
        try c.encodeIfPresent(finite(wordErrorRate), forKey: .wordErrorRate)
        try c.encodeIfPresent(finite(absoluteChange), forKey: .absoluteChange)
        try c.encodeIfPresent(finite(relativeChange), forKey: .relativeChange)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
