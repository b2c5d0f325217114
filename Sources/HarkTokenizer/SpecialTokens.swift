/// The ids of the special tokens that steer Whisper's decoder.
///
/// English-only and multilingual models place them differently (the multilingual
/// vocabulary has one more text token, so every special id is one higher), so they
/// are always looked up by their strings in the model's vocabulary.
public struct SpecialTokens: Sendable, Equatable {
    /// `<|endoftext|>`: ends a transcript. Every id at or above it is not text.
    public var eot: Int
    /// `<|startoftranscript|>`: starts the decoder prompt.
    public var sot: Int
    /// `<|translate|>`: task token asking for an English translation.
    public var translate: Int
    /// `<|transcribe|>`: task token asking for a transcript in the spoken language.
    public var transcribe: Int
    /// `<|startoflm|>`: start of a language-model-only prompt.
    public var startOfLM: Int
    /// `<|startofprev|>`: precedes the previous text given as a prompt.
    public var startOfPrev: Int
    /// `<|nospeech|>` (called `<|nocaptions|>` in English-only vocabularies):
    /// its probability after `sot` is the no-speech probability.
    public var noSpeech: Int
    /// `<|notimestamps|>`: asks for text without timestamp tokens.
    public var noTimestamps: Int
    /// `<|0.00|>`: the first timestamp token; id `timestampBegin + n` is time `n * 0.02` s.
    public var timestampBegin: Int

    /// Creates a set of special token ids.
    public init(
        eot: Int, sot: Int, translate: Int, transcribe: Int, startOfLM: Int,
        startOfPrev: Int, noSpeech: Int, noTimestamps: Int, timestampBegin: Int
    ) {
        self.eot = eot
        self.sot = sot
        self.translate = translate
        self.transcribe = transcribe
        self.startOfLM = startOfLM
        self.startOfPrev = startOfPrev
        self.noSpeech = noSpeech
        self.noTimestamps = noTimestamps
        self.timestampBegin = timestampBegin
    }
}
