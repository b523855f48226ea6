import TallyLedger
import TallyWire

// Conversions between the Ledger's values and their wire messages. The store reuses them, so
// a command is journaled in exactly the form a client sent it.

extension Tally_V1_Balance {
    public init(_ balance: Balance) {
        self.init()
        userID = balance.userID
        available = balance.account.available
        committed = balance.account.committed
        totalEarned = balance.account.totalEarned
        totalSpent = balance.account.totalSpent
        version = balance.account.version
        createdAtUs = balance.account.createdAt
        updatedAtUs = balance.account.updatedAt
    }

    public var ledgerValue: Balance {
        Balance(
            userID: userID,
            account: Account(
                available: available, committed: committed, totalEarned: totalEarned, totalSpent: totalSpent,
                version: version, createdAt: createdAtUs, updatedAt: updatedAtUs))
    }
}

extension Tally_V1_Transaction {
    public init(_ tx: Transaction) {
        self.init()
        id = tx.id
        userID = tx.userID
        type = Tally_V1_TransactionType(rawValue: tx.type.rawValue) ?? .unspecified
        amount = tx.amount
        balanceBefore = tx.balanceBefore
        balanceAfter = tx.balanceAfter
        status = .completed
        reference = tx.reference
        memo = tx.memo
        idempotencyKey = tx.idempotencyKey
        createdAtUs = tx.createdAt
        committedBefore = tx.committedBefore
        committedAfter = tx.committedAfter
        action = tx.action
        tier = tx.tier
        metadata = tx.metadata.wire
    }

    /// nil when the type is not one this build knows (a corrupt or newer snapshot).
    public var ledgerValue: Transaction? {
        guard let type = TransactionType(rawValue: type.rawValue) else { return nil }
        return Transaction(
            id: id, userID: userID, type: type, amount: amount, balanceBefore: balanceBefore,
            balanceAfter: balanceAfter, committedBefore: committedBefore, committedAfter: committedAfter, reference: reference,
            memo: memo, idempotencyKey: idempotencyKey, createdAt: createdAtUs, action: action, tier: tier,
            metadata: metadata.exact)
    }
}

extension Tally_V1_CreditRequest {
    public init(_ credit: Credit) {
        self.init()
        userID = credit.userID
        amount = credit.amount
        kind = credit.kind.flatMap { Tally_V1_CreditKind(rawValue: $0.rawValue) } ?? .unspecified
        reference = credit.reference
        memo = credit.memo
        idempotencyKey = credit.idempotencyKey
        metadata = credit.metadata.wire
    }

    public var ledgerValue: Credit {
        Credit(
            userID: userID, amount: amount, kind: CreditKind(rawValue: kind.rawValue), reference: reference,
            memo: memo, idempotencyKey: idempotencyKey, metadata: metadata.exact)
    }
}

extension Tally_V1_SpendRequest {
    public init(_ spend: Spend) {
        self.init()
        userID = spend.userID
        amount = spend.amount
        reference = spend.reference
        memo = spend.memo
        idempotencyKey = spend.idempotencyKey
        metadata = spend.metadata.wire
    }

    public var ledgerValue: Spend {
        Spend(userID: userID, amount: amount, reference: reference, memo: memo, idempotencyKey: idempotencyKey, metadata: metadata.exact)
    }
}

extension Tally_V1_Code {
    public init(_ code: Refusal.Code) {
        self = Tally_V1_Code(rawValue: code.rawValue) ?? .internal
    }
}

extension Dictionary where Key == String, Value == String {
    /// Metadata as the Ledger keeps it: compared byte for byte.
    public var exact: [ExactString: ExactString] {
        Dictionary<ExactString, ExactString>(map { (ExactString($0.key), ExactString($0.value)) }, uniquingKeysWith: { first, _ in first })
    }
}

extension Dictionary where Key == ExactString, Value == ExactString {
    /// Metadata for the wire.
    public var wire: [String: String] {
        Dictionary<String, String>(map { ($0.key.value, $0.value.value) }, uniquingKeysWith: { first, _ in first })
    }
}
