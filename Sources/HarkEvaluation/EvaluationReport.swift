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
            if system.loadError != nil {
                cells += Array(repeating: "—", count: Self.columns.count - cells.count)
                cells[Self.columns.count - 3] = "model failed to load"
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
