import Foundation
import HarkTestSupport
import XCTest

/// `hark models` as a user runs it: from an installed copy of the binary, outside any checkout.
final class ModelsCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A copy of the built binary in `<tmp>/bin`, like `Scripts/install` makes; a home with
    /// tiny.en in the XDG store; and a working directory that looks like a checkout, with a
    /// model and a `Scripts/fetch-models` of its own that must be neither found nor run.
    private func installedCopy() throws -> (hark: String, environment: [String: String], workingDirectory: URL, store: URL) {
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let hark = bin.appendingPathComponent("hark")
        try FileManager.default.copyItem(atPath: try TestSupport.harkExecutable(), toPath: hark.path)

        let store = directory.appendingPathComponent("data/hark/models")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: store.appendingPathComponent("tiny.en"),
                                                   withDestinationURL: try TestSupport.modelDirectory("tiny.en"))

        let work = directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("Models/decoy"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work.appendingPathComponent("Scripts"), withIntermediateDirectories: true)
        try Data("// swift-tools-version:6.0\n".utf8).write(to: work.appendingPathComponent("Package.swift"))
        try FileManager.default.createSymbolicLink(at: work.appendingPathComponent("Models/decoy/model.bin"),
                                                   withDestinationURL: try TestSupport.modelDirectory("tiny.en").appendingPathComponent("model.bin"))
        let script = work.appendingPathComponent("Scripts/fetch-models")
        try "#!/bin/sh\ntouch \"\(directory.appendingPathComponent("ran-fetch-models").path)\"\n".write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)

        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = nil
        environment["HOME"] = directory.appendingPathComponent("home").path
        environment["XDG_DATA_HOME"] = directory.appendingPathComponent("data").path
        environment["XDG_CACHE_HOME"] = directory.appendingPathComponent("cache").path
        // Nothing listens there: a fetch must fail fast and never reach the network.
        environment["HARK_PYPI_URL"] = "http://127.0.0.1:9"
        return (hark.path, environment, work, store)
    }

    func testAnInstalledBinaryUsesTheXDGStoreAndNeverTheCurrentDirectory() throws {
        let copy = try installedCopy()
        let run = { (arguments: [String]) in
            try TestSupport.run(copy.hark, arguments, environment: copy.environment, currentDirectory: copy.workingDirectory)
        }

        let list = try run(["models"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertEqual(rows.first, ["NAME", "SIZE", "LANGUAGES", "STATUS", "WHERE"])
        let tiny = try XCTUnwrap(rows.first { $0.first == "tiny.en" }, list.stdout)
        XCTAssertEqual(Array(tiny.dropFirst(3)), ["en", "installed", copy.store.appendingPathComponent("tiny.en").path], list.stdout)
        XCTAssertEqual(tiny[1...2], ["78.1", "MB"], "the size of the installed files")
        XCTAssertEqual(rows.first { $0.first == "base" }.map { Array($0.dropFirst(3)) }, ["multilingual", "not", "installed", "-"])
        XCTAssertEqual(rows.first { $0.first == "small" }?.last, "-")
        XCTAssertEqual(rows.first { $0.first == "silero-vad" }, ["silero-vad", "2.5", "MB", "any", "not", "installed", "-"])
        XCTAssertFalse(list.stdout.contains("decoy"), list.stdout)
        XCTAssertFalse(list.stdout.contains("?"), list.stdout)

        let info = try run(["models", "info", "tiny.en"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("English-only"), info.stdout)

        let decoy = try run(["transcribe", "--model", "decoy", TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(decoy.status, 1)
        XCTAssertTrue(decoy.stderr.hasPrefix("hark: model 'decoy' is not installed (looked in \(copy.store.path)); "), decoy.stderr)
        XCTAssertTrue(decoy.stderr.contains("hark models fetch NAME"), decoy.stderr)

        let missing = try run(["models", "info", "base"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr, "hark: model 'base' is not installed (looked in \(copy.store.path)); fetch it with: hark models fetch base\n")

        // Fetching is done by the binary: with the index unreachable it says so in one line,
        // and the checkout-like working directory's script is not run.
        let fetch = try run(["models", "fetch", "base"])
        XCTAssertEqual(fetch.status, 1)
        XCTAssertTrue(fetch.stderr.hasPrefix("hark: the package index 127.0.0.1 is unreachable ("), fetch.stderr)
        XCTAssertEqual(fetch.stderr.split(separator: "\n").count, 1, fetch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("ran-fetch-models").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: copy.store.path), ["tiny.en"])

        let unknown = try run(["models", "fetch", "decoy"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "hark: unknown model 'decoy'; the catalogue has tiny.en, base, small, silero-vad\n")
    }

    func testInfoAndListShowAQuantizedFile() throws {
        let store = directory.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        let file = store.appendingPathComponent("tiny.en-int8.safetensors")
        var environment = ProcessInfo.processInfo.environment
        environment["HARK_MODELS"] = TestSupport.modelStore.path
        let hark = try TestSupport.harkExecutable()
        let quantize = try TestSupport.run(hark, ["quantize", "--model", "tiny.en", "--output", file.path], environment: environment)
        XCTAssertEqual(quantize.status, 0, quantize.stderr)

        let info = try TestSupport.run(hark, ["models", "info", "--models-dir", store.path, "tiny.en-int8"], environment: environment)
        XCTAssertEqual(info.status, 0, info.stderr)
        let lines = Dictionary(info.stdout.split(separator: "\n").map { line -> (String, String) in
            let field = line.prefix(13).trimmingCharacters(in: .whitespaces)
            return (field, String(line.dropFirst(13)))
        }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(lines["model"], file.path)
        XCTAssertEqual(lines["format"], "Hark int8 file (safetensors), format version 1, WhisperSpec")
        XCTAssertTrue(lines["source model"]?.hasPrefix("tiny.en (model.bin sha256 1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a)") ?? false,
                      info.stdout)
        XCTAssertTrue(lines["quantization"]?.hasPrefix("int8 symmetric per output row") ?? false, info.stdout)
        XCTAssertEqual(lines["unquantized"], "none")
        XCTAssertEqual(lines["architecture"], "Whisper: 4 encoder + 4 decoder layers, width 384, 6 heads, 80 mel bands")
        XCTAssertTrue(lines["parameters"]?.contains("I8 ") ?? false, info.stdout)
        XCTAssertEqual(lines["vocabulary"], "51864 tokens (English-only)")
        XCTAssertEqual(lines["file size"], String(format: "%.1f MB", Double(try Data(contentsOf: file).count) / 1e6))

        // By path too, and listed with the languages of its source model.
        let byPath = try TestSupport.run(hark, ["models", "info", file.path], environment: environment)
        XCTAssertEqual(byPath.stdout, info.stdout, byPath.stderr)
        let list = try TestSupport.run(hark, ["models", "--models-dir", store.path], environment: environment)
        XCTAssertEqual(list.status, 0, list.stderr)
        let row = list.stdout.split(separator: "\n").first { $0.hasPrefix("tiny.en-int8 ") }
            .map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(row?.dropFirst(3).map { $0 }, ["en", "installed", "(int8", "file)", file.path], list.stdout)
    }

    /// The speech detector installed beside a Whisper model: listed, described, and refused
    /// as a transcription model in one line.
    func testTheSpeechDetectorIsListedAndDescribedButDoesNotTranscribe() throws {
        let store = directory.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: store.appendingPathComponent("silero-vad"),
                                                   withDestinationURL: try TestSupport.speechDetectorDirectory())
        let hark = try TestSupport.harkExecutable()
        let list = try TestSupport.run(hark, ["models", "--models-dir", store.path])
        XCTAssertEqual(list.status, 0, list.stderr)
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertEqual(rows.first { $0.first == "silero-vad" }, ["silero-vad", "2.5", "MB", "any", "installed", store.appendingPathComponent("silero-vad").path])
        XCTAssertTrue(list.stdout.contains("No Whisper model is installed in \(store.path)"), list.stdout)

        let info = try TestSupport.run(hark, ["models", "info", "--models-dir", store.path, "silero-vad"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.hasPrefix("model        \(store.path)/silero-vad\nkind         speech detector"), info.stdout)
        XCTAssertTrue(info.stdout.contains("file         silero_vad_16k_op15.onnx 1.3 MB\n"), info.stdout)
        XCTAssertTrue(info.stdout.contains("file         LICENSE 0.0 MB\n"), info.stdout)

        let transcribe = try TestSupport.run(hark, ["transcribe", "--models-dir", store.path, "--model", "silero-vad",
                                                    TestSupport.sample("dentist-22k.ogg")])
        XCTAssertEqual(transcribe.status, 1)
        XCTAssertEqual(transcribe.stderr, "hark: 'silero-vad' is the speech detector, not a Whisper model; transcribe with one of tiny.en, base\n")
    }
}
