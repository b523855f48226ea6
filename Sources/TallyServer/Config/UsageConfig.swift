import TallyLedger

/// The `[usage]` table of the config file: daily limits by tier, the default tier, the time
/// zone and retention. Limits and the zone are Ledger state that admins change at run time
/// (journaled), so the file's values are applied at start, as admin changes, where they differ
/// from the state; tiers added at run time and absent from the file stay. Retention is
/// configuration: it shapes how the Ledger drops records, and is not stored.
public struct UsageConfig: Sendable, Equatable {
    public var tiers: [String: Int64] = [:]
    public var defaultTier: String?
    public var timeZone: String?
    public var retentionDays: Int64?
    public var retentionMonths: Int64?

    public init() {}

    public var retention: UsageRetention {
        let standard = UsageRetention()
        return UsageRetention(days: retentionDays ?? standard.days, months: retentionMonths ?? standard.months)
    }

    /// The admin changes that bring `limits` to what the file says: tiers first, so a new
    /// default tier already has its limit.
    public func changes(from limits: UsageLimits) -> [UsageChange] {
        var changes: [UsageChange] = tiers.sorted { ExactString($0.key) < ExactString($1.key) }
            .filter { limits.tiers[ExactString($0.key)] != $0.value }
            .map { .tierLimit(tier: $0.key, tokens: $0.value) }
        if let defaultTier, ExactString(defaultTier) != limits.defaultTier { changes.append(.defaultTier(defaultTier)) }
        if let timeZone, !timeZone.utf8.elementsEqual(limits.timeZone.utf8) { changes.append(.timeZone(timeZone)) }
        return changes
    }

    /// What start-up would refuse when it applies these limits to `ledger` (nil: nothing), by the
    /// Ledger's own rules: `tallyd check-config` asks this of a new data directory's defaults or
    /// of a directory's stored limits, so that it agrees with start-up.
    public func refusal(applyingTo ledger: Ledger) -> Refusal? {
        var ledger = ledger
        let now = max(ledger.lastTimestamp + 1, 1)
        for change in changes(from: ledger.usage.limits) {
            let command = Command.changeUsage(change)
            let applied = ledger.apply(command, at: now, day: command.needsUsageDay ? UsageDay.utc(containing: now) : nil)
            if case .refused(let refusal) = applied.outcome { return refusal }
        }
        return nil
    }

    public var summary: String {
        let tiers = self.tiers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let parts = [tiers.isEmpty ? nil : "tiers \(tiers)", defaultTier.map { "default \($0)" }, timeZone.map { "zone \($0)" }]
            .compactMap { $0 }
        return parts.isEmpty ? "as stored (defaults: trial 10000, subscribed 100000, zone UTC)" : parts.joined(separator: "; ")
    }
}
