import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// Usage calls and the audit log over a real socket: by default a consume, reserve, settle or
/// release leaves no audit entry and no journal record of its own when refused; refusals are
/// counted per reason in health. `auditUsageCalls` gives each one an entry, as before.
@Suite struct UsageAuditEndToEndTests {
    func health(_ client: TallyClient) async throws -> Tally_V1_HealthResponse {
        try await client.unary(.health, Tally_V1_HealthRequest())
    }

    @Test func usageCallsAreCountedNotAuditedByDefault() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.setLimits(.with { $0.tierLimit = .with { $0.tier = "trial"; $0.limit = 10 } })
        let before = await server.currentLedger()

        _ = try await client.consume(userID: "g", tokens: 6)
        let reservation = try await client.reserve(userID: "g", tokens: 2)
        _ = try await client.settle(reservationID: reservation.reservation.id, tokens: 1)
        for _ in 0..<3 {
            let refused = await #expect(throws: TallyError.self) { try await client.consume(userID: "g", tokens: 5) }
            #expect(refused?.reason == "DAILY_LIMIT_EXCEEDED")
        }
        let missing = await #expect(throws: TallyError.self) { try await client.release(reservationID: 999) }
        #expect(missing?.reason == "RESERVATION_NOT_FOUND")

        let after = await server.currentLedger()
        #expect(after.nextAuditID == before.nextAuditID, "no usage call was audited")
        #expect(after.usageStatus(of: "g", on: UsageDay.utc(containing: after.lastTimestamp)).used == 7, "6 consumed, 1 settled")
        let report = try await health(client)
        #expect(report.usageRefusals == ["DAILY_LIMIT_EXCEEDED": 3, "RESERVATION_NOT_FOUND": 1])

        await client.close()
        try await server.shutdown()
    }

    @Test func auditUsageCallsGivesEachItsEntry() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.auditUsageCalls = true }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.setLimits(.with { $0.tierLimit = .with { $0.tier = "trial"; $0.limit = 10 } })
        _ = try await client.consume(userID: "h", tokens: 6)
        let refused = await #expect(throws: TallyError.self) { try await client.consume(userID: "h", tokens: 5) }
        #expect(refused?.reason == "DAILY_LIMIT_EXCEEDED")
        let entries = try await client.listAudit(.with { $0.userID = "h" }).entries
        #expect(entries.map(\.reason) == ["DAILY_LIMIT_EXCEEDED", ""])
        #expect(entries.allSatisfy { $0.method == Method.consume.rawValue })
        #expect(try await health(client).usageRefusals.isEmpty, "audited, so not counted apart")
        await client.close()
        try await server.shutdown()
    }
}
