import TallyLedger
import TallyWire

/// Everything tallyd is told at start. Each default is what `tallyd` with no flags runs on.
public struct ServerConfig: Sendable {
    public var socketPath: String
    public var dataDirectory: String
    /// Seconds between snapshots while there were changes; 0 turns periodic snapshots off
    /// (a snapshot is still written on clean shutdown).
    public var snapshotIntervalSeconds: Int64
    /// Largest frame accepted (length prefix not counted). docs/protocol.md.
    public var maxFrameBytes: Int
    /// Calls a connection may have unanswered before tallyd stops reading from it.
    public var maxCallsInFlight: Int
    /// Socket file permissions: owner and group may connect.
    public var socketMode: UInt32
    public var ledger: LedgerConfig
    /// I/O threads for connections (the Writer has its own).
    public var ioThreads: Int

    public init(
        socketPath: String = "./tally.sock", dataDirectory: String = "./tally-data",
        snapshotIntervalSeconds: Int64 = 5, maxFrameBytes: Int = Frame.defaultMaxBytes,
        maxCallsInFlight: Int = 1_024, socketMode: UInt32 = 0o660, ledger: LedgerConfig = LedgerConfig(),
        ioThreads: Int = 1
    ) {
        self.socketPath = socketPath
        self.dataDirectory = dataDirectory
        self.snapshotIntervalSeconds = snapshotIntervalSeconds
        self.maxFrameBytes = maxFrameBytes
        self.maxCallsInFlight = maxCallsInFlight
        self.socketMode = socketMode
        self.ledger = ledger
        self.ioThreads = ioThreads
    }
}
