import Foundation

/// The parts of an HF `tokenizer.json` that Whisper's tokenizer uses.
struct TokenizerFile {
    struct Model {
        var type: String?
        /// Every `(token, id)` of `model.vocab`, in the file's order.
        var vocab: [(token: String, id: Int)]
        var merges: [MergeRule]
    }

    struct AddedToken {
        var id: Int
        var content: String
    }

    var model: Model
    var addedTokens: [AddedToken]

    /// Reads the contents of a `tokenizer.json`; `path` names it in errors.
    init(json data: some Collection<UInt8>, path: String) throws(TokenizerError) {
        let parsed = data.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONSyntaxError) in try JSONScanner.parse(UnsafeRawBufferPointer(buffer)) }
        } ?? Array(data).withUnsafeBytes { bytes in
            Result { () throws(JSONSyntaxError) in try JSONScanner.parse(bytes) }
        }
        let root: JSONValue
        do { root = try parsed.get() } catch { throw .malformedFile(path: path, reason: error.description) }
        guard let model = root["model"] else { throw .malformedFile(path: path, reason: "missing \"model\"") }
        guard case .object(let vocabMembers)? = model["vocab"] else {
            throw .malformedFile(path: path, reason: "missing \"vocab\" at model")
        }
        var vocab: [(token: String, id: Int)] = []
        vocab.reserveCapacity(vocabMembers.count)
        for (token, id) in vocabMembers {
            guard case .number(let number) = id, let value = Int(exactly: number) else {
                throw .malformedFile(path: path, reason: "expected Int at model.vocab.\(token)")
            }
            vocab.append((token, value))
        }
        guard case .array(let mergeValues)? = model["merges"] else {
            throw .malformedFile(path: path, reason: "missing \"merges\" at model")
        }
        var merges: [MergeRule] = []
        merges.reserveCapacity(mergeValues.count)
        for (index, value) in mergeValues.enumerated() {
            merges.append(try MergeRule(value, path: path, index: index))
        }
        var type: String?
        if case .string(let name)? = model["type"] { type = name }
        self.model = Model(type: type, vocab: vocab, merges: merges)

        addedTokens = []
        if case .array(let added)? = root["added_tokens"] {
            for (index, entry) in added.enumerated() {
                guard case .number(let id)? = entry["id"], let value = Int(exactly: id),
                      case .string(let content)? = entry["content"] else {
                    throw .malformedFile(path: path, reason: "expected id and content at added_tokens.\(index)")
                }
                addedTokens.append(AddedToken(id: value, content: content))
            }
        }
    }
}

/// One BPE merge rule: `"left right"` in older tokenizer.json files, `["left", "right"]` in newer ones.
/// Kept as the file's text and where it splits, so that loading 50 000 rules makes one string
/// each rather than two.
struct MergeRule {
    /// The rule's text: `left`, the separator, then `right`.
    let text: String
    /// The UTF-8 length of `left`.
    let leftCount: Int
    /// The UTF-8 length of the separator between the parts: 1 (a space) or 0 (an array).
    let separatorCount: Int

    var left: String { String(decoding: text.utf8.prefix(leftCount), as: UTF8.self) }
    var right: String { String(decoding: text.utf8.dropFirst(leftCount + separatorCount), as: UTF8.self) }

    init(_ value: JSONValue, path: String, index: Int) throws(TokenizerError) {
        switch value {
        case .array(let pair):
            guard pair.count == 2, case .string(let left) = pair[0], case .string(let right) = pair[1] else {
                throw .malformedFile(path: path, reason: "a merge has \(pair.count) parts instead of 2 at model.merges.\(index)")
            }
            text = left + right
            leftCount = left.utf8.count
            separatorCount = 0
        case .string(let rule):
            // Split on the UTF-8 space: splitting the String would find grapheme breaks first.
            let utf8 = rule.utf8
            guard let space = utf8.firstIndex(of: UInt8(ascii: " ")),
                  !utf8[utf8.index(after: space)...].contains(UInt8(ascii: " ")) else {
                throw .malformedFile(path: path, reason: "merge \"\(rule)\" is not two tokens separated by a space at model.merges.\(index)")
            }
            text = rule
            leftCount = utf8.distance(from: utf8.startIndex, to: space)
            separatorCount = 1
        default:
            throw .malformedFile(path: path, reason: "expected a merge at model.merges.\(index)")
        }
    }

    /// Calls `body` with the UTF-8 bytes of the left part, of the right part, and of the two
    /// joined (the merged token), all valid only during the call.
    func withParts<Result>(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var text = self.text
        let leftCount = self.leftCount, separatorCount = self.separatorCount
        return text.withUTF8 { utf8 in
            let left = UnsafeBufferPointer(rebasing: utf8[..<leftCount])
            let right = UnsafeBufferPointer(rebasing: utf8[(leftCount + separatorCount)...])
            if separatorCount == 0 { return body(left, right, utf8) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: utf8.count - separatorCount) { joined in
                _ = joined.initialize(fromContentsOf: left)
                _ = UnsafeMutableBufferPointer(rebasing: joined[leftCount...]).initialize(fromContentsOf: right)
                return body(left, right, UnsafeBufferPointer(joined))
            }
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
        try TokenizerFile(json: try read(url), path: url.path)
    }

    /// A JSON array of strings (`vocabulary.json`); `path` names it in errors.
    static func stringArray(_ data: some Collection<UInt8>, path: String) throws(TokenizerError) -> [String] {
        let parsed = Array(data).withUnsafeBytes { bytes in
            Result { () throws(JSONSyntaxError) in try JSONScanner.parse(bytes) }
        }
        let root: JSONValue
        do { root = try parsed.get() } catch { throw .malformedFile(path: path, reason: error.description) }
        guard case .array(let values) = root else { throw .malformedFile(path: path, reason: "expected an array of strings") }
        var strings: [String] = []
        strings.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            guard case .string(let text) = value else { throw .malformedFile(path: path, reason: "expected String at \(index)") }
            strings.append(text)
        }
        return strings
    }

    /// The full id space (token strings indexed by id) from vocabulary.txt or
    /// vocabulary.json, or nil when the directory has neither.
    static func loadVocabulary(in directory: URL) throws(TokenizerError) -> (tokens: [String], url: URL)? {
        let textURL = directory.appendingPathComponent(vocabularyTextFileName)
        if FileManager.default.fileExists(atPath: textURL.path) {
            let data = try read(textURL)
            // Lines are cut at newline bytes: splitting a String would find grapheme breaks first.
            // The file is checked once: a newline byte is never inside a longer UTF-8 sequence,
            // so every line of valid text is valid too.
            let lines = data.withUnsafeBytes { bytes -> [String]? in
                guard UTF8Text.isValid(bytes) else { return nil }
                var pieces = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
                if pieces.last?.isEmpty == true { pieces.removeLast() }
                return pieces.map { String(decoding: UnsafeRawBufferPointer(rebasing: $0), as: UTF8.self) }
            }
            guard let lines else { throw .malformedFile(path: textURL.path, reason: "not UTF-8 text") }
            return (lines, textURL)
        }
        let jsonURL = directory.appendingPathComponent(vocabularyJSONFileName)
        if FileManager.default.fileExists(atPath: jsonURL.path) {
            return (try stringArray(try read(jsonURL), path: jsonURL.path), jsonURL)
        }
        return nil
    }
}
