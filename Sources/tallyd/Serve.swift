import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import TallyLedger
import TallyPostgres
import TallyServer
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the ledger (the default when no subcommand is given).")

    // Each setting's meaning, default and bounds are in Settings.all (one description, read by
    // the config file too); these options only bind the command line to it. nil: not given.
    @Option(name: .customLong("data-dir"), help: about("data-dir")) var dataDirectory: String?
    @Option(name: .customLong("socket"), help: about("socket")) var socketPath: String?
    @Option(help: about("admin-socket")) var adminSocket: String?
    @Option(help: about("socket-mode")) var socketMode: String?
    @Option(help: about("socket-group")) var socketGroup: String?
    @Option(help: about("fsync")) var fsync: String?
    @Option(help: about("journal")) var journal: String?
    @Option(help: about("fsync-interval-ms")) var fsyncIntervalMs: Int64?
    @Option(help: about("snapshot-interval")) var snapshotInterval: Int64?
    @Option(help: about("snapshot-journal-mib")) var snapshotJournalMib: Int64?
    @Option(help: about("max-frame-bytes")) var maxFrameBytes: Int64?
    @Option(help: about("max-calls-in-flight")) var maxCallsInFlight: Int64?
    @Option(help: about("idempotency-ttl-hours")) var idempotencyTtlHours: Int64?
    @Option(help: about("purchase-timeout-minutes")) var purchaseTimeoutMinutes: Int64?
    @Option(help: about("max-connections")) var maxConnections: Int64?
    @Option(help: about("idle-timeout")) var idleTimeout: Int64?
    @Option(help: about("frame-timeout")) var frameTimeout: Int64?
    @Option(help: about("write-stall-timeout")) var writeStallTimeout: Int64?
    @Option(help: about("max-connections-per-uid")) var maxConnectionsPerUid: Int64?
    @Option(help: about("reserved-admin-connections")) var reservedAdminConnections: Int64?
    @Option(help: about("writer-queue-limit")) var writerQueueLimit: Int64?
    @Option(help: about("audit-keep")) var auditKeep: Int64?
    @Flag(help: about("audit-usage-calls")) var auditUsageCalls = false
    @Option(help: about("transactions-per-user")) var transactionsPerUser: Int64?
    @Option(help: about("archive-minimum")) var archiveMinimum: Int64?
    @Option(help: about("commitment-archive-days")) var commitmentArchiveDays: Int64?
    @Option(help: about("io-threads")) var ioThreads: Int64?
    @Option(help: about("log-level")) var logLevel: String?
    @Option(help: about("log-format")) var logFormat: String?
    @Option(help: about("metrics-listen")) var metricsListen: String?
    @Option(help: about("slow-call-ms")) var slowCallMs: Int64?
    @Flag(help: about("repair")) var repair = false

    @Option(help: "The configuration file (TOML): any setting above as `name_with_underscores = value`, access rules, rate limits, daily limits, capacity (docs/operations.md). A flag given here wins over the file.")
    var config: String?

    /// The settings given on the command line, by name.
    var given: [String: Setting.Value] {
        let texts: [(String, String?)] = [
            ("data-dir", dataDirectory), ("socket", socketPath), ("admin-socket", adminSocket), ("socket-mode", socketMode),
            ("socket-group", socketGroup), ("fsync", fsync), ("journal", journal), ("log-level", logLevel), ("log-format", logFormat), ("metrics-listen", metricsListen),
        ]
        let numbers: [(String, Int64?)] = [
            ("fsync-interval-ms", fsyncIntervalMs), ("snapshot-interval", snapshotInterval),
            ("snapshot-journal-mib", snapshotJournalMib), ("max-frame-bytes", maxFrameBytes),
            ("max-calls-in-flight", maxCallsInFlight), ("idempotency-ttl-hours", idempotencyTtlHours),
            ("purchase-timeout-minutes", purchaseTimeoutMinutes), ("max-connections", maxConnections),
            ("idle-timeout", idleTimeout), ("frame-timeout", frameTimeout), ("write-stall-timeout", writeStallTimeout),
            ("max-connections-per-uid", maxConnectionsPerUid), ("reserved-admin-connections", reservedAdminConnections),
            ("writer-queue-limit", writerQueueLimit), ("audit-keep", auditKeep), ("transactions-per-user", transactionsPerUser),
            ("archive-minimum", archiveMinimum), ("commitment-archive-days", commitmentArchiveDays), ("io-threads", ioThreads),
            ("slow-call-ms", slowCallMs),
        ]
        var given: [String: Setting.Value] = [:]
        for case (let name, let text?) in texts { given[name] = .text(text) }
        for case (let name, let number?) in numbers { given[name] = .integer(number) }
        if auditUsageCalls { given["audit-usage-calls"] = .on(true) }
        if repair { given["repair"] = .on(true) }
        return given
    }

    func validate() throws {
        for (name, value) in given.sorted(by: { $0.key < $1.key }) {
            guard let setting = Settings.named(name) else { preconditionFailure("--\(name) is not in Settings.all") }
            if let problem = setting.problem(value) { throw ValidationError("\(setting.flag) must be \(problem)") }
        }
    }

    func run() async throws {
        let config: ServerConfig
        do {
            config = try ServerConfig(file: self.config.map { try ConfigFile.load(path: $0) }, flags: given)
        } catch {
            complain("cannot start: \(error)")
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap { label in
            switch config.logFormat {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = config.logLevel
                return handler
            case .json:
                return JSONLogHandler(logLevel: config.logLevel, label: label)
            }
        }
        let logger = Logger(label: "tallyd")

        // SIGHUP (a closed terminal, or a supervisor's "reload") must not kill tallyd: trapped
        // before anything starts, logged, and ignored (nothing is reloaded: a restart applies
        // new flags). SIGTERM and SIGINT shut the group down gracefully.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let notify = SystemdNotify(environment: ProcessInfo.processInfo.environment)
        let ledger = LedgerService(config: config, logger: logger, notify: notify)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: ledger, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: HangupLog(signals: hangups, logger: logger), successTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            complain(ledger.failure(error))
            throw ExitCode(1)
        }
    }
}

/// Where changes become durable, for the start-up lines.
private func durability(_ startup: TallyServer.Startup, _ config: ServerConfig) -> String {
    // The server started, so the URL parsed.
    guard let log = startup.commandLog, let url = config.commandLog, let address = try? PostgresAddress(url) else {
        return "fsync \(Settings.named("fsync")!.current(in: config))"
    }
    let replayed = log.through > log.from ? "replayed records \(log.from + 1) to \(log.through)" : "nothing to replay"
    return "command log \(address) as node \(log.node) (\(replayed) after the snapshot)"
}

/// The ledger as a service: starts tallyd (recovery, then listening), serves until the group is
/// shut down (SIGTERM, SIGINT) or the data directory is found moved, deleted or replaced under
/// it (it then takes no mutation and writes nothing, and exits 1 once drained), then stops it.
struct LedgerService: Service {
    let config: ServerConfig
    let logger: Logger
    /// systemd's notify socket, when tallyd runs under a `Type=notify` unit.
    let notify: SystemdNotify

    /// Why the service threw, in words for stderr.
    enum Failure: Error {
        case cannotStart(any Error)
        case stopped(any Error)
    }

    func failure(_ error: any Error) -> String {
        switch error {
        case Failure.cannotStart(let why): "cannot start: \(why)"
        case Failure.stopped(let why): "shutdown: \(why)"
        default: "\(error)"
        }
    }

    func run() async throws {
        notify.send("STATUS=recovering \(absolute(config.dataDirectory))")
        let server: TallyServer
        do {
            server = try await TallyServer.start(config: config, logger: logger, openCommandLog: { url, node, snapshot, logger in
                try await PostgresCommandLog.open(PostgresAddress(url), node: node, snapshotSequence: snapshot, logger: logger)
            })
        } catch {
            notify.send("STATUS=cannot start: \(error)")
            throw Failure.cannotStart(error)
        }
        let s = server.startup
        say("""
            tallyd serving \(absolute(config.socketPath))\(config.adminSocketPath.map { ", admin socket \(absolute($0))" } ?? "")
              data directory \(absolute(config.dataDirectory)), \(durability(s, config))
              recovered \(s.accounts) accounts, \(s.transactions) transactions in \(String(format: "%.1f", s.milliseconds)) ms
            \(s.recovery.description.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
              access: \(config.access.summary)
              rate limits: \(RateLimit.summary(config.rateLimits))
              daily limits: \(config.usage.summary)
              capacity: \(config.capacity.summary)
              stop with Ctrl-C (SIGINT) or SIGTERM (SIGHUP is logged and ignored)
            """)
        notify.send("READY=1", "STATUS=serving \(absolute(config.socketPath)): \(s.accounts) accounts recovered")
        let watchdog = notify.watchdogMicroseconds.map { microseconds in
            Task { await keepWatchdogFed(server, every: .microseconds(Int64(microseconds / 2))) }
        }
        var why = "asked to stop (SIGTERM or SIGINT)"
        for await change in server.directoryLost.cancelOnGracefulShutdown() {
            why = "the data directory is no longer this tallyd's: \(change)"
            break
        }
        watchdog?.cancel()
        notify.send("STOPPING=1", "STATUS=stopping: \(why)")
        say("tallyd: \(why), shutting down")
        do {
            try await server.shutdown()
        } catch {
            throw Failure.stopped(error)
        }
        say("tallyd: stopped")
    }
}

extension LedgerService {
    /// Sends WATCHDOG=1 every `interval` (half systemd's `WatchdogSec=`) while the Writer's loop
    /// runs a task within that interval; a Writer stuck in one turn stops the pings, so systemd
    /// restarts tallyd (the journal holds everything acknowledged).
    func keepWatchdogFed(_ server: TallyServer, every interval: Duration) async {
        while !Task.isCancelled {
            if await server.writerResponds(within: interval) {
                notify.send("WATCHDOG=1")
            } else {
                logger.error("the Writer did not answer within \(interval): no watchdog ping")
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// Logs each SIGHUP until the group shuts down.
struct HangupLog: Service {
    let signals: UnixSignalsSequence
    let logger: Logger

    func run() async {
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.notice("SIGHUP received: ignored, still serving (nothing is reloaded; restart tallyd to apply new flags or a changed config file)")
        }
    }
}

/// A setting's help: its meaning and default from Settings.all.
private func about(_ name: String) -> ArgumentHelp {
    guard let setting = Settings.named(name) else { preconditionFailure("--\(name) is not in Settings.all") }
    return ArgumentHelp(setting.help)
}
