// The compute threads' parallel loop, over the C pool of spinning workers.

import CHarkKernels

/// Runs the iterations of a loop on the compute threads (``hark_parallel_for``): the calling
/// thread and up to `hark_thread_count() - 1` workers of its current pool (`hark_pool_enter`,
/// else the default pool) that spin briefly between jobs, so that the short parallel steps of
/// the decoder do not pay for waking a thread each time.
public enum ParallelLoop {
    /// Runs `body(i)` for every `i` in `0..<iterations`, in any order and at the same time on
    /// several threads, and returns when all have run. A call made from inside `body`, or
    /// while another thread's loop runs on the same pool, runs its iterations serially on the
    /// calling thread.
    public static func run(_ iterations: Int, _ body: (Int) -> Void) {
        guard iterations > 1 else {
            if iterations == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var closure = body
            withUnsafeMutablePointer(to: &closure) { pointer in
                hark_parallel_for(iterations, { context, index in
                    context?.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, pointer)
            }
        }
    }
}

/// A pointer handed to the threads of one parallel loop, where each thread reads shared input.
public struct SendablePointer<Pointee>: @unchecked Sendable {
    public let value: UnsafePointer<Pointee>
    public init(_ value: UnsafePointer<Pointee>) { self.value = value }
}

/// A pointer handed to the threads of one parallel loop, where each thread writes its own part
/// of the output.
public struct SendableMutablePointer<Pointee>: @unchecked Sendable {
    public let value: UnsafeMutablePointer<Pointee>
    public init(_ value: UnsafeMutablePointer<Pointee>) { self.value = value }
}
