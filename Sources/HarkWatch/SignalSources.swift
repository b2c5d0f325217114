import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns SIGINT, SIGTERM and SIGHUP into calls on a queue (DispatchSource signal sources), so
/// no work happens inside a signal handler.
public final class SignalSources: @unchecked Sendable { // immutable after init; sources are thread-safe
    private let sources: [any DispatchSourceSignal]

    /// Installs the sources; the default action of each signal is disabled while they live.
    public init(signals: [Int32] = [SIGINT, SIGTERM, SIGHUP], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "hark.watch.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// The conventional name of a signal ("SIGTERM").
    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
