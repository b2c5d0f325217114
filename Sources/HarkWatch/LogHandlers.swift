import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where log lines go: standard error by default; tests capture them.
public final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private let descriptor: Int32?
    private var captured: [String] = []

    /// Standard error.
    public static let standardError = LogSink(descriptor: 2)

    /// A sink that keeps the lines in memory.
    public static func capture() -> LogSink { LogSink(descriptor: nil) }

    init(descriptor: Int32?) {
        self.descriptor = descriptor
    }

    /// Writes one line (a newline is added) in a single write.
    public func write(line: String) {
        lock.lock()
        defer { lock.unlock() }
        guard let descriptor else {
            captured.append(line)
            return
        }
        var bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Foundation.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
        bytes.removeAll()
    }

    /// The captured lines.
    public var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return captured
    }
}

/// The merged metadata of an event: the handler's, the provider's, then the call's.
func mergedMetadata(_ base: Logger.Metadata, provider: Logger.MetadataProvider?, event: LogEvent) -> Logger.Metadata {
    var merged = base
    if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
    if let extra = event.metadata { merged.merge(extra) { _, new in new } }
    return merged
}

enum LogTime {
    /// ISO 8601 local time with milliseconds and offset: 2025-03-01T09:15:02.345+01:00.
    static func string(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var time = time_t(seconds.rounded(.down))
        let millis = Int((seconds - seconds.rounded(.down)) * 1000)
        var parts = tm()
        localtime_r(&time, &parts)
        let offset = Int(parts.tm_gmtoff)
        let zone = offset == 0 ? "Z" : String(format: "%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 3600, abs(offset) % 3600 / 60)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03d%@", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis, zone)
    }
}

/// Metadata keys in a stable order: the file first, then alphabetical.
func orderedKeys(_ metadata: Logger.Metadata) -> [String] {
    let leading = ["path"]
    return leading.filter { metadata[$0] != nil } + metadata.keys.filter { !leading.contains($0) }.sorted()
}

/// A handler that writes each event as one line to a sink, in the text or the JSON format.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let format: LogFormat
    public let sink: LogSink

    public init(format: LogFormat, sink: LogSink = .standardError) {
        self.format = format
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = mergedMetadata(metadata, provider: metadataProvider, event: event)
        switch format {
        case .text: sink.write(line: TextLine.format(event, metadata: merged, time: Date()))
        case .json: sink.write(line: JSONLine.format(event, metadata: merged, time: Date()))
        }
    }
}

/// `2025-03-01T09:15:02.345+01:00 info  done path=note.m4a audio=3.4s took=1.2s speed=2.8x`
enum TextLine {
    static func format(_ event: LogEvent, metadata: Logger.Metadata, time: Date) -> String {
        var line = "\(LogTime.string(time)) \(event.level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(event.message)"
        for key in orderedKeys(metadata) {
            line += " \(key)=\(quote(text(metadata[key]!)))"
        }
        return line
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let value): return value.description
        case .array(let values): return values.map(text).joined(separator: ",")
        case .dictionary(let values): return values.keys.sorted().map { "\($0):\(text(values[$0]!))" }.joined(separator: ",")
        }
    }

    /// Quotes values with spaces, quotes or equals signs, and escapes line breaks, so one event stays one line.
    static func quote(_ value: String) -> String {
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\r")
        if escaped.isEmpty || escaped.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\t" }) {
            return "\"" + escaped.replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return escaped
    }
}

/// One JSON object per line: `{"time":…,"level":"info","event":"done","path":"note.m4a","audio_seconds":3.4,…}`.
/// Numbers and booleans passed as metadata stay numbers and booleans.
enum JSONLine {
    static func format(_ event: LogEvent, metadata: Logger.Metadata, time: Date) -> String {
        var fields = ["\"time\":\(string(LogTime.string(time)))",
                      "\"level\":\(string(event.level.rawValue))",
                      "\"event\":\(string(event.message.description))"]
        for key in orderedKeys(metadata) where !["time", "level", "event"].contains(key) {
            fields.append("\(string(key)):\(json(metadata[key]!))")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return string(text)
        case .stringConvertible(let value):
            switch value {
            case let number as Int: return String(number)
            case let number as Int64: return String(number)
            case let number as Double where number.isFinite: return String(number)
            case let flag as Bool: return flag ? "true" : "false"
            default: return string(value.description)
            }
        case .array(let values): return "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\(string($0)):\(json(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func string(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let c where c.value < 0x20: result += String(format: "\\u%04x", c.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// The `--log-format` choices.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json

    /// A handler factory for `LoggingSystem.bootstrap` or `Logger(label:factory:)`.
    public func handler(level: Logger.Level, sink: LogSink = .standardError) -> @Sendable (String) -> any LogHandler {
        { _ in
            var handler = LineLogHandler(format: self, sink: sink)
            handler.logLevel = level
            return handler
        }
    }
}
