import TallyLedger
import TallyWire
import Testing

@testable import TallyStore

/// Packages and purchases survive a snapshot and the journal exactly: every status, the
/// completion's credit, and the indexes rebuilt from them.
@Suite struct PurchaseStoreTests {
    static let start: Timestamp = 1_700_000_000_000_000

    static let commands: [Command] = [
        .savePackage(SavePackage(id: "starter", name: "Starter ✓", tokens: 1_000, bonusTokens: 50, priceCents: 499, externalPriceID: "price_1")),
        .savePackage(SavePackage(id: "pro", name: "Pro", tokens: 9_000, priceCents: 2_999, currency: "EUR", active: false, sortOrder: -3)),
        .deactivatePackage(id: "pro"),
        .startPurchase(StartPurchase(userID: "alice", packageID: "starter", paymentID: "pi_a")),
        .startPurchase(StartPurchase(userID: "bob", packageID: "starter", paymentID: "pi_b")),
        .startPurchase(StartPurchase(userID: "carol", packageID: "starter", paymentID: "pi_c")),
        .settlePurchase(SettlePurchase(paymentID: "pi_a", result: .completed)),
        .settlePurchase(SettlePurchase(paymentID: "pi_b", result: .failed(reason: "card declined"))),
        .expirePurchases,
    ]

    @Test func snapshotHoldsEveryPurchaseState() throws {
        var ledger = Ledger(config: LedgerConfig(purchaseTimeout: 1))
        for (offset, command) in Self.commands.enumerated() {
            _ = ledger.apply(command, at: Self.start + Int64(offset))
        }
        #expect(ledger.purchase(paymentID: "pi_c")?.failureReason == Purchase.expiredReason)
        #expect(ledger.purchase(paymentID: "pi_a")?.completion != nil && ledger.pendingPurchases.isEmpty)
        let bytes = try LedgerSnapshot.encode(ledger, journalSequence: 9)
        let (decoded, sequence) = try LedgerSnapshot.decode(bytes, config: ledger.config)
        #expect(decoded == ledger && sequence == 9)
        #expect(try LedgerSnapshot.encode(decoded, journalSequence: 9) == bytes)
    }

    @Test func journalRecordsCarryEveryPurchaseCommand() {
        for (offset, command) in Self.commands.enumerated() {
            let record = JournalRecord(sequence: UInt64(offset + 1), command: command, timestamp: Self.start + Int64(offset))
            var bytes: [UInt8] = []
            #expect(throws: Never.self) { try record.encode(into: &bytes) }
            #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count), "\(command)")
        }
    }

    @Test func replayingTheJournalGivesTheSameState() {
        var live = Ledger(config: LedgerConfig(purchaseTimeout: 1))
        var records: [(Command, Timestamp)] = []
        for (offset, command) in Self.commands.enumerated() {
            let at = Self.start + Int64(offset)
            if live.apply(command, at: at).changedState { records.append((command, at)) }
        }
        var replayed = Ledger(config: LedgerConfig(purchaseTimeout: 1))
        for (command, at) in records { _ = replayed.apply(command, at: at) }
        #expect(replayed == live && replayed.invariantViolations().isEmpty)
    }
}
