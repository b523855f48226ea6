import ArgumentParser
import Glibc
import TallyServer

/// Reads a configuration file the way `tallyd --config` would, so an operator can check an
/// edit before restarting tallyd.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file (access rules, rate limits, daily limits) and print what it grants.",
        discussion: "Exits 0 if `tallyd --config FILE` would start with it, 1 with the reason if not.")

    @Argument(help: "The TOML file.")
    var path: String

    func run() throws {
        do {
            let file = try ConfigFile.load(path: path)
            say("\(absolute(path)): OK")
            say("  access (when tallyd runs as this user): \(file.access.summary)")
            say("  rate limits: \(RateLimit.summary(file.rateLimits))")
            say("  daily limits: \(file.usage.summary); records kept \(file.usage.retention.days) days, months \(file.usage.retention.months)")
        } catch {
            complain("\(error)")
            throw ExitCode(1)
        }
    }
}
