//! Numbers, dates and comparisons: the strict operators on known values.
//!
//! Whole numbers are `i64` with overflow an error; every other number is an exact
//! decimal (`rust_decimal`) with its own scale, never rounded except by `round`; a
//! division gives a decimal. The operators here see known values only: unknown and
//! "none" operands are the tiers' business (strict operators pass them through).

use super::calendar;
use crate::ir::{Builtin, DateUnit, Ty};
use crate::syntax::ast::{ArithOp, CmpOp};
use crate::value::Value;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use std::cmp::Ordering;

/// Why an operator has no value: an evaluation error of the rule for this record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A whole number out of the 64-bit range.
    #[error("whole-number overflow")]
    IntOverflow,
    /// A decimal out of the decimal type's range.
    #[error("decimal overflow")]
    DecimalOverflow,
    /// A number too large for a whole number (`floor`, `ceil`).
    #[error("number too large")]
    TooLarge,
    /// Date arithmetic left the calendar.
    #[error("date out of range")]
    DateOutOfRange,
    /// `date(y, m, d)` of parts that name no day.
    #[error("{0}-{1}-{2} is not a calendar date")]
    NotADate(i64, i64, i64),
    /// `round(x, n)` with a negative `n`.
    #[error("decimal places must be 0 or more")]
    NegativePlaces,
    /// `the` found no item.
    #[error("no item matches, where exactly one is expected")]
    NoItem,
    /// `the` found several items.
    #[error("{0} items match, where exactly one is expected")]
    SeveralItems(usize),
    /// `latest`/`earliest` of no item with a value.
    #[error("no item to choose from")]
    NothingToChoose,
    /// `latest`/`earliest` with a tie for the deciding value.
    #[error("several items share the deciding value; the choice is undefined")]
    Tie,
    /// An operand of a type the checker should have refused (an internal error).
    #[error("internal: {0}")]
    Internal(&'static str),
}

/// Whole-number arithmetic: `None` for a division (it is decimal), an error on
/// overflow.
#[inline]
pub fn int_arith(op: ArithOp, x: i64, y: i64) -> Option<Result<i64, Fault>> {
    let r = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => return None,
    };
    Some(r.ok_or(Fault::IntOverflow))
}

/// Exact decimal arithmetic, the decimal type's own (its scale rules included).
#[inline]
pub fn decimal_arith(op: ArithOp, x: Decimal, y: Decimal) -> Result<Decimal, Fault> {
    match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div if y.is_zero() => return Err(Fault::DivisionByZero),
        ArithOp::Div => x.checked_div(y),
    }
    .ok_or(Fault::DecimalOverflow)
}

/// `a op b` of two numbers: whole-number arithmetic when the result type is int and
/// the operator has one (`/` has not: its result is a decimal), exact decimals
/// otherwise. The evaluator and the compiler's constant folding both compute with it.
pub fn value_arith(op: ArithOp, a: &Value, b: &Value, ty: &Ty) -> Result<Value, Fault> {
    if let (Ty::Int, Value::Int(x), Value::Int(y)) = (ty, a, b) {
        if let Some(r) = int_arith(op, *x, *y) {
            return r.map(Value::Int);
        }
    }
    match (a.as_decimal(), b.as_decimal()) {
        (Some(x), Some(y)) => decimal_arith(op, x, y).map(Value::Decimal),
        _ => Err(Fault::Internal("arithmetic on non-numbers")),
    }
}

/// `-x` of a whole number.
pub fn int_neg(x: i64) -> Result<i64, Fault> {
    x.checked_neg().ok_or(Fault::IntOverflow)
}

/// `round(x, places)` (half away from zero) or `round_half_even(x, places)`; more than
/// 28 places is 28.
pub fn round(x: Decimal, places: i64, half_even: bool) -> Result<Decimal, Fault> {
    let places = u32::try_from(places).map_err(|_| Fault::NegativePlaces)?;
    let strategy = if half_even {
        RoundingStrategy::MidpointNearestEven
    } else {
        RoundingStrategy::MidpointAwayFromZero
    };
    Ok(x.round_dp_with_strategy(places.min(28), strategy))
}

/// `floor(x)` as a whole number.
pub fn floor(x: Decimal) -> Result<i64, Fault> {
    i64::try_from(x.floor()).map_err(|_| Fault::TooLarge)
}

/// `ceil(x)` as a whole number.
pub fn ceil(x: Decimal) -> Result<i64, Fault> {
    i64::try_from(x.ceil()).map_err(|_| Fault::TooLarge)
}

/// `abs(x)` of a whole number.
pub fn int_abs(x: i64) -> Result<i64, Fault> {
    x.checked_abs().ok_or(Fault::IntOverflow)
}

/// Whether a comparison holds for an ordering.
#[inline(always)]
pub fn holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

/// Whether a comparison holds for two values that may not order: values that do not
/// (of different types) are neither equal nor unequal, so every comparison is false.
#[inline(always)]
pub fn holds_maybe(op: CmpOp, o: Option<Ordering>) -> bool {
    o.is_some_and(|o| holds(op, o))
}

/// `lo <= x <= hi` from the orderings of `x` against the bounds.
#[inline(always)]
pub fn between(to_lo: Option<Ordering>, to_hi: Option<Ordering>) -> bool {
    holds_maybe(CmpOp::Ge, to_lo) && holds_maybe(CmpOp::Le, to_hi)
}

/// The ordering `min` (and `earliest`) looks for; `max` and `latest` the other.
#[inline(always)]
pub fn wanted(least: bool) -> Ordering {
    if least {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// `min(a, b, …)` (`least`) or `max(a, b, …)`: the first of the values that none
/// after it beats, ordered by `order` (values that do not order never win). `None` for
/// no values.
pub fn extreme<T>(
    values: &[T],
    least: bool,
    order: impl Fn(&T, &T) -> Option<Ordering>,
) -> Option<&T> {
    let want = wanted(least);
    let (first, rest) = values.split_first()?;
    Some(rest.iter().fold(first, |best, v| {
        if order(v, best) == Some(want) {
            v
        } else {
            best
        }
    }))
}

/// `d` shifted by `n` of `unit` (month ends clamped).
pub fn shift(d: NaiveDate, n: i64, unit: DateUnit) -> Result<NaiveDate, Fault> {
    match unit {
        DateUnit::Days => calendar::add_days(d, n),
        DateUnit::Months => calendar::add_months(d, n),
        DateUnit::Years => calendar::add_years(d, n),
    }
    .ok_or(Fault::DateOutOfRange)
}

/// `date(y, m, d)`.
pub fn make_date(y: i64, m: i64, d: i64) -> Result<NaiveDate, Fault> {
    i32::try_from(y)
        .ok()
        .zip(u32::try_from(m).ok())
        .zip(u32::try_from(d).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or(Fault::NotADate(y, m, d))
}

/// The date built-ins on known arguments, the dates as their parts (so that a tier
/// with packed dates computes them the same way): `age`, `month_diff`, `year`,
/// `month`, `day`. `None` for another built-in.
pub fn date_builtin(b: Builtin, dates: &[calendar::Ymd], ref_date: calendar::Ymd) -> Option<i64> {
    let first = *dates.first()?;
    Some(match b {
        Builtin::Age => calendar::age_of_parts(first, dates.get(1).copied().unwrap_or(ref_date)),
        Builtin::MonthDiff => calendar::month_diff_of_parts(first, *dates.get(1)?),
        Builtin::Year => i64::from(first.0),
        Builtin::Month => i64::from(first.1),
        Builtin::Day => i64::from(first.2),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_once_and_half_away_from_zero() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(round(d("2.345"), 2, false), Ok(d("2.35")));
        assert_eq!(round(d("-2.345"), 2, false), Ok(d("-2.35")));
        assert_eq!(round(d("2.345"), 2, true), Ok(d("2.34")));
        assert_eq!(round(d("1.5"), -1, false), Err(Fault::NegativePlaces));
        assert_eq!(
            decimal_arith(ArithOp::Div, d("1"), d("0")),
            Err(Fault::DivisionByZero)
        );
        assert_eq!(
            int_arith(ArithOp::Add, i64::MAX, 1),
            Some(Err(Fault::IntOverflow))
        );
    }
}
