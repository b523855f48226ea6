/// Why the Ledger refused a command. Codes carry gRPC's numbers so the wire maps them 1:1.
public struct Refusal: Error, Equatable, Sendable {
    public enum Code: Int, Sendable {
        case invalidArgument = 3
        /// Reaches the Ledger only in a refused attempt, to be audited (so does permissionDenied).
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case resourceExhausted = 8
        case failedPrecondition = 9
        case outOfRange = 11
        case permissionDenied = 7
    }

    public var code: Code
    /// Stable UPPER_SNAKE_CASE word for programs.
    public var reason: String
    /// For people.
    public var message: String
    /// Facts for programs; numbers as decimal strings.
    public var details: [String: String]

    public init(code: Code, reason: String, message: String, details: [String: String] = [:]) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }
}

extension Refusal {
    public static func invalid(_ reason: String, field: String, _ message: String) -> Refusal {
        Refusal(code: .invalidArgument, reason: reason, message: message, details: ["field": field])
    }

    static func insufficientTokens(userID: String, available: Int64, requested: Int64) -> Refusal {
        let shortfall = requested - available  // requested > available >= 0: cannot overflow
        return Refusal(
            code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS",
            message: "\(userID) has \(available) tokens available, \(requested) requested: \(shortfall) missing",
            details: ["available": String(available), "requested": String(requested), "shortfall": String(shortfall)]
        )
    }

    /// Which total would pass Int64.max: a user's balance or totals, or a system account.
    enum OverflowingAccount: String {
        case user, mint, burn, house
    }

    static func overflow(_ account: OverflowingAccount, userID: String, amount: Int64) -> Refusal {
        let what = switch account {
        case .user: "\(userID)'s balance or lifetime totals"
        case .mint: "the tokens issued in total"
        case .burn: "the tokens spent in total"
        case .house: "the house's account"
        }
        return Refusal(
            code: .outOfRange, reason: "AMOUNT_OVERFLOW",
            message: "\(amount) more would take \(what) past \(Int64.max)",
            details: ["account": account.rawValue, "amount": String(amount)]
        )
    }

    static func idempotencyConflict(key: String) -> Refusal {
        Refusal(
            code: .alreadyExists, reason: "IDEMPOTENCY_KEY_CONFLICT",
            message: "idempotency key '\(key)' was already used for a different request; use a new key",
            details: ["idempotency_key": key]
        )
    }
}
