import Glibc
import Synchronization

/// The data directory, created if missing and locked for this process's lifetime so that two
/// tallyds can never write the same files.
final class DataDirectory: Sendable {
    struct Unusable: Error, CustomStringConvertible {
        var description: String
    }

    let path: String
    private let lockFD: Mutex<Int32?>

    init(_ path: String) throws {
        if mkdir(path, 0o750) != 0, errno != EEXIST {
            throw Unusable(description: "cannot create data directory \(path): \(String(cString: strerror(errno)))")
        }
        let lockPath = path + "/LOCK"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Unusable(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Unusable(description: "data directory \(path) is in use by another tallyd (\(lockPath) is locked)")
        }
        self.path = path
        self.lockFD = Mutex(fd)
    }

    /// Releases the lock, so a new tallyd may start here. Unlocks before closing: a process
    /// this one is spawning holds a copy of the descriptor until its exec closes it, and a
    /// close alone would leave the lock held through that copy.
    func release() {
        lockFD.withLock { fd in
            if let open = fd {
                flock(open, LOCK_UN)
                close(open)
            }
            fd = nil
        }
    }

    deinit {
        release()
    }
}
