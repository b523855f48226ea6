import ArgumentParser
import Foundation
import TallyClient
import SwiftProtobuf
import TallyWire

/// What both watch commands take: whom to watch, and for how long.
struct WatchOptions: ParsableArguments {
    @Argument(help: "The users to watch (at most 1,000).") var users: [String] = []
    @Flag(help: "Every user (admins only).") var all = false
    @Option(name: .customLong("for"), help: "Stop after this many seconds (0: until interrupted). --timeout-ms does not apply to a watch.")
    var seconds: UInt32 = 0

    func validate() throws {
        guard all != !users.isEmpty else { throw ValidationError("name the users to watch, or give --all (not both)") }
        guard seconds <= 4_294_967 else { throw ValidationError("--for must be at most 4294967 seconds") }
    }

    var timeoutMs: UInt32 { seconds * 1_000 }

    /// Prints each message of `stream` as it comes (`line`, or one JSON object a line with
    /// --json), unbuffered. `--for` running out ends it quietly; any other end goes to stderr
    /// with its reason (and where to resume, when the stream says).
    func print<Message: SwiftProtobuf.Message>(
        _ stream: TallyStream<Message>, _ global: GlobalOptions, resumeWith option: String = "--after", line: (Message) -> String
    ) async throws {
        try await Self.print(stream, global, seconds: seconds, resumeWith: option, line: line)
    }

    static func print<Message: SwiftProtobuf.Message>(
        _ stream: TallyStream<Message>, _ global: GlobalOptions, seconds: UInt32, resumeWith option: String, line: (Message) -> String
    ) async throws {
        do {
            for try await message in stream {
                let text = global.json ? try JSONAnswer.string(message) : line(message)
                FileHandle.standardOutput.write(Data((text + "\n").utf8))
            }
        } catch let error as TallyError where error.code == .deadlineExceeded && seconds > 0 {
            return  // --for ran out: that is how a bounded watch ends
        } catch let error as TallyError {
            let resume = error.details["resume_after"].map { " (resume with \(option) \($0))" } ?? ""
            try global.fail(error, human: "\(error.code.name) \(error.reason): \(error.message)\(resume)", exit: ExitStatus.of(error.code))
        }
    }
}

/// `tally watch USER...`: balance changes as they become durable (Ledger/WatchBalance).
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Print balance changes as they become durable.",
        discussion: "The first line says from which position the watch is live; resume after a position with --after.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var watch: WatchOptions
    @Option(help: "First every change after this position (a transaction id), then the live ones.") var after: UInt64?

    func run() async throws {
        let client = try await global.connect()
        defer { Task { await client.close() } }
        let changes = client.watchBalance(userIDs: watch.users, allUsers: watch.all, resumeAfter: after, timeoutMs: watch.timeoutMs)
        try await watch.print(changes, global) { change in
            change.live ? "live after position \(change.position)" : describe(change.transaction)
        }
    }
}

/// `tally usage watch USER...`: the users' standing now, then after each durable usage change
/// and at each day's start (Usage/WatchUsage).
struct WatchUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Print users' usage standing as it changes.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var watch: WatchOptions

    func run() async throws {
        let client = try await global.connect()
        defer { Task { await client.close() } }
        try await watch.print(client.watchUsage(userIDs: watch.users, allUsers: watch.all, timeoutMs: watch.timeoutMs), global, line: Self.line)
    }

    static func line(for change: Tally_V1_UsageChange) -> String {
        if change.live { return "live" }
        let cause: String =
            switch change.cause {
            case .current: "now"
            case .consume: "consume"
            case .reserve: "reserve"
            case .settle: "settle"
            case .release: "release"
            case .expire: "expired"
            case .dayStart: "day start"
            default: "change"
            }
        if change.status.userID.isEmpty { return "\(cause): \(change.status.date) began, every count starts again" }
        return "\(cause)  " + describe(change.status)
    }
}
