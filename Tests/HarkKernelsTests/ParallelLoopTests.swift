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

/// Pools of one's own (`hark_pool_create`), entered as the calling thread's current pool.
final class ComputePoolLoopTests: XCTestCase {
    override func tearDown() {
        hark_set_thread_count(0)
    }

    func testEnteringAPoolReturnsThePreviousOne() throws {
        hark_set_thread_count(1)
        let first = try XCTUnwrap(hark_pool_create(2)), second = try XCTUnwrap(hark_pool_create(3))
        defer { hark_pool_destroy(first); hark_pool_destroy(second) }
        XCTAssertNil(hark_pool_current())
        XCTAssertNil(hark_pool_enter(first))
        XCTAssertEqual(hark_thread_count(), 2)
        XCTAssertEqual(hark_pool_enter(second), first)
        XCTAssertEqual(hark_thread_count(), 3)
        XCTAssertEqual(hark_pool_enter(first), second)
        XCTAssertEqual(hark_pool_enter(nil), first)
        XCTAssertNil(hark_pool_current())
        XCTAssertEqual(hark_thread_count(), 1)
        XCTAssertEqual(hark_pool_threads(nil), 1)
        XCTAssertEqual(hark_pool_threads(second), 3)
    }

    func testThreadCounts() throws {
        for (asked, expected) in [(0, hark_automatic_thread_count()), (1, 1), (5, 5), (16, 16), (40, 16)] {
            let pool = try XCTUnwrap(hark_pool_create(asked))
            XCTAssertEqual(hark_pool_threads(pool), expected, "\(asked)")
            hark_pool_destroy(pool)
        }
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        XCTAssertEqual(hark_automatic_thread_count(), min(8, max(1, online)))
        hark_pool_destroy(nil)
    }

    /// Every iteration runs once on pools of any size, fresh or reused, with nested loops and
    /// after the workers fell asleep; the default pool's count does not matter inside.
    func testEveryIterationRunsOnceOnAPool() throws {
        hark_set_thread_count(1)
        for threads in [1, 2, 3, 8] {
            let pool = try XCTUnwrap(hark_pool_create(threads))
            let previous = hark_pool_enter(pool)
            for iterations in [0, 1, 2, 7, 1000] {
                for round in 0..<20 {
                    var counts = [Int](repeating: 0, count: iterations)
                    counts.withUnsafeMutableBufferPointer { counts in
                        let counts = UncheckedBuffer(base: counts.baseAddress)
                        ParallelLoop.run(iterations) { i in
                            XCTAssertEqual(hark_thread_count(), threads)
                            counts.base?[i] += 1
                        }
                    }
                    XCTAssertEqual(counts, [Int](repeating: 1, count: iterations), "\(threads) threads, \(iterations)")
                    if round == 0 { usleep(2_000) }
                }
            }
            var nested = [Int](repeating: 0, count: 8 * 50)
            nested.withUnsafeMutableBufferPointer { nested in
                let nested = UncheckedBuffer(base: nested.baseAddress)
                ParallelLoop.run(8) { outer in
                    ParallelLoop.run(50) { inner in nested.base?[outer * 50 + inner] += 1 }
                }
            }
            XCTAssertEqual(nested, [Int](repeating: 1, count: 400))
            hark_pool_enter(previous)
            hark_pool_destroy(pool)
        }
    }
}

/// Distinct iterations write distinct elements.
private struct UncheckedBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Int>?
}
