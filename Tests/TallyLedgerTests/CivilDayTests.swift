import Testing

@testable import TallyLedger

/// CivilDay.description, written byte by byte for four-digit years, says the same as the
/// general form (zero-padded year, a sign when negative) and parses back to the same day.
@Suite struct CivilDayTests {
    static func reference(_ day: CivilDay) -> String {
        let y = String(day.year.magnitude), m = String(day.month), d = String(day.day)
        return (day.year < 0 ? "-" : "") + String(repeating: "0", count: max(0, 4 - y.count)) + y + "-"
            + (m.count < 2 ? "0" : "") + m + "-" + (d.count < 2 ? "0" : "") + d
    }

    @Test func descriptionMatchesTheGeneralFormAndParsesBack() {
        let year0 = CivilDay(year: 0, month: 1, day: 1).dayNumber
        let year10000 = CivilDay(year: 10_000, month: 1, day: 1).dayNumber
        var numbers = Array((year0 - 800)...(year0 + 800)) + Array((year10000 - 800)...(year10000 + 800))
        numbers += Array(stride(from: year0, through: year10000, by: 97))
        numbers += [CivilDay(year: 2026, month: 12, day: 4).dayNumber, CivilDay(year: 1999, month: 12, day: 31).dayNumber]
        for number in numbers {
            let day = CivilDay(dayNumber: number)
            let text = day.description
            #expect(text == Self.reference(day), "day number \(number)")
            #expect(CivilDay(parsing: text) == day, "\(text) parses back")
        }
        #expect(CivilDay(year: 2026, month: 12, day: 4).description == "2026-12-04")
        #expect(CivilDay(year: 7, month: 3, day: 9).description == "0007-03-09")
    }
}
