/// Failures of the command line itself, one actionable line each.
enum CLIError: Error, CustomStringConvertible {
    case modelNotFound(String)
    case output(path: String, reason: String)
    case usage(String)
    /// `hark models fetch` failed; nothing half-installed is left.
    case fetchFailed(String)

    var description: String {
        switch self {
        case .modelNotFound(let message): return message
        case .output(let path, let reason): return "\(path): cannot write (\(reason))"
        case .usage(let message): return message
        case .fetchFailed(let message): return message
        }
    }
}
