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
    // The date's own months fit easily; adding `n` (from the rules) may not.
    let total = (i64::from(d.year()) * 12 + i64::from(d.month0())).checked_add(n)?;
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

/// A calendar day as its parts (year, month 1–12, day 1–31): what every date
/// representation of the engine reduces to.
pub type Ymd = (i32, u32, u32);

/// The parts of a date.
pub fn parts(d: NaiveDate) -> Ymd {
    (d.year(), d.month(), d.day())
}

/// Completed years of age on `on` for a birth on `birth` (negative before birth).
pub fn age(birth: NaiveDate, on: NaiveDate) -> i64 {
    age_of_parts(parts(birth), parts(on))
}

/// The definition of an age: whole years completed, the year completing on the
/// birthday; a 29 February birthday completes a year on 28 February in a common year
/// (民法典第二百零二条).
#[inline]
pub fn age_of_parts(birth: Ymd, on: Ymd) -> i64 {
    let (by, bm, mut bd) = birth;
    let (oy, om, od) = on;
    if bm == 2 && bd == 29 && !is_leap(oy) {
        bd = 28;
    }
    i64::from(oy) - i64::from(by) - i64::from((om, od) < (bm, bd))
}

/// The latest date of birth of someone `years` old or older on `on`, as [`age`]
/// counts: `age(b, on) >= years` exactly when `b <= born_by(on, years)`. Derived from
/// [`age`] itself (a search among the days around `on − years`), so that a fast path
/// comparing birth dates with it decides as the age would. `None` at the calendar's
/// edges.
pub fn born_by(on: NaiveDate, years: i64) -> Option<NaiveDate> {
    // age(b, on) never grows as b moves later: the days with age >= years are those up
    // to some last one, which lies between `on − (years + 1)` and `on − (years − 1)`.
    let mut lo = add_years(on, -(years.checked_add(1)?))?;
    let mut hi = add_years(on, -(years.checked_sub(1)?))?;
    if age(lo, on) < years || age(hi, on) >= years {
        return None;
    }
    // Invariant: age(lo) >= years > age(hi).
    while (hi - lo).num_days() > 1 {
        let mid = add_days(lo, (hi - lo).num_days() / 2)?;
        if age(mid, on) >= years {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// `(b.year*12 + b.month) − (a.year*12 + a.month)`: calendar months from `a` to `b`.
pub fn month_diff(a: NaiveDate, b: NaiveDate) -> i64 {
    month_diff_of_parts(parts(a), parts(b))
}

/// [`month_diff`] on the parts of the dates: the days are ignored.
#[inline]
pub fn month_diff_of_parts(a: Ymd, b: Ymd) -> i64 {
    (i64::from(b.0) * 12 + i64::from(b.1)) - (i64::from(a.0) * 12 + i64::from(a.1))
}

/// `within_last(d, K unit)` on `on`: `on − K ≤ d ≤ on`, the earliest day given (in
/// any representation of days that orders as the calendar does).
#[inline(always)]
pub fn within<D: Ord>(d: D, earliest: D, on: D) -> bool {
    earliest <= d && d <= on
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
    fn born_by_is_the_last_birth_date_of_the_age() {
        let ons = [
            "2024-02-28",
            "2024-02-29",
            "2024-03-01",
            "2025-02-28",
            "2025-03-01",
            "2025-12-31",
            "2026-01-01",
            "2025-04-30",
            "2025-01-31",
        ];
        for on in ons.map(d) {
            for years in [-1, 0, 1, 4, 18, 60, 65, 100] {
                let b = born_by(on, years).unwrap();
                assert!(age(b, on) >= years, "{on} {years}");
                assert!(age(b.succ_opt().unwrap(), on) < years, "{on} {years}");
            }
        }
        assert_eq!(born_by(d("2025-02-28"), 65), Some(d("1960-02-29")));
        assert_eq!(born_by(d("2025-03-01"), 1), Some(d("2024-03-01")));
    }

    #[test]
    fn add_months_clamps_to_month_end() {
        assert_eq!(add_months(d("2024-01-31"), 1), Some(d("2024-02-29")));
        assert_eq!(add_months(d("1980-02-29"), 756), Some(d("2043-02-28")));
        assert_eq!(add_months(d("2028-02-29"), -12), Some(d("2027-02-28")));
        assert_eq!(add_months(d("2025-03-31"), -1), Some(d("2025-02-28")));
        assert_eq!(add_months(d("2025-01-15"), i64::MAX), None);
        assert_eq!(add_months(d("2025-01-15"), i64::MIN), None);
        assert_eq!(add_years(d("2025-01-15"), i64::MAX), None);
    }

    #[test]
    fn month_diff_ignores_days() {
        assert_eq!(month_diff(d("2025-01-31"), d("2025-02-01")), 1);
        assert_eq!(month_diff(d("2025-01-01"), d("2027-05-15")), 28);
        assert_eq!(month_diff(d("2027-05-15"), d("2025-01-01")), -28);
    }
}
