import CHarkKernels

/// Compute threads of one's own: a thread count and the worker threads that run the model's
/// parallel loops while ``run(_:)`` is in progress. Each transcriber (or any other user of a
/// model) can keep its own, so that two used at once from two threads each run at full
/// width, with the outputs each gives alone, instead of taking turns on the process's
/// default threads (``ComputeThreads/set(_:)``).
///
/// The workers start with the first parallel loop, spin briefly between jobs, and are
/// stopped and joined when the pool is deallocated. One thread at a time makes good use of a
/// pool: a loop started while another thread's loop runs on the same pool runs serially.
public final class ComputePool: Sendable {
    /// The threads each parallel loop runs on: the calling thread and `threads - 1` workers.
    public let threads: Int

    /// The C pool (`hark_pool`); set once, used from any thread through the C functions.
    nonisolated(unsafe) private let pool: OpaquePointer

    /// A pool of `threads` threads within 1...``ComputeThreads/maximum``; 0 or less means
    /// the online CPUs, at most 8. No thread starts until the first parallel loop.
    public init(threads: Int = 0) {
        let count = threads > 0 ? min(threads, ComputeThreads.maximum) : ComputeThreads.automatic
        guard let pool = hark_pool_create(count) else {
            fatalError("ComputePool: out of memory for a pool of \(count) threads")
        }
        self.pool = pool
        self.threads = hark_pool_threads(pool)
        ComputeThreads.keepBLASSingleThreaded()
    }

    deinit {
        hark_pool_destroy(pool)
    }

    /// Runs `body` with this pool as the calling thread's compute threads: the parallel loops
    /// it starts run on the pool's workers and ``ComputeThreads/count`` is ``threads``. The
    /// thread's previous pool is restored afterwards, so calls nest.
    public func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let previous = hark_pool_enter(pool)
        defer {
            hark_pool_enter(previous)
            withExtendedLifetime(self) {}   // the pool outlives its use as the current one
        }
        return try body()
    }
}
