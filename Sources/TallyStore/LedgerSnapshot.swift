import Foundation
import HashTreeCollections
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// The Ledger's whole state as a protobuf message (tally.store.v1.Snapshot), and back.
/// Records are sorted, so the same state always encodes to the same bytes.
public enum LedgerSnapshot {
    public static func encode(_ ledger: Ledger, journalSequence: UInt64 = 0) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(ledger, journalSequence: journalSequence) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Records per part: the large collections (accounts, idempotency records, usage users,
    /// transactions, audit entries) are encoded a part at a time, so that encoding never holds a
    /// second copy of any of them.
    static let recordsPerPart = 4_096

    /// Encodes the state as consecutive parts handed to `write`: the parts together are one
    /// Snapshot message (protobuf concatenation appends repeated fields and merges the usage
    /// message), first everything small, then accounts, idempotency records and usage users in
    /// key order, then transactions and audit entries in id order.
    ///
    /// Why parts for the keyed collections too: a million accounts encoded at once were a
    /// sorted array of a million records, their messages and the serialized bytes, hundreds of
    /// MB allocated and freed on the snapshot thread. Mapping and unmapping that much memory
    /// holds the process's memory-map lock, and the Writer waited on it (in mprotect, growing
    /// its own heap) for up to 130 ms while a snapshot was written (docs/benchmarks.md). Only
    /// the sorted keys are gathered now (16 bytes each).
    public static func encode(
        _ ledger: Ledger, journalSequence: UInt64 = 0, into write: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        func emit(_ part: Tally_Store_V1_Snapshot) throws {
            let bytes: [UInt8] = try part.serializedBytes(options: options)
            try bytes.withUnsafeBytes(write)
        }
        var snapshot = Tally_Store_V1_Snapshot()
        snapshot.journalSequence = journalSequence
        snapshot.lastTimestampUs = ledger.lastTimestamp
        snapshot.nextTransactionID = ledger.nextTransactionID
        snapshot.mint = ledger.mint
        snapshot.burn = ledger.burn
        snapshot.usage = UsageSnapshot.encode(ledger.usage, users: false)
        snapshot.packages = ledger.packages.sorted { $0.key < $1.key }.map { Tally_V1_TokenPackage($0.value) }
        snapshot.purchases = ledger.purchases.sorted { $0.key < $1.key }.map { Tally_V1_Purchase($0.value) }
        snapshot.nextPurchaseID = ledger.nextPurchaseID
        snapshot.commitments = ledger.commitments.sorted { $0.key < $1.key }.map { Tally_V1_Commitment($0.value) }
        snapshot.predictions = ledger.predictions.sorted { $0.key < $1.key }.map { Tally_V1_Prediction($0.value) }
        snapshot.nextCommitmentID = ledger.nextCommitmentID
        snapshot.house = ledger.house
        snapshot.logChain = Data(ledger.logChain)
        snapshot.memberships = ledger.memberships.sorted { $0.key < $1.key }.map { user, membership in
            Tally_Store_V1_StoredMembership.with {
                $0.userID = user.value
                $0.tier = membership.tier.value
                $0.expiresAtUs = membership.expiresAt ?? 0
                $0.updatedAtUs = membership.updatedAt
            }
        }
        snapshot.actionPrices = ledger.actionPrices.sorted { $0.key < $1.key }.map { Tally_V1_ActionPrice($0.value) }
        snapshot.nextAuditID = ledger.nextAuditID
        snapshot.firstAuditID = ledger.firstAuditID
        snapshot.archived = Tally_Store_V1_ArchivedHistory(ledger.archived)
        try emit(snapshot)

        /// `keys` in order, a part at a time; `fill` puts one part's records into its message.
        func inParts(_ keys: [ExactString], _ fill: (ArraySlice<ExactString>, inout Tally_Store_V1_Snapshot) -> Void) throws {
            var start = 0
            while start < keys.count {
                let end = min(start + recordsPerPart, keys.count)
                var part = Tally_Store_V1_Snapshot()
                fill(keys[start..<end], &part)
                try emit(part)
                start = end
            }
        }
        try inParts(ledger.accounts.keys.sorted()) { keys, part in
            part.accounts = keys.map { Tally_V1_Balance(Balance(userID: $0.value, account: ledger.accounts[$0]!)) }
        }
        try inParts(ledger.idempotency.records.keys.sorted()) { keys, part in
            part.idempotencyRecords = keys.map { Tally_Store_V1_IdempotencyRecord(key: $0.value, ledger.idempotency.records[$0]!) }
        }
        let usageUsers = ledger.usage.users
        try inParts(usageUsers.map(\.key).sorted()) { keys, part in
            part.usage.users = keys.map { UsageSnapshot.encode(user: usageUsers[$0]!, id: $0) }
        }

        // Transactions as the Ledger holds them, a chunk of 1,024 ids a part: a copy of their
        // bytes rather than a message each (format 3; TransactionChunks.swift).
        try ledger.transactions.encodeChunks { chunk in
            var part = Tally_Store_V1_Snapshot()
            part.transactionChunks = [Data(chunk)]
            try emit(part)
        }

        // The audit log in id order. The part is gathered in a plain array: appending to a
        // message's repeated field one by one copies the field each time (its storage is boxed).
        var audit: [Tally_V1_AuditEntry] = []
        func flush() throws {
            var part = Tally_Store_V1_Snapshot()
            part.audit = audit
            try emit(part)
            audit.removeAll(keepingCapacity: true)
        }
        for (_, entry) in ledger.auditLog {
            audit.append(Tally_V1_AuditEntry(entry))
            if audit.count == recordsPerPart { try flush() }
        }
        if !audit.isEmpty { try flush() }
    }

    /// Rebuilds a Ledger; throws if the message is not a valid state (bad enum values,
    /// duplicate records, and unless the caller checks them itself later, broken invariants).
    public static func decode(_ bytes: [UInt8], config: LedgerConfig, checkInvariants: Bool = true) throws
        -> (ledger: Ledger, sequence: UInt64)
    {
        try decode(contiguous: bytes, config: config, checkInvariants: checkInvariants)
    }

    /// The same, from any bytes protobuf reads (a file's bytes, uncopied, in SnapshotFile).
    static func decode(contiguous bytes: some SwiftProtobufContiguousBytes, config: LedgerConfig, checkInvariants: Bool) throws
        -> (ledger: Ledger, sequence: UInt64)
    {
        try decode(message: try Tally_Store_V1_Snapshot(serializedBytes: bytes), transactions: nil, config: config, checkInvariants: checkInvariants)
    }

    /// The Ledger of a decoded message. `transactions`: its chunks already decoded (format 3's
    /// framed parts, SnapshotParts), or nil to decode them from the message.
    static func decode(
        message snapshot: Tally_Store_V1_Snapshot, transactions decoded: DenseLog<PackedTransaction>?, config: LedgerConfig, checkInvariants: Bool
    ) throws -> (ledger: Ledger, sequence: UInt64) {
        var accounts = TreeDictionary<ExactString, Account>()
        for balance in snapshot.accounts {
            guard accounts.updateValue(balance.ledgerValue.account, forKey: ExactString(balance.userID)) == nil else {
                throw StoreError("account \(balance.userID) appears twice")
            }
        }
        // Chunks inside the message follow those decoded alone; appendEncodedChunk refuses any
        // out of order.
        var transactions = decoded ?? DenseLog<PackedTransaction>()
        for chunk in snapshot.transactionChunks {
            do {
                try chunk.withUnsafeBytes { try transactions.appendEncodedChunk($0, below: snapshot.nextTransactionID) }
            } catch {
                throw StoreError("\(error)")
            }
        }
        // Formats 1 and 2 kept a message per transaction.
        guard snapshot.transactions.isEmpty || snapshot.transactionChunks.isEmpty else {
            throw StoreError("holds transactions both as messages and as chunks")
        }
        for tx in snapshot.transactions {
            guard let value = tx.ledgerValue else { throw StoreError("transaction \(tx.id) has unknown type \(tx.type)") }
            // Checked before it is stored: the log lays ids out by number, up to the largest.
            guard tx.id >= 1, tx.id < snapshot.nextTransactionID else {
                throw StoreError("transaction \(tx.id) is outside the ids handed out (1 to \(snapshot.nextTransactionID) exclusive)")
            }
            guard transactions.updateValue(value, forKey: tx.id) == nil else {
                throw StoreError("transaction \(tx.id) appears twice")
            }
        }
        var records: [ExactString: IdempotencyRecord] = [:]
        for record in snapshot.idempotencyRecords {
            guard records.updateValue(try record.ledgerValue(), forKey: ExactString(record.key)) == nil else {
                throw StoreError("idempotency key \(record.key) appears twice")
            }
        }
        var packages = TreeDictionary<ExactString, TokenPackage>()
        for package in snapshot.packages {
            guard packages.updateValue(package.ledgerValue, forKey: ExactString(package.id)) == nil else {
                throw StoreError("package \(package.id) appears twice")
            }
        }
        var purchases = TreeDictionary<UInt64, Purchase>()
        for stored in snapshot.purchases {
            guard let purchase = stored.ledgerValue else { throw StoreError("purchase \(stored.id) has an unknown status or credit") }
            guard purchases.updateValue(purchase, forKey: stored.id) == nil else { throw StoreError("purchase \(stored.id) appears twice") }
        }
        var commitments = TreeDictionary<UInt64, Commitment>()
        for stored in snapshot.commitments {
            guard let commitment = stored.ledgerValue else { throw StoreError("commitment \(stored.id) has an unknown position or status") }
            guard commitments.updateValue(commitment, forKey: stored.id) == nil else { throw StoreError("commitment \(stored.id) appears twice") }
        }
        var predictions = TreeDictionary<ExactString, Prediction>()
        for stored in snapshot.predictions {
            guard let prediction = stored.ledgerValue else { throw StoreError("prediction \(stored.id) has an unknown status") }
            guard predictions.updateValue(prediction, forKey: ExactString(stored.id)) == nil else {
                throw StoreError("prediction \(stored.id) appears twice")
            }
        }
        var memberships = TreeDictionary<ExactString, Membership>()
        // Snapshots from before memberships kept a user's tier with its usage.
        for stored in snapshot.usage.users where stored.hasTier {
            memberships[ExactString(stored.userID)] = Membership(
                tier: ExactString(stored.tier), expiresAt: nil, updatedAt: snapshot.lastTimestampUs)
        }
        for stored in snapshot.memberships {
            memberships[ExactString(stored.userID)] = Membership(
                tier: ExactString(stored.tier), expiresAt: stored.expiresAtUs == 0 ? nil : stored.expiresAtUs,
                updatedAt: stored.updatedAtUs)
        }
        var actionPrices = TreeDictionary<ExactString, ActionPrice>()
        for stored in snapshot.actionPrices {
            let price = stored.ledgerValue
            guard !price.costs.isEmpty, price.costs.values.allSatisfy({ $0 > 0 }) else {
                throw StoreError("action \(stored.action) has no price or a price below 1")
            }
            guard actionPrices.updateValue(price, forKey: price.action) == nil else {
                throw StoreError("action \(stored.action) appears twice")
            }
        }
        var auditLog = DenseLog<AuditEntry>()
        for stored in snapshot.audit {
            guard stored.id >= max(1, snapshot.firstAuditID), stored.id < snapshot.nextAuditID else {
                throw StoreError(
                    "audit entry \(stored.id) is outside the ids held (\(snapshot.firstAuditID) to \(snapshot.nextAuditID) exclusive)")
            }
            guard auditLog.updateValue(stored.ledgerValue, forKey: stored.id) == nil else {
                throw StoreError("audit entry \(stored.id) appears twice")
            }
        }
        let ledger = Ledger(
            config: config, accounts: accounts, transactions: transactions,
            idempotency: IdempotencyTable(records: records), mint: snapshot.mint, burn: snapshot.burn,
            nextTransactionID: snapshot.nextTransactionID, lastTimestamp: snapshot.lastTimestampUs,
            usage: snapshot.hasUsage ? try UsageSnapshot.decode(snapshot.usage, retention: config.usageRetention) : nil,
            packages: packages, purchases: purchases, nextPurchaseID: max(1, snapshot.nextPurchaseID), commitments: commitments,
            predictions: predictions, nextCommitmentID: max(1, snapshot.nextCommitmentID), house: snapshot.house,
            memberships: memberships, actionPrices: actionPrices, auditLog: auditLog, nextAuditID: max(1, snapshot.nextAuditID),
            firstAuditID: max(1, snapshot.firstAuditID), archived: try snapshot.archived.ledgerValue(),
            logChain: [UInt8](snapshot.logChain))
        let violations = checkInvariants ? ledger.invariantViolations() : []
        guard violations.isEmpty else {
            throw StoreError("state breaks \(violations.count) invariant(s), first: \(violations[0])")
        }
        return (ledger, snapshot.journalSequence)
    }

    /// CRC-32C of the canonical encoding: equal states give equal checksums (for `verify` and
    /// for comparing a recovered state with a live one).
    public static func stateChecksum(_ ledger: Ledger) throws -> UInt32 {
        CRC32C.checksum(try encode(ledger))
    }
}

extension Tally_Store_V1_IdempotencyRecord {
    init(key: String, _ record: IdempotencyRecord) {
        self.init()
        self.key = key
        command = Tally_Store_V1_StampedCommand(record.command, at: record.firstSeenAt)
        expiresAtUs = record.expiresAt
        switch record.outcome {
        case .accepted(let receipt):
            accepted = .with {
                $0.transaction = Tally_V1_Transaction(receipt.transaction)
                $0.balance = Tally_V1_Balance(receipt.balance)
            }
        case .refused(let refusal):
            refused = .with {
                $0.code = Tally_V1_Code(refusal.code)
                $0.reason = refusal.reason
                $0.message = refusal.message
                $0.details = refusal.details
            }
        case .usage(let receipt):
            usage = .with {
                $0.status = Tally_V1_UsageStatus(receipt.status)
                if let reservation = receipt.reservation { $0.reservation = Tally_V1_Reservation(reservation) }
            }
        case .commitment(let receipt):
            commitment = Tally_V1_CommitResponse(receipt, replayed: false)
        case .usageLimits, .expired, .package, .purchase, .expiredPurchases, .predictionSettled, .prediction, .membership,
            .actionPrice, .reconciled, .auditTrimmed, .archivedTransactions, .archivedCommitments:
            break  // commands without an idempotency key: never recorded
        }
    }

    func ledgerValue() throws -> IdempotencyRecord {
        guard let command = command.ledgerCommand else { throw StoreError("idempotency key \(key) has no command") }
        let outcome: Outcome
        switch self.outcome {
        case .accepted(let accepted):
            guard let tx = accepted.transaction.ledgerValue else {
                throw StoreError("idempotency key \(key) answers a transaction of unknown type")
            }
            outcome = .accepted(Receipt(transaction: tx, balance: accepted.balance.ledgerValue))
        case .refused(let refused):
            guard let code = Refusal.Code(rawValue: refused.code.rawValue) else {
                throw StoreError("idempotency key \(key) has unknown refusal code \(refused.code)")
            }
            outcome = .refused(Refusal(code: code, reason: refused.reason, message: refused.message, details: refused.details))
        case .usage(let usage):
            guard let status = usage.status.ledgerValue else { throw StoreError("idempotency key \(key) answers a usage status without a date") }
            var reservation: Reservation?
            if usage.hasReservation {
                guard let value = usage.reservation.ledgerValue else {
                    throw StoreError("idempotency key \(key) answers a reservation without a date")
                }
                reservation = value
            }
            outcome = .usage(UsageReceipt(status: status, reservation: reservation))
        case .commitment(let response):
            guard let receipt = response.ledgerValue else { throw StoreError("idempotency key \(key) answers an unreadable commitment") }
            outcome = .commitment(receipt)
        case nil:
            throw StoreError("idempotency key \(key) has no outcome")
        }
        return IdempotencyRecord(command: command, firstSeenAt: self.command.timestampUs, expiresAt: expiresAtUs, outcome: outcome)
    }
}

extension Tally_Store_V1_ArchivedHistory {
    init(_ archived: ArchivedHistory) {
        self.init()
        users = archived.users.sorted { $0.key < $1.key }.map { user, totals in
            .with {
                $0.userID = user.value
                $0.available = totals.available
                $0.committed = totals.committed
                $0.earned = totals.earned
                $0.spent = totals.spent
                $0.transactions = totals.transactions
            }
        }
        volume = archived.volume.sorted { $0.key < $1.key }.map { type, volume in
            .with {
                $0.type = Int32(type)
                $0.transactions = volume.transactions
                $0.tokens = volume.tokens
            }
        }
        mint = archived.mint
        burn = archived.burn
        house = archived.house
        count = archived.count
        lastBatch = archived.lastBatch
        commitments = archived.commitments
        lastCommitmentBatch = archived.lastCommitmentBatch
    }

    func ledgerValue() throws -> ArchivedHistory {
        var archived = ArchivedHistory()
        for stored in users {
            let totals = ArchivedHistory.Totals(
                available: stored.available, committed: stored.committed, earned: stored.earned, spent: stored.spent,
                transactions: stored.transactions)
            guard archived.users.updateValue(totals, forKey: ExactString(stored.userID)) == nil else {
                throw StoreError("archived totals of \(stored.userID) appear twice")
            }
        }
        for stored in volume {
            guard TransactionType(rawValue: Int(stored.type)) != nil else { throw StoreError("archived volume of unknown type \(stored.type)") }
            archived.volume[Int(stored.type)] = ArchivedHistory.Volume(transactions: stored.transactions, tokens: stored.tokens)
        }
        archived.mint = mint
        archived.burn = burn
        archived.house = house
        archived.count = count
        archived.lastBatch = lastBatch
        archived.commitments = commitments
        archived.lastCommitmentBatch = lastCommitmentBatch
        return archived
    }
}
