import Foundation
import HarkFeatures
import HarkTokenizer
import XCTest

@testable import Hark
@testable import HarkDecoding

/// Fakes for driving the long-form loop without weights: a real ``Tokenizer`` over a small
/// synthetic vocabulary, feature windows of chosen loudness, and a window model whose
/// decodings are scripted and whose calls are recorded.
enum LongFormFakes {
    /// A byte-level BPE tokenizer without merges (each UTF-8 byte of a text is a token, ids
    /// 0..<256) and with Whisper's special and timestamp tokens after them: English-only, or
    /// multilingual (`<|en|>` and `<|de|>`, and the vocabulary padded to 51865 ids). Made once.
    static func tokenizer(multilingual: Bool = false) throws -> Tokenizer {
        try (multilingual ? multilingualTokenizer : englishTokenizer).get()
    }

    private static let englishTokenizer = Result { try makeTokenizer(multilingual: false) }
    private static let multilingualTokenizer = Result { try makeTokenizer(multilingual: true) }

    private static func makeTokenizer(multilingual: Bool) throws -> Tokenizer {
        let bytes = byteAlphabet()
        var specials = ["<|endoftext|>", "<|startoftranscript|>"]
        if multilingual { specials += ["<|en|>", "<|de|>"] }
        specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                     "<|notimestamps|>"]
        var vocabulary = bytes + specials
        vocabulary += (0...1500).map { "<|" + String(format: "%.2f", Double($0) * 0.02) + "|>" }
        if multilingual { vocabulary += (vocabulary.count..<51865).map { "pad\($0)" } }

        struct File: Encodable {
            struct Model: Encodable { var type = "BPE"; var vocab: [String: Int]; var merges: [String] = [] }
            struct Added: Encodable { var id: Int; var content: String }
            var model: Model
            var added_tokens: [Added]
        }
        let file = File(model: .init(vocab: Dictionary(uniqueKeysWithValues: bytes.enumerated().map { ($1, $0) })),
                        added_tokens: specials.enumerated().map { .init(id: bytes.count + $0, content: $1) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return try Tokenizer(tokenizerJSON: try encoder.encode(file), vocabulary: multilingual ? vocabulary : nil,
                             source: "synthetic tokenizer")
    }

    /// GPT-2's byte-level alphabet: the character that stands for each byte.
    private static func byteAlphabet() -> [String] {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var shifted = 0
        return (0..<256).map { byte in
            if printable.contains(byte) { return String(Character(Unicode.Scalar(UInt8(byte)))) }
            defer { shifted += 1 }
            return String(Character(Unicode.Scalar(UInt32(256 + shifted))!))
        }
    }
}

/// Feature windows whose frames are loud (loudness 0) or, in `silent`, near silence
/// (loudness −6, under the default threshold of −5). Records the windows asked for.
struct FakeFeatures: FeatureSource {
    let melCount = 2
    let contentFrameCount: Int
    var silent: [Range<Int>] = []
    private(set) var requested: [Int] = []

    init(seconds: Double, silent: [Range<Double>] = []) {
        contentFrameCount = Int((seconds * 100).rounded())
        self.silent = silent.map { Int(($0.lowerBound * 100).rounded())..<Int(($0.upperBound * 100).rounded()) }
    }

    mutating func window(startingAt start: Int, frames: Int) throws -> [Float] {
        requested.append(start)
        let width = MelSpectrogram.windowFrames
        var window = [Float](repeating: 0, count: melCount * width)
        for mel in 0..<melCount {
            for offset in 0..<min(frames, width) {
                let frame = start + offset
                window[mel * width + offset] = silent.contains { $0.contains(frame) } ? -0.5 : 1
            }
        }
        return window
    }
}

/// A window model with scripted decodings. Windows are numbered in the order they are
/// encoded (the encoder output is the number), so a script answers by window and temperature.
final class FakeWindowModel: WindowModel, WindowDecoding {
    struct Call: Equatable {
        var window: Int
        var prompt: [Int]
        var temperature: Double
    }

    var textContext = 448
    var detectedLanguage = (code: "de", probability: 0.75)
    /// The decoding of each call.
    var script: (Call) -> WindowResult
    private(set) var encodes = 0
    private(set) var detections: [Int] = []
    private(set) var calls: [Call] = []
    private(set) var searches: [SearchOptions] = []

    init(script: @escaping (Call) -> WindowResult) { self.script = script }

    func encode(_ window: [Float]) -> [Float] {
        encodes += 1
        return [Float(encodes - 1)]
    }

    func detectLanguage(encoderOutput: [Float], tokenizer: Tokenizer) -> (code: String, probability: Double) {
        detections.append(Int(encoderOutput[0]))
        return detectedLanguage
    }

    func makeDecoder(tokenizer: Tokenizer, options: TranscriptionOptions) -> FakeWindowModel { self }

    func decode(encoderOutput: [Float], prompt: [Int], search: SearchOptions) -> WindowResult {
        let call = Call(window: Int(encoderOutput[0]), prompt: prompt, temperature: search.temperature)
        calls.append(call)
        searches.append(search)
        return script(call)
    }

    /// The windows decoded, in order, each once however many temperatures it took.
    var decodedWindows: [Int] {
        calls.map(\.window).reduce(into: []) { if $0.last != $1 { $0.append($1) } }
    }
}

/// Builds scripted decodings over a synthetic tokenizer.
struct Script {
    let tokenizer: Tokenizer
    var special: SpecialTokens { tokenizer.specialTokens }

    /// The timestamp token of `seconds` into the window.
    func at(_ seconds: Double) -> Int { special.timestampBegin + Int((seconds / 0.02).rounded()) }

    /// The text tokens of `text`.
    func text(_ text: String) -> [Int] { tokenizer.encode(text) }

    /// A decoding of `tokens` whose average log-probability (length penalty 1) is `averageLogProb`.
    func result(_ tokens: [Int], averageLogProb: Double = -0.2, noSpeech: Double = 0.01) -> WindowResult {
        let length = Double(tokens.count)
        let score = length > 0 ? averageLogProb * (length + 1) / length : 0
        return WindowResult(tokens: tokens, sumLogProb: score * length, score: score, noSpeechProbability: noSpeech)
    }

    /// A text that loops: its compression ratio is far above 2.4.
    var loop: [Int] { text(String(repeating: " thank you so much.", count: 30)) }

    /// Runs the loop over `features` with `model`.
    func transcribe(_ features: inout FakeFeatures, model: FakeWindowModel, options: TranscriptionOptions = TranscriptionOptions(),
                    cancellation: CancellationFlag? = nil,
                    progress: ((TranscriptionProgress) -> Void)? = nil) throws(TranscriptionError) -> Transcript {
        let duration = Double(features.contentFrameCount) / 100
        return try LongForm.transcribe(features: &features, duration: duration, options: options, model: model,
                                       tokenizer: { tokenizer }, cancellation: cancellation, progress: progress)
    }
}
