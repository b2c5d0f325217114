import CHarkKernels
import Dispatch
import HarkKernels
import XCTest

/// The compute threads' loop: every iteration runs exactly once, whatever the thread count,
/// from nested calls and from several callers at once.
final class ParallelLoopTests: XCTestCase {
    override func tearDown() {
        hark_set_thread_count(0)   // back to the default
    }

    /// Counts how often each of `iterations` ran, through `ParallelLoop.run`.
    private func runCounts(_ iterations: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: iterations)
        counts.withUnsafeMutableBufferPointer { counts in
            let counts = UncheckedBuffer(base: counts.baseAddress)
            ParallelLoop.run(iterations) { i in counts.base?[i] += 1 }
        }
        return counts
    }

    func testEveryIterationRunsOnceForAnyThreadCount() {
        for threads in [1, 2, 3, 8] {
            hark_set_thread_count(threads)
            for iterations in [0, 1, 2, 7, 1000] {
                // Many jobs back to back: the workers go from spinning to the next job.
                for _ in 0..<50 {
                    XCTAssertEqual(runCounts(iterations), [Int](repeating: 1, count: iterations),
                                   "\(threads) threads, \(iterations) iterations")
                }
            }
        }
    }

    func testJobsAfterTheWorkersFellAsleep() {
        hark_set_thread_count(2)
        for _ in 0..<3 {
            XCTAssertEqual(runCounts(64), [Int](repeating: 1, count: 64))
            usleep(20_000)   // well past the spin: the worker sleeps and must be woken
        }
    }

    func testNestedLoopsRunEveryInnerIteration() {
        hark_set_thread_count(2)
        var counts = [Int](repeating: 0, count: 8 * 100)
        counts.withUnsafeMutableBufferPointer { counts in
            let counts = UncheckedBuffer(base: counts.baseAddress)
            ParallelLoop.run(8) { outer in
                ParallelLoop.run(100) { inner in counts.base?[outer * 100 + inner] += 1 }
            }
        }
        XCTAssertEqual(counts, [Int](repeating: 1, count: 800))
    }

    func testSeveralCallersAtOnce() {
        hark_set_thread_count(2)
        var counts = [Int](repeating: 0, count: 4 * 500)
        counts.withUnsafeMutableBufferPointer { counts in
            let counts = UncheckedBuffer(base: counts.baseAddress)
            DispatchQueue.concurrentPerform(iterations: 4) { caller in
                for _ in 0..<20 {
                    ParallelLoop.run(500) { i in counts.base?[caller * 500 + i] += 1 }
                }
            }
        }
        XCTAssertEqual(counts, [Int](repeating: 20, count: 2000))
    }
}

/// Distinct iterations write distinct elements.
private struct UncheckedBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Int>?
}
