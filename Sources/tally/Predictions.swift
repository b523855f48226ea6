import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally commit`, `tally cancel`, `tally resolve`, `tally void`, `tally close`, `tally commitments`.
enum PositionArgument: String, ExpressibleByArgument, CaseIterable {
    case yes, no
    var wire: Tally_V1_Position { self == .yes ? .yes : .no }
}

/// "2.5" -> 2_500_000 exactly (decimal odds with up to 6 decimals), no floating point.
func oddsMicros(_ text: String) -> Int64? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0 else { return nil }
    var fraction: Int64 = 0
    if parts.count == 2 {
        let digits = parts[1]
        guard (1...6).contains(digits.count), digits.allSatisfy(\.isNumber), let value = Int64(digits) else { return nil }
        fraction = value * Int64(pow(10, Double(6 - digits.count)))
    }
    let (scaled, overflow) = whole.multipliedReportingOverflow(by: 1_000_000)
    return overflow ? nil : scaled + fraction
}

func describe(_ c: Tally_V1_Commitment) -> String {
    let status = switch c.status {
    case .active: "active"
    case .won: "won"
    case .lost: "lost"
    case .refunded: "refunded"
    default: "status \(c.status.rawValue)"
    }
    let odds = String(format: "%d.%06d", c.oddsMicros / 1_000_000, c.oddsMicros % 1_000_000)
    return "commitment \(c.id): \(c.userID) staked \(c.stake) on \(c.position == .yes ? "yes" : "no") of \(c.predictionID) at \(odds), pays \(c.potentialWinning), \(status)"
}

func describe(_ s: Tally_V1_PredictionSummary, alreadyDone: Bool) -> String {
    let what = s.status == .voided ? "voided" : "resolved \(s.winning == .yes ? "yes" : "no")"
    return "\(s.predictionID) \(what)" + (alreadyDone ? " (already: the same summary)" : "")
        + ": \(counted(s.winners, "winner")) paid \(s.tokensPaid), \(counted(s.losers, "loser")): \(s.tokensCollected) collected, \(counted(s.refunded, "commitment")) refunded \(s.tokensRefunded)"
}

struct CommitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Stake tokens on yes or no of a prediction.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Prediction id.") var prediction: String
    @Argument(help: "yes or no.") var position: PositionArgument
    @Argument(help: "Tokens staked.") var stake: Int64
    @Option(help: "Decimal odds, e.g. 2.5 (up to 6 decimals; the win pays floor(stake x odds)).") var odds: String
    @Option(help: "Idempotency key.") var key = ""

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        guard let micros = oddsMicros(odds) else { throw ValidationError("--odds must be a decimal number such as 2.5") }
        try await global.run({
            try await $0.commit(
                userID: user, predictionID: prediction, position: position.wire, stake: stake, oddsMicros: micros, idempotencyKey: key,
                timeoutMs: global.timeoutMs)
        }, retryKey: key) { describe($0.commitment) + ($0.replayed ? " (replayed)" : "") + ": " + describe($0.balance) }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel an active commitment: its stake comes back.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Commitment id.") var commitment: UInt64

    func run() async throws {
        try await global.run({ try await $0.cancelCommitment(id: commitment, timeoutMs: global.timeoutMs) }) {
            describe($0.commitment) + ": " + describe($0.balance)
        }
    }
}

struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resolve", abstract: "Resolve a prediction (admin): winners paid, losers lose.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Prediction id.") var prediction: String
    @Argument(help: "The winning position: yes or no.") var winning: PositionArgument

    func run() async throws {
        try await global.run({ try await $0.resolve(predictionID: prediction, winning: winning.wire, timeoutMs: global.timeoutMs) }) {
            describe($0.summary, alreadyDone: $0.alreadyDone)
        }
    }
}

struct VoidCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "void", abstract: "Void a prediction (admin): every active stake comes back.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Prediction id.") var prediction: String

    func run() async throws {
        try await global.run({ try await $0.void(predictionID: prediction, timeoutMs: global.timeoutMs) }) {
            describe($0.summary, alreadyDone: $0.alreadyDone)
        }
    }
}

struct CommitmentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commitments", abstract: "Commitments by user and/or prediction, newest first.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this user's.") var user = ""
    @Option(help: "Only on this prediction.") var prediction = ""
    @Option(help: "active, won, lost or refunded.") var status: String = ""
    @Option(help: "At most this many (0: 50).") var limit: UInt32 = 0
    @Option(help: "Only ids below this (the previous page's next id).") var before: UInt64 = 0

    func run() async throws {
        let statuses: [String: Tally_V1_CommitmentStatus] = ["active": .active, "won": .won, "lost": .lost, "refunded": .refunded]
        guard status.isEmpty || statuses[status] != nil else { throw ValidationError("--status must be active, won, lost or refunded") }
        let request = Tally_V1_ListCommitmentsRequest.with {
            $0.userID = user
            $0.predictionID = prediction
            $0.status = statuses[status] ?? .unspecified
            $0.limit = limit
            $0.beforeID = before
        }
        try await global.run({ try await $0.listCommitments(request, timeoutMs: global.timeoutMs) }) { r in
            (r.commitments.isEmpty ? ["no commitments"] : r.commitments.map(describe))
                .joined(separator: "\n") + (r.nextBeforeID == 0 ? "" : "\nmore: --before \(r.nextBeforeID)")
        }
    }
}
