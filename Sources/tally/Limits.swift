import ArgumentParser
import TallyClient
import TallyWire

/// `tally limits ...`: show and change the daily limits (changes need the admin role).
struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "Show the daily limits, or change one (admin).",
        subcommands: [ShowLimits.self, SetTierLimit.self, RemoveTier.self, SetUserLimit.self, SetUserTier.self, SetShadow.self,
            SetDefaultTier.self, SetTimeZone.self],
        defaultSubcommand: ShowLimits.self)
}

func describe(_ s: Tally_V1_UsageSettings) -> String {
    var lines = s.tiers.map { "  \($0.tier): \($0.limit) tokens a day" + ($0.tier == s.defaultTier ? " (default)" : "") + ($0.shadow ? " (shadow)" : "") }
    lines.insert("days start at midnight in \(s.timeZone)", at: 0)
    lines.append("daily records kept \(s.retentionDays) days, monthly aggregates \(s.retentionMonths) months")
    return lines.joined(separator: "\n")
}

/// Sends one change and prints the settings after it.
func change(_ global: GlobalOptions, _ body: (inout Tally_V1_SetLimitsRequest) -> Void) async throws {
    var request = Tally_V1_SetLimitsRequest()
    body(&request)
    try await global.run({ client in
        let settings = try await client.setLimits(request, timeoutMs: global.timeoutMs)
        return Tally_V1_SetLimitsResponse.with { $0.settings = settings }
    }, human: { describe($0.settings) })
}

struct ShowLimits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the limits by tier and the time zone.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.run({ client in
            let settings = try await client.getLimits(timeoutMs: global.timeoutMs)
            return Tally_V1_GetLimitsResponse.with { $0.settings = settings }
        }, human: { describe($0.settings) })
    }
}

struct SetTierLimit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set-tier", abstract: "Set (or add) a tier's daily limit.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Tier name.") var tier: String
    @Argument(help: "Tokens a day.") var limit: Int64

    func run() async throws {
        try await change(global) { $0.tierLimit = .with { $0.tier = tier; $0.limit = limit } }
    }
}

struct RemoveTier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove-tier", abstract: "Remove a tier (its users fall back to the default tier).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Tier name.") var tier: String

    func run() async throws {
        try await change(global) { $0.tierLimit = .with { $0.tier = tier; $0.remove = true } }
    }
}

struct SetUserLimit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set-user", abstract: "Give one user a daily limit of their own.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Tokens a day (omit with --clear).") var limit: Int64?
    @Flag(help: "Remove the user's own limit: the tier's applies again.") var clear = false

    func validate() throws {
        guard clear != (limit != nil) else { throw ValidationError("give a limit or --clear, not both or neither") }
    }

    func run() async throws {
        try await change(global) { $0.userLimit = .with { $0.userID = user; $0.limit = limit ?? 0; $0.clear = clear } }
    }
}

struct SetUserTier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user-tier", abstract: "Put a user on a tier (until memberships exist).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Tier name; omit for the default tier.") var tier: String = ""

    func run() async throws {
        try await change(global) { $0.userTier = .with { $0.userID = user; $0.tier = tier } }
    }
}

enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

struct SetShadow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shadow", abstract: "Evaluate a limit without enforcing it, for a tier or a user: would-be refusals are only counted.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The tier.") var tier = ""
    @Option(help: "The user.") var user = ""
    @Argument(help: "on or off.") var state: Switch

    func validate() throws {
        guard tier.isEmpty != user.isEmpty else { throw ValidationError("name exactly one of --tier and --user") }
    }

    func run() async throws {
        try await change(global) { $0.shadow = .with { $0.tier = tier; $0.userID = user; $0.on = state == .on } }
    }
}

struct SetDefaultTier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "default-tier", abstract: "The tier of users without one.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Tier name (it must have a limit).") var tier: String

    func run() async throws {
        try await change(global) { $0.defaultTier = tier }
    }
}

struct SetTimeZone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zone", abstract: "The IANA time zone whose midnight starts a new day.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "e.g. America/New_York, Europe/Berlin, UTC.") var zone: String

    func run() async throws {
        try await change(global) { $0.timeZone = zone }
    }
}
