import ArgumentParser
import Glibc
import TallyLedger
import TallyServer
import TallyStore

/// Reads a configuration file the way `tallyd --config` would, so an operator can check an
/// edit before restarting tallyd.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file (settings, access rules, rate limits, daily limits, capacity) and print what it sets.",
        discussion: "Exits 0 if `tallyd --config FILE` would start with it, 1 with the reason if not.")

    @Argument(help: "The TOML file.")
    var path: String

    @Option(help: "Check the daily limits against this data directory's stored limits (read only) instead of a new directory's defaults.")
    var dataDir: String?

    func run() throws {
        do {
            let file = try ConfigFile.load(path: path)
            // Start-up applies [usage] to the stored limits with the Ledger's rules; so does this.
            let ledger = try dataDir.map {
                try Recovery.run(dataDirectory: $0, config: LedgerConfig(usageRetention: file.usage.retention), readOnly: true).ledger
            } ?? Ledger(config: LedgerConfig(usageRetention: file.usage.retention))
            if let refusal = file.usage.refusal(applyingTo: ledger) {
                let against = dataDir.map { "the limits stored in \($0)" } ?? "a new data directory's defaults"
                complain("\(absolute(path)): [usage] cannot be applied to \(against): \(refusal.reason): \(refusal.message)")
                throw ExitCode(1)
            }
            say("\(absolute(path)): OK")
            let settings = Settings.all.compactMap { setting in file.settings[setting.name].map { "\(setting.key) = \($0)" } }
            say("  settings: \(settings.isEmpty ? "none (flags or defaults)" : settings.joined(separator: ", "))")
            say("  access (when tallyd runs as this user): \(file.access.summary)")
            say("  rate limits: \(RateLimit.summary(file.rateLimits))")
            say("  daily limits: \(file.usage.summary); records kept \(file.usage.retention.days) days, months \(file.usage.retention.months)")
            say("  capacity: \(file.capacity.summary)")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            complain("\(error)")
            throw ExitCode(1)
        }
    }
}
