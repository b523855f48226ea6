/// What an accepted credit or spend produced: its history record and the balance right after.
public struct Receipt: Equatable, Sendable {
    public var transaction: Transaction
    public var balance: Balance

    public init(transaction: Transaction, balance: Balance) {
        self.transaction = transaction
        self.balance = balance
    }
}

public enum Outcome: Equatable, Sendable {
    case accepted(Receipt)
    case refused(Refusal)
}

/// The result of applying one command.
public struct Applied: Equatable, Sendable {
    public var outcome: Outcome
    /// True when the outcome is the remembered answer of an earlier command with the same key.
    public var replayed: Bool
    /// Whether the Ledger's state changed. Only such commands need journaling: replaying just
    /// them rebuilds the same state.
    public var changedState: Bool
}
