import Glibc
import TOMLKit
import TallyLedger
import TallyStore
import TallyWire

/// tallyd's configuration file (TOML, `tallyd --config FILE`): any of the settings flags set
/// (`Settings.all`, as top-level keys), who may call what, per-user rate limits, daily limits
/// and capacity. docs/operations.md documents every key. Unknown keys and bad values stop
/// start-up with the key's name, so a typo never silently loosens a rule.
public struct ConfigFile: Sendable, Equatable {
    /// The top-level settings the file gives, by setting name ("snapshot-interval"), checked.
    public var settings: [String: Setting.Value] = [:]
    public var access: AccessPolicy
    public var rateLimits: [RateClass: RateLimit]
    public var usage: UsageConfig
    /// Bounds on what clients can grow ([capacity]); the defaults where not set.
    public var capacity = LedgerCapacity()

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public static func load(path: String, ownerUID: UInt32 = getuid()) throws -> ConfigFile {
        let read: [UInt8]?
        do {
            read = try DurableFile.read(path)
        } catch {
            throw Invalid("\(error)")
        }
        guard let bytes = read else { throw Invalid("\(path) does not exist") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Invalid("\(path) is not UTF-8") }
        do {
            return try parse(text, ownerUID: ownerUID)
        } catch let invalid as Invalid {
            throw Invalid("\(path): \(invalid.description)")
        }
    }

    public static func parse(_ text: String, ownerUID: UInt32 = getuid()) throws -> ConfigFile {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw Invalid("not valid TOML, \(error.source.begin): \(error.description)")
        }
        try only(Settings.fileKeys + ["access", "rate_limits", "usage", "capacity"], in: table, at: "the top level")
        var settings: [String: Setting.Value] = [:]
        for setting in Settings.all where setting.inFile {
            guard let value = table[setting.key] else { continue }
            let given: Setting.Value? =
                if let number = value.int { .integer(Int64(number)) }
                else if let text = value.string { .text(text) }
                else if let on = value.bool { .on(on) }
                else { nil }
            guard let given, setting.problem(given) == nil else {
                throw Invalid("\(setting.key) must be \(setting.expectation)")
            }
            settings[setting.name] = given
        }
        var rules: [AccessPolicy.Subject: Role] = [:]
        if let entries = table["access"] {
            guard let array = entries.array else { throw Invalid("'access' must be an array of tables: [[access]]") }
            for (index, entry) in array.enumerated() {
                guard let rule = entry.table else { throw Invalid("access entry \(index + 1) must be a table") }
                let (subject, role) = try accessRule(rule, at: "access entry \(index + 1)")
                if let earlier = rules[subject], earlier != role {
                    throw Invalid("\(subject) is given two roles, \(earlier.rawValue) and \(role.rawValue)")
                }
                rules[subject] = role
            }
        }
        var limits: [RateClass: RateLimit] = [:]
        if let section = table["rate_limits"] {
            guard let classes = section.table else { throw Invalid("'rate_limits' must be a table: [rate_limits]") }
            try only(RateClass.allCases.map(\.rawValue), in: classes, at: "[rate_limits]")
            for rateClass in RateClass.allCases {
                guard let value = classes[rateClass.rawValue] else { continue }
                guard let limit = value.table else {
                    throw Invalid("rate_limits.\(rateClass.rawValue) must be a table like { per_second = 10, burst = 20 }")
                }
                limits[rateClass] = try rateLimit(limit, at: "rate_limits.\(rateClass.rawValue)")
            }
        }
        var usage = UsageConfig()
        if let section = table["usage"] {
            guard let settings = section.table else { throw Invalid("'usage' must be a table: [usage]") }
            usage = try usageConfig(settings)
        }
        var file = ConfigFile(access: AccessPolicy(ownerUID: ownerUID, rules: rules), rateLimits: limits, usage: usage)
        file.settings = settings
        if let section = table["capacity"] {
            guard let bounds = section.table else { throw Invalid("'capacity' must be a table: [capacity]") }
            try only(LedgerCapacity.Collection.allCases.map(\.rawValue), in: bounds, at: "[capacity]")
            for collection in LedgerCapacity.Collection.allCases {
                guard let value = bounds[collection.rawValue] else { continue }
                guard let bound = value.int, bound >= 1 else {
                    throw Invalid("capacity.\(collection.rawValue) must be a whole number of at least 1")
                }
                file.capacity[collection] = bound
            }
        }
        return file
    }

    private static func usageConfig(_ table: TOMLTable) throws -> UsageConfig {
        try only(["time_zone", "default_tier", "retention_days", "retention_months", "tiers"], in: table, at: "[usage]")
        var usage = UsageConfig()
        if let value = table["time_zone"] {
            guard let zone = value.string, Validation.check(.changeUsage(.timeZone(zone))) == nil, UsageCalendar(zone: zone) != nil else {
                throw Invalid("usage.time_zone must be an IANA time zone this machine knows, such as \"America/New_York\"")
            }
            usage.timeZone = zone
        }
        if let value = table["default_tier"] {
            guard let tier = value.string, Validation.check(.changeUsage(.defaultTier(tier))) == nil else {
                throw Invalid("usage.default_tier must be a tier name (1 to \(Limits.maxNameBytes) bytes, no control characters)")
            }
            usage.defaultTier = tier
        }
        for (key, limit) in [("retention_days", 36_600), ("retention_months", 1_200)] {
            guard let value = table[key] else { continue }
            guard let number = value.int, (1...limit).contains(number) else {
                throw Invalid("usage.\(key) must be a whole number from 1 to \(limit)")
            }
            if key == "retention_days" { usage.retentionDays = Int64(number) } else { usage.retentionMonths = Int64(number) }
        }
        if let value = table["tiers"] {
            guard let tiers = value.table else { throw Invalid("usage.tiers must be a table of tier = tokens a day: [usage.tiers]") }
            for key in tiers.keys.sorted() {
                guard let limit = tiers[key]?.int, limit >= 0, Validation.check(.changeUsage(.tierLimit(tier: key, tokens: Int64(limit)))) == nil
                else { throw Invalid("usage.tiers.\(key) must be a whole number of tokens, 0 or more, for a valid tier name") }
                usage.tiers[key] = Int64(limit)
            }
        }
        if let tier = usage.defaultTier, !usage.tiers.isEmpty, usage.tiers[tier] == nil {
            throw Invalid("usage.default_tier '\(tier)' is not one of usage.tiers")
        }
        return usage
    }

    private static func accessRule(_ rule: TOMLTable, at place: String) throws -> (AccessPolicy.Subject, Role) {
        try only(["uid", "gid", "user", "group", "role"], in: rule, at: place)
        guard let roleName = rule["role"]?.string else {
            throw Invalid("\(place) needs role = one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let role = Role(rawValue: roleName) else {
            throw Invalid("\(place): unknown role '\(roleName)'; roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let named = ["uid", "gid", "user", "group"].filter { rule[$0] != nil }
        guard named.count == 1 else {
            throw Invalid("\(place) must name exactly one of uid, gid, user or group (it names \(named.count))")
        }
        switch named[0] {
        case "uid": return (.uid(try id(rule["uid"], "uid", at: place)), role)
        case "gid": return (.gid(try id(rule["gid"], "gid", at: place)), role)
        case "user":
            guard let name = rule["user"]?.string, let entry = getpwnam(name) else {
                throw Invalid("\(place): no such user '\(rule["user"]?.string ?? "")'")
            }
            return (.uid(entry.pointee.pw_uid), role)
        default:
            guard let name = rule["group"]?.string, let entry = getgrnam(name) else {
                throw Invalid("\(place): no such group '\(rule["group"]?.string ?? "")'")
            }
            return (.gid(entry.pointee.gr_gid), role)
        }
    }

    private static func id(_ value: (any TOMLValueConvertible)?, _ key: String, at place: String) throws -> UInt32 {
        guard let number = value?.int, let id = UInt32(exactly: number), id != UInt32.max else {
            throw Invalid("\(place): \(key) must be a number from 0 to \(UInt32.max - 1)")
        }
        return id
    }

    private static func rateLimit(_ table: TOMLTable, at place: String) throws -> RateLimit {
        let periods = [("per_second", Int64(1)), ("per_minute", 60), ("per_hour", 3_600)]
        try only(periods.map(\.0) + ["burst"], in: table, at: place)
        let given = periods.filter { table[$0.0] != nil }
        guard given.count == 1, let (key, seconds) = given.first else {
            throw Invalid("\(place) must give exactly one of per_second, per_minute or per_hour")
        }
        guard let count = table[key]?.int, (1...1_000_000).contains(count) else {
            throw Invalid("\(place).\(key) must be a whole number from 1 to 1000000")
        }
        let burst = table["burst"].map { $0.int ?? 0 } ?? count
        guard (1...1_000_000).contains(burst) else {
            throw Invalid("\(place).burst must be a whole number from 1 to 1000000")
        }
        return RateLimit(count: Int64(count), periodSeconds: seconds, burst: Int64(burst))
    }

    private static func only(_ allowed: [String], in table: TOMLTable, at place: String) throws {
        for key in table.keys where !allowed.contains(key) {
            throw Invalid("unknown key '\(key)' in \(place); allowed: \(allowed.joined(separator: ", "))")
        }
    }
}
