import Glibc
import Logging
import TallyLedger
import TallyWire

/// How mutations are made durable before they are answered (docs/operations.md).
public enum FsyncMode: Equatable, Sendable {
    /// Journal + fdatasync before the answer, shared by everything in flight (group commit).
    case always
    /// Journal written before the answer, fdatasync every `milliseconds`.
    case interval(milliseconds: Int64)
    /// No journal: durable only once a (periodic, fsynced) snapshot holds it.
    case never

    /// Between fdatasyncs with `--fsync interval` when no other is given.
    public static let defaultIntervalMilliseconds: Int64 = 200
}

/// How tallyd writes its log lines (`--log-format`).
public enum LogFormat: String, Sendable {
    case text, json
}

/// Everything tallyd is told at start. Each default is what `tallyd` with no flags runs on;
/// `Settings.all` describes the ones flags and the config file set.
public struct ServerConfig: Sendable {
    public var socketPath: String
    /// A second socket for the admin role only, served on an event loop of its own, so an
    /// operator's calls (a supervisor's health probe) never wait behind the clients' (nil: none).
    public var adminSocketPath: String? = nil
    public var dataDirectory: String
    public var fsync: FsyncMode
    /// `--journal postgresql://...`: the command log several nodes share; nil: the file journal.
    public var commandLog: String? = nil
    public var snapshots: SnapshotPolicy
    /// Largest frame accepted (length prefix not counted). docs/protocol.md.
    public var maxFrameBytes: Int
    /// Calls a connection may have unanswered before tallyd stops reading from it.
    public var maxCallsInFlight: Int
    /// Socket file permissions: owner and group may connect.
    public var socketMode: UInt32
    /// The socket file's group (a name or number); nil keeps tallyd's own group.
    public var socketGroup: String?
    public var ledger: LedgerConfig
    /// Threads for connections apart from the Writer's; 0 (the default) serves them on the
    /// Writer's own loop, so a call needs no thread hand-off.
    public var ioThreads: Int
    /// Start even if the journal is damaged, dropping everything after the first damage.
    public var repair: Bool
    /// Journal segment size before a new one is started.
    public var journalSegmentBytes: Int
    /// Connections served at once; past it a new one gets RESOURCE_EXHAUSTED and is closed.
    public var maxConnections: Int
    public var timeouts: ConnectionTimeouts
    /// Connections one peer uid may have open at once, so one client cannot take them all.
    public var maxConnectionsPerUID: Int
    /// Connections kept for the admin role and tallyd's own uid past both connection limits.
    public var reservedAdminConnections: Int
    /// Who may connect and what each may call (docs/security.md, Roles).
    public var access: AccessPolicy
    /// Per-user rate limits by method class; a class not listed is not limited.
    public var rateLimits: [RateClass: RateLimit]
    /// Calls queued at the Writer (all connections) past which new mutations are shed.
    public var writerQueueLimit: Int
    /// Audit entries kept in memory; older ones go to DATA/archive/audit.jsonl at each snapshot.
    public var auditKeep: Int
    /// Whether each usage call (consume, reserve, settle, release) gets an audit entry. Off by
    /// default: the usage records already hold what accepted ones did, and refusals are counted
    /// per reason (health); an entry each costs CPU and memory per call (docs/operations.md).
    public var auditUsageCalls = false
    /// Transactions kept in memory per user (0: all); older ones are archived in batches of at
    /// least `archiveMinimum` at snapshot time.
    public var transactionsPerUser: Int
    public var archiveMinimum: Int
    /// Commitments of settled predictions, settled more than this many days ago, are archived
    /// the same way (0: kept in memory).
    public var commitmentArchiveDays: Int
    /// How often the Writer releases reservations whose time-to-live is over: a reservation
    /// holds its tokens for its TTL plus at most this long.
    public var reservationSweepMilliseconds: Int64
    /// Bounds on each collection clients can grow (the config file's [capacity]).
    public var capacity = LedgerCapacity()
    /// Daily limits from the config file, applied at start where they differ from the state.
    public var usage: UsageConfig
    /// The least severe log lines written.
    public var logLevel: Logger.Level = .info
    /// How log lines are written to stderr.
    public var logFormat: LogFormat = .text
    /// Where `GET /metrics` is served ("unix:PATH" or a loopback "HOST:PORT"); nil: nowhere.
    public var metricsListen: String? = nil
    /// Calls slower than this from read to answer are logged; 0: none.
    public var slowCallMilliseconds = 100
    /// The time of day tallyd stamps with (tests move it to just before midnight).
    public var wallClock: WallClock

    public init(
        socketPath: String = "./tally.sock", dataDirectory: String = "./tally-data", fsync: FsyncMode = .always,
        snapshots: SnapshotPolicy = SnapshotPolicy(), maxFrameBytes: Int = Frame.defaultMaxBytes,
        maxCallsInFlight: Int = 1_024, socketMode: UInt32 = 0o660, ledger: LedgerConfig = LedgerConfig(),
        ioThreads: Int = 0, repair: Bool = false, journalSegmentBytes: Int = 64 << 20, maxConnections: Int = 1_024,
        timeouts: ConnectionTimeouts = ConnectionTimeouts()
    ) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerUID = 256
        self.reservedAdminConnections = 3
        self.access = AccessPolicy(ownerUID: getuid())
        self.rateLimits = [:]
        self.writerQueueLimit = 65_536
        self.auditKeep = 100_000
        self.transactionsPerUser = 1_000
        self.archiveMinimum = 10_000
        self.commitmentArchiveDays = 90
        self.reservationSweepMilliseconds = 1_000
        self.wallClock = .system
        self.usage = UsageConfig()
        self.socketGroup = nil
        self.timeouts = timeouts
        self.socketPath = socketPath
        self.dataDirectory = dataDirectory
        self.fsync = fsync
        self.snapshots = snapshots
        self.maxFrameBytes = maxFrameBytes
        self.maxCallsInFlight = maxCallsInFlight
        self.socketMode = socketMode
        self.ledger = ledger
        self.ioThreads = ioThreads
        self.repair = repair
        self.journalSegmentBytes = journalSegmentBytes
    }
}
