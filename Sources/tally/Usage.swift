import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally usage ...`: the daily limits of chat gateways (tally.v1.Usage).
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Daily token limits: check, consume, reserve then settle, history and reports.",
        subcommands: [
            CheckUsage.self, ConsumeUsage.self, ReserveUsage.self, SettleUsage.self, ReleaseUsage.self, UsageHistory.self, TopUsers.self,
            MonthByTier.self, WatchUsage.self,
        ])
}

/// "2026-11-22T23:00:00Z".
func utcTime(_ microseconds: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(microseconds / 1_000_000)))
}

func describe(_ s: Tally_V1_UsageStatus) -> String {
    var line = "\(s.userID) on \(s.date): used \(s.used), reserved \(s.reserved) of \(s.limit) (\(s.tier)), \(s.remaining) remaining; resets \(utcTime(s.resetsAtUs))"
    if s.shadow { line += "; shadow mode, \(s.shadowRefusals) would-be refusals today" }
    return line
}

func describe(_ r: Tally_V1_Reservation) -> String {
    "reservation \(r.id): \(r.tokens) tokens for \(r.userID) on \(r.date), expires \(utcTime(r.expiresAtUs))"
}

struct CheckUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Show a user's usage today.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String

    func run() async throws {
        try await global.run({ client in
            let status = try await client.checkUsage(userID: user, timeoutMs: global.timeoutMs)
            return Tally_V1_CheckUsageResponse.with { $0.status = status }
        }, human: { describe($0.status) })
    }
}

struct ConsumeUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Count tokens against a user's daily limit, or be refused with the reset time.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Tokens (a positive whole number).") var tokens: Int64
    @Option(help: "Idempotency key: repeating the call with it answers the first result again.") var key = ""

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        try await global.run({ try await $0.consume(userID: user, tokens: tokens, idempotencyKey: key, timeoutMs: global.timeoutMs) }, retryKey: key) {
            "consumed \(tokens)" + ($0.replayed ? " (replayed)" : "") + ": " + describe($0.status)
        }
    }
}

struct ReserveUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reserve", abstract: "Hold an estimate of today's quota for a model call; settle or release it after.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Estimated tokens.") var tokens: Int64
    @Option(help: "Milliseconds until the hold releases itself (0: 60000, at most 3600000).") var ttlMs: UInt32 = 0
    @Option(help: "Idempotency key.") var key = ""

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        try await global.run({
            try await $0.reserve(userID: user, tokens: tokens, ttlMs: ttlMs, idempotencyKey: key, timeoutMs: global.timeoutMs)
        }, retryKey: key) { describe($0.reservation) + ($0.replayed ? " (replayed)" : "") + "\n" + describe($0.status) }
    }
}

struct SettleUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle", abstract: "End a reservation with the real count (charged in full, even past the estimate).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Reservation id.") var reservation: UInt64
    @Argument(help: "Tokens really used (0 or more).") var tokens: Int64
    @Option(help: "Idempotency key.") var key = ""

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        try await global.run({
            try await $0.settle(reservationID: reservation, tokens: tokens, idempotencyKey: key, timeoutMs: global.timeoutMs)
        }, retryKey: key) { "settled reservation \($0.reservation.id) (estimate \($0.reservation.tokens)) with \(tokens)" + ($0.replayed ? " (replayed)" : "") + ": " + describe($0.status) }
    }
}

struct ReleaseUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "release", abstract: "End a reservation without counting anything.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Reservation id.") var reservation: UInt64
    @Option(help: "Idempotency key.") var key = ""

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        try await global.run({ try await $0.release(reservationID: reservation, idempotencyKey: key, timeoutMs: global.timeoutMs) }, retryKey: key) {
            "released reservation \($0.reservation.id) (\($0.reservation.tokens) tokens)" + ($0.replayed ? " (replayed)" : "") + ": " + describe($0.status)
        }
    }
}

func describe(_ m: Tally_V1_MonthUsage) -> String {
    var line = "\(m.month) (\(m.tier)): total \(m.total), average \(m.averagePerDay)/day"
    if !m.peakDate.isEmpty { line += ", peak \(m.peakDate) with \(m.peakTokens)" }
    return line + "\n    " + m.days.map { "\($0.date.suffix(2)): \($0.tokens)" }.joined(separator: "  ")
}

struct UsageHistory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "A user's daily records and monthly aggregates, newest first.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Option(help: "How many recent months (0: all kept).") var months: UInt32 = 0

    func run() async throws {
        try await global.run({ try await $0.usageHistory(userID: user, months: months, timeoutMs: global.timeoutMs) }) { r in
            var lines = ["today: " + describe(r.today), "days:"]
            lines += r.days.map { "  \($0.date)  \($0.tokens)" }
            lines.append("months:")
            lines += r.months.map { "  " + describe($0) }
            return lines.joined(separator: "\n")
        }
    }
}

struct TopUsers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "The users with the most tokens on a day (admin).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "YYYY-MM-DD in the usage time zone (default: today).") var date: String = ""
    @Option(help: "How many users (0: 10, at most 1000).") var limit: UInt32 = 0

    func run() async throws {
        try await global.run({ try await $0.topUsers(date: date, limit: limit, timeoutMs: global.timeoutMs) }) { r in
            (["top users on \(r.date):"] + r.users.enumerated().map { "  \($0.offset + 1). \($0.element.userID)  \($0.element.tokens)" })
                .joined(separator: "\n")
        }
    }
}

struct MonthByTier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "month", abstract: "A month's usage per tier (admin).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "YYYY-MM (default: this month).") var month: String = ""
    @Option(help: "Only this tier.") var tier = ""

    func run() async throws {
        try await global.run({ try await $0.monthByTier(month: month, tier: tier, timeoutMs: global.timeoutMs) }) { r in
            (["\(r.month):"] + r.tiers.map { "  \($0.tier): \($0.users) users, \($0.total) tokens, \($0.averagePerUser) per user" })
                .joined(separator: "\n")
        }
    }
}
