import Foundation
import SwiftProtobuf
import TallyLedger
import TallyWire

@testable import TallyServer

// The first byte picks a mode:
//  - even: the rest is a frame body, decoded as a Request as ConnectionHandler does, and, when
//    that succeeds with a call id, handed to CallDecoding.decode;
//  - odd: a valid envelope (call id, version 1) for the method picked by the second byte, with
//    the rest as its payload, so every method's payload decoding and validation is reached.
// Nothing may crash, and every answer must agree with docs/protocol.md §3, §8 and §11.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    if mode & 1 == 0 {
        guard let request = try? Tally_V1_Request(serializedBytes: Array(input.dropFirst())) else { return 0 }
        guard request.callID != 0 else { return 0 }  // CALL_ID_MISSING: the connection answers it
        check(request, CallDecoding.decode(request, role: .admin))
    } else {
        guard input.count >= 2 else { return 0 }
        let method = Method.allCases[Int(input[1]) % Method.allCases.count]
        var request = Tally_V1_Request()
        request.callID = UInt64(input[1]) + 1
        request.protocolVersion = WireProtocol.version
        request.method = method.rawValue
        request.timeoutMs = input[1] & 0x80 == 0 ? 0 : 1_000
        request.payload = Data(input.dropFirst(2))
        let decoded = CallDecoding.decode(request, role: .admin)
        check(request, decoded)
        if case .answer(let answer) = decoded, answer.reason == "UNKNOWN_METHOD" || answer.reason == "PROTOCOL_VERSION_UNSUPPORTED" {
            fatalError("a valid envelope for \(method) was answered \(answer.reason)")
        }
    }
    return 0
}

/// What any decoded call must satisfy, given the request it came from.
func check(_ request: Tally_V1_Request, _ decoded: CallDecoding.Decoded) {
    let method = Method(rawValue: request.method)
    let versionOK = WireProtocol.supportedVersions.contains(request.protocolVersion)
    switch decoded {
    case .answer(let answer):
        guard answer.callID == request.callID else { fatalError("answer for call \(answer.callID), asked \(request.callID)") }
        guard answer.code != .ok, !answer.reason.isEmpty else { fatalError("refusal without code or reason: \(answer)") }
        if answer.reason == "UNKNOWN_METHOD" {
            guard method == nil else { fatalError("known method \(request.method) answered UNKNOWN_METHOD") }
            // docs/security.md: the echo is cut at 200 bytes so the answer stays small.
            guard let echo = answer.details["method"], echo.utf8.count <= 200, answer.message.utf8.count <= 200 + 20 else {
                fatalError("UNKNOWN_METHOD echo too long: \(answer.details["method"]?.utf8.count ?? -1) bytes")
            }
        }
        if answer.reason == "MALFORMED_PAYLOAD", let method, parses(request.payload, for: method) {
            fatalError("a payload that parses as \(method.requestTypeName) was answered MALFORMED_PAYLOAD")
        }
        // Version is checked first, then the method: an answer past them must name a known method.
        if answer.reason != "PROTOCOL_VERSION_UNSUPPORTED" && !versionOK { fatalError("bad version got \(answer.reason)") }
    case .call(let call):
        guard versionOK, let method, call.method == method, call.callID == request.callID else {
            fatalError("call \(call) does not match the request \(request)")
        }
        guard (call.deadline == nil) == (request.timeoutMs == 0) else { fatalError("deadline does not follow timeout_ms") }
        switch call.operation {
        case .balance(let userID):
            guard method == .getBalance, Validation.userID(userID) == nil else { fatalError("bad balance call \(userID)") }
        case .apply(let command):
            // Mutations reach the Writer unvalidated (the Ledger validates them); they must be
            // exactly what the payload says, since that is what is journaled.
            let expected: Command? = switch method {
            case .credit: (try? Tally_V1_CreditRequest(serializedBytes: request.payload)).map { .credit($0.ledgerValue) }
            case .spend: (try? Tally_V1_SpendRequest(serializedBytes: request.payload)).map { .spend($0.ledgerValue) }
            default: nil
            }
            guard command == expected else { fatalError("\(method) decoded to \(command), expected \(String(describing: expected))") }
        }
    case .admin(let callID, let admin):
        guard versionOK, callID == request.callID, let method, !method.isMutation, method != .getBalance else {
            fatalError("admin call \(admin) from \(request)")
        }
        if case .backup(let path) = admin, !path.hasPrefix("/") { fatalError("relative backup path accepted: \(path)") }
    }
}

func parses(_ payload: Data, for method: Method) -> Bool {
    switch method {
    case .getBalance: (try? Tally_V1_GetBalanceRequest(serializedBytes: payload)) != nil
    case .credit: (try? Tally_V1_CreditRequest(serializedBytes: payload)) != nil
    case .spend: (try? Tally_V1_SpendRequest(serializedBytes: payload)) != nil
    case .snapshot: (try? Tally_V1_SnapshotRequest(serializedBytes: payload)) != nil
    case .backup: (try? Tally_V1_BackupRequest(serializedBytes: payload)) != nil
    case .health: (try? Tally_V1_HealthRequest(serializedBytes: payload)) != nil
    }
}
