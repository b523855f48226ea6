import TallyWire

/// A call that did not succeed: the server's status code, reason and message, or a local
/// failure (connection lost) expressed the same way.
public struct TallyError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Tally_V1_Code
    public var reason: String
    public var message: String
    public var details: [String: String]

    public init(code: Tally_V1_Code, reason: String, message: String, details: [String: String] = [:]) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    init(_ response: Tally_V1_Response) {
        self.init(code: response.code, reason: response.reason, message: response.message, details: response.details)
    }

    public var description: String {
        "\(code.name) \(reason): \(message)"
    }
}

extension Tally_V1_Code {
    /// gRPC's spelling: "FAILED_PRECONDITION".
    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        case .UNRECOGNIZED(let n): "CODE_\(n)"
        }
    }
}
