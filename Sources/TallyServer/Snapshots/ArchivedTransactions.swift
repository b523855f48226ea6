import Dispatch
import NIOCore
import TallyStore
import TallyWire

/// GetTransaction for a transaction that retention moved out of memory: it is looked up in the
/// data directory's archive files (TransactionArchive), so `tally transaction ID` finds an old
/// transaction instead of pointing at files.
///
/// Lookups read files, so they run off every event loop, one at a time on their own queue: a
/// client asking for many missing ids waits for its own answers and slows no one else's calls.
extension Snapshotter {
    private static let lookups = DispatchQueue(label: "tally.archive-lookup")

    /// The archived transaction `id`, nil when no archive file holds it; delivered on `loop`.
    func archivedTransaction(_ id: UInt64, on loop: any EventLoop) -> EventLoopFuture<Tally_V1_Transaction?> {
        let promise = loop.makePromise(of: Tally_V1_Transaction?.self)
        let (directory, directoryID) = (self.directory, self.directoryID)
        Self.lookups.async {
            promise.completeWith(Result { try TransactionArchive.transaction(id, in: directory, directoryID: directoryID) })
        }
        return promise.futureResult
    }
}

extension Responses {
    /// The answer to GetTransaction once the archive was searched.
    static func archivedTransaction(callID: UInt64, id: UInt64, _ result: Result<Tally_V1_Transaction?, any Error>) -> Tally_V1_Response {
        switch result {
        case .success(let transaction?):
            return ok(callID: callID, Tally_V1_GetTransactionResponse.with { $0.transaction = transaction })
        case .success(nil):
            return error(
                callID: callID, .notFound, reason: "TRANSACTION_NOT_FOUND",
                "no transaction \(id), in memory or in the archive", details: ["transaction_id": String(id)])
        case .failure(let failure):
            return error(
                callID: callID, .internal, reason: "ARCHIVE_UNREADABLE",
                "transaction \(id) is not in memory and the archive could not be read: \(failure)", details: ["transaction_id": String(id)])
        }
    }
}
