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
    public func capacityRefusal(_ command: Command, at now: Timestamp, capacity: LedgerCapacity) -> Refusal? {
        guard Validation.check(command) == nil else { return nil }
        let key = ExactString(command.idempotencyKey)
        if !key.value.isEmpty {
            if idempotency.record(for: key, at: now) != nil { return nil }  // answered from its record
            if let full = full(.idempotencyRecords, capacity) { return full }
        }
        switch command {
        case .credit(let credit):
            return accounts[ExactString(credit.userID)] == nil ? full(.accounts, capacity) : nil
        case .consume(let consume):
            return usage.usage(of: consume.userID) == nil ? full(.usageUsers, capacity) : nil
        case .reserve(let reserve):
            if usage.usage(of: reserve.userID) == nil, let full = full(.usageUsers, capacity) { return full }
            return full(.reservations, capacity)
        case .startPurchase(let start):
            return purchasesByPayment[ExactString(start.paymentID)] == nil ? full(.pendingPurchases, capacity) : nil
        case .commit(let commit):
            return predictions[ExactString(commit.predictionID)] == nil ? full(.predictions, capacity) : nil
        case .closePrediction(let id, _):
            return predictions[ExactString(id)] == nil ? full(.predictions, capacity) : nil
        default:
            return nil
        }
    }

    private func full(_ collection: LedgerCapacity.Collection, _ capacity: LedgerCapacity) -> Refusal? {
        let limit = capacity[collection]
        guard count(of: collection) >= limit else { return nil }
        let name = collection.rawValue.split(separator: "_").joined(separator: " ")
        return Refusal(
            code: .resourceExhausted, reason: "CAPACITY_REACHED",
            message: "tallyd holds \(limit) \(name), its capacity ([capacity] \(collection.rawValue) in the config file); nothing was applied",
            details: ["collection": collection.rawValue, "capacity": String(limit)])
    }
}
