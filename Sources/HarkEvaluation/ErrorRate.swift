/// The edits that turn a reference into a hypothesis: a minimum-cost (Levenshtein) alignment
/// with every substitution, deletion and insertion costing 1.
public struct EditCounts: Sendable, Equatable, Codable {
    /// Reference items aligned with an equal hypothesis item.
    public var hits = 0
    public var substitutions = 0
    /// Reference items the hypothesis lacks.
    public var deletions = 0
    /// Hypothesis items the reference lacks.
    public var insertions = 0

    public init(hits: Int = 0, substitutions: Int = 0, deletions: Int = 0, insertions: Int = 0) {
        self.hits = hits
        self.substitutions = substitutions
        self.deletions = deletions
        self.insertions = insertions
    }

    /// The edit distance.
    public var errors: Int { substitutions + deletions + insertions }
    /// The reference's length.
    public var referenceLength: Int { hits + substitutions + deletions }
    /// The hypothesis's length.
    public var hypothesisLength: Int { hits + substitutions + insertions }

    /// Errors per reference item (0 for an empty reference and hypothesis, infinity for an
    /// empty reference and a non-empty hypothesis).
    public var rate: Double {
        referenceLength > 0 ? Double(errors) / Double(referenceLength) : (errors == 0 ? 0 : .infinity)
    }

    public static func + (a: EditCounts, b: EditCounts) -> EditCounts {
        EditCounts(hits: a.hits + b.hits, substitutions: a.substitutions + b.substitutions,
                   deletions: a.deletions + b.deletions, insertions: a.insertions + b.insertions)
    }

    public static func += (a: inout EditCounts, b: EditCounts) { a = a + b }

    enum CodingKeys: String, CodingKey { case hits, substitutions, deletions, insertions }
}

/// One cell of the alignment table: the cost and the edits of the best path to it.
private struct AlignmentCell {
    var cost: Int32 = 0, hits: Int32 = 0, substitutions: Int32 = 0, deletions: Int32 = 0, insertions: Int32 = 0
}

/// Levenshtein alignment of two sequences.
public enum Alignment {
    /// The edit counts of a minimum-cost alignment of `hypothesis` against `reference`.
    ///
    /// The total is the edit distance; where several alignments have that cost, the split
    /// into substitutions, deletions and insertions is decided by preferring, at each cell, a
    /// match or substitution, then a deletion, then an insertion (other tools such as jiwer
    /// may break such ties differently; the total never differs). Time O(n·m), memory O(m).
    public static func counts<T: Equatable>(reference: [T], hypothesis: [T]) -> EditCounts {
        let m = hypothesis.count
        var previous = [AlignmentCell](repeating: AlignmentCell(), count: m + 1)
        for j in 0...m { previous[j] = AlignmentCell(cost: Int32(j), insertions: Int32(j)) }
        var current = previous
        for r in reference {
            current[0] = AlignmentCell(cost: previous[0].cost + 1, deletions: previous[0].deletions + 1)
            for j in stride(from: 1, through: m, by: 1) {
                let same = r == hypothesis[j - 1]
                var best = previous[j - 1]
                best.cost += same ? 0 : 1
                if same { best.hits += 1 } else { best.substitutions += 1 }
                if previous[j].cost + 1 < best.cost {
                    best = previous[j]
                    best.cost += 1
                    best.deletions += 1
                }
                if current[j - 1].cost + 1 < best.cost {
                    best = current[j - 1]
                    best.cost += 1
                    best.insertions += 1
                }
                current[j] = best
            }
            swap(&previous, &current)
        }
        let last = previous[m]
        return EditCounts(hits: Int(last.hits), substitutions: Int(last.substitutions),
                          deletions: Int(last.deletions), insertions: Int(last.insertions))
    }
}

/// Word and character error rates of normalised text.
public enum ErrorRate {
    /// Word-level edits between a reference and a hypothesis, both normalised by `normalizer`.
    public static func wordEdits(reference: String, hypothesis: String,
                                 normalizer: any TextNormalizer = EnglishTextNormalizer()) -> EditCounts {
        Alignment.counts(reference: normalizer.words(reference), hypothesis: normalizer.words(hypothesis))
    }

    /// Character-level edits of the normalised texts, words joined by single spaces (spaces
    /// count as characters, as in jiwer's CER); characters are grapheme clusters.
    public static func characterEdits(reference: String, hypothesis: String,
                                      normalizer: any TextNormalizer = EnglishTextNormalizer()) -> EditCounts {
        Alignment.counts(reference: characters(normalizer.words(reference)),
                         hypothesis: characters(normalizer.words(hypothesis)))
    }

    /// The characters scored by CER: the words joined by single spaces.
    public static func characters(_ words: [String]) -> [Character] {
        Array(words.joined(separator: " "))
    }

    /// Corpus-level rate: total edits over total reference length (not the mean of the
    /// per-utterance rates).
    public static func corpusRate(_ counts: [EditCounts]) -> Double {
        counts.reduce(EditCounts(), +).rate
    }
}
