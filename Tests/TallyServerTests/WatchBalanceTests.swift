import Foundation
import Glibc
import TallyClient
@testable import TallyServer
import TallyWire
import Testing

/// Ledger/WatchBalance over a real socket: durable changes of the watched users in order, a
/// resume from a position (after a kill -9 too: every change exactly once), cancel, deadline,
/// a watcher that never reads ended WATCH_TOO_SLOW with where to resume, and the refusals.
@Suite struct WatchBalanceTests {
    /// Reads `count` messages of `stream`.
    static func take(_ count: Int, _ stream: TallyStream<Tally_V1_BalanceChange>) async throws -> [Tally_V1_BalanceChange] {
        var got: [Tally_V1_BalanceChange] = []
        for try await change in stream {
            got.append(change)
            if got.count == count { break }
        }
        return got
    }

    @Test func liveChangesOfTheWatchedUsersArriveInOrder() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let writerClient = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await writerClient.credit(credit("before", 1))  // transaction 1: not watched, before the watch
        let stream = client.watchBalance(userIDs: ["alice", "bob"], timeoutMs: 30_000)
        var iterator = stream.makeAsyncIterator()
        let live = try #require(try await iterator.next())
        #expect(live.live && live.position == 1 && !live.hasTransaction, "\(live)")

        _ = try await writerClient.credit(credit("alice", 10))
        _ = try await writerClient.credit(credit("carol", 5))  // not watched
        _ = try await writerClient.spend(spend("alice", 3))
        _ = try await writerClient.credit(credit("bob", 7))
        var changes: [Tally_V1_BalanceChange] = []
        for _ in 0..<3 { changes.append(try #require(try await iterator.next())) }
        #expect(changes.map(\.position) == [2, 4, 5])
        #expect(changes.map(\.transaction.userID) == ["alice", "alice", "bob"])
        #expect(changes.map(\.transaction.balanceAfter) == [10, 7, 7])
        #expect(changes.allSatisfy { !$0.live && $0.transaction.id == $0.position })
        await client.close()
        await writerClient.close()
        try await server.shutdown()
    }

    @Test func resumeSendsEveryChangeAfterThePositionThenLive() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for amount in 1...5 { _ = try await client.credit(credit(amount % 2 == 0 ? "even" : "odd", Int64(amount))) }
        var iterator = client.watchBalance(userIDs: ["odd"], resumeAfter: 1, timeoutMs: 30_000).makeAsyncIterator()
        let resumed = [try #require(try await iterator.next()), try #require(try await iterator.next())]
        #expect(resumed.map(\.position) == [3, 5] && resumed.map(\.transaction.amount) == [3, 5])
        let live = try #require(try await iterator.next())
        #expect(live.live && live.position == 5)
        _ = try await client.credit(credit("odd", 7))
        let next = try #require(try await iterator.next())
        #expect(next.position == 6 && next.transaction.balanceAfter == 1 + 3 + 5 + 7)

        // Past the last durable change: said precisely, with the last position.
        let ahead = client.watchBalance(userIDs: ["odd"], resumeAfter: 99, timeoutMs: 30_000)
        let error = await #expect(throws: TallyError.self) { for try await _ in ahead {} }
        #expect(error?.code == .outOfRange && error?.reason == "POSITION_AHEAD" && error?.details["last_position"] == "6")
        await client.close()
        try await server.shutdown()
    }

    @Test func cancelDeadlineAndRefusals() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        // Breaking out of the loop cancels: the server lets the watch go.
        for try await change in client.watchBalance(userIDs: ["x"], timeoutMs: 30_000) where change.live { break }
        for _ in 0..<500 where await server.balanceWatchCount() > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await server.balanceWatchCount() == 0)
        // A stream dropped before it was even written is cancelled too, once its call id is known.
        for _ in 0..<20 { _ = client.watchBalance(userIDs: ["x"], timeoutMs: 30_000) }
        #expect(try await client.getBalance(userID: "x").available == 0)  // the watches are registered by now
        for _ in 0..<500 where await server.balanceWatchCount() > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await server.balanceWatchCount() == 0)
        // The connection goes on: a call after the cancel is answered.
        #expect(try await client.getBalance(userID: "x").available == 0)
        // cancel() lets the iteration read on to tallyd's last frame: CANCELLED, where to resume.
        let watch = client.watchBalance(userIDs: ["x"], timeoutMs: 30_000)
        var seen: [Tally_V1_BalanceChange] = []
        let cancelled = await #expect(throws: TallyError.self) {
            for try await change in watch {
                seen.append(change)
                if change.live { watch.cancel() }
            }
        }
        #expect(seen.count == 1 && cancelled?.code == .cancelled && cancelled?.reason == "CANCELLED")
        #expect(cancelled?.details["resume_after"] == String(seen.first?.position ?? 99))
        for _ in 0..<500 where await server.balanceWatchCount() > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await server.balanceWatchCount() == 0)

        // timeout_ms ends a stream with DEADLINE_EXCEEDED and where to resume.
        let timed = await #expect(throws: TallyError.self) { for try await _ in client.watchBalance(userIDs: ["x"], timeoutMs: 200) {} }
        #expect(timed?.code == .deadlineExceeded && timed?.details["resume_after"] == "0")

        for (request, reason) in [
            (Tally_V1_WatchBalanceRequest(), "WATCH_USERS_MISSING"),
            (.with { $0.userIds = ["a"]; $0.allUsers = true }, "WATCH_USERS_AND_ALL"),
            (.with { $0.userIds = (0...1_000).map { "u\($0)" } }, "WATCH_TOO_MANY_USERS"),
            (.with { $0.userIds = [""] }, "USER_ID_EMPTY"),
        ] {
            let response = try await client.send(try envelope(Method.watchBalance.rawValue, request))
            #expect(response.code == .invalidArgument && response.reason == reason && !response.more, "\(response)")
        }
        // Every user's changes are for admins only.
        guard case .invalid(let refusal) = try Method.watchBalance.endpoint.decode(
            try Tally_V1_WatchBalanceRequest.with { $0.allUsers = true }.serializedData(), .app)
        else { Issue.record("all_users was not refused for the app role"); return }
        #expect(refusal.code == .permissionDenied && refusal.reason == "ROLE_FORBIDS_ALL_USERS")
        await client.close()
        try await server.shutdown()
    }

    /// tallyd's stop ends every watch with its last frame, once every change is sent.
    @Test func shutdownEndsWatchesSayingSo() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        var iterator = client.watchBalance(userIDs: ["s"], timeoutMs: 30_000).makeAsyncIterator()
        #expect(try await iterator.next()?.live == true)
        _ = try await client.credit(credit("s", 4))
        #expect(try await iterator.next()?.transaction.amount == 4)
        try await server.shutdown()
        let end = await #expect(throws: TallyError.self) { _ = try await iterator.next() }
        #expect(end?.code == .unavailable && end?.reason == "SHUTTING_DOWN" && end?.details["resume_after"] == "1", "\(String(describing: end))")
        await client.close()
    }

    /// A watcher that never reads is ended, not allowed to grow tallyd's memory: once more than
    /// WatchStream.pendingLimit changes wait, its last frame says WATCH_TOO_SLOW and where to
    /// resume, after the frames it was sent.
    @Test func aWatcherThatNeverReadsIsEndedWithWhereToResume() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let slow = try RawConnection(path: scratch.socket)
        slow.send(frame(try envelope(Method.watchBalance.rawValue, Tally_V1_WatchBalanceRequest.with { $0.allUsers = true }, callID: 9).serializedBytes()))
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.getBalance(userID: "warm")
        let total = WatchStream.pendingLimit * 3
        for start in stride(from: 0, to: total, by: 1_000) {
            let requests = try (start..<start + 1_000).map { try envelope(Method.credit.rawValue, credit("w\($0 % 50)", 1), callID: UInt64($0 + 1)) }
            let answers = try await client.sendAll(requests)
            #expect(answers.allSatisfy { $0.code == .ok })
            if await server.balanceWatchCount() == 0 { break }
        }
        // Now read: messages in order, then the last frame.
        var last: UInt64 = 0
        var final: Tally_V1_Response?
        while let response = try slow.response() {
            if response.more {
                let change = try Tally_V1_BalanceChange(serializedBytes: response.payload)
                #expect(change.position >= last)
                last = change.position
            } else {
                final = response
                break
            }
        }
        let end = try #require(final)
        #expect(end.callID == 9 && end.code == .resourceExhausted && end.reason == "WATCH_TOO_SLOW", "\(end)")
        #expect(end.details["resume_after"] == String(last), "resume after the last one sent: \(end.details)")
        #expect(last > 0 && last < UInt64(total))
        #expect(await server.balanceWatchCount() == 0)
        await client.close()
        try await server.shutdown()
    }

    /// kill -9 under a write load, restart, resume from the last position received: every
    /// acknowledged change arrives exactly once, in order, as history has it.
    @Test func resumeAfterKill9DeliversEveryChangeExactlyOnce() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var tallyd = try DataDirectoryReplacedTests.Tallyd(data: scratch.data, socket: scratch.socket, log: scratch.root + "/log")
        try await tallyd.waitUntilServing(scratch.socket)
        let users = ["k1", "k2", "k3"]
        var seen: [UInt64: Tally_V1_Transaction] = [:]
        var order: [UInt64] = []
        let watcher = try await TallyClient.connect(socketPath: scratch.socket)
        let writer = try await TallyClient.connect(socketPath: scratch.socket)
        let stream = watcher.watchBalance(userIDs: users, timeoutMs: 30_000)
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.live == true)
        var acknowledged: Set<UInt64> = []
        for round in 0..<60 {
            if let made = try? await writer.credit(credit(users[round % 3], Int64(round + 1), key: "k-\(round)")) {
                acknowledged.insert(made.transaction.id)
            }
            if round == 30 {
                // Read what has come so far, then kill -9 while credits are in flight.
                for _ in 0..<acknowledged.count {
                    guard let change = try await iterator.next() else { break }
                    #expect(seen[change.position] == nil, "position \(change.position) twice")
                    seen[change.position] = change.transaction
                    order.append(change.position)
                }
                Task { for extra in 0..<20 { _ = try? await writer.credit(credit("k1", 1, key: "x-\(extra)")) } }
                try await Task.sleep(for: .milliseconds(5))
                tallyd.kill9()
                break
            }
        }
        await watcher.close()
        await writer.close()
        tallyd = try DataDirectoryReplacedTests.Tallyd(data: scratch.data, socket: scratch.socket, log: scratch.root + "/log")
        try await tallyd.waitUntilServing(scratch.socket)
        defer { tallyd.kill9() }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let history = try await client.listTransactions(.with { $0.limit = 1_000 }).transactions.filter { users.contains($0.userID) }
        let resumeAfter = order.last ?? 0
        var resumed = client.watchBalance(userIDs: users, resumeAfter: resumeAfter, timeoutMs: 30_000).makeAsyncIterator()
        while let change = try await resumed.next(), !change.live {
            #expect(seen[change.position] == nil, "position \(change.position) twice")
            seen[change.position] = change.transaction
            order.append(change.position)
        }
        #expect(order == order.sorted(), "in order")
        #expect(Set(seen.keys) == Set(history.map(\.id)), "every durable change of the users, exactly once")
        #expect(acknowledged.isSubset(of: Set(seen.keys)), "every acknowledged change")
        for transaction in history { #expect(seen[transaction.id] == transaction) }
        await client.close()
    }
}
