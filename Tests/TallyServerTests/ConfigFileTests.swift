import Testing
import TallyLedger
import TallyServer
import TallyWire

/// The configuration file: what it accepts, and that every mistake stops start-up with a
/// message naming the key, so a typo never loosens a rule silently.
@Suite struct ConfigFileTests {
    @Test func acceptsRulesByIDAndNameAndRateLimits() throws {
        let file = try ConfigFile.parse("""
            [[access]]
            uid = 1001
            role = "app"

            [[access]]
            gid = 2000
            role = "gateway"

            [[access]]
            user = "root"
            role = "read-only"

            [[access]]
            group = "root"
            role = "admin"

            [rate_limits]
            spend = { per_second = 20, burst = 40 }
            credit = { per_minute = 6 }
            """, ownerUID: 999)
        #expect(file.access.rules == [.uid(1001): .app, .gid(2000): .gateway, .uid(0): .readOnly, .gid(0): .admin])
        #expect(file.access.ownerUID == 999)
        #expect(file.rateLimits == [
            .spend: RateLimit(count: 20, periodSeconds: 1, burst: 40), .credit: RateLimit(count: 6, periodSeconds: 60, burst: 6),
        ])
    }

    @Test func capacityBoundsOverrideTheDefaultsOneByOne() throws {
        let file = try ConfigFile.parse("[capacity]\naccounts = 5\nreservations = 7", ownerUID: 5)
        var expected = LedgerCapacity()
        expected.accounts = 5
        expected.reservations = 7
        #expect(file.capacity == expected)
        #expect(file.capacity.summary.hasPrefix("accounts 5, usage_users 20000000, idempotency_records 20000000, reservations 7,"))
        #expect(try ConfigFile.parse("", ownerUID: 5).capacity == LedgerCapacity())
    }

    @Test func emptyFileMeansOnlyTheOwner() throws {
        let file = try ConfigFile.parse("", ownerUID: 5)
        #expect(file.access.role(uid: 5, gid: 5) == .admin)
        #expect(file.access.role(uid: 6, gid: 5) == nil)
        #expect(file.rateLimits.isEmpty)
    }

    @Test(arguments: [
        ("[[access]]\nuid = 1\nrole = \"superuser\"", "unknown role 'superuser'"),
        ("[[access]]\nuid = 1\nrol = \"app\"", "unknown key 'rol'"),
        ("[[access]]\nuid = 1\ngid = 2\nrole = \"app\"", "exactly one of uid, gid, user or group"),
        ("[[access]]\nrole = \"app\"", "exactly one of uid, gid, user or group"),
        ("[[access]]\nuid = -1\nrole = \"app\"", "uid must be a number"),
        ("[[access]]\nuser = \"no-such-user-here\"\nrole = \"app\"", "no such user"),
        ("[[access]]\nuid = 1\nrole = \"app\"\n[[access]]\nuid = 1\nrole = \"admin\"", "two roles"),
        ("[rate_limits]\npurchases = { per_second = 1 }", "unknown key 'purchases'"),
        ("[rate_limits]\nspend = { per_second = 0 }", "per_second must be a whole number"),
        ("[rate_limits]\nspend = { per_second = 1, per_minute = 2 }", "exactly one of per_second"),
        ("[rate_limits]\nspend = { per_second = 1, burst = 0 }", "burst must be"),
        ("[limits]\nx = 1", "unknown key 'limits'"),
        ("[capacity]\nusers = 5", "unknown key 'users'"),
        ("[capacity]\naccounts = 0", "capacity.accounts must be a whole number of at least 1"),
        ("access = [", "not valid TOML"),
    ])
    func refusesMistakesByName(text: String, expected: String) {
        do {
            _ = try ConfigFile.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}
