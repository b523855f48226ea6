import Foundation
import Glibc

/// A program the tests start (tallyd, the tally CLI, setpriv, mount): spawned with posix_spawn,
/// stdin from /dev/null, stdout and stderr to /dev/null or a file, and every other descriptor
/// of the test process closed in the child.
///
/// Not Foundation's Process, for two reasons seen in CI. Its run() on Linux copies each
/// /proc/self/fd entry's whole 256-byte name and so reads past readdir's buffer: with many
/// descriptors open (HostileClientsTests holds a thousand connections) it crashed the test
/// process (swift-corelibs-foundation#5472, not in Swift 6.3.1). And a child it starts without
/// explicit output inherits the test runner's stdout: after that crash, tallyd children kept
/// `swift test`'s pipe open and CI waited until its time limit instead of failing.
final class ChildProcess: @unchecked Sendable {
    /// Where a child's stdout or stderr goes.
    enum Output: Equatable {
        case discard
        /// Appended to the file, created if missing.
        case file(String)
    }

    let processIdentifier: pid_t
    private let lock = NSLock()
    private var status: Int32?  // waitpid's raw status, once reaped

    /// `environment`: variables set for the child on top of (or instead of) the test runner's.
    init(
        _ executable: String, _ arguments: [String], stdout: Output = .discard, stderr: Output = .discard,
        environment: [String: String] = [:]
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        try Self.check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "stdin")
        try Self.open(stdout, as: 1, actions: &actions)
        if stderr == stdout, stdout != .discard {
            try Self.check(posix_spawn_file_actions_adddup2(&actions, 1, 2), "stderr")
        } else {
            try Self.open(stderr, as: 2, actions: &actions)
        }
        try Self.check(Self.addCloseFrom(&actions, 3), "closefrom")
        // Every signal unblocked and at its default action: the spawning thread's mask (the test
        // runner's threads block some) would otherwise pass on. Its own process group, as
        // Process does: a ^C to the test runner does not reach it.
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        try Self.check(posix_spawnattr_setsigmask(&attributes, &none), "sigmask")
        try Self.check(posix_spawnattr_setsigdefault(&attributes, &all), "sigdefault")
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        try Self.check(posix_spawnattr_setflags(&attributes, Int16(flags)), "flags")

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { _, given in given }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        processIdentifier = pid
    }

    /// Whether it has not exited yet (reaps it if it has).
    var isRunning: Bool {
        lock.withLock {
            if status != nil { return false }
            var raw: Int32 = 0
            let reaped = waitpid(processIdentifier, &raw, WNOHANG)
            if reaped == processIdentifier { status = raw }
            return reaped == 0
        }
    }

    /// Blocks until it exits.
    func waitUntilExit() {
        lock.withLock {
            guard status == nil else { return }
            var raw: Int32 = 0
            while waitpid(processIdentifier, &raw, 0) == -1 && errno == EINTR {}
            status = raw
        }
    }

    /// Its exit code, or the signal that ended it (see `endedBySignal`); call after it exited.
    var terminationStatus: Int32 {
        let raw = lock.withLock { status } ?? 0
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    var endedBySignal: Bool {
        let raw = lock.withLock { status } ?? 0
        return raw & 0x7f != 0
    }

    func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(processIdentifier, signal)
    }

    /// Runs `executable` to its end: its exit status (or -1 if it could not start) and what it
    /// wrote to stdout and stderr (collected in files, so a full pipe can never block it).
    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let directory = NSTemporaryDirectory() + "tally-child-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let child = try ChildProcess(executable, arguments, stdout: .file(directory + "/out"), stderr: .file(directory + "/err"))
            child.waitUntilExit()
            let read = { (name: String) in (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "" }
            return (child.terminationStatus, read("out"), read("err"))
        } catch {
            return (-1, "", "\(error)")
        }
    }

    private static func open(_ output: Output, as fd: Int32, actions: inout posix_spawn_file_actions_t) throws {
        switch output {
        case .discard:
            try check(posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0), "output \(fd)")
        case .file(let path):
            try check(posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_APPEND, 0o644), "output \(fd) to \(path)")
        }
    }

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw ChildProcessError("posix_spawn \(what): \(String(cString: strerror(result)))") }
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later; Debian 12 has 2.36),
    /// looked up at run time because the Glibc module does not declare it.
    private static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) -> Int32 {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return ENOSYS
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
