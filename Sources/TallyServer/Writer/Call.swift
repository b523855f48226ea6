import NIOCore
import TallyLedger
import TallyWire

/// A decoded call on its way to the Writer.
struct WriterCall: Sendable {
    enum Operation: Sendable {
        case balance(userID: String)
        case apply(Command)
        /// Usage/Check: a user's standing today.
        case usageStatus(userID: String)
        /// Usage/GetLimits.
        case usageLimits
        /// Purchases/GetPurchase.
        case purchase(paymentID: String)
        /// Ledger/GetTransaction.
        case transaction(id: UInt64)
        /// Memberships/GetMembership: where a user stands now.
        case membership(userID: String)
        /// Actions/ListPrices.
        case actionPrices
    }

    var callID: UInt64
    var method: Method
    var deadline: NIODeadline?
    var operation: Operation
    /// Who calls, for the audit log: set for mutations (and refusals to audit).
    var origin: AuditOrigin? = nil
}

/// The Writer's answer to one call.
struct WriterAnswer: Sendable {
    /// Indirect for the same reason as Outcome: answers travel by value through several arrays.
    indirect enum Result: Sendable {
        case balance(Balance)
        case applied(Applied)
        case usageStatus(UsageStatus)
        case usageLimits(UsageLimits, UsageRetention)
        case purchase(Purchase?, paymentID: String)
        /// `archivable`: not in memory, but an id the Ledger handed out (retention may have
        /// archived it); a miss that is not is answered NOT_FOUND without reading the archive.
        case transaction(Transaction?, id: UInt64, archivable: Bool)
        case membership(MembershipStatus)
        case actionPrices([ActionPrice])
        case deadlineExceeded
        /// The user's bucket for this method class is empty; nothing was applied.
        case rateLimited(RateClass, retryAfterNanoseconds: Int64)
        case unavailable(reason: String, message: String)
    }

    var callID: UInt64
    var method: Method
    var result: Result
    /// With a shared command log: the log position of the mutation this answers (0: none).
    var position: UInt64 = 0
}

/// When a batch's turn on the Writer began and ended, and when all it wrote was durable (the
/// turn's end for a batch that wrote nothing): the slow-call log's "where the time went".
struct WriterTiming: Sendable {
    var turnStart: NIODeadline
    var turnEnd: NIODeadline
    var durable: NIODeadline
}

extension WriterCall {
    /// The user a call is about, for logs ("" when it names none).
    var userID: String {
        switch operation {
        case .balance(let userID), .usageStatus(let userID), .membership(let userID): userID
        case .apply(let command): command.userID
        case .purchase(let paymentID): "payment " + paymentID
        case .transaction, .usageLimits, .actionPrices: ""
        }
    }
}
