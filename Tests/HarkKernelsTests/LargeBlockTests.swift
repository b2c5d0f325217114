import CHarkKernels
import Foundation
@testable import HarkKernels
import XCTest

/// Memory for large operands (`hark_large_alloc`): zeroed, aligned, disjoint, released, and
/// advised for huge pages.
final class LargeBlockTests: XCTestCase {
    func testBlocksAreZeroedAlignedAndDisjoint() {
        // Small blocks share chunks, large ones (from 4 MiB) are mappings of their own.
        let counts = [1, 63, 64, 65, 4096, 100_000, 1 << 20, 3 << 20, (4 << 20) - 1, 4 << 20, 9_000_001]
        let blocks = counts.map { LargeBlock<UInt8>(count: $0) }
        for (index, block) in blocks.enumerated() {
            XCTAssertEqual(Int(bitPattern: block.base) % 64, 0, "block \(index) misaligned")
            XCTAssertTrue(block.buffer.allSatisfy { $0 == 0 }, "block \(index) not zeroed")
            block.base.initialize(repeating: UInt8(index + 1), count: block.count)
        }
        for (index, block) in blocks.enumerated() {
            XCTAssertTrue(block.buffer.allSatisfy { $0 == UInt8(index + 1) }, "block \(index) overwritten by another")
        }
        XCTAssertEqual(LargeBlock<Float>(count: 0).count, 0)
    }

    func testLargeBlocksStartOnHugePageBoundaries() {
        let block = LargeBlock<Float>(count: 3 << 20)   // 12 MiB
        XCTAssertEqual(Int(bitPattern: block.base) % (2 << 20), 0)
    }

    /// Released blocks give their memory back: allocating and touching 2 GB in turn must not
    /// leave the process holding it.
    func testReleasedBlocksAreUnmapped() throws {
        let before = try residentBytes()
        for round in 0..<64 {
            let large = LargeBlock<UInt8>(count: 16 << 20)
            large.base.initialize(repeating: UInt8(truncatingIfNeeded: round), count: large.count)
            let small = (0..<5).map { _ in LargeBlock<UInt8>(count: 3 << 20) }
            for block in small { block.base.initialize(repeating: 1, count: block.count) }
        }
        XCTAssertLessThan(try residentBytes() - before, 200 << 20)
    }

    /// Where the system offers transparent huge pages at all, the mapping of a large block is
    /// eligible for them (the advice was given).
    func testLargeBlocksAreAdvisedForHugePages() throws {
        #if os(Linux)
        let mode = try String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)
        try XCTSkipIf(mode.contains("[never]"), "transparent huge pages are off on this system")
        let block = LargeBlock<UInt8>(count: 8 << 20)
        block.base.initialize(repeating: 7, count: block.count)
        let address = UInt(bitPattern: block.base)
        let smaps = try procFile("/proc/self/smaps")
        var inside = false
        var eligible: String?
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inside, fields.first == "THPeligible:" {
                eligible = fields.count > 1 ? String(fields[1]) : nil
            }
        }
        XCTAssertEqual(eligible, "1")
        #else
        throw XCTSkip("huge page advice is Linux only")
        #endif
    }

    func testThreadScratchIsReusedAndGrows() throws {
        let first = try XCTUnwrap(hark_thread_scratch(1000))
        XCTAssertEqual(Int(bitPattern: first) % 64, 0)
        XCTAssertEqual(hark_thread_scratch(1000), first, "the same size is served from the same memory")
        XCTAssertEqual(hark_thread_scratch(10), first, "a smaller size too")
        let grown = try XCTUnwrap(hark_thread_scratch(9 << 20))
        grown.initializeMemory(as: UInt8.self, repeating: 3, count: 9 << 20)
        XCTAssertEqual(hark_thread_scratch(5 << 20), grown)
        // Another thread has its own.
        let other = Thread.detachNewThreadAndWait { UInt(bitPattern: hark_thread_scratch(1000)) }
        XCTAssertNotEqual(other, UInt(bitPattern: grown))
        XCTAssertNotEqual(other, 0)
    }

    /// A thread's scratch goes with the thread: eight threads touching 64 MB each in turn must
    /// not leave the process holding 512 MB.
    func testThreadScratchIsReleasedWhenTheThreadEnds() throws {
        let before = try residentBytes()
        for _ in 0..<8 {
            let touched = Thread.detachNewThreadAndWait { () -> Bool in
                guard let scratch = hark_thread_scratch(64 << 20) else { return false }
                scratch.initializeMemory(as: UInt8.self, repeating: 9, count: 64 << 20)
                return true
            }
            XCTAssertTrue(touched)
        }
        // The thread's key destructor runs as the thread exits, just after it signalled.
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertLessThan(try residentBytes() - before, 200 << 20)
    }

    func testQuantizedMatricesCompareByContent() throws {
        let values: [Int8] = (0..<(40 * 24)).map { Int8(truncatingIfNeeded: $0 * 7) }
        let scales = (0..<40).map { Float($0 + 1) / 64 }
        let a = try QuantizedMatrix(quantized: values, scales: scales, rows: 40, columns: 24)
        let b = try QuantizedMatrix(quantized: values, scales: scales, rows: 40, columns: 24)
        var changed = values
        changed[100] = changed[100] == 5 ? 6 : 5
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, try QuantizedMatrix(quantized: changed, scales: scales, rows: 40, columns: 24))
        XCTAssertNotEqual(a, try QuantizedMatrix(quantized: values, scales: scales.reversed(), rows: 40, columns: 24))
    }

    /// A file of /proc read to its end (their size reads as 0, and a plain read stops at 4 KB).
    private func procFile(_ path: String) throws -> String {
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    }

    private func residentBytes() throws -> Int {
        let statm = try procFile("/proc/self/statm").split(separator: " ")
        return (Int(statm[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

private extension Thread {
    /// Runs `body` on a new thread and returns its result.
    static func detachNewThreadAndWait<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: T?
        Thread.detachNewThread {
            result = body()
            done.signal()
        }
        done.wait()
        return result!
    }
}
