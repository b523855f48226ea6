import Foundation
import Glibc
import Testing
import TallyServer

/// The role rules hold for a real client running as another uid: a throwaway user is created,
/// the `tally` CLI runs as that user (setpriv), and tallyd sees its uid and gid through
/// SO_PEERCRED. Needs root (CI runs as root); elsewhere the suite is skipped.
@Suite(.serialized, .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd")))
struct OtherUIDTests {
    struct Throwaway {
        let name: String
        let uid: UInt32
        let gid: UInt32

        init() throws {
            name = "tallyt\(getpid() % 100_000)"
            _ = Self.run("/usr/sbin/userdel", [name])  // a leftover from a killed run
            let created = Self.run("/usr/sbin/useradd", ["--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name])
            guard created.status == 0, let entry = getpwnam(name) else {
                throw StoreTestError("useradd \(name) failed: \(created.output)")
            }
            uid = entry.pointee.pw_uid
            gid = entry.pointee.pw_gid
        }

        func remove() { _ = Self.run("/usr/sbin/userdel", [name]) }

        /// Runs the `tally` CLI as this user; its exit status and everything it printed.
        func tally(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let tally = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            let path = [tally.path + "/tally", tally.path + "/../tally"].first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let path else { throw StoreTestError("no tally binary next to the tests: run `swift build --build-tests`") }
            return Self.run("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", path] + arguments)
        }

        static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
            let run = ChildProcess.run(executable, arguments)
            return (run.status, run.out + run.err)
        }
    }

    struct StoreTestError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A tallyd whose socket the throwaway user can reach (mode 666 in a traversable directory),
    /// so only the role rules stand between it and the ledger.
    func start(_ scratch: Scratch, rules: [AccessPolicy.Subject: Role]) async throws -> TallyServer {
        chmod(scratch.root, 0o755)
        return try await scratch.start { config in
            config.socketMode = 0o666
            config.access = AccessPolicy(ownerUID: getuid(), rules: rules)
        }
    }

    @Test func rolesHoldForAnotherUID() async throws {
        let user = try Throwaway()
        defer { user.remove() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let socket = ["--socket", scratch.socket]

        // No rule: turned away, although the socket file lets it connect.
        var server = try await start(scratch, rules: [:])
        var result = try user.tally(["balance"] + socket + ["u"])
        #expect(result.status == 77 && result.output.contains("PERMISSION_DENIED NO_ROLE"), "\(result.output)")
        #expect(result.output.contains("uid \(user.uid)"))
        try await server.shutdown()

        // Read-only by uid: reads, but its credit is refused and changes nothing.
        server = try await start(scratch, rules: [.uid(user.uid): .readOnly])
        result = try user.tally(["balance"] + socket + ["u"])
        #expect(result.status == 0 && result.output.contains("0 available"), "\(result.output)")
        result = try user.tally(["credit"] + socket + ["u", "5"])
        #expect(result.status == 77 && result.output.contains("PERMISSION_DENIED ROLE_FORBIDS_METHOD"), "\(result.output)")
        #expect(await server.currentLedger().transactions.count == 0)
        try await server.shutdown()

        // App by gid: credits and spends, no snapshots.
        server = try await start(scratch, rules: [.gid(user.gid): .app])
        result = try user.tally(["credit"] + socket + ["u", "5"])
        #expect(result.status == 0 && result.output.contains("5 available"), "\(result.output)")
        result = try user.tally(["snapshot"] + socket)
        #expect(result.status == 77 && result.output.contains("PERMISSION_DENIED"), "\(result.output)")
        // A uid rule wins over its gid's rule.
        try await server.shutdown()
        server = try await start(scratch, rules: [.gid(user.gid): .app, .uid(user.uid): .readOnly])
        result = try user.tally(["spend"] + socket + ["u", "1"])
        #expect(result.status != 0 && result.output.contains("ROLE_FORBIDS_METHOD"), "\(result.output)")
        #expect(await server.currentLedger().balance(of: "u").account.available == 5)
        try await server.shutdown()
    }

    /// The admin socket serves admins only: another uid with the app role is turned away there
    /// with its own reason, and served on the main socket; given the admin role, it gets in.
    @Test func theAdminSocketServesAdminsOnly() async throws {
        let user = try Throwaway()
        defer { user.remove() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let adminSocket = scratch.root + "/admin.sock"
        chmod(scratch.root, 0o755)
        func start(_ role: Role) async throws -> TallyServer {
            try await scratch.start { config in
                config.socketMode = 0o666
                config.adminSocketPath = adminSocket
                config.access = AccessPolicy(ownerUID: getuid(), rules: [.uid(user.uid): role])
            }
        }
        var server = try await start(.app)
        var result = try user.tally(["credit", "--socket", adminSocket, "u", "5"])
        #expect(result.status == 77 && result.output.contains("PERMISSION_DENIED ADMIN_SOCKET_ADMINS_ONLY"), "\(result.output)")
        #expect(await server.currentLedger().transactions.count == 0)
        result = try user.tally(["credit", "--socket", scratch.socket, "u", "5"])
        #expect(result.status == 0 && result.output.contains("5 available"), "\(result.output)")
        try await server.shutdown()

        server = try await start(.admin)
        result = try user.tally(["health", "--socket", adminSocket])
        #expect(result.status == 0 && result.output.contains("mutations: accepted"), "\(result.output)")
        try await server.shutdown()
    }
}
