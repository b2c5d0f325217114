import ArgumentParser
import Foundation
import HarkModel
import Hark
import HarkWatch
import Logging

/// `hark watch`: `hark watch DIR` runs the watcher (`run`, the default), `hark watch status DIR`
/// reports on the ledger.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch a folder and transcribe every recording that lands in it, exactly once.",
        discussion: """
            'hark watch DIR' runs the watcher (the 'run' subcommand; its options: 'hark watch run --help'). 'hark watch status DIR' shows what it has done.

            A file is taken once its size and modification time have stayed unchanged for --settle seconds. Transcripts go next to each recording (or under --output-dir). A ledger in DIR/.hark/ledger.sqlite remembers every recording by content, so nothing is transcribed twice (even renamed or copied in again) and nothing is lost across restarts or kill -9. Bad files are retried with backoff, then left failed.

            Examples:
              hark watch ~/VoiceNotes                      watch with inotify (base model)
              hark watch ~/VoiceNotes --once -f txt,srt    process the backlog and exit
              hark watch status ~/VoiceNotes               counts, failures, last done

            Running it as a systemd user service: see Docs/watch.md.
            """,
        subcommands: [WatchRunCommand.self, WatchStatusCommand.self],
        defaultSubcommand: WatchRunCommand.self)
}

/// `hark watch [run] DIR`: a long-running watcher that transcribes every voice note landing in
/// a folder, exactly once, and survives bad files, restarts and kill -9.
struct WatchRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Watch a folder and transcribe what lands in it (the default: 'hark watch DIR').",
        discussion: """
            A file is taken once its size and modification time have stayed unchanged for --settle seconds; hidden files, temporary names (.part, .tmp, ~, .crdownload) and Hark's own outputs are ignored. Detection uses inotify (or polling with --poll) plus a full scan at start and every --rescan seconds.

            Signals: SIGINT/SIGTERM stop (running transcriptions get --grace seconds to finish, then go back to the queue); a second signal stops at once. SIGHUP rescans the folder.

            Exit status: 0 when stopped by a signal or, with --once, when no file failed; 1 when --once saw a file fail or the watcher could not start; 2 for usage errors; 78 for a configuration that cannot work (no such folder, a missing or broken model, a language the model lacks), which a service manager should not restart on.
            """)

    @Argument(help: "The folder to watch.")
    var folder: String

    @Flag(name: .long, help: "Process the files present, then exit (1 if any failed).")
    var once = false

    @Flag(name: .long, help: "Show the ledger's status (same as 'hark watch status DIR') and exit.")
    var status = false

    @Flag(name: [.short, .long], help: "Watch subfolders too (new ones included).")
    var recursive = false

    @Option(name: [.short, .long], help: "Output formats: txt, srt, vtt, json, tsv or all; comma-separated.")
    var format = "txt,json"

    @Option(name: [.short, .long], help: "Write transcripts under DIR (mirroring subfolders) instead of next to each recording.")
    var outputDir: String?

    @Option(name: .long, help: "Folder for the ledger and lock (default: DIR/.hark).")
    var stateDir: String?

    @Option(name: .long, help: "Extensions of the recordings to take, comma-separated.")
    var extensions = FileFilter.defaultExtensions.joined(separator: ",")

    @Option(name: .long, help: "Seconds a file's size and mtime must stay unchanged before it is taken.")
    var settle = 2.0

    @Option(name: .long, help: "Seconds between full rescans (they catch anything events missed).")
    var rescan = 60.0

    @Flag(name: .long, help: "Poll the folder instead of using inotify (network or FUSE filesystems).")
    var poll = false

    @Option(name: .long, help: "Seconds between polls with --poll.")
    var pollInterval = 2.0

    @Option(name: [.short, .long], help: "Recordings transcribed at the same time (they share one model).")
    var jobs = 1

    @Option(name: .long, help: "Attempts per recording before it is left failed.")
    var maxAttempts = 3

    @Option(name: .long, help: "Seconds before the first retry of a failed file; each further retry waits 4× longer.")
    var retryDelay = 30.0

    @Option(name: .long, help: "Seconds a stop (SIGINT/SIGTERM) waits for running transcriptions before abandoning them.")
    var grace = 10.0

    @Option(name: .long, help: "Log lines as text or json (one event per line, on standard error).")
    var logFormat = "text"

    @Option(name: .long, help: "Least important log level shown: debug, info, warning, error.")
    var logLevel = "info"

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "With --status: how many recently done files to list.")
    var last = 10

    @Flag(name: .long, help: "With --status: print JSON.")
    var json = false

    func validate() throws {
        _ = try WatchRunCommand.parseFormats(format)
        guard !parsedExtensions.isEmpty else { throw ValidationError("--extensions is empty") }
        if let clash = parsedExtensions.first(where: { FileFilter.outputExtensions.contains($0) }) {
            throw ValidationError("--extensions cannot include '\(clash)': it is one of Hark's output formats")
        }
        // Bounded and finite: an infinite --grace used to crash the watcher at the first stop.
        // (--threads is checked with the other model options.)
        for (name, value, range) in [("--settle", settle, WatchConfiguration.Limits.settle),
                                     ("--rescan", rescan, WatchConfiguration.Limits.rescan),
                                     ("--poll-interval", pollInterval, WatchConfiguration.Limits.pollInterval),
                                     ("--retry-delay", retryDelay, WatchConfiguration.Limits.retryDelay),
                                     ("--grace", grace, WatchConfiguration.Limits.grace)] {
            try OptionBounds.check(value, in: range, option: name, unit: "seconds")
        }
        try OptionBounds.check(jobs, in: WatchConfiguration.Limits.jobs, option: "--jobs")
        try OptionBounds.check(maxAttempts, in: WatchConfiguration.Limits.maxAttempts, option: "--max-attempts")
        try OptionBounds.check(last, in: WatchConfiguration.Limits.last, option: "--last")
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    var parsedExtensions: [String] {
        extensions.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ". ")).lowercased() }
            .filter { !$0.isEmpty }
    }

    static func parseFormats(_ text: String) throws -> [TranscriptFormat] { try TranscriptFormat.parseList(text) }

    func watchConfiguration(folder url: URL) throws -> WatchConfiguration {
        var configuration = WatchConfiguration(folder: url)
        configuration.stateDirectory = stateDir.map { URL(fileURLWithPath: $0).standardizedFileURL }
        configuration.outputDirectory = outputDir.map { URL(fileURLWithPath: $0).standardizedFileURL }
        configuration.formats = try WatchRunCommand.parseFormats(format)
        configuration.extensions = parsedExtensions
        configuration.recursive = recursive
        configuration.settle = settle
        configuration.rescanInterval = rescan
        configuration.maxAttempts = maxAttempts
        configuration.retryDelay = retryDelay
        configuration.jobs = jobs
        configuration.once = once
        configuration.grace = grace
        return configuration
    }

    func run() throws {
        let console = Console(quiet: false)
        let url = try WatchRunCommand.existingFolder(folder)
        if status {
            try WatchStatusCommand.show(folder: url, stateDir: stateDir, last: last, json: json)
            return
        }
        let configuration = try watchConfiguration(folder: url)

        let format = LogFormat(rawValue: logFormat) ?? .text
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap(format.handler(level: level))
        let logger = Logger(label: "hark.watch")
        // Signals are caught from here on; one that arrives before the watcher runs ends it at once.
        signal(SIGPIPE, SIG_IGN) // a log reader that goes away must not kill the watcher
        let stops = StopRequests()
        let signals = SignalSources { signal in stops.signal(signal) }

        // The lock and ledger come before the model: a second watcher fails at once.
        let lock: FolderLock
        let ledger: Ledger
        do {
            lock = try FolderLock(folder: configuration.root, stateDirectory: configuration.effectiveStateDirectory)
            ledger = try Ledger(url: configuration.ledgerURL)
            try ledger.claim(folder: configuration.root)
        } catch {
            console.error("\(error)")
            throw ExitCode(1)
        }

        let threadCount = OptionBounds.explicitThreads(modelOptions.threads) ?? max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)
        var options = TranscriptionOptions()
        options.language = modelOptions.languageCode
        options.beamSize = modelOptions.beamSize
        let loadStart = Date()
        let engine: WhisperEngine
        do {
            let transcriber = try modelOptions.loadTranscriber(threads: threadCount)
            try modelOptions.checkLanguage(of: transcriber, translating: false)
            engine = try WhisperEngine(transcriber: transcriber, options: options, modelName: modelOptions.model,
                                       computeType: modelOptions.computeType)
        } catch {
            console.error("\(error)")
            throw ExitCode.configuration
        }
        logger.info("loaded", metadata: ["model": "\(modelOptions.model)", "seconds": .stringConvertible((Date().timeIntervalSince(loadStart) * 100).rounded() / 100),
                                         "threads_per_job": .stringConvertible(threadCount)])

        let events: (any FileEvents)?
        if configuration.once {
            events = nil
        } else if poll {
            events = PollingEvents(scanner: FolderScanner(filter: configuration.filter, recursive: recursive), interval: pollInterval)
        } else {
            #if os(Linux)
            events = InotifyEvents(filter: configuration.filter, recursive: recursive)
            #else
            events = PollingEvents(scanner: FolderScanner(filter: configuration.filter, recursive: recursive), interval: pollInterval)
            #endif
        }
        let watcher = Watcher(configuration: configuration, engine: engine, ledger: ledger, fileEvents: events, logger: logger)
        stops.attach(watcher)
        let result = SummaryBox()
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            result.set(await watcher.run())
            finished.signal()
        }
        finished.wait()
        withExtendedLifetime((lock, signals)) {}
        let status: Int32 = configuration.once && result.summary.failed > 0 ? 1 : 0
        if result.summary.abandoned > 0 {
            // A transcription abandoned at the stop is still running on its thread: the
            // process ends here without the exit-time clean-up that would run under it (it
            // crashed inside OpenBLAS one stop in three), after removing what it was reading.
            PinnedFile.removeOpenFolders()
            fflush(nil)
            _exit(status)
        }
        if status != 0 { throw ExitCode(status) }
    }

    static func forward(_ signal: Int32, to watcher: Watcher) {
        if signal == SIGHUP {
            watcher.requestRescan(reason: "SIGHUP")
        } else {
            watcher.requestStop(signal: signal)
        }
    }

    static func existingFolder(_ path: String) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            Console(quiet: false).error("\(path): no such folder")
            throw ExitCode.configuration
        }
        guard isDirectory.boolValue else {
            Console(quiet: false).error("\(path): not a folder; hark watch watches a folder")
            throw ExitCode.configuration
        }
        return URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
    }
}

/// `hark watch status DIR`: what the ledger knows.
struct WatchStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a watched folder's counts per state, failed files with reasons, and the last files done.")

    @Argument(help: "The watched folder.")
    var folder: String

    @Option(name: .long, help: "Folder of the ledger, if the watcher was given --state-dir.")
    var stateDir: String?

    @Option(name: .long, help: "How many recently done files to list.")
    var last = 10

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func validate() throws {
        try OptionBounds.check(last, in: WatchConfiguration.Limits.last, option: "--last")
    }

    func run() throws {
        try WatchStatusCommand.show(folder: try WatchRunCommand.existingFolder(folder), stateDir: stateDir, last: last, json: json)
    }

    static func show(folder: URL, stateDir: String?, last: Int, json: Bool) throws {
        var configuration = WatchConfiguration(folder: folder)
        configuration.stateDirectory = stateDir.map { URL(fileURLWithPath: $0).standardizedFileURL }
        do {
            let ledger = try Ledger(url: configuration.ledgerURL, create: false)
            let status = try WatchStatus(ledger: ledger, folder: configuration.root,
                                         stateDirectory: configuration.effectiveStateDirectory, last: last)
            print(json ? status.json() : status.text(), terminator: "")
        } catch {
            Console(quiet: false).error("\(error)")
            throw ExitCode(1)
        }
    }
}

/// Routes signals to the watcher once it exists; remembers a stop that came before.
private final class StopRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var watcher: Watcher?
    private var early: [Int32] = []

    func signal(_ number: Int32) {
        lock.lock()
        defer { lock.unlock() }
        guard let watcher else {
            if number != SIGHUP { early.append(number) }
            return
        }
        WatchRunCommand.forward(number, to: watcher)
    }

    func attach(_ watcher: Watcher) {
        lock.lock()
        defer { lock.unlock() }
        self.watcher = watcher
        for number in early { WatchRunCommand.forward(number, to: watcher) }
        early.removeAll()
    }
}

/// Carries the watcher's summary out of its task.
private final class SummaryBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = WatchSummary()

    func set(_ summary: WatchSummary) {
        lock.lock()
        value = summary
        lock.unlock()
    }

    var summary: WatchSummary {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

extension ExitCode {
    /// A configuration that cannot work as given (sysexits' EX_CONFIG): a missing folder or
    /// model, a language the model lacks. A service manager should not restart on it
    /// (systemd: `RestartPreventExitStatus=2 78`), as it would only fail again.
    static let configuration = ExitCode(78)
}
