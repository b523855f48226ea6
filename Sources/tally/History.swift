import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally history [USER]` and `tally transaction ID`.
let transactionTypes: [String: Tally_V1_TransactionType] = [
    "purchase": .purchase, "grant": .grant, "refund": .refund, "adjustment": .adjustment, "spend": .spend, "commit": .commit,
    "win": .win, "loss": .loss, "commitment-refund": .commitmentRefund,
]

func describe(_ t: Tally_V1_Transaction) -> String {
    let type = transactionTypes.first { $0.value == t.type }?.key ?? "type \(t.type.rawValue)"
    var line = "\(t.id)  \(utcTime(t.createdAtUs))  \(t.userID)  \(type) \(t.amount)  available \(t.balanceBefore) -> \(t.balanceAfter)"
    if t.committedBefore != t.committedAfter { line += ", committed \(t.committedBefore) -> \(t.committedAfter)" }
    if !t.action.isEmpty { line += "  action \(t.action) (\(t.tier))" }
    if !t.reference.isEmpty { line += "  ref \(t.reference)" }
    if !t.memo.isEmpty { line += "  memo \(t.memo)" }
    if !t.metadata.isEmpty { line += "  " + t.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
    return line
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "A user's transactions (or everyone's, for admins), newest first.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id (omit for every user: admins only).") var user: String = ""
    @Option(name: .customLong("type"), help: "Only this type (repeatable): \(transactionTypes.keys.sorted().joined(separator: ", ")).")
    var types: [String] = []
    @Option(help: "Only from this time on (microseconds since the epoch).") var sinceUs: Int64 = 0
    @Option(help: "Only before this time (microseconds since the epoch).") var untilUs: Int64 = 0
    @Option(help: "At most this many (0: 50, at most 1000).") var limit: UInt32 = 0
    @Option(help: "Only ids below this (the previous page's next id).") var before: UInt64 = 0

    func run() async throws {
        let wanted = try types.map { name in
            guard let type = transactionTypes[name] else { throw ValidationError("unknown --type \(name)") }
            return type
        }
        let request = Tally_V1_ListTransactionsRequest.with {
            $0.userID = user
            $0.types = wanted
            $0.sinceUs = sinceUs
            $0.untilUs = untilUs
            $0.limit = limit
            $0.beforeID = before
        }
        try await global.run({ try await $0.listTransactions(request, timeoutMs: global.timeoutMs) }) { r in
            (r.transactions.isEmpty ? ["no transactions"] : r.transactions.map(describe)).joined(separator: "\n")
                + (r.nextBeforeID == 0 ? "" : "\nmore: --before \(r.nextBeforeID)")
        }
    }
}

struct TransactionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transaction", abstract: "Show one transaction by id.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Transaction id.") var id: UInt64

    func run() async throws {
        try await global.run({ client in
            let transaction = try await client.getTransaction(id: id, timeoutMs: global.timeoutMs)
            return Tally_V1_GetTransactionResponse.with { $0.transaction = transaction }
        }, human: { describe($0.transaction) })
    }
}
