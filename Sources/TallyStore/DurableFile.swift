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
/// leaves the old file intact. Files are named relative to a StoreDirectory held open; the
/// functions taking a path open its directory for the one call (tools, tests).
public enum DurableFile {
    ///
    /// With `replace: false` (backups, written where a client asked) nothing that exists is ever
    /// overwritten: the temp file is created exclusively and published with link(2), which fails
    /// if the path appeared in the meantime.
    static func write(_ bytes: [UInt8], to name: String, in directory: StoreDirectory, replace: Bool = true) throws {
        let file = try Writer(name, in: directory, replace: replace)
        try bytes.withUnsafeBytes { try file.append($0) }
        try file.publish()
    }

    /// A file written in pieces (a FlushingFile: flushed as it grows), then published as
    /// `write` publishes.
    final class Writer {
        let directory: StoreDirectory
        let name: String
        let temp: String
        let replace: Bool
        private let fd: Int32
        private let file: FlushingFile
        private var published = false

        init(_ name: String, in directory: StoreDirectory, replace: Bool) throws {
            self.directory = directory
            self.name = name
            self.temp = name + ".tmp"
            self.replace = replace
            // Thrown before `fd` is set, the object is not made and deinit (which removes the
            // temp file) does not run: a temp file this did not create is never removed.
            let fd = directory.openFile(temp, O_WRONLY | O_CREAT | (replace ? O_TRUNC : O_EXCL))
            guard fd >= 0 else { throw StoreError.posix("cannot create", path: directory.path(of: temp)) }
            self.fd = fd
            file = FlushingFile(fd: fd, path: directory.path(of: temp), offset: 0)
        }

        deinit {
            close(fd)
            if !published { try? directory.remove(temp) }
        }

        /// Appends `bytes` at the end.
        func append(_ bytes: UnsafeRawBufferPointer) throws {
            try file.append(bytes)
        }

        /// Writes `bytes` at `position` (a header filled in once the rest is known).
        func write(_ bytes: UnsafeRawBufferPointer, at position: Int) throws {
            try file.write(bytes, at: position)
        }

        /// fsync, then rename over `name` (or link to it when not replacing), then fsync of the directory.
        func publish() throws {
            guard fsync(fd) == 0 else { throw StoreError.posix("cannot fsync", path: directory.path(of: temp)) }
            if replace {
                guard directory.rename(temp, to: name) else { throw StoreError.posix("cannot rename to", path: directory.path(of: name)) }
            } else {
                guard directory.link(temp, to: name) else { throw StoreError.posix("cannot create", path: directory.path(of: name)) }
                try? directory.remove(temp)
            }
            published = true
            try directory.sync()
        }
    }

    /// Cuts a file to `length` bytes, durably.
    static func truncate(_ name: String, in directory: StoreDirectory, to length: Int) throws {
        let fd = directory.openFile(name, O_WRONLY)
        guard fd >= 0 else { throw StoreError.posix("cannot open", path: directory.path(of: name)) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw StoreError.posix("cannot truncate", path: directory.path(of: name)) }
        guard fsync(fd) == 0 else { throw StoreError.posix("cannot fsync", path: directory.path(of: name)) }
    }

    /// The file's first `prefix` bytes (fewer if it is shorter; all of it if nil), or nil if it
    /// does not exist.
    static func read(_ name: String, in directory: StoreDirectory, prefix: Int? = nil) throws -> [UInt8]? {
        let fd = directory.openFile(name, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError.posix("cannot open", path: directory.path(of: name))
        }
        defer { close(fd) }
        // Read at the size the file has now into one buffer: a 1.7 GB snapshot read in 64 KiB
        // pieces into a growing array was copied again at each doubling (its read took 1.5 s
        // instead of 0.5 s at 10 million transactions). A file that grew since is read on below.
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError.posix("cannot stat", path: directory.path(of: name)) }
        let expected = min(prefix ?? .max, max(0, Int(info.st_size)))
        var bytes = try [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
            while count < expected {
                let n = Glibc.read(fd, buffer.baseAddress! + count, min(expected - count, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError.posix("cannot read", path: directory.path(of: name))
                }
                if n == 0 { break }
                count += n
            }
        }
        var chunk = [UInt8](repeating: 0, count: min(prefix ?? .max, 1 << 16))
        while bytes.count < prefix ?? .max {
            let want = min(chunk.count, (prefix ?? .max) - bytes.count)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix("cannot read", path: directory.path(of: name))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// The whole file at `path`, or nil if it does not exist.
    public static func read(_ path: String, prefix: Int? = nil) throws -> [UInt8]? {
        let (directory, name) = StoreDirectory.split(path)
        guard let opened = try StoreDirectory.ifPresent(directory) else { return nil }
        return try read(name, in: opened, prefix: prefix)
    }
}
