import CHarkKernels
import Foundation
import HarkFeatures
import HarkKernels
import HarkTestSupport
import XCTest

@testable import HarkModel

/// Compute pools: each has its own thread count and workers, so that two used at once from
/// two threads both run at full width and give the outputs each gives alone.
final class ComputePoolTests: XCTestCase {
    override func tearDown() {
        hark_set_thread_count(0)   // the default pool back to automatic
    }

    func testThreadCountsAreClampedAndAutomatic() {
        XCTAssertEqual(ComputePool(threads: 3).threads, 3)
        XCTAssertEqual(ComputePool(threads: 1).threads, 1)
        XCTAssertEqual(ComputePool(threads: 100).threads, ComputeThreads.maximum)
        let automatic = min(8, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        XCTAssertEqual(ComputeThreads.automatic, automatic)
        XCTAssertEqual(ComputePool(threads: 0).threads, automatic)
        XCTAssertEqual(ComputePool(threads: -2).threads, automatic)
    }

    /// Inside `run` the count is the pool's, on the calling thread and on the pool's workers;
    /// outside it is the default pool's, which `ComputeThreads.set` still sets.
    func testCountInsideRunIsThePoolsAndOutsideTheDefault() {
        ComputeThreads.set(3)
        let pool = ComputePool(threads: 2)
        XCTAssertEqual(ComputeThreads.count, 3)
        let seen = Recorder()
        pool.run {
            XCTAssertEqual(ComputeThreads.count, 2)
            ComputeThreads.forEach(40) { _ in
                seen.record(count: ComputeThreads.count)
                usleep(500)
            }
        }
        XCTAssertEqual(Set(seen.counts), [2])
        XCTAssertGreaterThan(seen.threads.count, 1, "the pool's worker ran iterations")
        XCTAssertEqual(ComputeThreads.count, 3)
        ComputeThreads.set(1)
        pool.run { XCTAssertEqual(ComputeThreads.count, 2) }
        XCTAssertEqual(ComputeThreads.count, 1)
    }

    /// Nested runs restore the pool around them, also when the inner body throws.
    func testNestedRunsRestoreThePreviousPool() {
        ComputeThreads.set(1)
        let outer = ComputePool(threads: 2), inner = ComputePool(threads: 3)
        struct Failure: Error {}
        let result = outer.run { () -> Int in
            XCTAssertEqual(ComputeThreads.count, 2)
            inner.run {
                XCTAssertEqual(ComputeThreads.count, 3)
                outer.run { XCTAssertEqual(ComputeThreads.count, 2) }
                XCTAssertEqual(ComputeThreads.count, 3)
            }
            XCTAssertEqual(ComputeThreads.count, 2)
            do {
                try inner.run { () throws(Failure) in throw Failure() }
                XCTFail("no error")
            } catch {}
            XCTAssertEqual(ComputeThreads.count, 2)
            return 7
        }
        XCTAssertEqual(result, 7)
        XCTAssertEqual(ComputeThreads.count, 1)
    }

    /// Two pools used at once from two threads: each loop runs on more than one thread, its
    /// pool's own (the pools share no thread), with its pool's count, while the other loop is
    /// running. A single process-wide pool would run one of the two loops serially.
    func testTwoPoolsRunAtOnceEachOnItsOwnThreads() {
        let pools = [ComputePool(threads: 2), ComputePool(threads: 3)]
        let recorders = [Recorder(), Recorder()]
        let running = [Flag(), Flag()]
        let start = Rendezvous(parties: 2)
        concurrently(2) { side in
            let other = 1 - side
            pools[side].run {
                start.arrive()
                running[side].set(true)
                ComputeThreads.forEach(60) { _ in
                    recorders[side].record(count: ComputeThreads.count, otherRunning: running[other].value)
                    usleep(1_000)
                }
                running[side].set(false)
            }
        }
        for side in 0..<2 {
            let threads = recorders[side].threads
            XCTAssertGreaterThan(threads.count, 1, "pool \(side): its loop ran on one thread")
            XCTAssertLessThanOrEqual(threads.count, pools[side].threads, "pool \(side)")
            XCTAssertEqual(Set(recorders[side].counts), [pools[side].threads], "pool \(side)")
            XCTAssertTrue(recorders[side].sawOtherRunning, "pool \(side): the loops did not overlap")
        }
        XCTAssertTrue(recorders[0].threads.isDisjoint(with: recorders[1].threads), "the pools shared a thread")
    }

    /// Threads that find their pool busy with another thread's loop run their own serially:
    /// every iteration of each still runs exactly once.
    func testOnePoolUsedFromTwoThreadsRunsEveryIteration() {
        let pool = ComputePool(threads: 2)
        let counts = Counts(4 * 500)
        concurrently(4) { caller in
            pool.run {
                for _ in 0..<20 {
                    ComputeThreads.forEach(500) { i in counts.add(caller * 500 + i) }
                }
            }
        }
        XCTAssertEqual(counts.values, [Int](repeating: 20, count: 2000))
    }

    /// Deallocated pools stop and join their workers: the process has as many compute threads
    /// (named hark-compute in /proc/self/task) as before, and none of theirs is left.
    func testDeallocatedPoolsLeaveNoThreads() throws {
        let before = try computeThreads()
        let workers = Recorder()
        do {
            let pools = (0..<4).map { _ in ComputePool(threads: 4) }
            for pool in pools {
                pool.run { ComputeThreads.forEach(64) { _ in workers.recordTask(); usleep(500) } }
            }
            XCTAssertEqual(try computeThreads().count, before.count + 4 * 3, "the pools' workers started")
            XCTAssertGreaterThan(workers.tasks.count, 4, "the pools' workers ran iterations")
            withExtendedLifetime(pools) {}
        }
        XCTAssertEqual(try computeThreads(), before, "compute threads left after the pools were deallocated")
        let left = try Set(FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"))
        XCTAssertEqual(workers.tasks.subtracting([Self.callerTask()]).intersection(left), [], "workers still running")
        // A pool deallocated without ever running a loop, and one of a single thread.
        _ = ComputePool(threads: 4)
        ComputePool(threads: 1).run { ComputeThreads.forEach(8) { _ in } }
        XCTAssertEqual(try computeThreads(), before)
    }

    /// The calling thread's id, as /proc/self/task lists it.
    fileprivate static func callerTask() -> String {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return link.split(separator: "/").last.map(String.init) ?? ""
    }

    /// Two tiny.en models, each in its own 2-thread pool on its own thread, encode two real
    /// recordings' windows and decode from them at the same time: the encoder outputs and
    /// every step's logits are bit for bit those of running each alone.
    func testTwoModelsAtOnceGiveTheOutputsEachGivesAlone() throws {
        let directory = try TestSupport.modelDirectory("tiny.en")
        let windows = try ["voice-note-16k.wav", "dentist-22k.ogg"].map { name in
            var features = try StreamedFeatures(path: TestSupport.sample(name))
            return try features.window(startingAt: 0, frames: MelSpectrogram.windowFrames)
        }
        for computeType in [ComputeType.int8, .float32] {
            let models = try (0..<2).map { _ in try WhisperModel(directory: directory, computeType: computeType) }
            let pools = [ComputePool(threads: 2), ComputePool(threads: 2)]
            let alone = (0..<2).map { side in pools[side].run { transcribe(models[side], windows[side]) } }
            let together = [Slot(), Slot()]
            let start = Rendezvous(parties: 2)
            concurrently(2) { side in
                pools[side].run {
                    start.arrive()
                    let began = Date()
                    let outputs = transcribe(models[side], windows[side])
                    together[side].store(outputs, from: began, to: Date())
                }
            }
            for side in 0..<2 {
                let outputs = together[side].outputs
                XCTAssertEqual(outputs.tokens, alone[side].tokens, "\(computeType) model \(side): tokens")
                XCTAssertTrue(outputs.encoded.elementsEqual(alone[side].encoded) { $0.bitPattern == $1.bitPattern },
                              "\(computeType) model \(side): encoder output")
                XCTAssertTrue(outputs.logits.elementsEqual(alone[side].logits) { $0.bitPattern == $1.bitPattern },
                              "\(computeType) model \(side): logits")
            }
            XCTAssertNotEqual(alone[0].tokens, alone[1].tokens, "the two windows decode differently")
            XCTAssertLessThan(together[0].began, together[1].ended, "\(computeType): the two did not overlap")
            XCTAssertLessThan(together[1].began, together[0].ended, "\(computeType): the two did not overlap")
        }
    }
}

/// What one model computes from a window: its encoding, then a greedy decode of 24 tokens
/// from <|startoftranscript|><|notimestamps|> with every step's logits.
private struct Outputs: Sendable {
    var encoded: [Float] = []
    var tokens: [Int] = []
    var logits: [Float] = []
}

private func transcribe(_ model: WhisperModel, _ window: [Float]) -> Outputs {
    var outputs = Outputs()
    outputs.encoded = model.encode(window)
    var state = model.makeDecoderState(encoderOutput: outputs.encoded, batch: 1)
    var next = [50257, 50362]
    for _ in 0..<24 {
        let logits = model.decode([next], state: &state)
        outputs.logits += logits
        let best = logits.indices.max { logits[$0] < logits[$1] } ?? 0
        outputs.tokens.append(best)
        next = [best]
    }
    return outputs
}

/// Runs `body(0..<parties)` on as many new threads at once and waits for all of them.
private func concurrently(_ parties: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for party in 0..<parties {
        group.enter()
        Thread {
            body(party)
            group.leave()
        }.start()
    }
    group.wait()
}

/// The threads that ran a loop's iterations, the thread counts they saw, and whether any saw
/// the other loop running.
private final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var threads = Set<UInt>()
    private(set) var counts: [Int] = []
    private(set) var sawOtherRunning = false
    private(set) var tasks = Set<String>()

    func record(count: Int, otherRunning: Bool = false) {
        lock.withLock {
            threads.insert(UInt(pthread_self()))
            counts.append(count)
            sawOtherRunning = sawOtherRunning || otherRunning
        }
    }

    /// Records the running thread's id in /proc/self/task.
    func recordTask() {
        let task = ComputePoolTests.callerTask()
        lock.withLock { _ = tasks.insert(task) }
    }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var state = false
    var value: Bool { lock.withLock { state } }
    func set(_ value: Bool) { lock.withLock { state = value } }
}

/// Lets `parties` threads go on only once all of them have arrived.
private final class Rendezvous: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private let parties: Int

    init(parties: Int) { self.parties = parties }

    func arrive() {
        condition.lock()
        arrived += 1
        condition.broadcast()
        while arrived < parties { condition.wait() }
        condition.unlock()
    }
}

private final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Int]
    init(_ count: Int) { values = [Int](repeating: 0, count: count) }
    func add(_ index: Int) { lock.withLock { values[index] += 1 } }
}

private final class Slot: @unchecked Sendable {
    private(set) var outputs = Outputs()
    private(set) var began = Date.distantFuture
    private(set) var ended = Date.distantPast

    /// Written by one thread before the others read it (after joining).
    func store(_ outputs: Outputs, from began: Date, to ended: Date) {
        self.outputs = outputs
        self.began = began
        self.ended = ended
    }
}

/// The ids of this process's compute threads: those /proc/self/task names hark-compute.
private func computeThreads() throws -> Set<String> {
    try Set(FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").filter { task in
        let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
        return name == "hark-compute\n"
    })
}
