import Foundation
import Glibc
import Testing
import TallyClient
import TallyLedger
import TallyStore
import TallyTestSupport
import TallyWire

/// kill -9 under load, for real: a tallyd process is killed at random moments (some while a
/// snapshot is being written), restarted, and every mutation it acknowledged must be there
/// exactly once. TALLY_CRASH_CYCLES sets the number of cycles (Scripts/crash-test.sh runs more).
@Suite(.serialized) struct CrashTests {
    /// What a client knows of one keyed mutation.
    struct Sent: Sendable {
        var request: Tally_V1_Request
        var user: String
        var delta: Int64  // credit +, spend -
        /// The answer, if one came: OK (with its transaction) or a refusal.
        var response: Tally_V1_Response?
    }

    static func tallydPath() throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for candidate in [directory + "/tallyd", directory + "/../tallyd"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw StoreError("no tallyd binary next to \(CommandLine.arguments[0]): run `swift build --build-tests` first")
    }

    final class Daemon {
        let process: ChildProcess

        init(_ path: String, scratch: Scratch) throws {
            // Errors to a log beside the data, not to the test runner's stderr.
            process = try ChildProcess(
                path,
                [
                    "--data-dir", scratch.data, "--socket", scratch.socket, "--snapshot-interval", "1",
                    "--snapshot-journal-mib", "1", "--log-level", "error",
                ],
                stderr: .file(scratch.root + "/tallyd.log"))
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    static func connect(_ scratch: Scratch, daemon: Daemon) async throws -> TallyClient {
        for _ in 0..<1_500 {  // up to about 30 s: a debug tallyd on a loaded machine replays slowly
            if !daemon.process.isRunning { throw StoreError("tallyd exited with \(daemon.process.terminationStatus)") }
            if let client = try? await TallyClient.connect(socketPath: scratch.socket),
                (try? await client.getBalance(userID: "probe")) != nil
            {
                return client
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StoreError("tallyd did not come up")
    }

    @Test func killNineLosesNothingAcknowledged() async throws {
        let cycles = Int(ProcessInfo.processInfo.environment["TALLY_CRASH_CYCLES"] ?? "") ?? 20
        let tallyd = try Self.tallydPath()
        let scratch = try Scratch()
        defer { scratch.remove() }
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var random = SplitMix64(seed: seed)
        let users = (0..<20).map { "crash-\($0)" }

        var all: [String: Sent] = [:]  // by idempotency key: every mutation ever sent
        var checked = 0, lost = 0, killsDuringSnapshot = 0, acknowledged = 0

        // A state big enough that snapshots take a while, so kills land during them too.
        var daemon = try Daemon(tallyd, scratch: scratch)
        defer { if daemon.process.isRunning { daemon.kill9() } }  // never leave one behind
        var client = try await Self.connect(scratch, daemon: daemon)
        for batch in 0..<40 {
            let requests = try (0..<1_000).map { i in
                try envelope(Method.credit.rawValue, credit("filler-\(batch)-\(i)", 1), callID: UInt64(i + 1))
            }
            _ = try await client.sendAll(requests)
        }
        await client.close()

        for cycle in 0..<cycles {
            // Load from four connections until the kill cuts them off.
            let killAfter = Int.random(in: 100...700, using: &random)
            let sent = try await withThrowingTaskGroup(of: [String: Sent].self) { group in
                for worker in 0..<4 {
                    let workerSeed = random.next()
                    group.addTask {
                        var random = SplitMix64(seed: workerSeed)
                        var mine: [String: Sent] = [:]
                        guard let client = try? await TallyClient.connect(socketPath: scratch.socket) else { return mine }
                        defer { Task { await client.close() } }
                        var i = 0
                        while true {
                            var batch: [(String, Sent)] = []
                            for _ in 0..<16 {
                                i += 1
                                let key = "c\(cycle)-w\(worker)-\(i)"
                                let user = users[Int(random.next() % UInt64(users.count))]
                                let amount = Int64(random.next() % 9 + 1)
                                let isSpend = random.next() % 3 == 0
                                let request = isSpend
                                    ? try envelope(Method.spend.rawValue, spend(user, amount, key: key))
                                    : try envelope(Method.credit.rawValue, credit(user, amount, key: key))
                                batch.append((key, Sent(request: request, user: user, delta: isSpend ? -amount : amount)))
                            }
                            for (key, entry) in batch { mine[key] = entry }
                            guard let responses = try? await client.sendAll(batch.map(\.1.request)) else { return mine }
                            for ((key, _), response) in zip(batch, responses) where response.code != .unavailable {
                                mine[key]?.response = response
                            }
                            if responses.contains(where: { $0.code == .unavailable }) { return mine }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(killAfter))
                if cycle % 2 == 1 {
                    // Every other cycle, kill while a snapshot of the whole state is being written.
                    let admin = try await TallyClient.connect(socketPath: scratch.socket)
                    let request = try envelope(Method.snapshot.rawValue, Tally_V1_SnapshotRequest())
                    let snapshot = Task { try? await admin.send(request) }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...400, using: &random)))
                    daemon.kill9()
                    // No answer: the kill came while the snapshot was being encoded or written.
                    if await snapshot.value?.code != .ok { killsDuringSnapshot += 1 }
                    await admin.close()
                } else {
                    daemon.kill9()
                }
                var merged: [String: Sent] = [:]
                for try await part in group { merged.merge(part) { a, _ in a } }
                return merged
            }
            for (key, entry) in sent { all[key] = entry }
            acknowledged += sent.values.filter { $0.response != nil }.count

            // Restart and check this cycle's mutations: an acknowledged one must come back as
            // the same answer, replayed; an unanswered one is applied now if it was not before.
            daemon = try Daemon(tallyd, scratch: scratch)
            client = try await Self.connect(scratch, daemon: daemon)
            let keys = sent.keys.sorted()
            for chunk in stride(from: 0, to: keys.count, by: 500).map({ Array(keys[$0..<min($0 + 500, keys.count)]) }) {
                let retries = try await client.sendAll(chunk.map { all[$0]!.request })
                for (key, retry) in zip(chunk, retries) {
                    if let first = all[key]!.response {
                        checked += 1
                        var same = retry.code == first.code && retry.reason == first.reason
                        if first.code == .ok {
                            let a = try Tally_V1_CreditResponse(serializedBytes: first.payload)
                            let b = try Tally_V1_CreditResponse(serializedBytes: retry.payload)
                            same = same && b.replayed && a.transaction == b.transaction
                        } else {
                            same = same && retry.details["replayed"] == "true"
                        }
                        if !same {
                            lost += 1
                            Issue.record("seed \(seed) cycle \(cycle): \(key) was answered \(first) before the crash, \(retry) after")
                        }
                    } else {
                        all[key]!.response = retry
                    }
                }
            }
            await client.close()
        }

        // Every balance is exactly what the answers add up to.
        client = try await Self.connect(scratch, daemon: daemon)
        var expected: [String: Int64] = [:]
        for entry in all.values where entry.response?.code == .ok {
            expected[entry.user, default: 0] += entry.delta
        }
        for user in users {
            let balance = try await client.getBalance(userID: user).available
            if balance != expected[user, default: 0] {
                lost += 1
                Issue.record("seed \(seed): \(user) has \(balance), the acknowledged mutations add up to \(expected[user, default: 0])")
            }
        }
        await client.close()
        daemon.stop()
        let recovered = try Recovery.run(dataDirectory: scratch.data, config: LedgerConfig(), readOnly: true)
        #expect(recovered.ledger.invariantViolations() == [])
        print("crash test: \(cycles) cycles, \(killsDuringSnapshot) kills during a snapshot write, \(acknowledged) mutations acknowledged, \(checked) checked after restart, \(lost) lost (seed \(seed))")
        #expect(lost == 0)
        #expect(checked > 0)
    }
}
