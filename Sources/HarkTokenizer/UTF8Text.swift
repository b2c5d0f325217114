/// Strings from UTF-8 bytes that must be valid, without the generic path of
/// `String(validating:as:)`: that initializer is not specialized for `UTF8` and looks up type
/// metadata on every call, which was a fifth of the tokenizer's load (some 100 000 strings).
enum UTF8Text {
    /// The string spelled by `bytes`, or nil if they are not valid UTF-8.
    static func string(validating bytes: UnsafeRawBufferPointer) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether two strings have the same UTF-8 bytes (`==` compares canonical equivalence,
    /// which normalizes the non-ASCII byte-level tokens; `utf8.elementsEqual` steps through a
    /// generic iterator).
    static func sameBytes(_ first: String, _ second: String) -> Bool {
        var first = first, second = second
        return first.withUTF8 { a in second.withUTF8 { b in TokenIndex.equal(a, b) } }
    }

    /// Whether `bytes` are well-formed UTF-8 (Unicode 15, table 3-7): no overlong forms,
    /// surrogates, code points above U+10FFFF or cut-off sequences.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // The number of continuation bytes, and the range of the first one.
            let continuations: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: continuations = 1
            case 0xE0: continuations = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
            case 0xED: continuations = 2; high = 0x9F
            case 0xF0: continuations = 3; low = 0x90
            case 0xF1...0xF3: continuations = 3
            case 0xF4: continuations = 3; high = 0x8F
            default: return false
            }
            guard count - index > continuations else { return false }
            let first = bytes[index + 1]
            guard first >= low && first <= high else { return false }
            var next = index + 2
            while next <= index + continuations {
                guard bytes[next] & 0xC0 == 0x80 else { return false }
                next += 1
            }
            index = next
        }
        return true
    }
}
