import Foundation
import HarkModel

/// The decoding hints a CTranslate2 Whisper directory ships in `config.json`.
struct ModelConfiguration: Sendable {
    /// Non-speech tokens never to produce.
    var suppressIDs: [Int]
    /// Tokens not to produce first (blank, end of text).
    var suppressIDsBegin: [Int]

    init(directory: URL) throws(ModelError) {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .missingFile(path: url.path)
        }
        try self.init(json: data, source: url.path)
    }

    /// Parses the contents of `config.json`; `source` names it in errors.
    init(json data: Data, source: String) throws(ModelError) {
        struct Raw: Decodable {
            var suppress_ids: [Int]?
            var suppress_ids_begin: [Int]?
        }
        do {
            let raw = try JSONDecoder().decode(Raw.self, from: data)
            suppressIDs = raw.suppress_ids ?? []
            suppressIDsBegin = raw.suppress_ids_begin ?? []
        } catch {
            throw .badConfig(path: source, detail: "\(error)")
        }
    }
}
