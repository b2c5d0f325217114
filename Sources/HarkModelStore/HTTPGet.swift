import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP GET run to completion on the calling thread (the CLI is synchronous): the body is
/// handed to `receive` chunk by chunk as it arrives, so a large wheel is hashed and written
/// without being held in memory.
enum HTTPGet {
    /// Seconds without any data before a transfer counts as failed.
    static let idleTimeout: TimeInterval = 60

    /// Fetches `url`; returns the HTTP status. The body is passed to `receive` only for 200.
    static func run(_ url: URL, receive: @escaping (Data) throws(FetchError) -> Void) throws(FetchError) -> Int {
        let transfer = Transfer(receive: receive)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1  // the delegate's calls are serial
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: queue)
        var request = URLRequest(url: url)
        request.setValue("hark", forHTTPHeaderField: "User-Agent")
        session.dataTask(with: request).resume()
        transfer.done.wait()
        session.finishTasksAndInvalidate()  // releases the delegate
        if let failure = transfer.failure { throw failure }
        if let error = transfer.transportError { throw describe(error, url: url) }
        return transfer.status
    }

    /// A transport error as one of ours: no network, or the host not answering.
    private static func describe(_ error: Error, url: URL) -> FetchError {
        let host = url.host ?? url.absoluteString
        let detail = (error as NSError).localizedDescription
        guard let code = (error as? URLError)?.code else { return .unreachable(url: host, detail: detail) }
        switch code {
        case .notConnectedToInternet, .cannotFindHost, .dnsLookupFailed, .internationalRoamingOff, .dataNotAllowed:
            return .noNetwork(host: host, detail: detail)
        default:
            return .unreachable(url: host, detail: detail)
        }
    }
}

/// The delegate of one transfer. Its state is written on the session's serial delegate queue
/// and read by the waiting thread only after `done` is signalled.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let receive: (Data) throws(FetchError) -> Void
    let done = DispatchSemaphore(value: 0)
    var status = 0
    var failure: FetchError?
    var transportError: Error?

    init(receive: @escaping (Data) throws(FetchError) -> Void) {
        self.receive = receive
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        // Only a 200 body is wanted; the status alone says what else happened.
        status = (dataTask.response as? HTTPURLResponse)?.statusCode ?? 0
        guard failure == nil, status == 200 else { return }
        do throws(FetchError) {
            try receive(data)
        } catch {
            failure = error
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        status = (task.response as? HTTPURLResponse)?.statusCode ?? status
        // A cancel of ours (the receiver failing) is not a transport error.
        if let error, failure == nil { transportError = error }
        done.signal()
    }
}
