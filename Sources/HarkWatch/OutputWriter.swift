import Foundation
import Hark

/// Where a recording's transcripts go and how they are written.
///
/// Next to the recording by default, or under `--output-dir` in the same relative subfolder.
/// Names are `<stem>.<format>`; when those belong to another recording (`note.wav` and
/// `note.m4a`) or to a file Hark did not write, `<name>.<format>` (`note.m4a.txt`) and then
/// `<name>-2.<format>`, … are used, so no one's file is ever overwritten.
public struct OutputWriter: Sendable {
    public let root: String
    public let outputDirectory: String?
    public let formats: [TranscriptFormat]

    public init(root: String, outputDirectory: String?, formats: [TranscriptFormat]) {
        self.root = FileFilter.standardize(root)
        self.outputDirectory = outputDirectory.map(FileFilter.standardize)
        self.formats = formats
    }

    /// The folder a recording's outputs go to.
    public func directory(for recording: String) -> String {
        let folder = (recording as NSString).deletingLastPathComponent
        guard let outputDirectory else { return folder }
        if folder == root { return outputDirectory }
        if folder.hasPrefix(root + "/") { return outputDirectory + folder.dropFirst(root.count) }
        return outputDirectory
    }

    /// The output sets to try, in order of preference.
    public func candidates(for recording: String, limit: Int = 50) -> [[String]] {
        let name = (recording as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension
        let folder = directory(for: recording)
        var bases = [stem.isEmpty ? name : stem, name]
        for n in 2...max(2, limit) { bases.append("\(name)-\(n)") }
        return bases.map { base in formats.map { "\(folder)/\(base).\($0.fileExtension)" } }
    }

    /// Renders and writes every format atomically, in order; returns the paths written. The
    /// JSON output records `source` (the recording's name and SHA-256). Each file is never more
    /// readable than `recording`: its read and write bits, and its group (or no group bits).
    public func write(_ transcript: TranscriptionOutput, to targets: [String], model: String,
                      computeType: String, source: TranscriptSource, recording: String) throws(OutputError) -> [String] {
        precondition(targets.count == formats.count, "one target per format")
        if let first = targets.first {
            let folder = (first as NSString).deletingLastPathComponent
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw OutputError(path: folder, reason: "cannot create the folder (\((error as NSError).localizedDescription))")
            }
        }
        let permissions = OutputWriter.permissions(like: recording)
        for (format, target) in zip(formats, targets) {
            do {
                try AtomicFile.write(transcript.render(format, model: model, computeType: computeType, source: source),
                                     to: URL(fileURLWithPath: target), permissions: permissions)
            } catch {
                throw OutputError(path: error.path, reason: "cannot write (\(error.reason))")
            }
        }
        return targets
    }

    /// The permissions of a transcript of `recording`: its read and write bits and its group;
    /// owner-only when it cannot be looked at.
    static func permissions(like recording: String) -> FilePermissions {
        guard let info = FileInfo.lstat(recording) else { return FilePermissions(mode: 0o600, group: nil) }
        return FilePermissions(mode: info.permissions & 0o666, group: info.group)
    }

    /// What a JSON transcript says about itself, when it is one `hark watch` wrote.
    public struct Provenance: Sendable, Equatable {
        public var sha256: String
        public var model: String?
        public var computeType: String?
        public var duration: Double?
    }

    /// The first candidate output set of `recording` that is complete on disk (every file a
    /// regular file) and whose JSON records `sha256`: transcripts of this very content, written
    /// by an earlier run. `nil` when there is none, or no JSON among the formats to tell.
    public func existingTranscripts(for recording: String, sha256: String) -> (outputs: [String], provenance: Provenance)? {
        guard let json = formats.firstIndex(of: .json) else { return nil }
        for candidate in candidates(for: recording) {
            guard FileInfo.lstat(candidate[json])?.isRegularFile == true,
                  let provenance = OutputWriter.provenance(ofJSON: candidate[json]), provenance.sha256 == sha256,
                  candidate.allSatisfy({ FileInfo.lstat($0)?.isRegularFile == true }) else { continue }
            return (candidate, provenance)
        }
        return nil
    }

    static func provenance(ofJSON path: String) -> Provenance? {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let sha256 = object["sha256"] as? String, !sha256.isEmpty else { return nil }
        return Provenance(sha256: sha256, model: object["model"] as? String, computeType: object["compute_type"] as? String,
                          duration: (object["duration"] as? NSNumber)?.doubleValue)
    }

    /// Removes what `AtomicFile.write` leaves when killed mid-write (`.<name>.<UUID>.tmp`
    /// beside each target). Returns the files removed.
    @discardableResult
    public static func removeTemporaries(of targets: [String]) -> [String] {
        var removed: [String] = []
        for target in targets {
            let folder = (target as NSString).deletingLastPathComponent
            let targetName = (target as NSString).lastPathComponent
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for name in names where AtomicFile.isTemporary(name, for: targetName) {
                let path = folder + "/" + name
                if unlink(path) == 0 { removed.append(path) }
            }
        }
        return removed
    }
}

/// A transcript could not be written.
public struct OutputError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
