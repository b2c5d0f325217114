/// GPT-2's reversible map between bytes and printable Unicode scalars
/// (`bytes_to_unicode` in the original encoder; `ByteLevel` in HF tokenizers).
///
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map, in byte
/// order, to U+0100 and up, so a space (0x20) becomes `Ġ` (U+0120) and a newline `Ċ`.
enum ByteLevel {
    /// `scalarValue[byte]` is the scalar value that stands for `byte` in vocabulary strings.
    static let scalarValue: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte)
                || (0xA1...0xAC).contains(byte)
                || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a vocabulary scalar stands for, or nil if it is not a byte-level scalar.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        switch value {
        case 0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF:
            return UInt8(value)
        case 256..<(256 + 68):
            return inverse[Int(value - 256)]
        default:
            return nil
        }
    }

    /// Bytes for scalars U+0100..<U+0144, in order.
    private static let inverse: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 68)
        for byte in 0..<256 where scalarValue[byte] >= 256 {
            table[Int(scalarValue[byte] - 256)] = UInt8(byte)
        }
        return table
    }()

    /// The vocabulary string that stands for `bytes`.
    static func string<S: Sequence>(for bytes: S) -> String where S.Element == UInt8 {
        var result = String.UnicodeScalarView()
        for byte in bytes {
            if let scalar = Unicode.Scalar(scalarValue[Int(byte)]) {
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// Appends the bytes a vocabulary string stands for to `output`, as the HF `ByteLevel`
    /// decoder reads it: a string with any scalar outside the byte map is taken as its own
    /// UTF-8 bytes.
    static func appendBytes(for token: String, to output: inout [UInt8]) {
        let start = output.count
        for scalar in token.unicodeScalars {
            guard let byte = byte(for: scalar) else {
                output.removeSubrange(start...)
                output += token.utf8
                return
            }
            output.append(byte)
        }
    }
}
