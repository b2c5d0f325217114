import Foundation
import HarkTokenizer

/// A window's pieces made segments: their text, their times inside the recording, their
/// ids, and the window's decoding figures.
enum SegmentAssembly {
    /// The segments of `pieces`, numbered from `firstID`; a piece with no time left inside
    /// the recording or no text (only timestamps, or blanks) makes none.
    static func segments(_ pieces: [SegmentPiece], window: WindowSpan, decoded: DecodedWindow, duration: Double,
                         firstID: Int, tokenizer: Tokenizer) -> [Segment] {
        var segments: [Segment] = []
        for piece in pieces {
            let text = tokenizer.decode(piece.tokens)
            guard let times = WindowSeeking.segmentTimes(start: piece.start, end: piece.end, duration: duration),
                  !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            segments.append(Segment(id: firstID + segments.count, seek: window.seek, start: times.start,
                                    end: times.end, text: text, tokens: piece.tokens, temperature: decoded.temperature,
                                    avgLogprob: decoded.averageLogProb, compressionRatio: decoded.compressionRatio,
                                    noSpeechProb: decoded.result.noSpeechProbability))
        }
        return segments
    }
}
