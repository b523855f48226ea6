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
                ?? metadata(credit.metadata)
        case .spend(let spend):
            return userID(spend.userID) ?? amount(spend.amount)
                ?? text(spend.reference, field: "reference", limit: Limits.maxReferenceBytes)
                ?? text(spend.memo, field: "memo", limit: Limits.maxMemoBytes)
                ?? text(spend.idempotencyKey, field: "idempotency_key", limit: Limits.maxIdempotencyKeyBytes)
                ?? metadata(spend.metadata)
        case .consume(let consume):
            return userID(consume.userID) ?? tokens(consume.tokens) ?? key(consume.idempotencyKey)
        case .reserve(let reserve):
            return userID(reserve.userID) ?? tokens(reserve.tokens) ?? key(reserve.idempotencyKey)
                ?? (reserve.ttlMilliseconds <= Reserve.maxTTLMilliseconds
                    ? nil
                    : Refusal(
                        code: .invalidArgument, reason: "TTL_OUT_OF_RANGE",
                        message: "ttl_ms must be at most \(Reserve.maxTTLMilliseconds) (0 for the default of \(Reserve.defaultTTLMilliseconds)), got \(reserve.ttlMilliseconds)",
                        details: ["field": "ttl_ms", "ttl_ms": String(reserve.ttlMilliseconds)]))
        case .settle(let settle):
            guard settle.tokens >= 0 else {
                return Refusal(
                    code: .invalidArgument, reason: "AMOUNT_NEGATIVE", message: "a settled count cannot be negative, got \(settle.tokens)",
                    details: ["field": "tokens", "tokens": String(settle.tokens)])
            }
            return key(settle.idempotencyKey)
        case .release(let release):
            return key(release.idempotencyKey)
        case .changeUsage(let change):
            return usageChange(change)
        case .expireReservations, .expirePurchases, .refusedAttempt, .reconcile, .trimAudit, .archiveTransactions, .archiveCommitments:
            return nil
        case .savePackage(let save):
            return package(save)
        case .commit(let commit):
            return commitment(commit)
        case .cancelCommitment:
            return nil
        case .settlePrediction(let settle):
            if let invalid = name(settle.predictionID, field: "prediction_id") { return invalid }
            if case .resolve(nil) = settle.result { return positionMissing }
            return nil
        case .closePrediction(let id, _):
            return name(id, field: "prediction_id")
        case .deactivatePackage(let id):
            return name(id, field: "package_id")
        case .startPurchase(let start):
            return userID(start.userID) ?? name(start.packageID, field: "package_id") ?? paymentID(start.paymentID)
        case .setMembership(let set):
            return userID(set.userID) ?? set.tier.flatMap { name($0, field: "tier") }
        case .setActionPrice(let set):
            return name(set.action, field: "action") ?? name(set.tier, field: "tier")
                ?? set.cost.flatMap { $0 > 0 ? nil : .invalid("PRICE_NOT_POSITIVE", field: "cost", "an action costs at least 1 token, got \($0); remove the price to make it unavailable") }
        case .spendAction(let spend):
            return userID(spend.userID) ?? name(spend.action, field: "action")
                ?? text(spend.reference, field: "reference", limit: Limits.maxReferenceBytes)
                ?? text(spend.memo, field: "memo", limit: Limits.maxMemoBytes)
                ?? text(spend.idempotencyKey, field: "idempotency_key", limit: Limits.maxIdempotencyKeyBytes)
                ?? metadata(spend.metadata)
        case .settlePurchase(let settle):
            guard case .failed(let failure) = settle.result else { return paymentID(settle.paymentID) }
            let reason = failure.value
            return paymentID(settle.paymentID)
                ?? (reason.isEmpty ? .invalid("REASON_EMPTY", field: "reason", "say why the purchase failed") : nil)
                ?? (reason == Purchase.expiredReason
                    ? .invalid("REASON_RESERVED", field: "reason", "'\(Purchase.expiredReason)' is the reason tallyd gives a purchase that timed out")
                    : nil)
                ?? text(reason, field: "reason", limit: Limits.maxReferenceBytes)
        }
    }

    static func metadata(_ metadata: [ExactString: ExactString]) -> Refusal? {
        guard metadata.count <= Limits.maxMetadataEntries else {
            return Refusal(
                code: .invalidArgument, reason: "METADATA_TOO_LARGE",
                message: "metadata has \(metadata.count) entries; at most \(Limits.maxMetadataEntries) are allowed",
                details: ["field": "metadata", "limit": String(Limits.maxMetadataEntries)])
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            if key.value.isEmpty { return .invalid("METADATA_KEY_EMPTY", field: "metadata", "metadata keys must not be empty") }
            if let invalid = text(key.value, field: "metadata key", limit: Limits.maxMetadataKeyBytes)
                ?? text(value.value, field: "metadata value", limit: Limits.maxMetadataValueBytes)
            {
                return invalid
            }
        }
        return nil
    }

    static let positionMissing = Refusal.invalid("POSITION_MISSING", field: "position", "position must be yes or no")

    static func commitment(_ commit: Commit) -> Refusal? {
        if let invalid = userID(commit.userID) ?? name(commit.predictionID, field: "prediction_id") { return invalid }
        if commit.position == nil { return positionMissing }
        if commit.stake <= 0 {
            return Refusal(
                code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE", message: "stake must be at least 1 token, got \(commit.stake)",
                details: ["field": "stake", "amount": String(commit.stake)])
        }
        guard Commitment.oddsRange.contains(commit.oddsMicros) else {
            return Refusal(
                code: .invalidArgument, reason: "ODDS_OUT_OF_RANGE",
                message: "odds_micros must be from 1000000 (odds 1.0) to 1000000000000, got \(commit.oddsMicros)",
                details: ["field": "odds_micros", "odds_micros": String(commit.oddsMicros)])
        }
        return key(commit.idempotencyKey)
    }

    static func package(_ save: SavePackage) -> Refusal? {
        if let invalid = name(save.id, field: "package_id") { return invalid }
        if save.name.isEmpty { return .invalid("PACKAGE_NAME_EMPTY", field: "name", "a package needs a name") }
        if let invalid = text(save.name, field: "name", limit: Limits.maxReferenceBytes) { return invalid }
        if save.tokens <= 0 {
            return .invalid("AMOUNT_NOT_POSITIVE", field: "tokens", "a package holds at least 1 token, got \(save.tokens)")
        }
        if save.bonusTokens < 0 { return .invalid("AMOUNT_NEGATIVE", field: "bonus_tokens", "bonus_tokens cannot be negative") }
        if save.priceCents < 0 { return .invalid("AMOUNT_NEGATIVE", field: "price_cents", "price_cents cannot be negative") }
        return currency(save.currency) ?? text(save.externalPriceID, field: "external_price_id", limit: Limits.maxReferenceBytes)
    }

    public static func paymentID(_ id: String) -> Refusal? {
        if id.isEmpty { return .invalid("PAYMENT_ID_EMPTY", field: "payment_id", "payment_id must not be empty") }
        if hasControlCharacter(id) {
            return .invalid("PAYMENT_ID_INVALID", field: "payment_id", "payment_id must not contain control characters")
        }
        return text(id, field: "payment_id", limit: Limits.maxIdempotencyKeyBytes)
    }

    /// ISO 4217: three capital letters.
    static func currency(_ code: String) -> Refusal? {
        code.unicodeScalars.count == 3 && code.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) })
            ? nil : .invalid("CURRENCY_INVALID", field: "currency", "currency must be an ISO 4217 code such as USD")
    }

    static func usageChange(_ change: UsageChange) -> Refusal? {
        switch change {
        case .tierLimit(let tier, let limit): return name(tier, field: "tier") ?? limit.flatMap(dailyLimit)
        case .userLimit(let user, let limit): return userID(user) ?? limit.flatMap(dailyLimit)
        case .userTier(let user, let tier): return userID(user) ?? tier.flatMap { name($0, field: "tier") }
        case .tierShadow(let tier, _): return name(tier, field: "tier")
        case .userShadow(let user, _): return userID(user)
        case .defaultTier(let tier): return name(tier, field: "tier")
        case .timeZone(let zone):
            // The tz database has the final word (the server asks it); this keeps junk out of the journal.
            let allowed = zone.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "/_+-".unicodeScalars.contains(scalar))
            }
            return zone.isEmpty || !allowed
                ? .invalid("TIME_ZONE_INVALID", field: "time_zone", "time_zone must be an IANA zone name such as Europe/Berlin")
                : text(zone, field: "time_zone", limit: Limits.maxNameBytes)
        }
    }

    static func tokens(_ tokens: Int64) -> Refusal? {
        guard tokens > 0 else {
            return Refusal(
                code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE", message: "tokens must be at least 1, got \(tokens)",
                details: ["field": "tokens", "tokens": String(tokens)])
        }
        return nil
    }

    static func dailyLimit(_ limit: Int64) -> Refusal? {
        limit >= 0
            ? nil
            : Refusal(
                code: .invalidArgument, reason: "LIMIT_NEGATIVE", message: "a daily limit cannot be negative, got \(limit)",
                details: ["field": "limit", "limit": String(limit)])
    }

    static func key(_ key: String) -> Refusal? {
        text(key, field: "idempotency_key", limit: Limits.maxIdempotencyKeyBytes)
    }

    /// A tier's name: like a user id, but short.
    static func name(_ value: String, field: String) -> Refusal? {
        if value.isEmpty { return .invalid("\(field.uppercased())_EMPTY", field: field, "\(field) must not be empty") }
        if hasControlCharacter(value) {
            return .invalid("\(field.uppercased())_INVALID", field: field, "\(field) must not contain control characters")
        }
        return text(value, field: field, limit: Limits.maxNameBytes)
    }

    public static func userID(_ id: String) -> Refusal? {
        if id.isEmpty {
            return .invalid("USER_ID_EMPTY", field: "user_id", "user_id must not be empty")
        }
        if let tooLong = text(id, field: "user_id", limit: Limits.maxUserIDBytes) {
            return tooLong
        }
        // C0, DEL and C1 (general category Cc): they corrupt logs and terminals.
        if hasControlCharacter(id) {
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

/// Whether `text` holds a control character (general category Cc: U+0000-U+001F, U+007F-U+009F),
/// decided from its UTF-8 bytes: C0 and DEL are single bytes, C1 is 0xC2 followed by 0x80-0x9F.
/// The same answer as `Unicode.Scalar.Properties.generalCategory == .control` (ValidationTests
/// checks every scalar), without a Unicode property lookup per character on the hot path.
@inline(__always)
func hasControlCharacter(_ text: String) -> Bool {
    var afterC2 = false
    for byte in text.utf8 {
        if byte < 0x20 || byte == 0x7F || (afterC2 && byte <= 0x9F) { return true }
        afterC2 = byte == 0xC2
    }
    return false
}
