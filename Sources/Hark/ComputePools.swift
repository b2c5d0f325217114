internal import HarkModel
internal import Synchronization

/// A transcriber's compute threads: a pool of `threads` threads for each call running at
/// once (one for the usual single caller), made when first needed and kept for the next call.
final class ComputePools: Sendable {
    let threads: Int
    private let idle: Mutex<[ComputePool]>

    /// Pools of `threads` threads; 0 or less: the online CPUs, at most 8.
    init(threads: Int) {
        let first = ComputePool(threads: threads)
        self.threads = first.threads
        idle = Mutex([first])
    }

    /// Runs `body` with a pool of its own as the calling thread's compute threads.
    func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let pool = idle.withLock { $0.popLast() } ?? ComputePool(threads: threads)
        defer { idle.withLock { $0.append(pool) } }
        return try pool.run(body)
    }
}
