public enum CreditKind: Int, Sendable, CaseIterable {
    case purchase = 1
    case grant = 2
    case refund = 3
    case adjustment = 4
}

public struct Credit: Equatable, Sendable {
    @ExactString public var userID: String
    public var amount: Int64
    /// nil when the caller named no kind (or one this version does not know): refused.
    public var kind: CreditKind?
    @ExactString public var reference: String
    @ExactString public var memo: String
    @ExactString public var idempotencyKey: String
    /// The caller's key-value facts, kept on the transaction.
    public var metadata: [ExactString: ExactString]

    public init(
        userID: String, amount: Int64, kind: CreditKind?, reference: String = "", memo: String = "",
        idempotencyKey: String = "", metadata: [ExactString: ExactString] = [:]
    ) {
        self.metadata = metadata
        self.userID = userID
        self.amount = amount
        self.kind = kind
        self.reference = reference
        self.memo = memo
        self.idempotencyKey = idempotencyKey
    }
}

public struct Spend: Equatable, Sendable {
    @ExactString public var userID: String
    public var amount: Int64
    @ExactString public var reference: String
    @ExactString public var memo: String
    @ExactString public var idempotencyKey: String
    public var metadata: [ExactString: ExactString]

    public init(
        userID: String, amount: Int64, reference: String = "", memo: String = "", idempotencyKey: String = "",
        metadata: [ExactString: ExactString] = [:]
    ) {
        self.metadata = metadata
        self.userID = userID
        self.amount = amount
        self.reference = reference
        self.memo = memo
        self.idempotencyKey = idempotencyKey
    }
}

/// A mutation of the Ledger. Applied only by the Writer, journaled exactly as applied.
public enum Command: Equatable, Sendable {
    case credit(Credit)
    case spend(Spend)
    case consume(Consume)
    case reserve(Reserve)
    case settle(Settle)
    case release(Release)
    case changeUsage(UsageChange)
    /// The Writer's tick: releases every reservation whose time-to-live is over.
    case expireReservations
    case savePackage(SavePackage)
    case deactivatePackage(id: String)
    case startPurchase(StartPurchase)
    case settlePurchase(SettlePurchase)
    /// The Writer's tick: fails every purchase pending longer than the purchase timeout.
    case expirePurchases
    case commit(Commit)
    case cancelCommitment(id: UInt64)
    case settlePrediction(SettlePrediction)
    /// Sets (or, with nil, clears) the moment after which commitments to a prediction are refused.
    case closePrediction(id: String, at: Timestamp?)
    /// Sets or ends a user's membership (admin).
    case setMembership(SetMembership)
    /// Sets or removes an action's price for a tier (admin).
    case setActionPrice(SetActionPrice)
    /// Spends an action's price for the user's tier.
    case spendAction(SpendAction)
    /// A mutation refused before it reached the Ledger, applied only to be audited.
    case refusedAttempt(RefusedAttempt)
    /// Recomputes every balance from history; with `repair`, writes what history is missing.
    case reconcile(repair: Bool)
    /// Drops audit entries up to id `through` from memory, once they are archived (tallyd's own).
    case trimAudit(through: UInt64)
    /// Drops transactions from memory once they are in an archive file (tallyd's own).
    case archiveTransactions(ArchiveTransactions)
    /// Drops settled commitments from memory once they are in an archive file (tallyd's own).
    case archiveCommitments(ArchiveCommitments)

    public var idempotencyKey: String {
        switch self {
        case .credit(let c): c.idempotencyKey
        case .spend(let s): s.idempotencyKey
        case .consume(let c): c.idempotencyKey
        case .reserve(let r): r.idempotencyKey
        case .settle(let s): s.idempotencyKey
        case .release(let r): r.idempotencyKey
        case .commit(let c): c.idempotencyKey
        case .spendAction(let s): s.idempotencyKey
        case .setMembership, .setActionPrice, .refusedAttempt, .reconcile, .trimAudit, .archiveTransactions, .archiveCommitments: ""  // setting the same value again is harmless
        case .cancelCommitment, .settlePrediction, .closePrediction: ""  // once by nature: a second call is answered or refused
        case .changeUsage, .expireReservations, .savePackage, .deactivatePackage, .startPurchase, .settlePurchase,
            .expirePurchases:
            ""  // purchases are idempotent by their payment id
        }
    }

    /// Whether it counts on a day of the usage time zone (the Writer stamps one).
    public var needsUsageDay: Bool {
        switch self {
        case .credit, .spend, .changeUsage, .savePackage, .deactivatePackage, .startPurchase, .settlePurchase, .expirePurchases,
            .commit, .cancelCommitment, .settlePrediction, .closePrediction, .setMembership, .setActionPrice, .spendAction,
            .refusedAttempt, .reconcile, .trimAudit, .archiveTransactions, .archiveCommitments:
            false
        case .consume, .reserve, .settle, .release, .expireReservations: true
        }
    }
}
