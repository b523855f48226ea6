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
    private let ioGroup: MultiThreadedEventLoopGroup
    private let writerGroup: MultiThreadedEventLoopGroup
    private let snapshotPool: NIOThreadPool
    private let dataDirectory: DataDirectory
    private let writer: Writer
    private let listener: any Channel
    private let connections: Connections
    private let stopped: Mutex<Bool> = Mutex(false)

    /// What start-up found, for the log line and the tests.
    public struct Startup: Sendable {
        public var accounts: Int
        public var transactions: Int
        public var loadedSnapshot: Bool
        public var milliseconds: Double
    }

    public let startup: Startup

    public static func start(config: ServerConfig, logger: Logger = Logger(label: "tallyd")) async throws -> TallyServer {
        let began = NIODeadline.now()
        let dataDirectory = try DataDirectory(config.dataDirectory)
        let loaded = try SnapshotFile.load(from: dataDirectory.path, config: config.ledger)
        let ledger = loaded ?? Ledger(config: config.ledger)
        let startup = Startup(
            accounts: ledger.accounts.count, transactions: ledger.transactions.count, loadedSnapshot: loaded != nil,
            milliseconds: Double((NIODeadline.now() - began).nanoseconds) / 1e6)

        try SocketFile.prepare(config.socketPath)

        let ioGroup = MultiThreadedEventLoopGroup(numberOfThreads: max(1, config.ioThreads))
        let writerGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // One thread: snapshot writes never overlap and run in the order they were asked for.
        let snapshotPool = NIOThreadPool(numberOfThreads: 1)
        snapshotPool.start()
        let writer = Writer(
            ledger: ledger, loop: writerGroup.next(), journal: SnapshotsOnly(), dataDirectory: dataDirectory.path,
            snapshotPool: snapshotPool, logger: logger)
        let connections = Connections()

        let maxFrameBytes = config.maxFrameBytes
        let maxCallsInFlight = config.maxCallsInFlight
        let bootstrap = ServerBootstrap(group: ioGroup)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                connections.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(writer: writer, maxCallsInFlight: maxCallsInFlight, logger: logger))
                }
            }
        let listener: any Channel
        do {
            // Create the socket file without permissions beyond the configured mode, so there is
            // no moment in which others could connect; then set the mode exactly.
            let previousMask = umask(mode_t(0o777 & ~config.socketMode))
            defer { umask(previousMask) }
            listener = try await bootstrap.bind(unixDomainSocketPath: config.socketPath).get()
            try SocketFile.setMode(config.socketPath, config.socketMode)
        } catch {
            try? await ioGroup.shutdownGracefully()
            try? await writerGroup.shutdownGracefully()
            try? await snapshotPool.shutdownGracefully()
            throw error
        }
        await writer.startPeriodicSnapshots(every: config.snapshotIntervalSeconds)
        return TallyServer(
            config: config, logger: logger, ioGroup: ioGroup, writerGroup: writerGroup, snapshotPool: snapshotPool,
            dataDirectory: dataDirectory, writer: writer, listener: listener, connections: connections, startup: startup)
    }

    private init(
        config: ServerConfig, logger: Logger, ioGroup: MultiThreadedEventLoopGroup,
        writerGroup: MultiThreadedEventLoopGroup, snapshotPool: NIOThreadPool, dataDirectory: DataDirectory,
        writer: Writer, listener: any Channel, connections: Connections, startup: Startup
    ) {
        self.config = config
        self.logger = logger
        self.ioGroup = ioGroup
        self.writerGroup = writerGroup
        self.snapshotPool = snapshotPool
        self.dataDirectory = dataDirectory
        self.writer = writer
        self.listener = listener
        self.connections = connections
        self.startup = startup
    }

    /// The Ledger as the Writer holds it now (tests, health).
    public func currentLedger() async -> Ledger {
        await writer.currentLedger()
    }

    public var connectionCount: Int { connections.count }

    /// Clean shutdown: stop listening and remove the socket file, let the Writer finish what it
    /// was given, write a final snapshot, then close every connection.
    public func shutdown() async throws {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        try? await listener.close()
        unlink(config.socketPath)
        let (ledger, changed) = await writer.stop()
        var snapshotError: (any Error)?
        if changed {
            let directory = dataDirectory.path
            do {
                let bytes = try await snapshotPool.runIfActive { try SnapshotFile.write(ledger, to: directory) }
                logger.info("final snapshot written", metadata: ["bytes": "\(bytes)", "accounts": "\(ledger.accounts.count)"])
            } catch {
                logger.critical("final snapshot failed", metadata: ["error": "\(error)"])
                snapshotError = error
            }
        }
        for channel in connections.all {
            try? await channel.close()
        }
        try await ioGroup.shutdownGracefully()
        try await writerGroup.shutdownGracefully()
        try await snapshotPool.shutdownGracefully()
        dataDirectory.release()
        if let snapshotError { throw snapshotError }
    }
}

/// The open client connections, so shutdown can close them and health can count them.
final class Connections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    var count: Int { channels.withLock { $0.count } }
    var all: [any Channel] { channels.withLock { Array($0.values) } }
}
