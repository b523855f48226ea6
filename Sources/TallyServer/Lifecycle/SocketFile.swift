import Glibc

/// The Unix socket file tallyd listens on. Before binding: a file left by a crashed tallyd
/// (nobody answers on it) is removed; a socket some live process still serves is left alone
/// and start-up stops with a clear message.
enum SocketFile {
    struct InUse: Error, CustomStringConvertible {
        var description: String
    }

    static let maxPathBytes = 107  // sun_path is 108 bytes with the terminating NUL

    static func prepare(_ path: String) throws {
        guard path.utf8.count <= maxPathBytes else {
            throw InUse(description: "socket path \(path) is \(path.utf8.count) bytes; Unix sockets allow at most \(maxPathBytes)")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw InUse(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        if isServed(path) {
            throw InUse(description: "another tallyd is already serving \(path); stop it first or choose another --socket")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw InUse(description: "cannot remove stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether something accepts connections at `path` right now.
    static func isServed(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(maxPathBytes))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// The group id of a group name or number, for `--socket-group`.
    static func groupID(_ group: String) throws -> gid_t {
        if let number = gid_t(group) { return number }
        guard let entry = getgrnam(group) else {
            throw InUse(description: "socket group '\(group)' does not exist")
        }
        return entry.pointee.gr_gid
    }

    /// Gives the socket file to `group`, so that group's members may connect (with mode 660).
    static func setGroup(_ path: String, _ group: gid_t) throws {
        guard chown(path, uid_t.max, group) == 0 else {  // uid -1: keep the owner
            throw InUse(description: "cannot give \(path) to group \(group): \(String(cString: strerror(errno)))")
        }
    }

    static func setMode(_ path: String, _ mode: UInt32) throws {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw InUse(description: "cannot chmod \(path): \(String(cString: strerror(errno)))")
        }
    }
}
