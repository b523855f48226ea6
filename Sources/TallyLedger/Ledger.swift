import HashTreeCollections

/// The token ledger as a pure, deterministic state machine.
///
/// Double entry: every transaction moves tokens between a user and a system account. Credits
/// come from `mint` (which goes negative as it issues), spends go to `burn`. The sum of every
/// account, users and system, is zero after every command.
///
/// The state is a value built on persistent collections, so copying it (for a snapshot) is O(1)
/// and later writes share structure with the copy instead of duplicating it.
public struct Ledger: Equatable, Sendable {
    public let config: LedgerConfig
    public internal(set) var accounts: TreeDictionary<ExactString, Account> = [:]
    public internal(set) var transactions: DenseLog<PackedTransaction> = [:]
    public internal(set) var idempotency = IdempotencyTable()
    public internal(set) var mint: Int64 = 0
    public internal(set) var burn: Int64 = 0
    public internal(set) var nextTransactionID: UInt64 = 1
    /// The timestamp of the last command that changed state (0 for a new ledger).
    public internal(set) var lastTimestamp: Timestamp = 0
    /// Daily token limits of chat gateways.
    public internal(set) var usage: UsageBook
    /// Token packages for sale, by id.
    public internal(set) var packages: TreeDictionary<ExactString, TokenPackage> = [:]
    /// Every purchase, by id, and the index that makes a payment id unique.
    public internal(set) var purchases: TreeDictionary<UInt64, Purchase> = [:]
    public internal(set) var purchasesByPayment: TreeDictionary<ExactString, UInt64> = [:]
    /// Purchases still pending, by id: what the purchase tick looks at. Derived from `purchases`.
    public internal(set) var pendingPurchases: TreeDictionary<UInt64, Timestamp> = [:]
    public internal(set) var nextPurchaseID: UInt64 = 1
    /// Commitments to predictions, by id, and the predictions they were made on.
    public internal(set) var commitments: TreeDictionary<UInt64, Commitment> = [:]
    public internal(set) var predictions: TreeDictionary<ExactString, Prediction> = [:]
    public internal(set) var nextCommitmentID: UInt64 = 1
    /// The house's system account: losers' stakes come in, winners' profits go out (it may be
    /// negative). Users + mint + burn + house = 0.
    public internal(set) var house: Int64 = 0
    /// Memberships by user, and what each action costs per tier.
    public internal(set) var memberships: TreeDictionary<ExactString, Membership> = [:]
    public internal(set) var actionPrices: TreeDictionary<ExactString, ActionPrice> = [:]
    /// The audit log: every mutation attempt that came with an origin, by id. Ids below
    /// `firstAuditID` were archived and trimmed from memory.
    public internal(set) var auditLog: DenseLog<AuditEntry> = [:]
    public internal(set) var nextAuditID: UInt64 = 1
    public internal(set) var firstAuditID: UInt64 = 1
    /// What the transactions moved to the archive files added up to (retention).
    public internal(set) var archived = ArchivedHistory()
    /// On a node of several hosts: the command log's chain hash through the last row applied,
    /// which names the whole history of commands that built this state (empty with a journal of
    /// its own). The Writer sets it; the Ledger only keeps it, so snapshots and digests carry it.
    public internal(set) var logChain: [UInt8] = []

    public init(config: LedgerConfig = LedgerConfig()) {
        self.config = config
        self.usage = UsageBook(retention: config.usageRetention)
    }

    /// Rebuilds a ledger from its parts (a snapshot). Call `invariantViolations()` after.
    public init(
        config: LedgerConfig, accounts: TreeDictionary<ExactString, Account>,
        transactions: DenseLog<PackedTransaction>, idempotency: IdempotencyTable,
        mint: Int64, burn: Int64, nextTransactionID: UInt64, lastTimestamp: Timestamp, usage: UsageBook? = nil,
        packages: TreeDictionary<ExactString, TokenPackage> = [:], purchases: TreeDictionary<UInt64, Purchase> = [:],
        nextPurchaseID: UInt64 = 1, commitments: TreeDictionary<UInt64, Commitment> = [:],
        predictions: TreeDictionary<ExactString, Prediction> = [:], nextCommitmentID: UInt64 = 1, house: Int64 = 0,
        memberships: TreeDictionary<ExactString, Membership> = [:], actionPrices: TreeDictionary<ExactString, ActionPrice> = [:],
        auditLog: DenseLog<AuditEntry> = [:], nextAuditID: UInt64 = 1, firstAuditID: UInt64 = 1,
        archived: ArchivedHistory = ArchivedHistory(), logChain: [UInt8] = []
    ) {
        self.logChain = logChain
        self.archived = archived
        self.auditLog = auditLog
        self.nextAuditID = nextAuditID
        self.firstAuditID = firstAuditID
        self.memberships = memberships
        self.actionPrices = actionPrices
        self.commitments = commitments
        self.predictions = predictions
        self.nextCommitmentID = nextCommitmentID
        self.house = house
        self.config = config
        self.accounts = accounts
        self.transactions = transactions
        self.idempotency = idempotency
        self.mint = mint
        self.burn = burn
        self.nextTransactionID = nextTransactionID
        self.lastTimestamp = lastTimestamp
        self.usage = usage ?? UsageBook(retention: config.usageRetention)
        self.packages = packages
        self.purchases = purchases
        self.nextPurchaseID = nextPurchaseID
        for (id, purchase) in purchases {
            purchasesByPayment[ExactString(purchase.paymentID)] = id
            if purchase.status == .pending { pendingPurchases[id] = purchase.createdAt }
        }
    }

    // MARK: Reads

    /// A user's balance; a user never credited has an all-zero balance with version 0.
    /// Inlinable so that the Writer, which keeps its Ledger in a class, reads `accounts` alone
    /// instead of copying the whole Ledger (every reference in it retained and released) for
    /// the call: 5% of tallyd's CPU per GetBalance (docs/decisions.md).
    @inlinable
    public func balance(of userID: String) -> Balance {
        Balance(userID: userID, account: accounts[ExactString(userID)] ?? Account())
    }

    /// A user's daily-limit standing on `day` (read-only), on the tier its membership gives at
    /// `now` (default: the last command's time).
    public func usageStatus(of userID: String, on day: UsageDay, at now: Timestamp? = nil) -> UsageStatus {
        usage.status(of: userID, on: day, tier: tier(of: userID, at: now ?? lastTimestamp))
    }

    // MARK: Mutations

    /// Records that the state now includes the command log through a row whose chain hash is
    /// `chain` (several hosts).
    public mutating func followLog(chain: [UInt8]) {
        logChain = chain
    }

    /// Applies `command` at `now`. Atomic: either every part of the change happens (balance,
    /// system account, transaction record, idempotency record, audit entry) or none does.
    ///
    /// `day` is the day of the usage time zone holding `now`, for usage commands; the Writer
    /// works it out from the tz database and journals it. Without one, the day is UTC's.
    /// With an `origin`, the attempt is recorded in the audit log whatever its outcome, so the
    /// state always changes (and the Writer journals it).
    public mutating func apply(_ command: Command, at now: Timestamp, day: UsageDay? = nil, origin: AuditOrigin? = nil) -> Applied {
        let firstNewTransaction = nextTransactionID
        let check = AccountChangeCheck(self, command)
        var applied = apply(command, at: now, day: day)
        check?.verify(self, recorded: nextTransactionID - firstNewTransaction)
        if let origin {
            // Ids are dense: every transaction this command recorded is in this range.
            let recorded = firstNewTransaction..<nextTransactionID
            audit(command, applied.outcome, replayed: applied.replayed, transactionIDs: recorded, origin: origin, at: now)
            applied.changedState = true
            lastTimestamp = now
        }
        return applied
    }

    private mutating func apply(_ command: Command, at now: Timestamp, day: UsageDay?) -> Applied {
        if let invalid = Validation.check(command) {
            return Applied(outcome: .refused(invalid), replayed: false, changedState: false)
        }
        var changed = idempotency.purge(at: now)
        let key = ExactString(command.idempotencyKey)
        if !key.value.isEmpty, let record = idempotency.record(for: key, at: now) {
            if changed { lastTimestamp = now }
            guard record.command == command else {
                return Applied(outcome: .refused(.idempotencyConflict(key: key.value)), replayed: false, changedState: changed)
            }
            return Applied(outcome: record.outcome, replayed: true, changedState: changed)
        }

        let outcome: Outcome
        switch command {
        case .credit(let credit): outcome = self.credit(credit, at: now)
        case .spend(let spend): outcome = debit(spend, at: now)
        case .consume, .reserve, .settle, .release, .changeUsage, .expireReservations:
            outcome = applyUsage(command, at: now, on: day ?? UsageDay.utc(containing: now))
        case .savePackage, .deactivatePackage, .startPurchase, .settlePurchase, .expirePurchases:
            outcome = applyPurchase(command, at: now)
        case .commit, .cancelCommitment, .settlePrediction, .closePrediction:
            outcome = applyPrediction(command, at: now)
        case .setMembership, .setActionPrice, .spendAction:
            outcome = applyMembership(command, at: now)
        case .refusedAttempt(let attempt):
            outcome = .refused(attempt.refusal)
        case .reconcile(let repair):
            outcome = .reconciled(reconcile(repair: repair, at: now))
        case .trimAudit(let through):
            outcome = .auditTrimmed(trimAudit(through: through))
        case .archiveTransactions(let command):
            outcome = archive(command)
        case .archiveCommitments(let command):
            outcome = archive(command)
        }
        if outcome.changesState { changed = true }
        if !key.value.isEmpty {
            let expiresAt = now.addingReportingOverflow(config.idempotencyTTL)
            idempotency.insert(
                key: key,
                IdempotencyRecord(
                    command: command, firstSeenAt: now,
                    expiresAt: expiresAt.overflow ? .max : expiresAt.partialValue, outcome: outcome))
            changed = true
        }
        if changed { lastTimestamp = now }
        // A retried purchase or settlement answers what the first one did, like a key.
        return Applied(outcome: outcome, replayed: outcome.isAlreadyDone, changedState: changed)
    }

    mutating func credit(_ credit: Credit, at now: Timestamp) -> Outcome {
        var account = accounts[ExactString(credit.userID)] ?? Account(createdAt: now)
        guard let available = checkedAdd(account.available, credit.amount),
            let earned = checkedAdd(account.totalEarned, credit.amount)
        else { return .refused(.overflow(.user, userID: credit.userID, amount: credit.amount)) }
        // Tokens issued in total (-mint) stay within Int64.max, so burn, which can never hold
        // more than was issued, cannot overflow either: every token issued can be spent.
        guard let mint = checkedAdd(self.mint, -credit.amount), mint != Int64.min else {
            return .refused(.overflow(.mint, userID: credit.userID, amount: credit.amount))
        }
        let before = account.available
        account.available = available
        account.totalEarned = earned
        self.mint = mint
        return record(
            account, userID: credit.userID, type: TransactionType(credit.kind!), amount: credit.amount,
            before: before, reference: credit.reference, memo: credit.memo, key: credit.idempotencyKey,
            metadata: credit.metadata, at: now)
    }

    /// A spend: by amount, or (with `action`) the price of an action for `tier`.
    mutating func debit(_ spend: Spend, action: String = "", tier: String = "", at now: Timestamp) -> Outcome {
        var account = accounts[ExactString(spend.userID)] ?? Account(createdAt: now)
        guard account.available >= spend.amount else {
            return .refused(.insufficientTokens(userID: spend.userID, available: account.available, requested: spend.amount))
        }
        // Unreachable while issuance is capped (spent <= issued <= Int64.max); kept so that a
        // broken invariant becomes a refusal, never a trap.
        guard let spent = checkedAdd(account.totalSpent, spend.amount) else {
            return .refused(.overflow(.user, userID: spend.userID, amount: spend.amount))
        }
        guard let burn = checkedAdd(self.burn, spend.amount) else {
            return .refused(.overflow(.burn, userID: spend.userID, amount: spend.amount))
        }
        let before = account.available
        account.available -= spend.amount  // checked above: amount <= available
        account.totalSpent = spent
        self.burn = burn
        return record(
            account, userID: spend.userID, type: .spend, amount: spend.amount, before: before,
            reference: spend.reference, memo: spend.memo, key: spend.idempotencyKey, action: action, tier: tier,
            metadata: spend.metadata, at: now)
    }

    private mutating func applyUsage(_ command: Command, at now: Timestamp, on day: UsageDay) -> Outcome {
        func receipt(_ result: Result<(Reservation, UsageStatus), Refusal>) -> Outcome {
            switch result {
            case .success(let (reservation, status)): .usage(UsageReceipt(status: status, reservation: reservation))
            case .failure(let refusal): .refused(refusal)
            }
        }
        // Tiers are worked out before the usage book is borrowed for the change.
        func tier(of user: String) -> ExactString { self.tier(of: user, at: now) }
        func reservationTier(_ id: UInt64) -> ExactString? {
            usage.reservations[id].map { self.tier(of: $0.userID.value, at: now) }
        }
        switch command {
        case .consume(let consume):
            switch usage.consumeValidated(consume.userID, tokens: consume.tokens, on: day, tier: tier(of: consume.userID)) {  // apply validated it
            case .success(let status): return .usage(UsageReceipt(status: status))
            case .failure(let refusal): return .refused(refusal)
            }
        case .reserve(let reserve):
            let ttl = reserve.ttlMilliseconds == 0 ? Reserve.defaultTTLMilliseconds : reserve.ttlMilliseconds
            let expiresAt = now.addingReportingOverflow(Int64(ttl) * 1_000)
            return receipt(usage.reserveValidated(
                reserve.userID, tokens: reserve.tokens, on: day, at: now,
                expiresAt: expiresAt.overflow ? .max : expiresAt.partialValue, tier: tier(of: reserve.userID)))
        case .settle(let settle):
            return receipt(usage.settle(settle.reservationID, tokens: settle.tokens, on: day, tier: reservationTier(settle.reservationID)))
        case .release(let release):
            return receipt(usage.release(release.reservationID, on: day, tier: reservationTier(release.reservationID)))
        case .changeUsage(.userTier(let userID, let tier)):
            // A tier set through SetLimits is a membership without an expiry.
            if case .refused(let refusal) = applyMembership(.setMembership(SetMembership(userID: userID, tier: tier)), at: now) {
                return .refused(refusal)
            }
            return .usageLimits(usage.limits)
        case .changeUsage(let change):
            switch usage.apply(change) {
            case .success: return .usageLimits(usage.limits)
            case .failure(let refusal): return .refused(refusal)
            }
        case .expireReservations:
            return .expired(usage.expireReservations(at: now, on: day))
        default:
            preconditionFailure("not a usage command")
        }
    }

    /// Stores the changed account and its transaction record together. `committedBefore` is
    /// the account's committed tokens before the change (nil: unchanged).
    mutating func record(
        _ account: Account, userID: String, type: TransactionType, amount: Int64, before: Int64, committedBefore: Int64? = nil,
        reference: String, memo: String, key: String, action: String = "", tier: String = "",
        metadata: [ExactString: ExactString] = [:], at now: Timestamp
    ) -> Outcome {
        var account = account
        account.version += 1
        account.updatedAt = now
        let transaction = Transaction(
            id: nextTransactionID, userID: userID, type: type, amount: amount, balanceBefore: before,
            balanceAfter: account.available, committedBefore: committedBefore ?? account.committed,
            committedAfter: account.committed, reference: reference, memo: memo, idempotencyKey: key,
            createdAt: now, action: action, tier: tier, metadata: metadata)
        nextTransactionID += 1
        accounts[ExactString(userID)] = account
        transactions[transaction.id] = transaction
        return .accepted(Receipt(transaction: transaction, balance: Balance(userID: userID, account: account)))
    }
}

@inline(__always)
func checkedAdd(_ a: Int64, _ b: Int64) -> Int64? {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : sum
}
