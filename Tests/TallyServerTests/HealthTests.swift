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
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for user in ["a", "b", "c"] { _ = try await client.credit(credit(user, 10)) }
        _ = try await client.spend(spend("a", 4))
        let snapshot: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        let report: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest.with { $0.checkInvariants = true })
        #expect(report.acceptingMutations && report.refusalReason.isEmpty)
        #expect(report.accounts == 3 && report.transactions == 4)
        #expect(report.durableSequence == 4 && report.snapshotSequence == snapshot.journalSequence)
        #expect(report.connections == 1 && report.queuedCalls == 0 && report.queuedCallsLimit == 65_536)
        #expect(report.snapshotAgeMs >= 0 && report.uptimeMs >= 0)
        #expect(report.invariantsChecked && report.invariantViolations.isEmpty)
        let quick: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest())
        #expect(!quick.invariantsChecked)
        await client.close()
        try await server.shutdown()
    }
}
