import NIOCore
import TallyLedger
import TallyWire

/// A decoded call on its way to the Writer.
struct WriterCall: Sendable {
    enum Operation: Sendable {
        case balance(userID: String)
        case apply(Command)
    }

    var callID: UInt64
    var method: Method
    var deadline: NIODeadline?
    var operation: Operation
}

/// An operation on tallyd itself, served by the Snapshotter rather than the Writer.
enum AdminCall: Sendable {
    case snapshot
    case backup(path: String)
    case health(checkInvariants: Bool)
}

/// The Writer's answer to one call.
struct WriterAnswer: Sendable {
    enum Result: Sendable {
        case balance(Balance)
        case applied(Applied)
        case deadlineExceeded
        /// The user's bucket for this method class is empty; nothing was applied.
        case rateLimited(RateClass, retryAfterNanoseconds: Int64)
        case unavailable(reason: String, message: String)
    }

    var callID: UInt64
    var method: Method
    var result: Result
}


extension Command {
    /// The user a mutation is for (rate limits are per user).
    var userID: String {
        switch self {
        case .credit(let credit): credit.userID
        case .spend(let spend): spend.userID
        }
    }
}
