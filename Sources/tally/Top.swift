import ArgumentParser
import Foundation
import Glibc
import TallyClient
import TallyWire

/// `tally top`: a live view of tallyd from Admin/Metrics, refreshed every second, like
/// `redis-cli --stat` and htop. On a terminal it redraws the screen; otherwise (a pipe, a file,
/// a script) it prints each refresh as plain lines after a blank line, and `--json` one object.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Live view of calls, latency, refusals, journal, snapshots, memory and top users.",
        discussion: "Rates are over the last refresh; the first view's are since tallyd started.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Option(help: "Stop after this many refreshes (0: until interrupted).") var count: Int = 0
    @Option(help: "How many of today's top users of the daily limits to show (admin only; 0: none).") var users: UInt32 = 10

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be 0.1 to 3600 seconds, got \(interval)") }
        guard count >= 0 else { throw ValidationError("--count must be 0 or more, got \(count)") }
    }

    func run() async throws {
        let client = try await global.connect()
        defer { Task { await client.close() } }
        let terminal = isatty(STDOUT_FILENO) == 1 && !global.json
        var previous: Tally_V1_MetricsResponse?
        var showUsers = users > 0
        var shown = 0
        while count == 0 || shown < count {
            if shown > 0 { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            let current: Tally_V1_MetricsResponse
            var top: [Tally_V1_UserTokens]?
            do {
                current = try await client.metrics(timeoutMs: global.timeoutMs)
                if showUsers {
                    do {
                        top = try await client.topUsers(limit: users, timeoutMs: global.timeoutMs).users
                    } catch let error as TallyError where error.code == .permissionDenied {
                        showUsers = false  // not an admin: the view says so instead
                    }
                }
            } catch let error as TallyError {
                try global.fail(error, human: "\(error.code.name) \(error.reason): \(error.message)", exit: ExitStatus.of(error.code))
            }
            let view = TopView(previous: previous, current: current, topUsers: users == 0 ? [] : top)
            // Written at once, not buffered: a pipe's reader sees each refresh as it comes.
            let text: String
            if global.json {
                let data = try JSONSerialization.data(withJSONObject: view.json(), options: [.sortedKeys, .withoutEscapingSlashes])
                text = String(decoding: data, as: UTF8.self) + "\n"
            } else if terminal {
                // Home, draw each line clearing its rest, clear what the last view left below.
                text = "\u{1B}[H" + view.lines(socket: global.resolvedSocket).map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J"
            } else {
                text = (shown > 0 ? "\n" : "") + view.lines(socket: global.resolvedSocket).joined(separator: "\n") + "\n"
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            previous = current
            shown += 1
        }
    }
}
