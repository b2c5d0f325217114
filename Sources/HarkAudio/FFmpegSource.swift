import Foundation

/// Mono 16 kHz float frames decoded by an `ffmpeg` child process, for the containers
/// libsndfile cannot read (m4a/AAC voice memos, mp4, webm, …).
final class FFmpegSource: FrameSource {
    let sampleRate = AudioReader.sampleRate
    let channels = 1
    let frameCount: Int? = nil
    let formatName: String
    private let path: String
    private let process: Process
    private let output: FileHandle
    private let errorLog: URL
    private var pending = Data()
    private var ended = false

    /// The `ffmpeg` executable on PATH, if any.
    static var executable: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("ffmpeg")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    init(path: String, executable: URL, formatName: String) throws(AudioError) {
        self.path = path
        self.formatName = formatName
        errorLog = FileManager.default.temporaryDirectory
            .appendingPathComponent("hark-ffmpeg-\(UUID().uuidString).log")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-i", path,
                             "-vn", "-ac", "1", "-ar", String(AudioReader.sampleRate),
                             "-f", "f32le", "-"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        do {
            process.standardError = try FileHandle(forWritingTo: errorLog)
            try process.run()
        } catch {
            throw .decodingFailed(path: path, detail: "could not start ffmpeg: \(error.localizedDescription)")
        }
        self.process = process
        output = pipe.fileHandleForReading
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: errorLog)
    }

    func readFrames(max frames: Int) throws(AudioError) -> [Float] {
        let wanted = frames * MemoryLayout<Float>.size
        while pending.count < wanted && !ended {
            let data: Data?
            do { data = try output.read(upToCount: max(wanted - pending.count, 1 << 16)) } catch {
                throw .decodingFailed(path: path, detail: error.localizedDescription)
            }
            if let data, !data.isEmpty { pending.append(data) } else { ended = true }
        }
        if ended && pending.count < wanted {
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
                // ffmpeg names the input itself ("PATH: Invalid data…"); the error already does.
                let reason = log.split(separator: "\n").last.map { String($0.hasPrefix(path + ": ") ? $0.dropFirst(path.count + 2) : $0) }
                    ?? "ffmpeg exited with status \(process.terminationStatus)"
                throw .notAudio(path: path, detail: "ffmpeg: \(reason)")
            }
        }
        let usable = min(pending.count, wanted) / MemoryLayout<Float>.size * MemoryLayout<Float>.size
        var samples = [Float](repeating: 0, count: usable / MemoryLayout<Float>.size)
        _ = samples.withUnsafeMutableBytes { destination in
            pending.copyBytes(to: destination, from: pending.startIndex..<(pending.startIndex + usable))
        }
        pending.removeFirst(usable)
        return samples
    }
}
