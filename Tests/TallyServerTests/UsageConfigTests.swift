import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyWire

/// The config file's [usage] table: what it accepts, what it refuses by name, and that tallyd
/// applies it at start as journaled admin changes, keeping tiers added at run time.
@Suite struct UsageConfigTests {
    @Test func parsesTiersZoneDefaultAndRetention() throws {
        let file = try ConfigFile.parse("""
            [usage]
            time_zone = "America/New_York"
            default_tier = "free"
            retention_days = 40
            retention_months = 24

            [usage.tiers]
            free = 2000
            pro = 250000
            """)
        #expect(file.usage.tiers == ["free": 2_000, "pro": 250_000])
        #expect(file.usage.timeZone == "America/New_York" && file.usage.defaultTier == "free")
        #expect(file.usage.retention == UsageRetention(days: 40, months: 24))
        #expect(try ConfigFile.parse("").usage == UsageConfig())
    }

    @Test(arguments: [
        ("[usage]\ntime_zone = \"Mars/Olympus\"", "usage.time_zone"),
        ("[usage]\ntime_zone = 5", "usage.time_zone"),
        ("[usage]\nretention_days = 0", "usage.retention_days"),
        ("[usage]\nretention_months = 5000", "usage.retention_months"),
        ("[usage]\nzone = \"UTC\"", "unknown key 'zone' in [usage]"),
        ("[usage.tiers]\ntrial = -5", "usage.tiers.trial"),
        ("[usage.tiers]\ntrial = \"lots\"", "usage.tiers.trial"),
        ("[usage]\ndefault_tier = \"gold\"\n[usage.tiers]\nsilver = 5", "usage.default_tier 'gold' is not one of usage.tiers"),
        ("usage = 3", "'usage' must be a table"),
    ])
    func refusesMistakesByName(text: String, expected: String) {
        do {
            _ = try ConfigFile.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func changesOnlyWhatDiffers() {
        var config = UsageConfig()
        config.tiers = ["trial": 10_000, "pro": 50]
        config.defaultTier = "pro"
        config.timeZone = "UTC"
        #expect(config.changes(from: UsageLimits()) == [.tierLimit(tier: "pro", tokens: 50), .defaultTier("pro")])
    }

    @Test func appliedAtStartJournaledAndKeptWithRunTimeTiers() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var usage = UsageConfig()
        usage.tiers = ["trial": 500, "pro": 90_000]
        usage.defaultTier = "pro"
        usage.timeZone = "Asia/Kolkata"
        let server = try await scratch.start { $0.usage = usage }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let limits = try await client.getLimits()
        #expect(limits.timeZone == "Asia/Kolkata" && limits.defaultTier == "pro")
        #expect(limits.tiers.map(\.tier) == ["pro", "subscribed", "trial"] && limits.tiers.map(\.limit) == [90_000, 100_000, 500])
        #expect(try await client.checkUsage(userID: "x").limit == 90_000)
        _ = try await client.setLimits(.with { $0.tierLimit = .with { $0.tier = "team"; $0.limit = 7 } })
        await client.close()
        try await server.shutdown()

        // Restarted without the file: the state keeps everything, nothing re-applied.
        let plain = try await scratch.start()
        let again = try await TallyClient.connect(socketPath: scratch.socket)
        let kept = try await again.getLimits()
        #expect(kept.timeZone == "Asia/Kolkata" && kept.tiers.map(\.tier) == ["pro", "subscribed", "team", "trial"])
        await again.close()
        try await plain.shutdown()

        // A file whose default tier has no limit anywhere stops start-up with the reason.
        var broken = UsageConfig()
        broken.defaultTier = "gold"
        await #expect(throws: (any Error).self) { _ = try await scratch.start { $0.usage = broken } }
    }
}
