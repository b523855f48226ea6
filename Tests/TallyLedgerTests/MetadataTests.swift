import Testing
import TallyLedger

/// Transaction metadata: the caller's key-value facts, kept on the transaction,
/// part of what makes a keyed retry "the same request", and bounded.
@Suite struct MetadataTests {
    func credit(_ metadata: [ExactString: ExactString], key: String = "") -> Command {
        .credit(Credit(userID: "ann", amount: 10, kind: .grant, idempotencyKey: key, metadata: metadata))
    }

    @Test func keptOnTheTransactionAndPartOfTheRequest() throws {
        var ledger = Ledger()
        let receipt = try #require(ledger.apply(credit(["order": "o-1", "café": "é"], key: "k"), at: t0).receipt)
        #expect(receipt.transaction.metadata == ["order": "o-1", "café": "é"])
        #expect(ledger.apply(credit(["order": "o-1", "café": "é"], key: "k"), at: t0 + 1).replayed)
        #expect(ledger.apply(credit(["order": "o-2"], key: "k"), at: t0 + 2).refusal?.reason == "IDEMPOTENCY_KEY_CONFLICT")
        let spent = ledger.apply(.spend(Spend(userID: "ann", amount: 3, metadata: ["why": "tip"])), at: t0 + 3)
        #expect(spent.receipt?.transaction.metadata == ["why": "tip"])
        expectInvariants(ledger)
    }

    @Test func boundedAndRefusedWhole() {
        var ledger = Ledger()
        var many: [ExactString: ExactString] = [:]
        for i in 0...Limits.maxMetadataEntries { many[ExactString("k\(i)")] = "v" }
        #expect(ledger.apply(credit(many), at: t0).refusal?.reason == "METADATA_TOO_LARGE")
        #expect(ledger.apply(credit(["": "v"]), at: t0).refusal?.reason == "METADATA_KEY_EMPTY")
        #expect(ledger.apply(credit(["k": ExactString(String(repeating: "v", count: 257))]), at: t0).refusal?.reason == "FIELD_TOO_LONG")
        #expect(ledger.apply(credit([ExactString(String(repeating: "k", count: 65)): "v"]), at: t0).refusal?.reason == "FIELD_TOO_LONG")
        #expect(ledger.transactions.isEmpty)
    }
}
