import Foundation
import TallyClient
@testable import TallyServer
import TallyWire
import Testing

/// Usage/WatchUsage over a real socket: the watched users' standing now, then after each
/// durable consume, reserve, settle, release and expiry, and at the day's start.
@Suite struct WatchUsageTests {
    @Test func standingsFollowEveryUsageChangeOfTheWatchedUsers() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.reservationSweepMilliseconds = 50 }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.consume(userID: "g1", tokens: 4)
        var changes = client.watchUsage(userIDs: ["g1", "g2"], timeoutMs: 30_000).makeAsyncIterator()
        let current = [try #require(try await changes.next()), try #require(try await changes.next())]
        #expect(current.map(\.cause) == [.current, .current] && current.map(\.status.userID) == ["g1", "g2"])
        #expect(current.map(\.status.used) == [4, 0])
        #expect(try await changes.next()?.live == true)

        _ = try await client.consume(userID: "g1", tokens: 6)
        _ = try await client.consume(userID: "other", tokens: 1)  // not watched
        let reserved = try await client.reserve(userID: "g2", tokens: 10)
        _ = try await client.settle(reservationID: reserved.reservation.id, tokens: 7)
        let held = try await client.reserve(userID: "g2", tokens: 5)
        _ = try await client.release(reservationID: held.reservation.id)
        _ = try await client.reserve(userID: "g1", tokens: 2, ttlMs: 100)  // expires by itself
        var seen: [(Tally_V1_UsageChangeCause, String, Int64, Int64)] = []
        for _ in 0..<7 {
            let change = try #require(try await changes.next())
            seen.append((change.cause, change.status.userID, change.status.used, change.status.reserved))
        }
        #expect(seen.map(\.0) == [.consume, .reserve, .settle, .reserve, .release, .reserve, .expire], "\(seen)")
        #expect(seen[0].1 == "g1" && seen[0].2 == 10)
        #expect(seen[1].1 == "g2" && seen[1].3 == 10)
        #expect(seen[2].2 == 7 && seen[2].3 == 0, "settled: counted, no longer held")
        #expect(seen[4].2 == 7 && seen[4].3 == 0, "released: nothing counted")
        #expect(seen[6].1 == "g1" && seen[6].2 == 10 && seen[6].3 == 0, "expired: the hold is gone")

        // Every user's changes are for admins; the test runs as tallyd's own uid.
        var all = client.watchUsage(allUsers: true, timeoutMs: 30_000).makeAsyncIterator()
        #expect(try await all.next()?.live == true)
        _ = try await client.consume(userID: "anyone", tokens: 3)
        let any = try #require(try await all.next())
        #expect(any.cause == .consume && any.status.userID == "anyone" && any.status.used == 3)
        await client.close()
        for _ in 0..<500 where await server.usageWatchCount() > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await server.usageWatchCount() == 0, "a closed connection's watches end")
        try await server.shutdown()
    }

    /// At the usage day's end the watched users' counts start again, said once the new day began.
    @Test func theDaysStartIsSent() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let day: Int64 = 86_400_000_000
        // Noon UTC, whatever the time of day: the watch starts well inside a day.
        func offset(to moment: (Int64) -> Int64) -> Int64 { let now = WallClock.system.now(); return moment(now) - now }
        let clock = WallClock(offsetMicroseconds: offset { $0 / day * day + day / 2 })
        let server = try await scratch.start { $0.wallClock = clock }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.consume(userID: "night", tokens: 9)
        // Bounded, so that a missed day's start fails the test instead of hanging it.
        var changes = client.watchUsage(userIDs: ["night"], timeoutMs: 30_000).makeAsyncIterator()
        let before = try #require(try await changes.next())
        #expect(before.cause == .current && before.status.used == 9)
        #expect(try await changes.next()?.live == true)
        // The time of day jumps past the next midnight; the day's start follows within a second.
        clock.move(toOffsetMicroseconds: offset { $0 / day * day + day + 1_000_000 })
        let started = try #require(try await changes.next())
        #expect(started.cause == .dayStart && started.status.used == 0 && started.status.date > before.status.date, "\(started)")
        await client.close()
        try await server.shutdown()
    }
}
