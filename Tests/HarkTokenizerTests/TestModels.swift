import Foundation
import XCTest
import HarkTokenizer

/// Where the test models are: `$HARK_MODELS` if set, else the repository's `Models/`.
enum TestModels {
    static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["HARK_MODELS"], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        // #filePath is <root>/Tests/HarkTokenizerTests/TestModels.swift.
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Models", isDirectory: true)
    }()

    static let englishName = "tiny.en"
    static let multilingualName = "base"

    /// The directory of the named model; throws (failing the test) if it is missing.
    static func url(_ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name, isDirectory: true)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("tokenizer.json").path) else {
            throw MissingModel(path: url.path)
        }
        return url
    }

    /// The tokenizer of a model, loaded once per test run.
    static func tokenizer(_ name: String) throws -> Tokenizer {
        switch name {
        case englishName: return try english.get()
        case multilingualName: return try multilingual.get()
        default: return try Tokenizer(modelDirectory: url(name))
        }
    }

    private static let english = Result { try Tokenizer(modelDirectory: url(englishName)) }
    private static let multilingual = Result { try Tokenizer(modelDirectory: url(multilingualName)) }
}

/// A test model directory is missing: a failure, never a silent skip.
struct MissingModel: Error, CustomStringConvertible {
    var path: String
    var description: String {
        "Model directory \(path) is missing or has no tokenizer.json; run Scripts/setup to download the models (or set HARK_MODELS to a directory holding tiny.en/ and base/)."
    }
}

/// The reference fixture made by Scripts/reference/tokenizer_fixture.py with HF tokenizers.
struct TokenizerFixture: Decodable {
    struct EncodeCase: Decodable {
        var text: String
        var ids: [Int]
        var decoded: String
    }

    struct DecodeBytesCase: Decodable {
        var bytes: [UInt8]
        var ids: [Int]
        var decoded: String
    }

    struct Model: Decodable {
        var encode: [EncodeCase]
        var decodeBytes: [DecodeBytesCase]
    }

    var tokenizers: String
    var models: [String: Model]

    static func load() throws -> TokenizerFixture {
        guard let url = Bundle.module.url(
            forResource: "tokenizer_fixture", withExtension: "json", subdirectory: "Fixtures")
        else {
            throw FixtureMissing()
        }
        return try JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }

    static func model(_ name: String) throws -> Model {
        let fixture = try load()
        guard let model = fixture.models[name] else { throw FixtureMissing() }
        return model
    }
}

struct FixtureMissing: Error, CustomStringConvertible {
    var description: String {
        "Fixtures/tokenizer_fixture.json is missing or incomplete; regenerate it with Scripts/reference/tokenizer_fixture.py."
    }
}
