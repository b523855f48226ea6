import Synchronization
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyStore
import TallyWire

/// What tallyd does when the disk fails under the journal: it refuses mutations with
/// UNAVAILABLE and the reason, keeps answering reads from the last durable state, never
/// pretends a failed fsync worked, takes mutations again on its own once the disk does, and
/// after a restart has exactly what it acknowledged.
@Suite struct JournalFaultTests {
    /// Real files, with a switch that makes the next write or fdatasync fail the way a full
    /// disk or a dying device does.
    final class FaultyIO: JournalIO {
        enum Fault { case none, write, sync }
        let fault = Mutex(Fault.none)
        let real = PosixJournalIO()

        func createSegment(_ name: String, in directory: StoreDirectory) throws -> any SegmentFile {
            FaultySegment(try real.createSegment(name, in: directory), io: self)
        }

        func removeFile(_ name: String, in directory: StoreDirectory) throws { try real.removeFile(name, in: directory) }
        func syncDirectory(_ directory: StoreDirectory) throws { try real.syncDirectory(directory) }
    }

    final class FaultySegment: SegmentFile {
        let file: any SegmentFile
        let io: FaultyIO

        init(_ file: any SegmentFile, io: FaultyIO) {
            self.file = file
            self.io = io
        }

        func append(_ bytes: [UInt8]) throws {
            if io.fault.withLock({ $0 }) == .write { throw StoreError("injected: write failed: No space left on device") }
            try file.append(bytes)
        }

        func sync() throws {
            if io.fault.withLock({ $0 }) == .sync { throw StoreError("injected: fdatasync failed: Input/output error") }
            try file.sync()
        }

        func close() { file.close() }
    }

    @Test(arguments: [FaultyIO.Fault.write, .sync])
    func failedJournalRefusesMutationsKeepsReadsAndResumesWhenTheDiskDoes(_ fault: FaultyIO.Fault) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let io = FaultyIO()
        let metrics = scratch.root + "/metrics.sock"
        var server = try await scratch.start(io: io) { $0.metricsListen = "unix:" + metrics }
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        let acknowledged = try await client.credit(credit("alice", 10, key: "before"))
        #expect(acknowledged.balance.available == 10)

        io.fault.withLock { $0 = fault }
        let refused = await #expect(throws: TallyError.self) { try await client.credit(credit("alice", 5, key: "during")) }
        #expect(refused?.code == .unavailable && refused?.reason == "JOURNAL_FAILED")
        #expect(refused?.message.contains("injected") == true, "the answer says why")

        // While the disk still fails, tallyd's own tries to reopen the journal fail too (several
        // backoff rounds pass here): mutations stay refused, reads answer the last durable state.
        try await Task.sleep(for: .milliseconds(900))
        let still = await #expect(throws: TallyError.self) { try await client.spend(spend("alice", 1)) }
        #expect(still?.reason == "JOURNAL_FAILED")
        #expect(try await client.getBalance(userID: "alice").available == 10)
        // The alert's metric says so, and a scrape is answered while the journal is down.
        let during = try MetricsTests.get(metrics).body
        #expect(MetricsTests.value(#"tally_mutations_refused{reason="JOURNAL_FAILED"}"#, in: during) == 1, "\(during)")

        // The disk recovers: without a restart, tallyd takes mutations again within seconds.
        io.fault.withLock { $0 = .none }
        let resumed = try await retryUntilAccepted { try await client.credit(credit("alice", 1, key: "after")) }
        #expect(resumed.balance.available == 11 && !resumed.replayed)
        // What was answered JOURNAL_FAILED was cut with the undurable journal tail: its retry
        // applies it, once; the acknowledged credit is there exactly once.
        let retried = try await client.credit(credit("alice", 5, key: "during"))
        #expect(retried.balance.available == 16 && !retried.replayed)
        #expect(MetricsTests.value(#"tally_mutations_refused{reason="JOURNAL_FAILED"}"#, in: try MetricsTests.get(metrics).body) == 0)
        #expect(try await client.credit(credit("alice", 10, key: "before")).replayed)
        #expect(try await client.credit(credit("alice", 5, key: "during")).replayed)

        await client.close()
        try await server.shutdown()

        // A restart recovers exactly what was acknowledged.
        server = try await scratch.start()
        client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "alice").available == 16)
        #expect(try await client.credit(credit("alice", 5, key: "during")).replayed)
        await client.close()
        try await server.shutdown()
    }

    /// Many connections in flight when the fsync fails: none of them gets OK for anything that
    /// is not durable, and the state goes back to what was.
    @Test func failureWithManyBatchesInFlightAnswersNoneOfThemOK() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let io = FaultyIO()
        let server = try await scratch.start(io: io)
        let setup = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await setup.credit(credit("shared", 1_000))
        io.fault.withLock { $0 = .sync }
        let okCount = try await withThrowingTaskGroup(of: Int.self) { group in
            for c in 0..<8 {
                group.addTask {
                    let client = try await TallyClient.connect(socketPath: scratch.socket)
                    defer { Task { await client.close() } }
                    let requests = try (0..<50).map { i in
                        try envelope(Method.credit.rawValue, credit("shared", 1), callID: UInt64(c * 100 + i + 1))
                    }
                    let responses = try await client.sendAll(requests)
                    for response in responses {
                        #expect(response.code == .unavailable && response.reason == "JOURNAL_FAILED", "\(response)")
                    }
                    return responses.filter { $0.code == .ok }.count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(okCount == 0)
        #expect(try await setup.getBalance(userID: "shared").available == 1_000)
        #expect(await server.currentLedger().balance(of: "shared").account.available == 1_000)
        await setup.close()
        try? await server.shutdown()
    }
}

/// Calls `body` until it is not refused JOURNAL_FAILED (tallyd reopens its journal with a
/// backoff of at most 2 s); gives up after `seconds`.
func retryUntilAccepted<T>(seconds: Double = 10, _ body: () async throws -> T) async throws -> T {
    let clock = ContinuousClock()
    let end = clock.now + .seconds(seconds)
    while true {
        do {
            return try await body()
        } catch let error as TallyError where error.reason == "JOURNAL_FAILED" && clock.now < end {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
