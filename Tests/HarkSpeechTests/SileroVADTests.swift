import Foundation
import HarkModel
@testable import HarkSpeech
import HarkTestSupport
import XCTest

/// The network against the silero-vad wheel's own ONNX model run by onnxruntime
/// (`Scripts/reference/silero_reference.py`), on real dev clips and on clips with pauses.
final class SileroVADTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Every chunk's probability within 1e-4 of onnxruntime's, on every clip.
    func testProbabilitiesMatchTheONNXModelOnEveryChunk() throws {
        let vad = SileroVAD(weights: try SpeechFixtures.weights())
        var worst: Float = 0
        var chunks = 0
        for clip in try SpeechFixtures.clips() {
            let samples = try SpeechFixtures.samples(of: clip, building: directory)
            let expected = try SpeechFixtures.probabilities(clip.name)
            XCTAssertEqual(expected.samples, samples.count)
            let actual = vad.probabilities(of: samples, padding: .fasterWhisper)
            XCTAssertEqual(actual.count, expected.values.count, clip.name)
            let error = zip(actual, expected.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(error, 1e-4, "\(clip.name): max |Hark - ONNX| over \(actual.count) chunks")
            print("SileroVAD parity \(clip.name): \(actual.count) chunks, max |Hark - onnxruntime| \(error)")
            worst = max(worst, error)
            chunks += actual.count
        }
        print("SileroVAD parity: \(chunks) chunks, max |Hark - onnxruntime| \(worst)")
    }

    /// The wheel's safetensors file loads into the same network; its weights are not the ONNX
    /// model's (upstream issue snakers4/silero-vad#768), which this keeps visible.
    func testTheSafetensorsWeightsRunThroughTheSameNetwork() throws {
        let file = try TestSupport.speechDetectorDirectory().appendingPathComponent(SileroVADWeights.safetensorsFileName)
        let vad = SileroVAD(weights: try SileroVADWeights(contentsOf: file))
        let clip = try XCTUnwrap(try SpeechFixtures.clips().first)
        let samples = try SpeechFixtures.samples(of: clip, building: directory)
        let actual = vad.probabilities(of: samples, padding: .fasterWhisper)
        let tinygrad = try SpeechFixtures.probabilities("\(clip.name).tinygrad").values
        let onnx = try SpeechFixtures.probabilities(clip.name).values
        XCTAssertEqual(actual.count, tinygrad.count)
        XCTAssertLessThanOrEqual(zip(actual, tinygrad).map { abs($0 - $1) }.max() ?? 1, 1e-4, "the numpy port on the same weights")
        XCTAssertGreaterThan(zip(actual, onnx).map { abs($0 - $1) }.max() ?? 0, 0.1, "other weights than the ONNX model's")
    }

    /// A stream fed in pieces (and batched differently) gives the probabilities of the whole.
    func testAStreamInPiecesGivesTheProbabilitiesOfTheWhole() throws {
        let weights = try SpeechFixtures.weights()
        let clip = try XCTUnwrap(try SpeechFixtures.clips().first { $0.name == "pauses-clean" })
        let samples = try SpeechFixtures.samples(of: clip, building: directory)
        let whole = SileroVAD(weights: weights).probabilities(of: samples)

        let chunks = samples.count / SileroVAD.chunkSamples
        for batch in [1, 7, 32] {
            let vad = SileroVAD(weights: weights, batchChunks: batch)
            var streamed = [Float](repeating: -1, count: chunks)
            var done = 0
            var piece = 1
            samples.withUnsafeBufferPointer { input in
                streamed.withUnsafeMutableBufferPointer { output in
                    while done < chunks {
                        let count = min(piece, chunks - done)
                        vad.process(UnsafeBufferPointer(rebasing: input[(done * 512)..<((done + count) * 512)]),
                                    into: UnsafeMutableBufferPointer(rebasing: output[done..<(done + count)]))
                        done += count
                        piece = piece % 45 + 13  // pieces of 1, 14, 27, 40, 8, … chunks
                    }
                }
            }
            let difference = zip(streamed, whole).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThanOrEqual(difference, 1e-6, "batches of \(batch)")
        }
    }

    func testPaddingCountsAndTheExtraChunkOfFasterWhisper() throws {
        for (samples, lastChunk, fasterWhisper) in [(0, 0, 1), (1, 1, 1), (511, 1, 1), (512, 1, 2), (513, 2, 2), (1024, 2, 3)] {
            XCTAssertEqual(SileroVAD.chunkCount(samples: samples, padding: .lastChunk), lastChunk, "\(samples)")
            XCTAssertEqual(SileroVAD.chunkCount(samples: samples, padding: .fasterWhisper), fasterWhisper, "\(samples)")
        }
        let vad = SileroVAD(weights: try SpeechFixtures.weights())
        let tone = (0..<1024).map { Float(sin(Double($0) * 0.05)) * 0.3 }
        let padded = vad.probabilities(of: tone, padding: .fasterWhisper)
        XCTAssertEqual(Array(padded.prefix(2)), vad.probabilities(of: tone, padding: .lastChunk))
        XCTAssertEqual(padded.count, 3)
        XCTAssertEqual(vad.probabilities(of: [], padding: .lastChunk), [])
        XCTAssertEqual(vad.probabilities(of: [], padding: .fasterWhisper).count, 1)
        XCTAssertTrue(padded.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testMissingAndMalformedWeightsSayWhichFileAndHowToFixIt() throws {
        let missing = directory.appendingPathComponent("silero-vad")
        XCTAssertThrowsError(try SileroVADWeights(directory: missing)) { error in
            XCTAssertEqual("\(error)", "\(missing.path)/silero_vad_16k_op15.onnx: cannot read the speech detector's weights (no such file); install them with: hark models fetch silero-vad")
        }
        let installed = try TestSupport.speechDetectorDirectory()
        let onnx = try Data(contentsOf: installed.appendingPathComponent(SileroVADWeights.onnxFileName))
        let cases: [(String, Data, String)] = [
            ("truncated.onnx", onnx.prefix(onnx.count / 2), "(truncated?)"),
            ("empty.onnx", Data(), "no model graph: not an ONNX model"),
            ("text.onnx", Data("not a model at all\n".utf8), "wire type 6 at byte 1"),
            ("weights.safetensors", onnx, "header length"),
        ]
        for (name, bytes, detail) in cases {
            let file = directory.appendingPathComponent(name)
            try bytes.write(to: file)
            XCTAssertThrowsError(try SileroVADWeights(contentsOf: file), name) { error in
                guard case .malformedWeights(let path, let reason) = error as? SpeechDetectorError else {
                    return XCTFail("\(name): \(error)")
                }
                XCTAssertEqual(path, file.path)
                XCTAssertTrue(reason.contains(detail), "\(name): \(reason)")
                XCTAssertTrue("\(error)".hasSuffix("; fetch them again with: hark models fetch silero-vad"), "\(error)")
                XCTAssertEqual("\(error)".split(separator: "\n").count, 1)
            }
        }

        // A safetensors file short of a tensor, or with one of another shape.
        let complete = try SafetensorsFile(path: installed.appendingPathComponent(SileroVADWeights.safetensorsFileName).path)
        func write(_ name: String, dropping dropped: String, reshaping reshaped: String? = nil) throws -> URL {
            let url = directory.appendingPathComponent(name)
            let pending = complete.tensors.filter { $0.key != dropped }.map { name, tensor in
                Safetensors.PendingTensor(name: name, dataType: .float32,
                                          shape: name == reshaped ? [tensor.elementCount] : tensor.shape) { buffer in
                    try complete.withBytes(of: name) { buffer.copyMemory(from: $0) }
                }
            }
            try Safetensors.write(pending, metadata: [:], to: url)
            return url
        }
        XCTAssertThrowsError(try SileroVADWeights(contentsOf: write("a.safetensors", dropping: "conv4.bias"))) { error in
            XCTAssertTrue("\(error)".contains("(no tensor conv4.bias)"), "\(error)")
        }
        XCTAssertThrowsError(try SileroVADWeights(contentsOf: write("b.safetensors", dropping: "", reshaping: "conv2.weight"))) { error in
            XCTAssertTrue("\(error)".contains("(tensor conv2.weight has shape [24576], expected [64, 128, 3])"), "\(error)")
        }
    }

    /// The cost on one thread (printed, not asserted: the machine is shared).
    func testRealTimeFactorOnOneThread() throws {
        let vad = SileroVAD(weights: try SpeechFixtures.weights())
        let clip = try XCTUnwrap(try SpeechFixtures.clips().first { $0.name == "long-speech" })
        let samples = try SpeechFixtures.samples(of: clip, building: directory)
        let audio = Array([[Float]](repeating: samples, count: 4).joined())  // about two minutes
        var best = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<3 {
            let (wall, cpu) = Self.measure { _ = vad.probabilities(of: audio) }
            best = min(best, wall)
            bestCPU = min(bestCPU, cpu)
        }
        let seconds = Double(audio.count) / Double(SileroVAD.sampleRate)
        let chunks = Double(SileroVAD.chunkCount(samples: audio.count, padding: .lastChunk))
        print(String(format: "SileroVAD speed: %.1f s of audio in %.1f ms wall (%.1f ms thread CPU): %.0fx real time, %.1f us per chunk (best of 3, one thread)",
                     seconds, best * 1000, bestCPU * 1000, seconds / best, best / chunks * 1e6))
    }

    /// Wall time and the calling thread's CPU time of `body`, in seconds.
    static func measure(_ body: () -> Void) -> (wall: Double, cpu: Double) {
        func threadCPU() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let clock = ContinuousClock()
        let cpuStart = threadCPU()
        let start = clock.now
        body()
        let elapsed = clock.now - start
        let cpu = threadCPU() - cpuStart
        return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, cpu)
    }
}
