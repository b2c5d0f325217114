import Foundation

/// The speech of a recording with everything else left out, and the way back: times in the
/// speech-only timeline (the segments' samples one after the other) mapped to the original
/// recording, as faster-whisper 1.2.1's `SpeechTimestampsMap` and `restore_speech_timestamps`
/// do it (faster_whisper/vad.py and transcribe.py), so that transcribing the speech alone
/// gives segment and word times on the recording's own timeline.
///
/// For segment i, `chunkEnds[i]` is where it ends in the speech-only timeline (in samples) and
/// `silenceBefore[i]` how much was left out before it (in seconds); a time t in the speech-only
/// timeline belongs to the first segment that ends after it (the last one for times beyond)
/// and maps to `t + silenceBefore[i]`, rounded to `timePrecision` decimals as Python's
/// `round` does.
public struct SpeechMap: Sendable, Equatable {
    /// The speech, in the recording's samples.
    public let segments: [SpeechSegment]
    public let sampleRate: Int
    /// Decimals of the times returned (faster-whisper: 2).
    public let timePrecision: Int
    /// Each segment's end in the speech-only timeline, in samples.
    public let chunkEnds: [Int]
    /// The seconds left out before each segment.
    public let silenceBefore: [Double]

    public init(segments: [SpeechSegment], sampleRate: Int = SileroVAD.sampleRate, timePrecision: Int = 2) {
        self.segments = segments
        self.sampleRate = sampleRate
        self.timePrecision = timePrecision
        var chunkEnds: [Int] = [], silenceBefore: [Double] = []
        var previousEnd = 0, silent = 0
        for segment in segments {
            silent += segment.start - previousEnd
            previousEnd = segment.end
            chunkEnds.append(segment.end - silent)
            silenceBefore.append(Double(silent) / Double(sampleRate))
        }
        self.chunkEnds = chunkEnds
        self.silenceBefore = silenceBefore
    }

    /// The samples of the speech-only timeline: the segments of `samples` one after the other
    /// (faster-whisper's `collect_chunks` without a maximum duration).
    public func collect(_ samples: [Float]) -> [Float] {
        var speech: [Float] = []
        speech.reserveCapacity(speechSampleCount)
        for segment in segments {
            let start = min(max(segment.start, 0), samples.count), end = min(max(segment.end, start), samples.count)
            speech.append(contentsOf: samples[start..<end])
        }
        return speech
    }

    /// The length of the speech-only timeline in samples.
    public var speechSampleCount: Int { segments.reduce(0) { $0 + max($1.end - $1.start, 0) } }

    /// The segment a time of the speech-only timeline belongs to: with `isEnd`, a time that
    /// falls exactly on a segment's end stays in that segment (an end is not the next
    /// segment's start). faster-whisper's `get_chunk_index`.
    public func chunkIndex(of time: Double, isEnd: Bool = false) -> Int {
        let sample = Int(time * Double(sampleRate))  // truncated toward zero, as Python's int()
        if isEnd, let index = chunkEnds.firstIndex(of: sample) { return index }
        // bisect_right: the first segment whose end is after the sample.
        var low = 0, high = chunkEnds.count
        while low < high {
            let middle = (low + high) / 2
            if sample < chunkEnds[middle] { high = middle } else { low = middle + 1 }
        }
        return min(low, chunkEnds.count - 1)
    }

    /// The recording's time of `time` in the speech-only timeline, in seconds (rounded to
    /// `timePrecision` decimals); `chunkIndex` forces the segment (for a word's two ends).
    /// Without segments, nothing was left out and the time is only rounded (faster-whisper
    /// would fail there).
    public func originalTime(_ time: Double, chunkIndex: Int? = nil, isEnd: Bool = false) -> Double {
        guard !segments.isEmpty else { return Self.round(time, decimals: timePrecision) }
        let index = chunkIndex ?? self.chunkIndex(of: time, isEnd: isEnd)
        return Self.round(silenceBefore[index] + time, decimals: timePrecision)
    }

    /// A transcript segment's start and end (without word times) on the recording's timeline,
    /// as `restore_speech_timestamps` maps them: the end as an end.
    public func originalSpan(start: Double, end: Double) -> (start: Double, end: Double) {
        (originalTime(start), originalTime(end, isEnd: true))
    }

    /// A word's start and end on the recording's timeline: both through the segment of the
    /// word's middle, so that a word never straddles left-out audio.
    public func originalWord(start: Double, end: Double) -> (start: Double, end: Double) {
        guard !segments.isEmpty else { return (originalTime(start), originalTime(end)) }
        let index = chunkIndex(of: (start + end) / 2)
        return (originalTime(start, chunkIndex: index), originalTime(end, chunkIndex: index))
    }

    /// Python's `round(x, decimals)`: the decimal nearest to x's exact binary value, halves to
    /// even (what printf's correctly rounded conversion gives, too).
    static func round(_ x: Double, decimals: Int) -> Double {
        guard x.isFinite else { return x }
        return Double(String(format: "%.\(decimals)f", x)) ?? x
    }
}
