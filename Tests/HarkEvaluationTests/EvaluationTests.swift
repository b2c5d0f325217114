import Foundation
import HarkEvaluation
import HarkTestSupport
import Hark
import XCTest

enum TestSupportPaths {
    static var devClean: URL { TestSupport.sharedData.appendingPathComponent("dev-clean.tsv") }
}

/// The report's comparisons, table and JSON, on made-up results.
final class EvaluationReportTests: XCTestCase {
    private func system(_ computeType: String, errors: [Int], words: Int = 10) -> SystemResult {
        var result = SystemResult(model: "tiny.en", modelDirectory: "/models/tiny.en", computeType: computeType, beamSize: 1)
        result.utterances = errors.enumerated().map { index, errors in
            UtteranceResult(id: "u\(index)", audio: "u\(index).wav", reference: "ref", hypothesis: "hyp",
                            audioSeconds: 5, decodeSeconds: 0.5,
                            wordEdits: EditCounts(hits: words - errors, substitutions: errors),
                            characterEdits: EditCounts(hits: 40 - errors, substitutions: errors))
        }
        result.loadSeconds = 0.25
        result.modelFileBytes = 75_000_000
        result.peakRSSBytes = 300 * 1_048_576
        result.peakRSSScope = "system"
        result.summarise()
        return result
    }

    func testComparisonCountsWorseBetterSameAndWERChange() {
        let baseline = system("float32", errors: [1, 2, 0, 3])
        let int8 = system("int8", errors: [2, 1, 0, 5])
        let comparison = BaselineComparison(system: int8, baseline: baseline)
        XCTAssertEqual([comparison.worse, comparison.better, comparison.same], [2, 1, 1])
        XCTAssertEqual(comparison.utterances, 4)
        XCTAssertEqual(comparison.baselineWordErrorRate, 6.0 / 40.0, accuracy: 1e-12)
        XCTAssertEqual(comparison.wordErrorRate, 8.0 / 40.0, accuracy: 1e-12)
        XCTAssertEqual(comparison.absoluteChange, 2.0 / 40.0, accuracy: 1e-12)
        XCTAssertEqual(comparison.relativeChange ?? 0, 1.0 / 3.0, accuracy: 1e-12)
    }

    /// `hark eval --compute-type int8 --baseline earlier.json`: the float32 run of an earlier
    /// report, cut to the utterances evaluated now, becomes the comparison; mismatches fail.
    func testEarlierReportServesAsTheBaselineOnTheSameUtterances() throws {
        // The earlier float32 run covered six utterances; this int8 run the first four.
        let earlierFloat = system("float32", errors: [1, 2, 0, 3, 9, 9])
        let earlier = try JSONDecoder().decode(
            EvaluationReport.self,
            from: EvaluationReport(manifest: "dev.tsv", utteranceCount: 6, normalizer: "english", systems: [earlierFloat]).json())
        var report = EvaluationReport(manifest: "dev.tsv", utteranceCount: 4, normalizer: "english",
                                      systems: [system("int8", errors: [2, 1, 0, 5])])
        try report.compare(withBaselinesOf: earlier, source: "float.json")
        XCTAssertEqual(report.systems.map(\.label), ["tiny.en float32", "tiny.en int8"])
        XCTAssertEqual(report.systems[0].utterances.map(\.id), ["u0", "u1", "u2", "u3"])
        XCTAssertEqual(report.systems[0].wordErrorRate, 6.0 / 40.0, accuracy: 1e-12)
        let comparison = try XCTUnwrap(report.systems[1].comparison)
        XCTAssertEqual([comparison.worse, comparison.better, comparison.same], [2, 1, 1])
        XCTAssertEqual(comparison.absoluteChange, 2.0 / 40.0, accuracy: 1e-12)
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| 2 / 1 / 1 | +5.00 | +33.3 % |"), markdown)
        XCTAssertTrue(markdown.contains("float32 rows: from the earlier report float.json"), markdown)

        // An utterance the earlier run lacks, another normaliser, another model: refused.
        var longer = EvaluationReport(manifest: "dev.tsv", utteranceCount: 7, normalizer: "english",
                                      systems: [system("int8", errors: [0, 0, 0, 0, 0, 0, 0])])
        XCTAssertThrowsError(try longer.compare(withBaselinesOf: earlier, source: "float.json")) { error in
            XCTAssertEqual("\(error)", "float.json: cannot be the float32 baseline: 1 of the 7 utterances are not in it (first: u6)")
        }
        var basic = EvaluationReport(manifest: "dev.tsv", utteranceCount: 4, normalizer: "basic",
                                     systems: [system("int8", errors: [0, 0, 0, 0])])
        XCTAssertThrowsError(try basic.compare(withBaselinesOf: earlier, source: "float.json"))
        var other = system("int8", errors: [0])
        other.model = "base"
        var otherModel = EvaluationReport(manifest: "dev.tsv", utteranceCount: 1, normalizer: "english", systems: [other])
        XCTAssertThrowsError(try otherModel.compare(withBaselinesOf: earlier, source: "float.json")) { error in
            XCTAssertTrue("\(error)".hasSuffix("it has no base float32 run with beam size 1"), "\(error)")
        }
    }

    func testSummaryTotalsAndSpeed() {
        var result = system("float32", errors: [1, 2])
        result.utterances.append(UtteranceResult(id: "bad", audio: "bad.wav", reference: "x", error: "cannot decode"))
        result.summarise()
        XCTAssertEqual(result.failures, 1)
        XCTAssertEqual(result.wordEdits, EditCounts(hits: 17, substitutions: 3))
        XCTAssertEqual(result.wordErrorRate, 0.15, accuracy: 1e-12)
        XCTAssertEqual(result.speed, 10, accuracy: 1e-9)
        XCTAssertEqual(result.realTimeFactor, 0.1, accuracy: 1e-9)
    }

    func testMarkdownAndJSONCarryEveryField() throws {
        var int8 = system("int8", errors: [2, 1, 0, 5])
        let baseline = system("float32", errors: [1, 2, 0, 3])
        int8.comparison = BaselineComparison(system: int8, baseline: baseline)
        let report = EvaluationReport(manifest: "dev.tsv", utteranceCount: 4, normalizer: "english", threads: 2,
                                      systems: [baseline, int8],
                                      skipped: [SkippedSystem(model: "base", computeType: "int8", reason: "not available yet")])
        let markdown = report.markdown()
        let lines = markdown.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "| " + EvaluationReport.columns.joined(separator: " | ") + " |")
        XCTAssertTrue(lines[2].hasPrefix("| tiny.en float32 | 1 | 4 | 0 | 15.00 | 6 | 0 | 0 |"), lines[2])
        XCTAssertTrue(lines[2].contains("| baseline | — | — |"), lines[2])
        XCTAssertTrue(lines[3].hasPrefix("| tiny.en int8 | 1 | 4 | 0 | 20.00 |"), lines[3])
        XCTAssertTrue(lines[3].hasSuffix("| 2 / 1 / 1 | +5.00 | +33.3 % |"), lines[3])
        XCTAssertTrue(markdown.contains("| 10.0 | 0.100 | 0.25 | 71.5 | 300.0 |"), markdown)
        XCTAssertTrue(markdown.contains("base int8: not available yet"), markdown)

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        XCTAssertEqual(object["utterance_count"] as? Int, 4)
        XCTAssertEqual(object["normalizer"] as? String, "english")
        let systems = try XCTUnwrap(object["systems"] as? [[String: Any]])
        for key in ["model", "compute_type", "beam_size", "wer", "cer", "word_edits", "character_edits", "speed", "rtf",
                    "load_seconds", "model_file_bytes", "peak_rss_bytes", "peak_rss_scope", "audio_seconds",
                    "decode_seconds", "failures", "utterances"] {
            XCTAssertNotNil(systems[0][key], key)
        }
        let comparison = try XCTUnwrap(systems[1]["comparison"] as? [String: Any])
        for key in ["baseline", "worse", "better", "same", "wer", "baseline_wer", "wer_change_absolute", "wer_change_relative"] {
            XCTAssertNotNil(comparison[key], key)
        }
        XCTAssertEqual(try JSONDecoder().decode(EvaluationReport.self, from: report.json()), report)
        XCTAssertEqual(EvaluationReport.hypothesesTSV(baseline).split(separator: "\n").first, "u0\thyp")
    }

    func testUnavailableComputeTypeIsNotLoaded() {
        XCTAssertTrue(ComputeTypeSupport.isAvailable("float32"))
        XCTAssertThrowsError(try ComputeTypeSupport.load(URL(fileURLWithPath: "/nonexistent"), computeType: "bogus"))
    }
}

/// A real run: tiny.en, float32, greedy, over the first 10 dev-clean utterances.
final class EvaluationRunTests: XCTestCase {
    func testTinyEnglishOnTenDevCleanUtterances() throws {
        guard FileManager.default.fileExists(atPath: TestSupportPaths.devClean.path) else {
            throw XCTSkip("no shared data at \(TestSupportPaths.devClean.path)")
        }
        let manifest = try Manifest(contentsOf: TestSupportPaths.devClean, limit: 10)
        var options = TranscriptionOptions()
        options.beamSize = 1
        options.language = "en"
        let system = EvaluationSystem(model: "tiny.en", modelDirectory: try TestSupport.modelDirectory("tiny.en"),
                                      computeType: "float32", options: options)
        var progress: [EvaluationProgress] = []
        let report = Evaluation(manifest: manifest).run([system], threads: nil) { progress.append($0) }

        let result = try XCTUnwrap(report.systems.first)
        XCTAssertNil(result.loadError)
        XCTAssertEqual(result.failures, 0)
        XCTAssertEqual(result.utterances.count, 10)
        XCTAssertGreaterThan(result.wordEdits.referenceLength, 50)
        XCTAssertLessThan(result.wordErrorRate, 0.15, report.markdown())
        XCTAssertLessThan(result.characterErrorRate, 0.10)
        XCTAssertGreaterThan(result.audioSeconds, 10)
        XCTAssertGreaterThan(result.speed, 0)
        XCTAssertEqual(result.realTimeFactor * result.speed, 1, accuracy: 1e-9)
        XCTAssertGreaterThan(result.loadSeconds ?? 0, 0)
        XCTAssertGreaterThan(result.modelFileBytes ?? 0, 10_000_000)
        XCTAssertGreaterThan(result.peakRSSBytes ?? 0, result.modelFileBytes ?? 0, "the weights are resident")
        XCTAssertNil(result.comparison, "float32 is the baseline")
        XCTAssertEqual(progress.first?.stage, .loading)
        XCTAssertEqual(progress.filter { $0.stage == .decoding }.map(\.utterancesDone), Array(1...10))
        XCTAssertEqual(progress.last?.stage, .finished)

        let markdown = report.markdown()
        XCTAssertTrue(markdown.hasPrefix("| system | beam | utterances | failed | WER % |"), markdown)
        XCTAssertTrue(markdown.contains("| tiny.en float32 | 1 | 10 | 0 |"), markdown)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        let systems = try XCTUnwrap(object["systems"] as? [[String: Any]])
        XCTAssertEqual(systems.first?["wer"] as? Double ?? 1, result.wordErrorRate, accuracy: 1e-12)
        let utterances = try XCTUnwrap(systems.first?["utterances"] as? [[String: Any]])
        XCTAssertEqual(utterances.count, 10)
        XCTAssertNotNil(utterances.first?["hypothesis"] as? String)
    }
}
