/// Splits text into the pieces GPT-2's byte-level BPE encodes one at a time.
///
/// A hand-written scanner over Unicode scalars that matches the pattern used by
/// GPT-2, Whisper and HF `ByteLevel` pre-tokenization exactly:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// The alternatives are tried in order at each position, as a backtracking regex
/// engine does; `\s` is the Unicode White_Space property (the same set Oniguruma uses).
enum PreTokenizer {
    /// The character classes the pattern distinguishes.
    enum Kind: UInt8 {
        case letter, number, whitespace, other
    }

    /// Ranges of `scalars`, in order and covering all of it, one per piece.
    static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let kinds = scalars.map(kind(of:))
        let count = scalars.count
        var pieces: [Range<Int>] = []
        var start = 0
        while start < count {
            let end = pieceEnd(from: start, scalars: scalars, kinds: kinds)
            pieces.append(start..<end)
            start = end
        }
        return pieces
    }

    /// Where the piece starting at `start` ends (exclusive); always greater than `start`.
    private static func pieceEnd(from start: Int, scalars: [Unicode.Scalar], kinds: [Kind]) -> Int {
        let count = scalars.count

        // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive).
        if scalars[start] == "'" && start + 1 < count {
            switch scalars[start + 1] {
            case "s", "t", "m", "d":
                return start + 2
            case "r", "v":
                if start + 2 < count && scalars[start + 2] == "e" { return start + 3 }
            case "l":
                if start + 2 < count && scalars[start + 2] == "l" { return start + 3 }
            default:
                break
            }
        }

        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional plain space, then a run of one kind.
        var runStart = start
        if scalars[start] == " " && start + 1 < count && kinds[start + 1] != .whitespace {
            runStart = start + 1
        }
        let runKind = kinds[runStart]
        if runKind != .whitespace {
            var end = runStart + 1
            while end < count && kinds[end] == runKind { end += 1 }
            return end
        }

        // `\s+(?!\S)` then `\s+`: a whitespace run, leaving its last scalar to the
        // next piece when a non-space follows and the run is longer than one.
        var end = start + 1
        while end < count && kinds[end] == .whitespace { end += 1 }
        if end < count && end - start > 1 {
            return end - 1
        }
        return end
    }

    /// The class of `scalar` in the pattern: `\p{L}`, `\p{N}`, `\s` or anything else.
    static func kind(of scalar: Unicode.Scalar) -> Kind {
        let value = scalar.value
        if value < 0x80 {
            return asciiKinds[Int(value)]
        }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    private static let asciiKinds: [Kind] = (0..<128).map { value -> Kind in
        switch value {
        case 0x09...0x0D, 0x20: return .whitespace
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return .other
        }
    }
}
