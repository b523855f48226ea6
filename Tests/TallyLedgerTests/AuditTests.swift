import Testing
import TallyLedger

/// The audit log in the pure Ledger: an attempt with an origin gets exactly one entry, accepted,
/// refused or replayed, in the same apply as the change; one without an origin gets none.
@Suite struct AuditTests {
    let app = AuditOrigin(uid: 1001, gid: 1001, role: "app", method: "/tally.v1.Ledger/Spend")

    @Test func everyAttemptIsRecordedWithItsOutcome() throws {
        var ledger = Ledger()
        _ = ledger.apply(credit("ann", 50), at: t0, origin: AuditOrigin(uid: 0, gid: 0, role: "admin", method: "/tally.v1.Ledger/Credit"))
        let spent = ledger.apply(spend("ann", 20, key: "k"), at: t0 + 1, origin: app)
        let replay = ledger.apply(spend("ann", 20, key: "k"), at: t0 + 2, origin: app)
        let before = ledger.balance(of: "ann")
        let poor = ledger.apply(spend("ann", 500), at: t0 + 3, origin: app)
        #expect(poor.changedState, "a refusal with an origin is journaled: its audit entry is state")
        #expect(ledger.balance(of: "ann") == before && ledger.nextTransactionID == 3)
        let entries = ledger.auditEntries(AuditFilter(), limit: 10)
        #expect(entries.map(\.id) == [4, 3, 2, 1])
        #expect(entries[0].code == 9 && entries[0].reason == "INSUFFICIENT_TOKENS" && entries[0].userID == "ann")
        #expect(entries[1].replayed && entries[1].code == 0 && entries[1].transactionIDs.isEmpty)
        #expect(entries[2].transactionIDs == [spent.receipt!.transaction.id] && entries[2].origin == app && entries[2].at == t0 + 1)
        #expect(replay.replayed)
        expectInvariants(ledger)

        // Filters: by user, status, reason and time.
        #expect(ledger.auditEntries(AuditFilter(status: .refused), limit: 10).map(\.id) == [4])
        #expect(ledger.auditEntries(AuditFilter(status: .accepted), limit: 10).map(\.id) == [3, 2, 1])
        #expect(ledger.auditEntries(AuditFilter(reason: "INSUFFICIENT_TOKENS"), limit: 10).count == 1)
        #expect(ledger.auditEntries(AuditFilter(userID: "bob"), limit: 10).isEmpty)
        #expect(ledger.auditEntries(AuditFilter(since: t0 + 1, until: t0 + 3), limit: 10).map(\.id) == [3, 2])
        #expect(ledger.auditEntries(AuditFilter(), beforeID: 3, limit: 1).map(\.id) == [2])
    }

    @Test func aRefusedAttemptOnlyAudits() {
        var ledger = Ledger()
        _ = ledger.apply(credit("ann", 50), at: t0)
        let before = ledger
        let denied = Refusal(code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD", message: "the app role may not call X")
        let applied = ledger.apply(.refusedAttempt(RefusedAttempt(userID: "", refusal: denied)), at: t0 + 1, origin: app)
        #expect(applied.outcome == .refused(denied) && applied.changedState)
        #expect(ledger.accounts == before.accounts && ledger.transactions == before.transactions && ledger.auditLog.count == 1)
        #expect(ledger.auditLog[1]?.code == 7 && ledger.auditLog[1]?.reason == "ROLE_FORBIDS_METHOD")
        expectInvariants(ledger)
    }

    @Test func withoutAnOriginNothingIsAudited() {
        var ledger = Ledger()
        _ = ledger.apply(credit("ann", 50), at: t0)
        let refused = ledger.apply(spend("ann", 500), at: t0 + 1)
        #expect(!refused.changedState && ledger.auditLog.isEmpty && ledger.nextAuditID == 1)
    }

    @Test func messagesAreWrittenWhenReadAndReadTheSameAsText() {
        var ledger = Ledger()
        _ = ledger.apply(credit("ann", 100), at: t0, origin: app)
        _ = ledger.apply(spend("ann", 30), at: t0 + 1, origin: app)
        let entries = ledger.auditEntries(AuditFilter(), limit: 10)
        #expect(entries.map(\.message) == ["spend 30: available 100 -> 70", "grant 100: available 0 -> 100"])
        #expect(entries.map(\.transactionIDs) == [[2], [1]])
        // A snapshot keeps the text; the entry rebuilt from it equals the one kept as numbers.
        for entry in entries {
            let fromText = AuditEntry(
                id: entry.id, at: entry.at, origin: entry.origin, userID: entry.userID, code: entry.code,
                reason: entry.reason, message: entry.message, replayed: entry.replayed, transactionIDs: entry.transactionIDs)
            #expect(fromText == entry && entry == fromText)
            var other = fromText
            other.message = "something else"
            #expect(other != entry)
        }
        #expect(AuditNote.usage(used: 5, reserved: 2, limit: 10, date: CivilDay(year: 2026, month: 12, day: 4)).message
            == "used 5, reserved 2 of 10 on 2026-12-04")
        // Ids that are not consecutive stay as given.
        let scattered = AuditEntry(id: 9, at: t0, origin: app, userID: "", code: 0, reason: "", message: "", transactionIDs: [4, 2, 7])
        #expect(scattered.transactionIDs == [4, 2, 7])
        // Ids read from a damaged or foreign snapshot must not trap on overflow.
        for ids: [UInt64] in [[.max], [.max - 1, .max], [.max, 0], [3, 4, 5]] {
            let entry = AuditEntry(id: 1, at: t0, origin: app, userID: "", code: 0, reason: "", message: "", transactionIDs: ids)
            #expect(entry.transactionIDs == ids)
        }
    }
}
