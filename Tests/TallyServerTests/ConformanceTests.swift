import Foundation
import SwiftProtobuf
import Testing
import TallyClient
import TallyServer
import TallyWire

/// The conformance scenario (Clients/conformance/scenario.txt) through TallyClient gives
/// exactly the committed transcript (Clients/conformance/expected.txt), which the C and Python
/// clients must produce too (Clients/conformance/run.sh). Clients/conformance/README.md says what
/// a transcript line holds and how times and dates are normalized.
@Suite struct ConformanceTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Clients/conformance")

    @Test func swiftClientAnswersTheScenarioAsExpected() async throws {
        let scenario = try String(contentsOf: Self.directory.appendingPathComponent("scenario.txt"), encoding: .utf8)
        let expected = try String(contentsOf: Self.directory.appendingPathComponent("expected.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        let steps = try Self.steps(scenario)
        // A stream step has a line per message (N.1, N.2, ...) before its own.
        let stepLines = expected.filter { !($0.split(separator: " ").first ?? "").contains(".") }
        #expect(steps.count == stepLines.count, "scenario.txt has \(steps.count) steps, expected.txt \(stepLines.count) step lines")

        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        var transcript: [String] = []
        for (index, step) in steps.enumerated() {
            transcript += try await Self.run(client, number: index + 1, method: step.method, payload: step.payload)
        }
        await client.close()
        try await server.shutdown()

        for (index, line) in transcript.enumerated() {
            let want = index < expected.count ? expected[index] : "(no line)"
            #expect(line == want, "step \(index + 1) differs from Clients/conformance/expected.txt")
        }
        if transcript != expected {
            Issue.record("the Swift client's transcript:\n\(transcript.joined(separator: "\n"))")
        }
    }

    // MARK: The scenario

    struct Step {
        var method: String
        var payload: [UInt8]
    }

    static func steps(_ text: String) throws -> [Step] {
        try text.split(separator: "\n").compactMap { line -> Step? in
            if line.isEmpty || line.hasPrefix("#") { return nil }
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            let hex = parts.count > 1 ? Array(parts[1].utf8) : []
            guard hex.count % 2 == 0 else { throw ScenarioError(line: String(line)) }
            var bytes: [UInt8] = []
            for i in stride(from: 0, to: hex.count, by: 2) {
                guard let byte = UInt8(String(decoding: hex[i..<i + 2], as: UTF8.self), radix: 16) else {
                    throw ScenarioError(line: String(line))
                }
                bytes.append(byte)
            }
            return Step(method: String(parts[0]), payload: bytes)
        }
    }

    struct ScenarioError: Error {
        var line: String
    }

    /// One step: the typed path (`unary`) where SwiftProtobuf parses the payload as the method's
    /// request (and re-encodes it to the same bytes), the raw envelope (`send`) otherwise.
    static func run(_ client: TallyClient, number: Int, method: String, payload: [UInt8]) async throws -> [String] {
        guard let known = Method(rawValue: method) else {
            return [try await raw(client, number: number, method: method, payload: payload) { Array($0) }]
        }
        switch known {
        case .watchBalance:
            return try await streamed(number, payload, Tally_V1_WatchBalanceRequest.self) { request in
                client.watchBalance(
                    userIDs: request.userIds, allUsers: request.allUsers,
                    resumeAfter: request.resume ? request.afterPosition : nil, timeoutMs: 10_000)
            }
        case .watchUsage:
            return try await streamed(number, payload, Tally_V1_WatchUsageRequest.self) { request in
                client.watchUsage(userIDs: request.userIds, allUsers: request.allUsers, timeoutMs: 10_000)
            }
        default:
            return [try await unary(client, number, known, payload)]
        }
    }

    /// A stream step: a line per message up to the one with `live` set, then the cancel, then
    /// the stream's last frame as the step's own line.
    static func streamed<Request: SwiftProtobuf.Message, Change: Normalizable & LiveMarked>(
        _ number: Int, _ payload: [UInt8], _: Request.Type, open: (Request) -> TallyStream<Change>
    ) async throws -> [String] {
        guard let request = try? Request(serializedBytes: payload) else {
            Issue.record("step \(number): a stream step's payload must be its request")
            return ["\(number) (not a request)"]
        }
        let again: [UInt8] = try request.serializedBytes()
        #expect(again == payload, "step \(number): SwiftProtobuf re-encodes the request as \(hex(again))")
        let stream = open(request)
        var lines: [String] = []
        var cancelled = false
        do {
            for try await message in stream where !cancelled {
                var shown = message
                shown.normalize()
                lines.append(line("\(number).\(lines.count + 1)", code: "OK", reason: "", details: [:], payload: try shown.serializedBytes()))
                if message.live {
                    cancelled = true
                    stream.cancel()
                }
            }
            lines.append(line(number, code: "OK", reason: "", details: [:], payload: []))
        } catch let error as TallyError {
            lines.append(line(number, code: error.code.name, reason: error.reason, details: error.details, payload: []))
        }
        return lines
    }

    static func unary(_ client: TallyClient, _ number: Int, _ known: Method, _ payload: [UInt8]) async throws -> String {
        let method = known.rawValue
        switch known {
        case .getBalance: return try await typed(client, number, known, payload, Tally_V1_GetBalanceRequest.self, Tally_V1_GetBalanceResponse.self)
        case .credit: return try await typed(client, number, known, payload, Tally_V1_CreditRequest.self, Tally_V1_CreditResponse.self)
        case .spend: return try await typed(client, number, known, payload, Tally_V1_SpendRequest.self, Tally_V1_SpendResponse.self)
        case .checkUsage: return try await typed(client, number, known, payload, Tally_V1_CheckUsageRequest.self, Tally_V1_CheckUsageResponse.self)
        case .consume: return try await typed(client, number, known, payload, Tally_V1_ConsumeRequest.self, Tally_V1_ConsumeResponse.self)
        case .reserve: return try await typed(client, number, known, payload, Tally_V1_ReserveRequest.self, Tally_V1_ReserveResponse.self)
        case .settle: return try await typed(client, number, known, payload, Tally_V1_SettleRequest.self, Tally_V1_SettleResponse.self)
        case .release: return try await typed(client, number, known, payload, Tally_V1_ReleaseRequest.self, Tally_V1_ReleaseResponse.self)
        case .getLimits: return try await typed(client, number, known, payload, Tally_V1_GetLimitsRequest.self, Tally_V1_GetLimitsResponse.self)
        case .setLimits: return try await typed(client, number, known, payload, Tally_V1_SetLimitsRequest.self, Tally_V1_SetLimitsResponse.self)
        case .savePackage: return try await typed(client, number, known, payload, Tally_V1_SavePackageRequest.self, Tally_V1_SavePackageResponse.self)
        case .deactivatePackage:
            return try await typed(client, number, known, payload, Tally_V1_DeactivatePackageRequest.self, Tally_V1_DeactivatePackageResponse.self)
        case .listPackages: return try await typed(client, number, known, payload, Tally_V1_ListPackagesRequest.self, Tally_V1_ListPackagesResponse.self)
        case .startPurchase: return try await typed(client, number, known, payload, Tally_V1_StartPurchaseRequest.self, Tally_V1_PurchaseResponse.self)
        case .completePurchase:
            return try await typed(client, number, known, payload, Tally_V1_CompletePurchaseRequest.self, Tally_V1_PurchaseResponse.self)
        case .failPurchase: return try await typed(client, number, known, payload, Tally_V1_FailPurchaseRequest.self, Tally_V1_PurchaseResponse.self)
        case .getPurchase: return try await typed(client, number, known, payload, Tally_V1_GetPurchaseRequest.self, Tally_V1_PurchaseResponse.self)
        case .listPurchases: return try await typed(client, number, known, payload, Tally_V1_ListPurchasesRequest.self, Tally_V1_ListPurchasesResponse.self)
        default:
            Issue.record("step \(number): \(method) is not in ConformanceTests.run's table: add it (with its time fields in normalize)")
            return "\(number) (method not in the Swift runner's table)"
        }
    }

    static func typed<Request: SwiftProtobuf.Message, Reply: Normalizable>(
        _ client: TallyClient, _ number: Int, _ method: Method, _ payload: [UInt8], _: Request.Type, _: Reply.Type
    ) async throws -> String {
        guard let request = try? Request(serializedBytes: payload) else {
            return try await raw(client, number: number, method: method.rawValue, payload: payload) {
                var reply = try Reply(serializedBytes: $0)
                reply.normalize()
                return try reply.serializedBytes()
            }
        }
        let again: [UInt8] = try request.serializedBytes()
        #expect(again == payload, "step \(number): SwiftProtobuf re-encodes the request as \(hex(again))")
        do {
            var reply: Reply = try await client.unary(method, request, timeoutMs: 10_000)
            reply.normalize()
            return line(number, code: "OK", reason: "", details: [:], payload: try reply.serializedBytes())
        } catch let error as TallyError {
            return line(number, code: error.code.name, reason: error.reason, details: error.details, payload: [])
        }
    }

    /// The payload as it is, in a raw envelope; `answer` turns an OK answer's payload into the
    /// bytes the transcript shows.
    static func raw(
        _ client: TallyClient, number: Int, method: String, payload: [UInt8], answer: (Data) throws -> [UInt8]
    ) async throws -> String {
        let response = try await client.send(
            .with {
                $0.protocolVersion = WireProtocol.version
                $0.method = method
                $0.timeoutMs = 10_000
                $0.payload = Data(payload)
            })
        guard response.code == .ok else {
            return line(number, code: response.code.name, reason: response.reason, details: response.details, payload: [])
        }
        return line(number, code: "OK", reason: "", details: [:], payload: try answer(response.payload))
    }

    // MARK: The transcript (Clients/conformance/README.md)

    static func line(_ number: some CustomStringConvertible, code: String, reason: String, details: [String: String], payload: [UInt8]) -> String {
        let shown = details.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { escape($0.key) + "=" + escape(detailValue($0.key, $0.value)) }
            .joined(separator: ",")
        let reasonText = escape(reason)
        return "\(number) \(code) \(reasonText.isEmpty ? "-" : reasonText) \(shown.isEmpty ? "-" : shown) "
            + (payload.isEmpty ? "-" : hex(payload))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Printable ASCII except space, '%', ',' and '=' as is; every other byte as %XX.
    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "%") && byte != UInt8(ascii: ",") && byte != UInt8(ascii: "=") {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += "%" + hex([byte]).uppercased()
            }
        }
        return out
    }

    static func detailValue(_ key: String, _ value: String) -> String {
        if key.hasSuffix("_at_us") && !value.isEmpty && value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return "<time>" }
        if (key == "day" || key == "date") && isDate(value) { return "<date>" }
        return value
    }

    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 else { return false }
        return bytes.enumerated().allSatisfy { i, b in i == 4 || i == 7 ? b == UInt8(ascii: "-") : (b >= 0x30 && b <= 0x39) }
    }
}

// MARK: Normalizing answers: times and dates differ between runs

/// A non-zero `*_at_us` field becomes 1, a `date` holding YYYY-MM-DD becomes "YYYY-MM-DD" (what the
/// C and Python runners do through their descriptors; here per type, for the answers the scenario
/// can get).
protocol Normalizable: SwiftProtobuf.Message {
    mutating func normalize()
}

private func stamp(_ value: inout Int64) {
    if value != 0 { value = 1 }
}

private func calendarDate(_ value: inout String) {
    if ConformanceTests.isDate(value) { value = "YYYY-MM-DD" }
}

extension Tally_V1_Balance: Normalizable {
    mutating func normalize() {
        stamp(&createdAtUs)
        stamp(&updatedAtUs)
    }
}

extension Tally_V1_Transaction: Normalizable {
    mutating func normalize() { stamp(&createdAtUs) }
}

extension Tally_V1_UsageStatus: Normalizable {
    mutating func normalize() {
        calendarDate(&date)
        stamp(&resetsAtUs)
    }
}

extension Tally_V1_Reservation: Normalizable {
    mutating func normalize() {
        calendarDate(&date)
        stamp(&createdAtUs)
        stamp(&expiresAtUs)
    }
}

extension Tally_V1_TokenPackage: Normalizable {
    mutating func normalize() {
        stamp(&createdAtUs)
        stamp(&updatedAtUs)
    }
}

extension Tally_V1_Purchase: Normalizable {
    mutating func normalize() {
        stamp(&createdAtUs)
        stamp(&settledAtUs)
        if hasTransaction { transaction.normalize() }
        if hasBalance { balance.normalize() }
    }
}

/// A stream's message that can say "the watch is live now".
protocol LiveMarked {
    var live: Bool { get }
}

extension Tally_V1_BalanceChange: Normalizable, LiveMarked {
    mutating func normalize() { if hasTransaction { transaction.normalize() } }
}

extension Tally_V1_UsageChange: Normalizable, LiveMarked {
    mutating func normalize() { if hasStatus { status.normalize() } }
}

extension Tally_V1_GetBalanceResponse: Normalizable {
    mutating func normalize() { if hasBalance { balance.normalize() } }
}

extension Tally_V1_CreditResponse: Normalizable {
    mutating func normalize() {
        if hasTransaction { transaction.normalize() }
        if hasBalance { balance.normalize() }
    }
}

extension Tally_V1_SpendResponse: Normalizable {
    mutating func normalize() {
        if hasTransaction { transaction.normalize() }
        if hasBalance { balance.normalize() }
    }
}

extension Tally_V1_CheckUsageResponse: Normalizable {
    mutating func normalize() { if hasStatus { status.normalize() } }
}

extension Tally_V1_ConsumeResponse: Normalizable {
    mutating func normalize() { if hasStatus { status.normalize() } }
}

extension Tally_V1_ReserveResponse: Normalizable {
    mutating func normalize() {
        if hasReservation { reservation.normalize() }
        if hasStatus { status.normalize() }
    }
}

extension Tally_V1_SettleResponse: Normalizable {
    mutating func normalize() {
        if hasReservation { reservation.normalize() }
        if hasStatus { status.normalize() }
    }
}

extension Tally_V1_ReleaseResponse: Normalizable {
    mutating func normalize() {
        if hasReservation { reservation.normalize() }
        if hasStatus { status.normalize() }
    }
}

/// UsageSettings holds no times or dates.
extension Tally_V1_GetLimitsResponse: Normalizable {
    mutating func normalize() {}
}

extension Tally_V1_SetLimitsResponse: Normalizable {
    mutating func normalize() {}
}

extension Tally_V1_SavePackageResponse: Normalizable {
    mutating func normalize() { if hasPackage { package.normalize() } }
}

extension Tally_V1_DeactivatePackageResponse: Normalizable {
    mutating func normalize() { if hasPackage { package.normalize() } }
}

extension Tally_V1_ListPackagesResponse: Normalizable {
    mutating func normalize() {
        for i in packages.indices { packages[i].normalize() }
    }
}

extension Tally_V1_PurchaseResponse: Normalizable {
    mutating func normalize() { if hasPurchase { purchase.normalize() } }
}

extension Tally_V1_ListPurchasesResponse: Normalizable {
    mutating func normalize() {
        for i in purchases.indices { purchases[i].normalize() }
    }
}
