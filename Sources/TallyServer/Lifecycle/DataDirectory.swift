import Glibc
import Synchronization
import TallyStore

/// The data directory, created if missing and locked for this process's lifetime so that two
/// tallyds can never write the same files (`tallyd reconcile --repair` takes the same lock).
public final class DataDirectory: Sendable {
    public struct Unusable: Error, CustomStringConvertible {
        public var description: String
    }

    public let path: String
    /// The directory, held open: everything tallyd writes is named relative to it.
    public let store: StoreDirectory
    /// The directory's identity (DATA/DIRECTORY_ID), recorded at the first start.
    public let id: DirectoryID
    /// Where the id came from at this start (a new one, adopted from the files, or recorded).
    let idFound: DirectoryIdentity.Found
    private let lockFD: Mutex<Int32?>
    /// The directory and LOCK file locked at start (device and inode), to notice when the path
    /// comes to name other ones: moved, deleted or replaced under a running tallyd.
    private let identity: (directory: FileIdentity, lock: FileIdentity)

    struct FileIdentity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    public init(_ path: String) throws {
        if mkdir(path, 0o750) != 0, errno != EEXIST {
            throw Unusable(description: "cannot create data directory \(path): \(String(cString: strerror(errno)))")
        }
        // Opened once: the lock and every file after it are named relative to this descriptor.
        let store: StoreDirectory
        do {
            store = try StoreDirectory(opening: path)
        } catch {
            throw Unusable(description: "\(error)")
        }
        let lockPath = store.path(of: "LOCK")
        let fd = store.openFile("LOCK", O_RDWR | O_CREAT)
        guard fd >= 0 else {
            throw Unusable(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Unusable(description: "data directory \(path) is in use by another tallyd (\(lockPath) is locked)")
        }
        var lock = stat()
        let directory: stat
        do {
            guard fstat(fd, &lock) == 0 else { throw StoreError("cannot stat \(lockPath): \(String(cString: strerror(errno)))") }
            directory = try store.status()
            (id, idFound) = try DirectoryIdentity.establish(in: store)
        } catch {
            flock(fd, LOCK_UN)
            close(fd)
            throw Unusable(description: "\(error)")
        }
        self.path = path
        self.store = store
        self.lockFD = Mutex(fd)
        self.identity = (FileIdentity(directory), FileIdentity(lock))
    }

    /// What changed, if the path no longer names the directory and LOCK file this tallyd locked
    /// (PostgreSQL's postmaster rechecks its lock file the same way); nil while they are its own.
    func replacement() -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return "the data directory \(path) is gone (\(String(cString: strerror(errno)))): it was moved or deleted"
        }
        guard FileIdentity(info) == identity.directory else {
            return "\(path) is now another directory than the one this tallyd locked at start: it was moved, deleted or replaced"
        }
        guard stat(path + "/LOCK", &info) == 0 else {
            return "\(path)/LOCK, the lock this tallyd holds, is gone (\(String(cString: strerror(errno))))"
        }
        guard FileIdentity(info) == identity.lock else {
            return "\(path)/LOCK is another file than the lock this tallyd holds: it was replaced"
        }
        return nil
    }

    /// Releases the lock, so a new tallyd may start here. Unlocks before closing: a process
    /// this one is spawning holds a copy of the descriptor until its exec closes it, and a
    /// close alone would leave the lock held through that copy.
    public func release() {
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
