/// A stretch of speech: samples `start ..< end` of the recording (16 kHz).
public struct SpeechSegment: Sendable, Hashable {
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// The number of samples.
    public var count: Int { end - start }
}

/// How probabilities become speech segments: faster-whisper 1.2.1's `VadOptions`, with its
/// defaults.
public struct SpeechDetectionOptions: Sendable, Equatable {
    /// A chunk whose probability is at least this is speech.
    public var threshold: Double = 0.5
    /// Below this a chunk is silence; between the two it continues what came before. Nil:
    /// `max(threshold − 0.15, 0.01)`.
    public var negativeThreshold: Double?
    /// Speech shorter than this (after a silence ends it) is dropped.
    public var minSpeechDurationMs: Int = 0
    /// Longer speech is split: at the last silence of more than 98 ms if there was one, else
    /// just before this length. Infinity: never.
    public var maxSpeechDurationSeconds: Double = .infinity
    /// Silence must last this long to end a segment.
    public var minSilenceDurationMs: Int = 2000
    /// Each segment is widened by this much on both sides (half the gap where two would meet).
    public var speechPadMs: Int = 400

    public init(threshold: Double = 0.5, negativeThreshold: Double? = nil, minSpeechDurationMs: Int = 0,
                maxSpeechDurationSeconds: Double = .infinity, minSilenceDurationMs: Int = 2000, speechPadMs: Int = 400) {
        self.threshold = threshold
        self.negativeThreshold = negativeThreshold
        self.minSpeechDurationMs = minSpeechDurationMs
        self.maxSpeechDurationSeconds = maxSpeechDurationSeconds
        self.minSilenceDurationMs = minSilenceDurationMs
        self.speechPadMs = speechPadMs
    }
}

/// Speech segments from per-chunk speech probabilities, exactly as faster-whisper 1.2.1's
/// `get_speech_timestamps` makes them (faster_whisper/vad.py), so that the same probabilities
/// give the same boundaries to the sample:
///
/// - a chunk at or above `threshold` starts speech (at the chunk's first sample); once in
///   speech, a chunk below the negative threshold starts a possible end, which becomes the
///   segment's end when the silence reaches `minSilenceDurationMs` (a chunk at or above
///   `threshold` cancels it); segments not longer than `minSpeechDurationMs` are dropped;
/// - speech longer than `maxSpeechDurationSeconds` less one chunk and both paddings is cut at
///   the end of the last silence of more than 98 ms (the next segment starting where speech
///   resumed, if it did), or, without one, at the current chunk;
/// - speech still open at the end runs to the end of the recording;
/// - then the first segment starts `speechPadMs` earlier, and between two segments a gap under
///   twice the padding is split between them (floor of half to each), a wider one gives each
///   its full padding; the last ends `speechPadMs` later; all within the recording.
///
/// Its arithmetic is reproduced too: durations in samples as doubles (`16000 · ms / 1000`),
/// positions as integers, and the probabilities compared in single precision with the
/// thresholds rounded to single precision (NumPy 2 compares a float32 with a Python float so).
public enum SpeechSegments {
    /// The samples of one probability (faster-whisper's `window_size_samples`).
    public static let chunkSamples = SileroVAD.chunkSamples

    /// The segments of a recording of `sampleCount` samples whose chunks of 512 samples have
    /// the speech probabilities `probabilities`.
    public static func timestamps(probabilities: [Float], sampleCount: Int,
                                  options: SpeechDetectionOptions = SpeechDetectionOptions(),
                                  sampleRate: Int = SileroVAD.sampleRate) -> [SpeechSegment] {
        let rate = Double(sampleRate)
        let window = chunkSamples
        let minSpeechSamples = rate * Double(options.minSpeechDurationMs) / 1000
        let padSamples = rate * Double(options.speechPadMs) / 1000
        let maxSpeechSamples = rate * options.maxSpeechDurationSeconds - Double(window) - 2 * padSamples
        let minSilenceSamples = rate * Double(options.minSilenceDurationMs) / 1000
        let minSilenceSamplesAtMaxSpeech = rate * 98 / 1000
        let threshold = Float(options.threshold)
        let negativeThreshold = Float(options.negativeThreshold ?? max(options.threshold - 0.15, 0.01))

        var triggered = false
        var speeches: [SpeechSegment] = []
        // The open segment's start (faster-whisper's `current_speech` dictionary: nil when empty).
        var currentStart: Int?
        // A possible end (tolerating some silence), and, for the split of over-long speech,
        // the end of the last long enough silence and where speech resumed after it. Zero
        // means "none", as in the original (no real value can be 0).
        var temporaryEnd = 0, previousEnd = 0, nextStart = 0
        /// Forgets the marks of the segment just ended (or split).
        func clearMarks() { (previousEnd, nextStart, temporaryEnd) = (0, 0, 0) }
        /// Back to silence: no segment open, no marks.
        func closeSegment() {
            currentStart = nil
            triggered = false
            clearMarks()
        }

        for (index, probability) in probabilities.enumerated() {
            let position = window * index
            if probability >= threshold && temporaryEnd != 0 {
                temporaryEnd = 0
                if nextStart < previousEnd { nextStart = position }
            }
            if probability >= threshold && !triggered {
                triggered = true
                currentStart = position
                continue
            }
            if triggered, let start = currentStart, Double(position - start) > maxSpeechSamples {
                if previousEnd != 0 {
                    speeches.append(SpeechSegment(start: start, end: previousEnd))
                    // Still in silence since then: no segment is open; else the next one
                    // starts where speech resumed.
                    if nextStart < previousEnd {
                        closeSegment()
                    } else {
                        currentStart = nextStart
                        clearMarks()
                    }
                } else {
                    speeches.append(SpeechSegment(start: start, end: position))
                    closeSegment()
                    continue
                }
            }
            if probability < negativeThreshold && triggered {
                if temporaryEnd == 0 { temporaryEnd = position }
                if Double(position - temporaryEnd) > minSilenceSamplesAtMaxSpeech { previousEnd = temporaryEnd }
                if Double(position - temporaryEnd) < minSilenceSamples { continue }
                if let start = currentStart, Double(temporaryEnd - start) > minSpeechSamples {
                    speeches.append(SpeechSegment(start: start, end: temporaryEnd))
                }
                closeSegment()
                continue
            }
        }
        if let start = currentStart, Double(sampleCount - start) > minSpeechSamples {
            speeches.append(SpeechSegment(start: start, end: sampleCount))
        }

        // Padding, and splitting the gaps between segments.
        let length = Double(sampleCount)
        for index in speeches.indices {
            if index == 0 {
                speeches[index].start = Int(max(0, Double(speeches[index].start) - padSamples))
            }
            if index != speeches.count - 1 {
                let silence = speeches[index + 1].start - speeches[index].end
                if Double(silence) < 2 * padSamples {
                    let half = floorDivide(silence, 2)
                    speeches[index].end += half
                    speeches[index + 1].start = max(0, speeches[index + 1].start - half)
                } else {
                    speeches[index].end = Int(min(length, Double(speeches[index].end) + padSamples))
                    speeches[index + 1].start = Int(max(0, Double(speeches[index + 1].start) - padSamples))
                }
            } else {
                speeches[index].end = Int(min(length, Double(speeches[index].end) + padSamples))
            }
        }
        return speeches
    }

    /// The segments of a whole recording: its probabilities computed (from a fresh state) the
    /// way faster-whisper pads the audio, then ``timestamps(probabilities:sampleCount:options:sampleRate:)``.
    public static func detect(in samples: [Float], using detector: SileroVAD,
                              options: SpeechDetectionOptions = SpeechDetectionOptions()) -> [SpeechSegment] {
        timestamps(probabilities: detector.probabilities(of: samples, padding: .fasterWhisper),
                   sampleCount: samples.count, options: options)
    }

    /// Python's `//` on integers: the floor of the quotient, also for negative numbers.
    static func floorDivide(_ dividend: Int, _ divisor: Int) -> Int {
        let quotient = dividend / divisor
        return (dividend % divisor != 0 && (dividend < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
