/// Token ids by the UTF-8 bytes of their vocabulary strings: an open-addressing hash table over
/// one byte buffer.
///
/// It hashes raw bytes. A `[String: Int]` normalizes every non-ASCII string (most byte-level
/// tokens, such as `Ġthe`) before hashing it, which made up most of the tokenizer's load time,
/// and that time is paid by the cold start of every voice-note transcription.
struct TokenIndex: Sendable {
    /// The bytes of token `id` are `bytes[offsets[id]..<offsets[id + 1]]`.
    private let bytes: [UInt8]
    private let offsets: [Int32]
    /// `id + 1` of the token in each slot; 0 marks an empty slot.
    private let slots: [Int32]

    /// Indexes `tokens` by their position in the list; of equal strings the first wins.
    init(_ tokens: [String]) {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        bytes.reserveCapacity(tokens.count * 8)
        offsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            bytes += token.utf8
            offsets.append(Int32(bytes.count))
        }
        var capacity = 16
        while capacity < 2 * tokens.count { capacity *= 2 }
        var slots = [Int32](repeating: 0, count: capacity)
        bytes.withUnsafeBufferPointer { bytes in
            for id in tokens.indices {
                let key = UnsafeBufferPointer(rebasing: bytes[Int(offsets[id])..<Int(offsets[id + 1])])
                var slot = Self.hash(key) & (capacity - 1)
                while true {
                    let occupant = Int(slots[slot]) - 1
                    if occupant < 0 {
                        slots[slot] = Int32(id + 1)
                        break
                    }
                    let other = UnsafeBufferPointer(rebasing: bytes[Int(offsets[occupant])..<Int(offsets[occupant + 1])])
                    if UTF8Text.sameBytes(other, key) { break }
                    slot = (slot + 1) & (capacity - 1)
                }
            }
        }
        self.bytes = bytes
        self.offsets = offsets
        self.slots = slots
    }

    /// The id of the token spelled `token`, or nil.
    func id(of token: String) -> Int? {
        if let id = token.utf8.withContiguousStorageIfAvailable({ id(of: $0) }) { return id }
        return Array(token.utf8).withUnsafeBufferPointer { id(of: $0) }
    }

    /// The id of the token whose UTF-8 bytes are `key`, or nil.
    func id(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        withLookup { $0.id(of: key) }
    }

    /// Calls `body` with a view of the table for a loop of look-ups (the tokenizer's 150 000
    /// merge parts): its pointers need no reference counting per look-up.
    func withLookup<Value, Failure: Error>(_ body: (Lookup) throws(Failure) -> Value) throws(Failure) -> Value {
        let result: Result<Value, Failure> = bytes.withUnsafeBufferPointer { bytes in
            offsets.withUnsafeBufferPointer { offsets in
                slots.withUnsafeBufferPointer { slots in
                    Result { () throws(Failure) in try body(Lookup(bytes: bytes, offsets: offsets, slots: slots)) }
                }
            }
        }
        return try result.get()
    }

    /// The table's arrays, valid during ``withLookup(_:)``.
    struct Lookup {
        fileprivate let bytes: UnsafeBufferPointer<UInt8>
        fileprivate let offsets: UnsafeBufferPointer<Int32>
        fileprivate let slots: UnsafeBufferPointer<Int32>

        /// The id of the token whose UTF-8 bytes are `key`, or nil.
        func id(of key: UnsafeBufferPointer<UInt8>) -> Int? {
            let mask = slots.count - 1
            var slot = TokenIndex.hash(key) & mask
            while true {
                let id = Int(slots[slot]) - 1
                if id < 0 { return nil }
                if UTF8Text.sameBytes(UnsafeBufferPointer(rebasing: bytes[Int(offsets[id])..<Int(offsets[id + 1])]), key) {
                    return id
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// 64-bit FNV-1a, folded: the table's keys are short and come from a trusted file.
    fileprivate static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}
