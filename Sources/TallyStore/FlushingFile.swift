import Glibc

/// A file written at its end whose dirty pages are flushed to the disk every `flushBytes` as it
/// grows, so that a large write (a snapshot, a batch of the audit archive) never leaves hundreds
/// of megabytes dirty for one final fsync: the journal's fdatasync shares the disk and would
/// wait behind them, and with it every caller (Redis flushes its RDB and AOF rewrites every
/// 4 MB for the same reason). Measured: an 80 MB audit archive append written whole held the
/// journal's fdatasync, and every durable spend, for 100 ms.
final class FlushingFile {
    static let flushBytes = 8 << 20
    let fd: Int32
    let path: String
    private(set) var offset: Int
    private var unflushed = 0
    /// fdatasyncs so far (the pacing is tested by it).
    private(set) var flushes = 0

    /// Takes `fd` (closed by the caller), writing from `offset` on.
    init(fd: Int32, path: String, offset: Int) {
        self.fd = fd
        self.path = path
        self.offset = offset
    }

    /// Appends `bytes` at the end, a flush at each `flushBytes` written.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let piece = min(bytes.count - done, Self.flushBytes - unflushed)
            try write(UnsafeRawBufferPointer(rebasing: bytes[done..<(done + piece)]), at: offset)
            offset += piece
            unflushed += piece
            done += piece
            if unflushed >= Self.flushBytes { try sync() }
        }
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Writes `bytes` at `position` (a header filled in once the rest is known).
    func write(_ bytes: UnsafeRawBufferPointer, at position: Int) throws {
        try writeWhole(fd, bytes, at: position, path: path)
    }

    /// fdatasync: everything written so far is on the disk.
    func sync() throws {
        // A failed fdatasync may have dropped the dirty pages: never retry it and assume success.
        guard fdatasync(fd) == 0 else { throw StoreError.posix("cannot fsync", path: path) }
        unflushed = 0
        flushes += 1
    }
}

/// pwrite until all of `bytes` is written at `position` (pwrite may write less, or be interrupted).
func writeWhole(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at position: Int, path: String) throws {
    var done = 0
    while done < bytes.count {
        let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(position + done))
        if n < 0 {
            if errno == EINTR { continue }
            throw StoreError.posix("cannot write", path: path)
        }
        done += n
    }
}
