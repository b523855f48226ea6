import ArgumentParser
import Dispatch
import Foundation
import Logging
import TallyLedger
import TallyServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the ledger (the default when no subcommand is given).")

    @Option(name: .customLong("data-dir"), help: "Data directory (created if missing).")
    var dataDirectory = "./tally-data"

    @Option(name: .customLong("socket"), help: "Unix socket path clients connect to.")
    var socketPath = "./tally.sock"

    @Option(help: "A second Unix socket for the admin role only (tallyd's own uid and admin rules), served on a thread of its own: health probes and admin calls there never wait behind clients' calls. Default: none.")
    var adminSocket: String?

    @Option(help: "Socket file permissions, octal: 660 lets tallyd's user and group connect.")
    var socketMode = "660"

    @Option(help: "Group (name or number) that owns the socket file, so its members may connect; default: tallyd's group.")
    var socketGroup: String?

    @Option(help: """
        always: answer a mutation only after its journal record is fsynced (group commit). \
        interval: answer once written, fsync every --fsync-interval-ms. \
        never: no journal, only periodic snapshots. See docs/operations.md for what each can lose.
        """)
    var fsync: FsyncArgument = .always

    @Option(help: "Milliseconds between fsyncs with --fsync interval.")
    var fsyncIntervalMs: Int64 = 200

    @Option(help: "Seconds between snapshots while there were changes; 0: none by time.")
    var snapshotInterval: Int64 = 5

    @Option(help: "Also snapshot once this many MiB of journal were written since the last; 0: none by size.")
    var snapshotJournalMib = 64

    @Option(help: "Largest frame accepted, in bytes (the 4-byte length prefix not counted).")
    var maxFrameBytes = ServerConfig().maxFrameBytes

    @Option(help: "Unanswered calls per connection before tallyd stops reading from it.")
    var maxCallsInFlight = ServerConfig().maxCallsInFlight

    @Option(help: "Connections served at once; past it a new one is refused (RESOURCE_EXHAUSTED).")
    var maxConnections = ServerConfig().maxConnections

    @Option(help: "Connections one peer uid may have open at once; past it a new one is refused (RESOURCE_EXHAUSTED).")
    var maxConnectionsPerUid = ServerConfig().maxConnectionsPerUID

    @Option(help: "Connections kept for the admin role and tallyd's own uid past both connection limits, so an operator can always get in.")
    var reservedAdminConnections = ServerConfig().reservedAdminConnections

    @Option(help: "Calls queued at the Writer, over all connections, past which new mutations are shed (UNAVAILABLE OVERLOADED).")
    var writerQueueLimit = ServerConfig().writerQueueLimit

    @Option(help: "Audit entries kept in memory; at each snapshot older ones move to DATA/archive/audit.jsonl.")
    var auditKeep = ServerConfig().auditKeep

    @Flag(help: "Give every usage call (consume, reserve, settle, release) an audit entry; by default their refusals are only counted per reason (health), and accepted ones are in the usage records.")
    var auditUsageCalls = false

    @Option(help: "Transactions kept in memory per user (0: all); older ones move to DATA/archive at snapshots, still counted in stats.")
    var transactionsPerUser = ServerConfig().transactionsPerUser

    @Option(help: "Archive older transactions only once at least this many are due (one file per batch).")
    var archiveMinimum = ServerConfig().archiveMinimum

    @Option(help: "Commitments of settled predictions move to DATA/archive this many days after settling (0: never).")
    var commitmentArchiveDays = ServerConfig().commitmentArchiveDays

    @Option(help: "Configuration file (TOML): access rules (roles per uid/gid) and per-user rate limits. docs/operations.md.")
    var config: String?

    @Option(help: "Seconds a connection may sit with nothing sent and nothing in flight before it is closed.")
    var idleTimeout: Int64 = ConnectionTimeouts().idleSeconds

    @Option(help: "Seconds a connection may stall in the middle of a frame before it is closed.")
    var frameTimeout: Int64 = ConnectionTimeouts().frameSeconds

    @Option(help: "Seconds a connection may leave its answers unread before it is closed.")
    var writeStallTimeout: Int64 = ConnectionTimeouts().writeStallSeconds

    @Option(help: "Hours an idempotency key is remembered.")
    var idempotencyTtlHours: Int64 = 24

    @Option(help: "Minutes a purchase may stay pending before it fails by itself (EXPIRED).")
    var purchaseTimeoutMinutes: Int64 = 60

    @Option(help: "Threads serving connections apart from the Writer's (0: connections are served on the Writer's own loop, with no thread hand-off per call).")
    var ioThreads = 0

    @Flag(help: "Start even if the journal is damaged: keep everything before the first damage, drop the rest (logged).")
    var repair = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    enum FsyncArgument: String, ExpressibleByArgument, CaseIterable {
        case always, interval, never
    }

    func validate() throws {
        guard snapshotInterval >= 0 else { throw ValidationError("--snapshot-interval must be 0 or more") }
        guard snapshotJournalMib >= 0 else { throw ValidationError("--snapshot-journal-mib must be 0 or more") }
        guard fsyncIntervalMs >= 1 else { throw ValidationError("--fsync-interval-ms must be at least 1") }
        guard maxFrameBytes >= 1_024 else { throw ValidationError("--max-frame-bytes must be at least 1024") }
        guard maxCallsInFlight >= 1 else { throw ValidationError("--max-calls-in-flight must be at least 1") }
        guard idempotencyTtlHours >= 1 else { throw ValidationError("--idempotency-ttl-hours must be at least 1") }
        guard (1...525_600).contains(purchaseTimeoutMinutes) else {
            throw ValidationError("--purchase-timeout-minutes must be from 1 to 525600")
        }
        guard ioThreads >= 0 else { throw ValidationError("--io-threads must be 0 or more") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxConnectionsPerUid >= 1 else { throw ValidationError("--max-connections-per-uid must be at least 1") }
        guard reservedAdminConnections >= 0 else { throw ValidationError("--reserved-admin-connections cannot be negative") }
        guard writerQueueLimit >= 1 else { throw ValidationError("--writer-queue-limit must be at least 1") }
        guard auditKeep >= 0 else { throw ValidationError("--audit-keep cannot be negative") }
        guard transactionsPerUser >= 0 else { throw ValidationError("--transactions-per-user cannot be negative") }
        guard archiveMinimum >= 1 else { throw ValidationError("--archive-minimum must be at least 1") }
        guard (0...36_500).contains(commitmentArchiveDays) else { throw ValidationError("--commitment-archive-days must be 0 to 36500") }
        guard idleTimeout >= 1, frameTimeout >= 1, writeStallTimeout >= 1 else {
            throw ValidationError("--idle-timeout, --frame-timeout and --write-stall-timeout must be at least 1 second")
        }
        if let adminSocket {
            guard !adminSocket.isEmpty else { throw ValidationError("--admin-socket needs a path") }
            guard absolute(adminSocket) != absolute(socketPath) else {
                throw ValidationError("--admin-socket must be another path than --socket")
            }
        }
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777, mode & 0o600 == 0o600 else {
            throw ValidationError("--socket-mode must be octal like 660 and let the owner read and write")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "tallyd")
        let fsyncMode: FsyncMode = switch fsync {
        case .always: .always
        case .interval: .interval(milliseconds: fsyncIntervalMs)
        case .never: .never
        }
        var config = ServerConfig(
            socketPath: socketPath, dataDirectory: dataDirectory, fsync: fsyncMode,
            snapshots: SnapshotPolicy(intervalSeconds: snapshotInterval, journalBytes: snapshotJournalMib << 20),
            maxFrameBytes: maxFrameBytes, maxCallsInFlight: maxCallsInFlight,
            socketMode: UInt32(socketMode, radix: 8) ?? 0o660,
            ledger: LedgerConfig(
                idempotencyTTL: idempotencyTtlHours * Microseconds.perHour,
                purchaseTimeout: purchaseTimeoutMinutes * 60 * Microseconds.perSecond),
            ioThreads: ioThreads, repair: repair, maxConnections: maxConnections,
            timeouts: ConnectionTimeouts(idleSeconds: idleTimeout, frameSeconds: frameTimeout, writeStallSeconds: writeStallTimeout))
        config.socketGroup = socketGroup
        config.adminSocketPath = adminSocket
        config.maxConnectionsPerUID = maxConnectionsPerUid
        config.reservedAdminConnections = reservedAdminConnections
        config.writerQueueLimit = writerQueueLimit
        config.auditKeep = auditKeep
        config.auditUsageCalls = auditUsageCalls
        config.transactionsPerUser = transactionsPerUser
        config.archiveMinimum = archiveMinimum
        config.commitmentArchiveDays = commitmentArchiveDays
        if let path = self.config {
            do {
                let file = try ConfigFile.load(path: path)
                config.access = file.access
                config.rateLimits = file.rateLimits
                config.usage = file.usage
                config.capacity = file.capacity
                config.ledger.usageRetention = file.usage.retention
            } catch {
                complain("cannot start: \(error)")
                throw ExitCode(1)
            }
        }

        // SIGHUP (a closed terminal, or a supervisor's "reload") must not kill tallyd: it is
        // logged and tallyd keeps serving (nothing is reloaded: a restart applies new flags).
        let stop = SignalWaiter(signals: [SIGINT, SIGTERM, SIGHUP])
        let server: TallyServer
        do {
            server = try await TallyServer.start(config: config, logger: logger)
        } catch {
            complain("cannot start: \(error)")
            throw ExitCode(1)
        }
        let s = server.startup
        say("""
            tallyd serving \(absolute(config.socketPath))\(config.adminSocketPath.map { ", admin socket \(absolute($0))" } ?? "")
              data directory \(absolute(config.dataDirectory)), fsync \(fsync.rawValue)
              recovered \(s.accounts) accounts, \(s.transactions) transactions in \(String(format: "%.1f", s.milliseconds)) ms
            \(s.recovery.description.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
              access: \(config.access.summary)
              rate limits: \(RateLimit.summary(config.rateLimits))
              daily limits: \(config.usage.summary)
              capacity: \(config.capacity.summary)
              stop with Ctrl-C (SIGINT) or SIGTERM (SIGHUP is logged and ignored)
            """)
        // Until a signal, or until the data directory is found moved, deleted or replaced
        // under tallyd (it then takes no mutation and writes nothing, and exits 1 once drained).
        let why = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                var signal = await stop.wait()
                while signal == SIGHUP {
                    logger.notice("SIGHUP received: ignored, still serving (nothing is reloaded; restart tallyd to apply new flags or a changed config file)")
                    signal = await stop.wait()
                }
                return Task.isCancelled ? nil : "signal \(signal)"
            }
            group.addTask {
                for await change in server.directoryLost { return "the data directory is no longer this tallyd's: \(change)" }
                return nil
            }
            let first = await group.first { $0 != nil } ?? nil
            group.cancelAll()
            return first ?? "signal"
        }
        say("tallyd: \(why), shutting down")
        do {
            try await server.shutdown()
        } catch {
            complain("shutdown: \(error)")
            throw ExitCode(1)
        }
        say("tallyd: stopped")
    }
}

/// Waits for the first of some signals, delivered through Dispatch instead of a C handler.
final class SignalWaiter: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let received = AsyncStream<Int32>.makeStream()

    init(signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let continuation = received.continuation
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
    }

    private lazy var next = received.stream.makeAsyncIterator()

    /// The next signal received (each is returned once, in order). One caller at a time.
    func wait() async -> Int32 {
        await next.next() ?? 0
    }
}
