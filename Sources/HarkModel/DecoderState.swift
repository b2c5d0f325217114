// What the decoder keeps between steps of one window: the self-attention cache and the
// cross-attention keys and values, laid out for the attention kernels.

import CHarkKernels
import HarkKernels

/// What the decoder remembers about one window: the self-attention keys and values of the
/// tokens fed so far, per hypothesis, and the cross-attention keys and values of the audio.
///
/// The positions fed while there was a single hypothesis (the prompt) are moved into a
/// **shared prefix** (head-major) once fed, or when the hypotheses branch: every decoder step
/// reads the prefix once for all hypotheses, as it reads the audio's keys and values. Each
/// hypothesis owns the cache of its own later positions; reordering beams only moves
/// references, and a cache shared by two hypotheses after a reorder is copied (the positions it
/// holds) before one of them is extended.
public struct DecoderState: Sendable {
    /// The number of hypotheses decoded side by side.
    public var batch: Int { keys.count }
    /// The number of token positions fed so far, the shared prefix included.
    public internal(set) var length = 0
    let width: Int
    let heads: Int
    let capacity: Int
    let audioPositions: Int
    /// Positions held by the shared prefix.
    private(set) var prefixLength = 0
    private var prefix: [[Float]]               // per layer: [2·heads][prefixLength][headWidth], keys then values
    private var keys: [[CacheRows]]             // [hypothesis][layer]: its own positions, [position][width]
    private var values: [[CacheRows]]
    /// Per layer (`2 · audioPositions · width` floats each): `[2·heads][audioPositions][headWidth]`,
    /// keys then values. Every step reads them whole: they live in a ``LargeBlock``.
    private let crossKeyValues: LargeBlock<Float>

    init(batch: Int, width: Int, heads: Int, capacity: Int, layers: Int, crossKeyValues: LargeBlock<Float>,
         audioPositions: Int) {
        precondition(crossKeyValues.count == layers * 2 * audioPositions * width,
                     "DecoderState: \(crossKeyValues.count) cross keys and values for \(layers) layers")
        self.width = width
        self.heads = heads
        self.capacity = capacity
        self.audioPositions = audioPositions
        self.crossKeyValues = crossKeyValues
        prefix = Array(repeating: [], count: layers)
        keys = (0..<batch).map { _ in (0..<layers).map { _ in CacheRows(room: capacity * width) } }
        values = (0..<batch).map { _ in (0..<layers).map { _ in CacheRows(room: capacity * width) } }
    }

    /// Keeps hypothesis `parents[i]` as the new hypothesis `i` (beam search reordering); the
    /// batch size becomes `parents.count`. When a single hypothesis branches, what it was fed
    /// becomes the shared prefix.
    public mutating func reorder(_ parents: [Int]) {
        if parents.count > 1 { moveIntoPrefix() }
        keys = parents.map { keys[$0] }
        values = parents.map { values[$0] }
    }

    /// Appends the single hypothesis's own positions to the shared prefix (head-major) and
    /// leaves it an empty cache of its own.
    mutating func moveIntoPrefix() {
        guard batch == 1 && length > prefixLength else { return }
        let headWidth = width / heads, old = prefixLength, new = length
        for layer in prefix.indices {
            var blocks = [Float](repeating: 0, count: 2 * heads * new * headWidth)
            blocks.withUnsafeMutableBufferPointer { blocks in
                prefix[layer].withUnsafeBufferPointer { previous in
                    for block in 0..<(2 * heads) {
                        let to = blocks.start + block * new * headWidth
                        if old > 0 { to.update(from: previous.start + block * old * headWidth, count: old * headWidth) }
                        let own = block < heads ? keys[0][layer] : values[0][layer]
                        FloatKernels.gatherColumns(own.base + (block % heads) * headWidth, rows: new - old, stride: width,
                                                   width: headWidth, into: to + old * headWidth)
                    }
                }
            }
            prefix[layer] = blocks
            keys[0][layer] = CacheRows(room: (capacity - new) * width)
            values[0][layer] = CacheRows(room: (capacity - new) * width)
        }
        prefixLength = new
    }

    mutating func append(layer: Int, qkv: [Float], steps: Int) {
        let width = self.width, batch = self.batch
        qkv.withUnsafeBufferPointer { qkv in
            for b in 0..<batch {
                if !isKnownUniquelyReferenced(&keys[b][layer]) { keys[b][layer] = keys[b][layer].copy() }
                if !isKnownUniquelyReferenced(&values[b][layer]) { values[b][layer] = values[b][layer].copy() }
                for t in 0..<steps {
                    let row = qkv.start + (b * steps + t) * 3 * width
                    keys[b][layer].append(row + width, count: width)
                    values[b][layer].append(row + 2 * width, count: width)
                }
            }
        }
    }

    /// Up to this many query rows, attention reads the keys in place (``hark_attend_rows``)
    /// instead of calling BLAS, which would repack them on every call.
    static let fewRows = 32

    /// Self-attention rows with fewer multiply-adds than this run on the calling thread.
    static let parallelWork = 1 << 15

    func selfAttention(layer: Int, qkv: [Float], steps: Int) -> [Float] {
        let headWidth = width / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let width = self.width, length = self.length, heads = self.heads
        let rows = batch * steps, total = length + steps
        var output = [Float](repeating: 0, count: rows * width)
        if prefixLength == 0 && steps > Self.fewRows {
            // Many positions at once (the prompt): per hypothesis and head, through BLAS; the
            // heads are split over the compute threads.
            let valid = (0..<steps).map { length + $0 + 1 }
            let keys = self.keys.map { UnsafePointer($0[layer].base) }, values = self.values.map { UnsafePointer($0[layer].base) }
            let cache = OwnRows(keys: keys, values: values)
            qkv.withUnsafeBufferPointer { qkv in
                output.withUnsafeMutableBufferPointer { out in
                    valid.withUnsafeBufferPointer { valid in
                        guard let validBase = valid.baseAddress else { return }
                        let q = SendablePointer(qkv.start), o = SendableMutablePointer(out.start)
                        let lengths = SendablePointer(validBase)
                        ComputeThreads.forEachPiece(batch * heads, scratchCount: steps * total) { piece, scores in
                            let b = piece / heads, head = piece % heads
                            guard let k0 = cache.keys[b], let v0 = cache.values[b] else { return }
                            FloatKernels.gemmTransposedB(m: steps, n: total, k: headWidth, alpha: scale,
                                                         a: q.value + b * steps * 3 * width + head * headWidth, lda: 3 * width,
                                                         b: k0 + head * headWidth, ldb: width, c: scores, ldc: total)
                            hark_softmax_rows(scores, steps, total, total, lengths.value)
                            FloatKernels.gemm(m: steps, n: headWidth, k: total, a: scores, lda: total,
                                              b: v0 + head * headWidth, ldb: width,
                                              c: o.value + b * steps * width + head * headWidth, ldc: width)
                        }
                    }
                }
            }
            return output
        }
        // Position t of a hypothesis sees the shared prefix, then its own positions up to itself.
        let valid = (0..<rows).map { length + $0 % steps + 1 }
        let own = OwnRows(keys: (0..<rows).map { UnsafePointer(keys[$0 / steps][layer].base) },
                          values: (0..<rows).map { UnsafePointer(values[$0 / steps][layer].base) })
        let prefixLength = self.prefixLength
        qkv.withUnsafeBufferPointer { qkv in
            prefix[layer].withUnsafeBufferPointer { prefix in
                output.withUnsafeMutableBufferPointer { out in
                    let q = SendablePointer(qkv.start), p = SendablePointer(prefix.start), o = SendableMutablePointer(out.start)
                    let parallel = rows * total * width >= Self.parallelWork
                    ComputeThreads.forEachPiece(heads, scratchCount: rows * total, parallel: parallel) { head, scores in
                        let offset = head * headWidth
                        hark_attend_prefixed(q.value + offset, 3 * width, rows,
                                             p.value + head * prefixLength * headWidth,
                                             p.value + (heads + head) * prefixLength * headWidth, headWidth, prefixLength,
                                             own.keys, own.values, width, offset, valid, o.value + offset, width,
                                             headWidth, scale, scores)
                    }
                }
            }
        }
        return output
    }

    func crossAttention(layer: Int, query: [Float], rows: Int) -> [Float] {
        let headWidth = width / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let positions = audioPositions
        let width = self.width, heads = self.heads
        let few = rows <= Self.fewRows
        var output = [Float](repeating: 0, count: rows * width)
        // Every hypothesis attends to the same audio; the heads are split over the threads.
        let layerKeyValues = UnsafePointer(crossKeyValues.base + layer * 2 * positions * width)
        withExtendedLifetime(crossKeyValues) {
            query.withUnsafeBufferPointer { q in
                output.withUnsafeMutableBufferPointer { out in
                    let q = SendablePointer(q.start), kv = SendablePointer(layerKeyValues), out = SendableMutablePointer(out.start)
                    ComputeThreads.forEachPiece(heads, scratchCount: rows * positions) { head, scores in
                        let offset = head * headWidth
                        let keys = kv.value + head * positions * headWidth
                        let values = kv.value + (heads + head) * positions * headWidth
                        if few {
                            hark_attend_rows(q.value + offset, width, keys, headWidth, values, headWidth,
                                             out.value + offset, width, rows, positions, nil, headWidth, scale, scores)
                            return
                        }
                        FloatKernels.gemmTransposedB(m: rows, n: positions, k: headWidth, alpha: scale,
                                                     a: q.value + offset, lda: width, b: keys, ldb: headWidth,
                                                     c: scores, ldc: positions)
                        hark_softmax_rows(scores, rows, positions, positions, nil)
                        FloatKernels.gemm(m: rows, n: headWidth, k: positions, a: scores, lda: positions,
                                          b: values, ldb: headWidth, c: out.value + offset, ldc: width)
                    }
                }
            }
        }
        return output
    }
}

/// The cache rows (keys, values) of one layer that each query row sees as its own (a step's
/// rows), or those of each hypothesis (a prompt's), for the attention threads.
private struct OwnRows: @unchecked Sendable {
    let keys: [UnsafePointer<Float>?]
    let values: [UnsafePointer<Float>?]
}

/// The keys or the values of one layer for one hypothesis's own positions (`[position][width]`),
/// at a fixed address for the kernels. Shared by reference between hypotheses after a reorder;
/// ``DecoderState`` copies it before writing when it is not uniquely referenced.
final class CacheRows: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    /// Floats it has room for.
    let room: Int
    /// Floats written so far.
    private(set) var count = 0

    init(room: Int) {
        self.room = room
        base = .allocate(capacity: max(room, 1))
    }

    deinit { base.deallocate() }

    /// A copy of what it holds, with the same room.
    func copy() -> CacheRows {
        let copy = CacheRows(room: room)
        copy.base.update(from: base, count: count)
        copy.count = count
        return copy
    }

    func append(_ floats: UnsafePointer<Float>, count added: Int) {
        precondition(count + added <= room, "DecoderState: past the model's context")
        (base + count).update(from: floats, count: added)
        count += added
    }
}
