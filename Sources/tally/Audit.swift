import ArgumentParser
import TallyClient
import TallyWire

/// `tally audit`: the audit log, newest first, one entry a line in aligned columns: id, time,
/// caller, method, user, outcome and message.
func describe(_ entries: [Tally_V1_AuditEntry]) -> [String] {
    aligned(entries.map { e in
        let outcome = e.code == .ok ? "OK" : "\(e.code.name) \(e.reason)"
        return [
            String(e.id), utcTime(e.atUs), "uid \(e.uid) (\(e.role))", e.method, e.userID.isEmpty ? "-" : e.userID,
            "\(outcome)\(e.replayed ? " (replayed)" : ""): \(e.message)",
        ]
    })
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Every mutation attempt, accepted or refused, newest first (admin).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this user's.") var user = ""
    @Flag(help: "Only refused attempts.") var refused = false
    @Flag(help: "Only accepted attempts.") var accepted = false
    @Option(help: "Only refusals with this reason, e.g. ROLE_FORBIDS_METHOD.") var reason = ""
    @Option(help: "Only from this time on (microseconds since the epoch).") var sinceUs: Int64 = 0
    @Option(help: "Only before this time (microseconds since the epoch).") var untilUs: Int64 = 0
    @Option(help: "At most this many (at most 1000).") var limit: UInt32 = 50
    @Option(help: "Only ids below this: the previous page's next id.") var before: UInt64 = 0

    func validate() throws {
        if refused && accepted { throw ValidationError("give --refused or --accepted, not both") }
    }

    func run() async throws {
        let request = Tally_V1_ListAuditRequest.with {
            $0.userID = user
            $0.status = refused ? .refused : accepted ? .accepted : .any
            $0.reason = reason
            $0.sinceUs = sinceUs
            $0.untilUs = untilUs
            $0.limit = limit
            $0.beforeID = before
        }
        try await global.run({ try await $0.listAudit(request, timeoutMs: global.timeoutMs) }) { r in
            guard !r.entries.isEmpty else { return "no audit entries" }
            return describe(r.entries).joined(separator: "\n") + (r.nextBeforeID == 0 ? "" : "\nmore: --before \(r.nextBeforeID)")
        }
    }
}

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Recompute every balance from the transaction history and report mismatches (admin); none should exist.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Write the transactions history is missing (journaled), so that it explains every balance.") var repair = false

    func run() async throws {
        try await global.run({ try await $0.reconcile(repair: repair, timeoutMs: global.timeoutMs) }) { r in
            var lines = ["\(counted(r.accountsChecked, "account")), \(counted(r.transactionsChecked, "transaction")): "
                + (r.mismatches.isEmpty ? "every balance agrees with history" : counted(r.mismatches.count, "mismatch", "mismatches"))]
            lines += r.mismatches.map { "  \($0.account) \($0.field): stored \($0.stored), history says \($0.fromHistory)" }
            lines += r.repairs.map { "  repaired: " + describe($0) }
            if !r.unrepairable.isEmpty { lines.append("  needs an operator: " + r.unrepairable.joined(separator: ", ")) }
            return lines.joined(separator: "\n")
        }
    }
}
