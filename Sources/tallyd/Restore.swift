import ArgumentParser
import Foundation
import TallyLedger
import TallyStore

/// Makes a new data directory from a backup file.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a data directory from a backup (a snapshot file written by `tally backup`).")

    @Argument(help: "The backup file.")
    var backup: String

    @Option(name: .customLong("data-dir"), help: "The data directory to create; it must not exist or be empty.")
    var dataDirectory = "./tally-data"

    func run() throws {
        do {
            let (ledger, sequence) = try SnapshotFile.read(backup, config: LedgerConfig())
            let manager = FileManager.default
            if manager.fileExists(atPath: dataDirectory) {
                guard try manager.contentsOfDirectory(atPath: dataDirectory).isEmpty else {
                    complain("\(dataDirectory) is not empty; restore into a new directory")
                    throw ExitCode(1)
                }
            } else {
                try manager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            }
            // A directory of its own: a new id, so that the files of the directory the backup came
            // from (a tallyd still running there, say) are never taken for this one's.
            let id = try DirectoryIdentity.establish(in: dataDirectory).id
            let path = dataDirectory + "/" + SnapshotFile.fileName(sequence: sequence)
            try SnapshotFile.write(ledger, sequence: sequence, directoryID: id, to: path)
            say("restored \(ledger.accounts.count) accounts, \(ledger.transactions.count) transactions into \(absolute(dataDirectory)) (directory id \(id))")
            say("start it with: tallyd --data-dir \(dataDirectory)")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            complain("restore failed: \(error)")
            throw ExitCode(1)
        }
    }
}
