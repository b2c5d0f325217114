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
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: data)
        } catch {
            throw .badConfig(path: source, detail: "\(error)")
        }
        suppressIDs = raw.suppress_ids ?? []
        suppressIDsBegin = raw.suppress_ids_begin ?? []
    }

    /// Checks every token id against the model's vocabulary: `-1` (Whisper's "the default
    /// set", see ``suppressed(nonSpeechTokens:)``) or an id below `vocabularySize`.
    func check(vocabularySize: Int, source: String) throws(ModelError) {
        for (key, ids) in [("suppress_ids", suppressIDs), ("suppress_ids_begin", suppressIDsBegin)] {
            if let bad = ids.first(where: { $0 != Self.defaultSet && !(0..<vocabularySize).contains($0) }) {
                throw .badConfig(path: source, detail: "\(key) holds token id \(bad), outside the model's \(vocabularySize) tokens")
            }
        }
    }

    /// The id that stands for the default set of non-speech tokens, as in Whisper's own
    /// configuration (`suppress_tokens = "-1"`).
    static let defaultSet = -1

    /// The tokens never to produce, with `-1` replaced by `nonSpeechTokens`.
    func suppressed(nonSpeechTokens: @autoclosure () -> [Int]) -> [Int] {
        guard suppressIDs.contains(Self.defaultSet) else { return suppressIDs }
        return suppressIDs.filter { $0 != Self.defaultSet } + nonSpeechTokens()
    }
}
