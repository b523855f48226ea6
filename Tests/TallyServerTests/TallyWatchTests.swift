import Foundation
import TallyClient
import TallyWire
import Testing

/// `tally watch`: a line per durable change after a "live" line, JSON lines with --json, a
/// resume with --after, and a refusal's reason with where to resume on stderr; `tally usage
/// watch` and `tally changes` the same way.
@Suite struct TallyWatchTests {
    @Test func printsEachChangeAsItBecomesDurable() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("wa", 2))  // position 1, before the watch
        let out = scratch.root + "/watch.out", jsonOut = scratch.root + "/watch.json"
        let tally = try ClientDeadlineTests.tallyPath()
        let plain = try ChildProcess(tally, ["watch", "wa", "--for", "3", "--socket", scratch.socket], stdout: .file(out))
        let json = try ChildProcess(tally, ["watch", "wa", "--after", "0", "--for", "3", "--json", "--socket", scratch.socket], stdout: .file(jsonOut))
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        for _ in 0..<500 where !(text(out).contains("live after") && text(jsonOut).contains("\"live\":true")) {
            try await Task.sleep(for: .milliseconds(10))
        }
        _ = try await client.credit(credit("wa", 5))
        _ = try await client.credit(credit("other", 1))
        _ = try await client.spend(spend("wa", 3))
        plain.waitUntilExit()
        json.waitUntilExit()
        #expect(plain.terminationStatus == 0 && json.terminationStatus == 0)

        let lines = text(out).split(separator: "\n")
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "live after position 1")
        #expect(lines.dropFirst().allSatisfy { $0.contains("  wa  ") }, "\(lines)")
        #expect(lines.last?.contains("spend 3  available 7 -> 4") == true, "\(lines)")

        let objects = text(jsonOut).split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.map { $0["position"] as? String } == ["1", "1", "2", "4"], "resumed 1, live, then 2 and 4: \(objects)")
        #expect(objects[1]["live"] as? Bool == true)
        #expect((objects[3]["transaction"] as? [String: Any])?["balance_after"] as? String == "4")

        // Past the last change: the reason, and where to resume, on stderr; exit 65 (OUT_OF_RANGE).
        let ahead = try ClientDeadlineTests.tally(["watch", "wa", "--after", "99", "--socket", scratch.socket])
        #expect(ahead.status == 65 && ahead.err.contains("POSITION_AHEAD") && ahead.err.contains("--after 99"), "\(ahead)")
        #expect(try ClientDeadlineTests.tally(["watch", "--socket", scratch.socket]).status == 64, "no user and no --all")

        // tally usage watch: the standing now, then live (and --for ends it with exit 0).
        let usage = try ClientDeadlineTests.tally(["usage", "watch", "wa", "--for", "1", "--socket", scratch.socket])
        let usageLines = usage.out.split(separator: "\n")
        #expect(usage.status == 0 && usageLines.count == 2, "\(usage)")
        #expect(usageLines.first?.hasPrefix("now  wa on ") == true && usageLines.last == "live", "\(usageLines)")

        // tally changes: a line per journal record with what it gave, then live; --json too.
        let changes = try ClientDeadlineTests.tally(["changes", "--from", "2", "--for", "1", "--socket", scratch.socket])
        let changeLines = changes.out.split(separator: "\n")
        #expect(changes.status == 0 && changeLines.count == 3, "\(changes)")
        #expect(changeLines.first?.hasPrefix("3  ") == true && changeLines.first?.contains("Ledger/Credit  OK") == true, "\(changeLines)")
        #expect(changeLines.dropFirst().first?.contains("Ledger/Spend  OK") == true && changeLines.dropFirst().first?.contains("spend 3") == true)
        #expect(changeLines.last == "live after record 4", "\(changeLines)")
        let changesJSON = try ClientDeadlineTests.tally(["changes", "--from", "3", "--for", "1", "--json", "--socket", scratch.socket])
        let changeObjects = changesJSON.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(changeObjects.map { $0["sequence"] as? String } == ["4", "4"] && changeObjects.last?["live"] as? Bool == true, "\(changesJSON)")
        let pastEnd = try ClientDeadlineTests.tally(["changes", "--from", "99", "--socket", scratch.socket])
        #expect(pastEnd.status == 65 && pastEnd.err.contains("POSITION_AHEAD") && pastEnd.err.contains("--from 99"), "\(pastEnd)")
        await client.close()
        try await server.shutdown()
    }
}
