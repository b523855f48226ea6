import Testing
import TallyLedger

/// Accepted credits and spends: balances, transaction records, system accounts.
@Suite struct LedgerTests {
    @Test(
        "each credit kind is recorded as its transaction type",
        arguments: [
            (CreditKind.purchase, TransactionType.purchase), (.grant, .grant), (.refund, .refund),
            (.adjustment, .adjustment),
        ])
    func creditKind(kind: CreditKind, type: TransactionType) throws {
        var ledger = Ledger()
        let receipt = try accept(&ledger, credit("alice", 250, kind: kind), at: t0)
        #expect(receipt.transaction.type == type)
        #expect(receipt.transaction.type.isCredit)
        #expect(receipt.transaction.amount == 250)
        #expect(receipt.transaction.balanceBefore == 0)
        #expect(receipt.transaction.balanceAfter == 250)
        #expect(ledger.balance(of: "alice").account.available == 250)
        #expect(ledger.balance(of: "alice").account.totalEarned == 250)
        #expect(ledger.mint == -250)
        #expect(ledger.burn == 0)
        expectInvariants(ledger)
    }

    @Test func spendMovesTokensToBurn() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 100), at: t0)
        let receipt = try accept(&ledger, spend("alice", 30), at: t0 + 1)
        #expect(receipt.transaction.type == .spend)
        #expect(receipt.transaction.type.isCredit == false)
        #expect(receipt.transaction.amount == 30)
        #expect(receipt.transaction.balanceBefore == 100)
        #expect(receipt.transaction.balanceAfter == 70)
        #expect(ledger.balance(of: "alice").account.available == 70)
        #expect(ledger.mint == -100)
        #expect(ledger.burn == 30)
        expectInvariants(ledger)
    }

    @Test func balanceFields() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 100, kind: .purchase), at: t0 + 1_000)
        try accept(&ledger, credit("bob", 7), at: t0 + 1_500)
        try accept(&ledger, credit("alice", 50, kind: .refund), at: t0 + 2_000)
        try accept(&ledger, spend("alice", 30), at: t0 + 3_000)
        let expected = Account(
            available: 120, committed: 0, totalEarned: 150, totalSpent: 30, version: 3, createdAt: t0 + 1_000,
            updatedAt: t0 + 3_000)
        #expect(ledger.balance(of: "alice") == Balance(userID: "alice", account: expected))
        #expect(
            ledger.balance(of: "bob")
                == Balance(
                    userID: "bob",
                    account: Account(available: 7, totalEarned: 7, version: 1, createdAt: t0 + 1_500, updatedAt: t0 + 1_500)))
        #expect(ledger.accounts.count == 2)
        #expect(ledger.lastTimestamp == t0 + 3_000)
        #expect(ledger.mint == -157)
        #expect(ledger.burn == 30)
        expectInvariants(ledger)
    }

    @Test func transactionRecords() throws {
        var ledger = Ledger()
        let first = try accept(
            &ledger, credit("alice", 100, kind: .purchase, reference: "order-17", memo: "starter pack", key: "k-1"),
            at: t0 + 10)
        let second = try accept(&ledger, spend("alice", 40, reference: "img-9", memo: "render", key: "k-2"), at: t0 + 20)
        let third = try accept(&ledger, credit("bob", 5, kind: .grant), at: t0 + 30)

        #expect(
            first.transaction
                == Transaction(
                    id: 1, userID: "alice", type: .purchase, amount: 100, balanceBefore: 0, balanceAfter: 100,
                    reference: "order-17", memo: "starter pack", idempotencyKey: "k-1", createdAt: t0 + 10))
        #expect(
            second.transaction
                == Transaction(
                    id: 2, userID: "alice", type: .spend, amount: 40, balanceBefore: 100, balanceAfter: 60,
                    reference: "img-9", memo: "render", idempotencyKey: "k-2", createdAt: t0 + 20))
        #expect(
            third.transaction
                == Transaction(
                    id: 3, userID: "bob", type: .grant, amount: 5, balanceBefore: 0, balanceAfter: 5, reference: "",
                    memo: "", idempotencyKey: "", createdAt: t0 + 30))
        // History holds exactly what the receipts said.
        #expect(ledger.transactions.count == 3)
        #expect(ledger.transactions[1] == first.transaction)
        #expect(ledger.transactions[2] == second.transaction)
        #expect(ledger.transactions[3] == third.transaction)
        #expect(ledger.nextTransactionID == 4)
        // Receipts carry the balance right after.
        #expect(first.balance.account.available == 100)
        #expect(first.balance.account.version == 1)
        #expect(second.balance == ledger.balance(of: "alice"))
        #expect(third.balance == ledger.balance(of: "bob"))
        expectInvariants(ledger)
    }

    @Test func unknownUserHasZeroBalance() throws {
        var ledger = Ledger()
        #expect(ledger.balance(of: "nobody") == Balance(userID: "nobody", account: Account()))
        try accept(&ledger, credit("alice", 10), at: t0)
        let nobody = ledger.balance(of: "nobody")
        #expect(nobody.userID == "nobody")
        #expect(nobody.account.available == 0)
        #expect(nobody.account.totalEarned == 0)
        #expect(nobody.account.totalSpent == 0)
        #expect(nobody.account.version == 0)
        #expect(nobody.account.createdAt == 0)
        #expect(ledger.accounts["nobody"] == nil)
    }

    @Test func spendExactlyTheWholeBalance() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 75), at: t0)
        let receipt = try accept(&ledger, spend("alice", 75), at: t0 + 1)
        #expect(receipt.transaction.balanceAfter == 0)
        #expect(ledger.balance(of: "alice").account.available == 0)
        #expect(ledger.balance(of: "alice").account.totalSpent == 75)
        #expect(ledger.balance(of: "alice").account.version == 2)
        let refusal = try refuseWithoutChange(
            &ledger, spend("alice", 1), at: t0 + 2, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        #expect(refusal.details["shortfall"] == "1")
    }

    @Test func insufficientTokens() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 100), at: t0)
        let refusal = try refuseWithoutChange(
            &ledger, spend("alice", 250), at: t0 + 1, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        #expect(refusal.details == ["available": "100", "requested": "250", "shortfall": "150"])
        #expect(refusal.message.contains("150"))
        #expect(refusal.message.contains("alice"))
        #expect(ledger.balance(of: "alice").account.available == 100)
        #expect(ledger.balance(of: "alice").account.version == 1)
        #expect(ledger.transactions.count == 1)
    }

    @Test func spendByUnknownUserIsRefusedAndCreatesNoAccount() throws {
        var ledger = Ledger()
        let refusal = try refuseWithoutChange(
            &ledger, spend("ghost", Int64.max), at: t0, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        #expect(refusal.details == ["available": "0", "requested": "\(Int64.max)", "shortfall": "\(Int64.max)"])
        #expect(ledger.accounts.isEmpty)
        #expect(ledger == Ledger())
    }

    @Test func keylessCommandsAreNeverDeduplicated() throws {
        var ledger = Ledger()
        let first = try accept(&ledger, credit("alice", 10), at: t0)
        let second = try accept(&ledger, credit("alice", 10), at: t0 + 1)
        #expect(first.transaction.id == 1)
        #expect(second.transaction.id == 2)
        #expect(ledger.balance(of: "alice").account.available == 20)
        #expect(ledger.idempotency.records.isEmpty)
    }

    @Test func usersAreIndependent() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 10), at: t0)
        try accept(&ledger, credit("bob", 3), at: t0 + 1)
        try refuseWithoutChange(&ledger, spend("bob", 4), at: t0 + 2, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        try accept(&ledger, spend("alice", 4), at: t0 + 3)
        #expect(ledger.balance(of: "alice").account.available == 6)
        #expect(ledger.balance(of: "bob").account.available == 3)
        #expect(ledger.mint == -13)
        #expect(ledger.burn == 4)
        expectInvariants(ledger)
    }
}
