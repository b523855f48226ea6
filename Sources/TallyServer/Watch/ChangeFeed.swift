import Foundation
import Synchronization
import TallyLedger
import TallyStore
import TallyWire

/// One Admin/Changes stream's reader, on a thread of its own, never on the Writer: it rebuilds
/// the state as of the requested position (the newest snapshot at or before it, then the
/// journal up to it), then reads every durable record after it from the journal files, applies
/// it to that copy to learn what it gave, and hands the messages to the connection. The journal
/// holds commands, not outcomes; replaying them on a copy gives the outcomes exactly, since the
/// Ledger is deterministic (docs/decisions.md, "The change feed replays the journal on a copy").
///
/// It paces itself by what the connection has written: at most `unwrittenLimit` messages wait
/// there, so a slow reader slows the feed instead of growing tallyd's memory (a feed is never
/// ended WATCH_TOO_SLOW). Once it has sent every durable record it sends `live`, then looks for
/// new ones every `pollInterval` (5 ms: a read of one atomic when nothing is new).
final class ChangeFeed: Sendable {
    static let unwrittenLimit = 2_048
    static let batch = 256
    /// How often a live feed looks for new durable records (seconds).
    static let pollInterval = 0.005
    /// Feeds open at once on one tallyd: each holds a copy of the state while it catches up.
    static let limit = 4

    private let after: UInt64
    private let dataDirectory: String
    private let config: LedgerConfig
    private let writer: Writer
    private let sink: WatchSink
    private let stopped = Atomic<Bool>(false)
    private let unwritten = Atomic<Int>(0)

    init(after: UInt64, dataDirectory: String, config: LedgerConfig, writer: Writer, sink: @escaping WatchSink) {
        self.after = after
        self.dataDirectory = dataDirectory
        self.config = config
        self.writer = writer
        self.sink = sink
    }

    /// Starts the feed's thread, or ends the stream at once when `limit` feeds are open.
    func start() {
        guard writer.changeFeeds.add(1, ordering: .relaxed).newValue <= Self.limit else {
            writer.changeFeeds.subtract(1, ordering: .relaxed)
            sink(.ended(StreamEnd(
                code: .resourceExhausted, reason: "TOO_MANY_CHANGE_FEEDS",
                message: "\(Self.limit) change feeds are open on this tallyd; end one or retry later",
                details: ["limit": String(Self.limit)])))
            return
        }
        let thread = Thread { [self] in
            defer { writer.changeFeeds.subtract(1, ordering: .relaxed) }
            run()
        }
        thread.name = "tally-changes"
        thread.start()
    }

    /// Ends the feed (its stream ended): the thread stops at its next step.
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    /// The connection wrote `count` of the feed's messages.
    func written(_ count: Int) {
        unwritten.subtract(count, ordering: .relaxed)
    }

    private var durable: UInt64 { writer.health.withLock { $0.durableSequence } }

    private func run() {
        do {
            let directory = try StoreDirectory(opening: dataDirectory)
            guard try directory.subdirectory(JournalSegment.directoryName, create: false) != nil else {
                // --fsync never: the state is made durable by snapshots alone; no records to read.
                // A node of several hosts keeps its records in PostgreSQL's command log instead.
                let message =
                    writer.log == nil
                    ? "this tallyd keeps no journal (--fsync never), so it has no change feed; run it with --fsync always or interval"
                    : "this node's records are in its PostgreSQL command log (--journal postgresql://...), not in journal files, so it has no change feed; read the log's rows (docs/operations.md, \"Several hosts\")"
                return end(StreamEnd(code: .failedPrecondition, reason: "NO_JOURNAL", message: message))
            }
            let durableNow = durable
            guard after <= durableNow else {
                return end(StreamEnd(
                    code: .outOfRange, reason: "POSITION_AHEAD",
                    message: "after_sequence \(after) is past the last durable record (\(durableNow))",
                    details: ["resume_after": String(after), "durable_sequence": String(durableNow)]))
            }
            guard let state = try start(in: directory) else { return }
            var live = false
            while !stopped.load(ordering: .relaxed) {
                if unwritten.load(ordering: .relaxed) >= Self.unwrittenLimit {
                    Thread.sleep(forTimeInterval: 0.002)
                    continue
                }
                let records = try state.reader.read(through: durable, limit: Self.batch)
                if records.isEmpty {
                    if !live {
                        live = true
                        send([Tally_V1_JournalChange.with {
                            $0.sequence = state.reader.nextSequence - 1
                            $0.live = true
                        }])
                    }
                    Thread.sleep(forTimeInterval: Self.pollInterval)
                    continue
                }
                var messages: [Tally_V1_JournalChange] = []
                messages.reserveCapacity(records.count)
                for record in records {
                    let applied = state.ledger.apply(record.command, at: record.timestamp, day: record.day, origin: record.origin)
                    messages.append(JournalChangeEncoding.message(record, applied))
                }
                send(messages)
            }
        } catch let problem as JournalReader.Problem {
            switch problem {
            case .pruned:
                end(pruned(oldestSnapshot: oldestSnapshot()))
            case .damaged(let why):
                end(StreamEnd(code: .dataLoss, reason: "JOURNAL_UNREADABLE", message: "the change feed cannot follow the journal: \(why)"))
            }
        } catch {
            end(StreamEnd(code: .internal, reason: "INTERNAL", message: "the change feed failed: \(error)"))
        }
    }

    private final class State {
        var ledger: Ledger
        var reader: JournalReader

        init(ledger: Ledger, reader: consuming JournalReader) {
            self.ledger = ledger
            self.reader = reader
        }
    }

    /// The state as of record `after`, with a reader at the record after it; nil once the
    /// stream was ended instead.
    private func start(in directory: StoreDirectory) throws -> State? {
        // Snapshots may be pruned while one is read: try the next older one then.
        var unreadable: (name: String, error: any Error)?
        for snapshot in try SnapshotFile.list(in: directory) where snapshot.sequence <= after {
            let loaded: (ledger: Ledger, sequence: UInt64)
            do {
                loaded = try SnapshotFile.read(snapshot.name, in: directory, config: config, checkInvariants: false)
            } catch {
                unreadable = (snapshot.name, error)
                continue
            }
            return try replay(State(ledger: loaded.ledger, reader: try JournalReader(dataDirectory: directory, after: loaded.sequence)))
        }
        // No snapshot at or before it: only a journal that still starts at record 1 will do.
        guard try JournalReader.segments(in: directory).first ?? 1 == 1 else {
            if let unreadable, (try? SnapshotFile.list(in: directory))?.contains(where: { $0.name == unreadable.name }) == true {
                // Still there, yet it would not read: say so, not that the position is too old.
                throw JournalReader.Problem.damaged("snapshot \(unreadable.name) cannot be read: \(unreadable.error)")
            }
            end(pruned(oldestSnapshot: oldestSnapshot()))
            return nil
        }
        return try replay(State(ledger: Ledger(config: config), reader: try JournalReader(dataDirectory: directory, after: 0)))
    }

    /// Applies, without sending, the records up to `after`.
    private func replay(_ state: State) throws -> State {
        while state.reader.nextSequence <= after, !stopped.load(ordering: .relaxed) {
            let records = try state.reader.read(through: after, limit: 4_096)
            if records.isEmpty { throw JournalReader.Problem.damaged("the journal ends before record \(after)") }
            for record in records {
                _ = state.ledger.apply(record.command, at: record.timestamp, day: record.day, origin: record.origin)
            }
        }
        return state
    }

    /// The oldest snapshot's sequence: the earliest position a feed can start from now.
    private func oldestSnapshot() -> UInt64? {
        (try? SnapshotFile.list(in: dataDirectory))?.last?.sequence
    }

    private func pruned(oldestSnapshot: UInt64?) -> StreamEnd {
        var details = ["resume_after": String(after)]
        if let oldest = oldestSnapshot { details["oldest_after"] = String(oldest) }
        return StreamEnd(
            code: .outOfRange, reason: "POSITION_PRUNED",
            message: "the journal after sequence \(after) is no longer kept (a snapshot covers it and its segments were removed); "
                + "copy the state afresh (a backup), then follow the feed from the backup's sequence",
            details: details)
    }

    private func send(_ messages: [Tally_V1_JournalChange]) {
        guard !stopped.load(ordering: .relaxed) else { return }
        unwritten.add(messages.count, ordering: .relaxed)
        sink(.items(messages.map { .journal($0) }))
    }

    private func end(_ end: StreamEnd) {
        guard !stopped.load(ordering: .relaxed) else { return }
        sink(.ended(end))
    }
}
