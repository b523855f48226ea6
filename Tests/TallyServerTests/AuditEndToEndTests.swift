import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// The audit log over a real socket: accepted, refused and replayed mutations, refusals before
/// the Ledger (a role that may not call the method, a malformed payload, a rate limit), with the
/// caller's uid and role; filters and paging while attempts keep arriving; and a restart.
@Suite struct AuditEndToEndTests {
    func refused(_ body: () async throws -> Void) async -> TallyError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? TallyError
        }
    }

    @Test func everyAttemptIsAuditedAndListedByAnAdmin() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start { $0.rateLimits = [.spend: RateLimit(count: 1, periodSeconds: 60, burst: 3)] }
        var admin = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await admin.credit(credit("ann", 100))
        _ = try await admin.spend(spend("ann", 10, key: "s1"))
        _ = try await admin.spend(spend("ann", 10, key: "s1"))  // replayed
        #expect(await refused { _ = try await admin.spend(spend("ann", 1_000)) }?.reason == "INSUFFICIENT_TOKENS")
        #expect(await refused { _ = try await admin.spend(spend("ann", 1)) }?.reason == "RATE_LIMITED")
        let malformed = try await admin.send(try envelope(Method.credit.rawValue, Tally_V1_GetBalanceRequest(), callID: 99))
        #expect(malformed.reason == "CREDIT_KIND_MISSING" || malformed.reason == "USER_ID_EMPTY" || malformed.reason == "MALFORMED_PAYLOAD")

        let all = try await admin.listAudit(.with { $0.userID = "ann" })
        #expect(all.entries.map(\.reason) == ["RATE_LIMITED", "INSUFFICIENT_TOKENS", "", "", ""], "\(all.entries)")
        #expect(all.entries.allSatisfy { $0.uid == getuid() && $0.role == "admin" })
        #expect(all.entries[2].replayed && all.entries[2].method == Method.spend.rawValue && all.entries[4].method == Method.credit.rawValue)
        #expect(all.entries[3].transactionIds.count == 1)
        let refusals = try await admin.listAudit(.with { $0.status = .refused })
        #expect(refusals.entries.count == 3 && refusals.entries[0].method == Method.credit.rawValue)
        let byReason = try await admin.listAudit(.with { $0.reason = "RATE_LIMITED" })
        #expect(byReason.entries.count == 1 && byReason.entries[0].code == .resourceExhausted)

        // Paging by id stays right while new attempts arrive on another connection.
        let writer = try await TallyClient.connect(socketPath: scratch.socket)
        var seen: [UInt64] = []
        var before: UInt64 = 0
        repeat {
            let page = try await admin.listAudit(.with {
                $0.limit = 2
                $0.beforeID = before
            })
            seen += page.entries.map(\.id)
            before = page.nextBeforeID
            _ = try await writer.credit(credit("bob", 1))
        } while before != 0
        #expect(seen == Array((1...6).reversed()), "every entry once, newest first: \(seen)")
        await writer.close()

        // The log survives a restart.
        let log = await server.currentLedger().auditLog
        await admin.close()
        try await server.shutdown()
        server = try await scratch.start()
        admin = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(await server.currentLedger().auditLog == log)
        await admin.close()
        try await server.shutdown()
    }

    @Test func aRoleRefusalIsAuditedWithTheCaller() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { config in
            config.access = AccessPolicy(ownerUID: getuid() &+ 1, rules: [.uid(getuid()): .app])
        }
        let app = try await TallyClient.connect(socketPath: scratch.socket)
        let denied = await refused { _ = try await app.setPrice(action: "a", tier: "trial", cost: 1) }
        #expect(denied?.code == .permissionDenied && denied?.reason == "ROLE_FORBIDS_METHOD")
        let listing = await refused { _ = try await app.listAudit(Tally_V1_ListAuditRequest()) }
        #expect(listing?.code == .permissionDenied, "only admins read the audit log")
        let ledger = await server.currentLedger()
        let entries = ledger.auditEntries(AuditFilter(status: .refused), limit: 10)
        #expect(entries.count == 2 && entries.allSatisfy { $0.origin.uid == getuid() && $0.origin.role == "app" && $0.code == 7 })
        #expect(Set(entries.map(\.origin.method)) == [Method.setPrice.rawValue, Method.listAudit.rawValue])
        #expect(ledger.actionPrices.isEmpty)
        await app.close()
        try await server.shutdown()
    }
}

/// Audit entries past `auditKeep` move to DATA/archive/audit.jsonl at each snapshot and leave
/// memory; every id is in memory or in the archive, once, across a restart.
@Suite struct AuditArchiveEndToEndTests {
    @Test func oldEntriesMoveToTheArchiveAndMemoryStaysBounded() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start { $0.auditKeep = 3 }
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        for round in 0..<2 {
            for i in 0..<10 { _ = try await client.credit(credit("u\(i)", 1)) }
            let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
            var ledger = await server.currentLedger()
            for _ in 0..<200 where ledger.firstAuditID == 1 || ledger.auditLog.count > 4 {
                try await Task.sleep(for: .milliseconds(10))
                ledger = await server.currentLedger()
            }
            #expect(ledger.auditLog.count <= 4, "round \(round): \(ledger.auditLog.count) entries in memory")
            #expect(ledger.invariantViolations().isEmpty)
            if round == 0 {
                await client.close()
                try await server.shutdown()
                server = try await scratch.start { $0.auditKeep = 3 }
                client = try await TallyClient.connect(socketPath: scratch.socket)
            }
        }
        let ledger = await server.currentLedger()
        let records = try archiveRecords("audit.jsonl", kind: "audit", in: scratch.data)
        let archived = try records.map { try Tally_V1_AuditEntry(jsonString: $0).id }
        #expect(archived == Array(1..<ledger.firstAuditID), "every archived id once, in order")
        #expect(Set(ledger.auditLog.keys) == Set(ledger.firstAuditID..<ledger.nextAuditID), "the rest in memory")
        let methods = ledger.auditLog.values.map(\.origin.method) + (try records.map {
            try Tally_V1_AuditEntry(jsonString: $0).method
        })
        #expect(methods.filter { $0 == Method.credit.rawValue }.count == 20 && methods.contains("tallyd/ArchiveAudit"))

        // Audit/List goes on into the archive past the entries in memory: every id once, newest
        // first, in pages of 4 that cross from memory into the file; filters apply there too.
        var listed: [UInt64] = []
        var before: UInt64 = 0
        repeat {
            let page = try await client.listAudit(.with { $0.limit = 4; $0.beforeID = before })
            listed += page.entries.map(\.id)
            before = page.nextBeforeID
        } while before != 0
        #expect(listed == Array((1..<ledger.nextAuditID).reversed()), "\(listed)")
        let u2 = try await client.listAudit(.with { $0.userID = "u2"; $0.limit = 10 })
        #expect(u2.entries.count == 2 && u2.entries.allSatisfy { $0.userID == "u2" && $0.method == Method.credit.rawValue })
        #expect(u2.entries.map(\.id).allSatisfy { $0 < ledger.firstAuditID }, "both from the archive")
        let newest = try #require(try records.last.map { try Tally_V1_AuditEntry(jsonString: $0) })
        let since = try await client.listAudit(.with { $0.sinceUs = newest.atUs; $0.limit = 100 })
        #expect(since.entries.allSatisfy { $0.atUs >= newest.atUs } && since.entries.contains { $0.id == newest.id }, "nothing older than since")
        await client.close()
        try await server.shutdown()
    }
}
