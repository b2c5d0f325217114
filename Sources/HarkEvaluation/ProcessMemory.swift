import Foundation

/// This process's memory, from `/proc/self/status` (Linux).
public enum ProcessMemory {
    /// The peak resident set size in bytes (`VmHWM`): process-wide, since start or since the
    /// last `resetPeak()`; `nil` where /proc is not available.
    public static func peakResidentBytes() -> Int? { statusField("VmHWM:") }

    /// The current resident set size in bytes (`VmRSS`).
    public static func residentBytes() -> Int? { statusField("VmRSS:") }

    /// Resets the peak (`VmHWM`) to the current resident size by writing 5 to
    /// `/proc/self/clear_refs` (Linux 4.0+). Returns whether the kernel accepted it; where
    /// it did not, later peaks include everything before.
    @discardableResult
    public static func resetPeak() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    static func statusField(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            // "VmHWM:	  123456 kB"
            let fields = line.dropFirst(name.count).split(separator: " ", omittingEmptySubsequences: true)
                .flatMap { $0.split(separator: "\t") }
            guard let value = fields.first.flatMap({ Int($0) }) else { return nil }
            return fields.count > 1 && fields[1] == "kB" ? value * 1024 : value
        }
        return nil
    }
}
