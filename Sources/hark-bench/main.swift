// hark-bench: stage-level benchmarks, driven by Scripts/bench-*. Each run prints one line of JSON.
//
//   hark-bench features FILE [--mels 80]
//       Streams FILE through StreamedFeatures (pass 1, the normalisation scan, happens in its
//       init) and then reads every 3000-frame window in order: the cost of decoding plus log-mel
//       features as a transcription sees it, with its peak memory.
//   hark-bench features-only FILE [--mels 80]
//       Decodes the whole file to samples first (untimed), then times LogMelFrames alone over
//       them (append in 1 << 16 sample chunks, then finish).
//   hark-bench kernels [--quick] [--single-thread | --threads-sweep]
//       The int8 matrix product (HarkKernels, activation quantization included) against fp32
//       cblas_sgemm (OpenBLAS, 2 threads) on Whisper tiny and base shapes: one JSON line per
//       shape with the best wall time of several repetitions. --single-thread runs both on the
//       calling thread alone and times them by that thread's CPU time, which other processes
//       on a shared machine do not inflate. --threads-sweep instead times 1 against 2 threads
//       on small products (the parallel cutoff).
//   hark-bench decode-steps MODEL [int8|float32] [STEPS] [ROUNDS] [BEAMS]
//       Decoder steps of BEAMS hypotheses (default 1) after a 150-token prompt, on one encoded
//       window of silence, 2 threads: ms per step of each round (DecodeSteps.swift). The
//       steady-state cost of greedy or beam decoding, without the search around it.
//   hark-bench encoder MODEL [int8|float32] [ROUNDS]
//       ROUNDS encoder windows of a constant input, 2 threads: ms per window (DecodeSteps.swift).
//   hark-bench sensitivity --model DIR --manifest TSV [--manifest TSV] [--limit N]
//       Each group of weight matrices alone in int8 against the float32 model, on the first N
//       recordings of each manifest (Sensitivity.swift); prints a Markdown table.

import COpenBLAS
import Foundation
import HarkAudio
import HarkFeatures
import HarkKernels

struct UsageError: Error, CustomStringConvertible {
    var description: String
}

let usage = """
    usage: hark-bench features FILE [--mels N]
           hark-bench features-only FILE [--mels N]
           hark-bench kernels [--quick] [--single-thread | --threads-sweep]
           hark-bench decode-steps MODEL [int8|float32] [STEPS] [ROUNDS] [BEAMS]
           hark-bench encoder MODEL [int8|float32] [ROUNDS]
           hark-bench sensitivity --model DIR --manifest TSV [--manifest TSV] [--limit N]
    """

/// The process's peak resident set size in bytes (VmHWM), or nil when /proc is unavailable.
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
        return kilobytes * 1024
    }
    return nil
}

/// Seconds elapsed while running `body`.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try body()
    let elapsed = start.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return (result, seconds)
}

/// A JSON value written in the order given, so the lines read the same run after run.
enum JSON {
    case string(String)
    case number(Double)
    case integer(Int)
    case null

    var text: String {
        switch self {
        case .string(let value): return JSON.quote(value)
        case .number(let value): return value.isFinite ? String(format: "%.4f", value) : "null"
        case .integer(let value): return String(value)
        case .null: return "null"
        }
    }

    static func quote(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func object(_ fields: [(String, JSON)]) -> String {
        "{" + fields.map { "\(quote($0.0)): \($0.1.text)" }.joined(separator: ", ") + "}"
    }
}

func peakRSSField() -> JSON {
    peakResidentBytes().map { .number(Double($0) / 1_048_576) } ?? .null
}

struct Options {
    var command: String
    var file: String
    var mels = 80

    init(arguments: [String]) throws(UsageError) {
        guard arguments.count >= 2 else { throw UsageError(description: usage) }
        command = arguments[0]
        file = arguments[1]
        var rest = arguments.dropFirst(2).makeIterator()
        while let argument = rest.next() {
            switch argument {
            case "--mels":
                guard let value = rest.next(), let mels = Int(value), mels > 0 else {
                    throw UsageError(description: "hark-bench: --mels needs a positive integer")
                }
                self.mels = mels
            default:
                throw UsageError(description: "hark-bench: unknown argument '\(argument)'\n\(usage)")
            }
        }
    }
}

/// Two-pass streamed features over the whole file, every window read in order.
func benchStreamedFeatures(_ options: Options) throws -> String {
    let windowFrames = MelSpectrogram.windowFrames
    var windows = 0
    var checksum: Double = 0
    let (features, pass1) = try timed { try StreamedFeatures(path: options.file, melCount: options.mels) }
    var source = features
    let (_, pass2) = try timed {
        var start = 0
        while start < source.contentFrameCount {
            let window = try source.window(startingAt: start, frames: windowFrames)
            checksum += Double(window[0]) + Double(window[window.count - 1])
            windows += 1
            start += windowFrames
        }
    }
    let wall = pass1 + pass2
    return JSON.object([
        ("command", .string("features")),
        ("file", .string(options.file)),
        ("mels", .integer(options.mels)),
        ("source_format", .string(features.sourceFormat.formatName)),
        ("audio_seconds", .number(features.duration)),
        ("frames", .integer(features.frameCount)),
        ("windows", .integer(windows)),
        ("pass1_seconds", .number(pass1)),
        ("pass2_seconds", .number(pass2)),
        ("wall_seconds", .number(wall)),
        ("x_real_time", .number(features.duration / wall)),
        ("peak_rss_mb", peakRSSField()),
        ("checksum", .number(checksum)),
    ])
}

/// Log-mel alone over samples already in memory.
func benchLogMelOnly(_ options: Options) throws -> String {
    let (samples, decodeSeconds) = try timed { try AudioReader.decode(path: options.file) }
    let duration = Double(samples.count) / Double(AudioReader.sampleRate)
    let chunk = 1 << 16
    var frameValues = 0
    var maximum = -Float.infinity
    let (_, seconds) = timed {
        var frames = LogMelFrames(melCount: options.mels)
        samples.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let end = min(offset + chunk, buffer.count)
                let out = frames.append(Array(buffer[offset..<end]))
                frameValues += out.count
                maximum = max(maximum, out.max() ?? maximum)
                offset = end
            }
        }
        let tail = frames.finish()
        frameValues += tail.count
        maximum = max(maximum, tail.max() ?? maximum)
    }
    let frameCount = frameValues / options.mels
    return JSON.object([
        ("command", .string("features-only")),
        ("file", .string(options.file)),
        ("mels", .integer(options.mels)),
        ("audio_seconds", .number(duration)),
        ("frames", .integer(frameCount)),
        ("decode_seconds", .number(decodeSeconds)),
        ("wall_seconds", .number(seconds)),
        ("x_real_time", .number(duration / seconds)),
        ("us_per_frame", .number(seconds * 1e6 / Double(max(frameCount, 1)))),
        ("peak_rss_mb", peakRSSField()),
        ("max_log_mel", .number(Double(maximum))),
    ])
}


// MARK: kernels

/// One matrix-product shape: `m` rows of activations, `n` outputs, `k` inputs.
struct KernelShape {
    var model: String
    var stage: String
    var layer: String
    var m: Int
    var n: Int
    var k: Int
}

/// Whisper tiny (d = 384) and base (d = 512): encoder layers over 1500 frames, and decoder
/// steps of 1 and 5 rows (greedy, and a beam of 5) with the vocabulary projection.
func whisperShapes() -> [KernelShape] {
    var shapes: [KernelShape] = []
    for (model, d) in [("tiny", 384), ("base", 512)] {
        let layers = [("qkv", 3 * d, d), ("out", d, d), ("ffn1", 4 * d, d), ("ffn2", d, 4 * d)]
        for (stage, m) in [("encoder", 1500), ("decoder-1", 1), ("decoder-5", 5)] {
            for (layer, n, k) in layers {
                shapes.append(KernelShape(model: model, stage: stage, layer: layer, m: m, n: n, k: k))
            }
            if m < 1500 {
                shapes.append(KernelShape(model: model, stage: stage, layer: "vocab", m: m, n: 51865, k: d))
            }
        }
    }
    return shapes
}

/// CPU seconds the calling thread spends in `body` (time it is descheduled does not count).
func threadCPUTimed(_ body: () -> Void) -> Double {
    func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }
    let start = now()
    body()
    return now() - start
}

/// Best time of each of `bodies` over at least `minimumRuns` runs and about `budget` seconds:
/// wall time, or the calling thread's CPU time. The bodies take turns, three runs each, so
/// that the machine's other load hits them alike while the first run of each turn absorbs
/// what the previous body left behind (OpenBLAS worker threads spin for a while after a call).
func bestTimes(_ bodies: [() -> Void], minimumRuns: Int, budget: Double, cpuTime: Bool = false) -> [Double] {
    var best = [Double](repeating: .infinity, count: bodies.count)
    for body in bodies { body() }  // warm up: page in, spin up threads
    var runs = 0
    var spent = 0.0
    while runs < minimumRuns || spent < budget {
        for (index, body) in bodies.enumerated() {
            for _ in 0..<3 {
                let seconds = cpuTime ? threadCPUTimed(body) : timed(body).1
                best[index] = min(best[index], seconds)
                spent += seconds
            }
        }
        runs += 3
        if runs >= 1000 { break }
    }
    return best
}

func randomGaussians(_ count: Int, scale: Float, generator: inout SystemRandomNumberGenerator) -> [Float] {
    (0..<count).map { _ in
        let u1 = Float.random(in: Float.ulpOfOne..<1, using: &generator)
        let u2 = Float.random(in: 0..<1, using: &generator)
        return scale * (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
}

/// int8 (HarkKernels) against fp32 (OpenBLAS sgemm) on every Whisper shape.
func benchKernels(quick: Bool, singleThread: Bool) -> [String] {
    openblas_set_num_threads(singleThread ? 1 : 2)
    let int8Threads: Int? = singleThread ? 1 : nil
    var generator = SystemRandomNumberGenerator()
    var lines: [String] = []
    for shape in whisperShapes() {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let x = randomGaussians(m * k, scale: 1, generator: &generator)
        let w = randomGaussians(n * k, scale: 0.05, generator: &generator)
        let bias = randomGaussians(n, scale: 0.1, generator: &generator)
        let weights = QuantizedMatrix(quantizing: w, rows: n, columns: k)
        var int8Out = [Float](repeating: 0, count: m * n)
        var fp32Out = [Float](repeating: 0, count: m * n)
        let times = x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { bp in
                    int8Out.withUnsafeMutableBufferPointer { int8Buffer in
                        fp32Out.withUnsafeMutableBufferPointer { fp32Buffer in
                            let io = int8Buffer, fo = fp32Buffer
                            return bestTimes([
                                {
                                    Int8MatrixProduct.multiply(xp, rows: m, by: weights, bias: bp, gelu: false,
                                                               threads: int8Threads, into: io)
                                },
                                {
                                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
                                                xp.baseAddress, Int32(k), wp.baseAddress, Int32(k), 0, fo.baseAddress, Int32(n))
                                },
                            ], minimumRuns: quick ? 3 : 7, budget: quick ? 0.1 : 0.6, cpuTime: singleThread)
                        }
                    }
                }
            }
        }
        // Agreement with fp32 (plus the bias the int8 product adds), as a sanity check.
        var diff = 0.0, norm = 0.0
        for i in 0..<m {
            for j in 0..<n {
                let reference = Double(fp32Out[i * n + j] + bias[j])
                diff += (Double(int8Out[i * n + j]) - reference) * (Double(int8Out[i * n + j]) - reference)
                norm += reference * reference
            }
        }
        let operations = 2.0 * Double(m) * Double(n) * Double(k)
        lines.append(JSON.object([
            ("command", .string("kernels")),
            ("implementation", .string(Int8MatrixProduct.implementation)),
            ("threads", .integer(singleThread ? 1 : 2)),
            ("timing", .string(singleThread ? "thread-cpu" : "wall")),
            ("model", .string(shape.model)),
            ("stage", .string(shape.stage)),
            ("layer", .string(shape.layer)),
            ("m", .integer(m)), ("n", .integer(n)), ("k", .integer(k)),
            ("int8_ms", .number(times[0] * 1e3)),
            ("fp32_ms", .number(times[1] * 1e3)),
            ("int8_gops", .number(operations / times[0] * 1e-9)),
            ("fp32_gflops", .number(operations / times[1] * 1e-9)),
            ("ratio", .number(times[1] / times[0])),
            ("relative_error", .number((diff / max(norm, 1e-30)).squareRoot())),
        ]))
        print(lines[lines.count - 1])
    }
    return lines
}

/// One thread against two on products around the parallel cutoff.
func benchThreadsSweep() {
    var generator = SystemRandomNumberGenerator()
    for (m, n, k) in [(1, 64, 384), (1, 384, 384), (1, 768, 384), (1, 1536, 384), (1, 1152, 512), (1, 2048, 512),
                      (5, 384, 384), (5, 1536, 384), (16, 384, 384), (64, 384, 384), (128, 384, 384), (1500, 384, 384)] {
        let x = randomGaussians(m * k, scale: 1, generator: &generator)
        let weights = QuantizedMatrix(quantizing: randomGaussians(n * k, scale: 0.05, generator: &generator), rows: n, columns: k)
        var out = [Float](repeating: 0, count: m * n)
        let times = x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { buffer in
                let o = buffer
                return bestTimes([
                    { Int8MatrixProduct.multiply(xp, rows: m, by: weights, bias: nil, gelu: false, threads: 1, into: o) },
                    { Int8MatrixProduct.multiply(xp, rows: m, by: weights, bias: nil, gelu: false, threads: 2, into: o) },
                ], minimumRuns: 20, budget: 0.3)
            }
        }
        print(JSON.object([
            ("command", .string("kernels-threads")),
            ("m", .integer(m)), ("n", .integer(n)), ("k", .integer(k)),
            ("macs", .integer(m * n * k)),
            ("one_thread_us", .number(times[0] * 1e6)),
            ("two_threads_us", .number(times[1] * 1e6)),
            ("speedup", .number(times[0] / times[1])),
        ]))
    }
}

/// Runs a subcommand that takes its own arguments: a usage error is printed as it reads (exit
/// status 2), any other error after the program's name (1).
func runSubcommand(_ body: () throws -> Int32) -> Int32 {
    do {
        return try body()
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        return 2
    } catch {
        FileHandle.standardError.write(Data("hark-bench: \(error)\n".utf8))
        return 1
    }
}

func run() -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "-h" || arguments.first == "--help" {
        print(usage)
        return 0
    }
    if arguments.first == "kernels" {
        let flags = Set(arguments.dropFirst())
        guard flags.isSubset(of: ["--quick", "--threads-sweep", "--single-thread"]) else {
            FileHandle.standardError.write(Data("hark-bench: unknown kernels option\n\(usage)\n".utf8))
            return 2
        }
        if flags.contains("--threads-sweep") {
            benchThreadsSweep()
        } else {
            _ = benchKernels(quick: flags.contains("--quick"), singleThread: flags.contains("--single-thread"))
            if flags.contains("--single-thread") {
                let ceiling = Int8MatrixProduct.multiplyAddCeiling()
                print(JSON.object([
                    ("command", .string("kernels-ceiling")),
                    ("fp32_gmacs", .number(ceiling.fp32 * 1e-9)),
                    ("int8_gmacs", .number(ceiling.int8 * 1e-9)),
                    ("int8_kernel_chain_gmacs", .number(ceiling.int8KernelChain * 1e-9)),
                ]))
            }
        }
        return 0
    }
    if arguments.first == "decode-steps" {
        return runSubcommand { try benchDecodeSteps(Array(arguments.dropFirst())) }
    }
    if arguments.first == "encoder" {
        return runSubcommand { try benchEncoder(Array(arguments.dropFirst())) }
    }
    if arguments.first == "sensitivity" {
        return runSubcommand { try benchSensitivity(Array(arguments.dropFirst())) }
    }
    do {
        let options = try Options(arguments: arguments)
        switch options.command {
        case "features": print(try benchStreamedFeatures(options))
        case "features-only": print(try benchLogMelOnly(options))
        default: throw UsageError(description: "hark-bench: unknown subcommand '\(options.command)'\n\(usage)")
        }
        return 0
    } catch let error as UsageError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        return 2
    } catch {
        FileHandle.standardError.write(Data("hark-bench: \(error)\n".utf8))
        return 1
    }
}

exit(run())
