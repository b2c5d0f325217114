import Foundation
import HarkModelStore

extension ModelStore {
    /// `locate(_:)` with the CLI's error: one line saying how to get the model.
    func find(_ nameOrPath: String) throws(CLIError) -> URL {
        do {
            return try locate(nameOrPath)
        } catch {
            throw .modelNotFound(error.description)
        }
    }

    /// `locateSpeechDetector(_:)` with the CLI's error.
    func findSpeechDetector(_ name: String) throws(CLIError) -> URL {
        do {
            return try locateSpeechDetector(name)
        } catch {
            throw .modelNotFound(error.description)
        }
    }
}
