import Foundation
import HarkTestSupport
import XCTest

@testable import HarkModel

/// A float32 model keeps the half-precision weights of its file and widens them as it reads
/// them: the same products as 32-bit copies of the weights, for half the memory.
final class HalfWeightsTests: XCTestCase {
    func testFloat32ModelKeepsTheFilesHalves() throws {
        let directory = try TestSupport.modelDirectory("tiny.en")
        let float32 = try WhisperModel(directory: directory)
        for layer in [float32.weights.decoderLayers[0].ffnIn, float32.weights.embedding.projection,
                      float32.weights.encoderLayers[3].qkv, float32.weights.conv1] {
            guard case .float16(let halves) = layer.storage else { return XCTFail("not kept in half precision: \(layer.storage)") }
            XCTAssertEqual(halves.count, layer.inputs * layer.outputs)
        }
        let int8 = try WhisperModel(directory: directory, computeType: .int8)
        XCTAssertNotNil(int8.weights.decoderLayers[0].ffnIn.quantized)
        XCTAssertTrue(int8.weights.decoderLayers[0].ffnIn.weight.isEmpty)
    }

    func testHalvesGiveTheProductsOfTheirWidenedCopies() throws {
        let model = try WhisperModel(directory: try TestSupport.modelDirectory("tiny.en"))
        let layers = [model.weights.decoderLayers[1].ffnIn, model.weights.decoderLayers[2].selfOut, model.weights.decoderLayers[3].ffnOut]
        for halves in layers {
            let widened = Linear(weight: halves.weight, bias: halves.bias, inputs: halves.inputs, outputs: halves.outputs)
            XCTAssertEqual(widened.weight.count, halves.inputs * halves.outputs)
            // Decoder steps (the few-rows product) and prompts (the BLAS product on widened weights).
            for rows in [1, 5, 8, 9, 40] {
                let x = (0..<(rows * halves.inputs)).map { sin(Float($0 * (rows + 3)) * 0.37) }
                for gelu in [false, true] {
                    XCTAssertEqual(halves(x, rows: rows, gelu: gelu), widened(x, rows: rows, gelu: gelu), "\(rows) rows")
                }
            }
        }
        let embedding = model.weights.embedding
        let widened = TokenEmbedding(projection: Linear(weight: embedding.projection.weight, bias: nil,
                                                        inputs: embedding.width, outputs: embedding.projection.outputs))
        for token in [0, 1, 50_256, 51_863] {
            var fromHalves = (0..<embedding.width).map { Float($0) / 7 }, fromFloats = fromHalves
            embedding.add(token, to: &fromHalves)
            widened.add(token, to: &fromFloats)
            XCTAssertEqual(fromHalves, fromFloats, "token \(token)")
            XCTAssertNotEqual(fromHalves, (0..<embedding.width).map { Float($0) / 7 })
        }
    }
}
