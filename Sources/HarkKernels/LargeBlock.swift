// Memory for the large operands of the model that every step reads whole.

import CHarkKernels

/// Zero-filled memory for a large operand that is read whole again and again: weights, a
/// window's cross-attention keys and values. It comes from mappings aligned to 2 MiB and
/// advised for transparent huge pages (`hark_large_alloc`), so that streaming it costs one TLB
/// entry per 2 MiB rather than per 4 KiB; small blocks share 32 MiB chunks. Freed when the
/// last reference goes.
///
/// The block is filled once by whoever allocates it and only read after it is shared between
/// threads, which is what makes it `Sendable`.
public final class LargeBlock<Element: BitwiseCopyable>: @unchecked Sendable {
    /// The first element (a valid address even when `count` is 0).
    public let base: UnsafeMutablePointer<Element>
    /// The number of elements.
    public let count: Int
    private let owner: UnsafeMutableRawPointer?

    /// `count` zeroed elements.
    public init(count: Int) {
        precondition(count >= 0, "LargeBlock: negative count")
        var owner: UnsafeMutableRawPointer?
        let bytes = max(1, count) * MemoryLayout<Element>.stride
        guard let memory = hark_large_alloc(bytes, &owner) else {
            fatalError("LargeBlock: out of memory for \(bytes) bytes")
        }
        self.base = memory.bindMemory(to: Element.self, capacity: max(1, count))
        self.count = count
        self.owner = owner
    }

    deinit { hark_large_release(owner) }

    /// The elements, read-only.
    public var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }
}
