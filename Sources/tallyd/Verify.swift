import ArgumentParser
import Foundation
import TallyLedger
import TallyStore

/// Checks a data directory or a snapshot file without changing it.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a data directory or snapshot file: checksums, journal replay, invariants.",
        discussion: "Changes nothing (a torn journal tail is reported, not cut). Exits 0 if tallyd would start on it.")

    @Argument(help: "A data directory, or one snapshot file (a backup).")
    var path: String

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            complain("\(path) does not exist")
            throw ExitCode(1)
        }
        do {
            let ledger: Ledger
            let through: UInt64
            if isDirectory.boolValue {
                let recovered = try Recovery.run(dataDirectory: path, config: LedgerConfig(), readOnly: true)
                say("data directory \(absolute(path))")
                say(recovered.report.description.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                ledger = recovered.ledger
                through = recovered.nextSequence - 1
            } else {
                let (loaded, sequence) = try SnapshotFile.read(path, config: LedgerConfig())
                let directory = try SnapshotFile.header(atPath: path).directoryID.map { "data directory \($0)" } ?? "format 1, no directory id"
                say("snapshot \(absolute(path)): through journal record \(sequence), written by \(directory)")
                ledger = loaded
                through = sequence
            }
            say("  \(ledger.accounts.count) accounts, \(ledger.transactions.count) transactions, "
                + "\(ledger.idempotency.records.count) idempotency keys, \(-ledger.mint) tokens issued, \(ledger.burn) spent")
            say("  daily limits: \(ledger.usage.users.count) users, \(ledger.usage.reservations.count) open reservations, "
                + "zone \(ledger.usage.limits.timeZone), \(ledger.usage.limits.tiers.count) tiers")
            say("  invariants hold")
            // The same digest `tally health --digest` gives for a live tallyd at that record.
            say("  state digest (SHA-256) through journal record \(through): \(try StateDigest.sha256(ledger, sequence: through))")
            say("OK")
        } catch {
            complain("verify failed: \(error)")
            throw ExitCode(1)
        }
    }
}
