/// The guards that skip a window or drop its text.
enum WindowGuards {
    /// Whisper invents text ("Thank you.") on silence: a window with no sound above the
    /// threshold is skipped without decoding.
    static func isSilent(loudness: Float, options: TranscriptionOptions) -> Bool {
        guard let threshold = options.silenceThreshold else { return false }
        return Double(loudness) < threshold
    }

    /// The model says no speech and is unsure of its text: the window is skipped.
    static func isNoSpeech(_ decoded: DecodedWindow, options: TranscriptionOptions) -> Bool {
        guard let threshold = options.noSpeechThreshold, decoded.result.noSpeechProbability > threshold else { return false }
        return !(options.logProbThreshold.map { decoded.averageLogProb > $0 } ?? false)
    }

    /// Even the last temperature looped: emit nothing rather than a repetition (and the next
    /// window starts without this text as a prompt).
    static func isRepetition(_ decoded: DecodedWindow, options: TranscriptionOptions) -> Bool {
        guard options.dropRepetitiveText, let threshold = options.compressionRatioThreshold else { return false }
        return decoded.compressionRatio > threshold
    }
}
