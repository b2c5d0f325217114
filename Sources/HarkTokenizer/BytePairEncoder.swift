/// Byte-pair encoding of one pre-tokenized piece, on token ids.
///
/// Starts from one token per byte and repeatedly merges the adjacent pair with the
/// lowest merge rank (all its occurrences, left to right) until no pair can merge,
/// which is GPT-2's algorithm and gives the same ids as HF tokenizers' `BPE` model.
struct BytePairEncoder: Sendable {
    /// A merge: its rank (lower merges first) and the id of the merged token.
    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// The id of each byte's single-scalar token.
    private let byteTokens: [Int32]
    /// Merges keyed by `left << 32 | right`.
    private let merges: [UInt64: Merge]

    init(byteTokens: [Int32], merges: [UInt64: Merge]) {
        self.byteTokens = byteTokens
        self.merges = merges
    }

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids for `bytes` to `output`.
    func encode<C: Collection>(_ bytes: C, into output: inout [Int]) where C.Element == UInt8 {
        var symbols = bytes.map { byteTokens[Int($0)] }
        while symbols.count > 1 {
            var best: Merge?
            var bestLeft: Int32 = 0
            var bestRight: Int32 = 0
            for index in 0..<(symbols.count - 1) {
                if let merge = merges[Self.key(symbols[index], symbols[index + 1])],
                   merge.rank < (best?.rank ?? .max) {
                    best = merge
                    bestLeft = symbols[index]
                    bestRight = symbols[index + 1]
                }
            }
            guard let merge = best else { break }

            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count - 1)
            var index = 0
            while index < symbols.count {
                if index + 1 < symbols.count && symbols[index] == bestLeft && symbols[index + 1] == bestRight {
                    merged.append(merge.result)
                    index += 2
                } else {
                    merged.append(symbols[index])
                    index += 1
                }
            }
            symbols = merged
        }
        output.append(contentsOf: symbols.lazy.map { Int($0) })
    }
}
