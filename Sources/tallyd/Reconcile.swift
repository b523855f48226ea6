import ArgumentParser
import Foundation
import TallyLedger
import TallyServer
import TallyStore

/// Reconciles a stopped tallyd's data directory: the same report as Admin/Reconcile, for a state
/// tallyd would refuse to start on because it breaks invariants; `--repair` writes the missing
/// transactions and a snapshot holding them.
struct Reconcile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute every balance of a data directory from its history; --repair writes what history is missing.",
        discussion: "Run it on a stopped tallyd's data directory. Exits 0 when every balance agrees with history (after a repair, if asked).")

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Flag(help: "Write the transactions history is missing, then a snapshot holding them.")
    var repair = false

    func run() throws {
        do {
            // A repair writes into the directory: it takes the lock a running tallyd holds, so it
            // never writes beside one. A report only reads.
            var locked: DataDirectory?
            if repair {
                guard FileManager.default.fileExists(atPath: dataDirectory) else { throw StoreError("no data directory at \(dataDirectory)") }
                locked = try DataDirectory(dataDirectory)
            }
            defer { locked?.release() }
            let recovered = try locked.map {
                try Recovery.run(dataDirectory: $0.store, config: LedgerConfig(), readOnly: false, allowBrokenInvariants: true)
            } ?? Recovery.run(dataDirectory: dataDirectory, config: LedgerConfig(), readOnly: true, allowBrokenInvariants: true)
            for line in recovered.report.foreignFileLines { say(line) }
            var ledger = recovered.ledger
            let before = ledger.invariantViolations()
            let applied = ledger.apply(.reconcile(repair: repair), at: ledger.lastTimestamp + 1)
            guard case .reconciled(let report) = applied.outcome else { throw StoreError("reconciliation answered \(applied.outcome)") }
            say("\(report.accountsChecked) accounts and \(report.transactionsChecked) transactions checked; \(before.count) invariant(s) broken")
            for mismatch in report.mismatches {
                say("  \(mismatch.account) \(mismatch.field): stored \(mismatch.stored), history says \(mismatch.fromHistory)")
            }
            for transaction in report.repairs {
                say("  repaired: transaction \(transaction.id), \(transaction.type) \(transaction.amount) for \(transaction.userID)")
            }
            if !report.unrepairable.isEmpty { say("  needs an operator: \(report.unrepairable.joined(separator: ", "))") }
            if repair && applied.changedState {
                let after = ledger.invariantViolations()
                guard after.isEmpty else { throw StoreError("the repaired state still breaks \(after.count) invariant(s), first: \(after[0]); nothing written") }
                let sequence = recovered.nextSequence - 1
                guard let locked else { throw StoreError("a repair without the directory's lock") }
                try SnapshotFile.writeAndPrune(ledger, sequence: sequence, directoryID: locked.id, in: locked.store)
                say("wrote a snapshot through journal record \(sequence) with \(report.repairs.count) repair transaction(s)")
            }
            guard report.clean || (repair && ledger.invariantViolations().isEmpty) else {
                say("MISMATCHES" + (repair ? "" : " (run again with --repair)"))
                throw ExitCode(1)
            }
            say("OK")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            complain("reconcile failed: \(error)")
            throw ExitCode(1)
        }
    }
}
