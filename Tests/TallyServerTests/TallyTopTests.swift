import Foundation
import TallyClient
import TallyWire
import Testing

/// `tally top` against a busy tallyd: plain lines when stdout is not a terminal, one JSON object
/// a refresh with `--json`, and a redrawn screen on a terminal (`script` gives it a pty).
@Suite(.serialized) struct TallyTopTests {
    /// Credits and consumes on their own connection until `stop`, while `tally top` runs.
    static func busy(_ socket: String, until stop: @escaping @Sendable () -> Bool) -> Task<Int, any Error> {
        Task.detached {
            let client = try await TallyClient.connect(socketPath: socket)
            var calls = 0
            while !stop() {
                _ = try await client.credit(credit("top-\(calls % 7)", 3))
                _ = try await client.consume(userID: "chatty", tokens: 2)
                calls += 2
            }
            await client.close()
            return calls
        }
    }

    @Test func plainLinesShowEveryRowWhileTallydIsBusy() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let stop = StopFlag()
        let load = Self.busy(scratch.socket) { stop.isSet }
        // Some calls before the first view, so every row has figures.
        let probe = try await TallyClient.connect(socketPath: scratch.socket)
        for _ in 0..<500 where try await probe.checkUsage(userID: "chatty").used < 10 { try await Task.sleep(for: .milliseconds(20)) }
        await probe.close()
        let run = try ClientDeadlineTests.tally(["top", "--socket", scratch.socket, "--count", "3", "--interval", "0.3"])
        stop.set()
        _ = try await load.value
        #expect(run.status == 0, "\(run.err)")
        let text = run.out
        #expect(!text.contains("\u{1B}["), "no terminal codes when stdout is a file")
        #expect(text.components(separatedBy: "tallyd at \(scratch.socket), up ").count - 1 == 3, "three views:\n\(text)")
        for row in ["calls ", "mutations taken", "method", "refusals", "journal   fsyncs", "snapshot  age", "ledger    accounts", "top users today"] {
            #expect(text.components(separatedBy: "\n").filter { $0.hasPrefix(row) }.count == 3, "row '\(row)' in every view:\n\(text)")
        }
        // The last view: credits and consumes are being answered, with percentiles; the
        // consumer leads today's users; the journal fsyncs.
        let last = text.components(separatedBy: "tallyd at ").last ?? ""
        let credit = try #require(last.split(separator: "\n").first { $0.hasPrefix("Ledger/Credit ") })
        let cells = credit.split(separator: " ", omittingEmptySubsequences: true)
        #expect((Double(cells[1]) ?? 0) > 0 && (Int(cells[2]) ?? 0) > 0 && cells[3] != "-", "\(credit)")
        #expect(last.split(separator: "\n").contains { $0.hasPrefix("Usage/Consume ") })
        let users = try #require(last.components(separatedBy: "top users today\n").last)
        #expect(users.hasPrefix("  chatty "), "\(last)")
        #expect(!last.contains("fsyncs 0.0/s"), "\(last)")
        try await server.shutdown()
    }

    @Test func jsonGivesOneObjectARefresh() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for _ in 0..<5 { _ = try await client.credit(credit("j", 1)) }
        await #expect(throws: TallyError.self) { _ = try await client.spend(spend("j", 100)) }
        let run = try ClientDeadlineTests.tally(["top", "--socket", scratch.socket, "--count", "2", "--interval", "0.2", "--json"])
        #expect(run.status == 0, "\(run.err)")
        let objects = run.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == 2, "\(run.out)")
        let first = try #require(objects.first)
        let methods = try #require(first["methods"] as? [[String: Any]])
        #expect(methods.first { $0["method"] as? String == "Ledger/Credit" }?["total"] as? Double == 5)
        let refusals = try #require(first["refusals"] as? [[String: Any]])
        #expect(refusals.contains { $0["reason"] as? String == "INSUFFICIENT_TOKENS" && $0["total"] as? Double == 1 })
        #expect(first["tokens_in_circulation"] as? Double == 5 && first["accounts"] as? Double == 1)
        await client.close()
        try await server.shutdown()
    }

    @Test func aTerminalGetsARedrawnScreen() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let tally = try ClientDeadlineTests.tallyPath()
        // script(1) runs it on a pseudo-terminal and copies what it drew.
        let run = ChildProcess.run("/usr/bin/script", ["-qec", "\(tally) top --socket \(scratch.socket) --count 2 --interval 0.2", "/dev/null"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.components(separatedBy: "\u{1B}[H").count - 1 == 2, "each refresh starts at the top of the screen: \(run.out)")
        #expect(run.out.contains("\u{1B}[J") && run.out.contains("method"), "\(run.out)")
        try await server.shutdown()
    }
}

/// Set once, read from any thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
