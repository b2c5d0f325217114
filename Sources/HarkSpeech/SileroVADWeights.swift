import Foundation
import HarkModel

/// Silero VAD's 16 kHz weights (309 633 float32 parameters), loaded once and shared by any
/// number of ``SileroVAD`` detectors, in the layouts their matrix products read. Every matrix
/// is kept transposed, input-major (`hark_f32_gemm_acc` reads a row of output columns per input):
///
/// | tensor | file shape | kept as |
/// |---|---|---|
/// | STFT basis (a convolution: 129 real rows, then 129 imaginary) | [258, 1, 256] | [256][272] (14 zero columns) |
/// | conv1 … conv4 (kernel 3) | [out, in, 3] | [3·in][out], row tap·in + i: the im2col row's order |
/// | LSTM cell input and recurrent weights (gates i, f, g, o) | [512, 128] each | [128][512] each |
/// | LSTM biases | [512] twice | their sum |
/// | output convolution (1 × 1) | [1, 128, 1] and [1] | [128] and a scalar |
///
/// Read from the wheel's 16 kHz ONNX file (`silero_vad_16k_op15.onnx`: its initializers) or
/// from a safetensors file with the names of the wheel's `tinygrad_model.py`
/// (`silero_vad_16k.safetensors`, which holds other weights; see Models/README.md).
///
/// Immutable after `init`: the storage is written only there, so sharing it between threads
/// is safe (hence `@unchecked Sendable`).
public final class SileroVADWeights: @unchecked Sendable {
    /// The file Hark runs, in the installed model's directory.
    public static let onnxFileName = "silero_vad_16k_op15.onnx"
    /// The wheel's tinygrad weights, installed beside it.
    public static let safetensorsFileName = "silero_vad_16k.safetensors"
    /// Parameters in a complete set.
    public static let parameterCount = 309_633

    /// One convolution of the encoder: kernel 3, padding 1, ReLU after it.
    struct Convolution {
        let inputs: Int
        let outputs: Int
        let stride: Int
        /// `[3 · inputs][outputs]`: row `tap · inputs + i` holds the weights of input `i` at `tap`.
        let weight: UnsafePointer<Float>
        let bias: UnsafePointer<Float>
    }

    /// Sizes of the network.
    static let fftSize = 256
    static let hop = 128
    static let bins = 129
    /// The STFT's 258 outputs padded to a multiple of 16 (the kernels' column block).
    static let stftColumns = 272
    static let hidden = 128

    let stft: UnsafePointer<Float>
    let convolutions: [Convolution]
    let lstmInput: UnsafePointer<Float>
    let lstmRecurrent: UnsafePointer<Float>
    let lstmBias: UnsafePointer<Float>
    let output: UnsafePointer<Float>
    let outputBias: Float

    /// Where the weights came from.
    public let path: String

    private let storage: UnsafeMutableBufferPointer<Float>

    /// A tensor the network needs: its name in each file format and its shape.
    private struct Entry {
        let onnx: String
        let safetensors: String
        let shape: [Int]
    }

    private static let entries: [Entry] = [
        Entry(onnx: "model.stft.forward_basis_buffer", safetensors: "stft_conv.weight", shape: [258, 1, 256]),
        Entry(onnx: "model.encoder.0.reparam_conv.weight", safetensors: "conv1.weight", shape: [128, 129, 3]),
        Entry(onnx: "model.encoder.0.reparam_conv.bias", safetensors: "conv1.bias", shape: [128]),
        Entry(onnx: "model.encoder.1.reparam_conv.weight", safetensors: "conv2.weight", shape: [64, 128, 3]),
        Entry(onnx: "model.encoder.1.reparam_conv.bias", safetensors: "conv2.bias", shape: [64]),
        Entry(onnx: "model.encoder.2.reparam_conv.weight", safetensors: "conv3.weight", shape: [64, 64, 3]),
        Entry(onnx: "model.encoder.2.reparam_conv.bias", safetensors: "conv3.bias", shape: [64]),
        Entry(onnx: "model.encoder.3.reparam_conv.weight", safetensors: "conv4.weight", shape: [128, 64, 3]),
        Entry(onnx: "model.encoder.3.reparam_conv.bias", safetensors: "conv4.bias", shape: [128]),
        Entry(onnx: "model.decoder.rnn.weight_ih", safetensors: "lstm_cell.weight_ih", shape: [512, 128]),
        Entry(onnx: "model.decoder.rnn.weight_hh", safetensors: "lstm_cell.weight_hh", shape: [512, 128]),
        Entry(onnx: "model.decoder.rnn.bias_ih", safetensors: "lstm_cell.bias_ih", shape: [512]),
        Entry(onnx: "model.decoder.rnn.bias_hh", safetensors: "lstm_cell.bias_hh", shape: [512]),
        Entry(onnx: "model.decoder.decoder.2.weight", safetensors: "final_conv.weight", shape: [1, 128, 1]),
        Entry(onnx: "model.decoder.decoder.2.bias", safetensors: "final_conv.bias", shape: [1]),
    ]

    /// The strides of conv1 … conv4.
    private static let strides = [1, 2, 2, 1]

    /// The weights in `directory`, an installed `silero-vad` model (its ONNX file).
    public convenience init(directory: URL) throws(SpeechDetectorError) {
        try self.init(contentsOf: directory.appendingPathComponent(Self.onnxFileName))
    }

    /// Loads an ONNX file or, for a `.safetensors` name, a safetensors file.
    public init(contentsOf url: URL) throws(SpeechDetectorError) {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .missingWeights(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw .missingWeights(path: path, reason: "a directory, not a file") }
        let tensors = url.pathExtension == "safetensors" ? try Self.readSafetensors(path) : try Self.readONNX(url)

        // Every tensor is present with its shape before anything is copied.
        var values: [[Float]] = []
        for entry in Self.entries {
            let name = url.pathExtension == "safetensors" ? entry.safetensors : entry.onnx
            guard let tensor = tensors[name] else { throw .malformedWeights(path: path, detail: "no tensor \(name)") }
            guard tensor.shape == entry.shape else {
                throw .malformedWeights(path: path, detail: "tensor \(name) has shape \(tensor.shape), expected \(entry.shape)")
            }
            values.append(tensor.values)
        }

        // One allocation for everything, each tensor on a 64-byte boundary.
        // Regions: the STFT basis, conv1 … conv4 (weight, bias), the LSTM's two matrices, its
        // summed biases, the output weights.
        let sizes: [Int] = [Self.fftSize * Self.stftColumns] + values[1..<11].map { $0.count } + [512, 128]
        let padded: [Int] = sizes.map { ($0 + 15) / 16 * 16 }
        let total = padded.reduce(0, +)
        let base = UnsafeMutableRawPointer.allocate(byteCount: total * 4, alignment: 64).bindMemory(to: Float.self, capacity: total)
        let storage = UnsafeMutableBufferPointer(start: base, count: total)
        storage.initialize(repeating: 0)
        var offsets: [Int] = []
        var next = 0
        for size in padded {
            offsets.append(next)
            next += size
        }
        func region(_ index: Int) -> UnsafeMutablePointer<Float> { base + offsets[index] }

        // Transposed: [258][256] → [256][272].
        Self.transpose(values[0], rows: 2 * Self.bins, columns: Self.fftSize, into: region(0), leading: Self.stftColumns)
        var convolutions: [Convolution] = []
        var inputs = Self.bins
        for (layer, stride) in Self.strides.enumerated() {
            let source = values[1 + 2 * layer], bias = values[2 + 2 * layer]
            let outputs = bias.count
            // [out][in][3] → [3][in][out]: row tap · inputs + i meets column tap · inputs + i of
            // the im2col matrix, whose taps are consecutive input frames.
            let weight = region(1 + 2 * layer)
            for output in 0..<outputs {
                for input in 0..<inputs {
                    for tap in 0..<3 {
                        weight[(tap * inputs + input) * outputs + output] = source[(output * inputs + input) * 3 + tap]
                    }
                }
            }
            region(2 + 2 * layer).update(from: bias, count: outputs)
            convolutions.append(Convolution(inputs: inputs, outputs: outputs, stride: stride,
                                            weight: UnsafePointer(weight), bias: UnsafePointer(region(2 + 2 * layer))))
            inputs = outputs
        }
        Self.transpose(values[9], rows: 512, columns: Self.hidden, into: region(9), leading: 512)
        Self.transpose(values[10], rows: 512, columns: Self.hidden, into: region(10), leading: 512)
        let bias = region(11)
        for index in 0..<512 { bias[index] = values[11][index] + values[12][index] }
        region(12).update(from: values[13], count: 128)

        self.path = path
        self.storage = storage
        stft = UnsafePointer(region(0))
        self.convolutions = convolutions
        lstmInput = UnsafePointer(region(9))
        lstmRecurrent = UnsafePointer(region(10))
        lstmBias = UnsafePointer(region(11))
        output = UnsafePointer(region(12))
        outputBias = values[14][0]
    }

    deinit {
        storage.deallocate()
    }

    /// Writes the transpose of row-major `rows × columns` values, rows `leading` apart.
    private static func transpose(_ values: [Float], rows: Int, columns: Int, into target: UnsafeMutablePointer<Float>, leading: Int) {
        for row in 0..<rows {
            for column in 0..<columns { target[column * leading + row] = values[row * columns + column] }
        }
    }

    /// The float32 tensors of an ONNX file's graph, by name.
    private static func readONNX(_ url: URL) throws(SpeechDetectorError) -> [String: (shape: [Int], values: [Float])] {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw .missingWeights(path: url.path, reason: "unreadable")
        }
        do {
            return try ONNXInitializers(data: data).tensors.mapValues { ($0.shape, $0.values) }
        } catch {
            throw .malformedWeights(path: url.path, detail: error.detail)
        }
    }

    /// The float32 tensors of a safetensors file, by name.
    private static func readSafetensors(_ path: String) throws(SpeechDetectorError) -> [String: (shape: [Int], values: [Float])] {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile(path: path)
        } catch {
            switch error {
            case .missingFile: throw .missingWeights(path: path, reason: "unreadable")
            case .truncated(_, let detail), .notAModel(_, let detail), .unsupported(_, let detail):
                throw .malformedWeights(path: path, detail: detail)
            default: throw .malformedWeights(path: path, detail: error.description)
            }
        }
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, tensor) in file.tensors where tensor.dataType == .float32 {
            // withBytes cannot fail for a name the file lists.
            let values = (try? file.withBytes(of: name) { bytes in
                (0..<tensor.elementCount).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }) ?? []
            tensors[name] = (tensor.shape, values)
        }
        return tensors
    }
}
