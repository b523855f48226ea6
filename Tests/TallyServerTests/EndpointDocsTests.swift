import Foundation
@testable import TallyServer
import TallyWire
import Testing

/// The docs cannot drift from the endpoint table: the roles and rate-class tables of
/// docs/security.md are the table's own rendering, every method is in docs/protocol.md §4 with
/// its request type and kind, and every reason the server can answer is in §8.
@Suite struct EndpointDocsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    /// The text between `<!-- NAME -->` and `<!-- end NAME -->`.
    static func section(_ name: String, of text: String) -> String? {
        guard let start = text.range(of: "<!-- \(name) -->\n"), let end = text.range(of: "<!-- end \(name) -->", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    /// The short name of a method: "Ledger/Credit".
    static func name(_ method: Method) -> String { String(method.rawValue.dropFirst("/tally.v1.".count)) }

    /// docs/security.md's roles table, as the endpoint table has it.
    static var rolesTable: String {
        let roles: [Role] = [.admin, .app, .gateway, .readOnly]
        var lines = ["| method | touches | " + roles.map(\.rawValue).joined(separator: " | ") + " |"]
        lines.append("|" + String(repeating: " --- |", count: 2 + roles.count))
        for endpoint in Endpoints.all {
            let cells = roles.map { $0.permits(endpoint.access) ? "yes" : "no" }
            lines.append("| `\(name(endpoint.method))` | \(endpoint.access.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// docs/security.md's rate classes, as the endpoint table has them.
    static var rateClassTable: String {
        var lines = ["| class | methods |", "| --- | --- |"]
        for rateClass in RateClass.allCases {
            let methods = Endpoints.all.filter { $0.rateClass == rateClass }.map { "`\(name($0.method))`" }
            lines.append("| `\(rateClass.rawValue)` | " + methods.joined(separator: ", ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func securityMdRendersTheRolesAndRateClassesOfTheEndpointTable() throws {
        let security = try Self.read("docs/security.md")
        #expect(Self.section("roles", of: security) == Self.rolesTable, "docs/security.md's roles table should read:\n\(Self.rolesTable)")
        #expect(Self.section("rate classes", of: security) == Self.rateClassTable,
                "docs/security.md's rate classes should read:\n\(Self.rateClassTable)")
    }

    @Test func protocolMdListsEveryMethodWithItsRequestAndKind() throws {
        let text = try Self.read("docs/protocol.md")
        let methods = try #require(text.range(of: "## 4. Methods")).upperBound
        let end = try #require(text.range(of: "### 4.1", range: methods..<text.endIndex)).lowerBound
        let rows = text[methods..<end].split(separator: "\n").filter { $0.hasPrefix("| `/tally.v1.") }
        #expect(rows.count == Endpoints.all.count)
        for endpoint in Endpoints.all {
            let row = rows.first { $0.hasPrefix("| `\(endpoint.method.rawValue)` |") }
            guard let row else { Issue.record("\(endpoint.method.rawValue) is not in §4"); continue }
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cells[1] == "`\(endpoint.requestType.dropFirst("tally.v1.".count))`", "\(endpoint.method.rawValue): \(cells[1])")
            // The kind is what comes before the description's colon: "read", "admin mutation", ...
            let kind = cells[3].split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            #expect(kind.contains("mutation") == endpoint.mutates, "\(endpoint.method.rawValue)'s kind: \(kind)")
            #expect(kind.contains("admin") == (endpoint.access == .admin), "\(endpoint.method.rawValue)'s kind: \(kind)")
        }
    }

    /// Reasons are written in the sources as `reason: "X"` or `.invalid("X"`; the Ledger's
    /// internal commands' refusals never reach a client.
    @Test func protocolMdSection8HasEveryReasonTheServerSends() throws {
        let text = try Self.read("docs/protocol.md")
        let start = try #require(text.range(of: "## 8.")).upperBound
        let end = try #require(text.range(of: "## 9.", range: start..<text.endIndex)).lowerBound
        let section8 = text[start..<end]
        let internalOnly: Set<String> = ["ARCHIVE_BATCH_OUT_OF_ORDER"]
        let pattern = try NSRegularExpression(pattern: #"(?:reason: |failing: |\.invalid\()"([A-Z][A-Z0-9_]*)""#)
        var reasons: Set<String> = []
        for module in ["TallyLedger", "TallyCodec", "TallyServer", "TallyStore"] {
            let directory = Self.repository.appendingPathComponent("Sources/\(module)")
            let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
            for file in files where file.pathExtension == "swift" {
                let source = try String(contentsOf: file, encoding: .utf8)
                for match in pattern.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                    reasons.insert((source as NSString).substring(with: match.range(at: 1)))
                }
            }
        }
        #expect(reasons.count > 60, "the pattern finds the reasons: \(reasons.count)")
        let missing = reasons.subtracting(internalOnly).filter { !section8.contains("`\($0)`") }.sorted()
        #expect(missing.isEmpty, "docs/protocol.md §8 lacks \(missing)")
    }
}
