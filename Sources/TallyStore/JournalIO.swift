import Glibc

/// The file operations the journal needs. `PosixJournalIO` is the real one; tests substitute
/// one that fails on demand, to prove what tallyd does when a disk fills up or errs.
public protocol JournalIO: Sendable {
    /// Creates a new segment for appending. Fails if a file is already there: the journal
    /// only writes files it made, never one it does not know (another tallyd's, say).
    /// The file may run ahead of the records with zeros (see PosixSegmentFile).
    func createSegment(_ name: String, in directory: StoreDirectory) throws -> any SegmentFile
    func removeFile(_ name: String, in directory: StoreDirectory) throws
    func syncDirectory(_ directory: StoreDirectory) throws
}

public protocol SegmentFile: AnyObject {
    func append(_ bytes: [UInt8]) throws
    /// fdatasync: returns once everything appended is on disk.
    func sync() throws
    /// Ends the file where the records end and closes it.
    func close()
}

public struct PosixJournalIO: JournalIO {
    public init() {}

    public func createSegment(_ name: String, in directory: StoreDirectory) throws -> any SegmentFile {
        let path = directory.path(of: name)
        let fd = directory.openFile(name, O_WRONLY | O_CREAT | O_EXCL)
        guard fd >= 0 else {
            if errno == EEXIST {
                throw StoreError("cannot create journal segment \(path): a file of that name is already there, and it is not "
                    + "one of this journal's (another tallyd's, or copied in). Move it out of the data directory.")
            }
            throw StoreError.posix("cannot create journal segment", path: path)
        }
        return PosixSegmentFile(fd: fd, path: path, length: 0)
    }

    /// Opens a file for appending, creating it if missing, positioned at its end (the audit archive).
    static func openForAppend(_ name: String, in directory: StoreDirectory) throws -> any SegmentFile {
        let path = directory.path(of: name)
        let fd = directory.openFile(name, O_WRONLY | O_CREAT)
        guard fd >= 0 else { throw StoreError.posix("cannot open", path: path) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            Glibc.close(fd)
            throw StoreError.posix("cannot stat journal segment", path: path)
        }
        return PosixSegmentFile(fd: fd, path: path, length: Int(status.st_size))
    }

    public func removeFile(_ name: String, in directory: StoreDirectory) throws {
        try directory.remove(name)
    }

    public func syncDirectory(_ directory: StoreDirectory) throws {
        try directory.sync()
    }
}

/// A segment written ahead with zeros, a chunk at a time, like PostgreSQL's pre-zeroed WAL files.
///
/// Appending past a file's end changes its size and allocates blocks, so every fdatasync must
/// also write the inode and the allocation metadata (ext4_write_inode, fsync_buffers_list in a
/// profile). Records written over zeros that are already durable leave nothing but data pages to
/// flush: one write and fdatasync took 110 us instead of 160 us on this machine's disk. The zeros
/// are written in the same round as the records that first need them, so that round's one
/// fdatasync covers both. Recovery reads zeros at a record boundary as the end of the records.
final class PosixSegmentFile: SegmentFile {
    /// How far ahead zeros are written: one metadata-changing fdatasync per this many bytes.
    static let zeroChunk = 1 << 20
    private static let zeros = [UInt8](repeating: 0, count: 64 << 10)

    private var fd: Int32
    let path: String
    /// Where the next record goes.
    private var end: Int
    /// The file's length: zeros from `end` up to here.
    private var zeroed: Int

    init(fd: Int32, path: String, length: Int) {
        self.fd = fd
        self.path = path
        end = length
        zeroed = length
    }

    func append(_ bytes: [UInt8]) throws {
        if end + bytes.count > zeroed {
            try zeroAhead(past: end + bytes.count)
        }
        try bytes.withUnsafeBytes { try write($0, at: end) }
        end += bytes.count
    }

    private func zeroAhead(past needed: Int) throws {
        let target = (needed / Self.zeroChunk + 1) * Self.zeroChunk
        try Self.zeros.withUnsafeBytes { zeros in
            while zeroed < target {
                let piece = min(zeros.count, target - zeroed)
                try write(UnsafeRawBufferPointer(rebasing: zeros[0..<piece]), at: zeroed)
                zeroed += piece
            }
        }
    }

    private func write(_ raw: UnsafeRawBufferPointer, at position: Int) throws {
        try writeWhole(fd, raw, at: position, path: path)
    }

    func sync() throws {
        // A failed fdatasync may have dropped the dirty pages: never retry it and assume success.
        guard fdatasync(fd) == 0 else { throw StoreError.posix("cannot fdatasync", path: path) }
    }

    func close() {
        guard fd >= 0 else { return }
        // Closed segments end at their last record. Not synced: if a crash undoes the cut,
        // recovery reads the zeros as the end of the records anyway.
        if zeroed > end { _ = ftruncate(fd, off_t(end)) }
        Glibc.close(fd)
        fd = -1
    }

    // Dropped unclosed (a journal abandoned after a failure, or a test's simulated crash): the
    // file stays as a crash would leave it, zeros and all.
    deinit { if fd >= 0 { Glibc.close(fd) } }
}
