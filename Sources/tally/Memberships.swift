import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally membership show|set|end`, `tally prices`, `tally price set|remove`; spending by
/// action is `tally spend USER --action NAME`.
func describe(_ m: Tally_V1_MembershipResponse) -> String {
    var line = "\(m.userID) is on \(m.tier)"
    if m.active {
        line += m.expiresAtUs == 0 ? " (membership, no expiry)" : " (membership until \(utcTime(m.expiresAtUs)))"
    } else if !m.membershipTier.isEmpty {
        line += " (default tier; membership of \(m.membershipTier) "
            + (m.expiresAtUs != 0 ? "expired \(utcTime(m.expiresAtUs)))" : "names a tier that no longer exists)")
    } else {
        line += " (default tier, no membership)"
    }
    return line
}

func describe(_ p: Tally_V1_ActionPrice) -> String {
    p.costs.isEmpty
        ? "\(p.action): no prices (removed)"
        : "\(p.action): " + p.costs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}

/// Microseconds since the epoch from ISO 8601 ("2026-12-31T00:00:00Z").
func microseconds(fromISO8601 text: String) throws -> Int64 {
    guard let date = ISO8601DateFormatter().date(from: text) else {
        throw ValidationError("'\(text)' is not an ISO 8601 time such as 2026-12-31T00:00:00Z")
    }
    return Int64(date.timeIntervalSince1970 * 1_000_000)
}

struct MembershipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "membership", abstract: "A user's tier: show it, set it with an expiry, or end it (admin).",
        subcommands: [ShowMembershipCommand.self, SetMembershipCommand.self, EndMembershipCommand.self],
        defaultSubcommand: ShowMembershipCommand.self)
}

struct ShowMembershipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "The tier that applies to a user now.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String

    func run() async throws {
        try await global.run({ try await $0.getMembership(userID: user, timeoutMs: global.timeoutMs) }, human: describe)
    }
}

struct SetMembershipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Put a user on a tier, until a time or for a number of days.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Tier (one of the daily limits' tiers).") var tier: String
    @Option(help: "Ends at this ISO 8601 time, e.g. 2026-12-31T00:00:00Z.") var until: String?
    @Option(help: "Ends this many days from now.") var days: Int64?

    func validate() throws {
        if until != nil && days != nil { throw ValidationError("give --until or --days, not both") }
        if let days, days <= 0 { throw ValidationError("--days must be at least 1") }
    }

    func run() async throws {
        var expiresAt: Int64 = 0
        if let until { expiresAt = try microseconds(fromISO8601: until) }
        if let days { expiresAt = Int64(Date().timeIntervalSince1970 * 1_000_000) + days * 86_400_000_000 }
        try await global.run(
            { try await $0.setMembership(userID: user, tier: tier, expiresAtUs: expiresAt, timeoutMs: global.timeoutMs) },
            human: describe)
    }
}

struct EndMembershipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "end", abstract: "End a user's membership: back to the default tier.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String

    func run() async throws {
        try await global.run({ try await $0.setMembership(userID: user, tier: nil, timeoutMs: global.timeoutMs) }, human: describe)
    }
}

struct PricesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prices", abstract: "The price table: tokens per action and tier.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.run({ client in
            let prices = try await client.listPrices(timeoutMs: global.timeoutMs)
            return Tally_V1_ListPricesResponse.with { $0.prices = prices }
        }, human: { $0.prices.isEmpty ? "no priced actions" : $0.prices.map(describe).joined(separator: "\n") })
    }
}

struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "price", abstract: "Set or remove an action's price for a tier (admin).",
        subcommands: [SetPriceCommand.self, RemovePriceCommand.self])
}

struct SetPriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "ACTION costs COST tokens on TIER.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Action name, e.g. generate-post.") var action: String
    @Argument(help: "Tier.") var tier: String
    @Argument(help: "Tokens (at least 1).") var cost: Int64

    func run() async throws {
        try await global.run({ client in
            let price = try await client.setPrice(action: action, tier: tier, cost: cost, timeoutMs: global.timeoutMs)
            return Tally_V1_SetPriceResponse.with { $0.price = price }
        }, human: { describe($0.price) })
    }
}

struct RemovePriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove ACTION's price for TIER.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Action name.") var action: String
    @Argument(help: "Tier.") var tier: String

    func run() async throws {
        try await global.run({ client in
            let price = try await client.setPrice(action: action, tier: tier, cost: nil, timeoutMs: global.timeoutMs)
            return Tally_V1_SetPriceResponse.with { $0.price = price }
        }, human: { describe($0.price) })
    }
}
