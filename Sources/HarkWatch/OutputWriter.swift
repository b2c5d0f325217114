import Foundation
import HarkTranscription

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

    /// Renders and writes every format atomically, in order; returns the paths written.
    public func write(_ transcript: TranscriptionOutput, to targets: [String], model: String,
                      computeType: String) throws(OutputError) -> [String] {
        precondition(targets.count == formats.count, "one target per format")
        if let first = targets.first {
            let folder = (first as NSString).deletingLastPathComponent
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw OutputError(path: folder, reason: "cannot create the folder (\((error as NSError).localizedDescription))")
            }
        }
        for (format, target) in zip(formats, targets) {
            do {
                try AtomicFile.write(transcript.render(format, model: model, computeType: computeType),
                                     to: URL(fileURLWithPath: target))
            } catch {
                throw OutputError(path: error.path, reason: "cannot write (\(error.reason))")
            }
        }
        return targets
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
