import Foundation

/// Transcription from Swift concurrency: the work runs on a thread of its own (it is long and
/// CPU-bound, so it never holds one of the cooperative pool's threads), and cancelling the
/// awaiting task stops it between 30-second windows, ending in `CancellationError` with
/// nothing partial returned as complete.
extension Transcriber {
    /// The whole transcript of a recording.
    /// - Parameters:
    ///   - input: The recording.
    ///   - options: How to transcribe it.
    ///   - progress: Called once at 0% when the duration is known, then after every 30-second
    ///     window, on the transcription's thread.
    /// - Throws: ``TranscriptionError``, or `CancellationError` when the task is cancelled.
    public func transcript(of input: AudioInput, options: TranscriptionOptions = TranscriptionOptions(),
                           progress: (@Sendable (TranscriptionProgress) -> Void)? = nil) async throws -> Transcript {
        try await runDetached { flag throws(TranscriptionError) in
            try self.transcribe(input, options: options, cancellation: flag, progress: progress)
        }
    }

    /// The segments of a recording, each window's as soon as it is decoded. The sequence ends
    /// after the last window; cancelling the consuming task, or dropping the sequence, stops
    /// the transcription within one window, and a cancelled task's iteration ends in
    /// `CancellationError`, never in an end that looks complete.
    public func segments(of input: AudioInput, options: TranscriptionOptions = TranscriptionOptions()) -> SegmentSequence {
        let flag = CancellationFlag()
        return SegmentSequence(base: AsyncThrowingStream { continuation in
            continuation.onTermination = { _ in flag.cancel() }
            Thread.detachNewThread {
                do throws(TranscriptionError) {
                    _ = try self.transcribe(input, options: options, cancellation: flag) { progress in
                        for segment in progress.newSegments { continuation.yield(segment) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.asyncError(error))
                }
            }
        })
    }

    /// The language spoken in the first 30 seconds of a recording (see ``detectLanguage(_:)``).
    public func detectLanguage(of input: AudioInput) async throws -> LanguageDetection {
        try await runDetached { _ throws(TranscriptionError) in try self.detectLanguage(input) }
    }

    /// Runs `work` on a thread of its own, its flag raised when the awaiting task is cancelled.
    private func runDetached<Value: Sendable>(
        _ work: @escaping @Sendable (CancellationFlag) throws(TranscriptionError) -> Value
    ) async throws -> Value {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, Error>) in
                Thread.detachNewThread {
                    do throws(TranscriptionError) {
                        continuation.resume(returning: try work(flag))
                    } catch {
                        continuation.resume(throwing: Self.asyncError(error))
                    }
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    /// A stopped transcription is Swift's `CancellationError`; other errors stay as they are.
    private static func asyncError(_ error: TranscriptionError) -> Error {
        if error.kind == .cancelled { return CancellationError() }
        return error
    }
}

/// The segments of one transcription, as ``Transcriber/segments(of:options:)`` decodes them.
public struct SegmentSequence: AsyncSequence, Sendable {
    /// Each element is a segment.
    public typealias Element = Segment
    let base: AsyncThrowingStream<Segment, Error>

    /// Iterates the segments.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Segment, Error>.AsyncIterator

        /// The next segment, or nil after the last.
        public mutating func next() async throws -> Segment? {
            guard let segment = try await base.next() else {
                // A stream ends quietly when its task is cancelled: say so instead.
                try Task.checkCancellation()
                return nil
            }
            return segment
        }
    }

    /// Makes an iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
