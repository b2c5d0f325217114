import Foundation
import HarkTestSupport
import XCTest

@testable import HarkModel

/// A float32 model keeps the half-precision weights of its file that the decoder's steps read,
/// and widens them as it reads them: the same products as 32-bit copies of the weights, for
/// half the memory. Those only BLAS multiplies (the encoder's, the cross-attention keys' and
/// values') are widened once when the model loads.
final class HalfWeightsTests: XCTestCase {
    func testFloat32ModelKeepsTheFilesHalvesForTheDecoderSteps() throws {
        let directory = try TestSupport.modelDirectory("tiny.en")
        let float32 = try WhisperModel(directory: directory)
        for layer in [float32.weights.decoderLayers[0].ffnIn, float32.weights.decoderLayers[1].selfQKV,
                      float32.weights.embedding.projection] {
            guard case .float16(let halves) = layer.storage else { return XCTFail("not kept in half precision: \(layer.storage)") }
            XCTAssertEqual(halves.count, layer.inputs * layer.outputs)
        }
        for layer in [float32.weights.encoderLayers[3].qkv, float32.weights.conv1, float32.weights.decoderLayers[2].crossKeyValue] {
            guard case .float32(let floats) = layer.storage else { return XCTFail("not widened at load: \(layer.storage)") }
            XCTAssertEqual(floats.count, layer.inputs * layer.outputs)
        }
        // Widened exactly: the file's halves.
        let file = try CTranslate2File(path: directory.appendingPathComponent("model.bin").path)
        let name = "encoder/layer_3/self_attention/linear_0/weight", qkv = float32.weights.encoderLayers[3].qkv
        let stored = try XCTUnwrap(try file.storedFloat16(name, count: qkv.inputs * qkv.outputs))
        let halves = withExtendedLifetime(stored) { Array(stored.buffer) }
        XCTAssertEqual(qkv.weight.map(\.bitPattern), halves.map { Float(Float16(bitPattern: $0)).bitPattern })
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
