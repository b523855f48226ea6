import Foundation
import Testing
import TallyClient
import TallyServer
import TallyWire

/// Admin/Health reports what operators need, checks every invariant on request, and tells when
/// tallyd refuses mutations.
@Suite struct HealthTests {
    @Test func reportsCountsSnapshotsAndInvariants() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let beforeStart = ContinuousClock.now
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for user in ["a", "b", "c"] { _ = try await client.credit(credit(user, 10)) }
        _ = try await client.spend(spend("a", 4))
        let beforeSnapshot = ContinuousClock.now
        let snapshot: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        let report: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest.with { $0.checkInvariants = true })
        let sinceStart = ContinuousClock.now - beforeStart, sinceSnapshot = ContinuousClock.now - beforeSnapshot
        #expect(report.acceptingMutations && report.refusalReason.isEmpty)
        #expect(report.accounts == 3 && report.transactions == 4)
        #expect(report.durableSequence == 4 && report.snapshotSequence == snapshot.journalSequence)
        #expect(report.connections == 1 && report.queuedCalls == 0 && report.queuedCallsLimit == 65_536)
        // Ages measured by tallyd fit inside the ones measured here (ms rounding aside).
        #expect(report.snapshotAgeMs >= 0 && .milliseconds(report.snapshotAgeMs) <= sinceSnapshot + .milliseconds(1),
                "snapshot age \(report.snapshotAgeMs) ms, the snapshot was asked \(sinceSnapshot) ago")
        #expect(report.uptimeMs >= 0 && .milliseconds(report.uptimeMs) <= sinceStart + .milliseconds(1),
                "uptime \(report.uptimeMs) ms, tallyd was started \(sinceStart) ago")
        #expect(report.uptimeMs >= report.snapshotAgeMs, "the snapshot was written after the start")
        #expect(report.journalSegments >= 1 && report.journalBytes > 0, "the journal on disk: \(report.journalSegments), \(report.journalBytes)")
        #expect(report.auditEntries > 0, "the mutations above were audited")
        #expect(report.invariantsChecked && report.invariantViolations.isEmpty)
        let quick: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest())
        #expect(!quick.invariantsChecked)
        await client.close()
        try await server.shutdown()
    }

    /// The state digest: the same for the live state, a backup of it and `tallyd verify` of
    /// either at one journal record, again after a restart; another record changes it.
    @Test func theStateDigestIsTheSameWhereverTheStateIs() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start()
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        for user in ["a", "b", "c"] { _ = try await client.credit(credit(user, 10)) }
        _ = try await client.spend(spend("a", 4))
        let digest = Tally_V1_HealthRequest.with { $0.digest = true }
        let first: Tally_V1_HealthResponse = try await client.unary(.health, digest)
        #expect(first.digestSequence == 4 && first.stateDigest.count == 64, "\(first)")
        #expect(first.stateDigest.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        let plain: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest())
        #expect(plain.stateDigest.isEmpty && plain.digestSequence == 0)

        let backupPath = scratch.root + "/b.tally"
        let backup: Tally_V1_BackupResponse = try await client.unary(.backup, Tally_V1_BackupRequest.with { $0.path = backupPath })
        #expect(backup.journalSequence == 4)
        let verified = try runTallyd(["verify", backupPath])
        #expect(verified.status == 0 && verified.output.contains("through journal record 4: \(first.stateDigest)"), "\(verified.output)")

        _ = try await client.credit(credit("d", 1))
        let second: Tally_V1_HealthResponse = try await client.unary(.health, digest)
        #expect(second.digestSequence == 5 && second.stateDigest != first.stateDigest)
        await client.close()
        try await server.shutdown()

        // Rebuilt from the files: the same state, the same digest.
        let onDisk = try runTallyd(["verify", scratch.data])
        #expect(onDisk.status == 0 && onDisk.output.contains("through journal record 5: \(second.stateDigest)"), "\(onDisk.output)")
        server = try await scratch.start()
        client = try await TallyClient.connect(socketPath: scratch.socket)
        let restarted: Tally_V1_HealthResponse = try await client.unary(.health, digest)
        #expect(restarted.digestSequence == 5 && restarted.stateDigest == second.stateDigest)
        await client.close()
        try await server.shutdown()
    }

    /// A failed snapshot is not a snapshot: the reported age keeps counting from the last one
    /// written (here: start-up, so at least the uptime), and the failure answers with a reason.
    @Test func failedSnapshotDoesNotResetTheSnapshotAge() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("h", 1))
        // A directory where the snapshot file must go: the rename into place fails.
        try FileManager.default.createDirectory(
            atPath: scratch.data + "/snapshot-00000000000000000001.tally", withIntermediateDirectories: false)
        try await Task.sleep(for: .milliseconds(50))
        let failed = try await client.send(try envelope(Method.snapshot.rawValue, Tally_V1_SnapshotRequest(), callID: 7))
        #expect(failed.code == .internal && failed.reason == "SNAPSHOT_FAILED" && failed.message.contains("snapshot"))
        let report: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest())
        #expect(report.snapshotSequence == 0)
        #expect(report.snapshotAgeMs >= report.uptimeMs, "age \(report.snapshotAgeMs) ms, uptime \(report.uptimeMs) ms")
        #expect(report.uptimeMs >= 50)
        await client.close()
        try? await server.shutdown()  // its final snapshot meets the same directory
    }
}
