import Glibc

/// systemd's notify protocol (sd_notify(3)): datagrams of `KEY=value` lines to the socket named by
/// `NOTIFY_SOCKET`, so that a `Type=notify` unit knows when tallyd is ready (after recovery, once
/// it listens), when it is stopping, what it is doing (`STATUS=`), and, with `WatchdogSec=`, that
/// its Writer still answers (`WATCHDOG=1`). Without `NOTIFY_SOCKET` every call does nothing.
/// Written here rather than linking libsystemd: the protocol is one datagram, and tallyd then
/// needs nothing from systemd to run without it.
struct SystemdNotify: Sendable {
    /// The socket's address; nil when tallyd does not run under systemd's notify protocol.
    private let path: [UInt8]?

    /// How often systemd expects WATCHDOG=1 (`WATCHDOG_USEC`), if it does.
    let watchdogMicroseconds: UInt64?

    init(environment: [String: String]) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        // "@name" is a Linux abstract socket: a leading NUL instead of the '@'.
        path = socket.map { $0.hasPrefix("@") ? [0] + Array($0.utf8.dropFirst()) : Array($0.utf8) }
        // WATCHDOG_PID, when set, names the process the watchdog is meant for.
        let forUs = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
        watchdogMicroseconds = forUs ? environment["WATCHDOG_USEC"].flatMap { UInt64($0) }.flatMap { $0 > 0 ? $0 : nil } : nil
    }

    var isActive: Bool { path != nil }

    /// Sends `lines` as one datagram; false if it could not be sent (logged by the caller).
    @discardableResult
    func send(_ lines: String...) -> Bool {
        guard let path, path.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            for (index, byte) in path.enumerated() { sunPath[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(lines.joined(separator: "\n").utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length) }
            }
        }
        return sent == message.count
    }
}
