import Foundation

/// A manifest could not be read.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let detail: String
    public var description: String { "\(path): \(detail)" }
}

/// A list of recordings and their reference transcripts: a TSV file whose header names the
/// columns `id`, `audio` and `text` (other columns are ignored). Audio paths are relative to
/// the manifest's folder unless absolute.
public struct Manifest: Sendable {
    /// One recording and what was said in it.
    public struct Entry: Sendable, Equatable {
        public var id: String
        /// The audio file's path, resolved against the manifest's folder.
        public var audioPath: String
        /// The reference transcript.
        public var text: String

        public init(id: String, audioPath: String, text: String) {
            self.id = id
            self.audioPath = audioPath
            self.text = text
        }
    }

    /// Where the manifest was read from.
    public var path: String
    public var entries: [Entry]

    public init(path: String, entries: [Entry]) {
        self.path = path
        self.entries = entries
    }

    /// Reads a manifest; `limit` keeps only its first entries.
    public init(contentsOf url: URL, limit: Int? = nil) throws(ManifestError) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw ManifestError(path: url.path, detail: "no such file") }
        let content: String
        do {
            content = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ManifestError(path: url.path, detail: "cannot read (\(error.localizedDescription))")
        }
        try self.init(parsing: content, path: url.path, base: url.deletingLastPathComponent(), limit: limit)
    }

    /// Parses manifest text; relative audio paths are resolved against `base`.
    public init(parsing content: String, path: String, base: URL, limit: Int? = nil) throws(ManifestError) {
        var lines = content.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first else { throw ManifestError(path: path, detail: "empty; expected a header id<TAB>audio<TAB>text") }
        let columns = header.split(separator: "\t", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let idColumn = columns.firstIndex(of: "id"), let audioColumn = columns.firstIndex(of: "audio"),
              let textColumn = columns.firstIndex(of: "text") else {
            throw ManifestError(path: path, detail: "the header must name the columns id, audio and text (tab-separated); it is '\(header)'")
        }
        var entries: [Entry] = []
        var seen = Set<String>()
        for (offset, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            if let limit, entries.count >= limit { break }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > max(idColumn, audioColumn, textColumn) else {
                throw ManifestError(path: path, detail: "line \(offset + 1) has \(fields.count) fields; expected \(columns.count)")
            }
            let id = fields[idColumn], audio = fields[audioColumn]
            guard !id.isEmpty, !audio.isEmpty else {
                throw ManifestError(path: path, detail: "line \(offset + 1) has an empty id or audio path")
            }
            guard seen.insert(id).inserted else { throw ManifestError(path: path, detail: "line \(offset + 1) repeats the id '\(id)'") }
            let resolved = audio.hasPrefix("/") ? audio : base.appendingPathComponent(audio).path
            entries.append(Entry(id: id, audioPath: resolved, text: fields[textColumn]))
        }
        self.path = path
        self.entries = entries
    }
}
