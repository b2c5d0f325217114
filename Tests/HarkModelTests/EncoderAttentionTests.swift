import CHarkKernels
import Foundation
import XCTest

@testable import HarkModel

/// The encoder's attention in pieces of 192 query rows, its scores added into the zeroed
/// scratch that each piece leaves zero again, gives, bit for bit, what one score product
/// (`beta` 0), softmax and value product over all the rows of a head gave.
final class EncoderAttentionTests: XCTestCase {
    /// One product per head over every row, as the encoder computed it before.
    private func reference(qkv: [Float], rows: Int, width d: Int, heads: Int) -> [Float] {
        let headWidth = d / heads
        let scale = 1 / Float(headWidth).squareRoot()
        var out = [Float](repeating: 0, count: rows * d)
        var scores = [Float](repeating: 0, count: rows * rows)
        qkv.withUnsafeBufferPointer { qkv in
            out.withUnsafeMutableBufferPointer { out in
                scores.withUnsafeMutableBufferPointer { scores in
                    for head in 0..<heads {
                        let q = qkv.start + head * headWidth, k = q + d, v = q + 2 * d
                        FloatKernels.gemmTransposedB(m: rows, n: rows, k: headWidth, alpha: scale, a: q, lda: 3 * d,
                                                     b: k, ldb: 3 * d, c: scores.start, ldc: rows)
                        hark_softmax_rows(scores.start, rows, rows, rows, nil)
                        FloatKernels.gemm(m: rows, n: headWidth, k: rows, a: scores.start, lda: rows,
                                          b: v, ldb: 3 * d, c: out.start + head * headWidth, ldc: d)
                    }
                }
            }
        }
        return out
    }

    func testPiecesOfRowsGiveTheWholeHeadsProducts() {
        // As every model load does: OpenBLAS on the calling thread (its own threads would
        // split the rows of the whole product at other places than 192-row blocks).
        ComputeThreads.keepBLASSingleThreaded()
        // Whisper's 1500 positions (tiny.en and base widths), and counts that are not
        // multiples of the block or of any kernel tile.
        // The first shape comes again last: it must find the zeroed scratch as zero as at first.
        for (rows, width, heads) in [(1500, 384, 6), (1500, 512, 8), (193, 128, 2), (37, 64, 1), (1500, 384, 6)] {
            let qkv = (0..<(rows * 3 * width)).map { sin(Float($0 % 7919) * 0.61 + Float($0 / 7919)) * 3 }
            let pieces = WhisperModel.encoderAttention(qkv: qkv, rows: rows, width: width, heads: heads)
            let whole = reference(qkv: qkv, rows: rows, width: width, heads: heads)
            // Whisper's shapes to the bit. Odd row counts leave a last block of a row or two,
            // which an OpenBLAS built for AVX-512 (SkylakeX) multiplies with other kernels than
            // the whole: there, to rounding.
            let exact = rows == 1500
            let differing = zip(pieces, whole).filter {
                exact ? $0.bitPattern != $1.bitPattern : abs($0 - $1) > 1e-5 * max(1, abs($1))
            }.count
            XCTAssertEqual(differing, 0, "\(rows) rows, width \(width), \(heads) heads")
        }
    }
}
