//! Bracket scales: ascending thresholds, each with the value (a rate or an amount) of
//! the bracket it opens, applied to an amount marginally or by the bracket reached.
//!
//! ```text
//! scale SSC "社保缴费比例（示例）" {
//!   from 2013-01-01: 0 → 0.02, 6000 → 0.06, 12000 → 0.12 "source"
//! }
//! ```
//!
//! Bracket `i` runs from its threshold `t_i` (included) to the next threshold
//! `t_{i+1}`; the last one is open-ended.
//!
//! * `marginal(S, x)` = Σ_i value_i × (min(x, t_{i+1}) − t_i) over the brackets with
//!   `t_i < x`: each part of `x` at its own bracket's value (income tax, contributions
//!   by band). The part of `x` below the first threshold contributes nothing, so an `x`
//!   at or below the first threshold gives 0.
//! * `bracket(S, x)` = the value of the highest bracket whose threshold is at most `x`
//!   (a rate or an amount by band reached); 0 when `x` is below the first threshold.
//!
//! Both are exact decimals, never rounded (the policy rounds); a result beyond the
//! decimal type's range is [`Fault::DecimalOverflow`].

use super::Fault;
use rust_decimal::Decimal;

/// The brackets of one step of a scale: at least one, thresholds strictly ascending
/// (the checker refuses anything else; [`Brackets::new`] checks it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brackets {
    /// (threshold, value), thresholds strictly ascending.
    pairs: Vec<(Decimal, Decimal)>,
}

/// Why a list of (threshold, value) pairs is not a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BracketsError {
    /// No bracket at all.
    Empty,
    /// The threshold at this position is not above the one before it.
    NotAscending(usize),
}

impl Brackets {
    /// The brackets of `pairs` (threshold, value), which must be at least one with
    /// strictly ascending thresholds.
    pub fn new(pairs: Vec<(Decimal, Decimal)>) -> Result<Brackets, BracketsError> {
        if pairs.is_empty() {
            return Err(BracketsError::Empty);
        }
        if let Some(at) = pairs
            .windows(2)
            .position(|w| matches!(w, [(a, _), (b, _)] if b <= a))
        {
            return Err(BracketsError::NotAscending(at + 1));
        }
        Ok(Brackets { pairs })
    }

    /// The (threshold, value) pairs, thresholds ascending.
    pub fn pairs(&self) -> &[(Decimal, Decimal)] {
        &self.pairs
    }

    /// `marginal(S, x)`: every part of `x` above a threshold at its bracket's value.
    pub fn marginal(&self, x: Decimal) -> Result<Decimal, Fault> {
        let mut total = Decimal::ZERO;
        let mut rest = self.pairs.iter().peekable();
        while let Some(&(threshold, value)) = rest.next() {
            if x <= threshold {
                break;
            }
            let top = match rest.peek() {
                Some(&&(next, _)) if next < x => next,
                _ => x,
            };
            let width = top.checked_sub(threshold).ok_or(Fault::DecimalOverflow)?;
            let part = value.checked_mul(width).ok_or(Fault::DecimalOverflow)?;
            total = total.checked_add(part).ok_or(Fault::DecimalOverflow)?;
        }
        Ok(total)
    }

    /// `bracket(S, x)`: the value of the highest bracket whose threshold is at most
    /// `x`; 0 below the first threshold.
    pub fn bracket(&self, x: Decimal) -> Decimal {
        self.pairs
            .iter()
            .take_while(|(threshold, _)| *threshold <= x)
            .last()
            .map_or(Decimal::ZERO, |&(_, value)| value)
    }

    /// The brackets as written: `0 → 0.02, 6000 → 0.06` (for traces).
    pub fn describe(&self) -> String {
        self.pairs
            .iter()
            .map(|(t, v)| format!("{t} → {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How a scale is applied to an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScaleOp {
    /// `marginal(S, x)`
    Marginal,
    /// `bracket(S, x)`
    Bracket,
}

impl ScaleOp {
    /// The built-in's name.
    pub fn name(self) -> &'static str {
        match self {
            ScaleOp::Marginal => "marginal",
            ScaleOp::Bracket => "bracket",
        }
    }

    /// The built-in of this name, if it is one.
    pub fn named(name: &str) -> Option<ScaleOp> {
        match name {
            "marginal" => Some(ScaleOp::Marginal),
            "bracket" => Some(ScaleOp::Bracket),
            _ => None,
        }
    }

    /// The scale applied to a known `x`.
    pub fn apply(self, scale: &Brackets, x: Decimal) -> Result<Decimal, Fault> {
        match self {
            ScaleOp::Marginal => scale.marginal(x),
            ScaleOp::Bracket => Ok(scale.bracket(x)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn scale(pairs: &[(&str, &str)]) -> Brackets {
        Brackets::new(pairs.iter().map(|(t, v)| (d(t), d(v))).collect()).unwrap()
    }

    #[test]
    fn marginal_taxes_each_part_at_its_bracket() {
        let s = scale(&[("0", "0.02"), ("6000", "0.06"), ("12000", "0.12")]);
        // 6000 × 0.02 + 4000 × 0.06
        assert_eq!(s.marginal(d("10000")).unwrap(), d("360"));
        // 6000 × 0.02 + 6000 × 0.06 + 3000 × 0.12
        assert_eq!(s.marginal(d("15000")).unwrap(), d("840"));
        // at a threshold: the bracket it opens has no part yet
        assert_eq!(s.marginal(d("6000")).unwrap(), d("120"));
        assert_eq!(s.marginal(d("0")).unwrap(), d("0"));
        assert_eq!(s.marginal(d("-5")).unwrap(), d("0"));
        assert_eq!(s.marginal(d("0.01")).unwrap(), d("0.0002"));
    }

    #[test]
    fn below_the_first_threshold_nothing_is_taxed() {
        let s = scale(&[("5000", "0.03"), ("8000", "0.10")]);
        assert_eq!(s.marginal(d("4999.99")).unwrap(), d("0"));
        assert_eq!(s.marginal(d("9000")).unwrap(), d("190"));
        assert_eq!(s.bracket(d("4999.99")), d("0"));
        assert_eq!(s.bracket(d("5000")), d("0.03"));
        assert_eq!(s.bracket(d("8000")), d("0.10"));
        assert_eq!(s.bracket(d("1000000")), d("0.10"));
    }

    #[test]
    fn negative_thresholds_and_values() {
        let s = scale(&[("-100", "-1"), ("0", "2")]);
        assert_eq!(s.marginal(d("50")).unwrap(), d("0"));
        assert_eq!(s.marginal(d("-40")).unwrap(), d("-60"));
        assert_eq!(s.bracket(d("-100")), d("-1"));
        assert_eq!(s.bracket(d("-100.5")), d("0"));
    }

    #[test]
    fn an_overflow_is_a_fault() {
        let s = scale(&[("0", "79228162514264337593543950335")]);
        assert_eq!(s.marginal(d("2")), Err(Fault::DecimalOverflow));
    }

    #[test]
    fn thresholds_must_ascend() {
        assert_eq!(Brackets::new(vec![]), Err(BracketsError::Empty));
        assert_eq!(
            Brackets::new(vec![(d("0"), d("1")), (d("5"), d("1")), (d("5"), d("2"))]),
            Err(BracketsError::NotAscending(2))
        );
    }
}
