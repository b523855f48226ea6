import Glibc
import NIOCore

/// The uid, gid and pid of the process at the other end of a Unix socket, as the kernel
/// recorded them at connect time (SO_PEERCRED): a client cannot choose what this says.
struct PeerCredentials: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32

    /// Reads them from an accepted connection; runs on the channel's event loop.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard KernelLayout.matchesKernel, let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(PeerCredentialsUnavailable())
        }
        let credentials: EventLoopFuture<KernelLayout> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credentials.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }

    /// Linux's `struct ucred` (pid_t, uid_t, gid_t), which Swift's Glibc module leaves out
    /// because it needs _GNU_SOURCE. The layout is checked once, so a mismatch cannot go unseen.
    struct KernelLayout: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0

        static let matchesKernel: Bool =
            MemoryLayout<KernelLayout>.size == 12 && MemoryLayout<KernelLayout>.offset(of: \.uid) == 4
            && MemoryLayout<KernelLayout>.offset(of: \.gid) == 8
    }
}

struct PeerCredentialsUnavailable: Error, CustomStringConvertible {
    var description: String { "the connection does not report its peer's credentials" }
}
