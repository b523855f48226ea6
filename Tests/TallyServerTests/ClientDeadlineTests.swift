import Foundation
import Glibc
import Testing
import TallyClient
import TallyStore
import TallyWire

/// Against a stopped tallyd (SIGSTOP; the kernel still accepts its
/// connections), the Swift client and the CLI waited forever. They now give up after the
/// call's timeout plus the client's grace with CLIENT_TIMEOUT (outcome unknown), and a
/// mutation retried with its key after tallyd continues is applied once.
@Suite(.serialized) struct ClientDeadlineTests {
    static func tallyPath() throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for candidate in [directory + "/tally", directory + "/../tally"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw StoreError("no tally binary next to \(CommandLine.arguments[0]): run `swift build --build-tests` first")
    }

    /// Runs the CLI; its exit status, stdout and stderr, and how long it took.
    static func tally(_ arguments: [String]) throws -> (status: Int32, out: String, err: String, seconds: Double) {
        let path = try tallyPath()
        let start = ContinuousClock.now
        let run = ChildProcess.run(path, arguments)
        let took = ContinuousClock.now - start
        return (
            run.status, run.out, run.err,
            Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        )
    }

    /// A bound on "it came back", far above timeout + grace (1.3 s): without the local deadline
    /// these calls never return at all.
    static let returnsWithin = 30.0

    /// Runs `body` with a tallyd process (to stop and continue) serving on `socket`.
    static func withTallyd(_ body: (_ socket: String, _ pid: pid_t) async throws -> Void) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let tallyd = try DataDirectoryReplacedTests.Tallyd(data: scratch.data, socket: scratch.socket, log: scratch.root + "/log")
        defer {
            kill(tallyd.process.processIdentifier, SIGCONT)
            tallyd.kill9()
        }
        try await tallyd.waitUntilServing(scratch.socket)
        try await body(scratch.socket, tallyd.process.processIdentifier)
    }

    @Test func theSwiftClientGivesUpOnAStoppedTallydAndTheConnectionStaysUsable() async throws {
        try await Self.withTallyd { socket, pid in try await swiftClient(socket, pid) }
    }

    func swiftClient(_ socketPath: String, _ pid: pid_t) async throws {
        let client = try await TallyClient.connect(socketPath: socketPath, timeoutGrace: .milliseconds(100))
        defer { Task { await client.close() } }

        kill(pid, SIGSTOP)
        let start = ContinuousClock.now
        do {
            _ = try await client.credit(credit("alice", 5, key: "k-alice"), timeoutMs: 200)
            Issue.record("a stopped tallyd answered")
        } catch let error as TallyError {
            #expect(error.code == .deadlineExceeded && error.reason == "CLIENT_TIMEOUT" && error.details["outcome"] == "unknown", "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(Self.returnsWithin))
        await #expect(throws: TallyError.self) { try await client.getBalance(userID: "alice", timeoutMs: 200) }
        #expect(client.callsGivenUp == 2)

        // tallyd goes on: the credit it had received runs (or, had the stop caught it between
        // its decoding and its batch, answers DEADLINE_EXCEEDED and does not), its late answer
        // is dropped, the connection answers new calls, and the retry with the key leaves
        // exactly one credit either way.
        kill(pid, SIGCONT)
        let retry = try await client.credit(credit("alice", 5, key: "k-alice"), timeoutMs: 5_000)
        #expect(retry.balance.available == 5, "\(retry)")
        #expect(try await client.getBalance(userID: "alice").available == 5)
    }

    @Test func theCLIGivesUpWithExit75AndNamesTheKeyToRetryWith() async throws {
        try await Self.withTallyd { socket, pid in try await cli(socket, pid) }
    }

    func cli(_ socketPath: String, _ pid: pid_t) async throws {
        let socket = ["--socket", socketPath]

        kill(pid, SIGSTOP)
        let balance = try Self.tally(["balance", "bob", "--timeout-ms", "300"] + socket)
        #expect(balance.status == 75 && balance.err.contains("DEADLINE_EXCEEDED CLIENT_TIMEOUT"), "\(balance)")
        #expect(balance.seconds < Self.returnsWithin)

        // A mutation without --key is sent with one of the CLI's own, named for the retry.
        let credit = try Self.tally(["credit", "bob", "7", "--timeout-ms", "300"] + socket)
        #expect(credit.status == 75 && credit.err.contains("outcome is unknown"), "\(credit)")
        let key = try #require(credit.err.firstMatch(of: /--key (cli-[0-9a-f-]+)/)?.1, "\(credit.err)")
        let json = try Self.tally(["usage", "consume", "bob", "1", "--timeout-ms", "300", "--json"] + socket)
        #expect(json.status == 75, "\(json)")
        let object = try JSONSerialization.jsonObject(with: Data(json.err.utf8)) as? [String: Any]
        #expect(object?["reason"] as? String == "CLIENT_TIMEOUT")
        #expect((object?["details"] as? [String: String])?["retry_key"]?.hasPrefix("cli-") == true, "\(json.err)")

        kill(pid, SIGCONT)
        let retried = try Self.tally(["credit", "bob", "7", "--key", String(key)] + socket)
        #expect(retried.status == 0, "\(retried)")  // "replayed" unless the stop caught the first in its batch
        let after = try Self.tally(["balance", "bob"] + socket)
        #expect(after.status == 0 && after.out.hasPrefix("bob: 7 available"), "credited once: \(after)")
    }
}
