import Foundation
import TallyLedger
@testable import TallyServer
import Testing

/// Each setting is described once (Settings.all); the flags, the config file, `--help` and
/// docs/operations.md all follow that description.
@Suite struct SettingsTests {
    /// docs/operations.md's settings table, as Settings.all has it.
    static var docsTable: String {
        var lines = ["| flag | config file key | default | meaning |", "| --- | --- | --- | --- |"]
        for setting in Settings.all {
            let key = setting.inFile ? "`\(setting.key)`" : "(flag only)"
            let value: String =
                switch setting.kind {
                case .flag: setting.defaultValue
                default: setting.read(ServerConfig()) == nil ? setting.defaultValue : "`\(setting.defaultValue)`"
                }
            lines.append("| `\(setting.flag)` | \(key) | \(value) | \(setting.meaning) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func operationsMdListsEverySettingAsSettingsAllDescribesIt() throws {
        let text = try EndpointDocsTests.read("docs/operations.md")
        #expect(EndpointDocsTests.section("settings", of: text) == Self.docsTable,
                "docs/operations.md's settings table should read:\n\(Self.docsTable)")
    }

    @Test func tallydHelpOffersEverySettingWithItsDefault() throws {
        let help = try runTallyd(["serve", "--help"]).output.replacingOccurrences(of: "\n", with: " ")
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        for setting in Settings.all {
            #expect(help.contains(setting.flag), "\(setting.flag) is missing from tallyd serve --help")
            #expect(help.contains("(default: \(setting.defaultValue))"), "\(setting.flag)'s default is missing from --help")
        }
    }

    @Test func theFileSetsWhatNoFlagSetsAndAFlagWins() throws {
        let file = try ConfigFile.parse("""
            snapshot_interval = 10
            fsync = "interval"
            fsync_interval_ms = 50
            socket_group = "staff"
            audit_usage_calls = true
            idempotency_ttl_hours = 2

            [capacity]
            accounts = 9
            """, ownerUID: 5)
        #expect(file.settings["snapshot-interval"] == .integer(10))
        let fromFile = try ServerConfig(file: file, flags: [:])
        #expect(fromFile.snapshots.intervalSeconds == 10)
        #expect(fromFile.fsync == .interval(milliseconds: 50))
        #expect(fromFile.socketGroup == "staff")
        #expect(fromFile.auditUsageCalls)
        #expect(fromFile.ledger.idempotencyTTL == 2 * Microseconds.perHour)
        #expect(fromFile.capacity[.accounts] == 9)
        #expect(fromFile.maxConnections == ServerConfig().maxConnections)  // not set anywhere: the default

        let flagged = try ServerConfig(file: file, flags: ["snapshot-interval": .integer(20), "fsync": .text("always")])
        #expect(flagged.snapshots.intervalSeconds == 20)
        #expect(flagged.fsync == .always)
        #expect(flagged.socketGroup == "staff")
    }

    @Test func theDefaultsAreServerConfigsOwn() throws {
        let config = try ServerConfig(file: nil, flags: [:])
        for setting in Settings.all {
            #expect(setting.current(in: config) == setting.defaultValue)
        }
        #expect(Settings.named("snapshot-interval")?.defaultValue == "5")
        #expect(Settings.named("fsync-interval-ms")?.defaultValue == "200")
        #expect(Settings.named("socket-group")?.defaultValue == "tallyd's group")
    }

    /// A value other than the default for each setting, as the flag would give it.
    static func another(_ setting: Setting) -> Setting.Value {
        switch (setting.kind, setting.name) {
        case (.flag, _): return .on(true)
        case (.choice(let words), _): return .text(words.first { $0 != setting.defaultValue }!)
        case (.integer(let range), _):
            let now = Int64(setting.defaultValue) ?? range.lowerBound
            return .integer(now == range.lowerBound ? range.lowerBound + 1 : range.lowerBound)
        case (.text, "socket-mode"): return .text("600")
        case (.text, "metrics-listen"): return .text("unix:/tmp/tally-metrics.sock")
        case (.text, "journal"): return .text("postgresql://tally@/tally?host=/run/postgresql")
        case (.text, let name): return .text("/tmp/tally-\(name)")
        }
    }

    /// Each setting reads back what it was given, and moves no other setting: its write and its
    /// read touch the same field of ServerConfig, and only that one.
    @Test func eachSettingWritesTheFieldItReadsAndNoOther() throws {
        let defaults = try ServerConfig(file: nil, flags: [:])
        for setting in Settings.all {
            var flags: [String: Setting.Value] = [setting.name: Self.another(setting)]
            if setting.name == "fsync-interval-ms" { flags["fsync"] = .text("interval") }  // read only in that mode
            let config = try ServerConfig(file: nil, flags: flags)
            #expect(setting.current(in: config) == Self.another(setting).description, "\(setting.name)")
            #expect(setting.current(in: config) != setting.defaultValue, "\(setting.name) kept its default")
            for other in Settings.all where other.name != setting.name && flags[other.name] == nil {
                #expect(other.current(in: config) == other.current(in: defaults), "\(setting.name) moved \(other.name)")
            }
        }
    }

    @Test func aValueNoSettingTakesIsRefusedNotApplied() {
        #expect(throws: ConfigFile.Invalid.self) { _ = try ServerConfig(file: nil, flags: ["snapshot-interval": .integer(-1)]) }
        #expect(throws: ConfigFile.Invalid.self) { _ = try ServerConfig(file: nil, flags: ["fsync": .integer(1)]) }
        #expect(throws: ConfigFile.Invalid.self) { _ = try ServerConfig(file: nil, flags: ["snapshot_interval": .integer(5)]) }
        #expect(throws: ConfigFile.Invalid.self) { _ = try ServerConfig(file: nil, flags: ["no-such-setting": .on(true)]) }
    }

    @Test(arguments: [
        ("snapshot_interval = -1", "snapshot_interval must be 0 or more"),
        ("snapshot_interval = \"5\"", "snapshot_interval must be 0 or more"),
        ("fsync = \"sometimes\"", "fsync must be one of always, interval, never"),
        ("socket_mode = \"600x\"", "socket_mode must be octal like 660"),
        ("socket_mode = \"400\"", "socket_mode must be octal like 660"),
        ("purchase_timeout_minutes = 0", "purchase_timeout_minutes must be a whole number from 1 to 525600"),
        ("audit_usage_calls = 1", "audit_usage_calls must be true or false"),
        ("data_dir = \"\"", "data_dir must be a non-empty text"),
        ("repair = true", "unknown key 'repair'"),
        ("snapshot_intervall = 5", "unknown key 'snapshot_intervall'"),
    ])
    func aBadSettingInTheFileIsRefusedByName(text: String, expected: String) {
        #expect {
            _ = try ConfigFile.parse(text, ownerUID: 5)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func theTwoSocketsMustDiffer() {
        #expect(throws: ConfigFile.Invalid.self) {
            _ = try ServerConfig(file: nil, flags: ["socket": .text("./a.sock"), "admin-socket": .text("a.sock")])
        }
    }

    @Test func aBadFlagStopsTallydWithAUsageError() throws {
        let run = try runTallyd(["--snapshot-interval=-1"])
        #expect(run.status == 64 && run.output.contains("--snapshot-interval must be 0 or more"), "\(run)")
        let fsync = try runTallyd(["--fsync", "sometimes"])
        #expect(fsync.status == 64 && fsync.output.contains("--fsync must be one of always, interval, never"), "\(fsync)")
    }
}
