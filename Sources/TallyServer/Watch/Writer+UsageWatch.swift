import NIOCore
import TallyLedger
import TallyWire

extension Writer {
    /// Starts a usage watch of `users` (nil: every user): their standing now, then `live`, then
    /// every durable change. `sink` runs on the Writer's loop; the future gives the watch's key
    /// (nil: it ended at once, the sink was told why).
    nonisolated func watchUsage(users: Set<String>?, sink: @escaping WatchSink) -> EventLoopFuture<WatchKey?> {
        let promise = loop.makePromise(of: WatchKey?.self)
        onLoop { writer in
            let id = writer.startUsageWatch(users: users, sink: sink)
            promise.succeed(id == 0 ? nil : .usage(id))
        }
        return promise.futureResult
    }

    /// Usage watch `id` ended (`endWatch`); the day's timer stops with the last one.
    func removeUsageWatch(_ id: UInt64) {
        usageWatchers.remove(id)
        if usageWatchers.isEmpty {
            dayStart?.cancel()
            dayStart = nil
        }
    }

    /// Usage watches registered now, for tests.
    var usageWatchCount: Int { usageWatchers.count }

    private func startUsageWatch(users: Set<String>?, sink: @escaping WatchSink) -> UInt64 {
        if let refusal = mutationRefusal, refusal == "DATA_DIRECTORY_REPLACED" || refusal == "SHUTTING_DOWN" {
            sink(.ended(StreamEnd(code: .unavailable, reason: refusal, message: "tallyd is stopping; watch the next instance")))
            return 0
        }
        let id = usageWatchers.add(users: users, sink: sink)
        let now = clock.peek()
        let today = day(containing: now)
        let ledger = currentLedger()
        let current = (users ?? []).sorted().map { user in
            UsageWatchChange(status: ledger.usageStatus(of: user, on: today, at: now), cause: .current, onlyWatch: id)
        }
        // As of everything applied so far: sent once that is durable, like any change.
        usageWatchers.hold(current, afterRecord: nextSequence - 1, live: id)
        usageWatchers.release(durableThrough: durableSequence)
        if dayStart == nil { scheduleDayStart(after: today) }
        return id
    }

    /// Notes what an applied usage command did to a watched user's standing (process()).
    func noteUsageChange(_ command: Command, _ outcome: Outcome, at stamp: Timestamp, into changes: inout [UsageWatchChange]) {
        let cause: Tally_V1_UsageChangeCause
        switch command {
        case .consume: cause = .consume
        case .reserve: cause = .reserve
        case .settle: cause = .settle
        case .release: cause = .release
        case .expireReservations: cause = .expire
        default: return
        }
        switch outcome {
        case .usage(let receipt) where usageWatchers.watches(receipt.status.userID):
            changes.append(UsageWatchChange(status: receipt.status, cause: cause))
        case .expired(let reservations):
            let ledger = currentLedger()
            var seen: Set<String> = []
            for reservation in reservations where seen.insert(reservation.userID.value).inserted && usageWatchers.watches(reservation.userID.value) {
                let status = ledger.usageStatus(of: reservation.userID.value, on: day(containing: stamp), at: stamp)
                changes.append(UsageWatchChange(status: status, cause: .expire))
            }
        default:
            return
        }
    }

    /// At the end of `today` (the usage time zone's day), every watched user's standing on the
    /// new day, and for watches of every user one message naming the new day. Checked at least
    /// every second rather than timed once: the time of day can jump (a clock set by NTP, or
    /// moved by a test) while the loop's timers keep to the monotonic clock.
    private func scheduleDayStart(after today: UsageDay) {
        let wait = min(max(0, today.endsAt - clock.peek()), 1_000_000)
        dayStart = loop.scheduleTask(in: .microseconds(wait)) {
            self.assumeIsolated { $0.checkDayStart(after: today) }
        }
    }

    private func checkDayStart(after previous: UsageDay) {
        dayStart = nil
        guard !usageWatchers.isEmpty else { return }
        let now = clock.peek()
        let today = day(containing: now)
        guard today.date != previous.date else {
            scheduleDayStart(after: today)
            return
        }
        let ledger = currentLedger()
        var changes = usageWatchers.namedUsers.sorted().map { user in
            UsageWatchChange(status: ledger.usageStatus(of: user, on: today, at: now), cause: .dayStart)
        }
        changes.append(UsageWatchChange(status: nil, date: today.date, cause: .dayStart))
        usageWatchers.hold(changes, afterRecord: nextSequence - 1)
        usageWatchers.release(durableThrough: durableSequence)
        scheduleDayStart(after: today)
    }
}
