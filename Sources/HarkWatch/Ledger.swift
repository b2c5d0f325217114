import Foundation
import GRDB

/// Where a recording is in its life.
public enum RecordingState: String, Codable, Sendable, CaseIterable {
    /// Found and waiting for its turn (or for its retry time, after a failure).
    case pending
    /// Being transcribed. Found at start-up, it means the watcher stopped mid-file: it is redone.
    case processing
    /// Transcribed; `outputs` is its complete set of files.
    case done
    /// Could not be transcribed; `lastError` says why, `nextAttemptAt` when it is retried (if ever).
    case failed
}

/// One recording, identified by its content: a file copied or renamed keeps its row.
public struct Recording: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "recording"

    /// The content key: the sha256 for non-empty files; empty files (all alike) are keyed by
    /// `empty:` and their path, so that each is reported on its own.
    public var key: String
    /// SHA-256 of the content, lower-case hex.
    public var sha256: String
    /// Where the content was last seen, relative to the watched folder (absolute when outside it).
    public var path: String
    public var size: Int64
    public var modified: Date
    public var state: RecordingState
    /// Transcription attempts that failed or are running (an interrupted one is not counted).
    public var attempts: Int
    /// Transcriptions cut short by the watcher being killed or crashing.
    public var interruptions: Int
    public var lastError: String?
    /// When a failed recording is tried again; `nil` once it has used all its attempts.
    public var nextAttemptAt: Date?
    /// The complete set of transcript files (recorded only after all were written).
    public var outputs: [String]
    public var model: String?
    public var computeType: String?
    /// The recording's duration in seconds.
    public var audioSeconds: Double?
    /// Wall-clock seconds the last transcription took.
    public var transcriptionSeconds: Double?
    public var discoveredAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date

    public init(key: String, sha256: String, path: String, size: Int64, modified: Date, state: RecordingState = .pending,
                attempts: Int = 0, discoveredAt: Date) {
        self.key = key
        self.sha256 = sha256
        self.path = path
        self.size = size
        self.modified = modified
        self.state = state
        self.attempts = attempts
        self.interruptions = 0
        self.outputs = []
        self.discoveredAt = discoveredAt
        self.updatedAt = discoveredAt
    }

    /// Transcription speed: seconds of audio per second of work.
    public var speed: Double? {
        guard let audioSeconds, let transcriptionSeconds, transcriptionSeconds > 0 else { return nil }
        return audioSeconds / transcriptionSeconds
    }
}

/// A file seen in the folder and the content it had: lets rescans skip unchanged files
/// without hashing them again.
public struct KnownFile: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "file"
    public var path: String
    public var key: String
    public var size: Int64
    public var modifiedNs: Int64
    public var changedNs: Int64
    public var inode: Int64
    public var device: Int64
    public var seenAt: Date

    public init(path: String, key: String, stamp: FileStamp, seenAt: Date) {
        self.path = path
        self.key = key
        size = stamp.size
        modifiedNs = stamp.modified
        changedNs = stamp.changed
        inode = Int64(bitPattern: stamp.inode)
        device = Int64(bitPattern: stamp.device)
        self.seenAt = seenAt
    }

    public var stamp: FileStamp {
        FileStamp(size: size, modified: modifiedNs, changed: changedNs, inode: UInt64(bitPattern: inode),
                  device: UInt64(bitPattern: device))
    }
}

/// A transcript file and the recording it belongs to. Rows with `complete == false` are
/// planned: written (or about to be) by a transcription that has not finished.
public struct OutputFile: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "output"
    public var path: String
    public var key: String
    public var complete: Bool
}

/// The ledger could not be opened or used.
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// The watcher's memory: a SQLite database (WAL mode, synchronous=FULL) at
/// `DIR/.hark/ledger.sqlite`, written by one watcher and readable at any time by
/// `hark watch status`. The schema evolves through GRDB migrations.
public final class Ledger: Sendable {
    public let url: URL
    let database: DatabaseQueue

    /// Opens the ledger: with `create`, creating and migrating it (the watcher, which holds the
    /// folder's lock); without, only reading one a watcher has set up (`hark watch status`,
    /// which may run while a watcher starts).
    public init(url: URL, create: Bool = true) throws(LedgerError) {
        self.url = url
        if !create && !FileManager.default.fileExists(atPath: url.path) {
            throw LedgerError(path: url.path, reason: "no ledger here; has 'hark watch' run on this folder?")
        }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.journalMode = .wal
            configuration.busyMode = .timeout(10)
            configuration.label = "hark-ledger"
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            database = try DatabaseQueue(path: url.path, configuration: configuration)
            if create {
                // Only the watcher creates and migrates, under its folder lock: two processes
                // migrating at once could both see the schema missing and collide.
                try Ledger.migrator.migrate(database)
            } else if try !database.read({ try Ledger.migrator.hasCompletedMigrations($0) }) {
                throw LedgerError(path: url.path, reason: "the ledger is not set up yet (a watcher may be starting); try again")
            }
        } catch let error as LedgerError {
            throw error
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            // Refused rather than replaced: it may still be recoverable with sqlite3.
            throw LedgerError(path: url.path, reason: "the ledger is damaged (\(Ledger.describe(error))); move it aside and "
                              + "start again: transcripts already written are recognised by their JSON and not redone")
        } catch {
            throw LedgerError(path: url.path, reason: Ledger.describe(error))
        }
    }

    /// Moves everything in the write-ahead log into the database file and empties the log, so
    /// that after a clean exit the ledger is whole in `ledger.sqlite` alone (a lost or deleted
    /// `-wal` file then loses nothing).
    public func checkpoint() throws {
        try database.writeWithoutTransaction { _ = try $0.checkpoint(.truncate) }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error)" }
        return (error as NSError).localizedDescription
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "recording") { t in
                t.primaryKey("key", .text)
                t.column("sha256", .text).notNull().indexed()
                t.column("path", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("modified", .datetime).notNull()
                t.column("state", .text).notNull().indexed()
                    .check { ["pending", "processing", "done", "failed"].contains($0) }
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("lastError", .text)
                t.column("nextAttemptAt", .datetime)
                t.column("outputs", .text).notNull().defaults(to: "[]")
                t.column("model", .text)
                t.column("computeType", .text)
                t.column("audioSeconds", .double)
                t.column("transcriptionSeconds", .double)
                t.column("discoveredAt", .datetime).notNull()
                t.column("startedAt", .datetime)
                t.column("finishedAt", .datetime)
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "file") { t in
                t.primaryKey("path", .text)
                t.column("key", .text).notNull().indexed()
                t.column("size", .integer).notNull()
                t.column("modifiedNs", .integer).notNull()
                t.column("changedNs", .integer).notNull()
                t.column("inode", .integer).notNull()
                t.column("device", .integer).notNull()
                t.column("seenAt", .datetime).notNull()
            }
            try db.create(table: "setting") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
            }
            try db.create(table: "output") { t in
                t.primaryKey("path", .text)
                t.column("key", .text).notNull().indexed()
                    .references("recording", column: "key", onDelete: .cascade)
                t.column("complete", .boolean).notNull()
            }
        }
        migrator.registerMigration("v2") { db in
            try db.alter(table: "recording") { t in
                t.add(column: "interruptions", .integer).notNull().defaults(to: 0)
            }
        }
        return migrator
    }

    /// Ties the ledger to the folder it describes (paths in it are relative to that folder), so
    /// that one `--state-dir` is never shared by two folders by mistake.
    public func claim(folder: String) throws(LedgerError) {
        do {
            let owner: String? = try database.write { db in
                if let owner = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE name = 'folder'") { return owner }
                try db.execute(sql: "INSERT INTO setting (name, value) VALUES ('folder', ?)", arguments: [folder])
                return nil
            }
            if let owner, owner != folder, FileManager.default.fileExists(atPath: owner) {
                throw LedgerError(path: url.path, reason: "this ledger belongs to \(owner); give each watched folder its own --state-dir")
            }
            if let owner, owner != folder {
                // The folder was moved or renamed: the ledger (relative paths) moves with it.
                try database.write { try $0.execute(sql: "UPDATE setting SET value = ? WHERE name = 'folder'", arguments: [folder]) }
            }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(path: url.path, reason: Ledger.describe(error))
        }
    }

    // MARK: Inspection

    /// The SQLite journal mode ("wal").
    public func journalMode() throws -> String {
        try database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// The migrations applied, in order.
    public func appliedMigrations() throws -> [String] {
        try database.read { try Ledger.migrator.appliedMigrations($0) }
    }

    public func recording(_ key: String) throws -> Recording? {
        try database.read { try Recording.fetchOne($0, key: key) }
    }

    public func recordings(in state: RecordingState? = nil) throws -> [Recording] {
        try database.read { db in
            var request = Recording.order(Column("discoveredAt"), Column("path"))
            if let state { request = request.filter(Column("state") == state.rawValue) }
            return try request.fetchAll(db)
        }
    }

    public func counts() throws -> [RecordingState: Int] {
        try database.read { db in
            var counts = Dictionary(uniqueKeysWithValues: RecordingState.allCases.map { ($0, 0) })
            let rows = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM recording GROUP BY state")
            for row in rows {
                if let state = RecordingState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// The most recently finished recordings.
    public func lastDone(limit: Int) throws -> [Recording] {
        try database.read { db in
            try Recording.filter(Column("state") == RecordingState.done.rawValue)
                .order(Column("finishedAt").desc, Column("path")).limit(limit).fetchAll(db)
        }
    }

    /// Recordings waiting to be transcribed now, oldest first: pending, or failed with a retry
    /// time that has come. Those interrupted before wait behind the others.
    public func due(now: Date, limit: Int = 64) throws -> [Recording] {
        try database.read { db in
            try Recording.filter(Column("state") == RecordingState.pending.rawValue
                                 || (Column("state") == RecordingState.failed.rawValue && Column("nextAttemptAt") != nil
                                     && Column("nextAttemptAt") <= now))
                .order(Column("interruptions"), Column("discoveredAt"), Column("path")).limit(limit).fetchAll(db)
        }
    }

    /// Recordings last seen at a path.
    public func recordings(atPath path: String) throws -> [Recording] {
        try database.read { try Recording.filter(Column("path") == path).fetchAll($0) }
    }

    public func knownFiles() throws -> [KnownFile] {
        try database.read { try KnownFile.fetchAll($0) }
    }

    public func outputs(of key: String) throws -> [OutputFile] {
        try database.read { try OutputFile.filter(Column("key") == key).order(Column("path")).fetchAll($0) }
    }

    public func outputOwner(_ path: String) throws -> OutputFile? {
        try database.read { try OutputFile.fetchOne($0, key: path) }
    }

    // MARK: Changes

    /// Records a file's content, creating its recording when the content is new.
    public func register(file: KnownFile, newRecording: Recording?) throws {
        try database.write { db in
            if let newRecording { try newRecording.insert(db) }
            try file.save(db)
        }
    }

    public func save(_ recording: Recording) throws {
        var recording = recording
        recording.updatedAt = Date()
        try database.write { try recording.save($0) }
    }

    public func forgetFile(_ path: String) throws {
        _ = try database.write { try KnownFile.deleteOne($0, key: path) }
    }

    /// Deletes a recording (one that never completed) and its planned outputs.
    public func delete(_ key: String) throws {
        _ = try database.write { try Recording.deleteOne($0, key: key) }
    }

    /// Marks a recording as being transcribed and records the files it will write.
    public func startProcessing(_ recording: Recording, planned: [String]) throws {
        var recording = recording
        recording.updatedAt = Date()
        try database.write { db in
            try recording.save(db)
            for path in planned where try OutputFile.fetchOne(db, key: path) == nil {
                try OutputFile(path: path, key: recording.key, complete: false).insert(db)
            }
        }
    }

    /// Marks a recording done with its complete outputs, taking those paths over from any
    /// older content of the same file.
    public func finish(_ recording: Recording, outputs: [String]) throws {
        var recording = recording
        recording.outputs = outputs
        recording.updatedAt = Date()
        try database.write { db in
            try recording.save(db)
            for path in outputs {
                if let previous = try OutputFile.fetchOne(db, key: path), previous.key != recording.key,
                   var owner = try Recording.fetchOne(db, key: previous.key) {
                    owner.outputs.removeAll { $0 == path }
                    owner.updatedAt = recording.updatedAt
                    try owner.update(db)
                }
                try OutputFile(path: path, key: recording.key, complete: true).save(db)
            }
            try OutputFile.filter(Column("key") == recording.key && !outputs.contains(Column("path"))).deleteAll(db)
        }
    }

    /// Drops the planned (incomplete) outputs of a recording; returns their paths.
    @discardableResult
    public func dropIncompleteOutputs(of key: String) throws -> [String] {
        try database.write { db in
            let request = OutputFile.filter(Column("key") == key && Column("complete") == false)
            let paths = try request.fetchAll(db).map(\.path)
            try request.deleteAll(db)
            return paths
        }
    }

    /// Removes file entries that point at no recording (left by an interrupted write).
    public func repair() throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM file WHERE key NOT IN (SELECT key FROM recording)")
        }
    }
}
