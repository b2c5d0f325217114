// hark-bench decode-steps: the steady-state cost of one decoder step (greedy, or all the
// hypotheses of a beam).

import Foundation
import HarkModel

/// Times decoder steps of `BEAMS` hypotheses (default 1: greedy) after a 150-token prompt, on
/// one encoded window of silence, with 2 compute threads; prints ms per step for each round and
/// the best, and before them what each round's window cost first: the cross-attention keys and
/// values (`makeDecoderState`) and the prompt. The model's work only: no logit rules or search.
func benchDecodeSteps(_ arguments: [String]) throws -> Int32 {
    let promptLength = 150
    guard let steps = arguments.count > 2 ? Int(arguments[2]) : 200, steps > 0,
          let rounds = arguments.count > 3 ? Int(arguments[3]) : 5, rounds > 0,
          let beams = arguments.count > 4 ? Int(arguments[4]) : 1, beams > 0 else {
        throw UsageError(description: "hark-bench: STEPS, ROUNDS and BEAMS are positive integers\n\(usage)")
    }
    let model = try loadModel(arguments, command: "decode-steps")
    guard promptLength + steps <= model.dimensions.textContext else {
        throw UsageError(description: "hark-bench: at most \(model.dimensions.textContext - promptLength) steps")
    }
    let encoded = model.encode([Float](repeating: -0.5, count: model.dimensions.melCount * 3000))
    var best = Double.infinity
    for _ in 0..<rounds {
        var (state, crossSeconds) = timed { model.makeDecoderState(encoderOutput: encoded, batch: 1) }
        let (_, promptSeconds) = timed { model.decode([Array(repeating: 220, count: promptLength)], state: &state) }
        print(String(format: "cross K/V %.1f ms, prompt of %d tokens %.1f ms", crossSeconds * 1e3, promptLength,
                     promptSeconds * 1e3))
        if beams > 1 { state.reorder(Array(repeating: 0, count: beams)) }
        let (_, seconds) = timed {
            for step in 0..<steps {
                _ = model.decode((0..<beams).map { [300 + step + $0] }, state: &state)
            }
        }
        best = min(best, seconds / Double(steps))
        print(String(format: "%.3f ms/step", seconds / Double(steps) * 1e3))
    }
    print(String(format: "best %.3f ms/step", best * 1e3))
    return 0
}

/// Times `ROUNDS` encoder windows (default 5) of a constant log-mel input with 2 compute
/// threads; prints ms per window for each round and the best.
func benchEncoder(_ arguments: [String]) throws -> Int32 {
    guard let rounds = arguments.count > 2 ? Int(arguments[2]) : 5, rounds > 0 else {
        throw UsageError(description: "hark-bench: ROUNDS is a positive integer\n\(usage)")
    }
    let model = try loadModel(arguments, command: "encoder")
    let features = [Float](repeating: -0.5, count: model.dimensions.melCount * 3000)
    var best = Double.infinity
    for _ in 0..<rounds {
        let (_, seconds) = timed { model.encode(features) }
        best = min(best, seconds)
        print(String(format: "%.1f ms/window", seconds * 1e3))
    }
    print(String(format: "best %.1f ms/window", best * 1e3))
    return 0
}

/// The model named by `MODEL [int8|float32]` at the start of `arguments`, with 2 compute threads.
private func loadModel(_ arguments: [String], command: String) throws -> WhisperModel {
    guard let path = arguments.first else { throw UsageError(description: usage) }
    let computeType: ComputeType
    switch arguments.count > 1 ? arguments[1] : "int8" {
    case "int8": computeType = .int8
    case "float32": computeType = .float32
    default: throw UsageError(description: "hark-bench: \(command) takes int8 or float32\n\(usage)")
    }
    ComputeThreads.set(2)
    return try WhisperModel(at: URL(fileURLWithPath: path), computeType: computeType)
}
