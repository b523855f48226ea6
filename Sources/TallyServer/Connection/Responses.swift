import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// Building Response envelopes: errors with a code, reason and details; results with a payload.
enum Responses {
    static func error(
        callID: UInt64, _ code: Tally_V1_Code, reason: String, _ message: String, details: [String: String] = [:]
    ) -> Tally_V1_Response {
        var response = Tally_V1_Response()
        response.callID = callID
        response.code = code
        response.reason = reason
        response.message = message
        response.details = details
        return response
    }

    static func ok(callID: UInt64, _ payload: some SwiftProtobuf.Message) -> Tally_V1_Response {
        var response = Tally_V1_Response()
        response.callID = callID
        do {
            response.payload = try payload.serializedBytes()
        } catch {
            return Responses.error(callID: callID, .internal, reason: "INTERNAL", "could not encode the answer: \(error)")
        }
        return response
    }

    static func refused(callID: UInt64, _ refusal: Refusal) -> Tally_V1_Response {
        error(callID: callID, Tally_V1_Code(refusal.code), reason: refusal.reason, refusal.message, details: refusal.details)
    }

    static func admin(callID: UInt64, _ method: Method, _ result: Result<Snapshotter.Written, any Error>) -> Tally_V1_Response {
        switch result {
        case .failure(let failure):
            return error(callID: callID, .internal, reason: "SNAPSHOT_FAILED", "could not write the snapshot: \(failure)")
        case .success(let written):
            if method == .backup {
                return ok(callID: callID, Tally_V1_BackupResponse.with {
                    $0.path = written.path
                    $0.journalSequence = written.sequence
                    $0.bytes = Int64(written.bytes)
                    $0.accounts = Int64(written.accounts)
                })
            }
            return ok(callID: callID, Tally_V1_SnapshotResponse.with {
                $0.path = written.path
                $0.journalSequence = written.sequence
                $0.bytes = Int64(written.bytes)
                $0.accounts = Int64(written.accounts)
            })
        }
    }

    /// The answer to a Writer call. Refusals and the Writer's own answers (deadline passed, rate
    /// limited, unavailable) read alike for every method; the rest is the method's endpoint's.
    /// OK answers keep their payload message (OutboundResponse).
    static func answer(_ answer: WriterAnswer) -> OutboundResponse {
        let id = answer.callID
        switch answer.result {
        case .applied(let applied):
            if case .refused(var refusal) = applied.outcome {
                if applied.replayed { refusal.details["replayed"] = "true" }
                return .envelope(refused(callID: id, refusal))
            }
        case .deadlineExceeded:
            return .envelope(error(
                callID: id, .deadlineExceeded, reason: "DEADLINE_EXCEEDED",
                "the call's deadline passed before tallyd reached it; it was not applied"))
        case .rateLimited(let rateClass, let nanoseconds):
            let milliseconds = (nanoseconds + 999_999) / 1_000_000
            return .envelope(error(
                callID: id, .resourceExhausted, reason: "RATE_LIMITED",
                "too many \(rateClass.rawValue) calls for this user; nothing was applied, retry after \(milliseconds) ms",
                details: ["retry_after_ms": String(milliseconds), "rate_class": rateClass.rawValue]))
        case .unavailable(let reason, let message):
            return .envelope(error(callID: id, .unavailable, reason: reason, message))
        default:
            break
        }
        guard let response = answer.method.endpoint.answer?(id, answer.result) else {
            return .envelope(error(callID: id, .internal, reason: "INTERNAL", "\(answer.method.rawValue) produced an unexpected outcome"))
        }
        return response
    }

    /// A mutation's outcome and whether it was a replay; nil for any other result.
    static func applied(_ result: WriterAnswer.Result) -> (outcome: Outcome, replayed: Bool)? {
        guard case .applied(let applied) = result else { return nil }
        return (applied.outcome, applied.replayed)
    }

    /// An accepted credit or spend, answered with `build`'s message.
    static func accepted(
        _ id: UInt64, _ result: WriterAnswer.Result, _ build: (Receipt, _ replayed: Bool) -> some SwiftProtobuf.Message
    ) -> OutboundResponse? {
        guard let (outcome, replayed) = applied(result), case .accepted(let receipt) = outcome else { return nil }
        return .ok(callID: id, payload: build(receipt, replayed))
    }

    /// An accepted usage command's receipt.
    static func usage(_ result: WriterAnswer.Result) -> (receipt: UsageReceipt, replayed: Bool)? {
        guard let (outcome, replayed) = applied(result), case .usage(let receipt) = outcome else { return nil }
        return (receipt, replayed)
    }
}
