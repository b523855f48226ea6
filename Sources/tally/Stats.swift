import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally stats`: the admin's figures.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Tokens, volume and revenue (admin).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Revenue per day for this many days back (0: 30).") var days: UInt32 = 0

    func run() async throws {
        try await global.run({ try await $0.stats(days: days, timeoutMs: global.timeoutMs) }) { s in
            func money(_ r: Tally_V1_Revenue) -> String {
                String(format: "  %@  %d.%02d %@ from %d purchases (%d tokens)", r.period, r.cents / 100, r.cents % 100, r.currency, r.purchases, r.tokens)
            }
            var lines = [
                "\(counted(s.users, "user")) hold \(s.tokensInCirculation) tokens (\(s.tokensCommitted) committed); minted \(s.tokensMinted), burned \(s.tokensBurned), house net \(s.houseNet)",
                "\(counted(s.transactions, "transaction")), \(counted(s.activeCommitments, "active commitment")) on \(counted(s.openPredictions, "open prediction"))",
                "volume by type:",
            ]
            lines += s.volume.map { v in
                "  \(transactionTypes.first { $0.value == v.type }?.key ?? "type \(v.type.rawValue)"): \(counted(v.transactions, "transaction")), \(counted(v.tokens, "token"))"
            }
            lines.append("revenue by month:")
            lines += s.revenueByMonth.map(money)
            lines.append("revenue by day:")
            lines += s.revenueByDay.map(money)
            return lines.joined(separator: "\n")
        }
    }
}
