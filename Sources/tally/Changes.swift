import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally changes --from N`: the change feed (Admin/Changes), one line per journal record.
struct ChangesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes", abstract: "Print the change feed: every journal record and what it gave (admins).",
        discussion: """
            Every durable record after --from (0: the journal's start), in order, then a line saying \
            the feed is live, then each new record as it becomes durable. With --json, one JournalChange \
            a line (its request and result.payload are the method's protobuf messages, base64).
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("from"), help: "Start after this journal sequence.") var from: UInt64 = 0
    @Option(name: .customLong("for"), help: "Stop after this many seconds (0: until interrupted).") var seconds: UInt32 = 0

    func validate() throws {
        guard seconds <= 4_294_967 else { throw ValidationError("--for must be at most 4294967 seconds") }
    }

    func run() async throws {
        let client = try await global.connect()
        defer { Task { await client.close() } }
        try await WatchOptions.print(
            client.changes(afterSequence: from, timeoutMs: seconds * 1_000), global, seconds: seconds, resumeWith: "--from", line: Self.line)
    }

    static func line(for change: Tally_V1_JournalChange) -> String {
        if change.live { return "live after record \(change.sequence)" }
        let what = change.method.isEmpty ? "tallyd \(change.internal)" : change.method.replacingOccurrences(of: "/tally.v1.", with: "")
        let result = change.result
        var text = "\(change.sequence)  \(utcTime(change.atUs))  \(what)  "
        guard result.code == .ok else { return text + "\(result.code.name) \(result.reason)" }
        text += "OK"
        switch Method(rawValue: change.method) {
        case .credit?:
            if let answer = try? Tally_V1_CreditResponse(serializedBytes: result.payload) { text += "  " + describe(answer.transaction) }
        case .spend?, .spendAction?:
            if let answer = try? Tally_V1_SpendResponse(serializedBytes: result.payload) { text += "  " + describe(answer.transaction) }
        case .consume?:
            if let answer = try? Tally_V1_ConsumeResponse(serializedBytes: result.payload) { text += "  " + describe(answer.status) }
        default:
            break
        }
        return text
    }
}
