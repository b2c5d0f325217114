import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
/// an 8-byte little-endian header length `N`, `N` bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the byte after the
/// header) plus an optional `"__metadata__"` object of strings, then the tensor bytes,
/// contiguous, little-endian, row-major.
///
/// Hark's writer pads the header with spaces (allowed by the format) and orders the tensors so
/// that every tensor starts on a 64-byte boundary of the file; where sizes make that
/// impossible it inserts a `__padding_K__` U8 tensor, so the file stays valid for every reader.
public enum Safetensors {
    /// The alignment of every tensor's first byte in files Hark writes.
    public static let alignment = 64
    /// The largest header this reader accepts (the reference implementation's limit).
    public static let maximumHeaderBytes = 100_000_000

    /// The element types Hark reads and writes, by their safetensors name.
    public enum DataType: String, Sendable, CaseIterable {
        case float32 = "F32", float16 = "F16", bfloat16 = "BF16"
        case int8 = "I8", uint8 = "U8", int32 = "I32", int64 = "I64"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .int8, .uint8: 1
            case .float16, .bfloat16: 2
            case .float32, .int32: 4
            case .int64: 8
            }
        }
    }

    /// One tensor of a file: its type, shape and the range of its bytes in the file.
    public struct Tensor: Sendable, Equatable {
        public var dataType: DataType
        public var shape: [Int]
        /// Absolute byte offset of the first element in the file.
        public var offset: Int
        public var elementCount: Int { shape.reduce(1, *) }
        public var byteCount: Int { elementCount * dataType.size }
    }

    /// A tensor to write: its name, type and shape, and a closure that fills its bytes when the
    /// writer reaches it (so large models are converted one tensor at a time).
    public struct PendingTensor {
        public var name: String
        public var dataType: DataType
        public var shape: [Int]
        public var fill: (UnsafeMutableRawBufferPointer) throws -> Void

        public init(name: String, dataType: DataType, shape: [Int],
                    fill: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) {
            self.name = name
            self.dataType = dataType
            self.shape = shape
            self.fill = fill
        }

        var byteCount: Int { shape.reduce(1, *) * dataType.size }
    }

    /// The file ``write(_:metadata:to:check:)`` writes first, beside `url`, in this process
    /// (so that a program can remove it when interrupted).
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).partial")
    }

    /// Writes `tensors` and `metadata` to `url` atomically (a temporary file in the same folder,
    /// renamed over `url` only once complete and, if given, accepted by `check`, so an existing
    /// file is replaced only by a good one). Tensors whose size is a multiple of the alignment
    /// come first, in the order given; the others follow, padded.
    public static func write(_ tensors: [PendingTensor], metadata: [String: String], to url: URL,
                             check: ((URL) throws -> Void)? = nil) throws {
        let aligned = tensors.filter { $0.byteCount % alignment == 0 }
        let unaligned = tensors.filter { $0.byteCount % alignment != 0 }
        var layout: [(tensor: PendingTensor?, name: String, dataType: DataType, shape: [Int], begin: Int, end: Int)] = []
        var offset = 0
        var paddingCount = 0
        for tensor in aligned + unaligned {
            if offset % alignment != 0 {
                let gap = alignment - offset % alignment
                layout.append((nil, "__padding_\(paddingCount)__", .uint8, [gap], offset, offset + gap))
                paddingCount += 1
                offset += gap
            }
            layout.append((tensor, tensor.name, tensor.dataType, tensor.shape, offset, offset + tensor.byteCount))
            offset += tensor.byteCount
        }

        var header: [String: Any] = ["__metadata__": metadata]
        for entry in layout {
            header[entry.name] = ["dtype": entry.dataType.rawValue, "shape": entry.shape,
                                  "data_offsets": [entry.begin, entry.end]] as [String: Any]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let unpadded = 8 + json.count
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (alignment - unpadded % alignment) % alignment))

        let temporary = temporaryURL(for: url)
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                                                           NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        close(descriptor)
        var completed = false
        defer { if !completed { try? FileManager.default.removeItem(at: temporary) } }
        let handle = try FileHandle(forWritingTo: temporary)
        defer { try? handle.close() }
        var length = UInt64(json.count).littleEndian
        try handle.write(contentsOf: Data(bytes: &length, count: 8))
        try handle.write(contentsOf: json)
        for entry in layout {
            let count = entry.end - entry.begin
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
            defer { buffer.deallocate() }
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            try entry.tensor?.fill(bytes)
            try handle.write(contentsOf: Data(bytesNoCopy: buffer.baseAddress!, count: count, deallocator: .none))
        }
        try handle.synchronize()
        try handle.close()
        try check?(temporary)
        // rename(2) replaces an existing file atomically: a reader sees the old file or the new
        // one, never neither (Foundation's replaceItemAt can remove the old file and then fail).
        guard rename(temporary.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                                                           NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        completed = true
    }
}

/// A safetensors file, memory-mapped: the tensors are read in place, never copied as a whole.
public struct SafetensorsFile: @unchecked Sendable {
    public let path: String
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    /// The tensors by name (padding tensors excluded).
    public let tensors: [String: Safetensors.Tensor]
    private let data: Data
    /// The mapped file, for readers in this module.
    var mappedData: Data { data }

    /// The size of the file in bytes.
    public var byteCount: Int { data.count }

    /// Maps and validates `path`: a header that parses, known dtypes, offsets inside the file
    /// that match each shape, and no two tensors overlapping.
    public init(path: String) throws(ModelError) {
        self.path = path
        data = try MappedTensors.map(path)
        guard data.count >= 8 else {
            throw .truncated(path: path, detail: "\(data.count) bytes, shorter than the 8-byte header length")
        }
        let declaredLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declaredLength >= 2, declaredLength <= UInt64(Safetensors.maximumHeaderBytes) else {
            throw .notAModel(path: path, detail: "header length \(declaredLength) is not a safetensors header")
        }
        let headerLength = Int(declaredLength)
        guard 8 + headerLength <= data.count else {
            throw .truncated(path: path, detail: "the header needs \(8 + headerLength) bytes, the file has \(data.count)")
        }
        let header: [String: HeaderEntry]
        do {
            header = try JSONDecoder().decode([String: HeaderEntry].self, from: data.subdata(in: 8..<(8 + headerLength)))
        } catch DecodingError.typeMismatch {
            throw .notAModel(path: path, detail: "the header is not a JSON object")
        } catch {
            throw .notAModel(path: path, detail: "the header is not JSON")
        }
        let dataStart = 8 + headerLength
        var metadata: [String: String] = [:]
        var tensors: [String: Safetensors.Tensor] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, entry) in header {
            let typeName: String, shape: [Int], offsets: [Int]
            switch entry {
            case .metadata(let strings):
                metadata = strings
                continue
            case .notMetadata:
                throw .notAModel(path: path, detail: "__metadata__ is not an object of strings")
            case .tensor(let type, let tensorShape, let tensorOffsets) where tensorOffsets.count == 2:
                (typeName, shape, offsets) = (type, tensorShape, tensorOffsets)
            case .tensor, .notTensor:
                throw .notAModel(path: path, detail: "tensor \(name) lacks dtype, shape or data_offsets")
            }
            guard let dataType = Safetensors.DataType(rawValue: typeName) else {
                throw .unsupported(path: path, detail: "tensor \(name) has dtype \(typeName)")
            }
            // Every size is checked before it is used: shapes and offsets are arbitrary
            // 64-bit numbers in the file, so sums and products of them can overflow.
            guard let byteCount = CheckedSize.bytes(shape, elementSize: dataType.size) else {
                throw .notAModel(path: path, detail: "tensor \(name) has shape \(shape)")
            }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == byteCount else {
                throw .notAModel(path: path, detail: "tensor \(name): offsets \(offsets) for shape \(shape)")
            }
            guard offsets[1] <= data.count - dataStart else {
                throw .truncated(path: path, detail: "tensor \(name) ends at byte \(offsets[1]) of the data, which has \(data.count - dataStart)")
            }
            let tensor = Safetensors.Tensor(dataType: dataType, shape: shape, offset: dataStart + offsets[0])
            if offsets[1] > offsets[0] { ranges.append((offsets[0], offsets[1], name)) }  // empty tensors overlap nothing
            if !name.hasPrefix("__padding_") { tensors[name] = tensor }
        }
        ranges.sort { $0.0 < $1.0 }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.0 < previous.1 {
            throw .notAModel(path: path, detail: "tensors \(previous.2) and \(next.2) overlap")
        }
        self.metadata = metadata
        self.tensors = tensors
    }

    /// Calls `body` with the bytes of tensor `name` in place (no copy).
    public func withBytes<Result>(of name: String, _ body: (UnsafeRawBufferPointer) -> Result) throws(ModelError) -> Result {
        guard let tensor = tensors[name] else { throw .badTensor(name: name, detail: "missing") }
        return data.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[tensor.offset..<(tensor.offset + tensor.byteCount)]))
        }
    }
}

/// One value of a safetensors header: the `__metadata__` object, or a tensor's record. Decoded
/// with `JSONDecoder` (faster than `JSONSerialization` on the megabytes of strings an int8
/// file's metadata carries); malformed entries decode as `notMetadata` or `notTensor` so
/// that the reader can say which entry is wrong.
private enum HeaderEntry: Decodable {
    case metadata([String: String])
    case notMetadata
    case tensor(dtype: String, shape: [Int], offsets: [Int])
    case notTensor

    private enum Key: String, CodingKey {
        case dtype, shape
        case offsets = "data_offsets"
    }

    init(from decoder: Decoder) throws {
        if decoder.codingPath.last?.stringValue == "__metadata__" {
            self = (try? decoder.singleValueContainer().decode([String: String].self)).map { .metadata($0) } ?? .notMetadata
            return
        }
        guard let record = try? decoder.container(keyedBy: Key.self),
              let dtype = try? record.decode(String.self, forKey: .dtype),
              let shape = try? record.decode([Int].self, forKey: .shape),
              let offsets = try? record.decode([Int].self, forKey: .offsets)
        else {
            self = .notTensor
            return
        }
        self = .tensor(dtype: dtype, shape: shape, offsets: offsets)
    }
}
