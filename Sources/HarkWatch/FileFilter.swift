import Foundation
import Hark

/// Which files in the watched folder are recordings to transcribe.
///
/// Ignored: hidden files and anything in hidden folders (which covers the `.hark` state folder
/// and the temporary files of `AtomicFile`, rsync and Syncthing), names that downloaders and
/// editors use while writing (`.part`, `.tmp`, `~`, `.crdownload`, …), extensions outside the
/// list, Hark's own output formats, and the state and output folders.
public struct FileFilter: Sendable, Equatable {
    /// The default recording extensions.
    public static let defaultExtensions: [String] = ["wav", "flac", "ogg", "oga", "opus", "mp3", "m4a", "aac",
                                                     "aiff", "aif", "webm", "mp4"]
    /// Suffixes of files still being written by some program.
    public static let temporarySuffixes: [String] = [".part", ".partial", ".tmp", ".temp", "~", ".crdownload",
                                                     ".download", ".swp", ".!qb", ".filepart"]
    /// Extensions of Hark's own outputs; never taken as recordings.
    public static let outputExtensions: Set<String> = Set(TranscriptFormat.allCases.map(\.fileExtension))

    /// The watched folder (absolute, standardised).
    public let root: String
    /// Accepted extensions, lower-case, without dots.
    public let extensions: Set<String>
    /// Folders never looked into (absolute): the state folder and an output folder inside the root.
    public let excludedDirectories: [String]

    public init(root: String, extensions: some Sequence<String> = FileFilter.defaultExtensions,
                excludedDirectories: [String] = []) {
        self.root = FileFilter.standardize(root)
        self.extensions = Set(extensions.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ". ")) })
        self.excludedDirectories = excludedDirectories.map(FileFilter.standardize)
    }

    /// Why a path is not a recording to transcribe, or `nil` when it is one.
    public func rejection(of path: String) -> String? {
        let path = FileFilter.standardize(path)
        if isExcluded(path) { return "in an excluded folder" }
        let relative = path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : (path as NSString).lastPathComponent
        let components = relative.split(separator: "/")
        if components.contains(where: { $0.hasPrefix(".") }) { return "hidden" }
        let name = String(components.last ?? "")
        let lower = name.lowercased()
        if FileFilter.temporarySuffixes.contains(where: { lower.hasSuffix($0) }) { return "temporary name" }
        let ext = (lower as NSString).pathExtension
        if FileFilter.outputExtensions.contains(ext) { return "a transcript" }
        if !extensions.contains(ext) { return "extension not watched" }
        return nil
    }

    /// Whether a path is a recording to transcribe.
    public func accepts(_ path: String) -> Bool { rejection(of: path) == nil }

    /// Whether a folder is descended into (not hidden, not excluded).
    public func acceptsDirectory(_ path: String) -> Bool {
        let path = FileFilter.standardize(path)
        if path == root { return true }
        if isExcluded(path) { return false }
        let name = (path as NSString).lastPathComponent
        return !name.hasPrefix(".")
    }

    private func isExcluded(_ path: String) -> Bool {
        excludedDirectories.contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    static func standardize(_ path: String) -> String {
        var result = URL(fileURLWithPath: path).standardizedFileURL.path
        while result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        return result
    }
}
