import Testing
import TallyLedger

/// Each collection clients can grow has a bound: a command that would add past it is refused
/// CAPACITY_REACHED; one that adds nothing, a retry of a recorded key, and an invalid command
/// (refused for its own reason) are not.
@Suite struct CapacityTests {
    func reason(_ refusal: Refusal?) -> String? { refusal?.reason }

    @Test func newAccountsAndKeysStopAtTheirBound() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("a", 10, key: "k1"), at: t0)
        var capacity = LedgerCapacity()
        capacity.accounts = 1
        #expect(ledger.count(of: .accounts) == 1)
        let full = ledger.capacityRefusal(credit("b", 10), at: t0, capacity: capacity)
        #expect(full?.code == .resourceExhausted && full?.reason == "CAPACITY_REACHED")
        #expect(full?.details == ["collection": "accounts", "capacity": "1"])
        #expect(ledger.capacityRefusal(credit("a", 10), at: t0, capacity: capacity) == nil, "an existing account does not grow")
        #expect(ledger.capacityRefusal(credit("", 10), at: t0, capacity: capacity) == nil, "invalid: refused for its own reason")

        capacity = LedgerCapacity()
        capacity.idempotencyRecords = 1
        #expect(ledger.capacityRefusal(credit("a", 10, key: "k1"), at: t0, capacity: capacity) == nil, "a retry answers from its record")
        #expect(reason(ledger.capacityRefusal(credit("a", 10, key: "k2"), at: t0, capacity: capacity)) == "CAPACITY_REACHED")
        #expect(ledger.capacityRefusal(credit("a", 10), at: t0, capacity: capacity) == nil, "no key, no record")
    }

    @Test func usageUsersReservationsPurchasesAndPredictions() throws {
        var ledger = Ledger()
        let day = UsageDay.utc(containing: t0)
        _ = ledger.apply(.consume(Consume(userID: "u", tokens: 1)), at: t0, day: day)
        _ = ledger.apply(.reserve(Reserve(userID: "u", tokens: 1)), at: t0, day: day)
        var capacity = LedgerCapacity()
        capacity.usageUsers = 1
        capacity.reservations = 1
        capacity.pendingPurchases = 0
        capacity.predictions = 0
        #expect(ledger.count(of: .usageUsers) == 1 && ledger.count(of: .reservations) == 1)
        #expect(ledger.capacityRefusal(.consume(Consume(userID: "u", tokens: 1)), at: t0, capacity: capacity) == nil)
        #expect(ledger.capacityRefusal(.consume(Consume(userID: "v", tokens: 1)), at: t0, capacity: capacity)?.details["collection"] == "usage_users")
        #expect(ledger.capacityRefusal(.reserve(Reserve(userID: "u", tokens: 1)), at: t0, capacity: capacity)?.details["collection"] == "reservations")
        let start = Command.startPurchase(StartPurchase(userID: "u", packageID: "p", paymentID: "pay"))
        #expect(ledger.capacityRefusal(start, at: t0, capacity: capacity)?.details["collection"] == "pending_purchases")
        let close = Command.closePrediction(id: "new", at: nil)
        #expect(ledger.capacityRefusal(close, at: t0, capacity: capacity)?.details["collection"] == "predictions")
        #expect(ledger.capacityRefusal(spend("u", 1), at: t0, capacity: capacity) == nil, "a spend adds to nothing")
    }
}
