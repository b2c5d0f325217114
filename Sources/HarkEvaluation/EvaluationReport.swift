import Foundation

/// A system that was asked for but not run.
public struct SkippedSystem: Sendable, Codable, Equatable {
    public var model: String
    public var computeType: String
    public var reason: String

    public init(model: String, computeType: String, reason: String) {
        self.model = model
        self.computeType = computeType
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case model, computeType = "compute_type", reason }
}

/// The results of an evaluation: a Markdown table for people, JSON for programs.
public struct EvaluationReport: Sendable, Codable, Equatable {
    /// The manifest's path.
    public var manifest: String
    /// Utterances evaluated per system.
    public var utteranceCount: Int
    /// The text normaliser applied to references and hypotheses ("english", "basic").
    public var normalizer: String
    /// CPU threads given to the model, if set.
    public var threads: Int?
    public var systems: [SystemResult]
    public var skipped: [SkippedSystem] = []
    /// Where float32 runs taken from an earlier report came from (``compare(withBaselinesOf:source:)``).
    public var baselineSource: String?

    public init(manifest: String, utteranceCount: Int, normalizer: String, threads: Int? = nil,
                systems: [SystemResult], skipped: [SkippedSystem] = []) {
        self.manifest = manifest
        self.utteranceCount = utteranceCount
        self.normalizer = normalizer
        self.threads = threads
        self.systems = systems
        self.skipped = skipped
    }

    /// Utterances that failed in any system (model load failures count every utterance).
    public var failures: Int { systems.map(\.failures).reduce(0, +) }

    enum CodingKeys: String, CodingKey {
        case manifest, utteranceCount = "utterance_count", normalizer, threads, systems, skipped
        case baselineSource = "baseline_source"
    }

    /// Compares every system without a float32 run in this report with the float32 run of the
    /// same model and beam size in `earlier` (a report of the same manifest, from `hark eval
    /// --json`), restricted to the utterances evaluated here, and lists that run before it,
    /// noted as coming from `source`. For re-evaluating int8 after a change without running
    /// float32 again.
    ///
    /// - Throws: ``EvaluationError/baselineMismatch(source:reason:)`` when the normalisers
    ///   differ, or `earlier` has no such run or lacks some of the utterances evaluated here.
    public mutating func compare(withBaselinesOf earlier: EvaluationReport, source: String) throws(EvaluationError) {
        var result: [SystemResult] = []
        for system in systems {
            let hasOwnBaseline = systems.contains {
                $0.computeType == ComputeTypeSupport.baseline && $0.model == system.model && $0.beamSize == system.beamSize
            }
            guard system.computeType != ComputeTypeSupport.baseline, !hasOwnBaseline, system.loadError == nil else {
                result.append(system)
                continue
            }
            let baseline = try earlier.baselineRun(model: system.model, beamSize: system.beamSize,
                                                   ids: system.utterances.map(\.id), normalizer: normalizer, source: source)
            var compared = system
            compared.comparison = BaselineComparison(system: system, baseline: baseline)
            if !result.contains(where: { $0.label == baseline.label && $0.beamSize == baseline.beamSize }) {
                result.append(baseline)
            }
            result.append(compared)
        }
        systems = result
        baselineSource = source
    }

    /// This report's float32 run of `model` at `beamSize`, cut down to the utterances `ids`
    /// (in that order) and summed again; `source` names the report in errors.
    ///
    /// - Throws: ``EvaluationError/baselineMismatch(source:reason:)`` when this report used
    ///   another normaliser than `normalizer`, has no such run, or lacks one of `ids`.
    public func baselineRun(model: String, beamSize: Int, ids: [String], normalizer: String,
                            source: String) throws(EvaluationError) -> SystemResult {
        guard self.normalizer == normalizer else {
            throw .baselineMismatch(source: source, reason: "its normaliser is \(self.normalizer), this run's \(normalizer)")
        }
        guard var baseline = systems.first(where: {
            $0.computeType == ComputeTypeSupport.baseline && $0.model == model && $0.beamSize == beamSize && $0.loadError == nil
        }) else {
            throw .baselineMismatch(source: source, reason: "it has no \(model) float32 run with beam size \(beamSize)")
        }
        let byID = Dictionary(baseline.utterances.map { ($0.id, $0) }) { first, _ in first }
        let missing = ids.filter { byID[$0] == nil }
        if let first = missing.first {
            throw .baselineMismatch(source: source, reason: "\(missing.count) of the \(ids.count) utterances are not in it (first: \(first))")
        }
        baseline.utterances = ids.compactMap { byID[$0] }
        baseline.peakRSSBytes = nil
        baseline.loadSeconds = nil
        baseline.summarise()
        return baseline
    }

    /// The column headers of `markdown()`, in order.
    public static let columns = [
        "system", "beam", "utterances", "failed", "WER %", "sub", "del", "ins", "CER %", "× real time", "RTF",
        "load s", "model MiB", "peak RSS MiB", "vs float32: worse / better / same", "ΔWER (points)", "ΔWER (relative)",
    ]

    /// A Markdown table, one row per system, then notes.
    public func markdown() -> String {
        func number(_ value: Double?, _ digits: Int) -> String {
            guard let value, value.isFinite else { return "—" }
            return String(format: "%.\(digits)f", value)
        }
        func mebibytes(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "—" }
        var lines = ["| " + Self.columns.joined(separator: " | ") + " |",
                     "|" + Self.columns.indices.map { $0 == 0 ? "---" : "---:" }.joined(separator: "|") + "|"]
        for system in systems {
            var cells = [system.label, String(system.beamSize), String(system.utterances.count), String(system.failures)]
            if system.loadError != nil || (!system.utterances.isEmpty && system.failures == system.utterances.count) {
                // Nothing was decoded: no rate to give (it read 0.00 when every utterance failed).
                cells += Array(repeating: "n/a", count: Self.columns.count - cells.count)
                cells[Self.columns.count - 3] = system.loadError != nil ? "model failed to load" : "every utterance failed"
            } else {
                cells += [number(system.wordErrorRate * 100, 2), String(system.wordEdits.substitutions),
                          String(system.wordEdits.deletions), String(system.wordEdits.insertions),
                          number(system.characterErrorRate * 100, 2), number(system.speed, 1),
                          number(system.realTimeFactor, 3), number(system.loadSeconds, 2),
                          mebibytes(system.modelFileBytes), mebibytes(system.peakRSSBytes)]
                if let comparison = system.comparison {
                    cells += ["\(comparison.worse) / \(comparison.better) / \(comparison.same)",
                              (comparison.absoluteChange >= 0 ? "+" : "") + number(comparison.absoluteChange * 100, 2),
                              comparison.relativeChange.map { ($0 >= 0 ? "+" : "") + number($0 * 100, 1) + " %" } ?? "—"]
                } else if system.computeType == ComputeTypeSupport.baseline {
                    cells += ["baseline", "—", "—"]
                } else {
                    cells += ["no float32 run", "—", "—"]
                }
            }
            lines.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append("\(utteranceCount) utterances of \(manifest); corpus-level WER and CER (total edits / total reference "
                     + "words or characters) after the \(normalizer) normaliser; × real time = audio seconds / decoding "
                     + "wall seconds, RTF its inverse (model load excluded)"
                     + (threads.map { "; \($0) threads" } ?? "") + ".")
        let scopes = Set(systems.filter { $0.loadError == nil }.map(\.peakRSSScope))
        if scopes == ["system"] {
            lines.append("Peak RSS: VmHWM of this process, reset before each system's model load.")
        } else if !scopes.isEmpty {
            lines.append("Peak RSS: VmHWM of the whole process so far (it could not be reset), so later systems include earlier ones.")
        }
        for system in systems {
            if let error = system.loadError { lines.append("\(system.label): \(error)") }
        }
        for skip in skipped { lines.append("\(skip.model) \(skip.computeType): \(skip.reason)") }
        if let baselineSource {
            lines.append("float32 rows: from the earlier report \(baselineSource), on the same utterances (its speed is that run's).")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Pretty-printed JSON (keys sorted); rates are fractions, `null` where undefined.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Each system's hypotheses as `id<TAB>text` lines (tabs and newlines in the text become
    /// spaces; utterances that failed to decode are left out).
    public static func hypothesesTSV(_ system: SystemResult) -> String {
        system.utterances.compactMap { utterance in
            utterance.hypothesis.map { text in
                utterance.id + "\t" + text.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") + "\n"
            }
        }.joined()
    }
}
