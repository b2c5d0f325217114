/// Part of a window's tokens that makes one segment, with its times in the recording.
struct SegmentPiece: Equatable {
    var start: Double
    var end: Double
    var tokens: [Int]
}

/// Cutting a window's tokens into segments by their timestamps, and where the next window
/// starts (faster-whisper's seeking).
enum WindowSeeking {
    /// A window's decoded `tokens` cut at each pair of consecutive timestamps, and the next
    /// window's first frame.
    ///
    /// - With consecutive timestamps, each piece runs from one pair to the next. When the
    ///   tokens end in a single timestamp (the last segment closed, nothing after it), the
    ///   rest is a piece too and the next window follows this one; otherwise the text after
    ///   the last pair is unfinished and the next window starts at that pair's timestamp.
    /// - Without (no timestamps, or a single segment), the whole window is one piece ending
    ///   at its last timestamp, if one was decoded after the first, and the next window
    ///   follows this one.
    static func split(_ tokens: [Int], window: WindowSpan, timestampBegin begin: Int) -> (pieces: [SegmentPiece], nextSeek: Int) {
        let timeOffset = window.start
        var pieces: [SegmentPiece] = []
        let singleTimestampEnding = tokens.count >= 2 && tokens[tokens.count - 2] < begin && tokens[tokens.count - 1] >= begin
        let consecutive = tokens.indices.dropFirst().filter { tokens[$0] >= begin && tokens[$0 - 1] >= begin }
        guard !consecutive.isEmpty else {
            var segmentEnd = window.duration
            if let lastTimestamp = tokens.last(where: { $0 >= begin }), lastTimestamp != begin {
                segmentEnd = Double(lastTimestamp - begin) * LongForm.secondsPerTimestamp
            }
            return ([SegmentPiece(start: timeOffset, end: timeOffset + segmentEnd, tokens: tokens)], window.end)
        }
        var slices = consecutive
        if singleTimestampEnding { slices.append(tokens.count) }
        var last = 0
        for current in slices {
            let piece = Array(tokens[last..<current])
            pieces.append(SegmentPiece(start: timeOffset + Double(piece[0] - begin) * LongForm.secondsPerTimestamp,
                                       end: timeOffset + Double(piece[piece.count - 1] - begin) * LongForm.secondsPerTimestamp,
                                       tokens: piece))
            last = current
        }
        if singleTimestampEnding { return (pieces, window.end) }
        return (pieces, window.seek + (tokens[last - 1] - begin) * LongForm.inputStride)
    }

    /// A segment's times within a recording of `duration` seconds: the end clamped to the
    /// recording's, and nil when nothing of the segment is left (it had no length, or it
    /// starts at or after the end: the window's padding, past the audio). Clamping first and
    /// filtering after is what keeps every subtitle cue of positive length.
    static func segmentTimes(start: Double, end: Double, duration: Double) -> (start: Double, end: Double)? {
        let clamped = min(end, duration)
        return clamped > start ? (start, clamped) : nil
    }
}
