import Foundation
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyStore
import TallyWire

/// Reconciliation for real: over the socket a live tallyd's balances all agree with history
/// (the check is the proof), and `tallyd reconcile` finds and repairs a data directory whose
/// state tallyd refuses to start on (a credit missing from history).
@Suite struct ReconcileEndToEndTests {
    @Test func aLiveLedgerReconcilesClean() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for user in ["a", "b", "c"] { _ = try await client.credit(credit(user, 100)) }
        _ = try await client.spend(spend("a", 30))
        _ = try await client.commit(userID: "b", predictionID: "rain", position: .yes, stake: 40, oddsMicros: 1_500_000)
        _ = try await client.resolve(predictionID: "rain", winning: .yes)
        let report = try await client.reconcile()
        #expect(report.accountsChecked == 3 && report.transactionsChecked == 6 && report.mismatches.isEmpty, "\(report)")
        let repaired = try await client.reconcile(repair: true)
        #expect(repaired.mismatches.isEmpty && repaired.repairs.isEmpty)
        #expect(await server.currentLedger().auditLog.values.contains { $0.origin.method == Method.reconcile.rawValue })
        await client.close()
        try await server.shutdown()
    }


    @Test func tallydReconcileRepairsADamagedDataDirectory() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var healthy = Ledger()
        _ = healthy.apply(.credit(Credit(userID: "ann", amount: 80, kind: .grant)), at: 1_700_000_000_000_000)
        var accounts = healthy.accounts
        accounts["ann"] = Account(available: 100, totalEarned: 100, version: 2, createdAt: 1, updatedAt: 1)
        let damaged = Ledger(
            config: healthy.config, accounts: accounts, transactions: healthy.transactions, idempotency: healthy.idempotency,
            mint: healthy.mint - 20, burn: 0, nextTransactionID: healthy.nextTransactionID, lastTimestamp: healthy.lastTimestamp)
        try FileManager.default.createDirectory(atPath: scratch.data, withIntermediateDirectories: true)
        _ = try SnapshotFile.write(damaged, sequence: 0, directoryID: .random(), to: scratch.data + "/" + SnapshotFile.fileName(sequence: 0))

        #expect(try runTallyd(["verify", scratch.data]).status != 0, "tallyd would not start on it")
        let report = try runTallyd(["reconcile", scratch.data])
        #expect(report.status == 1 && report.output.contains("ann available: stored 100, history says 80"), "\(report.output)")
        let repair = try runTallyd(["reconcile", scratch.data, "--repair"])
        #expect(repair.status == 0 && repair.output.contains("repaired: transaction 2, adjustment 20 for ann"), "\(repair.output)")
        #expect(try runTallyd(["verify", scratch.data]).status == 0)
        #expect(try runTallyd(["reconcile", scratch.data]).output.contains("OK"))
    }

    /// A repair writes into the directory, so it takes the lock a running tallyd holds: beside
    /// one it refuses and writes nothing; the report alone only reads, and runs.
    @Test func aRepairBesideARunningTallydIsRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("ann", 5))
        let before = try FileManager.default.contentsOfDirectory(atPath: scratch.data).sorted()
        let repair = try runTallyd(["reconcile", scratch.data, "--repair"])
        #expect(repair.status == 1 && repair.output.contains("is in use by another tallyd"), "\(repair.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.data).sorted() == before, "nothing written")
        let report = try runTallyd(["reconcile", scratch.data])
        #expect(report.status == 0 && report.output.contains("OK"), "\(report.output)")
        _ = try await client.credit(credit("ann", 1))
        await client.close()
        try await server.shutdown()
        #expect(try runTallyd(["reconcile", scratch.data, "--repair"]).status == 0, "once tallyd is stopped")
    }
}
