//! Near misses: not-eligible decisions that fail only a few clauses, each failed clause
//! with how far the record is from making it true.
//!
//! A decision is a near miss with `K` when it is `not_eligible`, the policy is in force
//! (a decision failing `C0` evaluates no other clause, so nothing says how close it
//! is), and at least one and at most `K` clauses are false. Per-item policies are
//! decided item by item and have no failed clauses of their own: they have no near
//! misses.
//!
//! For a failed clause that is one comparison `A op B`, one side reading the record
//! and the other not (a constant, a parameter, `ref`), the record's side is evaluated
//! and the gap reported exactly:
//!
//! * a number: the actual value, the threshold, and the gap — the change of the value
//!   that makes the comparison hold (`threshold − actual`, one more or less for a
//!   strict comparison of whole numbers);
//! * an age (`age(birth) op N`): the age on the reference date, the threshold, the gap
//!   in years, and the day the person reaches the age (`on`); an upper bound already
//!   passed (`age(b) <= 35` at 40) can never hold again: not changeable;
//! * a date: the actual date, the threshold date, the gap in days the record's date
//!   must move; against `ref` (`ref >= retirement`) what moves is the reference date:
//!   the gap is the days until the comparison holds (negative: it held before), and
//!   when it will hold as time passes, the day it does (`on`).
//!
//! * another value (text, an enum value): the actual value and the one compared with.
//!
//! Any other clause is reported with its label and basis only. A clause that reads
//! only fields the schema marks `fixed: true` (a date of birth, a hukou region), and
//! that time cannot make true, is not changeable. Values derived from sensitive fields
//! are never shown.

use crate::compile::RuleSet;
use crate::eval::{self, Decision, Outcome, Truth};
use crate::ir::{Builtin, ClauseDef, Expr, LetDef};
use crate::record::Record;
use crate::semantics::calendar;
use crate::syntax::ast::CmpOp;
use crate::value::{format_decimal, Value};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// A not-eligible decision a few clauses away from eligible.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearMiss {
    /// The subject's id.
    pub subject: String,
    /// The policy's id.
    pub policy: String,
    /// Its failed clauses, in clause order.
    pub failed: Vec<Miss>,
    /// Its clauses that are unknown (missing data) or in error: made true, the failed
    /// clauses leave the decision undetermined until these are known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// What a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissKind {
    /// Numbers; the gap is in the field's own unit.
    Number,
    /// An age in whole years; the gap is in years.
    Age,
    /// Dates; the gap is in days.
    Date,
    /// Other values (text, an enum value, true or false): no gap.
    Value,
}

/// One failed clause of a near miss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// The clause's id (`C2`).
    pub clause: String,
    /// Its label.
    pub label: String,
    /// Its legal basis: the clause's own, or the policy's when the clause has none.
    pub basis: Option<String>,
    /// What the comparison compares, when the clause is one comparison with the
    /// record on one side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<MissKind>,
    /// The comparison as it must hold, the record's side on the left (`>=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<&'static str>,
    /// The record's value (the age, for an age).
    pub actual: Option<String>,
    /// The value it is compared with.
    pub threshold: Option<String>,
    /// The change of the record's value that makes the clause hold (negative: a
    /// decrease); `None` for `!=` and clauses that are not one comparison.
    pub gap: Option<String>,
    /// The day from which the clause holds as time passes (an age reached, `ref`
    /// reaching a date), when it will.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "date")]
    pub on: Option<NaiveDate>,
    /// Whether anything can make the clause hold: `false` for a clause that reads only
    /// fields the schema marks `fixed` and that time cannot make true, and for an age
    /// bound already passed.
    pub changeable: bool,
}

fn date<S: serde::Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

/// Whether a decision is a near miss with `k`: not eligible, the policy in force, at
/// least one and at most `k` false clauses.
pub fn is_near_miss(decision: &Decision, k: usize) -> bool {
    decision.outcome == Outcome::NotEligible
        && !decision.failed.is_empty()
        && decision.failed.len() <= k
        && !decision.failed.iter().any(|c| c == "C0")
        && decision.per_item.is_none()
}

/// The near miss of `decision` (policy index `policy`, decided for `record` on `on`),
/// when it is one with `k` ([`is_near_miss`]).
pub fn near_miss(
    rules: &RuleSet,
    policy: usize,
    record: &Record,
    on: NaiveDate,
    decision: &Decision,
    k: usize,
    subject: &str,
) -> Option<NearMiss> {
    if !is_near_miss(decision, k) {
        return None;
    }
    // The clauses' values, from the decision's trace or a traced decision.
    let traced;
    let trace = match &decision.trace {
        Some(t) => Some(t),
        None => {
            let options = eval::EvalOptions {
                trace: true,
                ..eval::EvalOptions::default()
            };
            traced = eval::evaluate_policy(rules, policy, record, on, options);
            traced.trace.as_ref()
        }
    };
    let unknown = trace
        .map(|t| {
            t.clauses
                .iter()
                .filter(|c| matches!(c.value, Truth::Unknown | Truth::Error))
                .map(|c| c.id.clone())
                .collect()
        })
        .unwrap_or_default();
    Some(NearMiss {
        subject: subject.to_string(),
        policy: decision.policy.clone(),
        failed: explain_failed(rules, policy, record, on, &decision.failed),
        unknown,
    })
}

/// The near misses with `k` among a record's decisions on `on` (every policy about
/// its subject kind, in rule-set order).
pub fn near_misses(rules: &RuleSet, record: &Record, on: NaiveDate, k: usize) -> Vec<NearMiss> {
    let subject = record.id.clone().unwrap_or_default();
    let of_subject = (0..rules.program.policies.len()).filter(|&i| {
        rules
            .program
            .policies
            .get(i)
            .is_some_and(|p| p.subject == record.subject)
    });
    eval::evaluate_policies(rules, record, on, eval::EvalOptions::default(), of_subject)
        .into_iter()
        .filter_map(|(i, d)| near_miss(rules, i, record, on, &d, k, &subject))
        .collect()
}

/// The failed clauses `failed` (ids) of policy `policy` for `record` on `on`, each
/// with how far the record is from it.
pub fn explain_failed(
    rules: &RuleSet,
    policy: usize,
    record: &Record,
    on: NaiveDate,
    failed: &[String],
) -> Vec<Miss> {
    let Some(p) = rules.program.policies.get(policy) else {
        return vec![];
    };
    let tainted = rules
        .taint
        .policies
        .get(policy)
        .map(|t| &t.clauses[..])
        .unwrap_or(&[]);
    failed
        .iter()
        .filter_map(|id| {
            let c = p.clauses.iter().find(|c| &c.id == id)?;
            let mut miss = Miss {
                clause: c.id.clone(),
                label: c.label.clone(),
                basis: c.basis.clone().or_else(|| p.basis.clone()),
                kind: None,
                needs: None,
                actual: None,
                threshold: None,
                gap: None,
                on: None,
                changeable: true,
            };
            let reads = Reads::of(rules, &p.lets, &c.condition);
            if let Some(found) = measure(rules, policy, record, on, &p.lets, c) {
                miss.kind = Some(found.kind);
                miss.needs = Some(op_text(found.op));
                miss.threshold = Some(found.threshold);
                if tainted.contains(&c.id) {
                    // Derived from a sensitive field: neither the value nor how far.
                    miss.actual = Some(crate::check::taint::MASK.into());
                } else {
                    miss.actual = Some(found.actual);
                    miss.gap = found.gap;
                    miss.on = found.on;
                }
                if found.never {
                    miss.changeable = false;
                }
            }
            if miss.on.is_none() && reads.fixed_only() {
                miss.changeable = false;
            }
            Some(miss)
        })
        .collect()
}

/// The comparison operator as written.
pub fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// `a op b` as `b op' a`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// A failed comparison measured.
struct Measured {
    kind: MissKind,
    /// The comparison, the record's side on the left.
    op: CmpOp,
    actual: String,
    threshold: String,
    gap: Option<String>,
    on: Option<NaiveDate>,
    /// Nothing can make it hold (an age bound passed).
    never: bool,
}

/// The clause's condition as one comparison, the record's side first: (op, record
/// side, other side). Follows a condition that is a definition.
fn comparison<'e>(lets: &'e [LetDef], condition: &'e Expr) -> Option<(CmpOp, &'e Expr, &'e Expr)> {
    let Expr::Compare(op, a, b) = through_lets(lets, condition) else {
        return None;
    };
    match (reads_record(lets, a, 0), reads_record(lets, b, 0)) {
        (true, false) => Some((*op, a, b)),
        (false, true) => Some((flip(*op), b, a)),
        _ => None,
    }
}

/// The expression a definition stands for (itself when it is none).
fn through_lets<'e>(lets: &'e [LetDef], e: &'e Expr) -> &'e Expr {
    let mut e = e;
    for _ in 0..8 {
        match e {
            Expr::Let(i) => match lets.get(*i) {
                Some(l) => e = &l.value,
                None => break,
            },
            _ => break,
        }
    }
    e
}

/// Whether an expression depends on the record (or on anything but constants,
/// parameters and `ref`).
fn reads_record(lets: &[LetDef], e: &Expr, depth: usize) -> bool {
    if depth > 16 {
        return true;
    }
    let mut reads = false;
    e.walk(&mut |x| match x {
        Expr::Root
        | Expr::Local(_)
        | Expr::PolicyRef(_)
        | Expr::PolicyAmount(_)
        | Expr::PolicyItem { .. }
        | Expr::MemberRef(_)
        | Expr::Function(..)
        | Expr::Quant { .. } => reads = true,
        Expr::Let(i)
            if lets
                .get(*i)
                .is_none_or(|l| reads_record(lets, &l.value, depth + 1)) =>
        {
            reads = true
        }
        _ => {}
    });
    reads
}

/// Measures a failed clause that is one comparison with the record on one side.
fn measure(
    rules: &RuleSet,
    policy: usize,
    record: &Record,
    on: NaiveDate,
    lets: &[LetDef],
    clause: &ClauseDef,
) -> Option<Measured> {
    let (op, side, other) = comparison(lets, &clause.condition)?;
    let value = |e| eval::value_in_policy(rules, policy, record, on, e);
    let threshold = value(other)?;
    // An age on the reference date (written in place or as a definition): the birth
    // date, and the day the age is reached.
    if let Expr::Call(Builtin::Age, args) = through_lets(lets, side) {
        let at_ref = match args.get(1) {
            None => true,
            Some(Expr::Ref) => true,
            Some(_) => false,
        };
        if at_ref {
            if let (Some(Value::Date(birth)), Value::Int(n)) = (value(args.first()?), &threshold) {
                return Some(measure_age(op, birth, on, *n));
            }
        }
    }
    let actual = value(side)?;
    match (&actual, &threshold) {
        (Value::Date(d), Value::Date(t)) => {
            // What moves is the record's date, or, against `ref`, the reference date:
            // the gap is the days the one moving must move.
            let other_is_ref = matches!(other, Expr::Ref);
            let (days, step) = if other_is_ref {
                ((*d - *t).num_days(), -1)
            } else {
                ((*t - *d).num_days(), 1)
            };
            let gap = match op {
                CmpOp::Lt => days - step,
                CmpOp::Gt => days + step,
                CmpOp::Ne => 0,
                _ => days,
            };
            // `D <= ref` holds from the day `ref` reaches D (`D < ref` the day after).
            let on_day = match op {
                CmpOp::Le | CmpOp::Eq if other_is_ref && d > t => Some(*d),
                CmpOp::Lt if other_is_ref && d >= t => d.succ_opt(),
                _ => None,
            };
            Some(Measured {
                kind: MissKind::Date,
                op,
                actual: d.to_string(),
                threshold: t.to_string(),
                gap: (op != CmpOp::Ne).then(|| gap.to_string()),
                on: on_day,
                never: false,
            })
        }
        (x, t) if x.as_decimal().is_none() || t.as_decimal().is_none() => {
            // Text, an enum value, a truth value: which value, and which is needed.
            let shown = |v: &Value| match v {
                Value::Enum(e, i) => Some(rules.schema.enum_value_name(*e, *i).to_string()),
                Value::Str(_) | Value::Bool(_) => Some(render(v)),
                _ => None,
            };
            Some(Measured {
                kind: MissKind::Value,
                op,
                actual: shown(x)?,
                threshold: shown(t)?,
                gap: None,
                on: None,
                never: false,
            })
        }
        (x, t) => {
            let (xd, td) = (x.as_decimal()?, t.as_decimal()?);
            let whole = matches!((x, t), (Value::Int(_), Value::Int(_)));
            let step = if whole { Decimal::ONE } else { Decimal::ZERO };
            let gap = match op {
                CmpOp::Ge | CmpOp::Le | CmpOp::Eq => Some(td - xd),
                CmpOp::Gt => Some(td - xd + step),
                CmpOp::Lt => Some(td - xd - step),
                CmpOp::Ne => None,
            };
            Some(Measured {
                kind: MissKind::Number,
                op,
                actual: render(x),
                threshold: render(t),
                gap: gap.map(|g| {
                    if whole {
                        g.normalize().to_string()
                    } else {
                        format_decimal(g)
                    }
                }),
                on: None,
                never: false,
            })
        }
    }
}

/// A failed age comparison `age(birth) op n` on `on`.
fn measure_age(op: CmpOp, birth: NaiveDate, on: NaiveDate, n: i64) -> Measured {
    let age = calendar::age(birth, on);
    // The age the person must reach, and whether ageing gets them there.
    let (target, ahead) = match op {
        CmpOp::Ge => (n, true),
        CmpOp::Gt => (n.saturating_add(1), true),
        CmpOp::Eq => (n, age < n),
        CmpOp::Le => (n, false),
        CmpOp::Lt => (n.saturating_sub(1), false),
        CmpOp::Ne => (n, false),
    };
    let reached = if ahead { reaches(birth, target) } else { None };
    Measured {
        kind: MissKind::Age,
        op,
        actual: age.to_string(),
        threshold: n.to_string(),
        gap: (op != CmpOp::Ne).then(|| target.saturating_sub(age).to_string()),
        on: reached,
        // Too old for an upper bound (or past an exact age): years only add.
        never: !ahead && op != CmpOp::Ne,
    }
}

/// The first day on which someone born on `birth` is `years` old, as
/// [`calendar::age`] counts (a 29 February birthday completes on 28 February in a
/// common year).
fn reaches(birth: NaiveDate, years: i64) -> Option<NaiveDate> {
    let mut d = calendar::add_years(birth, years)?;
    // The anniversary, moved to the first day of that age (a day or two at most).
    for _ in 0..4 {
        let before = d.pred_opt()?;
        if calendar::age(birth, before) >= years {
            d = before;
        } else if calendar::age(birth, d) < years {
            d = d.succ_opt()?;
        } else {
            return Some(d);
        }
    }
    (calendar::age(birth, d) >= years).then_some(d)
}

/// A value as traces show it.
fn render(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => format_decimal(*d),
        Value::Date(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.to_string(),
        _ => String::new(),
    }
}

/// The fields a clause reads (through definitions and functions), and whether it
/// depends on anything else that may change: the reference date, a parameter, another
/// policy's decision.
struct Reads {
    /// Leaf fields read: whether each is fixed.
    fixed: Vec<bool>,
    /// Reads something that changes by itself (time, parameters, other decisions).
    moving: bool,
}

impl Reads {
    fn of(rules: &RuleSet, lets: &[LetDef], e: &Expr) -> Reads {
        let mut r = Reads {
            fixed: vec![],
            moving: false,
        };
        r.visit(rules, lets, e, 0);
        r
    }

    /// Whether the clause reads fields, every one of them fixed, and nothing else
    /// that changes.
    fn fixed_only(&self) -> bool {
        !self.moving && !self.fixed.is_empty() && self.fixed.iter().all(|f| *f)
    }

    fn visit(&mut self, rules: &RuleSet, lets: &[LetDef], e: &Expr, depth: usize) {
        if depth > 16 {
            self.moving = true;
            return;
        }
        e.walk(&mut |x| match x {
            Expr::Field { record, index, .. } => {
                let field = rules.schema.record(*record).and_then(|r| r.field(*index));
                match field {
                    Some(f) if matches!(f.ty, crate::schema::FieldType::Record(_)) => {}
                    Some(f) => self.fixed.push(f.fixed),
                    None => self.moving = true,
                }
            }
            Expr::Ref
            | Expr::Param(..)
            | Expr::PolicyRef(_)
            | Expr::PolicyAmount(_)
            | Expr::PolicyItem { .. }
            | Expr::MemberRef(_)
            | Expr::Call(Builtin::Age | Builtin::WithinLast, _) => self.moving = true,
            Expr::Let(i) => match lets.get(*i) {
                Some(l) => self.visit(rules, lets, &l.value, depth + 1),
                None => self.moving = true,
            },
            Expr::Function(f, _) => match rules.program.functions.get(*f) {
                Some(def) => self.visit(rules, &def.lets, &def.body, depth + 1),
                None => self.moving = true,
            },
            _ => {}
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_day_an_age_is_reached_is_the_first_day_of_it() {
        for (birth, years) in [
            ("1966-03-14", 60),
            ("1964-02-29", 61),
            ("1964-02-29", 60),
            ("2000-12-31", 25),
        ] {
            let b = d(birth);
            let r = reaches(b, years).unwrap();
            assert!(calendar::age(b, r) >= years, "{birth} {years}");
            assert!(
                calendar::age(b, r.pred_opt().unwrap()) < years,
                "{birth} {years}"
            );
        }
        assert_eq!(reaches(d("1966-03-14"), 60), Some(d("2026-03-14")));
        // 29 February completes a year on 28 February in a common year.
        assert_eq!(reaches(d("1964-02-29"), 61), Some(d("2025-02-28")));
    }

    #[test]
    fn an_age_bound_passed_cannot_be_met_again() {
        let m = measure_age(CmpOp::Le, d("1980-01-01"), d("2025-07-01"), 35);
        assert!(m.never);
        assert_eq!(m.actual, "45");
        assert_eq!(m.gap.as_deref(), Some("-10"));
        let m = measure_age(CmpOp::Ge, d("1966-03-14"), d("2025-07-01"), 60);
        assert!(!m.never);
        assert_eq!(m.gap.as_deref(), Some("1"));
        assert_eq!(m.on, Some(d("2026-03-14")));
    }
}
