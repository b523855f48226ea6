import Glibc  // tallyd is Linux-only (SO_PEERCRED, fdatasync)

public struct StoreError: Error, CustomStringConvertible, Equatable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }

    static func posix(_ what: String, path: String) -> StoreError {
        StoreError("\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

/// Crash-safe whole-file writes: temp file, fsync, rename over the old one, fsync of the
/// directory. After `write` returns the new contents survive a power cut; a crash before
/// leaves the old file intact.
public enum DurableFile {
    ///
    /// With `replace: false` (backups, written where a client asked) nothing that exists is ever
    /// overwritten: the temp file is created exclusively and published with link(2), which fails
    /// if the path appeared in the meantime.
    static func write(_ bytes: [UInt8], to path: String, replace: Bool = true) throws {
        let file = try Writer(path, replace: replace)
        try bytes.withUnsafeBytes { try file.append($0) }
        try file.publish()
    }

    /// A file written in pieces, then published as `write` publishes. Every `flushBytes`
    /// written are flushed to the disk as they go, so that a large file (a snapshot of
    /// millions of transactions) never leaves hundreds of megabytes dirty for its final fsync:
    /// the journal's fdatasync shares the disk and would wait behind them, and with it every
    /// caller (Redis flushes its RDB and AOF rewrites every 4 MB for the same reason).
    final class Writer {
        static let flushBytes = 8 << 20
        let path: String
        let temp: String
        let replace: Bool
        private let fd: Int32
        private var offset = 0
        private var unflushed = 0
        private var published = false

        init(_ path: String, replace: Bool) throws {
            self.path = path
            self.temp = path + ".tmp"
            self.replace = replace
            // Thrown before `fd` is set, the object is not made and deinit (which removes the
            // temp file) does not run: a temp file this did not create is never removed.
            let fd = open(temp, O_WRONLY | O_CREAT | (replace ? O_TRUNC : O_EXCL) | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw StoreError.posix("cannot create", path: temp) }
            self.fd = fd
        }

        deinit {
            close(fd)
            if !published { unlink(temp) }
        }

        /// Appends `bytes` at the end.
        func append(_ bytes: UnsafeRawBufferPointer) throws {
            try write(bytes, at: offset)
            offset += bytes.count
            unflushed += bytes.count
            if unflushed >= Self.flushBytes {
                guard fdatasync(fd) == 0 else { throw StoreError.posix("cannot fsync", path: temp) }
                unflushed = 0
            }
        }

        /// Writes `bytes` at `position` (a header filled in once the rest is known).
        func write(_ bytes: UnsafeRawBufferPointer, at position: Int) throws {
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(position + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError.posix("cannot write", path: temp)
                }
                done += n
            }
        }

        /// fsync, then rename over `path` (or link to it when not replacing), then fsync of the directory.
        func publish() throws {
            guard fsync(fd) == 0 else { throw StoreError.posix("cannot fsync", path: temp) }
            if replace {
                guard rename(temp, path) == 0 else { throw StoreError.posix("cannot rename to", path: path) }
            } else {
                guard link(temp, path) == 0 else { throw StoreError.posix("cannot create", path: path) }
                unlink(temp)
            }
            published = true
            try syncDirectory(of: path)
        }
    }

    static func syncDirectory(of path: String) throws {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        try syncDirectory(directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory)
    }

    /// fsync of a directory: makes the creation, removal or renaming of its entries durable.
    static func syncDirectory(_ dirPath: String) throws {
        let fd = open(dirPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.posix("cannot open directory", path: dirPath) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError.posix("cannot fsync directory", path: dirPath) }
    }

    /// The names in a directory (not "." or ".."); empty if it does not exist.
    static func list(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw StoreError.posix("cannot list", path: directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Cuts a file to `length` bytes, durably.
    static func truncate(_ path: String, to length: Int) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.posix("cannot open", path: path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw StoreError.posix("cannot truncate", path: path) }
        guard fsync(fd) == 0 else { throw StoreError.posix("cannot fsync", path: path) }
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o750) != 0, errno != EEXIST { throw StoreError.posix("cannot create directory", path: path) }
    }

    /// The file's first `prefix` bytes (fewer if it is shorter), or nil if it does not exist.
    static func read(_ path: String, prefix: Int) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError.posix("cannot open", path: path)
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: prefix)
        var filled = 0
        while filled < prefix {
            let n = bytes[filled...].withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix("cannot read", path: path)
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes[0..<filled])
    }

    /// The whole file, or nil if it does not exist.
    public static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError.posix("cannot open", path: path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix("cannot read", path: path)
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}
