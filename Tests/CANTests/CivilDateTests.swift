import CAN
import Testing

/// `civilDay`: the `YYYY-MM-DD` dates of `POST /inference`, `predict`'s CSV, the training table and
/// `simulate --start`.
@Suite struct CivilDateTests {
    @Test func civilDaysReadOnlyFourDigitYearsAndUnsignedFields() {
        #expect(civilDay("1970-01-01") == 0)
        #expect(civilDay("2024-2-29") == 19_782)
        #expect(civilDay("2000-03-01") == 11_017)
        for bad in ["9000000000000000000-01-01", "+2024-01-01", "2024--1-01", "2024-01-", "-2024-01-01", "24-01-01",
                    "2024-13-01", "2024-01-001", "2024-01-01-"] {
            #expect(civilDay(bad) == nil, "\(bad)")
        }
    }
}
