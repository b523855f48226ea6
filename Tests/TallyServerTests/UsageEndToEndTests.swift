import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// A chat gateway's flow over a real socket: check, consume, reserve then settle or release,
/// refusals with the figures and the reset time, reservations that expire, shadow mode, a new
/// day at midnight in the configured zone, and the state surviving a restart.
@Suite struct UsageEndToEndTests {
    static func consumeRequest(_ user: String, _ tokens: Int64, callID: UInt64, key: String = "") throws -> Tally_V1_Request {
        try envelope(
            Method.consume.rawValue,
            Tally_V1_ConsumeRequest.with {
                $0.userID = user
                $0.tokens = tokens
                $0.idempotencyKey = key
            }, callID: callID)
    }

    /// 20 connections race pipelined consumes at one user's limit: the limit is never passed,
    /// what was accepted is exactly what is counted, and every refusal carries figures that add up.
    @Test func twentyConnectionsRacingOneLimitNeverPassIt() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let clients = try await (0..<20).asyncMap { _ in try await TallyClient.connect(socketPath: scratch.socket) }
        let sizes: [Int64] = [7, 13, 1, 50]  // per connection, by index
        let results = try await withThrowingTaskGroup(of: [(Int64, Tally_V1_Response)].self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    let tokens = sizes[index % sizes.count]
                    var answered: [(Int64, Tally_V1_Response)] = []
                    for round in 0..<5 {
                        let batch = try (0..<40).map { try Self.consumeRequest("racer", tokens, callID: UInt64(round * 40 + $0 + 1)) }
                        answered += try await client.sendAll(batch).map { (tokens, $0) }
                    }
                    return answered
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let accepted = results.filter { $0.1.code == .ok }
        let refused = results.filter { $0.1.code != .ok }
        let counted = accepted.reduce(Int64(0)) { $0 + $1.0 }
        let status = try await clients[0].checkUsage(userID: "racer")
        #expect(status.limit == 10_000)
        #expect(status.used == counted, "what was accepted is what is counted")
        #expect(counted <= 10_000, "the limit is never passed")
        #expect(counted > 10_000 - 50, "consumes that fit were not refused: \(counted)")
        #expect(!refused.isEmpty)
        for (tokens, answer) in refused {
            #expect(answer.code == .resourceExhausted && answer.reason == "DAILY_LIMIT_EXCEEDED", "\(answer)")
            let used = try #require(Int64(answer.details["used"] ?? ""))
            let remaining = try #require(Int64(answer.details["remaining"] ?? ""))
            #expect(answer.details["limit"] == "10000" && answer.details["reserved"] == "0")
            #expect(remaining == 10_000 - used && remaining < tokens, "a refusal only when it did not fit: \(answer.details)")
            #expect(answer.details["resets_at_us"] == String(status.resetsAtUs))
            #expect(answer.message.contains("resets at \(utcDescription(status.resetsAtUs))"), "\(answer.message)")
        }
        let day = UsageDay.utc(containing: WallClock.system.now())
        #expect(status.resetsAtUs == day.endsAt && status.date == day.date.description, "UTC midnight by default")
        for client in clients { await client.close() }
        try await server.shutdown()
    }

    @Test func reserveSettleReleaseAndExpiry() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.reservationSweepMilliseconds = 20 }
        let client = try await TallyClient.connect(socketPath: scratch.socket)

        let first = try await client.reserve(userID: "g", tokens: 4_000)
        #expect(first.status.reserved == 4_000 && first.status.remaining == 6_000)
        #expect(first.reservation.expiresAtUs - first.reservation.createdAtUs == 60_000_000, "60 s by default")
        let second = try await client.reserve(userID: "g", tokens: 4_000, ttlMs: 120_000)
        // Reservations hold quota: a third estimate does not fit.
        await #expect(throws: TallyError.self) { _ = try await client.reserve(userID: "g", tokens: 4_000) }
        do {
            _ = try await client.consume(userID: "g", tokens: 2_001)
            Issue.record("consumed past what the reservations left")
        } catch let error as TallyError {
            #expect(error.reason == "DAILY_LIMIT_EXCEEDED" && error.details["reserved"] == "8000" && error.details["remaining"] == "2000")
        }
        // The real count is charged in full, even past the estimate.
        let settled = try await client.settle(reservationID: first.reservation.id, tokens: 5_000, idempotencyKey: "s1")
        #expect(settled.status.used == 5_000 && settled.status.reserved == 4_000 && settled.status.remaining == 1_000)
        #expect(settled.reservation.tokens == 4_000)
        let again = try await client.settle(reservationID: first.reservation.id, tokens: 5_000, idempotencyKey: "s1")
        #expect(again.replayed && again.status.used == 5_000, "a retried settle counts once")
        do {
            _ = try await client.settle(reservationID: first.reservation.id, tokens: 5_000)
            Issue.record("settled twice")
        } catch let error as TallyError {
            #expect(error.code == .notFound && error.reason == "RESERVATION_NOT_FOUND")
        }
        let released = try await client.release(reservationID: second.reservation.id)
        #expect(released.status.used == 5_000 && released.status.reserved == 0 && released.status.remaining == 5_000)

        // A reservation nobody settles releases itself after its time-to-live.
        let brief = try await client.reserve(userID: "g", tokens: 3_000, ttlMs: 100)
        #expect(brief.status.reserved == 3_000)
        var status = try await client.checkUsage(userID: "g")
        let giveUp = ContinuousClock.now + .seconds(10)
        while status.reserved != 0 && ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(20))
            status = try await client.checkUsage(userID: "g")
        }
        #expect(status.reserved == 0 && status.used == 5_000, "expired, nothing counted")
        do {
            _ = try await client.settle(reservationID: brief.reservation.id, tokens: 10)
            Issue.record("settled an expired reservation")
        } catch let error as TallyError {
            #expect(error.reason == "RESERVATION_NOT_FOUND")
        }
        // The expiry went through the journal: a restart sees it released.
        await client.close()
        try await server.shutdown()
        let restarted = try await scratch.start()
        let after = try await TallyClient.connect(socketPath: scratch.socket)
        let recovered = try await after.checkUsage(userID: "g")
        #expect(recovered.used == 5_000 && recovered.reserved == 0)
        #expect(try await restarted.currentLedger().usage.reservations.isEmpty)
        await after.close()
        try await restarted.shutdown()
    }

    @Test func shadowModeCountsWouldBeRefusalsAndRefusesNothing() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.setLimits(.with { $0.tierLimit = .with { $0.tier = "trial"; $0.limit = 100 } })
        let settings = try await client.setLimits(.with { $0.shadow = .with { $0.tier = "trial"; $0.on = true } })
        #expect(settings.tiers.first { $0.tier == "trial" }?.shadow == true)
        _ = try await client.consume(userID: "s", tokens: 90)
        let over = try await client.consume(userID: "s", tokens: 50)
        #expect(over.status.used == 140 && over.status.shadow && over.status.shadowRefusals == 1 && over.status.remaining == 0)
        _ = try await client.setLimits(.with { $0.shadow = .with { $0.tier = "trial"; $0.on = false } })
        await #expect(throws: TallyError.self) { _ = try await client.consume(userID: "s", tokens: 1) }
        // Per user too, while the tier enforces.
        _ = try await client.setLimits(.with { $0.shadow = .with { $0.userID = "s"; $0.on = true } })
        let shadowed = try await client.consume(userID: "s", tokens: 1)
        #expect(shadowed.status.shadow && shadowed.status.shadowRefusals == 2 && shadowed.status.used == 141)
        await #expect(throws: TallyError.self) { _ = try await client.consume(userID: "other", tokens: 101) }
        await client.close()
        try await server.shutdown()
    }

    /// tallyd's clock is moved to a few seconds before midnight in Pacific/Auckland: a user at
    /// the limit is refused with that midnight as the reset time, and allowed again after it.
    /// (On a loaded machine the calls may miss the window; then it tries again, a few times.)
    @Test func allowedAgainAfterMidnightInTheConfiguredZone() async throws {
        let zone = "Pacific/Auckland"
        let calendar = try #require(UsageCalendar(zone: zone))
        let clock = WallClock(offsetMicroseconds: 0)
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.wallClock = clock }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.setLimits(.with { $0.timeZone = zone }).timeZone == zone)
        var crossed = false
        for attempt in 1...3 where !crossed {
            let user = "night-\(attempt)"
            // Each attempt stands 4 s before the next midnight (the clock only moves forward).
            let now = clock.now()
            let midnight = calendar.day(containing: now + 4_000_000).endsAt
            clock.move(toOffsetMicroseconds: clock.now() - WallClock.system.now() + (midnight - 4_000_000 - now))
            let full = try await client.consume(userID: user, tokens: 10_000)
            var refusal: TallyError?
            do { _ = try await client.consume(userID: user, tokens: 1) } catch let error as TallyError { refusal = error }
            guard full.status.resetsAtUs == midnight, refusal?.details["resets_at_us"] == String(midnight) else { continue }
            var fresh: Tally_V1_ConsumeResponse?
            let giveUp = ContinuousClock.now + .seconds(20)
            while fresh == nil && ContinuousClock.now < giveUp {
                try await Task.sleep(for: .milliseconds(250))
                fresh = try? await client.consume(userID: user, tokens: 1)
            }
            let next = try #require(fresh, "still refused 20 s after midnight")
            #expect(next.status.used == 1 && next.status.date != full.status.date)
            #expect(next.status.resetsAtUs == calendar.day(containing: midnight).endsAt)
            let history = try await client.usageHistory(userID: user)
            #expect(history.days.map(\.tokens) == [1, 10_000], "yesterday became a record: \(history.days)")
            crossed = true
        }
        #expect(crossed, "three attempts never reached midnight with the user at the limit")
        await client.close()
        try await server.shutdown()
    }

    @Test func idempotentConsumeLimitsAndReportsOverTheSocket() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let once = try await client.consume(userID: "k", tokens: 300, idempotencyKey: "msg-1")
        let twice = try await client.consume(userID: "k", tokens: 300, idempotencyKey: "msg-1")
        #expect(!once.replayed && twice.replayed && twice.status.used == 300)
        do {
            _ = try await client.consume(userID: "k", tokens: 301, idempotencyKey: "msg-1")
            Issue.record("a different request under a used key")
        } catch let error as TallyError {
            #expect(error.reason == "IDEMPOTENCY_KEY_CONFLICT")
        }
        _ = try await client.setLimits(.with { $0.userLimit = .with { $0.userID = "k"; $0.limit = 1_000 } })
        #expect(try await client.checkUsage(userID: "k").limit == 1_000)
        _ = try await client.setLimits(.with { $0.userTier = .with { $0.userID = "v"; $0.tier = "subscribed" } })
        _ = try await client.consume(userID: "v", tokens: 50_000)
        let top = try await client.topUsers()
        #expect(top.users.map(\.userID) == ["v", "k"] && top.users.map(\.tokens) == [50_000, 300])
        let month = try await client.monthByTier()
        #expect(month.tiers.map(\.tier) == ["subscribed", "trial"] && month.tiers.map(\.total) == [50_000, 300])
        #expect(try await client.monthByTier(tier: "trial").tiers.map(\.users) == [1])
        let limits = try await client.getLimits()
        #expect(limits.defaultTier == "trial" && limits.timeZone == "UTC" && limits.retentionDays == 35 && limits.retentionMonths == 13)

        // Bad input: a specific answer each, nothing changed.
        let bad: [(Tally_V1_SetLimitsRequest, String)] = [
            (.with { $0.timeZone = "Mars/Olympus" }, "TIME_ZONE_UNKNOWN"),
            (.with { $0.timeZone = "../etc" }, "TIME_ZONE_INVALID"),
            (.with { $0.tierLimit = .with { $0.tier = "trial"; $0.remove = true } }, "DEFAULT_TIER_NEEDS_LIMIT"),
            (.with { $0.defaultTier = "gold" }, "TIER_NOT_FOUND"),
            (.with { $0.shadow = .with { $0.tier = "trial"; $0.userID = "k"; $0.on = true } }, "SHADOW_TARGET_INVALID"),
            (Tally_V1_SetLimitsRequest(), "CHANGE_MISSING"),
            (.with { $0.tierLimit = .with { $0.tier = "x"; $0.limit = -1 } }, "LIMIT_NEGATIVE"),
        ]
        for (request, reason) in bad {
            do {
                _ = try await client.setLimits(request)
                Issue.record("accepted \(request)")
            } catch let error as TallyError {
                #expect(error.reason == reason, "\(request)")
            }
        }
        #expect(try await client.getLimits() == limits)
        for (date, reason) in [("2026-02-30", "DATE_INVALID"), ("yesterday", "DATE_INVALID")] {
            await #expect(throws: TallyError(code: .invalidArgument, reason: reason, message: "date must be YYYY-MM-DD, got '\(date)'", details: ["field": "date"])) {
                _ = try await client.topUsers(date: date)
            }
        }
        await client.close()
        try await server.shutdown()
    }

    @Test func methodsBelongToTheRightRoles() {
        for method in [Method.consume, .reserve, .settle, .release] {
            #expect(method.access == .usage && method.isMutation)
            #expect(Role.gateway.permits(method.access) && !Role.app.permits(method.access) && !Role.readOnly.permits(method.access))
        }
        for method in [Method.checkUsage, .getLimits, .usageHistory] {
            #expect(method.access == .read && !method.isMutation && Role.readOnly.permits(method.access))
        }
        for method in [Method.setLimits, .topUsers, .monthByTier] {
            #expect(method.access == .admin && !Role.gateway.permits(method.access) && Role.admin.permits(method.access))
        }
        #expect(Method.consume.rateClass == .usage && Method.settle.rateClass == nil)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
