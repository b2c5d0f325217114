// hark-bench: stage-level benchmarks, driven by Scripts/bench-*. Each run prints one line of JSON.
//
//   hark-bench features FILE [--mels 80]
//       Streams FILE through StreamedFeatures (pass 1, the normalisation scan, happens in its
//       init) and then reads every 3000-frame window in order: the cost of decoding plus log-mel
//       features as a transcription sees it, with its peak memory.
//   hark-bench features-only FILE [--mels 80]
//       Decodes the whole file to samples first (untimed), then times LogMelFrames alone over
//       them (append in 1 << 16 sample chunks, then finish).

import Foundation
import HarkAudio
import HarkFeatures

struct UsageError: Error, CustomStringConvertible {
    var description: String
}

let usage = """
    usage: hark-bench features FILE [--mels N]
           hark-bench features-only FILE [--mels N]
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

func run() -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "-h" || arguments.first == "--help" {
        print(usage)
        return 0
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
