import Foundation
import Testing
import TallyClient
@testable import TallyServer
import TallyWire

/// Per-user token buckets on mutations: bursts up to the limit pass, the next call is refused
/// RESOURCE_EXHAUSTED with how long to wait, nothing refused is applied, and other users and
/// classes are untouched.
@Suite struct RateLimitTests {
    @Test func bucketAdmitsBurstThenTheSteadyRate() {
        var limiter = RateLimiter(limits: [.spend: RateLimit(count: 10, burst: 3)])  // one per 100 ms
        let second: Int64 = 1_000_000_000
        for _ in 0..<3 { #expect(limiter.admit(user: "a", .spend, now: 0) == nil) }
        #expect(limiter.admit(user: "a", .spend, now: 0) == second / 10, "empty: wait one interval")
        #expect(limiter.admit(user: "a", .spend, now: second / 20) == second / 20)
        #expect(limiter.admit(user: "a", .spend, now: second / 10) == nil, "one call's worth came back")
        #expect(limiter.admit(user: "a", .spend, now: second / 10) != nil)
        #expect(limiter.admit(user: "b", .spend, now: 0) == nil, "another user has a bucket of its own")
        #expect(limiter.admit(user: "a", .credit, now: 0) == nil, "credits are not limited here")
        // After a long pause the bucket is full again, and no fuller than the burst.
        for _ in 0..<3 { #expect(limiter.admit(user: "a", .spend, now: 60 * second) == nil) }
        #expect(limiter.admit(user: "a", .spend, now: 60 * second) != nil)
    }

    @Test func idsAreComparedByteWise() {
        var limiter = RateLimiter(limits: [.spend: RateLimit(count: 1, periodSeconds: 3_600, burst: 1)])
        #expect(limiter.admit(user: "caf\u{E9}", .spend, now: 0) == nil)
        #expect(limiter.admit(user: "cafe\u{301}", .spend, now: 0) == nil, "a different byte string is a different user")
        #expect(limiter.admit(user: "caf\u{E9}", .spend, now: 0) == 3_600_000_000_000)
    }

    @Test func fullBucketsAreForgotten() {
        var limiter = RateLimiter(limits: [.spend: RateLimit(count: 1_000, burst: 10)])
        for user in 0..<5_000 { #expect(limiter.admit(user: "u\(user)", .spend, now: 0) == nil) }
        // A second later those buckets are full again: the sweep that growth triggers drops
        // them, so the map holds only buckets that still remember something.
        for user in 0..<4_000 { _ = limiter.admit(user: "v\(user)", .spend, now: 1_000_000_000) }
        #expect(limiter.buckets == 4_000)
    }

    @Test func refusedOverTheSocketWithRetryAfterAndNothingApplied() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.rateLimits = [.spend: RateLimit(count: 1, periodSeconds: 60, burst: 2)] }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("r", 100))
        _ = try await client.credit(credit("r", 100))
        _ = try await client.credit(credit("r", 100))  // credits are not limited
        let spends = try (1...4).map { try envelope(Method.spend.rawValue, spend("r", 1, key: "k\($0)"), callID: UInt64($0)) }
        let answers = try await client.sendAll(spends)
        #expect(answers.filter { $0.code == .ok }.count == 2)
        let refused = answers.filter { $0.code != .ok }
        #expect(refused.count == 2)
        for answer in refused {
            #expect(answer.code == .resourceExhausted && answer.reason == "RATE_LIMITED")
            #expect(answer.details["rate_class"] == "spend")
            let wait = try #require(Int(answer.details["retry_after_ms"] ?? ""))
            #expect(wait > 0 && wait <= 60_000)
        }
        #expect(try await client.getBalance(userID: "r").available == 298)
        // Another user's spends are not held back by r's empty bucket.
        _ = try await client.credit(credit("other", 1))
        #expect(try await client.spend(spend("other", 1, key: "o")).balance.available == 0)
        await client.close()
        try await server.shutdown()
    }
}
