import Foundation

/// Paths and helpers shared by Hark's test targets.
public enum TestSupport {
    /// The package root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The committed sample recordings.
    public static let audioDirectory = repositoryRoot.appendingPathComponent("Audio")

    /// A committed sample recording by file name.
    public static func sample(_ name: String) -> String {
        audioDirectory.appendingPathComponent(name).path
    }

    /// The reference transcripts of the committed samples, by file name.
    public static func sampleTranscripts() throws -> [String: String] {
        let text = try String(contentsOf: audioDirectory.appendingPathComponent("transcripts.tsv"), encoding: .utf8)
        var result: [String: String] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", maxSplits: 1)
            if fields.count == 2 { result[String(fields[0])] = String(fields[1]) }
        }
        return result
    }

    /// The shared development data (`../shared/data` beside the checkout), or `HARK_DATA`.
    public static var sharedData: URL {
        if let path = ProcessInfo.processInfo.environment["HARK_DATA"] { return URL(fileURLWithPath: path) }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }

    /// The model store: `HARK_MODELS`, else the checkout's `Models/`.
    public static var modelStore: URL {
        if let path = ProcessInfo.processInfo.environment["HARK_MODELS"] { return URL(fileURLWithPath: path) }
        return repositoryRoot.appendingPathComponent("Models")
    }

    /// The directory of an installed model, or an error telling how to install it.
    public static func modelDirectory(_ name: String) throws -> URL {
        let directory = modelStore.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.bin").path) else {
            throw MissingModel(name: name, store: modelStore.path)
        }
        return directory
    }

    /// The installed speech detector's directory (`silero-vad`, with its weight files), or an error
    /// telling how to install it: tests of the detector fail without it, they do not skip.
    public static func speechDetectorDirectory() throws -> URL {
        let directory = modelStore.appendingPathComponent("silero-vad")
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("silero_vad_16k_op15.onnx").path) else {
            throw MissingModel(name: "silero-vad", store: modelStore.path)
        }
        return directory
    }

    /// The `hark` executable built beside the test bundle (Scripts/test builds it); an error,
    /// not a skip, when it is missing.
    public static func harkExecutable() throws -> String {
        let candidates = [Bundle.main.bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        for directory in candidates {
            let path = directory.appendingPathComponent("hark").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw MissingExecutable(searched: candidates.map(\.path))
    }

    /// A fresh temporary directory, removed by the caller's teardown if it wishes.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hark-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program to completion and returns its exit status, standard output and error.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil,
                           currentDirectory: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        if let stdin {
            let inURL = directory.appendingPathComponent("in")
            try stdin.write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus,
                (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}

/// The `hark` executable was not built next to the tests.
public struct MissingExecutable: Error, CustomStringConvertible {
    public let searched: [String]
    public var description: String { "no hark executable in \(searched.joined(separator: " or ")): run Scripts/test" }
}

/// A model the tests need is not installed.
public struct MissingModel: Error, CustomStringConvertible {
    public let name: String
    public let store: String
    public var description: String {
        "model '\(name)' is not installed in \(store): run Scripts/setup first"
    }
}

/// Writes WAV files for tests, in 16-bit PCM or 32-bit float, any rate and channel count.
public enum WAVWriter {
    public enum Encoding { case pcm16, float32 }

    /// Writes interleaved samples in [-1, 1] to `url`.
    public static func write(_ interleaved: [Float], to url: URL, sampleRate: Int, channels: Int = 1,
                             encoding: Encoding = .pcm16) throws {
        var data = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let bytesPerSample = encoding == .pcm16 ? 2 : 4
        let payload = interleaved.count * bytesPerSample
        data.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(36 + payload))
        data.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16)
        u16(encoding == .pcm16 ? 1 : 3); u16(UInt16(channels)); u32(UInt32(sampleRate))
        u32(UInt32(sampleRate * channels * bytesPerSample)); u16(UInt16(channels * bytesPerSample))
        u16(UInt16(bytesPerSample * 8))
        data.append(contentsOf: Array("data".utf8)); u32(UInt32(payload))
        for sample in interleaved {
            switch encoding {
            case .pcm16: u16(UInt16(bitPattern: Int16(max(-32768, min(32767, (sample * 32768).rounded())))))
            case .float32: u32(sample.bitPattern)
            }
        }
        try data.write(to: url)
    }

    /// A sine tone.
    public static func sine(frequency: Double, amplitude: Float = 0.5, seconds: Double, sampleRate: Int) -> [Float] {
        (0..<Int(seconds * Double(sampleRate))).map {
            amplitude * Float(sin(2 * Double.pi * frequency * Double($0) / Double(sampleRate)))
        }
    }
}

/// Reads the small binary fixtures written by `Scripts/reference/*.py`: a 4-byte magic, then
/// `headerWords` u32 values, then little-endian float32 data.
public struct FloatFixture {
    public let header: [Int]
    public let values: [Float]

    public init(url: URL, magic: String, headerWords: Int) throws {
        let data = try Data(contentsOf: url)
        guard data.prefix(4) == Data(magic.utf8) else { throw FixtureError(url: url) }
        var header: [Int] = []
        for i in 0..<headerWords {
            header.append(Int(data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4 + 4 * i, as: UInt32.self)) }))
        }
        let offset = 4 + 4 * headerWords
        let count = (data.count - offset) / 4
        values = (0..<count).map { i in
            data.withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self))) }
        }
        self.header = header
    }
}

public struct FixtureError: Error { public let url: URL }

/// A plain word error rate for tests: lower-case, punctuation removed.
public enum WordErrorRate {
    public static func words(_ text: String) -> [String] {
        let cleaned = text.lowercased().map { $0.isLetter || $0.isNumber || $0 == "'" ? $0 : " " }
        return String(cleaned).split(separator: " ").map(String.init)
    }

    /// Word-level edit distance between reference and hypothesis.
    public static func edits(_ reference: [String], _ hypothesis: [String]) -> Int {
        var previous = Array(0...hypothesis.count)
        for (i, r) in reference.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: hypothesis.count)
            for (j, h) in hypothesis.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (r == h ? 0 : 1))
            }
            previous = current
        }
        return previous[hypothesis.count]
    }

    /// Errors per reference word.
    public static func rate(reference: String, hypothesis: String) -> Double {
        let ref = words(reference)
        return Double(edits(ref, words(hypothesis))) / Double(max(ref.count, 1))
    }
}

/// Reads a manifest of the shared data (`id<TAB>audio<TAB>text`).
public struct ManifestEntry {
    public let id: String
    public let audioPath: String
    public let text: String

    public static func read(_ name: String, limit: Int? = nil) throws -> [ManifestEntry] {
        let url = TestSupport.sharedData.appendingPathComponent(name)
        let content = try String(contentsOf: url, encoding: .utf8)
        var entries: [ManifestEntry] = []
        for line in content.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            entries.append(ManifestEntry(id: String(fields[0]),
                                         audioPath: TestSupport.sharedData.appendingPathComponent(String(fields[1])).path,
                                         text: String(fields[2])))
            if let limit, entries.count >= limit { break }
        }
        return entries
    }
}
