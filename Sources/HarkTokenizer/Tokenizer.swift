import Foundation

/// Whisper's tokenizer: GPT-2 byte-level BPE plus Whisper's special, language
/// and timestamp tokens, loaded from a CTranslate2 Whisper model directory.
///
/// A plain value: copies share their (immutable) tables, and it can be passed
/// freely between tasks.
///
///     let tokenizer = try Tokenizer(modelDirectory: modelURL)
///     let prompt = tokenizer.encode(" Hello world")    // [18435, 995] with tiny.en
///     let text = tokenizer.decode(prompt)              // " Hello world"
public struct Tokenizer: Sendable {
    /// Token strings indexed by id, over the full id space.
    private let vocabulary: [String]
    /// Ids by token string.
    private let ids: TokenIndex
    /// Language token ids by language code; empty for English-only models.
    private let languageIds: [String: Int]
    private let encoder: BytePairEncoder
    /// The bytes of text token `id` are `textBytes[textOffsets[id]..<textOffsets[id + 1]]`.
    private let textBytes: [UInt8]
    private let textOffsets: [Int]

    /// The ids of Whisper's special tokens in this model's vocabulary.
    public let specialTokens: SpecialTokens

    /// The codes of the languages the model can be told to transcribe (such as
    /// `"en"`, `"zh"`, `"de"`), in the order of their token ids.
    ///
    /// Read from the vocabulary: the `<|xx|>` tokens between `<|startoftranscript|>`
    /// and `<|translate|>`. Empty for English-only models, which take no language token.
    public let languageCodes: [String]

    /// Loads the tokenizer of the model in `modelDirectory`.
    ///
    /// Reads `tokenizer.json` (the BPE vocabulary, merges and added tokens) and,
    /// for the full id space with the timestamp tokens, `vocabulary.txt` (one token
    /// per line) or `vocabulary.json` (an array of tokens). Without either file the
    /// ids of `tokenizer.json` are used, and the 1501 timestamp tokens are added
    /// after `<|notimestamps|>` if it has none.
    ///
    /// - Throws: ``TokenizerError`` when a file is missing, unreadable or not a
    ///   Whisper tokenizer, or when the files disagree with each other.
    public init(modelDirectory: URL) throws(TokenizerError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelDirectory.path, isDirectory: &isDirectory),
              isDirectory.boolValue
        else {
            throw .modelDirectoryNotFound(path: modelDirectory.path)
        }
        let tokenizerURL = modelDirectory.appendingPathComponent(ModelFiles.tokenizerFileName)
        let file = try ModelFiles.loadTokenizerFile(tokenizerURL)
        let vocabulary = try ModelFiles.loadVocabulary(in: modelDirectory)
        try self.init(file: file, vocabulary: vocabulary, tokenizerPath: tokenizerURL.path)
    }

    /// Loads a tokenizer from the contents of `tokenizer.json` and, optionally, the full
    /// vocabulary (token strings indexed by id); `source` names where they came from in errors
    /// (for example a Hark int8 model file, which carries both).
    public init(tokenizerJSON: Data, vocabulary: [String]?, source: String) throws(TokenizerError) {
        let file = try TokenizerFile(json: tokenizerJSON, path: source)
        try self.init(file: file, vocabulary: vocabulary.map { ($0, URL(fileURLWithPath: source)) }, tokenizerPath: source)
    }

    private init(file: TokenizerFile, vocabulary listed: (tokens: [String], url: URL)?, tokenizerPath: String) throws(TokenizerError) {
        if let type = file.model.type, type != "BPE" {
            throw .malformedFile(path: tokenizerPath, reason: "model type is \(type), expected BPE")
        }

        // Every (token, id) tokenizer.json knows about.
        var declared = file.model.vocab
        declared += file.addedTokens.map { (token: $0.content, id: $0.id) }

        let vocabulary: [String]
        if let (tokens, url) = listed {
            // Compared as bytes: String's == would normalize the non-ASCII byte-level tokens.
            for (token, id) in declared where !tokens.indices.contains(id) || !UTF8Text.sameBytes(tokens[id], token) {
                let found = tokens.indices.contains(id) ? "\"\(tokens[id])\"" : "nothing"
                throw .inconsistentVocabulary(
                    path: url.path, reason: "id \(id) is \"\(token)\" in tokenizer.json but \(found) here")
            }
            vocabulary = tokens
        } else {
            vocabulary = try Self.vocabulary(from: declared, path: tokenizerPath)
        }

        let ids = TokenIndex(vocabulary)

        func lookUp(_ token: String, or alternative: String? = nil) throws(TokenizerError) -> Int {
            if let id = ids.id(of: token) { return id }
            if let alternative, let id = ids.id(of: alternative) { return id }
            throw .missingSpecialToken(token)
        }
        let special = SpecialTokens(
            eot: try lookUp("<|endoftext|>"),
            sot: try lookUp("<|startoftranscript|>"),
            translate: try lookUp("<|translate|>"),
            transcribe: try lookUp("<|transcribe|>"),
            startOfLM: try lookUp("<|startoflm|>"),
            startOfPrev: try lookUp("<|startofprev|>"),
            noSpeech: try lookUp("<|nospeech|>", or: "<|nocaptions|>"),
            noTimestamps: try lookUp("<|notimestamps|>"),
            timestampBegin: try lookUp("<|0.00|>"))

        self.encoder = try Self.encoder(for: file, ids: ids, textTokenCount: special.eot, path: tokenizerPath)

        var textBytes: [UInt8] = []
        textBytes.reserveCapacity(8 * special.eot)
        var textOffsets = [0]
        textOffsets.reserveCapacity(special.eot + 1)
        for token in vocabulary[0..<special.eot] {
            ByteLevel.appendBytes(for: token, to: &textBytes)
            textOffsets.append(textBytes.count)
        }

        var languageCodes: [String] = []
        var languageIds: [String: Int] = [:]
        if vocabulary.count >= Self.multilingualVocabularySize && special.sot < special.translate {
            for id in (special.sot + 1)..<special.translate {
                if let code = Self.languageCode(in: vocabulary[id]), languageIds[code] == nil {
                    languageCodes.append(code)
                    languageIds[code] = id
                }
            }
        }

        self.vocabulary = vocabulary
        self.ids = ids
        self.specialTokens = special
        self.textBytes = textBytes
        self.textOffsets = textOffsets
        self.languageCodes = languageCodes
        self.languageIds = languageIds
    }

    /// The number of token ids: 51864 for English-only models, 51865 (or more) for multilingual ones.
    public var vocabularySize: Int { vocabulary.count }

    /// Whether the model is multilingual, which is when its vocabulary has at least 51865 ids.
    public var isMultilingual: Bool { vocabulary.count >= Self.multilingualVocabularySize }

    /// The text token ids of `text`, by GPT-2 byte-level BPE.
    ///
    /// The text is taken literally: a special token's string such as
    /// `<|endoftext|>` is encoded as ordinary text, never as the special id.
    /// Whisper expects a leading space before the first word of a prompt.
    public func encode(_ text: String) -> [Int] {
        let utf8 = Array(text.utf8)
        var scalars: [Unicode.Scalar] = []
        var byteOffsets: [Int] = []
        scalars.reserveCapacity(utf8.count)
        byteOffsets.reserveCapacity(utf8.count + 1)
        var offset = 0
        for scalar in text.unicodeScalars {
            scalars.append(scalar)
            byteOffsets.append(offset)
            offset += UTF8.width(scalar)
        }
        byteOffsets.append(offset)

        var tokens: [Int] = []
        tokens.reserveCapacity(utf8.count)
        for piece in PreTokenizer.split(scalars) {
            encoder.encode(utf8[byteOffsets[piece.lowerBound]..<byteOffsets[piece.upperBound]], into: &tokens)
        }
        return tokens
    }

    /// The text of the text tokens among `tokens`.
    ///
    /// Ids at or above `specialTokens.eot` (special, language and timestamp
    /// tokens) and ids out of range are skipped. Bytes that do not form valid
    /// UTF-8, as when a multi-byte character is cut between segments, become
    /// U+FFFD, as HF's `ByteLevel` decoder does.
    public func decode(_ tokens: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tokens.count * 4)
        for id in tokens where id >= 0 && id < specialTokens.eot {
            bytes += textBytes[textOffsets[id]..<textOffsets[id + 1]]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The tokens of symbols that are not speech (brackets, music notes, and the like), sorted:
    /// what Whisper's configuration means by the suppress id `-1`. Defined as openai-whisper's
    /// `Tokenizer.non_speech_tokens`: each symbol's single token, alone or after a space, and
    /// the first token of the musical symbols, which may take several.
    public var nonSpeechTokens: [Int] {
        var symbols = "\"#()*+/:;<=>@[\\]^_`{|}~「」『』".map(String.init)
        symbols += "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split(separator: " ").map(String.init)
        let musical = "♩♪♫♬♭♮♯".map(String.init)
        var result = Set([encode(" -").first, encode(" '").first].compactMap { $0 })
        for symbol in symbols + musical {
            for tokens in [encode(symbol), encode(" " + symbol)] {
                if let first = tokens.first, tokens.count == 1 || musical.contains(symbol) { result.insert(first) }
            }
        }
        return result.sorted()
    }

    /// The raw vocabulary string of `id` (such as `"Ġhello"`, `"<|en|>"` or `"<|1.00|>"`),
    /// or nil if `id` is out of range.
    public func token(for id: Int) -> String? {
        vocabulary.indices.contains(id) ? vocabulary[id] : nil
    }

    /// The id of the raw vocabulary string `token`, or nil if there is none.
    public func id(for token: String) -> Int? {
        ids.id(of: token)
    }

    /// The id of the language token for `code` (such as `"en"`), or nil when the
    /// model does not know the language or is English-only.
    public func languageToken(for code: String) -> Int? {
        languageIds[code]
    }

    // MARK: - Loading

    /// The smallest multilingual vocabulary (English-only models have one id fewer).
    private static let multilingualVocabularySize = 51865

    /// The number of timestamp tokens, `<|0.00|>` through `<|30.00|>`.
    private static let timestampCount = 1501

    /// The language code in a `<|xx|>` token, or nil if the token is not one.
    private static func languageCode(in token: String) -> String? {
        guard token.hasPrefix("<|"), token.hasSuffix("|>") else { return nil }
        let code = token.dropFirst(2).dropLast(2)
        guard !code.isEmpty, code.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) }) else { return nil }
        return String(code)
    }

    /// The id space of tokenizer.json alone, with timestamp tokens added if it has none.
    private static func vocabulary(
        from declared: [(token: String, id: Int)], path: String
    ) throws(TokenizerError) -> [String] {
        let size = (declared.map(\.id).max() ?? -1) + 1
        var slots = [String?](repeating: nil, count: size)
        for (token, id) in declared {
            guard id >= 0 else {
                throw .malformedFile(path: path, reason: "token \"\(token)\" has negative id \(id)")
            }
            slots[id] = token
        }
        var vocabulary: [String] = []
        vocabulary.reserveCapacity(size + timestampCount)
        for (id, token) in slots.enumerated() {
            guard let token else {
                throw .malformedFile(path: path, reason: "no token has id \(id)")
            }
            vocabulary.append(token)
        }
        if !vocabulary.contains("<|0.00|>") && vocabulary.last == "<|notimestamps|>" {
            for index in 0..<timestampCount {
                vocabulary.append("<|" + String(format: "%.2f", Double(index) * 0.02) + "|>")
            }
        }
        return vocabulary
    }

    /// The BPE encoder for the text tokens `0..<textTokenCount` of `file`; `ids` indexes the
    /// vocabulary, which agrees with the file's.
    private static func encoder(
        for file: TokenizerFile, ids: TokenIndex, textTokenCount: Int, path: String
    ) throws(TokenizerError) -> BytePairEncoder {
        func checked(_ id: Int?, _ token: @autoclosure () -> String, _ context: @autoclosure () -> String) throws(TokenizerError) -> Int32 {
            guard let id, id >= 0, id < textTokenCount else {
                throw .malformedFile(path: path, reason: "\(context()) \"\(token())\" is not a text token")
            }
            return Int32(id)
        }
        func textId(_ token: String, _ context: @autoclosure () -> String) throws(TokenizerError) -> Int32 {
            try checked(ids.id(of: token), token, context())
        }

        var byteTokens: [Int32] = []
        byteTokens.reserveCapacity(256)
        for byte in 0...UInt8.max {
            byteTokens.append(try textId(ByteLevel.string(for: [byte]), "byte token"))
        }

        var merges: [UInt64: BytePairEncoder.Merge] = [:]
        merges.reserveCapacity(file.model.merges.count)
        try ids.withLookup { (lookup) throws(TokenizerError) in
            for (rank, rule) in file.model.merges.enumerated() {
                let (leftId, rightId, joinedId) = rule.withParts { (lookup.id(of: $0), lookup.id(of: $1), lookup.id(of: $2)) }
                let key = BytePairEncoder.key(try checked(leftId, rule.left, "merge part"),
                                              try checked(rightId, rule.right, "merge part"))
                let result = try checked(joinedId, rule.left + rule.right, "merge result")
                if merges[key] == nil {
                    merges[key] = BytePairEncoder.Merge(rank: Int32(rank), result: result)
                }
            }
        }
        return BytePairEncoder(byteTokens: byteTokens, merges: merges)
    }
}
