import Foundation
import HarkModel
import Hark
import Logging

/// What one run of the watcher did.
public struct WatchSummary: Sendable, Equatable {
    /// Recordings transcribed.
    public var transcribed = 0
    /// Recordings whose transcription failed at least once in this run.
    public var failed = 0
    /// Files found whose content was already known.
    public var duplicates = 0
    /// Transcriptions abandoned at a stop (they are redone on the next start).
    public var abandoned = 0
    /// The signal that stopped the watcher, if any.
    public var stopSignal: Int32?

    public init() {}
}

/// Everything the watcher's loop reacts to, in one stream.
enum WatchEvent: Sendable {
    case file(FileEvent)
    case tick
    case hashed(path: String, stamp: FileStamp, result: Result<String, HashError>)
    case transcribed(key: String, result: Result<TranscriptionOutput, EngineFailure>, seconds: Double)
    case stop(signal: Int32?)
    case rescan(reason: String)
    case graceExpired
}

/// A transcription in flight.
struct Job: Sendable {
    var key: String
    /// The absolute path being read.
    var path: String
    /// The file's stamp when it started; a different one afterwards means it changed.
    var stamp: FileStamp
    /// Absolute output paths, one per format.
    var targets: [String]
    var attempt: Int
}

/// Watches a folder and transcribes every recording that lands in it, exactly once.
///
/// One serial loop (this actor) owns all state: it consumes a single stream of events — file
/// events, ticks, hashes and transcriptions finished on background threads, signals — and is
/// the only writer of the ledger and of outputs. Transcriptions run on their own threads (at
/// most `jobs`), hashing on one background thread. The backlog lives in the ledger, not in
/// memory.
///
/// The order of writes makes every crash recoverable: a recording is marked `processing` (with
/// the outputs it will write) before it starts; its outputs are written atomically one by one;
/// only then is it marked `done` with them. A recording found `processing` at start-up is
/// redone; the interruption is not counted as a failed attempt (see `recoverInterrupted`).
public actor Watcher {
    public nonisolated let configuration: WatchConfiguration
    let engine: any TranscriptionEngine
    let ledger: Ledger
    let fileEvents: (any FileEvents)?
    let logger: Logger
    let filter: FileFilter
    let scanner: FolderScanner
    let writer: OutputWriter
    let root: String
    private nonisolated let events: AsyncStream<WatchEvent>
    private nonisolated let continuation: AsyncStream<WatchEvent>.Continuation

    private var tracker: ReadinessTracker
    /// Files whose content is known, by absolute path, and the same by content key.
    private var known: [String: KnownFile] = [:]
    private var pathsByKey: [String: Set<String>] = [:]
    /// Files that could not be read, and the stamp they had then.
    private var unreadable: [String: FileStamp] = [:]
    /// Symbolic links already reported as ignored.
    private var ignoredLinks: Set<String> = []
    private var hashQueue: [(path: String, stamp: FileStamp)] = []
    private var hashQueued: Set<String> = []
    private var hashing: String?
    private var running: [String: Job] = [:]
    private var stopping = false
    private var finished = false
    private var started = false
    private var lastScan = Date.distantPast
    private var failedKeys: Set<String> = []
    private var summary = WatchSummary()

    /// - Parameters:
    ///   - fileEvents: inotify or polling; `nil` relies on the periodic rescans alone. Not
    ///     started in `once` mode.
    public init(configuration: WatchConfiguration, engine: any TranscriptionEngine, ledger: Ledger,
                fileEvents: (any FileEvents)?, logger: Logger) {
        self.configuration = configuration
        self.engine = engine
        self.ledger = ledger
        self.fileEvents = fileEvents
        self.logger = logger
        filter = configuration.filter
        scanner = FolderScanner(filter: filter, recursive: configuration.recursive)
        writer = configuration.writer
        root = configuration.root
        tracker = ReadinessTracker(settle: configuration.settle)
        let stream = AsyncStream.makeStream(of: WatchEvent.self)
        events = stream.stream
        continuation = stream.continuation
    }

    /// Asks the watcher to stop: running transcriptions get `grace` seconds to finish, then are
    /// abandoned (back to pending). A second request abandons them at once. Safe from any thread.
    public nonisolated func requestStop(signal: Int32? = nil) {
        continuation.yield(.stop(signal: signal))
    }

    /// Asks for a full rescan (SIGHUP). Safe from any thread.
    public nonisolated func requestRescan(reason: String) {
        continuation.yield(.rescan(reason: reason))
    }

    /// Runs until stopped or, in `once` mode, until the backlog is processed.
    public func run() async -> WatchSummary {
        precondition(!started, "a watcher runs once")
        started = true
        logger.info("watching", metadata: [
            "folder": "\(root)", "events": "\(configuration.once ? "none (--once)" : fileEvents?.name ?? "rescans only")",
            "model": "\(engine.modelName)", "compute_type": "\(engine.computeType)", "jobs": .stringConvertible(configuration.jobs),
            "settle_seconds": .stringConvertible(configuration.settle), "formats": "\(configuration.formats.map(\.rawValue).joined(separator: ","))",
            "ledger": "\(ledger.url.path)",
        ])
        recoverInterrupted()
        do {
            try ledger.repair()
            for entry in try ledger.knownFiles() { remember(absolute(entry.path), entry) }
        } catch {
            logger.error("ledger_error", metadata: ["reason": "\(error)"])
        }
        if !configuration.once, let fileEvents {
            do {
                try fileEvents.start { [continuation] event in continuation.yield(.file(event)) }
            } catch {
                logger.warning("events_unavailable", metadata: [
                    "reason": "\(error)", "fallback": "rescans every \(Int(configuration.rescanInterval)) s; consider --poll"])
            }
        }
        fullScan(reason: "start")
        let interval = configuration.tickInterval
        let ticker = Task { [continuation] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: WatchConfiguration.nanoseconds(interval))
                continuation.yield(.tick)
            }
        }
        pump()
        if !finished {
            for await event in events {
                handle(event)
                if stopping && running.isEmpty { finished = true }
                pump()
                if finished { break }
            }
        }
        ticker.cancel()
        fileEvents?.stop()
        continuation.finish()
        do {
            try ledger.checkpoint()
        } catch {
            logger.warning("ledger_checkpoint_failed", metadata: ["reason": "\(error)", "effect": "the ledger's latest changes stay in its -wal file"])
        }
        // A file that failed and then succeeded on a retry in this run did not fail.
        summary.failed = failedKeys.filter { (try? ledger.recording($0))?.state == .failed }.count
        var metadata: Logger.Metadata = ["transcribed": .stringConvertible(summary.transcribed),
                                         "failed": .stringConvertible(summary.failed),
                                         "duplicates": .stringConvertible(summary.duplicates)]
        if summary.abandoned > 0 { metadata["abandoned"] = .stringConvertible(summary.abandoned) }
        if let signal = summary.stopSignal { metadata["signal"] = "\(SignalSources.name(signal))" }
        logger.info("stopped", metadata: metadata)
        return summary
    }

    // MARK: Events

    private func handle(_ event: WatchEvent) {
        switch event {
        case .file(.changed(let path)):
            consider(path)
        case .file(.scan(let directory)):
            fullScan(directory: directory, reason: "new folder")
        case .file(.rescan(let reason)), .rescan(let reason):
            fullScan(reason: reason)
        case .file(.warning(let message)):
            logger.warning("events_warning", metadata: ["reason": "\(message)"])
        case .tick:
            tick()
        case .hashed(let path, let stamp, let result):
            hashed(path: path, stamp: stamp, result: result)
        case .transcribed(let key, let result, let seconds):
            transcribed(key: key, result: result, seconds: seconds)
        case .stop(let signal):
            stop(signal: signal)
        case .graceExpired:
            if stopping && !finished { abandonRunning() }
        }
    }

    private func tick() {
        guard !stopping else { return }
        let now = Date()
        for path in tracker.paths {
            tracker.observe(path, stamp: FileStamp.of(path), now: now)
        }
        for (path, stamp) in tracker.takeReady(now: now) {
            if stamp.size == 0 {
                // All empty files have one hash; key each by its path so each is reported.
                register(path: path, stamp: stamp, key: "empty:" + relative(path), sha256: SHA256.hex(Data()))
            } else if hashing != path && !hashQueued.contains(path) {
                hashQueue.append((path, stamp))
                hashQueued.insert(path)
            }
        }
        if !configuration.once && now.timeIntervalSince(lastScan) >= configuration.rescanInterval {
            fullScan(reason: "periodic")
        }
    }

    /// Starts what can start: the next hash, transcriptions up to `jobs`; ends a `once` run
    /// when nothing is left.
    private func pump() {
        guard !finished, !stopping else { return }
        startHashing()
        var skipped: Set<String> = []
        // Settled files are all hashed before a transcription starts, so every copy of a content
        // is known when it starts (the one whose transcripts are on disk is then restored).
        while running.count < configuration.jobs && hashing == nil && hashQueue.isEmpty {
            let due: [Recording]
            do {
                due = try ledger.due(now: Date())
            } catch {
                logger.error("ledger_error", metadata: ["reason": "\(error)"])
                break
            }
            guard let next = due.first(where: { running[$0.key] == nil && !skipped.contains($0.key) }) else { break }
            if !start(next) { skipped.insert(next.key) }
        }
        if configuration.once && running.isEmpty && hashing == nil && hashQueue.isEmpty && tracker.isEmpty {
            finished = true
        }
    }

    // MARK: Finding files

    private func fullScan(directory: String? = nil, reason: String) {
        guard !stopping else { return }
        let folder = directory ?? root
        if directory == nil { lastScan = Date() }
        let result: FolderScanner.Result
        do {
            result = try scanner.scan(folder)
        } catch {
            logger.warning("scan_failed", metadata: ["reason": "\(error)", "retry": "at the next rescan"])
            return
        }
        for problem in result.problems { logger.warning("scan_problem", metadata: ["reason": "\(problem)"]) }
        for link in result.links where !ignoredLinks.contains(link) {
            ignoredLinks.insert(link)
            logger.info("ignored", metadata: ["path": "\(relative(link))", "reason": "a symbolic link (not followed; copy the file in instead)"])
        }
        let metadata: Logger.Metadata = ["folder": "\(relative(folder))", "reason": "\(reason)", "files": .stringConvertible(result.files.count)]
        if ["periodic", "start", "new folder"].contains(reason) {
            logger.debug("rescan", metadata: metadata)
        } else {
            logger.info("rescan", metadata: metadata) // overflow, SIGHUP, a vanished folder
        }
        if directory == nil { fileEvents?.resync() }
        for (path, stamp) in result.files.sorted(by: { $0.key < $1.key }) {
            consider(path, stamp: stamp)
        }
        // Unreadable files that are gone, and files that disappeared since they were hashed.
        if directory == nil {
            do {
                for row in try ledger.recordings(in: .failed) where row.key.hasPrefix("unreadable:")
                    && result.files[absolute(row.path)] == nil {
                    unreadable[absolute(row.path)] = nil
                    try ledger.delete(row.key)
                }
            } catch {
                logger.error("ledger_error", metadata: ["reason": "\(error)"])
            }
        }
        let prefix = folder == "/" ? "/" : folder + "/"
        for path in known.keys.sorted() where path.hasPrefix(prefix) && result.files[path] == nil {
            if configuration.recursive || (path as NSString).deletingLastPathComponent == folder {
                forget(path, reason: "deleted before it was transcribed")
            }
        }
    }

    /// Starts tracking a file that may be new or changed.
    private func consider(_ path: String, stamp given: FileStamp? = nil) {
        guard !stopping, filter.accepts(path) else { return }
        guard let stamp = given ?? FileStamp.of(path) else {
            tracker.forget(path)
            return
        }
        if known[path]?.stamp == stamp || unreadable[path] == stamp { return }
        if hashing == path || hashQueued.contains(path) { return }
        if !tracker.contains(path) {
            logger.debug("seen", metadata: ["path": "\(relative(path))", "size": .stringConvertible(stamp.size)])
        }
        tracker.observe(path, stamp: stamp, now: Date())
    }

    private func startHashing() {
        guard hashing == nil, !hashQueue.isEmpty else { return }
        let (path, stamp) = hashQueue.removeFirst()
        hashQueued.remove(path)
        hashing = path
        let continuation = self.continuation
        DispatchQueue.global(qos: .utility).async {
            let result: Result<String, HashError>
            do throws(HashError) { result = .success(try SHA256.hex(ofFile: path)) } catch { result = .failure(error) }
            continuation.yield(.hashed(path: path, stamp: stamp, result: result))
        }
    }

    private func hashed(path: String, stamp: FileStamp, result: Result<String, HashError>) {
        if hashing == path { hashing = nil }
        guard !stopping else { return }
        switch result {
        case .failure(let error):
            if error.vanished { return }
            unreadable[path] = stamp
            logger.warning("unreadable", metadata: ["path": "\(relative(path))", "reason": "\(error.reason)",
                                                    "retry": "when the file changes (e.g. chmod)"])
            // Shown as failed until it can be read; then it is superseded by its real content.
            let key = "unreadable:" + relative(path)
            failedKeys.insert(key)
            do {
                if try ledger.recording(key) == nil {
                    var row = Recording(key: key, sha256: "", path: relative(path), size: stamp.size,
                                        modified: stamp.modificationDate, state: .failed, discoveredAt: Date())
                    row.lastError = "cannot read the file (\(error.reason))"
                    try ledger.save(row)
                }
            } catch {
                logger.error("ledger_error", metadata: ["reason": "\(error)"])
            }
        case .success(let sha256):
            guard FileStamp.of(path) == stamp else {
                consider(path) // changed while it was hashed: settle again
                return
            }
            unreadable[path] = nil
            register(path: path, stamp: stamp, key: sha256, sha256: sha256)
        }
    }

    /// Records a settled file's content and decides what it means: new, a duplicate, a rename,
    /// a change, or a failed recording back for another try.
    private func register(path: String, stamp: FileStamp, key: String, sha256: String) {
        let relativePath = relative(path)
        let previous = known[path]
        let entry = KnownFile(path: relativePath, key: key, stamp: stamp, seenAt: Date())
        do {
            let existing = try ledger.recording(key)
            let new = existing == nil
                ? Recording(key: key, sha256: sha256, path: relativePath, size: stamp.size, modified: stamp.modificationDate,
                            discoveredAt: Date())
                : nil
            try ledger.register(file: entry, newRecording: new)
            remember(path, entry)
            var replaced = Set(try ledger.recordings(atPath: relativePath).map(\.key))
            if let previous { replaced.insert(previous.key) }
            replaced.remove(key)
            // Content already transcribed under another name, now in a file whose transcripts
            // describe what it held before: those transcripts are replaced by copies.
            let transcribedElsewhere = existing.map { $0.state == .done && $0.path != relativePath } ?? false
            for old in replaced.sorted() {
                if transcribedElsewhere, let copied = copyTranscripts(of: key, over: old, at: path) {
                    logger.info("changed", metadata: ["path": "\(relativePath)", "action": "it now holds content already transcribed; its transcripts were replaced by copies",
                                                      "outputs": .array(copied.map { .string(relative($0)) })])
                } else {
                    superseded(old, at: path)
                }
            }
            if new != nil {
                logger.info("found", metadata: ["path": "\(relativePath)", "size": .stringConvertible(stamp.size),
                                                "sha256": "\(sha256.prefix(16))"])
                return
            }
            guard var row = existing else { return }
            let originalElsewhere = row.path != relativePath && isPresent(row)
            switch row.state {
            case .done, .pending, .processing:
                if row.path == relativePath { return }
                if originalElsewhere {
                    summary.duplicates += 1
                    logger.info("duplicate", metadata: [
                        "path": "\(relativePath)", "of": "\(row.path)", "state": "\(row.state.rawValue)",
                        "action": "\(row.state == .done ? "already transcribed, not redone" : "already queued")"])
                } else if row.state != .processing {
                    let old = row.path
                    row.path = relativePath
                    try ledger.save(row)
                    logger.info("renamed", metadata: ["path": "\(relativePath)", "from": "\(old)"])
                }
            case .failed:
                if originalElsewhere {
                    summary.duplicates += 1
                    logger.info("duplicate", metadata: ["path": "\(relativePath)", "of": "\(row.path)", "state": "failed"])
                    return
                }
                row.path = relativePath
                if row.nextAttemptAt == nil {
                    row.attempts = 0
                    row.interruptions = 0
                }
                row.state = .pending
                row.nextAttemptAt = nil
                try ledger.save(row)
                logger.info("retrying", metadata: ["path": "\(relativePath)", "reason": "the failed file was touched or added again"])
            }
        } catch {
            logger.error("ledger_error", metadata: ["path": "\(relativePath)", "reason": "\(error)"])
        }
    }

    /// Overwrites the transcripts that done recording `previous` has for `path` with copies of
    /// done recording `key`'s, format by format; returns the files written, or nil when
    /// `previous` had none there.
    private func copyTranscripts(of key: String, over previous: String, at path: String) -> [String]? {
        do {
            guard let old = try ledger.recording(previous), old.state == .done, old.path == relative(path) else { return nil }
            let targets = try ledger.outputs(of: previous).filter(\.complete).map { absolute($0.path) }
            let sources = try ledger.outputs(of: key).filter(\.complete).map { absolute($0.path) }
            let byExtension = Dictionary(sources.map { (($0 as NSString).pathExtension, $0) }, uniquingKeysWith: { first, _ in first })
            let permissions = OutputWriter.permissions(like: path)
            var copied: [String] = []
            for target in targets {
                guard let source = byExtension[(target as NSString).pathExtension],
                      let data = FileManager.default.contents(atPath: source) else { continue }
                try AtomicFile.write(String(decoding: data, as: UTF8.self), to: URL(fileURLWithPath: target), permissions: permissions)
                copied.append(target)
            }
            // The copies belong to the content they describe now.
            if let row = try ledger.recording(key) { try ledger.finish(row, outputs: row.outputs + copied.map(relative)) }
            return targets.isEmpty ? nil : copied
        } catch {
            logger.error("output_error", metadata: ["path": "\(relative(path))", "reason": "\(error)"])
            return nil
        }
    }

    /// Whether some known file still holds a recording's content at its recorded path.
    private func isPresent(_ row: Recording) -> Bool {
        let path = absolute(row.path)
        return known[path]?.key == row.key && FileStamp.of(path) != nil
    }

    /// The content a file had is gone from it. An unfinished recording of it that no other
    /// file holds is dropped; a done one stays (its outputs pass to the new content).
    private func superseded(_ key: String, at path: String) {
        guard running[key] == nil else { return } // the job notices when it finishes
        do {
            guard let row = try ledger.recording(key) else { return }
            if row.state == .done {
                if row.path == relative(path) {
                    logger.info("changed", metadata: ["path": "\(row.path)", "action": "the new content will be transcribed"])
                }
                return
            }
            if !(pathsByKey[key] ?? []).isEmpty { return }
            discardIncompleteOutputs(of: key)
            try ledger.delete(key)
            logger.debug("superseded", metadata: ["path": "\(row.path)", "state": "\(row.state.rawValue)"])
        } catch {
            logger.error("ledger_error", metadata: ["reason": "\(error)"])
        }
    }

    /// A file is gone: forget it, and drop its recording if that never finished and no other
    /// file holds the same content.
    private func forget(_ path: String, reason: String) {
        guard let entry = known[path] else {
            tracker.forget(path)
            unreadable[path] = nil
            return
        }
        do {
            try dropFile(path)
            guard running[entry.key] == nil, let row = try ledger.recording(entry.key) else { return }
            if let other = presentCopy(of: entry.key) {
                if row.path == entry.path && row.state != .processing {
                    var moved = row
                    moved.path = other.entry.path
                    try ledger.save(moved)
                    logger.info("renamed", metadata: ["path": "\(other.entry.path)", "from": "\(entry.path)"])
                }
                return
            }
            if row.state == .done { return }
            discardIncompleteOutputs(of: row.key)
            try ledger.delete(row.key)
            logger.info("gone", metadata: ["path": "\(entry.path)", "state": "\(row.state.rawValue)", "reason": "\(reason)"])
        } catch {
            logger.error("ledger_error", metadata: ["path": "\(entry.path)", "reason": "\(error)"])
        }
    }

    // MARK: Transcribing

    /// Starts a due recording; false when it cannot start now.
    private func start(_ recording: Recording) -> Bool {
        var row = recording
        var path = absolute(row.path)
        if known[path]?.key != row.key || FileStamp.of(path) == nil,
           let other = presentCopy(of: row.key, unchanged: true) {
            path = other.path
            row.path = other.entry.path
        }
        guard let stamp = FileStamp.of(path) else {
            if known[path] != nil {
                forget(path, reason: "deleted before it was transcribed")
            } else {
                discardIncompleteOutputs(of: row.key)
                try? ledger.delete(row.key)
                logger.info("gone", metadata: ["path": "\(row.path)", "reason": "deleted before it was transcribed"])
            }
            return false
        }
        guard let entry = known[path], entry.key == row.key, entry.stamp == stamp else {
            consider(path, stamp: stamp) // unknown or changed since it was hashed: settle and hash first
            return false
        }
        if tracker.contains(path) || hashing == path || hashQueued.contains(path) { return false }
        if restoreFromDisk(row) { return false }
        do {
            let targets = try plan(row, path: path)
            row.state = .processing
            row.attempts += 1
            row.startedAt = Date()
            row.nextAttemptAt = nil
            row.model = engine.modelName
            row.computeType = engine.computeType
            try ledger.startProcessing(row, planned: targets.map(relative))
            let job = Job(key: row.key, path: path, stamp: stamp, targets: targets, attempt: row.attempts)
            running[row.key] = job
            logger.info("started", metadata: ["path": "\(row.path)", "attempt": "\(row.attempts)/\(configuration.maxAttempts)",
                                              "size": .stringConvertible(stamp.size)])
            launch(job)
            return true
        } catch {
            logger.error("ledger_error", metadata: ["path": "\(row.path)", "reason": "\(error)"])
            return false
        }
    }

    /// A recording about to be transcribed whose complete transcripts are already on disk (its
    /// JSON records this content's SHA-256) is marked done with them instead: the ledger lost it
    /// (deleted, emptied, its `-wal` file lost) or was killed between the last rename and `done`.
    private func restoreFromDisk(_ recording: Recording) -> Bool {
        guard !recording.sha256.isEmpty, !recording.key.hasPrefix("empty:") else { return false }
        let paths = [absolute(recording.path)] + (pathsByKey[recording.key] ?? []).sorted()
        candidates: for path in paths where FileStamp.of(path) != nil {
            guard let found = writer.existingTranscripts(for: path, sha256: recording.sha256) else { continue }
            do {
                // Outputs the ledger gives to a recording of another file are not taken over.
                for output in found.outputs {
                    if let owner = try ledger.outputOwner(relative(output)), owner.key != recording.key,
                       let other = try ledger.recording(owner.key), other.path != relative(path) { continue candidates }
                }
                var row = recording
                row.path = relative(path)
                row.state = .done
                row.lastError = nil
                row.nextAttemptAt = nil
                row.finishedAt = Date()
                row.model = found.provenance.model
                row.computeType = found.provenance.computeType
                row.audioSeconds = found.provenance.duration
                row.transcriptionSeconds = nil
                discardIncompleteOutputs(of: row.key)
                try ledger.finish(row, outputs: found.outputs.map(relative))
                logger.info("restored", metadata: ["path": "\(row.path)", "outputs": .array(found.outputs.map { .string(relative($0)) }),
                                                   "action": "its transcripts are already on disk; not redone"])
                return true
            } catch {
                logger.error("ledger_error", metadata: ["path": "\(recording.path)", "reason": "\(error)"])
                return false
            }
        }
        return false
    }

    /// The output paths of a recording: those it already planned, else the first candidate
    /// set that takes no one else's file.
    private func plan(_ row: Recording, path: String) throws -> [String] {
        let planned = try ledger.outputs(of: row.key).map { absolute($0.path) }
        let candidates = writer.candidates(for: path)
        if let reuse = candidates.first(where: { Set($0) == Set(planned) }) { return reuse }
        for candidate in candidates where try candidate.allSatisfy({ try isUsable($0, by: row) }) {
            return candidate
        }
        return candidates[candidates.count - 1]
    }

    private func isUsable(_ target: String, by row: Recording) throws -> Bool {
        if let owner = try ledger.outputOwner(relative(target)) {
            if owner.key == row.key { return true }
            // The transcript of this file's older content is replaced; anyone else's is kept.
            guard let ownerRow = try ledger.recording(owner.key) else { return true }
            return ownerRow.path == row.path
        }
        return FileStamp.of(target) == nil && FileInfo.lstat(target) == nil
    }

    private nonisolated func launch(_ job: Job) {
        let engine = self.engine
        let continuation = self.continuation
        let thread = Thread {
            let clock = ContinuousClock()
            let start = clock.now
            let result: Result<TranscriptionOutput, EngineFailure>
            do throws(EngineFailure) {
                // The engine reads the very file that was hashed, never what a path points to now.
                let pinned = try PinnedFile(job.path, stamp: job.stamp)
                defer { withExtendedLifetime(pinned) {} } // open until the engine is done with it
                do throws(EngineFailure) {
                    result = .success(try engine.transcribe(path: pinned.path))
                } catch {
                    throw EngineFailure(reason: error.reason.replacingOccurrences(of: pinned.path, with: job.path),
                                        fileVanished: error.fileVanished)
                }
            } catch {
                result = .failure(error)
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            continuation.yield(.transcribed(key: job.key, result: result, seconds: seconds))
        }
        thread.name = "hark-watch-job"
        thread.stackSize = 16 << 20
        thread.start()
    }

    private func transcribed(key: String, result: Result<TranscriptionOutput, EngineFailure>, seconds: Double) {
        guard let job = running.removeValue(forKey: key) else { return } // abandoned
        do {
            guard var row = try ledger.recording(key) else { return }
            let stamp = FileStamp.of(job.path)
            var vanished = stamp == nil
            if case .failure(let failure) = result, failure.fileVanished { vanished = true }
            let movedTo = vanished ? (presentCopy(of: key, unchanged: true, excluding: job.path)?.path
                                      ?? renamedFile(matching: job.stamp, excluding: job.path)) : nil
            if vanished, case .success = result, let movedTo {
                // Renamed or moved while it was being transcribed: same content, keep the work.
                try dropFile(job.path)
                row.path = relative(movedTo)
                logger.info("renamed", metadata: ["path": "\(row.path)", "from": "\(relative(job.path))"])
            } else if vanished, let movedTo {
                // Moved away before it could be read: transcribe it under its new name.
                try dropFile(job.path)
                discardIncompleteOutputs(of: key)
                row.path = relative(movedTo)
                row.state = .pending
                row.attempts = max(0, row.attempts - 1)
                try ledger.save(row)
                logger.info("renamed", metadata: ["path": "\(row.path)", "from": "\(relative(job.path))"])
                return
            } else if vanished {
                forget(job.path, reason: "deleted while it was being transcribed")
                if let current = try ledger.recording(key), current.state == .processing {
                    discardIncompleteOutputs(of: key)
                    try ledger.delete(key)
                    logger.info("gone", metadata: ["path": "\(row.path)", "reason": "deleted while it was being transcribed"])
                }
                return
            }
            if !vanished && stamp != job.stamp {
                row.state = .pending
                row.attempts = max(0, row.attempts - 1)
                discardIncompleteOutputs(of: key)
                try ledger.save(row)
                logger.info("changed", metadata: ["path": "\(row.path)", "action": "modified while being transcribed; the new content will be transcribed"])
                consider(job.path)
                return
            }
            switch result {
            case .success(let transcript):
                let written: [String]
                do {
                    written = try writer.write(transcript, to: job.targets, model: engine.modelName, computeType: engine.computeType,
                                               source: TranscriptSource(name: (job.path as NSString).lastPathComponent, sha256: row.sha256),
                                               recording: job.path)
                } catch {
                    fail(row, reason: "cannot write the transcript: \(error)")
                    return
                }
                row.state = .done
                row.lastError = nil
                row.nextAttemptAt = nil
                row.finishedAt = Date()
                row.audioSeconds = transcript.duration
                row.transcriptionSeconds = seconds
                try ledger.finish(row, outputs: written.map(relative))
                summary.transcribed += 1
                logger.info("done", metadata: [
                    "path": "\(row.path)", "audio_seconds": .stringConvertible(Self.round(transcript.duration)),
                    "seconds": .stringConvertible(Self.round(seconds)),
                    "speed": .stringConvertible(Self.round(seconds > 0 ? transcript.duration / seconds : 0)),
                    "outputs": .array(written.map { .string(relative($0)) }),
                ])
            case .failure(let failure):
                fail(row, reason: Self.reason(failure.reason, path: job.path))
            }
        } catch {
            logger.error("ledger_error", metadata: ["path": "\(relative(job.path))", "reason": "\(error)"])
        }
    }

    /// Marks a recording failed: retried with backoff while it has attempts left, else (or with
    /// `giveUp`) left failed until the file changes.
    private func fail(_ recording: Recording, reason: String, giveUp: Bool = false) {
        var row = recording
        row.state = .failed
        row.lastError = reason
        row.finishedAt = Date()
        failedKeys.insert(row.key)
        summary.failed = failedKeys.count
        discardIncompleteOutputs(of: row.key)
        var metadata: Logger.Metadata = ["path": "\(row.path)", "reason": "\(reason)",
                                         "attempt": "\(row.attempts)/\(configuration.maxAttempts)"]
        if giveUp || row.attempts >= configuration.maxAttempts {
            row.nextAttemptAt = nil
            metadata["retry"] = "never (\(giveUp ? "interrupted too often" : "attempts used up"); touch the file to try again)"
            logger.error("failed", metadata: metadata)
        } else {
            let delay = configuration.backoff(afterAttempt: row.attempts)
            row.nextAttemptAt = Date().addingTimeInterval(delay)
            metadata["retry_in_seconds"] = .stringConvertible(Self.round(delay))
            logger.warning("failed", metadata: metadata)
        }
        do { try ledger.save(row) } catch { logger.error("ledger_error", metadata: ["reason": "\(error)"]) }
    }

    /// Removes a recording's planned but unfinished outputs (a partial set) from disk and ledger.
    private func discardIncompleteOutputs(of key: String) {
        do {
            let paths = try ledger.dropIncompleteOutputs(of: key).map(absolute)
            for path in paths { unlink(path) }
            OutputWriter.removeTemporaries(of: paths)
        } catch {
            logger.error("ledger_error", metadata: ["reason": "\(error)"])
        }
    }

    /// Recordings left `processing` by a watcher that was killed or crashed: redone. The
    /// interruption is not the file's failure (kill -9, a power cut, an OOM kill or a crash
    /// elsewhere are far likelier), so the attempt is given back and counted as an interruption
    /// instead. Only a recording interrupted `maxInterruptions` times (one that crashes the
    /// process itself, every time) is given up; interrupted recordings wait behind the others,
    /// so such a file cannot hold up the rest while it uses up its interruptions.
    private func recoverInterrupted() {
        do {
            for var row in try ledger.recordings(in: .processing) {
                let planned = try ledger.outputs(of: row.key).filter { !$0.complete }.map { absolute($0.path) }
                OutputWriter.removeTemporaries(of: planned)
                row.attempts = max(0, row.attempts - 1)
                row.interruptions += 1
                if row.interruptions >= configuration.maxInterruptions {
                    fail(row, reason: "interrupted \(row.interruptions) times while being transcribed (the watcher was killed "
                         + "or crashed each time; the file may crash it)", giveUp: true)
                    continue
                }
                row.state = .pending
                try ledger.save(row)
                logger.warning("recovered", metadata: ["path": "\(row.path)", "interruptions": .stringConvertible(row.interruptions),
                                                       "action": "interrupted while being transcribed; will be redone"])
            }
        } catch {
            logger.error("ledger_error", metadata: ["reason": "\(error)"])
        }
    }

    // MARK: Stopping

    private func stop(signal: Int32?) {
        if stopping {
            logger.warning("stopping_now", metadata: ["reason": "second stop request"])
            abandonRunning()
            return
        }
        stopping = true
        summary.stopSignal = signal
        fileEvents?.stop()
        tracker = ReadinessTracker(settle: configuration.settle)
        hashQueue.removeAll()
        var metadata: Logger.Metadata = ["running": .stringConvertible(running.count)]
        if let signal { metadata["signal"] = "\(SignalSources.name(signal))" }
        if running.isEmpty {
            logger.info("stopping", metadata: metadata)
            finished = true
            return
        }
        metadata["grace_seconds"] = .stringConvertible(configuration.grace)
        logger.info("stopping", metadata: metadata)
        if configuration.grace <= 0 {
            abandonRunning()
        } else {
            let continuation = self.continuation
            let grace = configuration.grace
            Task {
                try? await Task.sleep(nanoseconds: WatchConfiguration.nanoseconds(grace))
                continuation.yield(.graceExpired)
            }
        }
    }

    /// Puts running recordings back to pending without counting the attempt; their threads are
    /// left to finish (or die with the process) and their results ignored.
    private func abandonRunning() {
        for job in running.values.sorted(by: { $0.path < $1.path }) {
            do {
                if var row = try ledger.recording(job.key) {
                    row.state = .pending
                    row.attempts = max(0, row.attempts - 1)
                    row.startedAt = nil
                    discardIncompleteOutputs(of: job.key)
                    try ledger.save(row)
                }
                summary.abandoned += 1
                logger.info("abandoned", metadata: ["path": "\(relative(job.path))", "action": "will be transcribed at the next start"])
            } catch {
                logger.error("ledger_error", metadata: ["reason": "\(error)"])
            }
        }
        running.removeAll()
        finished = true
    }

    // MARK: Helpers

    /// `stamp`'s file under another name (a rename keeps the inode): among the files waiting to
    /// settle or be hashed, else by a scan, since the rename's event may not have arrived yet.
    private func renamedFile(matching stamp: FileStamp, excluding: String) -> String? {
        var candidates = tracker.stamps.filter { $0.value.isSameFile(as: stamp) }.map(\.key)
            + hashQueue.filter { $0.stamp.isSameFile(as: stamp) }.map(\.path) + (hashing.map { [$0] } ?? [])
        if candidates.isEmpty, let files = try? scanner.scan().files {
            candidates = files.filter { $0.value.isSameFile(as: stamp) }.map(\.key)
        }
        let found = candidates.filter { $0 != excluding }.sorted().first { FileStamp.of($0)?.isSameFile(as: stamp) ?? false }
        if let found { consider(found) }
        return found
    }

    /// Forgets a file without touching its recording.
    private func dropFile(_ path: String) throws {
        tracker.forget(path)
        unreadable[path] = nil
        guard let entry = known[path] else { return }
        forgetKnown(path)
        try ledger.forgetFile(entry.path)
    }

    private func remember(_ path: String, _ entry: KnownFile) {
        if let old = known[path] { pathsByKey[old.key]?.remove(path) }
        known[path] = entry
        pathsByKey[entry.key, default: []].insert(path)
    }

    private func forgetKnown(_ path: String) {
        guard let old = known.removeValue(forKey: path) else { return }
        pathsByKey[old.key]?.remove(path)
        if pathsByKey[old.key]?.isEmpty == true { pathsByKey[old.key] = nil }
    }

    /// A file that still holds a content (optionally: with the stamp it was hashed with).
    private func presentCopy(of key: String, unchanged: Bool = false, excluding: String? = nil) -> (path: String, entry: KnownFile)? {
        for path in (pathsByKey[key] ?? []).sorted() where path != excluding {
            guard let entry = known[path], let stamp = FileStamp.of(path) else { continue }
            if !unchanged || stamp == entry.stamp { return (path, entry) }
        }
        return nil
    }

    private func relative(_ path: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : root + "/" + path
    }

    static func round(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }

    /// Audio errors start with the path; the ledger and log already say which file it is.
    static func reason(_ reason: String, path: String) -> String {
        reason.hasPrefix(path + ": ") ? String(reason.dropFirst(path.count + 2)) : reason
    }
}
