import Foundation
import Glibc
import TallyServer
import Testing

/// `tally --json` for scripts: every command's answer is one JSON object on stdout, with the
/// fields left at their defaults printed too, and every refusal one JSON object on stderr.
@Suite(.serialized) struct CLIJSONTests {
    /// Runs `tally ARGS --json --socket S`; the exit status and stdout or, on failure, stderr.
    static func tally(_ socket: String, _ arguments: [String]) throws -> (status: Int32, json: [String: Any]?, text: String) {
        let run = try ClientDeadlineTests.tally(arguments + ["--json", "--socket", socket])
        let text = run.status == 0 ? run.out : run.err
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return (run.status, object, text)
    }

    @Test func everyCommandAnswersJSONWithDefaultFieldsPrinted() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let s = scratch.socket
        let commands: [[String]] = [
            ["balance", "alice"], ["credit", "alice", "100"], ["spend", "alice", "10"], ["history", "alice"], ["transaction", "1"],
            ["package", "save", "p1", "--name", "Starter", "--tokens", "100", "--price-cents", "199"], ["packages"],
            ["purchase", "start", "alice", "p1", "pay-1"], ["purchase", "show", "pay-1"], ["purchase", "complete", "pay-1"],
            ["purchase", "start", "alice", "p1", "pay-2"], ["purchase", "fail", "pay-2", "declined"], ["purchases", "alice"],
            ["package", "deactivate", "p1"], ["packages", "--all"],
            ["commit", "alice", "rain", "yes", "5", "--odds", "2"], ["commit", "alice", "rain", "no", "3", "--odds", "2"],
            ["cancel", "2"], ["commitments", "--user", "alice"], ["resolve", "rain", "yes"],
            ["commit", "alice", "snow", "yes", "4", "--odds", "3"], ["void", "snow"],
            ["membership", "set", "alice", "subscribed", "--days", "30"], ["membership", "show", "alice"], ["membership", "end", "alice"],
            ["price", "set", "chat", "trial", "3"], ["prices"], ["spend", "alice", "--action", "chat"], ["price", "remove", "chat", "trial"],
            ["usage", "check", "bob"], ["usage", "consume", "bob", "5"], ["usage", "reserve", "bob", "10"], ["usage", "settle", "1", "7"],
            ["usage", "reserve", "bob", "3"], ["usage", "release", "2"], ["usage", "history", "bob"], ["usage", "top"], ["usage", "month"],
            ["limits", "set-tier", "gold", "500"], ["limits", "set-user", "bob", "900"], ["limits", "user-tier", "bob", "gold"],
            ["limits", "shadow", "--tier", "gold", "on"], ["limits", "default-tier", "trial"], ["limits", "zone", "UTC"], ["limits", "show"],
            ["audit"], ["reconcile"], ["snapshot"], ["backup", scratch.root + "/backup"], ["stats"], ["health"],
        ]
        var failures: [String] = []
        var answers: [String: [String: Any]] = [:]
        for command in commands {
            let (status, json, text) = try Self.tally(s, command)
            if status != 0 || json == nil { failures.append("\(command.joined(separator: " ")): exit \(status): \(text)") }
            if let json { answers[command.joined(separator: " ")] = json }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")

        // Fields at their defaults are printed: a new user's zeros, no reservations, not shadowed.
        let balance = try #require(answers["balance alice"]?["balance"] as? [String: Any])
        #expect(balance["available"] as? String == "0" && balance["committed"] as? String == "0" && balance["version"] as? String == "0")
        let check = try #require(answers["usage check bob"]?["status"] as? [String: Any])
        #expect(check["used"] as? String == "0" && check["reserved"] as? String == "0" && check["shadow"] as? Bool == false)
        let credited = try #require(answers["credit alice 100"])
        #expect(credited["replayed"] as? Bool == false)
        let transaction = try #require(credited["transaction"] as? [String: Any])
        #expect(transaction["memo"] as? String == "" && transaction["committed_before"] as? String == "0")
        #expect(transaction["metadata"] as? [String: Any] != nil, "an empty map prints as {}")
        let health = try #require(answers["health"])
        #expect(health["invariants_checked"] as? Bool == false && health["invariant_violations"] as? [Any] != nil)

        // A refusal: one JSON object on stderr, and the exit status of its class.
        let refused = try Self.tally(s, ["spend", "alice", "1000000"])
        #expect(refused.status == 1 && refused.json?["reason"] as? String == "INSUFFICIENT_TOKENS", "\(refused.text)")
        let missing = try Self.tally(s, ["transaction", "999"])
        #expect(missing.status == 66 && missing.json?["code"] as? String == "NOT_FOUND", "\(missing.text)")

        // One naming style: every key of every answer and error is snake_case, like the .proto
        // field names and error details (README, "Scripting with --json").
        var camel: [String] = []
        func collectCamel(_ value: Any, _ path: String) {
            if let object = value as? [String: Any] {
                for (key, inner) in object {
                    if key.contains(where: \.isUppercase) { camel.append(path + "." + key) }
                    collectCamel(inner, path + "." + key)
                }
            } else if let items = value as? [Any] {
                for item in items { collectCamel(item, path + "[]") }
            }
        }
        for (command, answer) in answers { collectCamel(answer, command) }
        collectCamel(refused.json ?? [:], "refused spend")
        #expect(camel.isEmpty, "keys not in snake_case: \(camel.sorted())")
        #expect(refused.json?["details"] as? [String: Any] != nil && (refused.json?["details"] as? [String: Any])?["shortfall"] != nil)
        try await server.shutdown()
    }
}
