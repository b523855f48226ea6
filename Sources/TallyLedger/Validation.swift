/// Checks a command's fields before it touches any state. Pure and total: every input gets
/// either nil (valid) or a specific INVALID_ARGUMENT refusal.
public enum Validation {
    public static func check(_ command: Command) -> Refusal? {
        switch command {
        case .credit(let credit):
            return userID(credit.userID) ?? amount(credit.amount)
                ?? (credit.kind == nil
                    ? .invalid("CREDIT_KIND_MISSING", field: "kind", "kind must be purchase, grant, refund or adjustment")
                    : nil)
                ?? text(credit.reference, field: "reference", limit: Limits.maxReferenceBytes)
                ?? text(credit.memo, field: "memo", limit: Limits.maxMemoBytes)
                ?? text(credit.idempotencyKey, field: "idempotency_key", limit: Limits.maxIdempotencyKeyBytes)
        case .spend(let spend):
            return userID(spend.userID) ?? amount(spend.amount)
                ?? text(spend.reference, field: "reference", limit: Limits.maxReferenceBytes)
                ?? text(spend.memo, field: "memo", limit: Limits.maxMemoBytes)
                ?? text(spend.idempotencyKey, field: "idempotency_key", limit: Limits.maxIdempotencyKeyBytes)
        }
    }

    public static func userID(_ id: String) -> Refusal? {
        if id.isEmpty {
            return .invalid("USER_ID_EMPTY", field: "user_id", "user_id must not be empty")
        }
        if let tooLong = text(id, field: "user_id", limit: Limits.maxUserIDBytes) {
            return tooLong
        }
        // C0, DEL and C1 (general category Cc): they corrupt logs and terminals.
        if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return .invalid("USER_ID_INVALID", field: "user_id", "user_id must not contain control characters")
        }
        return nil
    }

    static func amount(_ amount: Int64) -> Refusal? {
        guard amount > 0 else {
            return Refusal(
                code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE",
                message: "amount must be a positive whole number of tokens, got \(amount)",
                details: ["field": "amount", "amount": String(amount)]
            )
        }
        return nil
    }

    static func text(_ value: String, field: String, limit: Int) -> Refusal? {
        let bytes = value.utf8.count
        guard bytes <= limit else {
            return Refusal(
                code: .invalidArgument, reason: "FIELD_TOO_LONG",
                message: "\(field) is \(bytes) bytes; at most \(limit) are allowed",
                details: ["field": field, "limit": String(limit), "length": String(bytes)]
            )
        }
        return nil
    }
}
