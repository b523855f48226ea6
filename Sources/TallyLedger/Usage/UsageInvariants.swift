import HashTreeCollections

/// The rules the daily-limit state must obey, checked from scratch (with the Ledger's).
extension UsageBook {
    public func invariantViolations() -> [String] {
        var violations: [String] = []
        var heldToday: [ExactString: Int128] = [:]
        for (id, reservation) in reservations {
            if id != reservation.id { violations.append("reservation stored under \(id) has id \(reservation.id)") }
            if id >= nextReservationID { violations.append("reservation \(id) is not below next id \(nextReservationID)") }
            if reservation.tokens <= 0 { violations.append("reservation \(id) holds \(reservation.tokens) tokens") }
            if reservation.expiresAt <= reservation.createdAt { violations.append("reservation \(id) expires before it was made") }
            guard let user = users[reservation.userID] else {
                violations.append("reservation \(id) is for \(reservation.userID), who has no usage")
                continue
            }
            if reservation.day == user.day { heldToday[reservation.userID, default: 0] += Int128(reservation.tokens) }
        }
        if limits.tiers[limits.defaultTier] == nil { violations.append("default tier \(limits.defaultTier) has no limit") }
        for (tier, limit) in limits.tiers where limit < 0 { violations.append("tier \(tier) has limit \(limit)") }

        for (id, user) in users {
            if user.used < 0 || user.reserved < 0 || user.shadowRefusals < 0 {
                violations.append("usage of \(id): negative count (used \(user.used), reserved \(user.reserved))")
            }
            if let limit = user.limitOverride, limit < 0 { violations.append("usage of \(id): limit \(limit)") }
            violations += user.layoutViolations().map { "usage of \(id): \($0)" }
            if Int128(user.reserved) != heldToday[id] ?? 0 {
                violations.append("usage of \(id): reserved \(user.reserved) != open reservations of its day \(heldToday[id] ?? 0)")
            }
            for (date, tokens) in user.days {
                if tokens <= 0 { violations.append("usage of \(id): \(tokens) tokens recorded on \(date)") }
                if let day = user.day, date >= day { violations.append("usage of \(id): record of \(date) is not before today \(day)") }
            }
            // Every daily count agrees with its month's aggregate (while both are kept).
            var daily = user.days
            if let day = user.day, user.used > 0 { daily[day] = user.used }
            let months = user.months  // built once, not per record
            for (date, tokens) in daily {
                if let month = months[YearMonth(date)], month.days[date.day] != tokens {
                    violations.append("usage of \(id): \(date) has \(tokens) tokens, its month says \(month.days[date.day] ?? 0)")
                }
            }
            for (month, aggregate) in months {
                let sum = aggregate.days.values.reduce(Int128(0)) { $0 + Int128($1) }
                if sum != Int128(aggregate.total) {
                    violations.append("usage of \(id): \(month) totals \(aggregate.total), its days sum to \(sum)")
                }
                if aggregate.days.contains(where: { $0.value <= 0 || $0.key < 1 || $0.key > 31 }) {
                    violations.append("usage of \(id): \(month) has a day out of range or without tokens")
                }
            }
        }
        return violations
    }
}
