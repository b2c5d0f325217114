import Foundation

/// Transcription from Swift concurrency: the work runs on a thread of its own (it is long and
/// CPU-bound, so it never holds one of the cooperative pool's threads), and cancelling the
/// awaiting task stops it between 30-second windows, ending in `CancellationError` with
/// nothing partial returned as complete.
extension Transcriber {
    /// The whole transcript of the recording at `path`.
    public func transcript(of path: String, options: TranscriptionOptions = TranscriptionOptions()) async throws -> Transcript {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Transcript, Error>) in
                Thread.detachNewThread {
                    do throws(TranscriptionError) {
                        continuation.resume(returning: try self.transcribe(path: path, options: options, cancellation: flag))
                    } catch {
                        continuation.resume(throwing: Self.asyncError(error))
                    }
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    /// The segments of the recording at `path`, each window's as soon as it is decoded. The
    /// sequence ends after the last window; cancelling the consuming task, or dropping the
    /// sequence, stops the transcription within one window, and a cancelled task's iteration
    /// ends in `CancellationError`, never in an end that looks complete.
    public func segments(of path: String, options: TranscriptionOptions = TranscriptionOptions()) -> SegmentSequence {
        let flag = CancellationFlag()
        return SegmentSequence(base: AsyncThrowingStream { continuation in
            continuation.onTermination = { _ in flag.cancel() }
            Thread.detachNewThread {
                do throws(TranscriptionError) {
                    _ = try self.transcribe(path: path, options: options, cancellation: flag) { progress in
                        for segment in progress.newSegments { continuation.yield(segment) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.asyncError(error))
                }
            }
        })
    }

    /// A stopped transcription is Swift's `CancellationError`; other errors stay as they are.
    private static func asyncError(_ error: TranscriptionError) -> Error {
        if case .cancelled = error { return CancellationError() }
        return error
    }
}

/// The segments of one transcription, as ``Transcriber/segments(of:options:)`` decodes them.
public struct SegmentSequence: AsyncSequence, Sendable {
    public typealias Element = Segment
    let base: AsyncThrowingStream<Segment, Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Segment, Error>.AsyncIterator

        public mutating func next() async throws -> Segment? {
            guard let segment = try await base.next() else {
                // A stream ends quietly when its task is cancelled: say so instead.
                try Task.checkCancellation()
                return nil
            }
            return segment
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
