import Foundation
import Glibc
import Logging
import SwiftProtobuf
import TallyClient
@testable import TallyLedger
import TallyServer
import TallyStore
import TallyWire
import Testing

/// A scratch place for one test's tallyd: data directory and a short socket path.
struct Scratch {
    let root: String

    init() throws {
        // Unix socket paths are limited to 107 bytes, so stay short.
        root = "/tmp/tally-t-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    var socket: String { root + "/s.sock" }
    var data: String { root + "/data" }

    func config(_ change: (inout ServerConfig) -> Void = { _ in }) -> ServerConfig {
        var config = ServerConfig(
            socketPath: socket, dataDirectory: data, snapshots: SnapshotPolicy(intervalSeconds: 0, journalBytes: 0))
        change(&config)
        return config
    }

    func start(
        io: any JournalIO = PosixJournalIO(), _ change: (inout ServerConfig) -> Void = { _ in }
    ) async throws -> TallyServer {
        var logger = Logger(label: "tallyd-test")
        logger.logLevel = .critical
        return try await TallyServer.start(config: config(change), logger: logger, io: io)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

func credit(_ user: String, _ amount: Int64, key: String = "", kind: Tally_V1_CreditKind = .grant) -> Tally_V1_CreditRequest {
    .with {
        $0.userID = user
        $0.amount = amount
        $0.kind = kind
        $0.idempotencyKey = key
    }
}

func spend(_ user: String, _ amount: Int64, key: String = "") -> Tally_V1_SpendRequest {
    .with {
        $0.userID = user
        $0.amount = amount
        $0.idempotencyKey = key
    }
}

func envelope(
    _ method: String, _ payload: some SwiftProtobuf.Message, callID: UInt64 = 0, version: UInt32 = WireProtocol.version
) throws -> Tally_V1_Request {
    .with {
        $0.callID = callID
        $0.protocolVersion = version
        $0.method = method
        $0.payload = (try? payload.serializedData()) ?? Data()
    }
}

func frame(_ body: [UInt8]) -> [UInt8] {
    withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body
}

func frame(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
    frame(try message.serializedBytes())
}

/// Calls `body` with a sockaddr_un for `path` (connect, bind).
func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let bytes = Array(path.utf8)
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// A plain blocking Unix-socket connection that can send anything, for hostile-input tests.
final class RawConnection {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let result = withUnixAddress(path) { connect(fd, $0, $1) }
        guard result == 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)  // a hung server fails the test instead of hanging it
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the server may already have closed: that is what some tests expect
            offset += n
        }
    }

    /// Exactly `count` bytes, or nil at end of stream.
    func read(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = bytes[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return nil }
            offset += n
        }
        return bytes
    }

    /// The next Response, or nil if the server closed the connection.
    func response() throws -> Tally_V1_Response? {
        guard let header = read(4) else { return nil }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard let body = read(length) else { return nil }
        return try Tally_V1_Response(serializedBytes: body)
    }

    /// True when the server has closed its side (reads see end of stream).
    func isClosedByServer() -> Bool { read(1) == nil }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

extension Ledger {
    /// The state apart from the audit log and the time of the last command (an audited
    /// refusal moves both, and nothing else).
    var withoutAudit: Ledger {
        var copy = self
        copy.auditLog = [:]
        copy.nextAuditID = 1
        copy.firstAuditID = 1
        copy.lastTimestamp = 0
        return copy
    }
}

/// Waits until a tallyd child process answers on `socket` (10 s at most); throws with its log
/// if it exits first.
func waitUntilTallydServes(_ process: ChildProcess, socket: String, log: String) async throws {
    for _ in 0..<500 {
        if !process.isRunning {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw StoreError("tallyd exited with \(process.terminationStatus): \(output)")
        }
        if let client = try? await TallyClient.connect(socketPath: socket) {
            let answered = (try? await client.getBalance(userID: "probe")) != nil
            await client.close()
            if answered { return }
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw StoreError("tallyd did not come up within 10 s")
}

/// The record lines of an archive file in `dataDirectory`, after checking that its first line
/// names the directory's own id (ArchiveHeader).
func archiveRecords(_ file: String, kind: String, in dataDirectory: String) throws -> [String] {
    let text = try String(contentsOfFile: dataDirectory + "/archive/" + file, encoding: .utf8)
    let lines = text.split(separator: "\n").map(String.init)
    let id = try #require(try DirectoryIdentity.find(in: dataDirectory).id)
    #expect(lines.first == #"{"tally_archive":{"kind":"\#(kind)","format":2,"directory_id":"\#(id)"}}"#)
    return Array(lines.dropFirst())
}

/// Runs the tallyd binary with `arguments` to its end: its exit status and its output.
func runTallyd(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let run = ChildProcess.run(try CrashTests.tallydPath(), arguments)
    return (run.status, run.out + run.err)
}
