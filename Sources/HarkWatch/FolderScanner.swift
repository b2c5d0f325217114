import Foundation

/// Lists the recordings under a folder with their stamps: the full scan at start, the periodic
/// rescan, and the polling mode all use it.
public struct FolderScanner: Sendable {
    public let filter: FileFilter
    public let recursive: Bool

    public init(filter: FileFilter, recursive: Bool) {
        self.filter = filter
        self.recursive = recursive
    }

    public struct Result: Sendable {
        /// Candidate recordings and their stamps.
        public var files: [String: FileStamp] = [:]
        /// The folders listed (the root and, recursively, its visible subfolders).
        public var directories: [String] = []
        /// Folders that could not be listed, with the reason.
        public var problems: [String] = []
        /// Symbolic links with a recording's name, which are not followed.
        public var links: [String] = []
    }

    /// Scans `directory` (the root by default). Throws only when `directory` itself cannot be
    /// listed, so that a vanished or unmounted folder is never mistaken for an empty one.
    public func scan(_ directory: String? = nil) throws(ScanError) -> Result {
        let start = FileFilter.standardize(directory ?? filter.root)
        var result = Result()
        var pending = [start]
        var first = true
        while let folder = pending.popLast() {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: folder)
            } catch {
                if first { throw ScanError(path: folder, reason: (error as NSError).localizedDescription) }
                result.problems.append("\(folder): \((error as NSError).localizedDescription)")
                continue
            }
            first = false
            result.directories.append(folder)
            for name in names.sorted() {
                let path = folder + "/" + name
                guard let info = FileInfo.lstat(path) else { continue }
                if info.isDirectory {
                    // Symbolic links to folders are not followed either (no loops, no escaping the tree).
                    if recursive && filter.acceptsDirectory(path) { pending.append(path) }
                    continue
                }
                guard filter.accepts(path) else { continue }
                if info.isRegularFile {
                    result.files[path] = info.stamp
                } else if info.isSymbolicLink {
                    // Not followed: in a shared folder a link could expose a file its maker cannot read.
                    result.links.append(path)
                }
            }
        }
        return result
    }
}

/// The watched folder (or a subfolder being scanned) could not be listed.
public struct ScanError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot list (\(reason))" }
}
