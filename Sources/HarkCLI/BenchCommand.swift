import ArgumentParser
import Foundation
import HarkModel
import HarkModelStore
import Hark

/// `hark bench FILE`: where the time goes for one recording.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time each stage of transcribing one file: model load, audio and features, encoder, decoder.")

    @Argument(help: "An audio file.") var file: String
    @Option(name: .long, help: "Model name or directory.") var model = "base"
    @Option(name: .long, help: "Directory of the model store.") var modelsDir: String?
    @Option(name: .long, help: "Beam width (1 = greedy).") var beamSize = 5
    @Option(name: .long, help: "How many times to transcribe the file; the fastest run is reported.") var runs = 3
    @Option(name: .long, help: "int8 or float32.") var computeType = "int8"
    @Option(name: .long, help: "CPU threads for the model, 1 to 16; 0 or absent: all cores up to 8.") var threads: Int?

    func validate() throws {
        try OptionBounds.check(runs, in: 1...100, option: "--runs")
        try OptionBounds.check(beamSize, in: OptionBounds.hypotheses, option: "--beam-size")
        if let threads { try OptionBounds.check(threads, in: OptionBounds.threads, option: "--threads") }
        guard Hark.ComputeType(rawValue: computeType) != nil else { throw ValidationError("--compute-type must be int8 or float32") }
    }

    func run() throws {
        let directory = try ModelStore(explicit: modelsDir).find(model)
        let loadStarted = Date()
        let transcriber = try Transcriber(modelAt: directory, computeType: Hark.ComputeType(rawValue: computeType) ?? .int8,
                                          threads: OptionBounds.explicitThreads(threads) ?? 0)
        let load = Date().timeIntervalSince(loadStarted)
        var options = TranscriptionOptions()
        options.beamSize = beamSize
        var best: (wall: Double, transcript: Transcript)?
        for _ in 0..<runs {
            let started = Date()
            let transcript = try transcriber.transcribe(.path(file), options: options)
            let wall = Date().timeIntervalSince(started)
            if best == nil || wall < best?.wall ?? .infinity { best = (wall, transcript) }
        }
        guard let (wall, transcript) = best else { return }
        let stats = transcript.statistics
        func row(_ name: String, _ seconds: Double) -> String {
            String(format: "| %@ | %.3f | %.1f%% |", name, seconds, wall > 0 ? 100 * seconds / wall : 0)
        }
        print("\(file): \(String(format: "%.1f", transcript.duration)) s of audio, model \(model) \(computeType), beam \(beamSize), fastest of \(runs) runs")
        print("")
        print("| stage | seconds | share |")
        print("|---|---|---|")
        print(String(format: "| model load (once) | %.3f | |", load))
        print(row("audio decoding + features", stats.features))
        print(row("encoder (\(stats.windows) windows)", stats.encoder))
        print(row("decoder (\(stats.tokens) tokens, \(stats.fallbacks) fallbacks)", stats.decoder))
        print(row("other", max(0, wall - stats.features - stats.encoder - stats.decoder)))
        print(String(format: "| total | %.3f | %.1f× real time |", wall, wall > 0 ? transcript.duration / wall : 0))
        print("")
        print(String(format: "decoder: %.2f ms per token; encoder: %.0f ms per window",
                     stats.tokens > 0 ? 1000 * stats.decoder / Double(stats.tokens) : 0,
                     stats.windows > 0 ? 1000 * stats.encoder / Double(stats.windows) : 0))
    }
}
