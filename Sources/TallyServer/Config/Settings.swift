import Glibc
import Logging
import TallyLedger

/// Every setting of tallyd, in the order docs/operations.md lists them. Each default is the one
/// `ServerConfig()` holds, read from there, so it is written once.
public enum Settings {
    public static let all: [Setting] = [
        Setting(
            "data-dir", .text, "the data directory (created if missing, mode 0750): snapshots, `journal/`, `archive/`, `LOCK`",
            read: { .text($0.dataDirectory) }, write: { $0.dataDirectory = text($1) }),
        Setting(
            "socket", .text, "the Unix socket path clients connect to (at most 107 bytes)",
            read: { .text($0.socketPath) }, write: { $0.socketPath = text($1) }),
        Setting(
            "admin-socket", .text,
            "a second socket for the admin role only, served on a thread of its own, so health probes and admin calls never wait behind clients' calls (see \"The admin socket\")",
            read: { $0.adminSocketPath.map { .text($0) } }, write: { $0.adminSocketPath = text($1) }),
        Setting(
            "socket-mode", .text, "the socket file's permissions, octal (660: tallyd's user and group may connect); the file is created under a matching umask",
            rule: ("octal like 660 and let the owner read and write", { socketMode(text($0)) != nil }),
            read: { .text(String($0.socketMode, radix: 8)) }, write: { $0.socketMode = socketMode(text($1)) ?? 0o660 }),
        Setting(
            "socket-group", .text, "the group (name or number) that owns the socket file, so its members may connect", unset: "tallyd's group",
            read: { $0.socketGroup.map { .text($0) } }, write: { $0.socketGroup = text($1) }),
        Setting(
            "fsync", .choice(["always", "interval", "never"]),
            "`always`: a mutation is answered once its journal record is fsynced (group commit); `interval`: once written, fsynced every `--fsync-interval-ms`; `never`: no journal, only snapshots. See \"What a crash can lose\"",
            read: {
                switch $0.fsync {
                case .always: .text("always")
                case .interval: .text("interval")
                case .never: .text("never")
                }
            },
            write: {
                switch text($1) {
                case "interval": $0.fsync = .interval(milliseconds: FsyncMode.defaultIntervalMilliseconds)
                case "never": $0.fsync = .never
                default: $0.fsync = .always
                }
            }),
        Setting(
            "journal", .text,
            "`file`: the journal in the data directory; `postgresql://USER@HOST[:PORT]/DATABASE` (or `postgresql://USER@/DATABASE?host=/SOCKET/DIR`): a command log in PostgreSQL that several tallyd nodes share, each with its own data directory (see \"Several hosts\")",
            rule: ("`file` or a postgresql:// URL", { text($0) == "file" || text($0).hasPrefix("postgresql://") || text($0).hasPrefix("postgres://") }),
            read: { .text($0.commandLog ?? "file") }, write: { $0.commandLog = text($1) == "file" ? nil : text($1) }),
        Setting(
            "fsync-interval-ms", .integer(1...86_400_000), "with `--fsync interval`: milliseconds between fdatasyncs",
            read: {
                if case .interval(let milliseconds) = $0.fsync { return .integer(milliseconds) }
                return .integer(FsyncMode.defaultIntervalMilliseconds)
            },
            write: { if case .interval = $0.fsync { $0.fsync = .interval(milliseconds: integer($1)) } }),
        Setting(
            "snapshot-interval", .integer(0...Int64.max), "seconds between snapshots while there were changes; 0: none by time",
            read: { .integer($0.snapshots.intervalSeconds) }, write: { $0.snapshots.intervalSeconds = integer($1) }),
        Setting(
            "snapshot-journal-mib", .integer(0...(1 << 40)), "also snapshot once this many MiB of journal were written since the last; 0: none by size",
            read: { .integer(Int64($0.snapshots.journalBytes >> 20)) }, write: { $0.snapshots.journalBytes = Int(integer($1)) << 20 }),
        Setting(
            "max-frame-bytes", .integer(1_024...Int64(Int32.max)), "the largest frame accepted, in bytes, its 4-byte length prefix not counted (docs/protocol.md)",
            read: { .integer(Int64($0.maxFrameBytes)) }, write: { $0.maxFrameBytes = Int(integer($1)) }),
        Setting(
            "max-calls-in-flight", .integer(1...Int64(Int32.max)), "unanswered calls per connection before tallyd stops reading from it",
            read: { .integer(Int64($0.maxCallsInFlight)) }, write: { $0.maxCallsInFlight = Int(integer($1)) }),
        Setting(
            "idempotency-ttl-hours", .integer(1...876_000), "how long an idempotency key is remembered, in hours",
            read: { .integer($0.ledger.idempotencyTTL / Microseconds.perHour) },
            write: { $0.ledger.idempotencyTTL = integer($1) * Microseconds.perHour }),
        Setting(
            "purchase-timeout-minutes", .integer(1...525_600),
            "how long a purchase may stay pending before it fails by itself (`EXPIRED`), in minutes; a later completion still credits",
            read: { .integer($0.ledger.purchaseTimeout / (60 * Microseconds.perSecond)) },
            write: { $0.ledger.purchaseTimeout = integer($1) * 60 * Microseconds.perSecond }),
        Setting(
            "max-connections", .integer(1...Int64(Int32.max)), "connections served at once; past it a new one is refused with RESOURCE_EXHAUSTED",
            read: { .integer(Int64($0.maxConnections)) }, write: { $0.maxConnections = Int(integer($1)) }),
        Setting(
            "idle-timeout", .integer(1...Int64(Int32.max)), "seconds a connection may send nothing with nothing in flight before it is closed",
            read: { .integer($0.timeouts.idleSeconds) }, write: { $0.timeouts.idleSeconds = integer($1) }),
        Setting(
            "frame-timeout", .integer(1...Int64(Int32.max)),
            "seconds a connection may stall in the middle of a frame before it is closed (checked every min(idle, frame, write-stall) timeout, so a stalled connection goes within twice this)",
            read: { .integer($0.timeouts.frameSeconds) }, write: { $0.timeouts.frameSeconds = integer($1) }),
        Setting(
            "write-stall-timeout", .integer(1...Int64(Int32.max)), "seconds a connection may leave its answers unread before it is closed",
            read: { .integer($0.timeouts.writeStallSeconds) }, write: { $0.timeouts.writeStallSeconds = integer($1) }),
        Setting(
            "max-connections-per-uid", .integer(1...Int64(Int32.max)),
            "connections one peer uid may have open at once; past it a new one gets `TOO_MANY_CONNECTIONS_FOR_UID`",
            read: { .integer(Int64($0.maxConnectionsPerUID)) }, write: { $0.maxConnectionsPerUID = Int(integer($1)) }),
        Setting(
            "reserved-admin-connections", .integer(0...Int64(Int32.max)),
            "connections kept for the admin role and tallyd's own uid past both connection limits, so an operator can always connect (PostgreSQL's `superuser_reserved_connections`)",
            read: { .integer(Int64($0.reservedAdminConnections)) }, write: { $0.reservedAdminConnections = Int(integer($1)) }),
        Setting(
            "writer-queue-limit", .integer(1...Int64(Int32.max)),
            "calls queued at the Writer, over all connections, past which new mutations get `UNAVAILABLE OVERLOADED`",
            read: { .integer(Int64($0.writerQueueLimit)) }, write: { $0.writerQueueLimit = Int(integer($1)) }),
        Setting(
            "audit-keep", .integer(0...Int64(Int32.max)), "audit entries kept in memory; at each snapshot older ones move to `DATA/archive/audit.jsonl`",
            read: { .integer(Int64($0.auditKeep)) }, write: { $0.auditKeep = Int(integer($1)) }),
        Setting(
            "audit-usage-calls", .flag,
            "give every usage call (consume, reserve, settle, release) an audit entry; otherwise their refusals are counted per reason (health) and accepted ones are in the usage records",
            read: { .on($0.auditUsageCalls) }, write: { $0.auditUsageCalls = on($1) }),
        Setting(
            "transactions-per-user", .integer(0...Int64(Int32.max)),
            "transactions kept in memory per user (0: all); older ones move to `DATA/archive` at snapshots, still counted in stats",
            read: { .integer(Int64($0.transactionsPerUser)) }, write: { $0.transactionsPerUser = Int(integer($1)) }),
        Setting(
            "archive-minimum", .integer(1...Int64(Int32.max)), "older transactions are archived only once at least this many are due (one file per batch)",
            read: { .integer(Int64($0.archiveMinimum)) }, write: { $0.archiveMinimum = Int(integer($1)) }),
        Setting(
            "commitment-archive-days", .integer(0...36_500),
            "commitments of settled predictions move to `DATA/archive` this many days after settling (0: never)",
            read: { .integer(Int64($0.commitmentArchiveDays)) }, write: { $0.commitmentArchiveDays = Int(integer($1)) }),
        Setting(
            "io-threads", .integer(0...256),
            "threads serving connections apart from the Writer's; 0 serves them on the Writer's own event loop (no thread hand-off per call, docs/decisions.md); the journal and snapshots have their own threads",
            read: { .integer(Int64($0.ioThreads)) }, write: { $0.ioThreads = Int(integer($1)) }),
        Setting(
            "metrics-listen", .text,
            "where Prometheus scrapes `GET /metrics`: `unix:PATH`, or a loopback `HOST:PORT` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`); served on a thread of its own (see \"Metrics\")",
            rule: ("unix:PATH or a loopback HOST:PORT such as 127.0.0.1:9464", { MetricsListener.Address(text($0)) != nil }),
            read: { $0.metricsListen.map { .text($0) } }, write: { $0.metricsListen = text($1) }),
        Setting(
            "slow-call-ms", .integer(0...3_600_000),
            "a call answered later than this after its bytes were read is logged (a warning) with its method, user, call id and where its time went: queue, Writer, journal, write-out (0: none)",
            read: { .integer(Int64($0.slowCallMilliseconds)) }, write: { $0.slowCallMilliseconds = Int(integer($1)) }),
        Setting(
            "log-level", .choice(Logger.Level.allCases.map(\.rawValue)), "the least severe log lines written (to stderr)",
            read: { .text($0.logLevel.rawValue) }, write: { $0.logLevel = Logger.Level(rawValue: text($1)) ?? .info }),
        Setting(
            "log-format", .choice(["text", "json"]),
            "`text`: one line a record for people; `json`: one JSON object a line (`time`, `level`, `message`, `label`, and each metadata key as a field) for log shippers",
            read: { .text($0.logFormat.rawValue) }, write: { $0.logFormat = LogFormat(rawValue: text($1)) ?? .text }),
        Setting(
            "repair", .flag, "start on a damaged journal, keeping everything before the first damage and dropping the rest (see Recovery); for one start, so not in the config file",
            inFile: false, read: { .on($0.repair) }, write: { $0.repair = on($1) }),
    ]

    /// The setting named `name` (a flag without dashes or a file key).
    public static func named(_ name: String) -> Setting? {
        all.first { $0.name == name || $0.key == name }
    }

    /// The config file's keys for them (the `[tables]` come on top).
    public static var fileKeys: [String] { all.filter(\.inFile).map(\.key) }

    static func socketMode(_ text: String) -> UInt32? {
        guard let mode = UInt32(text, radix: 8), mode <= 0o777, mode & 0o600 == 0o600 else { return nil }
        return mode
    }

    private static func text(_ value: Setting.Value) -> String {
        if case .text(let text) = value { return text }
        preconditionFailure("a text setting got \(value)")
    }

    private static func integer(_ value: Setting.Value) -> Int64 {
        if case .integer(let number) = value { return number }
        preconditionFailure("a number setting got \(value)")
    }

    private static func on(_ value: Setting.Value) -> Bool {
        if case .on(let on) = value { return on }
        preconditionFailure("a flag setting got \(value)")
    }
}

extension ServerConfig {
    /// The configuration from the defaults, then the config file (if any), then the flags given
    /// on the command line: a flag wins over the file, the file over the default. A value its
    /// setting does not take, a name no setting has, or two equal sockets are refused by name.
    public init(file: ConfigFile?, flags: [String: Setting.Value]) throws(ConfigFile.Invalid) {
        self.init()
        var given = file?.settings ?? [:]
        given.merge(flags) { _, flag in flag }
        if let unknown = given.keys.sorted().first(where: { name in !Settings.all.contains { $0.name == name } }) {
            throw ConfigFile.Invalid("no setting is named \(unknown)")
        }
        for setting in Settings.all {
            guard let value = given[setting.name] else { continue }
            if let problem = setting.problem(value) { throw ConfigFile.Invalid("\(setting.key) must be \(problem)") }
            setting.apply(value, to: &self)
        }
        if let admin = adminSocketPath, Self.absolute(admin) == Self.absolute(socketPath) {
            throw ConfigFile.Invalid("admin-socket must be another path than socket (both are \(admin))")
        }
        if let file {
            access = file.access
            rateLimits = file.rateLimits
            usage = file.usage
            capacity = file.capacity
            ledger.usageRetention = file.usage.retention
        }
    }

    /// `path` from the root, as the socket will be bound.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let directory = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "."
        return directory + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }
}
