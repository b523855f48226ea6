import NIOCore

/// How long a connection may be stuck before tallyd cuts it off (docs/protocol.md, Limits).
public struct ConnectionTimeouts: Sendable {
    /// No bytes and no calls in flight for this long: closed.
    public var idleSeconds: Int64
    /// Part of a frame received, and no more bytes for this long: final FRAME_INCOMPLETE, closed.
    public var frameSeconds: Int64
    /// Answers waiting unread (the socket not writable) for this long: closed.
    public var writeStallSeconds: Int64

    public init(idleSeconds: Int64 = 300, frameSeconds: Int64 = 10, writeStallSeconds: Int64 = 30) {
        self.idleSeconds = idleSeconds
        self.frameSeconds = frameSeconds
        self.writeStallSeconds = writeStallSeconds
    }

    /// How often a quiet connection is looked at.
    var tick: TimeAmount { .seconds(max(1, min(idleSeconds, frameSeconds, writeStallSeconds))) }
}
