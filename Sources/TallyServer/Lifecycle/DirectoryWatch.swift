import Synchronization
import TallyStore

/// Notices when the data directory's path comes to name another directory or LOCK file than the
/// ones this tallyd locked at start (moved, deleted or replaced under it, say by a deploy script,
/// while a new tallyd may already own the new one), and stops this tallyd: from then on it takes
/// no mutation and writes nothing there. Checked every second, before every snapshot and before
/// every journal segment it creates or removes.
final class DirectoryWatch: Sendable {
    let directory: DataDirectory
    private let state = Mutex<(lost: String?, hooks: [@Sendable (String) -> Void])>((nil, []))
    private let lostStream = AsyncStream<String>.makeStream()

    init(_ directory: DataDirectory) { self.directory = directory }

    /// What changed, or nil while the directory is still this tallyd's. The first change found
    /// runs the hooks (the Writer stops taking mutations) and ends `whenLost`.
    @discardableResult
    func check() -> String? {
        if let lost = state.withLock({ $0.lost }) { return lost }
        guard let change = directory.replacement() else { return nil }
        let hooks: [@Sendable (String) -> Void]? = state.withLock { state in
            guard state.lost == nil else { return nil }
            state.lost = change
            return state.hooks
        }
        if let hooks {
            for hook in hooks { hook(change) }
            lostStream.continuation.yield(change)
        }
        return change
    }

    /// Runs `hook` with what changed, once, when the directory is found replaced.
    func onLost(_ hook: @escaping @Sendable (String) -> Void) {
        state.withLock { $0.hooks.append(hook) }
    }

    /// Yields what changed, once, when the directory is found replaced.
    var whenLost: AsyncStream<String> { lostStream.stream }
}

/// The journal's file layer, refusing to create or remove a segment once the data directory is
/// no longer this tallyd's: the path would name another tallyd's files.
struct WatchedJournalIO: JournalIO {
    let inner: any JournalIO
    let watch: DirectoryWatch

    private func ensureOwn(_ what: String) throws {
        if let change = watch.check() { throw StoreError("not \(what): \(change)") }
    }

    func createSegment(_ name: String, in directory: StoreDirectory) throws -> any SegmentFile {
        try ensureOwn("creating \(directory.path(of: name))")
        return try inner.createSegment(name, in: directory)
    }

    func removeFile(_ name: String, in directory: StoreDirectory) throws {
        try ensureOwn("removing \(directory.path(of: name))")
        try inner.removeFile(name, in: directory)
    }

    func syncDirectory(_ directory: StoreDirectory) throws {
        try inner.syncDirectory(directory)
    }
}
