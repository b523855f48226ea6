import Logging
import NIOCore
import TallyWire

/// `--slow-call-ms`: a call answered later than this after its bytes were read is logged once
/// (a warning), with its method, user and call id and where its time went: waiting for the
/// Writer's turn, the turn itself, waiting for the journal's fsync, and writing the answer out.
/// Every call of a batch shares those times; a batch logs at most `perBatch` lines and says how
/// many more there were, so a stall of seconds is a handful of lines, not thousands.
struct SlowCalls: Sendable {
    let threshold: TimeAmount
    let logger: Logger
    static let perBatch = 5

    /// The calls of one Writer batch, read at `readAt` and written at `written`.
    func note(_ calls: [WriterCall], readAt: NIODeadline, timing: WriterTiming, written: NIODeadline, peer: PeerCredentials) {
        let phases: Logger.Metadata = [
            "ms": "\(Self.ms(written - readAt))",
            "queue_ms": "\(Self.ms(timing.turnStart - readAt))",
            "writer_ms": "\(Self.ms(timing.turnEnd - timing.turnStart))",
            "journal_ms": "\(Self.ms(timing.durable - timing.turnEnd))",
            "write_ms": "\(Self.ms(written - timing.durable))",
            "batch": "\(calls.count)",
            "uid": "\(peer.uid)", "pid": "\(peer.pid)",
        ]
        for call in calls.prefix(Self.perBatch) {
            var metadata = phases
            metadata["method"] = "\(call.method.rawValue)"
            metadata["user"] = "\(call.userID)"
            metadata["call_id"] = "\(call.callID)"
            logger.warning("slow call", metadata: metadata)
        }
        if calls.count > Self.perBatch {
            var metadata = phases
            metadata["more"] = "\(calls.count - Self.perBatch)"
            logger.warning("slow calls: more of the same batch, not logged one by one", metadata: metadata)
        }
    }

    /// A call served off the Writer (a scan, a report, a snapshot): its time is its own work's.
    func noteOffWriter(callID: UInt64, method: Method, readAt: NIODeadline, written: NIODeadline, peer: PeerCredentials) {
        logger.warning("slow call", metadata: [
            "method": "\(method.rawValue)", "call_id": "\(callID)", "ms": "\(Self.ms(written - readAt))", "off_writer_ms": "\(Self.ms(written - readAt))",
            "uid": "\(peer.uid)", "pid": "\(peer.pid)",
        ])
    }

    /// Milliseconds with a tenth.
    static func ms(_ amount: TimeAmount) -> Double { Double(amount.nanoseconds / 100_000) / 10 }
}
