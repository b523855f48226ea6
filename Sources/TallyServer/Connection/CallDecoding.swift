import NIOCore
import TallyLedger
import TallyWire

/// Turns one Request envelope into a call for the Writer, or into an immediate error answer.
/// Runs on the connection's event loop, so the Writer never decodes.
enum CallDecoding {
    enum Decoded {
        case call(WriterCall)
        case offWriter(callID: UInt64, Method, OffWriterWork)
        /// Refused before reaching the Writer; the method, when the request named a known one.
        case answer(Method?, Tally_V1_Response)
        /// Refused, and to be audited: a method the caller's role forbids, or a mutation whose
        /// payload is bad. The Writer records it and answers the refusal.
        case refused(callID: UInt64, Method, Refusal)
        /// A streaming call, ended by the server, a cancel, its deadline or the connection.
        case stream(callID: UInt64, Method, StreamRequest, deadline: NIODeadline?)
    }

    /// A call's deadline: `timeoutMs` from now (the frame was just read); none for 0.
    static func deadline(timeoutMs: UInt32) -> NIODeadline? {
        timeoutMs == 0 ? nil : NIODeadline.now() + .milliseconds(Int64(timeoutMs))
    }

    /// `role` is the caller's. A deadline counts from now (the frame was just read); the clock
    /// is read only for calls that carry one.
    static func decode(_ request: Tally_V1_Request, role: Role) -> Decoded {
        let id = request.callID  // non-zero: the connection checked it
        guard WireProtocol.supportedVersions.contains(request.protocolVersion) else {
            let supported = WireProtocol.supportedVersions.map(String.init).joined(separator: ",")
            return .answer(Method(rawValue: request.method), Responses.error(
                callID: id, .failedPrecondition, reason: "PROTOCOL_VERSION_UNSUPPORTED",
                "protocol version \(request.protocolVersion) is not supported; this tallyd speaks \(supported)",
                details: ["requested": String(request.protocolVersion), "supported": supported]))
        }
        guard let method = Method(rawValue: request.method) else {
            // Echo at most 200 bytes of what was sent, so the answer stays small. Cut before a
            // character that straddles byte 200: decoding a cut one would add a 3-byte U+FFFD.
            let utf8 = request.method.utf8
            var end = utf8.index(utf8.startIndex, offsetBy: 200, limitedBy: utf8.endIndex) ?? utf8.endIndex
            while end != utf8.endIndex && UTF8.isContinuation(utf8[end]) { end = utf8.index(before: end) }
            let echo = String(request.method.unicodeScalars[..<end])
            return .answer(nil, Responses.error(
                callID: id, .unimplemented, reason: "UNKNOWN_METHOD", "unknown method '\(echo)'",
                details: ["method": echo]))
        }
        // Before the payload is read: a caller learns nothing about a method it may not call.
        guard role.permits(method.access) else {
            return .refused(callID: id, method, Refusal(
                code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD", message: "the \(role.rawValue) role may not call \(method.rawValue)",
                details: ["role": role.rawValue, "method": method.rawValue]))
        }
        let endpoint = method.endpoint
        let work: Endpoint.Work
        do {
            work = try endpoint.decode(request.payload, role)
        } catch {
            let message = "payload is not a valid \(endpoint.requestType): \(error)"
            guard endpoint.mutates else {
                return .answer(method, Responses.error(callID: id, .invalidArgument, reason: "MALFORMED_PAYLOAD", message))
            }
            return .refused(callID: id, method, Refusal(code: .invalidArgument, reason: "MALFORMED_PAYLOAD", message: message))
        }
        switch work {
        case .writer(let operation):
            return .call(WriterCall(callID: id, method: method, deadline: deadline(timeoutMs: request.timeoutMs), operation: operation))
        case .offWriter(let work): return .offWriter(callID: id, method, work)
        case .stream(let stream): return .stream(callID: id, method, stream, deadline: deadline(timeoutMs: request.timeoutMs))
        case .invalid(let refusal): return .answer(method, Responses.refused(callID: id, refusal))
        case .refused(let refusal): return .refused(callID: id, method, refusal)
        }
    }
}
