import Foundation
import HarkTestSupport
import XCTest

/// What a fault-injection run found in the command line, each case run as a user would:
/// absurd options, pipes and standard input, clashing and partial outputs, and messages.
final class HardeningTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = TestSupport.modelStore.path
        return environment
    }

    private func run(_ arguments: [String], stdin: Data? = nil,
                     environment extra: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(try TestSupport.harkExecutable(), arguments, stdin: stdin,
                            environment: environment.merging(extra) { $1 })
    }

    private func names(_ folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    // MARK: Options

    /// Each crashed, grew to gigabytes, or was accepted: now a usage error (exit 2) that says
    /// the range, before the model loads.
    func testAbsurdOptionValuesAreUsageErrors() throws {
        let file = TestSupport.sample("voice-note-16k.wav")
        let cases: [([String], String)] = [
            (["--threads", "9223372036854775807"], "--threads must be from 0 to 16"),
            (["--threads", "-1"], "--threads"),
            (["--beam-size", "9223372036854775807"], "--beam-size must be from 1 to 32"),
            (["--beam-size", "100000"], "--beam-size"),
            (["--best-of", "100000", "--temperature", "1"], "--best-of must be from 1 to 32"),
            (["--temperature", "inf"], "--temperature"),
            (["--temperature", "nan"], "--temperature"),
            (["--temperature", "0,,1"], "--temperature"),
            (["--temperature", "-1"], "--temperature"),
            (["--format", "all,bogus"], "unknown format 'bogus'"),
        ]
        for (options, message) in cases {
            let result = try run(["transcribe", "--model", "tiny.en"] + options + [file])
            XCTAssertEqual(result.status, 2, "\(options): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("hark: ") && result.stderr.contains(message), "\(options): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("loaded"), "refused before loading: \(result.stderr)")
        }
        for command in [["eval", "x.tsv"], ["bench", "x.wav"]] {
            let result = try run(command + ["--beam-size", "100000"])
            XCTAssertEqual(result.status, 2, "\(command): \(result.stderr)")
        }
    }

    func testStandardInputOnlyOnceAndDashedFileNames() throws {
        let twice = try run(["transcribe", "--model", "tiny.en", "-", "-"], stdin: Data("x".utf8))
        XCTAssertEqual(twice.status, 2, twice.stderr)
        XCTAssertTrue(twice.stderr.contains("only once"), twice.stderr)

        // `-dash.wav` parsed as -d -a -s -h printed the help and exited 0.
        let dashed = try run(["transcribe", "--model", "tiny.en", "-dash.wav"])
        XCTAssertEqual(dashed.status, 2, dashed.stderr)
        XCTAssertEqual(dashed.stdout, "")
        XCTAssertTrue(dashed.stderr.contains("./-dash.wav"), dashed.stderr)
        let afterDashes = try run(["transcribe", "--model", "tiny.en", "--", "-dash.wav"])
        XCTAssertEqual(afterDashes.status, 1, afterDashes.stderr)
        XCTAssertTrue(afterDashes.stderr.contains("hark: -dash.wav: no such file"), afterDashes.stderr)
    }

    // MARK: Standard input and pipes

    /// Standard input is held in a private file without a name: nothing in the temporary
    /// folder for another user to read, replace or redirect, and nothing left behind.
    func testStandardInputSpoolHasNoNameAndIsPrivate() throws {
        let temporary = directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        let audio = try Data(contentsOf: URL(fileURLWithPath: TestSupport.sample("shopping-48k.flac")))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.harkExecutable())
        process.arguments = ["transcribe", "--model", "tiny.en", "-q", "-"]
        process.environment = environment.merging(["TMPDIR": temporary.path]) { $1 }
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Half the audio in: hark is still reading standard input into its spool.
        try input.fileHandleForWriting.write(contentsOf: audio.prefix(audio.count / 2))
        var spool: String?
        for _ in 0..<100 where spool == nil {
            Thread.sleep(forTimeInterval: 0.05)
            let fds = "/proc/\(process.processIdentifier)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fds)/\(fd)")) ?? ""
                if target.contains("hark-spool-") { spool = "\(fds)/\(fd) -> \(target)" }
            }
        }
        let held = try XCTUnwrap(spool, "the spool is open")
        XCTAssertTrue(held.hasSuffix("(deleted)"), "unlinked at once: \(held)")
        XCTAssertEqual(names(temporary), [], "no name in the temporary folder")
        var status = stat()
        XCTAssertEqual(stat(String(held.split(separator: " ")[0]), &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o600, "readable by its owner only")
        if getuid() == 0 {
            // Another local user tries to read the audio through the only way to it.
            let intruder = try TestSupport.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                                    "/bin/cat", String(held.split(separator: " ")[0])])
            XCTAssertNotEqual(intruder.status, 0, "another user cannot read the spool")
            XCTAssertEqual(intruder.stdout, "")
        }
        try input.fileHandleForWriting.write(contentsOf: audio.dropFirst(audio.count / 2))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.lowercased().contains("milk"), text)
        XCTAssertEqual(names(temporary), [])
    }

    /// Ctrl-C while an endless standard input is being read leaves nothing on disk (it left
    /// 1.1 GB in /tmp).
    func testInterruptedEndlessInputLeavesNothing() throws {
        let temporary = directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.harkExecutable())
        process.arguments = ["transcribe", "--model", "tiny.en", "-"]
        process.environment = environment.merging(["TMPDIR": temporary.path]) { $1 }
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/zero"))
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.5)
        process.interrupt()
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertEqual(names(temporary), [])
    }

    /// `- < /dev/zero` wrote until the disk was full (or was killed by SIGXFSZ): a write past the
    /// file size limit is an error, and the spool holds at most 4 GiB.
    func testEndlessInputPastTheFileSizeLimitIsAnError() throws {
        let temporary = directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        let result = try TestSupport.run("/bin/bash", ["-c", "ulimit -f 2048; exec \"$0\" transcribe --model tiny.en - < /dev/zero",
                                                        try TestSupport.harkExecutable()],
                                         environment: environment.merging(["TMPDIR": temporary.path]) { $1 })
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(result.stderr, "hark: standard input: cannot be held in \(temporary.path) (File too large)\n")
        XCTAssertEqual(names(temporary), [])
    }

    /// A newline in a file name split the error over two lines.
    func testControlCharactersInNamesAreEscaped() throws {
        let file = directory.appendingPathComponent("new\nline.wav")
        try Data("not audio".utf8).write(to: file)
        let result = try run(["transcribe", "--model", "tiny.en", "-q", file.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("new\\nline.wav"), result.stderr)
    }

    /// A named pipe (or `<(command)`) said "the file is empty"; it is read once, like standard input.
    func testANamedPipeIsTranscribed() throws {
        let fifo = directory.appendingPathComponent("note.wav").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let audio = try Data(contentsOf: URL(fileURLWithPath: TestSupport.sample("dentist-22k.ogg")))
        let writer = Thread {
            if let handle = FileHandle(forWritingAtPath: fifo) {
                try? handle.write(contentsOf: audio)
                try? handle.close()
            }
        }
        writer.start()
        let result = try run(["transcribe", "--model", "tiny.en", fifo])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.lowercased().contains("dentist"), result.stdout)
    }

    // MARK: Outputs

    /// `--overwrite -o out a/x.wav b/x.wav` wrote one x.txt and lost the other silently.
    func testInputsThatWouldWriteTheSameOutputsAreRefused() throws {
        let sample = TestSupport.sample("voice-note-16k.wav")
        for folder in ["a", "b"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: sample, toPath: directory.appendingPathComponent("\(folder)/x.wav").path)
        }
        let out = directory.appendingPathComponent("out")
        let result = try run(["transcribe", "--model", "tiny.en", "--overwrite", "-o", out.path,
                              directory.appendingPathComponent("a/x.wav").path, directory.appendingPathComponent("b/x.wav").path])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("a/x.wav and ") && result.stderr.contains("b/x.wav would write the same outputs"), result.stderr)
        XCTAssertEqual(names(out), [])

        // With --recursive the tree is mirrored under the output folder instead.
        let mirrored = try run(["transcribe", "--model", "tiny.en", "--recursive", "-o", out.path,
                                directory.appendingPathComponent("a").path, directory.appendingPathComponent("b").path])
        XCTAssertEqual(mirrored.status, 2, "two folders given: both hold x.wav at their top: \(mirrored.stderr)")
        let tree = try run(["transcribe", "--model", "tiny.en", "--recursive", "-o", out.path, directory.path])
        XCTAssertEqual(tree.status, 0, tree.stderr)
        XCTAssertEqual(names(out.appendingPathComponent("a")), ["x.txt"])
        XCTAssertEqual(names(out.appendingPathComponent("b")), ["x.txt"])
    }

    /// On a full disk `-f all` left 3 of 5 files; a file's outputs are all written or none.
    /// The file size limit stands in for the full disk: the JSON is larger than it.
    func testOutputsAreAllWrittenOrNone() throws {
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        // The note twice: its JSON is well over the 1-KiB limit, its text and subtitles under it.
        let note = directory.appendingPathComponent("voice-note-16k.wav").path
        let sample = TestSupport.sample("voice-note-16k.wav")
        XCTAssertEqual(try TestSupport.run("/usr/bin/sox", [sample, sample, note]).status, 0)
        // No `trap '' XFSZ`: hark itself turns the signal into a failed write.
        let command = "ulimit -f 1; exec \"$0\" \"$@\""
        let limited = try TestSupport.run("/bin/bash", ["-c", command, try TestSupport.harkExecutable(), "transcribe",
                                                         "--model", "tiny.en", "-f", "all", "-o", out.path, note],
                                          environment: environment)
        XCTAssertEqual(limited.status, 1, limited.stderr)
        XCTAssertTrue(limited.stderr.contains("File too large"), limited.stderr)
        XCTAssertEqual(names(out), [], "no output, and no temporary, of the failed input")
        let unlimited = try run(["transcribe", "--model", "tiny.en", "-f", "all", "-o", out.path, note])
        XCTAssertEqual(unlimited.status, 0, unlimited.stderr)
        let json = try Data(contentsOf: out.appendingPathComponent("voice-note-16k.json"))
        XCTAssertGreaterThan(json.count, 1024, "the limit did bite on the JSON")
        XCTAssertEqual(names(out).count, 5)
    }

    /// A dangling symbolic link at an output's name was replaced without --overwrite.
    func testALinkAtTheOutputNameIsKeptWithoutOverwrite() throws {
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let link = out.appendingPathComponent("voice-note-16k.txt")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "/nonexistent/elsewhere")
        let result = try run(["transcribe", "--model", "tiny.en", "-o", out.path, TestSupport.sample("voice-note-16k.wav")])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("--overwrite"), result.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), "/nonexistent/elsewhere")
    }

    /// A 220-character name failed with "File name too long": the temporary added 42.
    func testALongInputNameIsWritten() throws {
        let name = String(repeating: "n", count: 216) + ".wav"
        try FileManager.default.copyItem(atPath: TestSupport.sample("voice-note-16k.wav"), toPath: directory.appendingPathComponent(name).path)
        let out = directory.appendingPathComponent("out")
        let result = try run(["transcribe", "--model", "tiny.en", "-f", "json", "-o", out.path, directory.appendingPathComponent(name).path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(names(out), [String(repeating: "n", count: 216) + ".json"])
    }

    // MARK: Messages

    /// A path was repeated up to three times (`hark: F: F: … (ffmpeg: F: …)`).
    func testAFailedFileIsNamedOnce() throws {
        let m4a = directory.appendingPathComponent("broken.m4a")
        try Data(repeating: 0x41, count: 4096).write(to: m4a)
        let wav = directory.appendingPathComponent("broken.wav")
        try Data("RIFF....WAVEfmt not really".utf8).write(to: wav)
        for file in [m4a, wav] {
            let result = try run(["transcribe", "--model", "tiny.en", "-q", file.path])
            XCTAssertEqual(result.status, 1, result.stderr)
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, result.stderr)
            XCTAssertEqual(lines.first?.components(separatedBy: file.path).count, 2, "named once: \(result.stderr)")
        }
        let empty = try run(["transcribe", "--model", "tiny.en", "-q", "-"], stdin: Data())
        XCTAssertEqual(empty.status, 1)
        XCTAssertEqual(empty.stderr, "hark: -: standard input is empty\n")
    }

    /// Ctrl-C during `hark quantize` left a `.partial` file.
    func testInterruptedQuantizeLeavesNoFile() throws {
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.harkExecutable())
        process.arguments = ["quantize", "--model", "base", "--output", out.appendingPathComponent("b.safetensors").path]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Interrupted once the partial file exists.
        var sawPartial = false
        for _ in 0..<400 where !sawPartial && process.isRunning {
            sawPartial = names(out).contains { $0.hasSuffix(".partial") }
            if !sawPartial { Thread.sleep(forTimeInterval: 0.01) }
        }
        XCTAssertTrue(sawPartial, "the quantized file was being written")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertEqual(names(out), [])
    }
}
