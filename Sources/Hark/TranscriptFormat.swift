import Foundation

/// The recording a transcript was made from: its file name and the SHA-256 of its content.
public struct TranscriptSource: Sendable, Equatable {
    /// The recording's file name.
    public var name: String
    /// The SHA-256 of its content, in hexadecimal.
    public var sha256: String

    /// A recording's name and digest.
    public init(name: String, sha256: String) {
        self.name = name
        self.sha256 = sha256
    }
}

/// The file formats a transcript is written in.
public enum TranscriptFormat: String, Sendable, CaseIterable {
    /// Plain text, one segment per line.
    case txt
    /// SubRip subtitles.
    case srt
    /// WebVTT subtitles.
    case vtt
    /// openai-whisper's JSON, plus `duration`, `model` and `compute_type`.
    case json
    /// Tab-separated start and end in milliseconds, and text (openai-whisper's TSV).
    case tsv

    /// The file extension.
    public var fileExtension: String { rawValue }

    /// Renders a transcript. JSON is the transcript's own encoding (see ``Transcript``), with
    /// `model` and `computeType` in place of the transcript's when given, and `source` when
    /// given (`hark watch` recognises its transcripts by it).
    public func render(_ transcript: Transcript, model: String? = nil, computeType: ComputeType? = nil,
                       source: TranscriptSource? = nil) -> String {
        switch self {
        case .txt:
            return transcript.segments.map { $0.text.trimmingCharacters(in: .whitespaces) + "\n" }.joined()
        case .srt:
            return transcript.segments.enumerated().map { index, segment in
                "\(index + 1)\n\(Self.clock(segment.start, comma: true)) --> \(Self.clock(segment.end, comma: true))\n"
                    + "\(Self.cueText(segment.text))\n\n"
            }.joined()
        case .vtt:
            return "WEBVTT\n\n" + transcript.segments.map { segment in
                "\(Self.clock(segment.start, comma: false)) --> \(Self.clock(segment.end, comma: false))\n"
                    + "\(Self.cueText(segment.text, escapeForVTT: true))\n\n"
            }.joined()
        case .tsv:
            return "start\tend\ttext\n" + transcript.segments.map { segment in
                let text = segment.text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\t", with: " ")
                    .replacingOccurrences(of: "\n", with: " ")
                return "\(Int((segment.start * 1000).rounded()))\t\(Int((segment.end * 1000).rounded()))\t\(text)\n"
            }.joined()
        case .json:
            var named = transcript
            if let model { named.model = model }
            if let computeType { named.computeType = computeType }
            let document = JSONDocument(transcript: named, source: source)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(document)) ?? Data("{}".utf8)
            return (String(data: data, encoding: .utf8) ?? "{}") + "\n"
        }
    }

    /// A transcript's JSON with the recording it came from.
    private struct JSONDocument: Encodable {
        var transcript: Transcript
        var source: TranscriptSource?

        enum Keys: String, CodingKey { case source, sha256 }

        func encode(to encoder: any Encoder) throws {
            try transcript.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encodeIfPresent(source?.name, forKey: .source)
            try container.encodeIfPresent(source?.sha256, forKey: .sha256)
        }
    }

    /// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT).
    public static func clock(_ seconds: Double, comma: Bool) -> String {
        let milliseconds = max(0, Int((seconds * 1000).rounded()))
        let hours = milliseconds / 3_600_000
        let minutes = milliseconds / 60_000 % 60
        let secs = milliseconds / 1000 % 60
        let millis = milliseconds % 1000
        return String(format: "%02d:%02d:%02d%@%03d", hours, minutes, secs, comma ? "," : ".", millis)
    }

    /// A cue's text: trimmed, no blank lines (they end a cue), and for WebVTT `&`, `<`, `>` escaped.
    static func cueText(_ text: String, escapeForVTT: Bool = false) -> String {
        var cue = text.trimmingCharacters(in: .whitespacesAndNewlines)
        while cue.contains("\n\n") { cue = cue.replacingOccurrences(of: "\n\n", with: "\n") }
        if cue.isEmpty { cue = "…" }
        if escapeForVTT {
            cue = cue.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        return cue.replacingOccurrences(of: "-->", with: "->")
    }
}
