//! Decisions: what the evaluator says about one policy for one subject.

use crate::value::format_decimal;
use rust_decimal::Decimal;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The three outcomes of a policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every clause is true (and the amount is known).
    Eligible,
    /// At least one clause is false.
    NotEligible,
    /// The data cannot decide: `missing` names the fields to ask for (or the decision
    /// carries an evaluation error).
    Undetermined,
}

impl Outcome {
    /// The word the JSON outputs use: `eligible`, `not_eligible`, `undetermined`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::NotEligible => "not_eligible",
            Outcome::Undetermined => "undetermined",
        }
    }
}

/// A value stated beside an amount or an outcome (months, monthly, ratio,
/// retirement_date, ...).
#[derive(Debug, Clone, PartialEq)]
pub enum ExtraValue {
    /// A whole number.
    Int(i64),
    /// A decimal (money or ratio).
    Decimal(Decimal),
    /// Text, a date or an enum value, as written.
    Text(String),
    /// A truth value.
    Bool(bool),
}

impl Serialize for ExtraValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ExtraValue::Int(i) => s.serialize_i64(*i),
            ExtraValue::Decimal(d) => s.serialize_str(&format_decimal(*d)),
            ExtraValue::Text(t) => s.serialize_str(t),
            ExtraValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}

/// An amount with its unit, period and stated extras.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    /// The amount, exact; two decimal places.
    pub value: Decimal,
    /// The currency (`CNY`).
    pub unit: String,
    /// The period the amount is for: `per_month`, `per_year`, `one_time`,
    /// `total_entitlement` or `max_principal`.
    pub period: String,
    /// Values the rules state with the amount, by name (`months`, `monthly`, `ratio`,
    /// …), in the order written.
    pub extras: Vec<(String, ExtraValue)>,
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("value", &crate::value::money(self.value).to_string())?;
        m.serialize_entry("unit", &self.unit)?;
        m.serialize_entry("period", &self.period)?;
        for (k, x) in &self.extras {
            m.serialize_entry(k, x)?;
        }
        m.end()
    }
}

/// A fact a clause read: a record path and its value (masked where sensitive).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    /// The record path read (`person.birth_date`, `household.members[M1].income`).
    pub path: String,
    /// The value as text: `missing`, `none`, or the value (`***` when sensitive).
    pub value: String,
}

/// A clause's value in a trace: the one three-valued truth of the semantics.
pub use crate::semantics::Truth;

/// One clause of a decision's trace: its value and the facts it read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClauseTrace {
    /// The clause's id (`C1`; `C0` is "in force on the reference date").
    pub id: String,
    /// The clause's label as written in the rules (`年满65周岁`).
    pub label: String,
    /// What the clause evaluated to: true, false, unknown (missing data) or an error.
    pub value: Truth,
    /// The clause's own legal citation, when the rules give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The record facts the clause read, with their values (masked where sensitive).
    pub facts: Vec<Fact>,
}

/// Why a decision is what it is: every clause with its value and the facts it read,
/// asked for with [`EvalOptions::trace`](crate::EvalOptions::trace).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Trace {
    /// The policy's legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Every clause, `C0` first.
    pub clauses: Vec<ClauseTrace>,
    /// The facts the amount read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amount_facts: Vec<Fact>,
}

/// A case the rule text leaves undefined (division by zero, no or several candidates,
/// a parameter without a value): reported on the decision, never a crash. In JSON:
/// `{"code": "division-by-zero", "at": "C2", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalError {
    /// What kind of error, as a host matches on it (serialised as its stable code).
    #[serde(rename = "code")]
    pub kind: ErrorKind,
    /// The clause (or `amount`, or a definition's name) being evaluated.
    pub at: String,
    /// What happened, in words for a person (not to match on: match on `kind`).
    pub message: String,
}

/// The kinds of evaluation errors. Each has a stable code ([`ErrorKind::code`]) that
/// the outputs carry, the same in every language and from either tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A division by zero.
    DivisionByZero,
    /// A number out of range (whole-number or decimal overflow, a number too large
    /// for a whole number).
    Overflow,
    /// Date arithmetic left the calendar, or `date(y, m, d)` names no day.
    InvalidDate,
    /// `the` found no item, or `latest`/`earliest` had nothing to choose from.
    NoItem,
    /// `the` found several items.
    SeveralItems,
    /// `latest`/`earliest` with a tie for the deciding value.
    Tie,
    /// A parameter or a scale has no value on the date asked: no step is in force
    /// there, or the step in force declares the value `absent` (abolished).
    ParameterWithoutValue,
    /// No amount rule applies, or the amount formula gives no number.
    NoAmount,
    /// The amount has more than two decimal places.
    AmountPrecision,
    /// A built-in's argument out of its domain (`round` to negative places).
    InvalidArgument,
    /// Functions or policy references nest deeper than the evaluator allows.
    TooDeep,
    /// The evaluation went over its budget of steps.
    BudgetExceeded,
    /// An error of the engine itself (a bug): please report it.
    Internal,
}

impl ErrorKind {
    /// The stable code: `division-by-zero`, `overflow`, `invalid-date`, `no-item`,
    /// `several-items`, `tie`, `parameter-without-value`, `no-amount`,
    /// `amount-precision`, `invalid-argument`, `too-deep`, `budget-exceeded`,
    /// `internal`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::DivisionByZero => "division-by-zero",
            ErrorKind::Overflow => "overflow",
            ErrorKind::InvalidDate => "invalid-date",
            ErrorKind::NoItem => "no-item",
            ErrorKind::SeveralItems => "several-items",
            ErrorKind::Tie => "tie",
            ErrorKind::ParameterWithoutValue => "parameter-without-value",
            ErrorKind::NoAmount => "no-amount",
            ErrorKind::AmountPrecision => "amount-precision",
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::TooDeep => "too-deep",
            ErrorKind::BudgetExceeded => "budget-exceeded",
            ErrorKind::Internal => "internal",
        }
    }
}

impl ErrorKind {
    /// What this kind of error means, in `lang` (the catalogue's `error-kind--…`).
    pub fn describe(self, lang: crate::Lang) -> String {
        let id = match self {
            ErrorKind::DivisionByZero => "error-kind--division-by-zero",
            ErrorKind::Overflow => "error-kind--overflow",
            ErrorKind::InvalidDate => "error-kind--invalid-date",
            ErrorKind::NoItem => "error-kind--no-item",
            ErrorKind::SeveralItems => "error-kind--several-items",
            ErrorKind::Tie => "error-kind--tie",
            ErrorKind::ParameterWithoutValue => "error-kind--parameter-without-value",
            ErrorKind::NoAmount => "error-kind--no-amount",
            ErrorKind::AmountPrecision => "error-kind--amount-precision",
            ErrorKind::InvalidArgument => "error-kind--invalid-argument",
            ErrorKind::TooDeep => "error-kind--too-deep",
            ErrorKind::BudgetExceeded => "error-kind--budget-exceeded",
            ErrorKind::Internal => "error-kind--internal",
        };
        crate::messages::text(lang, id, &[])
    }
}

impl EvalError {
    /// The message for people in `lang`: the engine's message itself in English; in
    /// Chinese, what the kind of error means, then the engine's detail.
    pub fn message_in(&self, lang: crate::Lang) -> String {
        match lang {
            crate::Lang::En => self.message.clone(),
            crate::Lang::Zh => format!("{}（{}）", self.kind.describe(lang), self.message),
        }
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

// Not a `From` impl: that would put the semantics' internal `Fault` in the API's
// `ErrorKind`.
impl ErrorKind {
    /// The kind of error a fault of the semantics is.
    pub(crate) fn of_fault(f: &crate::semantics::Fault) -> Self {
        use crate::semantics::Fault;
        match f {
            Fault::DivisionByZero => ErrorKind::DivisionByZero,
            Fault::IntOverflow | Fault::DecimalOverflow | Fault::TooLarge => ErrorKind::Overflow,
            Fault::DateOutOfRange | Fault::NotADate(..) => ErrorKind::InvalidDate,
            Fault::NegativePlaces => ErrorKind::InvalidArgument,
            Fault::NoItem | Fault::NothingToChoose => ErrorKind::NoItem,
            Fault::SeveralItems(_) => ErrorKind::SeveralItems,
            Fault::Tie => ErrorKind::Tie,
            Fault::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// Why an expression has no value: the kind of error and its message, which gains
/// the names of the definitions and functions it passes through on the way out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

impl Failure {
    /// A failure of this kind.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// The same failure, met inside the definition or function `name`.
    pub(crate) fn within(self, name: &str) -> Self {
        Failure {
            kind: self.kind,
            message: format!("{name}: {}", self.message),
        }
    }

    /// The failure as a decision's error, at `at`.
    pub(crate) fn at(self, at: impl Into<String>) -> EvalError {
        EvalError {
            kind: self.kind,
            at: at.into(),
            message: self.message,
        }
    }
}

impl From<crate::semantics::Fault> for Failure {
    fn from(f: crate::semantics::Fault) -> Self {
        Failure::new(ErrorKind::of_fault(&f), f.to_string())
    }
}

/// An internal error (a bug of the engine, never a property of the record).
impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::new(ErrorKind::Internal, message)
    }
}

/// The decision for one sub-subject (a hire, a child).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemDecision {
    /// The item's outcome.
    pub outcome: Outcome,
    /// Every false clause (not eligible only).
    pub failed: Vec<String>,
    /// Every missing field (undetermined only).
    pub missing: Vec<String>,
    /// The item's amount, when eligible.
    pub amount: Option<Amount>,
    /// An evaluation error, when the rule text leaves the item's case undefined.
    pub error: Option<EvalError>,
    /// The item's trace, when asked for.
    pub trace: Option<Trace>,
}

/// The decision of one policy for one subject on one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The policy's id.
    pub policy: String,
    /// Eligible, not eligible or undetermined.
    pub outcome: Outcome,
    /// Every false clause, ascending (not_eligible only).
    pub failed: Vec<String>,
    /// Every missing field (undetermined only), sorted.
    pub missing: Vec<String>,
    /// The amount (eligible only, for policies with an amount).
    pub amount: Option<Amount>,
    /// Values reported beside the outcome (e.g. retirement_date).
    pub reports: Vec<(String, ExtraValue)>,
    /// Per-item results: the output key (`per_hire`) and each item by id.
    pub per_item: Option<(String, Vec<(String, ItemDecision)>)>,
    /// An evaluation error, when the text leaves the case undefined.
    pub error: Option<EvalError>,
    /// The trace, when asked for ([`EvalOptions::trace`](crate::EvalOptions::trace)).
    pub trace: Option<Trace>,
}

impl Decision {
    /// Takes over one subject's (or one item's) outcome, reasons, amount, error and
    /// trace as the policy's.
    pub(crate) fn adopt(&mut self, item: ItemDecision) {
        self.outcome = item.outcome;
        self.failed = item.failed;
        self.missing = item.missing;
        self.amount = item.amount;
        self.error = item.error;
        self.trace = item.trace;
    }
}

fn write_common<M: SerializeMap>(
    m: &mut M,
    outcome: Outcome,
    failed: &[String],
    missing: &[String],
    amount: &Option<Amount>,
    has_amount_rule: bool,
) -> Result<(), M::Error> {
    m.serialize_entry("outcome", &outcome)?;
    if outcome == Outcome::NotEligible && !failed.is_empty() {
        m.serialize_entry("failed", failed)?;
    }
    if outcome == Outcome::Undetermined {
        m.serialize_entry("missing", missing)?;
    }
    if amount.is_some() || (outcome == Outcome::Eligible && !has_amount_rule) {
        m.serialize_entry("amount", amount)?;
    }
    Ok(())
}

impl Serialize for ItemDecision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        write_common(
            &mut m,
            self.outcome,
            &self.failed,
            &self.missing,
            &self.amount,
            true,
        )?;
        if let Some(e) = &self.error {
            m.serialize_entry("error", e)?;
        }
        if let Some(t) = &self.trace {
            m.serialize_entry("trace", t)?;
        }
        m.end()
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.write_entries(&mut m, None)?;
        m.end()
    }
}

impl Decision {
    /// The decision's JSON entries; `item` is the id of the one item it is about, when a
    /// bundle member chose one.
    pub(crate) fn write_entries<M: SerializeMap>(
        &self,
        m: &mut M,
        item: Option<&str>,
    ) -> Result<(), M::Error> {
        m.serialize_entry("policy", &self.policy)?;
        if let Some(item) = item {
            m.serialize_entry("item", item)?;
        }
        write_common(
            m,
            self.outcome,
            &self.failed,
            &self.missing,
            &self.amount,
            false,
        )?;
        for (k, v) in &self.reports {
            m.serialize_entry(k, v)?;
        }
        if let Some((key, items)) = &self.per_item {
            let map: indexmap::IndexMap<&str, &ItemDecision> =
                items.iter().map(|(k, v)| (k.as_str(), v)).collect();
            m.serialize_entry(key, &map)?;
        }
        if let Some(e) = &self.error {
            m.serialize_entry("error", e)?;
        }
        if let Some(t) = &self.trace {
            m.serialize_entry("trace", t)?;
        }
        Ok(())
    }
}
