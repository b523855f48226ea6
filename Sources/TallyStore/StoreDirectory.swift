import Glibc

/// A directory held open: its files are created, renamed, removed and synced relative to the
/// open descriptor (openat, renameat, unlinkat, fsync of the descriptor), never by resolving its
/// path again. A tallyd whose data directory is wiped, moved or replaced under it therefore
/// writes into the directory it opened (gone or moved) and never into whatever the path names
/// now. `path` is for messages.
public final class StoreDirectory: Sendable {
    public let path: String
    let fd: Int32

    /// Opens the directory at `path`, which must exist.
    public convenience init(opening path: String) throws {
        guard let opened = try Self.openIfPresent(path) else {
            throw StoreError("cannot open directory \(path): \(String(cString: strerror(ENOENT)))")
        }
        self.init(path: path, fd: opened)
    }

    /// The directory at `path`, or nil if there is none.
    public static func ifPresent(_ path: String) throws -> StoreDirectory? {
        try openIfPresent(path).map { StoreDirectory(path: path, fd: $0) }
    }

    private static func openIfPresent(_ path: String) throws -> Int32? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw StoreError.posix("cannot open directory", path: path)
        }
        return fd
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// fstat of the open directory: its device and inode are the ones it had when opened.
    public func status() throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError.posix("cannot stat directory", path: path) }
        return info
    }

    /// The path of the directory holding `path`, and the name in it (`"."` holds a bare name).
    static func split(_ path: String) -> (directory: String, name: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let name = String(parts.removeLast())
        return (parts.isEmpty ? "." : (parts == [""] ? "/" : parts.joined(separator: "/")), name)
    }

    /// The directory holding `path`, opened, and the name in it.
    public static func containing(_ path: String) throws -> (directory: StoreDirectory, name: String) {
        let (directory, name) = split(path)
        return (try StoreDirectory(opening: directory), name)
    }

    /// A subdirectory, created (mode 0750) when missing and `create` is set; nil when missing
    /// and not created.
    public func subdirectory(_ name: String, create: Bool) throws -> StoreDirectory? {
        if create, mkdirat(fd, name, 0o750) != 0, errno != EEXIST {
            throw StoreError.posix("cannot create directory", path: path(of: name))
        }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard child >= 0 else {
            if errno == ENOENT, !create { return nil }
            throw StoreError.posix("cannot open directory", path: path(of: name))
        }
        return StoreDirectory(path: path(of: name), fd: child)
    }

    /// `name`'s path, for messages.
    public func path(of name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// openat(2) relative to the directory (O_CLOEXEC added): a descriptor, or -1 and errno.
    public func openFile(_ name: String, _ flags: Int32, mode: mode_t = 0o600) -> Int32 {
        openat(fd, name, flags | O_CLOEXEC, mode)
    }

    func rename(_ name: String, to newName: String) -> Bool { renameat(fd, name, fd, newName) == 0 }

    func link(_ name: String, to newName: String) -> Bool { linkat(fd, name, fd, newName, 0) == 0 }

    /// Removes a file; a missing one is not an error.
    func remove(_ name: String) throws {
        guard unlinkat(fd, name, 0) == 0 || errno == ENOENT else { throw StoreError.posix("cannot remove", path: path(of: name)) }
    }

    func exists(_ name: String) -> Bool { faccessat(fd, name, F_OK, 0) == 0 }

    /// fsync of the directory: makes the creation, removal or renaming of its entries durable.
    public func sync() throws {
        guard fsync(fd) == 0 else { throw StoreError.posix("cannot fsync directory", path: path) }
    }

    /// The names in the directory (not "." or "..").
    public func names() throws -> [String] {
        // fdopendir takes the descriptor over: a fresh one of this same directory.
        let own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard own >= 0 else { throw StoreError.posix("cannot list", path: path) }
        guard let dir = fdopendir(own) else {
            let error = StoreError.posix("cannot list", path: path)
            close(own)
            throw error
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
}
