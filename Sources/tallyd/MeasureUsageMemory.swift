import ArgumentParser
import Foundation
import Glibc
import TallyLedger
import TallyServer
import TallyStore

/// Measures what daily-limit history costs per user (docs/benchmarks.md, "Memory per user"):
/// builds a Ledger in this process through `Ledger.apply`, one consume per user per UTC day,
/// for long enough that every user holds all that retention keeps (a daily record for each of
/// the last 35 days and 13 monthly aggregates with every day filled), then runs time on further
/// to show that the figure stops growing. Prints, at checkpoints, the heap in use, the resident
/// memory and the snapshot size per user, each net of an empty Ledger.
struct MeasureUsageMemory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure-usage-memory",
        abstract: "Measure daily-limit memory and snapshot bytes per user, up to full retention (in-process; no server).",
        discussion: """
            Day 1 is 2025-01-01 (UTC). Each user consumes once a day. Checkpoints: day 1 (today \
            only), day 35 (35 daily records), days 100, 200, 300, day 396 (2026-01-31: 13 full \
            months, the most retention keeps), then days 456 (2026-04-01) and 516 (2026-05-31, \
            again 13 full months). Heap is glibc's malloc_stats "in use bytes" (mmap included); \
            resident memory is /proc/self/statm after malloc_trim(0). With --runs, medians.
            """,
        shouldDisplay: false)

    @Option(help: "Users.") var users = 10_000
    @Option(help: "Whole runs; each figure is the median over them.") var runs = 1
    @Option(parsing: .upToNextOption, help: "Days to measure on (day 1 is 2025-01-01); default: 1 35 100 200 300 396 456 516.")
    var checkpoints = [1, 35, 100, 200, 300, 396, 456, 516]

    static let firstDay = CivilDay(year: 2025, month: 1, day: 1)

    struct Figures {
        var heap: Double
        var resident: Double
        var snapshot: Double
    }

    func validate() throws {
        guard users > 0, runs > 0 else { throw ValidationError("--users and --runs must be positive") }
        guard !checkpoints.isEmpty, checkpoints.allSatisfy({ (1...36_500).contains($0) }) else {
            throw ValidationError("--checkpoints must be days from 1 to 36500")
        }
    }

    func run() throws {
        say("measure-usage-memory: \(users) users, one consume a day each, \(runs) run(s); retention \(UsageRetention().days) days, \(UsageRetention().months) months")
        var all: [[Figures]] = []
        var consumes = 0
        var seconds = 0.0
        for _ in 0..<runs {
            let (figures, applied, elapsed) = try measure()
            all.append(figures)
            consumes += applied
            seconds += elapsed
        }
        func median(_ values: [Double]) -> Double { values.sorted()[(values.count - 1) / 2] }
        say("| day | date | daily records kept | months kept | heap bytes/user | resident bytes/user | snapshot bytes/user |")
        say("| --- | --- | --- | --- | --- | --- | --- |")
        for (i, day) in checkpoints.enumerated() {
            let date = CivilDay(dayNumber: Self.firstDay.dayNumber + Int64(day - 1))
            let (records, months) = Self.kept(onDay: day)
            let heap = median(all.map { $0[i].heap })
            let resident = median(all.map { $0[i].resident })
            let snapshot = median(all.map { $0[i].snapshot })
            say(String(format: "| %d | %@ | %d | %d | %.0f | %.0f | %.0f |", day, date.description, records, months, heap, resident, snapshot))
        }
        say(String(format: "applied %d consumes in %.1f s of Ledger.apply (%.2f us each, day rolls included)",
                   consumes, seconds, seconds * 1e6 / Double(consumes)))
    }

    /// One run: the figures at each checkpoint, the consumes applied and the seconds spent in apply.
    private func measure() throws -> ([Figures], Int, Double) {
        var ledger = Ledger()
        let ids = (0..<users).map { "user-\($0)" }
        let base = Self.sample(ledger)
        var figures: [Figures] = []
        var applied = 0
        var seconds = 0.0
        let microsPerDay: Int64 = 86_400_000_000
        for day in 1...checkpoints.max()! {
            let dayStart = (Self.firstDay.dayNumber + Int64(day - 1)) * microsPerDay
            let began = ContinuousClock.now
            for (u, id) in ids.enumerated() {
                let now = dayStart + 3_600_000_000 + Int64(u)
                let applied = ledger.apply(
                    .consume(Consume(userID: id, tokens: Int64(100 + (u + day) % 900))), at: now,
                    day: UsageDay.utc(containing: now))
                guard case .usage = applied.outcome else {
                    throw ValidationError("consume refused on day \(day) for \(id): \(applied.outcome)")
                }
            }
            let elapsed = ContinuousClock.now - began
            seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            applied += users
            if checkpoints.contains(day) {
                let (records, months) = Self.kept(onDay: day)
                let user = ledger.usage.usage(of: ids[0])!
                // Today's count is not a daily record: a user holds records - 1 of them plus `used`.
                guard user.days.count == records - 1, user.months.count == months else {
                    throw ValidationError(
                        "day \(day): expected \(records - 1) daily records and \(months) months, found \(user.days.count) and \(user.months.count)")
                }
                let sample = Self.sample(ledger)
                let n = Double(users)
                figures.append(Figures(
                    heap: (sample.heap - base.heap) / n, resident: (sample.resident - base.resident) / n,
                    snapshot: (sample.snapshot - base.snapshot) / n))
            }
        }
        return (figures, applied, seconds)
    }

    /// Heap in use and resident memory (measured first), then the snapshot size of `ledger`.
    private static func sample(_ ledger: Ledger) -> Figures {
        Malloc.trim()
        let heap = Malloc.bytesInUse()
        let resident = ResidentMemory.bytes()
        let snapshot = (try? LedgerSnapshot.encode(ledger).count) ?? 0
        return Figures(heap: heap, resident: resident, snapshot: Double(snapshot))
    }

    /// Daily records (today included) and monthly aggregates a user holds on `day`, by the
    /// retention rules: the last 35 days, the last 13 months.
    static func kept(onDay day: Int) -> (records: Int, months: Int) {
        let today = CivilDay(dayNumber: firstDay.dayNumber + Int64(day - 1))
        let retention = UsageRetention()
        let records = min(day, Int(retention.days))
        let monthsSinceStart = (Int(today.year) - Int(firstDay.year)) * 12 + Int(today.month) - Int(firstDay.month) + 1
        return (records, min(monthsSinceStart, Int(retention.months)))
    }
}

/// glibc's malloc statistics (Malloc.trim is TallyServer's). <malloc.h> is not in Swift's
/// Glibc module, so malloc_stats is looked up by name.
extension Malloc {
    /// Bytes handed out by malloc and not yet freed, every arena and mmapped chunk included:
    /// the "in use bytes" under "Total (incl. mmap):" that malloc_stats() writes to stderr.
    static func bytesInUse() -> Double {
        guard let symbol = dlsym(nil, "malloc_stats") else { return 0 }
        let mallocStats = unsafeBitCast(symbol, to: (@convention(c) () -> Void).self)
        var template = Array("/tmp/tally-malloc-stats-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return 0 }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(fd); unlink(path) }
        fflush(nil)
        let saved = dup(2)
        dup2(fd, 2)
        mallocStats()
        dup2(saved, 2)
        close(saved)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let total = text.range(of: "Total (incl. mmap):")
        else { return 0 }
        for line in text[total.upperBound...].split(separator: "\n") where line.hasPrefix("in use bytes") {
            return Double(line.split(separator: "=").last!.trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
