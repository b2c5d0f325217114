import Foundation

/// The parts of an HF `tokenizer.json` that Whisper's tokenizer uses.
struct TokenizerFile: Decodable {
    struct Model: Decodable {
        var type: String?
        var vocab: [String: Int]
        var merges: [MergeRule]
    }

    struct AddedToken: Decodable {
        var id: Int
        var content: String
    }

    var model: Model
    var addedTokens: [AddedToken]

    enum CodingKeys: String, CodingKey {
        case model
        case addedTokens = "added_tokens"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(Model.self, forKey: .model)
        addedTokens = try container.decodeIfPresent([AddedToken].self, forKey: .addedTokens) ?? []
    }
}

/// One BPE merge rule: `"left right"` in older tokenizer.json files, `["left", "right"]` in newer ones.
struct MergeRule: Decodable {
    var left: String
    var right: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let pair = try? container.decode([String].self) {
            guard pair.count == 2 else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "a merge has \(pair.count) parts instead of 2")
            }
            left = pair[0]
            right = pair[1]
        } else {
            let rule = try container.decode(String.self)
            let parts = rule.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "merge \"\(rule)\" is not two tokens separated by a space")
            }
            left = String(parts[0])
            right = String(parts[1])
        }
    }
}

/// Reading the files of a CTranslate2 Whisper model directory.
enum ModelFiles {
    static let tokenizerFileName = "tokenizer.json"
    static let vocabularyTextFileName = "vocabulary.txt"
    static let vocabularyJSONFileName = "vocabulary.json"

    static func read(_ url: URL) throws(TokenizerError) -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .fileNotFound(path: url.path)
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }

    static func loadTokenizerFile(_ url: URL) throws(TokenizerError) -> TokenizerFile {
        let data = try read(url)
        do {
            return try JSONDecoder().decode(TokenizerFile.self, from: data)
        } catch {
            throw .malformedFile(path: url.path, reason: describe(error))
        }
    }

    /// The full id space (token strings indexed by id) from vocabulary.txt or
    /// vocabulary.json, or nil when the directory has neither.
    static func loadVocabulary(in directory: URL) throws(TokenizerError) -> (tokens: [String], url: URL)? {
        let textURL = directory.appendingPathComponent(vocabularyTextFileName)
        if FileManager.default.fileExists(atPath: textURL.path) {
            let data = try read(textURL)
            guard let text = String(data: data, encoding: .utf8) else {
                throw .malformedFile(path: textURL.path, reason: "not UTF-8 text")
            }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            return (lines, textURL)
        }
        let jsonURL = directory.appendingPathComponent(vocabularyJSONFileName)
        if FileManager.default.fileExists(atPath: jsonURL.path) {
            let data = try read(jsonURL)
            do {
                return (try JSONDecoder().decode([String].self, from: data), jsonURL)
            } catch {
                throw .malformedFile(path: jsonURL.path, reason: describe(error))
            }
        }
        return nil
    }

    /// A one-line account of a decoding error.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        case DecodingError.keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\"\(where: context)"
        case DecodingError.typeMismatch(let type, let context):
            return "expected \(type)\(where: context)"
        case DecodingError.valueNotFound(let type, let context):
            return "missing \(type) value\(where: context)"
        default:
            return error.localizedDescription
        }
    }
}

extension String.StringInterpolation {
    /// " at a.b.c" for a decoding context with a coding path, else nothing.
    fileprivate mutating func appendInterpolation(where context: DecodingError.Context) {
        let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
        if !path.isEmpty {
            appendLiteral(" at " + path.joined(separator: "."))
        }
    }
}
