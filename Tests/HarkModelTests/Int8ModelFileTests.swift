import Foundation
import HarkTestSupport
import XCTest

import HarkKernels
@testable import HarkModel

/// The safetensors layer: what is written reads back, aligned, and bad files are clear errors.
final class SafetensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func tensor(_ name: String, _ type: Safetensors.DataType, _ shape: [Int], seed: UInt8) -> Safetensors.PendingTensor {
        .init(name: name, dataType: type, shape: shape) { bytes in
            for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ Int(seed)) }
        }
    }

    func testRoundTripAlignsEveryTensorAndKeepsBytesAndMetadata() throws {
        let url = directory.appendingPathComponent("t.safetensors")
        // Sizes chosen so that most are not multiples of 64 bytes: the writer must pad.
        let pending = [tensor("a", .int8, [3, 7], seed: 1), tensor("b", .float32, [16], seed: 2),
                       tensor("c", .float16, [5], seed: 3), tensor("d", .int32, [], seed: 4),
                       tensor("e", .int8, [0, 4], seed: 5), tensor("f", .bfloat16, [2, 33], seed: 6)]
        try Safetensors.write(pending, metadata: ["k": "v", "long": String(repeating: "x", count: 1000)], to: url)
        let file = try SafetensorsFile(path: url.path)
        XCTAssertEqual(file.metadata, ["k": "v", "long": String(repeating: "x", count: 1000)])
        XCTAssertEqual(Set(file.tensors.keys), ["a", "b", "c", "d", "e", "f"], "padding tensors are hidden")
        for expected in pending {
            let found = try XCTUnwrap(file.tensors[expected.name])
            XCTAssertEqual(found.shape, expected.shape)
            XCTAssertEqual(found.dataType, expected.dataType)
            XCTAssertEqual(found.offset % Safetensors.alignment, 0, "\(expected.name) at \(found.offset)")
            let bytes = try file.withBytes(of: expected.name) { Array($0) }
            var reference = [UInt8](repeating: 0, count: expected.byteCount)
            try reference.withUnsafeMutableBytes { try expected.fill($0) }
            XCTAssertEqual(bytes, reference, expected.name)
        }
        // The header is JSON padded with spaces to the alignment, as the format allows.
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        XCTAssertEqual((8 + headerLength) % Safetensors.alignment, 0)
    }

    func testReplacingAFileIsAtomicAndARejectedWriteKeepsTheOldOne() throws {
        let url = directory.appendingPathComponent("t.safetensors")
        try Safetensors.write([tensor("a", .float32, [64], seed: 1)], metadata: ["v": "1"], to: url)
        try Safetensors.write([tensor("a", .float32, [64], seed: 2)], metadata: ["v": "2"], to: url)
        XCTAssertEqual(try SafetensorsFile(path: url.path).metadata["v"], "2", "an existing file is replaced")
        let before = try Data(contentsOf: url)
        struct Rejected: Error {}
        XCTAssertThrowsError(try Safetensors.write([tensor("a", .float32, [64], seed: 3)], metadata: ["v": "3"], to: url) { _ in
            throw Rejected()
        })
        XCTAssertEqual(try Data(contentsOf: url), before, "a rejected write leaves the old file as it was")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["t.safetensors"], "no partial file is left")
    }

    func testBadFilesAreClearErrors() throws {
        let url = directory.appendingPathComponent("t.safetensors")
        try Safetensors.write([tensor("a", .float32, [64], seed: 1)], metadata: [:], to: url)
        let good = try Data(contentsOf: url)
        func check(_ bytes: Data, _ matches: (ModelError) -> Bool, _ what: String) throws {
            let bad = directory.appendingPathComponent("bad-\(UUID().uuidString).safetensors")
            try bytes.write(to: bad)
            XCTAssertThrowsError(try SafetensorsFile(path: bad.path), what) { error in
                guard let error = error as? ModelError else { return XCTFail("\(error)") }
                XCTAssertTrue(matches(error), "\(what): \(error)")
                XCTAssertFalse(error.description.contains("\n"))
            }
        }
        try check(good.prefix(5), { if case .truncated = $0 { true } else { false } }, "shorter than the length")
        try check(good.prefix(good.count - 1), { if case .truncated = $0 { true } else { false } }, "last byte missing")
        try check(Data(repeating: 0xFF, count: 64), { if case .notAModel = $0 { true } else { false } }, "garbage")
        var notJSON = good
        notJSON[8] = UInt8(ascii: "#")
        try check(notJSON, { if case .notAModel = $0 { true } else { false } }, "header not JSON")
        /// A file of `header` followed by 8 zero bytes of tensor data.
        func file(header: String) -> Data {
            var bytes = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 8))
            return bytes
        }
        func notAModel(saying words: String) -> (ModelError) -> Bool {
            { if case .notAModel(_, let detail) = $0 { detail.contains(words) } else { false } }
        }
        try check(file(header: #"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#),
                  { if case .unsupported = $0 { true } else { false } }, "unknown dtype")
        try check(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#),
                  notAModel(saying: "overlap"), "overlapping tensors")
        try check(file(header: #"[{"dtype":"F32","shape":[2],"data_offsets":[0,8]}]"#),
                  notAModel(saying: "not a JSON object"), "header an array")
        try check(file(header: #"{"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#),
                  notAModel(saying: "__metadata__ is not an object of strings"), "metadata not strings")
        try check(file(header: #"{"a":{"dtype":"F32","shape":[2]}}"#), notAModel(saying: "tensor a lacks"), "no offsets")
        try check(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#), notAModel(saying: "tensor a lacks"),
                  "one offset")
        try check(file(header: #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#), notAModel(saying: "tensor a lacks"),
                  "shape a string")
        // And a well-formed header with metadata reads back.
        let fine = directory.appendingPathComponent("fine.safetensors")
        let header = #"{"__metadata__":{"k":"v \"quoted\""},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        try file(header: header).write(to: fine)
        let read = try SafetensorsFile(path: fine.path)
        XCTAssertEqual(read.metadata, ["k": "v \"quoted\""])
        XCTAssertEqual(read.tensors["a"], Safetensors.Tensor(dataType: .float32, shape: [2], offset: 8 + header.utf8.count))
    }
}

/// `hark quantize`'s file: small, aligned, self-describing, and the same model as quantizing
/// while loading.
final class Int8ModelFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func testQuantizedFileIsSmallAlignedAndRunsLikeQuantizingAtLoad() throws {
        let source = try TestSupport.modelDirectory("tiny.en")
        let url = directory.appendingPathComponent("tiny.en-int8.safetensors")
        let summary = try Int8ModelFile.write(quantizing: source, sourceSHA256: "abc123", to: url)
        XCTAssertLessThanOrEqual(Double(summary.fileBytes), 0.30 * Double(summary.float32Bytes),
                                 "\(summary.fileBytes) bytes for \(summary.float32Bytes) of float32")
        XCTAssertEqual(summary.quantizedMatrices, 2 + 4 * 4 + 1 + 7 * 4, "every matrix of tiny.en")

        let file = try SafetensorsFile(path: url.path)
        XCTAssertEqual(file.metadata[Int8ModelFile.Key.format], Int8ModelFile.formatName)
        XCTAssertEqual(file.metadata[Int8ModelFile.Key.sourceSHA256], "abc123")
        XCTAssertNotNil(file.metadata[Int8ModelFile.Key.tokenizer])
        for (name, tensor) in file.tensors {
            XCTAssertEqual(tensor.offset % 64, 0, name)
        }
        XCTAssertEqual(file.tensors["encoder/layer_0/ffn/linear_0/weight"]?.dataType, .int8)
        XCTAssertEqual(file.tensors["encoder/layer_0/ffn/linear_0/weight_scale"]?.shape, [1536])
        XCTAssertEqual(file.tensors["encoder/layer_0/ffn/layer_norm/gamma"]?.dataType, .float16, "float tensors keep their type")

        // Stored int8 values are exactly what quantizing at load time computes.
        let fromFile = try WhisperModel(at: url, computeType: .int8)
        let atLoad = try WhisperModel(directory: source, computeType: .int8)
        for (a, b) in zip(fromFile.weights.encoderLayers, atLoad.weights.encoderLayers) {
            XCTAssertEqual(a.qkv.quantized, b.qkv.quantized)
            XCTAssertEqual(a.ffnOut.quantized, b.ffnOut.quantized)
        }
        XCTAssertEqual(fromFile.weights.embedding.projection.quantized, atLoad.weights.embedding.projection.quantized)
        XCTAssertEqual(fromFile.weights.conv1.quantized, atLoad.weights.conv1.quantized)
        XCTAssertTrue(fromFile.weights.encoderLayers[0].qkv.weight.isEmpty, "no float copy of an int8 matrix")

        // The embedding lookup reads the packed int8 rows: q · scale of the stored values.
        let embedding = try XCTUnwrap(fromFile.weights.embedding.projection.quantized)
        let values = embedding.int8Values(), width = embedding.columns
        for token in [0, 1, 220, 50256, embedding.rows - 1] {
            var row = [Float](repeating: 1, count: width)
            row.withUnsafeMutableBufferPointer { fromFile.weights.embedding.add(token, to: $0.baseAddress!) }
            for i in 0..<width {
                XCTAssertEqual(row[i], 1 + Float(values[token * width + i]) * embedding.scales[token], accuracy: 1e-6)
            }
        }

        // As float32, the file's weights are dequantized: q · scale.
        let dequantized = try WhisperModel(at: url, computeType: .float32)
        let q = try XCTUnwrap(atLoad.weights.encoderLayers[1].ffnIn.quantized)
        XCTAssertEqual(dequantized.weights.encoderLayers[1].ffnIn.weight, q.dequantized())
    }

    func testKeptMatricesStayFloatAndOtherFilesAreRefused() throws {
        let source = try TestSupport.modelDirectory("tiny.en")
        let url = directory.appendingPathComponent("partial.safetensors")
        let plan = QuantizationPlan(keptInFloat: ["encoder/conv1", "decoder/layer_0/"])
        let summary = try Int8ModelFile.write(quantizing: source, sourceSHA256: "x", plan: plan, to: url)
        XCTAssertEqual(summary.floatMatrices, 1 + 7)
        // The file remembers its plan: the kept matrices load as float with the default plan.
        let model = try WhisperModel(at: url, computeType: .int8)
        XCTAssertNil(model.weights.conv1.quantized)
        XCTAssertNil(model.weights.decoderLayers[0].ffnIn.quantized)
        XCTAssertNotNil(model.weights.decoderLayers[1].ffnIn.quantized)

        // Quantizing again over the same file replaces it with a good one.
        let again = try Int8ModelFile.write(quantizing: source, sourceSHA256: "y", plan: plan, to: url)
        XCTAssertEqual(again.fileBytes, summary.fileBytes)
        XCTAssertEqual(try SafetensorsFile(path: url.path).metadata[Int8ModelFile.Key.sourceSHA256], "y")

        // A safetensors file that is not ours is named as such.
        let foreign = directory.appendingPathComponent("foreign.safetensors")
        try Safetensors.write([], metadata: ["format": "pt"], to: foreign)
        XCTAssertThrowsError(try WhisperModel(at: foreign)) { error in
            XCTAssertTrue("\(error)".contains("not a Hark int8 Whisper model"), "\(error)")
        }
    }
}

/// Quantizing while loading gives the model the same weights as quantizing it after loading
/// (block by block quantization itself: `Int8MatrixProductTests` in HarkKernelsTests).
final class ChunkedQuantizationTests: XCTestCase {
    func testLoadingInt8MatchesQuantizingTheFloatModel() throws {
        let directory = try TestSupport.modelDirectory("tiny.en")
        let int8 = try WhisperModel(directory: directory, computeType: .int8)
        let float32 = try WhisperModel(directory: directory)
        XCTAssertEqual(int8.weights.embedding.projection.quantized,
                       QuantizedMatrix(quantizing: float32.weights.embedding.projection.weight, rows: 51_864, columns: 384))
        XCTAssertEqual(int8.weights.encoderLayers[2].ffnOut.quantized,
                       QuantizedMatrix(quantizing: float32.weights.encoderLayers[2].ffnOut.weight, rows: 384, columns: 1536))
    }
}
