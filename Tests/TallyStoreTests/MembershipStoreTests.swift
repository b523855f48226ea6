import TallyLedger
import TallyCodec
import TallyWire
import Testing

@testable import TallyStore

/// Memberships, the price table and action spends survive a snapshot and the journal exactly,
/// and a snapshot from before memberships reads its users' tiers as memberships.
@Suite struct MembershipStoreTests {
    static let start: Timestamp = 1_700_000_000_000_000

    static let commands: [Command] = [
        .changeUsage(.tierLimit(tier: "gold", tokens: 50_000)),
        .setActionPrice(SetActionPrice(action: "generate-post", tier: "trial", cost: 5)),
        .setActionPrice(SetActionPrice(action: "generate-post", tier: "gold", cost: 2)),
        .setActionPrice(SetActionPrice(action: "résumé ✓", tier: "gold", cost: 9)),
        .setActionPrice(SetActionPrice(action: "résumé ✓", tier: "gold", cost: nil)),
        .credit(Credit(userID: "ann", amount: 100, kind: .grant)),
        .setMembership(SetMembership(userID: "ann", tier: "gold", expiresAt: start + 86_400_000_000)),
        .setMembership(SetMembership(userID: "bo", tier: "subscribed")),
        .setMembership(SetMembership(userID: "bo", tier: nil)),
        .changeUsage(.userTier(userID: "cy", tier: "gold")),
        .spendAction(SpendAction(userID: "ann", action: "generate-post", reference: "post 1", idempotencyKey: "k1")),
        .spendAction(SpendAction(userID: "ann", action: "generate-post")),
    ]

    static func ledger() -> Ledger {
        var ledger = Ledger()
        for (offset, command) in commands.enumerated() {
            _ = ledger.apply(command, at: start + Int64(offset))
        }
        return ledger
    }

    @Test func snapshotHoldsMembershipsPricesAndActionSpends() throws {
        let ledger = Self.ledger()
        #expect(ledger.memberships.count == 2 && ledger.actionPriceList().map(\.action) == ["generate-post"])
        #expect(ledger.transactions.values.filter { $0.action == "generate-post" && $0.tier == "gold" }.count == 2)
        let bytes = try LedgerSnapshot.encode(ledger, journalSequence: 12)
        let (decoded, sequence) = try LedgerSnapshot.decode(bytes, config: ledger.config)
        #expect(decoded == ledger && sequence == 12)
        #expect(try LedgerSnapshot.encode(decoded, journalSequence: 12) == bytes)
    }

    @Test func journalRecordsCarryEveryMembershipCommand() {
        for (offset, command) in Self.commands.enumerated() {
            let record = JournalRecord(sequence: UInt64(offset + 1), command: command, timestamp: Self.start + Int64(offset))
            var bytes: [UInt8] = []
            #expect(throws: Never.self) { try record.encode(into: &bytes) }
            #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count), "\(command)")
        }
    }

    @Test func replayingTheJournalGivesTheSameState() {
        let live = Self.ledger()
        var replayed = Ledger()
        var probe = Ledger()
        for (offset, command) in Self.commands.enumerated() {
            let at = Self.start + Int64(offset)
            if probe.apply(command, at: at).changedState { _ = replayed.apply(command, at: at) }
        }
        #expect(replayed == live && replayed.invariantViolations().isEmpty)
    }

    @Test func anOldSnapshotsUserTierBecomesAMembership() throws {
        var snapshot = Tally_Store_V1_Snapshot()
        snapshot.lastTimestampUs = Self.start
        snapshot.nextTransactionID = 1
        snapshot.usage = UsageSnapshot.encode(UsageBook())
        snapshot.usage.users = [.with { $0.userID = "old"; $0.tier = "subscribed" }]
        let (ledger, _) = try LedgerSnapshot.decode(try snapshot.serializedBytes(), config: LedgerConfig())
        #expect(ledger.memberships["old"] == Membership(tier: "subscribed", expiresAt: nil, updatedAt: Self.start))
        #expect(ledger.tier(of: "old", at: Self.start) == "subscribed")
    }

    @Test func aPriceBelowOneIsDamage() throws {
        var snapshot = Tally_Store_V1_Snapshot()
        snapshot.actionPrices = [.with { $0.action = "a"; $0.costs = ["trial": 0] }]
        #expect(throws: StoreError.self) { try LedgerSnapshot.decode(try snapshot.serializedBytes(), config: LedgerConfig()) }
    }
}

/// The audit log survives the journal (each record carries its origin) and a snapshot.
@Suite struct AuditStoreTests {
    static let start: Timestamp = 1_700_000_000_000_000
    static let admin = AuditOrigin(uid: 0, gid: 0, role: "admin", method: "/tally.v1.Ledger/Credit")
    static let app = AuditOrigin(uid: 1001, gid: 100, role: "app", method: "/tally.v1.Ledger/Spend")

    static let records: [JournalRecord] = [
        JournalRecord(sequence: 1, command: .credit(Credit(userID: "ann", amount: 50, kind: .grant)), timestamp: start, origin: admin),
        JournalRecord(sequence: 2, command: .spend(Spend(userID: "ann", amount: 500)), timestamp: start + 1, origin: app),
        JournalRecord(
            sequence: 3,
            command: .refusedAttempt(RefusedAttempt(
                userID: "", refusal: Refusal(code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD", message: "no", details: ["role": "app"]))),
            timestamp: start + 2, origin: app),
        JournalRecord(sequence: 4, command: .spend(Spend(userID: "ann", amount: 5)), timestamp: start + 3),
    ]

    @Test func recordsCarryTheirOriginAndReplayToTheSameLog() throws {
        var live = Ledger()
        for record in Self.records {
            var bytes: [UInt8] = []
            try record.encode(into: &bytes)
            #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count))
            _ = live.apply(record.command, at: record.timestamp, day: record.day, origin: record.origin)
        }
        #expect(live.auditLog.count == 3 && live.auditLog[2]?.reason == "INSUFFICIENT_TOKENS" && live.auditLog[3]?.code == 7)
        let bytes = try LedgerSnapshot.encode(live, journalSequence: 4)
        let (decoded, _) = try LedgerSnapshot.decode(bytes, config: live.config)
        #expect(decoded == live && decoded.invariantViolations().isEmpty)
    }
}

/// Archived totals and archive commands survive a snapshot and the journal.
@Suite struct RetentionStoreTests {
    @Test func archivedTotalsRoundTrip() throws {
        var ledger = Ledger()
        let start: Timestamp = 1_700_000_000_000_000
        for i in 0..<6 { _ = ledger.apply(.credit(Credit(userID: i % 2 == 0 ? "ann" : "bo", amount: 10, kind: .grant)), at: start + Int64(i)) }
        _ = ledger.apply(.spend(Spend(userID: "ann", amount: 4)), at: start + 6)
        let command = Command.archiveTransactions(ArchiveTransactions(batch: 1, ids: ledger.archivable(keepPerUser: 1, limit: 10).map(\.id)))
        let record = JournalRecord(sequence: 1, command: command, timestamp: start + 7)
        var bytes: [UInt8] = []
        try record.encode(into: &bytes)
        #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count))
        _ = ledger.apply(command, at: start + 7)
        #expect(ledger.archived.count == 5 && ledger.invariantViolations().isEmpty)
        let snapshot = try LedgerSnapshot.encode(ledger, journalSequence: 1)
        let (decoded, _) = try LedgerSnapshot.decode(snapshot, config: ledger.config)
        #expect(decoded == ledger)
    }
}
