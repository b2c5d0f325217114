// hark-bench sensitivity: how much each group of weight matrices suffers from int8, alone.
//
// For every group (a kind of matrix across all blocks, or one whole block), the model is loaded
// with only that group in int8 and everything else in float32, and compared with the all-float
// model on real recordings: the encoder output's relative L2 error, and, feeding the reference
// transcript's tokens (teacher forcing), the next-token distributions: mean KL divergence from
// float, how often the most likely token changes, and the change in the reference tokens'
// negative log-likelihood (the quantity beam search ranks by). "all" quantizes every group;
// "all but X" everything except X (what keeping X in float would recover).

import Foundation
import HarkFeatures
import HarkModel
import HarkTokenizer

struct SensitivityGroup {
    var name: String
    /// Whether a matrix (CTranslate2 name without /weight) belongs to the group.
    var contains: (String) -> Bool
}

func sensitivityGroups(_ dimensions: WhisperDimensions) -> [SensitivityGroup] {
    var groups: [SensitivityGroup] = [
        .init(name: "all") { _ in true },
        .init(name: "all but decoder/embeddings") { $0 != "decoder/embeddings" },
        .init(name: "all but decoder FFN") { !($0.hasPrefix("decoder/layer_") && $0.contains("/ffn/")) },
        .init(name: "all but decoder FFN linear_0") { !($0.hasPrefix("decoder/layer_") && $0.hasSuffix("/ffn/linear_0")) },
        .init(name: "all but decoder FFN linear_1") { !($0.hasPrefix("decoder/layer_") && $0.hasSuffix("/ffn/linear_1")) },
        .init(name: "all but decoder/embeddings and decoder FFN") { $0 != "decoder/embeddings" && !($0.hasPrefix("decoder/layer_") && $0.contains("/ffn/")) },
        .init(name: "encoder/conv1") { $0 == "encoder/conv1" },
        .init(name: "encoder/conv2") { $0 == "encoder/conv2" },
        .init(name: "encoder self-attention (all blocks)") { $0.hasPrefix("encoder/layer_") && $0.contains("/self_attention/") },
        .init(name: "encoder FFN (all blocks)") { $0.hasPrefix("encoder/layer_") && $0.contains("/ffn/") },
        .init(name: "decoder/embeddings (embedding and output projection)") { $0 == "decoder/embeddings" },
        .init(name: "decoder self-attention (all blocks)") { $0.hasPrefix("decoder/layer_") && $0.contains("/self_attention/") },
        .init(name: "decoder cross-attention (all blocks)") { $0.hasPrefix("decoder/layer_") && $0.contains("/attention/") && !$0.contains("self_") },
        .init(name: "decoder FFN (all blocks)") { $0.hasPrefix("decoder/layer_") && $0.contains("/ffn/") },
    ]
    for i in 0..<dimensions.encoderLayers {
        groups.append(.init(name: "encoder/layer_\(i)/") { $0.hasPrefix("encoder/layer_\(i)/") })
    }
    for i in 0..<dimensions.decoderLayers {
        groups.append(.init(name: "decoder/layer_\(i)/") { $0.hasPrefix("decoder/layer_\(i)/") })
    }
    return groups
}

/// One recording's float reference: features, encoder output, reference tokens and the
/// log-probabilities of every next token.
struct SensitivitySample {
    var mel: [Float]
    var encoded: [Float]
    var tokens: [Int]
    var promptCount: Int
    var logProbabilities: [Float]
}

func logSoftmaxRows(_ logits: [Float], width: Int) -> [Float] {
    var out = logits
    let rows = logits.count / width
    for r in 0..<rows {
        let row = r * width
        var maximum = -Float.infinity
        for i in 0..<width { maximum = max(maximum, logits[row + i]) }
        var sum: Double = 0
        for i in 0..<width { sum += Double(expf(logits[row + i] - maximum)) }
        let shift = maximum + Float(log(sum))
        for i in 0..<width { out[row + i] = logits[row + i] - shift }
    }
    return out
}

func teacherForced(_ model: WhisperModel, encoded: [Float], tokens: [Int], promptCount: Int) -> [Float] {
    var state = model.makeDecoderState(encoderOutput: encoded, batch: 1)
    let rows = Array((promptCount - 1)..<(tokens.count - 1))
    let logits = model.decode([Array(tokens.dropLast())], state: &state, logitRows: rows)
    return logSoftmaxRows(logits, width: model.dimensions.vocabularySize)
}

func benchSensitivity(_ arguments: [String]) throws -> Int32 {
    var model: String?
    var manifests: [String] = []
    var limit = 16
    var only: Set<String>?
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        switch argument {
        case "--model": model = iterator.next()
        case "--manifest": if let value = iterator.next() { manifests.append(value) }
        case "--limit": limit = iterator.next().flatMap(Int.init) ?? limit
        case "--only": only = iterator.next().map { Set($0.split(separator: ",").map(String.init)) }
        default: throw UsageError(description: "hark-bench sensitivity: unknown argument '\(argument)'")
        }
    }
    guard let model, !manifests.isEmpty else {
        throw UsageError(description: "usage: hark-bench sensitivity --model DIR --manifest TSV [--manifest TSV] [--limit N] [--only GROUP,...]")
    }
    let directory = URL(fileURLWithPath: model)
    let float32 = try WhisperModel(at: directory, computeType: .float32)
    let tokenizer = try Tokenizer(modelDirectory: directory)
    let special = tokenizer.specialTokens
    var prompt = [special.sot]
    if tokenizer.isMultilingual, let english = tokenizer.languageToken(for: "en") { prompt += [english, special.transcribe] }
    prompt.append(special.noTimestamps)

    var samples: [SensitivitySample] = []
    for manifest in manifests {
        let base = URL(fileURLWithPath: manifest).deletingLastPathComponent()
        let lines = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n").dropFirst().prefix(limit)
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3 else { continue }
            var features = try StreamedFeatures(path: base.appendingPathComponent(fields[1]).path, melCount: float32.dimensions.melCount)
            let mel = try features.window(startingAt: 0, frames: min(MelSpectrogram.windowFrames, features.contentFrameCount))
            let encoded = float32.encode(mel)
            let tokens = prompt + tokenizer.encode(" " + fields[2].trimmingCharacters(in: .whitespaces)) + [special.eot]
            samples.append(SensitivitySample(mel: mel, encoded: encoded, tokens: tokens, promptCount: prompt.count,
                                             logProbabilities: teacherForced(float32, encoded: encoded, tokens: tokens, promptCount: prompt.count)))
        }
    }
    let vocabulary = float32.dimensions.vocabularySize
    let names = QuantizationPlan.matrixNames(for: float32.dimensions)
    print("Sensitivity of \(directory.lastPathComponent) to int8, one group at a time (everything else float32); "
          + "\(samples.count) recordings, \(samples.map { $0.tokens.count - $0.promptCount }.reduce(0, +)) reference tokens.\n")
    print("| int8 group | matrices | encoder rel. L2 error | mean KL (nats/token) | top-1 changed | Δ NLL of reference (nats/token) |")
    print("|---|---:|---:|---:|---:|---:|")
    for group in sensitivityGroups(float32.dimensions) where only?.contains(group.name) ?? true {
        let plan = QuantizationPlan(keptInFloat: names.filter { !group.contains($0) })
        let quantized = try WhisperModel(at: directory, computeType: .int8, plan: plan)
        var encoderError: Double = 0, kl: Double = 0, changed = 0, nllDelta: Double = 0, predictions = 0
        for sample in samples {
            let encoded = quantized.encode(sample.mel)
            var difference: Double = 0, norm: Double = 0
            for i in encoded.indices {
                let d = Double(encoded[i] - sample.encoded[i])
                difference += d * d
                norm += Double(sample.encoded[i]) * Double(sample.encoded[i])
            }
            encoderError += (difference / norm).squareRoot()
            let logProbabilities = teacherForced(quantized, encoded: encoded, tokens: sample.tokens, promptCount: sample.promptCount)
            for row in 0..<(logProbabilities.count / vocabulary) {
                let p = row * vocabulary
                var best = (reference: 0, quantized: 0)
                var divergence: Double = 0
                for i in 0..<vocabulary {
                    let reference = sample.logProbabilities[p + i], mine = logProbabilities[p + i]
                    divergence += Double(expf(reference)) * Double(reference - mine)
                    if reference > sample.logProbabilities[p + best.reference] { best.reference = i }
                    if mine > logProbabilities[p + best.quantized] { best.quantized = i }
                }
                kl += divergence
                if best.reference != best.quantized { changed += 1 }
                let target = sample.tokens[sample.promptCount + row]
                nllDelta += Double(sample.logProbabilities[p + target] - logProbabilities[p + target])
                predictions += 1
            }
        }
        let matrices = names.filter(group.contains).count
        print(String(format: "| %@ | %d | %.4f | %.5f | %.2f%% | %+.5f |", group.name, matrices,
                     encoderError / Double(samples.count), kl / Double(predictions),
                     100 * Double(changed) / Double(predictions), nllDelta / Double(predictions)))
    }
    return 0
}
