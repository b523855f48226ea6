import Glibc
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyWire

@Suite struct PipeliningTests {
    /// 50 connections each pipeline 200 mixed credits and spends. Every answer carries its call
    /// id and the right content; the final balances are exactly what the answers add up to.
    @Test func fiftyConnectionsPipeliningTwoHundredCallsEach() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let connections = 50, callsPerConnection = 200

        // Per connection: its own user gets credit 10 / spend 3 alternately (always enough, in
        // order), and a user shared by everyone gets spends of 7 racing credits of 5.
        struct Tally: Sendable { var sharedCredited: Int64 = 0, sharedSpent: Int64 = 0, sharedRefused = 0 }
        let totals = try await withThrowingTaskGroup(of: Tally.self) { group in
            for c in 0..<connections {
                group.addTask {
                    let client = try await TallyClient.connect(socketPath: scratch.socket)
                    defer { Task { await client.close() } }
                    var requests: [Tally_V1_Request] = []
                    for i in 0..<callsPerConnection {
                        let id = UInt64(c * 1_000 + i + 1)
                        let request: Tally_V1_Request
                        switch i % 4 {
                        case 0: request = try envelope(Method.credit.rawValue, credit("own-\(c)", 10), callID: id)
                        case 1: request = try envelope(Method.spend.rawValue, spend("own-\(c)", 3), callID: id)
                        case 2: request = try envelope(Method.credit.rawValue, credit("shared", 5), callID: id)
                        default: request = try envelope(Method.spend.rawValue, spend("shared", 7), callID: id)
                        }
                        requests.append(request)
                    }
                    // All 200 written back to back before any answer is read.
                    let responses = try await client.sendAll(requests)
                    var tally = Tally()
                    for (request, response) in zip(requests, responses) {
                        #expect(response.callID == request.callID)
                        let i = Int(request.callID - 1) % 1_000
                        switch i % 4 {
                        case 0:
                            #expect(response.code == .ok, "\(response)")
                            let answer = try Tally_V1_CreditResponse(serializedBytes: response.payload)
                            #expect(answer.transaction.userID == "own-\(c)" && answer.transaction.amount == 10)
                        case 1:
                            #expect(response.code == .ok, "\(response)")
                            let answer = try Tally_V1_SpendResponse(serializedBytes: response.payload)
                            #expect(answer.transaction.userID == "own-\(c)" && answer.transaction.amount == 3)
                        case 2:
                            #expect(response.code == .ok, "\(response)")
                            let answer = try Tally_V1_CreditResponse(serializedBytes: response.payload)
                            #expect(answer.transaction.userID == "shared" && answer.transaction.amount == 5)
                            tally.sharedCredited += 5
                        default:
                            if response.code == .ok {
                                let answer = try Tally_V1_SpendResponse(serializedBytes: response.payload)
                                #expect(answer.transaction.userID == "shared" && answer.transaction.amount == 7)
                                #expect(answer.transaction.balanceAfter == answer.transaction.balanceBefore - 7)
                                tally.sharedSpent += 7
                            } else {
                                #expect(response.code == .failedPrecondition && response.reason == "INSUFFICIENT_TOKENS")
                                tally.sharedRefused += 1
                            }
                        }
                    }
                    return tally
                }
            }
            var sum = Tally()
            for try await t in group {
                sum.sharedCredited += t.sharedCredited
                sum.sharedSpent += t.sharedSpent
                sum.sharedRefused += t.sharedRefused
            }
            return sum
        }

        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for c in 0..<connections {
            let balance = try await client.getBalance(userID: "own-\(c)")
            #expect(balance.available == 50 * 10 - 50 * 3)
            #expect(balance.totalEarned == 500 && balance.totalSpent == 150 && balance.version == 100)
        }
        let shared = try await client.getBalance(userID: "shared")
        #expect(totals.sharedCredited == Int64(connections * callsPerConnection / 4 * 5))
        #expect(shared.available == totals.sharedCredited - totals.sharedSpent)
        #expect(shared.totalSpent == totals.sharedSpent)
        #expect(Int(totals.sharedSpent / 7) + totals.sharedRefused == connections * callsPerConnection / 4)
        let ledger = await server.currentLedger()
        #expect(ledger.invariantViolations() == [])
        let sharedSpends = Int(totals.sharedSpent / 7)
        let expectedTransactions: Int = connections * callsPerConnection / 2 + connections * callsPerConnection / 4 + sharedSpends
        #expect(ledger.transactions.count == expectedTransactions)
        await client.close()
        try await server.shutdown()
    }

    /// With a tiny in-flight limit tallyd stops reading instead of buffering; a client that
    /// pipelines far past it still gets every answer once answers drain.
    @Test func backpressureHoldsReadsButLosesNothing() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.maxCallsInFlight = 2 }
        let raw = try RawConnection(path: scratch.socket)
        var bytes: [UInt8] = []
        for i in 1...500 {
            bytes += try frame(try envelope(Method.credit.rawValue, credit("bp", 1), callID: UInt64(i)))
        }
        raw.send(bytes)
        var seen = Set<UInt64>()
        for _ in 1...500 {
            let response = try #require(try raw.response())
            #expect(response.code == .ok)
            seen.insert(response.callID)
        }
        #expect(seen == Set(1...500))
        #expect(await server.currentLedger().balance(of: "bp").account.available == 500)
        try await server.shutdown()
    }

    /// A client may send its requests, shut down its sending side, and still read every answer.
    @Test func halfClosedClientStillGetsEveryAnswer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let raw = try RawConnection(path: scratch.socket)
        var bytes: [UInt8] = []
        for i in 1...100 {
            bytes += try frame(try envelope(Method.credit.rawValue, credit("hc", 2), callID: UInt64(i)))
        }
        raw.send(bytes)
        raw.shutdownWrite()
        var seen = Set<UInt64>()
        while let response = try raw.response() {
            #expect(response.code == .ok)
            seen.insert(response.callID)
        }
        #expect(seen == Set(1...100))
        #expect(await server.currentLedger().balance(of: "hc").account.available == 200)
        try await server.shutdown()
    }

    /// A client that writes and never reads: once its unread answers pass the write buffer's
    /// high-water mark tallyd stops reading from it, instead of buffering answers without bound.
    @Test func clientThatNeverReadsIsNotReadFromEither() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let raw = try RawConnection(path: scratch.socket)
        var flags = fcntl(raw.fd, F_GETFL)
        flags |= O_NONBLOCK
        _ = fcntl(raw.fd, F_SETFL, flags)
        let one = try frame(try envelope(Method.credit.rawValue, credit("nr", 1), callID: 1))
        let chunk = Array([[UInt8]](repeating: one, count: 1_000).joined())
        // Write whole frames for as long as the socket takes them. If tallyd kept reading (and
        // buffering answers nobody reads) this would go on to the 80 MB cap; it must instead
        // stall for good: two seconds without the socket taking a byte (a busy machine can
        // pause a tallyd that still reads for half a second, which once ended the writing
        // before the answers had filled the socket's buffers).
        var sent = 0, offset = 0, stalledSince: ContinuousClock.Instant?
        while sent < chunk.count * 2_000 {
            let n = chunk[offset...].withUnsafeBytes { Glibc.send(raw.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                offset = (offset + n) % chunk.count
                stalledSince = nil
                continue
            }
            let now = ContinuousClock.now
            if let since = stalledSince, now - since > .seconds(2) { break }
            stalledSince = stalledSince ?? now
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(sent < chunk.count * 2_000, "writes stalled: tallyd stopped reading")
        // Everyone else is unaffected, and tallyd applied only part of what was sent.
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let applied = try await client.getBalance(userID: "nr").available
        #expect(applied > 0 && applied < Int64(sent / one.count), "applied \(applied) of \(sent / one.count) sent")
        await client.close()
        try await server.shutdown()
    }

    @Test func idempotentRetryOverTheWireAnswersTheFirstResult() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let first = try await client.credit(credit("carol", 40, key: "pay_123", kind: .purchase))
        let again = try await client.credit(credit("carol", 40, key: "pay_123", kind: .purchase))
        #expect(!first.replayed && again.replayed)
        #expect(again.transaction == first.transaction && again.balance == first.balance)
        let conflict = await #expect(throws: TallyError.self) {
            try await client.credit(credit("carol", 41, key: "pay_123", kind: .purchase))
        }
        #expect(conflict?.code == .alreadyExists && conflict?.reason == "IDEMPOTENCY_KEY_CONFLICT")
        #expect(try await client.getBalance(userID: "carol").available == 40)
        await client.close()
        try await server.shutdown()
    }
}
