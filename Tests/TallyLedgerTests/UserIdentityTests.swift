import Testing
import TallyLedger

/// Which strings name the same account or key. User ids and idempotency keys arrive from the
/// wire as UTF-8 bytes: two different byte strings never share an account or a key, even when
/// Swift's String == (Unicode canonical equivalence) calls them equal.
@Suite struct UserIdentityTests {
    /// "café" precomposed (NFC) and decomposed (NFD).
    static let nfc = "caf\u{E9}"
    static let nfd = "cafe\u{301}"

    @Test func theTwoSpellingsDifferOnlyInBytes() {
        #expect(Self.nfc == Self.nfd)  // what makes String-keyed state dangerous
        #expect(Array(Self.nfc.utf8) != Array(Self.nfd.utf8))
        #expect(Self.nfc.utf8.count == 5)
        #expect(Self.nfd.utf8.count == 6)
    }

    @Test("user ids that differ in their bytes are different accounts")
    func canonicallyEquivalentUserIDs() throws {
        var ledger = Ledger()
        try accept(&ledger, credit(Self.nfc, 100), at: t0)
        #expect(ledger.balance(of: Self.nfd).account == Account())
        let refusal = try refuseWithoutChange(
            &ledger, spend(Self.nfd, 100), at: t0 + 1, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        #expect(refusal.details["available"] == "0")

        let receipt = try accept(&ledger, credit(Self.nfd, 7), at: t0 + 2)
        #expect(receipt.transaction.balanceBefore == 0)
        #expect(receipt.balance.account.version == 1)
        #expect(ledger.accounts.count == 2)
        #expect(ledger.balance(of: Self.nfc).account.available == 100)
        #expect(ledger.balance(of: Self.nfd).account.available == 7)
        try accept(&ledger, spend(Self.nfc, 100), at: t0 + 3)
        #expect(ledger.balance(of: Self.nfd).account.available == 7)
        expectInvariants(ledger)
    }

    @Test("idempotency keys that differ in their bytes are different keys")
    func canonicallyEquivalentKeys() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 1, key: Self.nfc), at: t0)
        // Same request under the other spelling of the key: a new request, not a replay.
        let receipt = try accept(&ledger, credit("alice", 1, key: Self.nfd), at: t0 + 1)
        #expect(receipt.transaction.id == 2)
        #expect(sameBytes(receipt.transaction.idempotencyKey, Self.nfd))
        #expect(ledger.idempotency.records.count == 2)
        #expect(ledger.balance(of: "alice").account.available == 2)
        // Each spelling still replays its own record.
        #expect(ledger.apply(credit("alice", 1, key: Self.nfc), at: t0 + 2).receipt?.transaction.id == 1)
        #expect(ledger.apply(credit("alice", 1, key: Self.nfd), at: t0 + 3).receipt?.transaction.id == 2)
        expectInvariants(ledger)
    }

    @Test("a retry whose text differs only in normalization is a different request")
    func canonicallyEquivalentFields() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 1, memo: Self.nfc, key: "K"), at: t0)
        let refusal = try refuseWithoutChange(
            &ledger, credit("alice", 1, memo: Self.nfd, key: "K"), at: t0 + 1, code: .alreadyExists, reason: "IDEMPOTENCY_KEY_CONFLICT")
        #expect(refusal.details == ["idempotency_key": "K"])
        try accept(&ledger, credit(Self.nfc, 1, key: "U"), at: t0 + 2)
        try refuseWithoutChange(
            &ledger, credit(Self.nfd, 1, key: "U"), at: t0 + 3, code: .alreadyExists, reason: "IDEMPOTENCY_KEY_CONFLICT")
        #expect(ledger.apply(credit(Self.nfc, 1, key: "U"), at: t0 + 4).replayed)
    }

    @Test("ids differing in case or surrounding spaces are different users")
    func caseAndSpaces() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 10), at: t0)
        for other in ["Alice", "ALICE", " alice", "alice "] {
            #expect(ledger.balance(of: other).account.available == 0, "\(other)")
            try refuseWithoutChange(&ledger, spend(other, 1), at: t0 + 1, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        }
    }
}
