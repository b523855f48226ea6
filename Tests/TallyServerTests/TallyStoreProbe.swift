import TallyLedger
import TallyStore

/// Reads a data directory's snapshot the way a restarted tallyd would.
enum TallyStoreProbe {
    static func load(_ directory: String) throws -> Ledger? {
        try SnapshotFile.load(from: directory, config: LedgerConfig())
    }
}
