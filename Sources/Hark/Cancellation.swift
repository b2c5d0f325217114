internal import Synchronization

/// A flag another thread (or a signal handler) raises to stop a transcription between
/// 30-second windows.
public final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    /// A flag not yet raised.
    public init() {}

    /// Asks the transcription to stop.
    public func cancel() { raised.store(true, ordering: .relaxed) }

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { raised.load(ordering: .relaxed) }
}
