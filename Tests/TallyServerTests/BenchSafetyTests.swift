import Foundation
import Glibc
import Testing
import TallyClient
import TallyWire

/// `tally bench` keeps to its own users. It used to raise the default tier's daily
/// limit to 10^12 and, interrupted, leave it there for everyone. It now refuses a tallyd with
/// other accounts, raises only its own users' limits, and on SIGINT prints what it measured.
@Suite(.serialized) struct BenchSafetyTests {
    @Test func theBenchRefusesOtherDataAndAnInterruptedRunChangesNothingElse() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        // A fill with more connections than users (some get none) on a tallyd of its own.
        let fill = try ClientDeadlineTests.tally(["bench", "--fill", "3", "--connections", "8", "--socket", scratch.socket])
        #expect(fill.status == 0 && fill.out.contains("fill: 3 users x 1 passes = 3 credits"), "\(fill)")
        _ = try await client.credit(credit("alice", 5))
        _ = try await client.consume(userID: "alice", tokens: 3)
        let limitsBefore = try await client.getLimits()
        let socket = ["--socket", scratch.socket]

        let refused = try ClientDeadlineTests.tally(["bench", "--mix", "consume", "--duration", "1", "--users", "20"] + socket)
        #expect(refused.status == 64 && refused.err.contains("1 account not the bench's"), "\(refused)")  // bench-0...2 are its own

        // Told to run anyway, then interrupted mid-run.
        let benchOutput = scratch.root + "/bench.out"
        let bench = try ChildProcess(
            try ClientDeadlineTests.tallyPath(),
            ["bench", "--mix", "consume", "--duration", "120", "--users", "20", "--connections", "2",
                "--i-know-this-is-not-production"] + socket,
            stdout: .file(benchOutput))
        // Until it is consuming: a bench user has a count.
        for _ in 0..<500 where try await client.checkUsage(userID: "bench-1").used == 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(bench.processIdentifier, SIGINT)
        bench.waitUntilExit()
        let printed = (try? String(contentsOfFile: benchOutput, encoding: .utf8)) ?? ""
        #expect(bench.terminationStatus == 130, "\(printed)")
        #expect(printed.contains("bench consume: 2 connections") && printed.contains("(interrupted by signal \(SIGINT)"), "\(printed)")

        // Nothing but the bench's users changed: tiers as they were, alice's balance and count.
        #expect(try await client.getLimits() == limitsBefore)
        #expect(try await client.getBalance(userID: "alice").available == 5)
        #expect(try await client.checkUsage(userID: "alice").used == 3)
        #expect(try await client.checkUsage(userID: "bench-1").limit == 1_000_000_000_000)
        await client.close()
        try await server.shutdown()
    }
}
