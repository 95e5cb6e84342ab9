//! The calendar rules every policy uses (policies.md §0.3), in one place.
//!
//! * age: whole years completed; a 29 February birthday completes a year on
//!   28 February in non-leap years (民法典第二百零二条);
//! * adding months keeps the day of month and clamps to the month's last day;
//! * the calendar-month difference ignores days;
//! * "within the last K months" of `ref` is `ref − K ≤ d ≤ ref`.

use chrono::{Datelike, NaiveDate};

/// Whether `year` is a Gregorian leap year.
pub fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Number of days in a month.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// `d` plus `n` calendar months (n may be negative), keeping the day of month and
/// using the month's last day when the target month is shorter. `None` when the result
/// leaves the supported calendar range.
pub fn add_months(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    let total = i64::from(d.year()) * 12 + i64::from(d.month0()) + n;
    let year = i32::try_from(total.div_euclid(12)).ok()?;
    let month = u32::try_from(total.rem_euclid(12)).ok()? + 1;
    let day = d.day().min(days_in_month(year, month));
    NaiveDate::from_ymd_opt(year, month, day)
}

/// `d` plus `n` years (29 February clamps to 28 February).
pub fn add_years(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    add_months(d, n.checked_mul(12)?)
}

/// `d` plus `n` days.
pub fn add_days(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    d.checked_add_signed(chrono::TimeDelta::try_days(n)?)
}

/// Completed years of age on `on` for a birth on `birth` (negative before birth).
pub fn age(birth: NaiveDate, on: NaiveDate) -> i64 {
    let mut years = i64::from(on.year()) - i64::from(birth.year());
    let (bm, mut bd) = (birth.month(), birth.day());
    if bm == 2 && bd == 29 && !is_leap(on.year()) {
        bd = 28;
    }
    if (on.month(), on.day()) < (bm, bd) {
        years -= 1;
    }
    years
}

/// `(b.year*12 + b.month) − (a.year*12 + a.month)`: calendar months from `a` to `b`.
pub fn month_diff(a: NaiveDate, b: NaiveDate) -> i64 {
    (i64::from(b.year()) * 12 + i64::from(b.month()))
        - (i64::from(a.year()) * 12 + i64::from(a.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn age_counts_the_anniversary_and_clamps_29_february() {
        assert_eq!(age(d("1960-02-29"), d("2025-02-28")), 65);
        assert_eq!(age(d("1960-02-29"), d("2025-02-27")), 64);
        assert_eq!(age(d("2000-02-29"), d("2028-02-29")), 28);
        assert_eq!(age(d("1946-07-01"), d("2026-07-01")), 80);
        assert_eq!(age(d("1946-07-02"), d("2026-07-01")), 79);
    }

    #[test]
    fn add_months_clamps_to_month_end() {
        assert_eq!(add_months(d("2024-01-31"), 1), Some(d("2024-02-29")));
        assert_eq!(add_months(d("1980-02-29"), 756), Some(d("2043-02-28")));
        assert_eq!(add_months(d("2028-02-29"), -12), Some(d("2027-02-28")));
        assert_eq!(add_months(d("2025-03-31"), -1), Some(d("2025-02-28")));
        assert_eq!(add_months(d("2025-01-15"), i64::MAX), None);
    }

    #[test]
    fn month_diff_ignores_days() {
        assert_eq!(month_diff(d("2025-01-31"), d("2025-02-01")), 1);
        assert_eq!(month_diff(d("2025-01-01"), d("2027-05-15")), 28);
        assert_eq!(month_diff(d("2027-05-15"), d("2025-01-01")), -28);
    }
}
