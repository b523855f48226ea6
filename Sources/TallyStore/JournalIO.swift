import Glibc

/// The file operations the journal needs. `PosixJournalIO` is the real one; tests substitute
/// one that fails on demand, to prove what tallyd does when a disk fills up or errs.
public protocol JournalIO: Sendable {
    /// Opens a segment for appending, creating it if missing, positioned at its end.
    func openSegment(at path: String) throws -> any SegmentFile
    func removeFile(at path: String) throws
    func syncDirectory(_ path: String) throws
}

public protocol SegmentFile: AnyObject {
    func append(_ bytes: [UInt8]) throws
    /// fdatasync: returns once everything appended is on disk.
    func sync() throws
    func close()
}

public struct PosixJournalIO: JournalIO {
    public init() {}

    public func openSegment(at path: String) throws -> any SegmentFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.posix("cannot open journal segment", path: path) }
        return PosixSegmentFile(fd: fd, path: path)
    }

    public func removeFile(at path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.posix("cannot remove", path: path) }
    }

    public func syncDirectory(_ path: String) throws {
        try DurableFile.syncDirectory(path)
    }
}

final class PosixSegmentFile: SegmentFile {
    private var fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError.posix("cannot write", path: path)
                }
                offset += n
            }
        }
    }

    func sync() throws {
        // A failed fdatasync may have dropped the dirty pages: never retry it and assume success.
        guard fdatasync(fd) == 0 else { throw StoreError.posix("cannot fdatasync", path: path) }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
