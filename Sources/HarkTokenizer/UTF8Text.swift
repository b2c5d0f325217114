import Foundation

/// UTF-8 text as bytes, for the tokenizer's load (some 100 000 strings): strings from bytes that
/// must be valid, and byte equality, without the standard library's generic paths.
/// `String(validating:as:)` is not specialized for `UTF8` and looks up type metadata on every
/// call, a large part of the load; `elementsEqual` steps through a generic iterator.
enum UTF8Text {
    /// The string spelled by `bytes`, or nil if they are not valid UTF-8.
    static func string(validating bytes: UnsafeRawBufferPointer) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether two strings have the same UTF-8 bytes (`==` compares canonical equivalence,
    /// which normalizes the non-ASCII byte-level tokens).
    static func sameBytes(_ first: String, _ second: String) -> Bool {
        var first = first, second = second
        return first.withUTF8 { a in second.withUTF8 { b in sameBytes(a, b) } }
    }

    /// Byte equality by `memcmp`.
    static func sameBytes(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> Bool {
        guard first.count == second.count else { return false }
        guard let a = first.baseAddress, let b = second.baseAddress else { return true }  // both empty
        return memcmp(a, b, first.count) == 0
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
