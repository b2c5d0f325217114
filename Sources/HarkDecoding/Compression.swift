import CZlib

/// The ratio of a text's UTF-8 size to its zlib-compressed size (default level), as Whisper
/// uses it to spot repetition loops: a ratio above 2.4 means the text repeats itself.
public func compressionRatio(_ text: String) -> Double {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return 0 }
    var size = compressBound(uLong(bytes.count))
    var output = [UInt8](repeating: 0, count: Int(size))
    let status = output.withUnsafeMutableBufferPointer { out in
        bytes.withUnsafeBufferPointer { input in
            compress(out.baseAddress, &size, input.baseAddress, uLong(bytes.count))
        }
    }
    guard status == Z_OK, size > 0 else { return 0 }
    return Double(bytes.count) / Double(size)
}
