import CHarkKernels
import Foundation

/// Hark's int8 model file: one safetensors file holding a whole Whisper model, quantized.
///
/// - Every weight matrix the ``QuantizationPlan`` quantizes is an `I8` tensor under its
///   CTranslate2 name (`encoder/layer_0/ffn/linear_0/weight`, shape as in the source) with an
///   `F32` companion `…/weight_scale` of one scale per output row. **The scale multiplies**:
///   `w = q · scale`, `scale = max|row| / 127`, `q` in [-127, 127]. (CTranslate2's own int8
///   files store the inverse, `127 / max|row|`.)
/// - Every other tensor (biases, LayerNorm, positions, attributes) keeps its source type
///   (F16, BF16 or F32; integers as I32).
/// - Every tensor starts on a 64-byte boundary of the file, so the file can be mapped and
///   read in place.
/// - `__metadata__` holds the format name and version, the sha256 of the source `model.bin`,
///   the plan, and the model directory's `config.json`, `tokenizer.json` and (when present)
///   the vocabulary as JSON, so the file alone is a complete model.
///
/// numpy reads it with `safetensors.numpy.load_file`, PyTorch with `safetensors.torch`.
public enum Int8ModelFile {
    /// The value of the `format` metadata key.
    public static let formatName = "hark-whisper-int8"
    /// The layout version this code writes and reads.
    public static let formatVersion = "1"
    /// The file name extension.
    public static let fileExtension = "safetensors"

    /// Metadata keys.
    public enum Key {
        public static let format = "format"
        public static let version = "format_version"
        public static let spec = "spec"
        public static let sourceSHA256 = "source_sha256"
        public static let sourceName = "source_model"
        public static let quantization = "quantization"
        public static let keptInFloat = "kept_in_float"
        public static let configuration = "config.json"
        public static let tokenizer = "tokenizer.json"
        public static let vocabulary = "vocabulary.json"
    }

    /// What `write` produced.
    public struct Summary: Sendable {
        /// Bytes of the file written.
        public var fileBytes: Int
        /// Bytes the same weights take in 32-bit float.
        public var float32Bytes: Int
        /// Matrices written in int8, and kept in float.
        public var quantizedMatrices: Int
        public var floatMatrices: Int
    }

    /// Quantizes the CTranslate2 Whisper model in `directory` and writes it to `output`
    /// (atomically: a partial file never takes the name). Tensors are converted one at a time,
    /// so memory stays near the size of the largest tensor.
    ///
    /// - Parameter sourceSHA256: the hex sha256 of the directory's `model.bin`, recorded in the
    ///   metadata.
    public static func write(quantizing directory: URL, sourceSHA256: String,
                             plan: QuantizationPlan = .standard, to output: URL) throws(ModelError) -> Summary {
        let file = try CTranslate2File(path: directory.appendingPathComponent("model.bin").path)
        let dimensions = try WhisperDimensions(source: file)
        let matrices = Set(QuantizationPlan.matrixNames(for: dimensions).map { "\($0)/weight" })

        var metadata: [String: String] = [
            Key.format: formatName, Key.version: formatVersion, Key.spec: "WhisperSpec",
            Key.sourceSHA256: sourceSHA256, Key.sourceName: directory.lastPathComponent,
            Key.quantization: "int8 symmetric per output row: weight = int8 * weight_scale, weight_scale = max|row| / 127",
            Key.keptInFloat: plan.keptInFloat.joined(separator: ","),
        ]
        for (key, name) in [(Key.configuration, "config.json"), (Key.tokenizer, "tokenizer.json")] {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
                throw .missingFile(path: url.path)
            }
            metadata[key] = text
        }
        if let vocabulary = try readVocabulary(in: directory) { metadata[Key.vocabulary] = vocabulary }

        var pending: [Safetensors.PendingTensor] = []
        var float32Bytes = 0
        var quantizedCount = 0, floatCount = 0
        let companions = Set(file.storedNames.filter { file.variables[$0]?.dataType == .int8 }.map { $0 + "_scale" })
        for name in file.storedNames where !companions.contains(name) {
            guard let record = file.variables[name] else { continue }
            float32Bytes += record.elementCount * 4
            if matrices.contains(name) {
                let layer = String(name.dropLast("/weight".count))
                let rows = record.shape.first ?? 0
                let columns = record.elementCount / max(rows, 1)
                if plan.quantizes(layer) {
                    quantizedCount += 1
                    let quantized = QuantizedRows(file: file, name: name, rows: rows, columns: columns)
                    pending.append(.init(name: name, dataType: .int8, shape: record.shape) { bytes in
                        try quantized.values(into: bytes)
                    })
                    pending.append(.init(name: name + "_scale", dataType: .float32, shape: [rows]) { bytes in
                        try quantized.scales(into: bytes)
                    })
                    continue
                }
                floatCount += 1
            }
            pending.append(copied(record, from: file))
        }
        // What was written is read back as the int8 model it must be before it takes the name:
        // a file that does not load never replaces anything.
        var written: SafetensorsFile?
        do {
            try Safetensors.write(pending, metadata: metadata, to: output) { temporary in
                let file = try SafetensorsFile(path: temporary.path)
                _ = try WhisperWeights(source: file, computeType: .int8, plan: plan)
                written = file
            }
        } catch let error as ModelError {
            throw error
        } catch {
            throw .unwritable(path: output.path, detail: error.localizedDescription)
        }
        guard let written else { throw .unwritable(path: output.path, detail: "nothing was written") }
        return Summary(fileBytes: written.byteCount, float32Bytes: float32Bytes,
                       quantizedMatrices: quantizedCount, floatMatrices: floatCount)
    }

    /// Whether `url` is a file (not a directory) that starts like a safetensors file with
    /// Hark's format name in it.
    public static func isInt8ModelFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { return false }
        return url.pathExtension == fileExtension
    }

    /// A tensor copied in its own type (integers widened to I32).
    private static func copied(_ record: TensorRecord, from file: CTranslate2File) -> Safetensors.PendingTensor {
        let type: Safetensors.DataType
        switch record.dataType {
        case .float32: type = .float32
        case .float16: type = .float16
        case .bfloat16: type = .bfloat16
        case .int8, .int16, .int32: type = .int32
        }
        return .init(name: record.name, dataType: type, shape: record.shape) { bytes in
            if type == .int32 {
                let values = try file.floats(record.name)
                for (i, value) in values.enumerated() {
                    bytes.storeBytes(of: Int32(value).littleEndian, toByteOffset: 4 * i, as: Int32.self)
                }
            } else {
                file.withBytes(of: record) { source in bytes.copyMemory(from: source) }
            }
        }
    }

    /// The vocabulary file of a directory as a JSON array, if it has one.
    private static func readVocabulary(in directory: URL) throws(ModelError) -> String? {
        let text = directory.appendingPathComponent("vocabulary.txt")
        let json = directory.appendingPathComponent("vocabulary.json")
        if let data = FileManager.default.contents(atPath: json.path) {
            return String(data: data, encoding: .utf8)
        }
        guard let data = FileManager.default.contents(atPath: text.path) else { return nil }
        guard let content = String(data: data, encoding: .utf8) else {
            throw .badConfig(path: text.path, detail: "not UTF-8 text")
        }
        var lines = content.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        do {
            return String(decoding: try JSONSerialization.data(withJSONObject: lines), as: UTF8.self)
        } catch {
            throw .badConfig(path: text.path, detail: "\(error)")
        }
    }
}

/// One weight matrix, quantized when the writer first asks for its values or its scales
/// (the two tensors may be written apart), and released once both are written.
private final class QuantizedRows {
    let file: CTranslate2File
    let name: String
    let rows: Int
    let columns: Int
    private var quantized: (values: [Int8], scales: [Float])?

    init(file: CTranslate2File, name: String, rows: Int, columns: Int) {
        self.file = file
        self.name = name
        self.rows = rows
        self.columns = columns
    }

    func values(into bytes: UnsafeMutableRawBufferPointer) throws {
        try quantize().values.withUnsafeBytes { bytes.copyMemory(from: $0) }
        quantized?.values = []
    }

    func scales(into bytes: UnsafeMutableRawBufferPointer) throws {
        try quantize().scales.withUnsafeBytes { bytes.copyMemory(from: $0) }
        quantized?.scales = []
    }

    private func quantize() throws -> (values: [Int8], scales: [Float]) {
        if let quantized { return quantized }
        let weights = try file.floats(name)
        var values = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 0, count: rows)
        weights.withUnsafeBufferPointer { w in
            values.withUnsafeMutableBufferPointer { q in
                scales.withUnsafeMutableBufferPointer { s in
                    guard let x = w.baseAddress, let qp = q.baseAddress, let sp = s.baseAddress, rows > 0, columns > 0 else { return }
                    hark_s8_quantize_rows(x, rows, columns, columns, qp, columns, sp)
                }
            }
        }
        quantized = (values, scales)
        return (values, scales)
    }
}
