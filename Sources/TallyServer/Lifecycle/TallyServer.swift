import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TallyLedger
import TallyStore
import TallyWire

/// tallyd: loads the Ledger from the data directory, listens on the Unix socket, and keeps the
/// state durable until `shutdown()`.
public final class TallyServer: Sendable {
    public let config: ServerConfig
    private let logger: Logger
    private let ioGroup: MultiThreadedEventLoopGroup?
    private let writerGroup: MultiThreadedEventLoopGroup
    private let snapshotThreads: SnapshotThreads
    private let dataDirectory: DataDirectory
    private let watch: DirectoryWatch
    /// Internal for the tests that hold its loop (AdminSocketTests).
    let writer: Writer
    private let journal: any Journal
    private let snapshotter: Snapshotter
    /// The main socket's listener, then the admin socket's if there is one.
    private let listeners: [any Channel]
    private let adminGroup: MultiThreadedEventLoopGroup?
    private let connections: Connections
    private let queue: WriterQueue
    private let stopped: Mutex<Bool> = Mutex(false)
    /// What `--metrics-listen` serves (kept whether or not it is served).
    public let meters: Meters
    /// The metrics listener and its loop, with `--metrics-listen`.
    private let metrics: (listener: any Channel, group: MultiThreadedEventLoopGroup)?

    /// What start-up found, for the log line and the tests.
    public struct Startup: Sendable {
        public var accounts: Int
        public var transactions: Int
        public var recovery: Recovery.Report
        /// With a shared command log: this node's name and the position it caught up with.
        public var commandLog: (node: String, from: UInt64, through: UInt64)?
        public var loadedSnapshot: Bool { recovery.snapshotPath != nil }
        public var milliseconds: Double { recovery.milliseconds }
    }

    public let startup: Startup

    /// Opens the command log of `--journal postgresql://...` for node `node` whose snapshot
    /// holds `snapshotSequence` (TallyPostgres; tallyd passes it in, so this module needs no
    /// PostgreSQL client).
    public typealias OpenCommandLog = @Sendable (_ url: String, _ node: String, _ snapshotSequence: UInt64, _ logger: Logger) async throws -> any CommandLog

    /// Recovers the data directory, starts the journal (or the command log) and the Writer, and
    /// listens. `io` is the journal's file layer (tests inject failures through it).
    public static func start(
        config: ServerConfig, logger: Logger = Logger(label: "tallyd"), io: any JournalIO = PosixJournalIO(),
        openCommandLog: OpenCommandLog? = nil
    ) async throws -> TallyServer {
        let dataDirectory = try DataDirectory(config.dataDirectory)
        let watch = DirectoryWatch(dataDirectory)
        let io = WatchedJournalIO(inner: io, watch: watch)
        let recovered = try Recovery.run(dataDirectory: dataDirectory.store, config: config.ledger, repair: config.repair)
        let ledger = recovered.ledger
        switch dataDirectory.idFound {
        case .recorded: break
        case .adopted(let id):
            logger.warning("DIRECTORY_ID was missing: recorded \(id), the id the directory's files name", metadata: ["path": "\(dataDirectory.path)"])
        case .none:
            logger.notice("gave the data directory its id", metadata: ["id": "\(dataDirectory.id)", "path": "\(dataDirectory.path)"])
        }
        for line in recovered.report.foreignFileLines { logger.warning("\(line)") }
        if case .unverifiable? = recovered.report.tornTail {
            logger.warning(
                "the journal's last record failed its checksum with all its bytes present: a torn write or damage, see the recovery report",
                metadata: ["segment": "\(recovered.report.tornSegment ?? "")", "kept": "\(recovered.report.tornTailKeptAt ?? "")"])
        }
        var startup = Startup(accounts: ledger.accounts.count, transactions: ledger.transactions.count, recovery: recovered.report)

        try SocketFile.prepare(config.socketPath)
        if let adminSocketPath = config.adminSocketPath { try SocketFile.prepare(adminSocketPath) }
        let socketGroup = try config.socketGroup.map(SocketFile.groupID)
        let meters = Meters()
        meters.recoveryDuration.set(to: recovered.report.milliseconds / 1000)
        let journal: any Journal
        if let url = config.commandLog {
            guard let openCommandLog else {
                throw ConfigFile.Invalid("--journal \(url) needs a tallyd built with PostgreSQL support")
            }
            guard recovered.segments.isEmpty else {
                throw ConfigFile.Invalid(
                    "\(config.dataDirectory) holds a file journal (journal/): a node of several hosts starts from a snapshot alone; start it with an empty data directory, or one `tallyd restore` made from a backup of a node")
            }
            journal = try await openCommandLog(url, dataDirectory.id.description, recovered.nextSequence - 1, logger)
        } else {
            switch config.fsync {
            case .always, .interval:
                journal = try FileJournal(
                    dataDirectory: dataDirectory.store, directoryID: dataDirectory.id, nextSequence: recovered.nextSequence,
                    existingSegments: recovered.segments,
                    mode: config.fsync == .always ? .always : .interval, segmentBytes: config.journalSegmentBytes, io: io,
                    onCommit: meters.journalCommitted)
            case .never:
                journal = SnapshotsOnly(
                    dataDirectory: dataDirectory.store, segments: recovered.segments, lastSequence: recovered.nextSequence - 1, io: io)
            }
        }

        // By default (ioThreads 0) connections are served on the Writer's own loop: a call costs
        // no thread hand-off (docs/decisions.md, "One loop for connections and the Writer").
        let writerGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let ioGroup = config.ioThreads > 0 ? MultiThreadedEventLoopGroup(numberOfThreads: config.ioThreads) : nil
        // Snapshot writes never overlap and run in the order they were asked for (one encoder).
        // One that takes twice its interval (10 s at least) is late: it finishes at nice 10.
        let snapshotThreads = SnapshotThreads(
            logger: logger, idleBudget: .seconds(max(10, 2 * config.snapshots.intervalSeconds)))
        let writer = Writer(
            ledger: ledger, nextSequence: recovered.nextSequence, loop: writerGroup.next(), journal: journal,
            snapshots: config.snapshots, rateLimits: config.rateLimits, capacity: config.capacity, wallClock: config.wallClock, logger: logger,
            rebuild: { [store = dataDirectory.store, ledgerConfig = config.ledger] through in
                try Recovery.run(dataDirectory: store, config: ledgerConfig, readOnly: true, through: through).ledger
            },
            recoverForResume: { [store = dataDirectory.store, ledgerConfig = config.ledger] through in
                try Recovery.run(dataDirectory: store, config: ledgerConfig, through: through)
            })
        watch.onLost { change in
            logger.critical(
                "the data directory is no longer this tallyd's: refusing every mutation, writing nothing more, stopping",
                metadata: ["change": "\(change)"])
            writer.directoryReplaced(change)
        }
        let snapshotter = Snapshotter(
            writer: writer, journal: journal, directory: dataDirectory.store, directoryID: dataDirectory.id, watch: watch, policy: config.snapshots, threads: snapshotThreads,
            lastSequence: recovered.report.snapshotSequence, auditKeep: config.auditKeep,
            transactionsPerUser: config.transactionsPerUser, archiveMinimum: config.archiveMinimum,
            commitmentArchiveDays: config.commitmentArchiveDays,
            // Archiving is a node's own files plus a logged command that drops what they hold;
            // through a shared log one node's command would drop entries from every node's
            // memory that only its own files hold. Until archives are written at apply time,
            // a node of several hosts keeps everything in memory.
            archives: config.commandLog == nil, logger: logger, meters: meters)
        if config.commandLog != nil {
            logger.notice(
                "a node of several hosts keeps its audit log, transactions and commitments in memory: --audit-keep, --transactions-per-user and --commitment-archive-days do not apply (docs/operations.md, \"Several hosts\")")
        }
        let connections = Connections()
        let queue = WriterQueue(limit: config.writerQueueLimit)
        let health = Health(
            writer: writer, snapshotter: snapshotter, connections: connections, queue: queue, startedAt: .now(),
            dataDirectory: dataDirectory.path)
        let scrape = MetricsScrape(meters: meters, writer: writer, snapshotter: snapshotter, connections: connections, queue: queue)
        let setup = ConnectionSetup(
            writer: writer, snapshotter: snapshotter, health: health, connections: connections, queue: queue,
            access: config.access, maxConnections: config.maxConnections, maxConnectionsPerUID: config.maxConnectionsPerUID,
            reservedAdminConnections: config.reservedAdminConnections, maxFrameBytes: config.maxFrameBytes,
            maxCallsInFlight: config.maxCallsInFlight, auditUsageCalls: config.auditUsageCalls, timeouts: config.timeouts, logger: logger,
            metrics: scrape,
            slowCalls: config.slowCallMilliseconds > 0 ? SlowCalls(threshold: .milliseconds(Int64(config.slowCallMilliseconds)), logger: logger) : nil)
        func bootstrap(_ group: MultiThreadedEventLoopGroup, adminSocket: Bool) -> ServerBootstrap {
            ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { setup.setUp($0, adminSocket: adminSocket) }
        }
        // The admin socket's connections have a loop of their own: a supervisor's health probe
        // never waits behind the clients' reads and writes (docs/operations.md, "The admin socket").
        let adminGroup = config.adminSocketPath == nil ? nil : MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var sockets = [(path: config.socketPath, group: ioGroup ?? writerGroup, adminSocket: false)]
        if let adminSocketPath = config.adminSocketPath, let adminGroup {
            sockets.append((adminSocketPath, adminGroup, true))
        }
        var listeners: [any Channel] = []
        var metrics: (listener: any Channel, group: MultiThreadedEventLoopGroup)?
        do {
            // Create the socket file without permissions beyond the configured mode, so there is
            // no moment in which others could connect; then set the mode exactly.
            // The config file's daily limits, journaled like an admin's change, before anyone calls.
            if let log = journal as? any CommandLog {
                // Everything the log holds after this node's snapshot, before anyone calls.
                log.follow(
                    after: recovered.nextSequence - 1, chain: ledger.logChain,
                    apply: { batches, applied in
                        writer.onLoop { writer in
                            writer.applyLog(batches)
                            applied()
                        }
                    },
                    lost: { error in writer.onLoop { $0.lose(error) } })
                let head = log.head
                try await writer.waitUntilApplied(through: head)
                startup.commandLog = (log.node, recovered.nextSequence - 1, head)
                let now = await writer.counts
                (startup.accounts, startup.transactions) = (now.accounts, now.transactions)
            }
            let changes = config.usage.changes(from: await writer.currentLedger().usage.limits)
            if !changes.isEmpty { try await writer.applyAtStart(changes.map { Command.changeUsage($0) }) }
            let previousMask = umask(mode_t(0o777 & ~config.socketMode))
            defer { umask(previousMask) }
            for (path, group, adminSocket) in sockets {
                listeners.append(try await bootstrap(group, adminSocket: adminSocket).bind(unixDomainSocketPath: path).get())
                if let socketGroup { try SocketFile.setGroup(path, socketGroup) }
                try SocketFile.setMode(path, config.socketMode)
            }
            if let text = config.metricsListen {
                guard let address = MetricsListener.Address(text) else {
                    throw ConfigFile.Invalid("metrics_listen must be unix:PATH or a loopback HOST:PORT such as 127.0.0.1:9464, got \(text)")
                }
                let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                do {
                    let listener = try await MetricsListener.bind(address, group: group, scrape: scrape)
                    metrics = (listener, group)
                } catch {
                    try? await group.shutdownGracefully()
                    throw error
                }
            }
        } catch {
            for (listener, socket) in zip(listeners, sockets) {
                try? await listener.close()
                unlink(socket.path)
            }
            let _: Result<Void, any Error> = await withCheckedContinuation { continuation in
                journal.close { continuation.resume(returning: $0) }
            }
            try? await ioGroup?.shutdownGracefully()
            try? await adminGroup?.shutdownGracefully()
            try? await writerGroup.shutdownGracefully()
            try? await snapshotThreads.shutdownGracefully()
            dataDirectory.release()
            throw error
        }
        snapshotter.start()
        writer.loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in watch.check() }
        _ = writer.startExpiring(every: .milliseconds(config.reservationSweepMilliseconds))
        if case .interval(let milliseconds) = config.fsync, config.commandLog == nil {
            writer.loop.scheduleRepeatedTask(initialDelay: .milliseconds(milliseconds), delay: .milliseconds(milliseconds)) { _ in
                journal.sync()
            }
        }
        return TallyServer(
            config: config, logger: logger, ioGroup: ioGroup, writerGroup: writerGroup, snapshotThreads: snapshotThreads,
            dataDirectory: dataDirectory, watch: watch, writer: writer, journal: journal, snapshotter: snapshotter,
            listeners: listeners, adminGroup: adminGroup, connections: connections, queue: queue, startup: startup,
            meters: meters, metrics: metrics)
    }

    private init(
        config: ServerConfig, logger: Logger, ioGroup: MultiThreadedEventLoopGroup?,
        writerGroup: MultiThreadedEventLoopGroup, snapshotThreads: SnapshotThreads, dataDirectory: DataDirectory,
        watch: DirectoryWatch, writer: Writer, journal: any Journal, snapshotter: Snapshotter, listeners: [any Channel],
        adminGroup: MultiThreadedEventLoopGroup?, connections: Connections,
        queue: WriterQueue, startup: Startup, meters: Meters, metrics: (listener: any Channel, group: MultiThreadedEventLoopGroup)?
    ) {
        self.meters = meters
        self.metrics = metrics
        self.queue = queue
        self.config = config
        self.logger = logger
        self.ioGroup = ioGroup
        self.writerGroup = writerGroup
        self.snapshotThreads = snapshotThreads
        self.dataDirectory = dataDirectory
        self.watch = watch
        self.writer = writer
        self.journal = journal
        self.snapshotter = snapshotter
        self.listeners = listeners
        self.adminGroup = adminGroup
        self.connections = connections
        self.startup = startup
    }

    /// The Ledger as the Writer holds it now (tests, health).
    public func currentLedger() async -> Ledger {
        await writer.currentLedger()
    }

    public var connectionCount: Int { connections.count }

    /// Yields, once, what changed when the data directory is found moved, deleted or replaced
    /// under this tallyd; it then takes no mutation and writes nothing, and should be shut down
    /// (`shutdown` throws `DirectoryReplaced`, so tallyd exits non-zero).
    public var directoryLost: AsyncStream<String> { watch.whenLost }

    public struct DirectoryReplaced: Error, CustomStringConvertible {
        public var description: String
    }

    /// Calls handed to the Writer and not yet answered, over all connections.
    public var queuedCalls: Int { queue.count }

    /// Whether the Writer's loop runs a task handed to it within `timeout`: what a supervisor's
    /// watchdog should be told, since a loop stuck in one turn answers nothing.
    public func writerResponds(within timeout: Duration) async -> Bool {
        final class Once: Sendable { let done = Mutex(false) }
        let answered = Once()
        return await withCheckedContinuation { continuation in
            // Whichever comes first answers; the timer runs off the loop, which may be stuck.
            let finish: @Sendable (Bool) -> Void = { responded in
                let first = answered.done.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: responded) }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                finish(false)
            }
            writer.loop.execute {
                finish(true)
                timer.cancel()  // after: a cancelled timer finishes too, and must not come first
            }
        }
    }

    /// The durable state and its last journal record (tests).
    public func durableState() async throws -> (sequence: UInt64, ledger: Ledger) {
        try await writer.durableCopy().get()
    }

    /// Clean shutdown: stop listening and remove the socket file, let the Writer finish what it
    /// was given and wait until it is durable, write a final snapshot, close the journal, then
    /// close every connection.
    /// Balance watches open now (Ledger/WatchBalance).
    public func balanceWatchCount() async -> Int {
        await writer.balanceWatchCount
    }

    /// Usage watches open now (Usage/WatchUsage).
    public func usageWatchCount() async -> Int {
        await writer.usageWatchCount
    }

    public func shutdown() async throws {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        for listener in listeners {
            try? await listener.close()
        }
        unlink(config.socketPath)
        if let adminSocketPath = config.adminSocketPath { unlink(adminSocketPath) }
        if let metrics {
            try? await metrics.listener.close()
            if case .unix(let path)? = config.metricsListen.flatMap(MetricsListener.Address.init) { unlink(path) }
            try? await metrics.group.shutdownGracefully()
        }
        let state = await writer.stop()
        var snapshotError: (any Error)?
        do {
            // No final snapshot when the journal failed and the durable state is not trustworthy,
            // nor into a directory that is no longer this tallyd's.
            if let lost = watch.check() {
                snapshotError = DirectoryReplaced(description: "\(lost); nothing was written there after it was noticed")
            } else if let state, let written = try await snapshotter.final(state).get() {
                logger.info(
                    "final snapshot written",
                    metadata: ["path": "\(written.path)", "bytes": "\(written.bytes)", "accounts": "\(written.accounts)"])
            }
        } catch {
            // The journal still holds everything: the next start replays it.
            logger.error("final snapshot failed", metadata: ["error": "\(error)"])
            snapshotError = error
        }
        let journal = self.journal
        let closed: Result<Void, any Error> = await withCheckedContinuation { continuation in
            journal.close { continuation.resume(returning: $0) }
        }
        if case .failure(let error) = closed { snapshotError = snapshotError ?? error }
        logger.info(
            "journal closed",
            metadata: ["records": "\(journal.recordsAppended)", "fsyncs": "\(journal.syncs)", "bytes": "\(journal.bytesAppended)"])
        for channel in connections.all {
            try? await channel.close()
        }
        try await ioGroup?.shutdownGracefully()
        try await adminGroup?.shutdownGracefully()
        try await writerGroup.shutdownGracefully()
        try await snapshotThreads.shutdownGracefully()
        dataDirectory.release()
        if let snapshotError { throw snapshotError }
    }
}

/// The open client connections, so shutdown can close them, health can count them, and no
/// one uid can take them all.
final class Connections: Sendable {
    enum Admission { case admitted, tooMany, tooManyForUID }

    private struct Open {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perUID: [UInt32: Int] = [:]
        var perRole: [Role: Int] = [:]
        /// Refusals logged at most once a second; the ones in between are counted into the next line.
        var lastRefusalLogged: ContinuousClock.Instant?
        var refusalsUnlogged = 0
    }

    private let open = Mutex(Open())

    /// Tracks `channel` unless that would pass `limit` in all or `perUID` for its uid, each
    /// raised by `reserved` (an admin's connections).
    func track(_ channel: any Channel, uid: UInt32, role: Role, limit: Int, perUID: Int, reserved: Int = 0) -> Admission {
        let id = ObjectIdentifier(channel)
        let admission = open.withLock { open -> Admission in
            guard open.channels.count < limit + reserved else { return .tooMany }
            guard open.perUID[uid, default: 0] < perUID + reserved else { return .tooManyForUID }
            open.channels[id] = channel
            open.perUID[uid, default: 0] += 1
            open.perRole[role, default: 0] += 1
            return .admitted
        }
        if admission == .admitted {
            channel.closeFuture.whenComplete { _ in
                self.open.withLock { open in
                    open.channels.removeValue(forKey: id)
                    open.perUID[uid, default: 1] -= 1
                    if open.perUID[uid] == 0 { open.perUID.removeValue(forKey: uid) }
                    open.perRole[role, default: 1] -= 1
                }
            }
        }
        return admission
    }

    /// Open connections by the role they were admitted with.
    var byRole: [Role: Int] { open.withLock { $0.perRole } }

    /// Logs a refused connection with its uid and the limit it hit, at most one line a second
    /// (a flood of connects must not become a flood of log lines); the line says how many
    /// refusals went unlogged since the last one.
    func logRefusal(_ reason: String, peer: PeerCredentials, limit: Int, logger: Logger) {
        let now = ContinuousClock.now
        let unlogged: Int? = open.withLock { open in
            if let last = open.lastRefusalLogged, now - last < .seconds(1) {
                open.refusalsUnlogged += 1
                return nil
            }
            open.lastRefusalLogged = now
            defer { open.refusalsUnlogged = 0 }
            return open.refusalsUnlogged
        }
        guard let unlogged else { return }
        logger.notice(
            "refused a connection",
            metadata: [
                "reason": "\(reason)", "uid": "\(peer.uid)", "pid": "\(peer.pid)", "limit": "\(limit)",
                "refused_unlogged_since_last": "\(unlogged)",
            ])
    }

    var count: Int { open.withLock { $0.channels.count } }
    var all: [any Channel] { open.withLock { Array($0.channels.values) } }
}
