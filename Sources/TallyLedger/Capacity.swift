/// A bound on each collection that clients can grow, so that no stream of calls can grow
/// tallyd's memory without end (docs/security.md, "Capacity"). Past one, a call that would add
/// to it is refused RESOURCE_EXHAUSTED `CAPACITY_REACHED` and changes nothing else.
///
/// Checked by the Writer before the Ledger applies a command (`capacityRefusal`), and the
/// refusal is journaled as a refused attempt: replay never depends on the capacity configured
/// when it runs, so lowering a capacity and restarting never changes what was accepted.
public struct LedgerCapacity: Equatable, Sendable {
    public enum Collection: String, CaseIterable, Sendable {
        case accounts
        case usageUsers = "usage_users"
        case idempotencyRecords = "idempotency_records"
        case reservations
        case pendingPurchases = "pending_purchases"
        case predictions
    }

    public var accounts = 20_000_000
    public var usageUsers = 20_000_000
    public var idempotencyRecords = 20_000_000
    public var reservations = 2_000_000
    public var pendingPurchases = 1_000_000
    public var predictions = 1_000_000

    public init() {}

    public subscript(collection: Collection) -> Int {
        get {
            switch collection {
            case .accounts: accounts
            case .usageUsers: usageUsers
            case .idempotencyRecords: idempotencyRecords
            case .reservations: reservations
            case .pendingPurchases: pendingPurchases
            case .predictions: predictions
            }
        }
        set {
            switch collection {
            case .accounts: accounts = newValue
            case .usageUsers: usageUsers = newValue
            case .idempotencyRecords: idempotencyRecords = newValue
            case .reservations: reservations = newValue
            case .pendingPurchases: pendingPurchases = newValue
            case .predictions: predictions = newValue
            }
        }
    }
}

extension Ledger {
    /// How many entries `collection` holds now.
    public func count(of collection: LedgerCapacity.Collection) -> Int {
        switch collection {
        case .accounts: accounts.count
        case .usageUsers: usage.users.count
        case .idempotencyRecords: idempotency.records.count
        case .reservations: usage.reservations.count
        case .pendingPurchases: pendingPurchases.count
        case .predictions: predictions.count
        }
    }

    /// The refusal for `command` at `now` if it would add an entry to a collection already at
    /// its capacity; nil otherwise. A retry of a recorded idempotency key, an invalid command
    /// (refused for its own reason) and a command that adds nothing are never refused here.
    /// Every mutation passes here: the counts are compared first (O(1)), and the lookups that
    /// tell whether the command really adds an entry run only for a collection that is full.
    public func capacityRefusal(_ command: Command, at now: Timestamp, capacity: LedgerCapacity) -> Refusal? {
        let key = command.idempotencyKey
        if !key.isEmpty, isFull(.idempotencyRecords, capacity), Validation.check(command) == nil,
            idempotency.record(for: ExactString(key), at: now) == nil
        {
            return full(.idempotencyRecords, capacity)
        }
        let adds: Bool
        let collection: LedgerCapacity.Collection
        switch command {
        case .credit(let credit):
            collection = .accounts
            guard isFull(collection, capacity) else { return nil }
            adds = accounts[ExactString(credit.userID)] == nil
        case .consume(let consume):
            collection = .usageUsers
            guard isFull(collection, capacity) else { return nil }
            adds = usage.usage(of: consume.userID) == nil
        case .reserve(let reserve):
            if isFull(.usageUsers, capacity), usage.usage(of: reserve.userID) == nil {
                collection = .usageUsers
            } else {
                collection = .reservations
                guard isFull(collection, capacity) else { return nil }
            }
            adds = true
        case .startPurchase(let start):
            collection = .pendingPurchases
            guard isFull(collection, capacity) else { return nil }
            adds = purchasesByPayment[ExactString(start.paymentID)] == nil
        case .commit(let commit):
            collection = .predictions
            guard isFull(collection, capacity) else { return nil }
            adds = predictions[ExactString(commit.predictionID)] == nil
        case .closePrediction(let id, _):
            collection = .predictions
            guard isFull(collection, capacity) else { return nil }
            adds = predictions[ExactString(id)] == nil
        default:
            return nil
        }
        // A retry of a recorded key is answered from its record, whatever it would add.
        guard adds, Validation.check(command) == nil, key.isEmpty || idempotency.record(for: ExactString(key), at: now) == nil
        else { return nil }
        return full(collection, capacity)
    }

    private func isFull(_ collection: LedgerCapacity.Collection, _ capacity: LedgerCapacity) -> Bool {
        count(of: collection) >= capacity[collection]
    }

    private func full(_ collection: LedgerCapacity.Collection, _ capacity: LedgerCapacity) -> Refusal {
        let limit = capacity[collection]
        let name = collection.rawValue.split(separator: "_").joined(separator: " ")
        return Refusal(
            code: .resourceExhausted, reason: "CAPACITY_REACHED",
            message: "tallyd holds \(limit) \(name), its capacity ([capacity] \(collection.rawValue) in the config file); nothing was applied",
            details: ["collection": collection.rawValue, "capacity": String(limit)])
    }
}
