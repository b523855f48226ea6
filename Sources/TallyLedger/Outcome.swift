/// What an accepted credit or spend produced: its history record and the balance right after.
public struct Receipt: Equatable, Sendable {
    public var transaction: Transaction
    public var balance: Balance

    public init(transaction: Transaction, balance: Balance) {
        self.transaction = transaction
        self.balance = balance
    }
}

/// What an accepted usage command produced: the user's standing right after, and the
/// reservation it made, settled or released.
public struct UsageReceipt: Equatable, Sendable {
    public var status: UsageStatus
    public var reservation: Reservation?

    public init(status: UsageStatus, reservation: Reservation? = nil) {
        self.status = status
        self.reservation = reservation
    }
}

// Indirect: its largest case is 377 bytes inline, and every answer was copied that size several
// times between the Ledger and the socket (memmove was the loop's top symbol); boxed, a copy is
// a pointer.
public indirect enum Outcome: Equatable, Sendable {
    /// A credit or spend.
    case accepted(Receipt)
    /// A consume, reserve, settle or release.
    case usage(UsageReceipt)
    /// An admin's change to the daily limits: the limits now.
    case usageLimits(UsageLimits)
    /// The Writer's expiry tick: the reservations it released.
    case expired([Reservation])
    /// A package saved or deactivated: the package now.
    case package(TokenPackage)
    /// A purchase started, completed or failed.
    case purchase(PurchaseReceipt)
    /// The Writer's purchase tick: the purchases it failed.
    case expiredPurchases([Purchase])
    /// A commitment made or cancelled.
    case commitment(CommitmentReceipt)
    /// A prediction settled; `alreadyDone` when it was settled before (the same summary again).
    case predictionSettled(PredictionSummary, alreadyDone: Bool)
    /// A prediction's close time set.
    case prediction(Prediction)
    /// A membership set or ended: where the user stands now.
    case membership(MembershipStatus)
    /// An action's prices now (no costs: the action was removed).
    case actionPrice(ActionPrice)
    /// Reconciliation's report, with the transactions a repair wrote.
    case reconciled(Reconciliation)
    /// Audit entries dropped from memory (they were archived).
    case auditTrimmed(Int)
    /// Transactions moved out of memory (they are in an archive file).
    case archivedTransactions(Int)
    /// Settled commitments moved out of memory.
    case archivedCommitments(Int)
    case refused(Refusal)

    /// The answer of work done by an earlier call (a purchase started or settled, a prediction
    /// settled): nothing changed, and the caller sees it as a replay.
    var isAlreadyDone: Bool {
        switch self {
        case .purchase(let receipt): receipt.alreadyDone
        case .predictionSettled(_, let alreadyDone): alreadyDone
        default: false
        }
    }

    /// Whether the state changed (a refusal, or a tick that found nothing, leaves it alone).
    var changesState: Bool {
        switch self {
        case .accepted, .usage, .usageLimits, .package, .commitment, .prediction, .membership, .actionPrice: true
        case .predictionSettled, .purchase: !isAlreadyDone
        case .expired(let released): !released.isEmpty
        case .expiredPurchases(let failed): !failed.isEmpty
        case .auditTrimmed(let count): count > 0
        case .archivedTransactions, .archivedCommitments: true  // the batch number moves even if every id was gone
        case .reconciled(let report): !report.repairs.isEmpty || report.mismatches.contains { $0.field == "version" }
        case .refused: false
        }
    }
}

/// The result of applying one command.
public struct Applied: Equatable, Sendable {
    public var outcome: Outcome
    /// True when the outcome is the remembered answer of an earlier command with the same key.
    public var replayed: Bool
    /// Whether the Ledger's state changed. Only such commands need journaling: replaying just
    /// them rebuilds the same state.
    public var changedState: Bool

    public init(outcome: Outcome, replayed: Bool, changedState: Bool) {
        self.outcome = outcome
        self.replayed = replayed
        self.changedState = changedState
    }
}
