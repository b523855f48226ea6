import Testing
import TallyWire

@testable import TallyServer

/// Inputs found by the libFuzzer targets in Fuzz/ (Scripts/fuzz.sh), kept as plain tests.
@Suite struct ServerFuzzRegressionTests {
    static func unknownMethodEcho(_ method: String) throws -> String {
        var request = Tally_V1_Request()
        request.callID = 10
        request.protocolVersion = WireProtocol.version
        request.method = method
        guard case .answer(_, let answer) = CallDecoding.decode(request, role: .admin) else {
            Issue.record("\(method) was not answered")
            return ""
        }
        #expect(answer.reason == "UNKNOWN_METHOD")
        return try #require(answer.details["method"])
    }

    /// FuzzRequest (seed "unknown-long-method"): a character straddling byte 200 of an unknown
    /// method was decoded as U+FFFD, so the echo was 202 bytes, past the documented 200.
    @Test func echoIsCutBeforeACharacterStraddlingByte200() throws {
        let head = String(repeating: "x", count: 199)
        #expect(try Self.unknownMethodEcho(head + "é" + "yyy") == head)  // é is bytes 199-200
        let shorter = String(repeating: "x", count: 198)
        #expect(try Self.unknownMethodEcho(shorter + "😀" + "y") == shorter)  // 4 bytes, 198-201
    }

    @Test func echoKeepsACharacterEndingAtByte200() throws {
        let method = String(repeating: "x", count: 198) + "é"  // exactly 200 bytes
        #expect(try Self.unknownMethodEcho(method + "tail") == method)
        #expect(try Self.unknownMethodEcho(method) == method)
    }
}
