import ArgumentParser
import Hark
import HarkModel

/// The ranges numeric options must lie in, so that a typo or an absurd value is a usage error
/// (exit 2) before anything runs, never a crash or a memory bomb.
enum OptionBounds {
    /// Beam width and samples per window (the library's bounds).
    static let hypotheses = TranscriptionOptions.hypotheses
    /// Compute threads: the pool's size; 0 asks for the automatic count.
    static let threads = 0...ComputeThreads.maximum

    /// The thread count a `--threads` value sets, nil for the automatic one (0 or absent).
    static func explicitThreads(_ value: Int?) -> Int? { value.flatMap { $0 == 0 ? nil : $0 } }
    /// A sampling temperature (the library's bounds).
    static let temperature = TranscriptionOptions.temperatureRange

    /// Throws a usage error unless `value` lies in `range`.
    static func check(_ value: Int, in range: ClosedRange<Int>, option: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound) (got \(value))")
        }
    }

    /// Throws a usage error unless `value` is a finite number in `range` (of `unit`, when given).
    static func check(_ value: Double, in range: ClosedRange<Double>, option: String, unit: String? = nil) throws {
        guard value.isFinite, range.contains(value) else {
            let what = unit.map { "a number of \($0)" } ?? "a number"
            throw ValidationError("\(option) must be \(what) from \(range.lowerBound.formatted) to \(range.upperBound.formatted) (got \(value))")
        }
    }
}

private extension Double {
    /// `2` rather than `2.0`, for messages.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
