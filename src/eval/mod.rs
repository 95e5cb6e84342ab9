//! The three-valued evaluator: a compiled rule set, a record and a reference date in,
//! one [`Decision`] per policy out.
//!
//! Values are known, a known "none", or unknown with the set of missing paths that made
//! them so; `and`/`or`/`not`/quantifiers follow Kleene, every other operator is strict.
//! Definitions are evaluated lazily and once, so a field is reported missing only when
//! the known values reach a sub-expression that uses it (policies.md §0.1).

mod bundle;
mod decision;

pub use bundle::{prefill, BundleResult, MaterialLine, MemberStatus, PrefilledField};

use decision::Failure;
pub use decision::{
    Amount, ClauseTrace, Decision, ErrorKind, EvalError, ExtraValue, Fact, ItemDecision, Outcome,
    Trace, Truth,
};

use crate::compile::RuleSet;
use crate::ir::{AmountGuard, Builtin, DateUnit, Dated, Expr, LetDef, Pat, PolicyDef, ScaleOp, Ty};
use crate::record::Record;
use crate::semantics::calendar;
use crate::semantics::number::{self, Fault};
use crate::semantics::quantifier::{
    Aggregate, Aggregated, Blame, Quantified, Quantify, Step, Values,
};
use crate::semantics::Connective;
use crate::syntax::ast::{ArithOp, CmpOp, Quantifier};
use crate::value::{format_decimal, RecordNode, Slot, Value};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::ops::ControlFlow;
use std::sync::Arc;

/// Options of an evaluation: traces on or off, and the budget of steps per decision.
/// The default: no traces, a budget of ten million steps.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Produce traces (clause values and the facts read).
    pub trace: bool,
    /// The most evaluation steps one decision may take (expression nodes evaluated
    /// plus list items visited); past it the decision is undetermined with the error
    /// "budget of N steps exceeded" ([`ErrorKind::BudgetExceeded`]). Ten million by
    /// default (a decision of the shipped rules takes a few hundred).
    pub budget: u64,
    /// The language of the trace's fixed words: the label of clause C0 (the effective
    /// period) reads `在有效期内 (in force from 2024-01-01)` in English (the default) and
    /// `在有效期内（自 2024-01-01 起）` in Chinese. Outcomes, codes and everything else a
    /// decision holds are the same in every language.
    pub lang: crate::messages::Lang,
    /// Keep the amount of a decision undetermined for missing data when the amount
    /// itself reads none of the missing data: the amount at stake until the facts are
    /// known (the visit lists of `mianshen run --visits-by`). Off by default: an
    /// undetermined decision has no amount.
    pub pending_amounts: bool,
}

/// The default budget of evaluation steps per decision: ten million (a decision of the
/// shipped rules takes a few hundred).
pub const DEFAULT_BUDGET: u64 = 10_000_000;

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            trace: false,
            budget: DEFAULT_BUDGET,
            lang: crate::messages::Lang::En,
            pending_amounts: false,
        }
    }
}

/// The error of a decision that exceeded its budget of evaluation steps
/// ([`ErrorKind::BudgetExceeded`]): `budget of N steps exceeded`.
pub(crate) fn budget_exceeded(budget: u64) -> Failure {
    Failure::new(
        ErrorKind::BudgetExceeded,
        format!("budget of {budget} steps exceeded"),
    )
}

/// The facts a trace lists, each path once (a set beside the list keeps adding a fact
/// constant time, however many there are).
#[derive(Debug, Default)]
struct Facts {
    list: Vec<Fact>,
    seen: std::collections::HashSet<String>,
}

impl Facts {
    fn add(&mut self, fact: Fact) {
        if !self.seen.contains(&fact.path) {
            self.seen.insert(fact.path.clone());
            self.list.push(fact);
        }
    }
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A known value.
    Known(Value),
    /// A known "none".
    None,
    /// Unknown: these paths are missing.
    Unknown(Missing),
}

/// Sorted, deduplicated missing paths.
pub type Missing = Vec<Arc<str>>;

fn union(a: &mut Missing, b: &Missing) {
    match (a.len(), b.as_slice()) {
        (_, []) => {}
        (0, _) => a.clone_from(b),
        // One path into many: a binary search and one insertion.
        (_, [one]) => {
            if let Err(pos) = a.binary_search(one) {
                a.insert(pos, one.clone());
            }
        }
        // A merge of the two sorted lists, linear in both.
        _ => {
            let mut out = Vec::with_capacity(a.len() + b.len());
            let (mut x, mut y) = (a.as_slice(), b.as_slice());
            while let ([p, x_rest @ ..], [q, y_rest @ ..]) = (x, y) {
                match p.cmp(q) {
                    Ordering::Less => {
                        out.push(p.clone());
                        x = x_rest;
                    }
                    Ordering::Greater => {
                        out.push(q.clone());
                        y = y_rest;
                    }
                    Ordering::Equal => {
                        out.push(p.clone());
                        x = x_rest;
                        y = y_rest;
                    }
                }
            }
            out.extend_from_slice(x);
            out.extend_from_slice(y);
            *a = out;
        }
    }
}

/// Missing paths collected with repeats, sorted and deduplicated.
fn sorted(mut m: Missing) -> Missing {
    m.sort_unstable();
    m.dedup();
    m
}

type R<T> = Result<T, Failure>;

/// Evaluates every policy in force or not for a record on `ref_date`, in rule-set order
/// (policies about other subject kinds are skipped).
pub fn evaluate_all(
    rules: &RuleSet,
    record: &Record,
    ref_date: NaiveDate,
    opts: EvalOptions,
) -> Vec<Decision> {
    let of_subject = (0..)
        .zip(&rules.program.policies)
        .filter(|(_, p)| p.subject == record.subject)
        .map(|(i, _)| i);
    evaluate_policies(rules, record, ref_date, opts, of_subject)
        .into_iter()
        .map(|(_, d)| d)
        .collect()
}

/// Evaluates the given policies (indexes, in the order given) for a record with one
/// evaluator, so that a policy another one asks `eligible(...)` of is decided once.
pub fn evaluate_policies(
    rules: &RuleSet,
    record: &Record,
    ref_date: NaiveDate,
    opts: EvalOptions,
    policies: impl IntoIterator<Item = usize>,
) -> Vec<(usize, Decision)> {
    let mut ev = Evaluator::new(rules, record, ref_date, opts);
    policies
        .into_iter()
        .map(|i| {
            ev.steps = 0;
            let d = decide_guarded(&mut ev, i);
            // A later policy that asks `eligible(...)` of this one need not decide it again.
            if d.error.is_none() {
                if let Some(slot) = ev.policy_cache.get_mut(i) {
                    slot.get_or_insert_with(|| outcome_truth(&d));
                }
            }
            (i, d)
        })
        .collect()
}

/// A decision as a truth value: eligible true, not eligible false, undetermined unknown.
/// What `amount(P)` reads of P's decision: its amount when eligible, none when not
/// eligible (or eligible without an amount), unknown while undetermined.
fn decided_amount(d: Decision) -> Val {
    match d.outcome {
        Outcome::Eligible => d
            .amount
            .map_or(Val::None, |a| Val::Known(Value::Decimal(a.value))),
        Outcome::NotEligible => Val::None,
        Outcome::Undetermined => {
            Val::Unknown(d.missing.iter().map(|s| Arc::from(s.as_str())).collect())
        }
    }
}

fn outcome_truth(d: &Decision) -> Val {
    match d.outcome {
        Outcome::Eligible => Val::Known(Value::Bool(true)),
        Outcome::NotEligible => Val::Known(Value::Bool(false)),
        Outcome::Undetermined => {
            Val::Unknown(d.missing.iter().map(|s| Arc::from(s.as_str())).collect())
        }
    }
}

/// The value of `expr`, an expression of policy `policy`'s body (an operand of one of
/// its clauses), for a record on `ref_date`, outside any decision: what the near-miss
/// report ([`crate::reach`]) reads of a failed comparison. `None` when it has no known
/// value (unknown, none, an evaluation error, or a panic, which is caught).
pub(crate) fn value_in_policy<'r>(
    rules: &'r RuleSet,
    policy: usize,
    record: &Record,
    ref_date: NaiveDate,
    expr: &'r Expr,
) -> Option<Value> {
    let p = rules.program.policies.get(policy)?;
    let mut ev = Evaluator::new(rules, record, ref_date, EvalOptions::default());
    let mut frame = Frame::new(p.locals, &p.lets);
    let value =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.eval(expr, &mut frame)));
    match value {
        Ok(Ok(Val::Known(v))) => Some(v),
        _ => None,
    }
}

/// Evaluates one policy (by index) for a record.
pub fn evaluate_policy(
    rules: &RuleSet,
    policy: usize,
    record: &Record,
    ref_date: NaiveDate,
    opts: EvalOptions,
) -> Decision {
    decide_guarded(&mut Evaluator::new(rules, record, ref_date, opts), policy)
}

/// Decides policy `index`; a panic inside (a bug of the engine, never a case of the rule
/// text) becomes an undetermined decision with an [internal error](is_internal) instead
/// of unwinding into the caller, and the evaluator is set back to its state between
/// two decisions (the decisions cached so far kept).
fn decide_guarded(ev: &mut Evaluator<'_>, index: usize) -> Decision {
    let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.decide(index)));
    let decided = decided.map(|mut d| {
        // Past the budget every evaluation failed: the decision is the budget's error,
        // whatever the clauses evaluated before it made of it.
        if ev.steps > ev.opts.budget {
            d.outcome = Outcome::Undetermined;
            d.amount = None;
            d.failed.clear();
            d.missing.clear();
            d.per_item = None;
            d.error = Some(budget_exceeded(ev.opts.budget).at("budget"));
        }
        d
    });
    decided.unwrap_or_else(|payload| {
        ev.facts = None;
        ev.overrides.clear();
        ev.members.clear();
        ev.depth = 0;
        internal_decision(ev.rules, index, internal_error(&*payload))
    })
}

/// Where an [internal error](is_internal) is said to be.
pub(crate) const INTERNAL_AT: &str = "internal";

/// Where a chosen item's decision fails or errs when the item is not one the policy
/// decides (`policy P for x` with no x, or an x its `for each … where` leaves out).
pub(crate) const FOR_EACH_AT: &str = "for each";

/// The error of a decision (or form) whose evaluation panicked.
/// The decision of policy `index` that an internal error prevented: undetermined, with
/// the error.
fn internal_decision(rules: &RuleSet, index: usize, error: EvalError) -> Decision {
    let policy = rules.program.policies.get(index);
    Decision {
        policy: policy.map_or_else(|| format!("#{index}"), |p| p.id.clone()),
        outcome: Outcome::Undetermined,
        failed: vec![],
        missing: vec![],
        amount: None,
        reports: vec![],
        per_item: None,
        error: Some(error),
        trace: None,
    }
}

pub(crate) fn internal_error(payload: &(dyn std::any::Any + Send)) -> EvalError {
    EvalError {
        kind: ErrorKind::Internal,
        at: INTERNAL_AT.into(),
        message: format!("internal error: {}", panic_message(payload)),
    }
}

/// Whether an evaluation error is an internal error (the evaluation panicked), not a
/// case the rule text leaves undefined.
pub(crate) fn is_internal(e: &EvalError) -> bool {
    e.at == INTERNAL_AT && e.message.starts_with("internal error: ")
}

/// The message of a panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match payload.downcast_ref::<&str>() {
        Some(s) => s.to_string(),
        None => match payload.downcast_ref::<String>() {
            Some(s) => s.clone(),
            None => "a panic".to_string(),
        },
    }
}

struct Frame<'r> {
    locals: SmallVec<[Val; 6]>,
    lets: &'r [LetDef],
    memo: SmallVec<[Option<R<Val>>; 8]>,
    /// When tracing: the facts each definition read, so that every clause using a
    /// definition lists them, not only the first.
    memo_facts: Vec<Vec<Fact>>,
}

impl<'r> Frame<'r> {
    /// Sets a local slot (a slot the checker never gave out is ignored).
    fn set_local(&mut self, i: usize, v: Val) {
        if let Some(slot) = self.locals.get_mut(i) {
            *slot = v;
        }
    }

    fn new(locals: usize, lets: &'r [LetDef]) -> Self {
        Frame {
            locals: smallvec::smallvec![Val::None; locals],
            lets,
            memo: smallvec::smallvec![None; lets.len()],
            memo_facts: Vec::new(),
        }
    }
}

struct Evaluator<'r> {
    rules: &'r RuleSet,
    root: Arc<RecordNode>,
    ref_date: NaiveDate,
    opts: EvalOptions,
    facts: Option<Facts>,
    /// Evaluation steps taken by the decision under way.
    steps: u64,
    policy_cache: Vec<Option<Val>>,
    /// Clause values forced by a bundle: policy index, clause id, value.
    overrides: Vec<(usize, String, R<Val>)>,
    /// Inside a bundle: the members decided so far.
    members: Vec<Val>,
    depth: usize,
}

/// Clause results of one subject or sub-subject.
struct ClauseResults {
    /// The clauses joined by Kleene `and`: false when one fails (whatever the others
    /// are), else an error, unknown, or true.
    whole: Truth,
    failed: Vec<String>,
    missing: Missing,
    error: Option<EvalError>,
    traces: Vec<ClauseTrace>,
}

impl<'r> Evaluator<'r> {
    fn new(rules: &'r RuleSet, record: &Record, ref_date: NaiveDate, opts: EvalOptions) -> Self {
        Evaluator {
            rules,
            root: record.root.clone(),
            ref_date,
            opts,
            facts: None,
            steps: 0,
            policy_cache: vec![None; rules.program.policies.len()],
            overrides: vec![],
            members: vec![],
            depth: 0,
        }
    }

    fn decide(&mut self, index: usize) -> Decision {
        self.decide_for(index, None)
    }

    /// Policy `index` for the subject, or, with `chosen`, for the one item of a per-item
    /// policy that a bundle member or an `eligible(P for x)` chose (its value, or the
    /// error evaluating it): that item's decision as if the policy were about it alone.
    fn decide_for(&mut self, index: usize, chosen: Option<R<Val>>) -> Decision {
        let rules = self.rules;
        let Some(p) = rules.program.policies.get(index) else {
            let error = Failure::from("internal error: no such policy").at(INTERNAL_AT);
            return internal_decision(rules, index, error);
        };
        let mut d = Decision {
            policy: p.id.clone(),
            outcome: Outcome::NotEligible,
            failed: vec![],
            missing: vec![],
            amount: None,
            reports: vec![],
            per_item: None,
            error: None,
            trace: None,
        };
        if !p.in_force(self.ref_date) {
            d.failed = vec!["C0".into()];
            if self.opts.trace {
                d.trace = Some(Trace {
                    basis: p.basis.clone(),
                    clauses: vec![ClauseTrace {
                        value: Truth::False,
                        ..self.c0_trace(p)
                    }],
                    amount_facts: vec![],
                });
            }
            return d;
        }
        let mut frame = Frame::new(p.locals, &p.lets);
        match (&p.per_item, chosen) {
            (Some(pi), None) => self.decide_items(index, p, pi, &mut frame, &mut d),
            (Some(pi), Some(item)) => self.decide_chosen(index, p, pi, item, &mut frame, &mut d),
            (None, None) => {
                let item = self.decide_subject(index, p, &mut frame);
                d.adopt(item);
            }
            (None, Some(_)) => {
                d.outcome = Outcome::Undetermined;
                d.error = Some(
                    Failure::from("internal error: an item chosen of a policy decided per subject")
                        .at(INTERNAL_AT),
                );
            }
        }
        // Reported values (e.g. retirement_date) are stated whenever they are known.
        for (name, e) in &p.reports {
            if let Ok(Val::Known(v)) = self.eval(e, &mut frame) {
                d.reports.push((name.clone(), self.extra(&v)));
            }
        }
        if d.trace.is_some() {
            let c0 = self.c0_trace(p);
            if let Some(t) = &mut d.trace {
                t.clauses.insert(0, c0);
            }
        }
        // Nothing derived from a sensitive field leaves unmasked.
        if let Some(t) = rules.taint.policies.get(index) {
            crate::check::taint::mask_decision(t, &mut d);
        }
        d
    }

    /// The trace line of C0, the effective period.
    fn c0_trace(&self, p: &PolicyDef) -> ClauseTrace {
        ClauseTrace {
            id: "C0".into(),
            label: match p.to {
                Some(t) => crate::messages::msg!(
                    "trace--c0-period",
                    from = p.from.to_string(),
                    to = t.to_string()
                ),
                None => crate::messages::msg!("trace--c0-from", from = p.from.to_string()),
            }
            .render(self.opts.lang),
            value: Truth::True,
            basis: None,
            facts: vec![Fact {
                path: "ref".into(),
                value: self.ref_date.to_string(),
            }],
        }
    }

    fn decide_items(
        &mut self,
        index: usize,
        p: &'r PolicyDef,
        pi: &'r crate::ir::PerItemDef,
        frame: &mut Frame<'r>,
        d: &mut Decision,
    ) {
        let list = match self.eval(&pi.list, frame) {
            Ok(Val::Known(Value::List(l))) => l,
            Ok(Val::Unknown(m)) => {
                d.outcome = Outcome::Undetermined;
                d.missing = m.iter().map(|s| s.to_string()).collect();
                return;
            }
            Ok(_) => Arc::from(Vec::new()),
            Err(e) => {
                d.outcome = Outcome::Undetermined;
                d.error = Some(e.at("for each"));
                return;
            }
        };
        let mut items = vec![];
        let mut total: Option<Decimal> = None;
        let mut period = None;
        let mut unit = None;
        let mut missing: Missing = vec![];
        let mut any_undetermined = false;
        for item in list.iter() {
            self.steps += 1;
            let mut f = Frame::new(p.locals, &p.lets);
            let Some(res) = self.decide_item(index, p, pi, item, &mut f) else {
                continue;
            };
            let id = match item {
                Value::Record(r) => item_id(&r.path),
                _ => items.len().to_string(),
            };
            match res.outcome {
                Outcome::Eligible => {
                    if let Some(a) = &res.amount {
                        let v = match &p.total {
                            Some((_, of)) if of != "value" => a
                                .extras
                                .iter()
                                .find(|(k, _)| k == of)
                                .and_then(|(_, x)| match x {
                                    ExtraValue::Decimal(d) => Some(*d),
                                    ExtraValue::Int(i) => Some(Decimal::from(*i)),
                                    _ => None,
                                })
                                // An item that states no such value adds nothing.
                                .unwrap_or_default(),
                            _ => a.value,
                        };
                        total = Some(total.unwrap_or_default() + v);
                        period.get_or_insert_with(|| a.period.clone());
                        unit.get_or_insert_with(|| a.unit.clone());
                    }
                }
                Outcome::Undetermined => {
                    any_undetermined = true;
                    missing.extend(res.missing.iter().map(|s| Arc::from(s.as_str())));
                    if d.error.is_none() {
                        d.error = res.error.clone();
                    }
                }
                Outcome::NotEligible => {}
            }
            items.push((id, res));
        }
        let any_eligible = items.iter().any(|(_, r)| r.outcome == Outcome::Eligible);
        if any_eligible {
            d.outcome = Outcome::Eligible;
            d.error = None;
            if let Some(v) = total {
                d.amount = Some(Amount {
                    value: v,
                    unit: unit.unwrap_or_else(|| "CNY".into()),
                    period: match &p.total {
                        Some((per, _)) => per.clone(),
                        None => period.unwrap_or_default(),
                    },
                    extras: vec![],
                });
            }
        } else if any_undetermined {
            d.outcome = Outcome::Undetermined;
            d.missing = sorted(missing).iter().map(|s| s.to_string()).collect();
        } else {
            d.outcome = Outcome::NotEligible;
        }
        if self.opts.trace {
            d.trace = Some(Trace {
                basis: p.basis.clone(),
                clauses: vec![],
                amount_facts: vec![],
            });
        }
        d.per_item = Some((pi.key.clone(), items));
    }

    /// One item of a per-item policy decided in `f`, or `None` when the `where` of its
    /// `for each` leaves the item out.
    fn decide_item(
        &mut self,
        index: usize,
        p: &'r PolicyDef,
        pi: &'r crate::ir::PerItemDef,
        item: &Value,
        f: &mut Frame<'r>,
    ) -> Option<ItemDecision> {
        f.set_local(pi.var, Val::Known(item.clone()));
        let mut extra_missing = None;
        let mut filter_error = None;
        if let Some(filter) = &pi.filter {
            match self.eval(filter, f) {
                Ok(v) => match truth(v.clone()) {
                    Some(true) => {}
                    Some(false) => return None,
                    None => extra_missing = Some(missing_of(&v)),
                },
                Err(e) => filter_error = Some(e),
            }
        }
        let mut res = self.decide_subject(index, p, f);
        if let Some(message) = filter_error {
            // Whether the item is a sub-subject at all is undefined.
            res.outcome = Outcome::Undetermined;
            res.failed.clear();
            res.amount = None;
            res.error = Some(message.at("for each … where"));
        }
        if let Some(m) = extra_missing {
            if res.outcome != Outcome::NotEligible {
                res.outcome = Outcome::Undetermined;
                res.amount = None;
                let mut all: Missing = res.missing.iter().map(|s| Arc::from(s.as_str())).collect();
                union(&mut all, &m);
                res.missing = all.iter().map(|s| s.to_string()).collect();
            }
        }
        Some(res)
    }

    /// The decision for the one item a caller chose (`policy P for x`): the item's own
    /// outcome, amount and trace. No item (`none`), or one the `where` of `for each`
    /// leaves out, is not eligible for the reason `for each`; an unknown choice is
    /// undetermined with what it misses; an error choosing it is this decision's error.
    fn decide_chosen(
        &mut self,
        index: usize,
        p: &'r PolicyDef,
        pi: &'r crate::ir::PerItemDef,
        chosen: R<Val>,
        frame: &mut Frame<'r>,
        d: &mut Decision,
    ) {
        let decided = match chosen {
            Ok(Val::Known(item)) => self.decide_item(index, p, pi, &item, frame),
            Ok(Val::None) => None,
            Ok(Val::Unknown(m)) => {
                d.outcome = Outcome::Undetermined;
                d.missing = m.iter().map(|s| s.to_string()).collect();
                return;
            }
            Err(e) => {
                d.outcome = Outcome::Undetermined;
                d.error = Some(e.at(FOR_EACH_AT));
                return;
            }
        };
        match decided {
            Some(item) => d.adopt(item),
            None => {
                d.outcome = Outcome::NotEligible;
                d.failed = vec![FOR_EACH_AT.into()];
                if self.opts.trace {
                    d.trace = Some(Trace {
                        basis: p.basis.clone(),
                        clauses: vec![ClauseTrace {
                            id: FOR_EACH_AT.into(),
                            label: "所选对象属于逐项认定的范围 (the chosen item is one the policy decides)"
                                .into(),
                            value: Truth::False,
                            basis: None,
                            facts: vec![],
                        }],
                        amount_facts: vec![],
                    });
                }
            }
        }
    }

    /// Evaluates every clause and the amount for the subject (or the item in `frame`).
    fn decide_subject(
        &mut self,
        index: usize,
        p: &'r PolicyDef,
        frame: &mut Frame<'r>,
    ) -> ItemDecision {
        let res = self.clauses(index, p, frame);
        let mut out = ItemDecision {
            outcome: Outcome::NotEligible,
            failed: res.failed,
            missing: vec![],
            amount: None,
            error: res.error,
            trace: None,
        };
        let mut missing = res.missing;
        let mut amount_facts = vec![];
        if res.whole != Truth::False {
            if self.opts.trace {
                self.facts = Some(Facts::default());
            }
            let amount = self.amount(p, frame);
            amount_facts = self.facts.take().map(|f| f.list).unwrap_or_default();
            match amount {
                Ok(AmountResult::Known(a)) => out.amount = Some(a),
                Ok(AmountResult::Unknown(m)) => union(&mut missing, &m),
                Ok(AmountResult::NoRule) => {}
                Err(e) => {
                    if out.error.is_none() && missing.is_empty() {
                        out.error = Some(e.at("amount"));
                    }
                }
            }
            // A clause that is unknown or in error never lets the decision be eligible,
            // even when it names no missing field.
            let undecided = matches!(res.whole, Truth::Unknown | Truth::Error);
            out.outcome = if out.error.is_some() || !missing.is_empty() || undecided {
                if !self.opts.pending_amounts || out.error.is_some() {
                    out.amount = None;
                }
                Outcome::Undetermined
            } else {
                Outcome::Eligible
            };
            out.missing = missing.iter().map(|s| s.to_string()).collect();
        }
        if self.opts.trace {
            out.trace = Some(Trace {
                basis: p.basis.clone(),
                clauses: res.traces,
                amount_facts,
            });
        }
        out
    }

    fn clauses(&mut self, index: usize, p: &'r PolicyDef, frame: &mut Frame<'r>) -> ClauseResults {
        let mut r = ClauseResults {
            failed: vec![],
            missing: vec![],
            error: None,
            traces: vec![],
            whole: Connective::And.identity(),
        };
        // Every clause is evaluated (the trace and `failed` list them all), the
        // outcome folded as the compiled tier folds it.
        let mut decided = None;
        for c in &p.clauses {
            if self.opts.trace {
                self.facts = Some(Facts::default());
            }
            let forced = self
                .overrides
                .iter()
                .find(|(pi, id, _)| *pi == index && *id == c.id)
                .map(|(_, _, v)| v.clone());
            let value = match forced {
                // The bundle's value for the clause, or its evaluation error, which is
                // this clause's error (never a pass).
                Some(v) => {
                    if let Some(f) = &mut self.facts {
                        f.add(Fact {
                            path: "(bundle)".into(),
                            value: "this clause is satisfied inside the bundle".into(),
                        });
                    }
                    v
                }
                None => self.eval(&c.condition, frame),
            };
            let t = match value {
                Ok(v) => match truth(v.clone()) {
                    Some(true) => Truth::True,
                    Some(false) => {
                        r.failed.push(c.id.clone());
                        Truth::False
                    }
                    None => {
                        union(&mut r.missing, &missing_of(&v));
                        Truth::Unknown
                    }
                },
                Err(message) => {
                    if r.error.is_none() {
                        r.error = Some(message.at(c.id.clone()));
                    }
                    Truth::Error
                }
            };
            if decided.is_none() {
                match Connective::And.step(r.whole, t) {
                    ControlFlow::Break(t) => decided = Some(t),
                    ControlFlow::Continue(w) => r.whole = w,
                }
            }
            if let Some(Facts { list: facts, .. }) = self.facts.take() {
                r.traces.push(ClauseTrace {
                    id: c.id.clone(),
                    label: c.label.clone(),
                    value: t,
                    basis: c.basis.clone(),
                    facts,
                });
            }
        }
        r.whole = decided.unwrap_or(r.whole);
        if r.whole == Truth::False {
            r.error = None;
            r.missing.clear();
        }
        r
    }

    fn amount(&mut self, p: &'r PolicyDef, frame: &mut Frame<'r>) -> R<AmountResult> {
        for a in &p.amounts {
            if let AmountGuard::When(g) = &a.guard {
                let v = self.eval(g, frame)?;
                match truth(v.clone()) {
                    Some(true) => {}
                    Some(false) => continue,
                    None => return Ok(AmountResult::Unknown(missing_of(&v))),
                }
            }
            let value = self.eval(&a.value, frame)?;
            let mut missing = missing_of(&value);
            let mut extras = vec![];
            for (name, e) in &a.extras {
                match self.eval(e, frame)? {
                    Val::Known(v) => extras.push((name.clone(), self.extra(&v))),
                    Val::Unknown(m) => union(&mut missing, &m),
                    Val::None => {}
                }
            }
            if !missing.is_empty() {
                return Ok(AmountResult::Unknown(missing));
            }
            let Val::Known(v) = value else {
                return Err(Failure::new(
                    ErrorKind::NoAmount,
                    "the amount formula gives no value for this subject",
                ));
            };
            let v = v.as_decimal().ok_or("the amount is not a number")?;
            if v.normalize().scale() > 2 {
                return Err(Failure::new(ErrorKind::AmountPrecision, format!(
                    "the amount {} has more than two decimal places: round it in the rule with round(..., 2)",
                    v.normalize()
                )));
            }
            return Ok(AmountResult::Known(Amount {
                value: v,
                unit: a.unit.clone(),
                period: a.period.clone(),
                extras,
            }));
        }
        if p.amounts.is_empty() {
            Ok(AmountResult::NoRule)
        } else {
            Err(Failure::new(
                ErrorKind::NoAmount,
                "no amount rule applies to this subject",
            ))
        }
    }

    fn extra(&self, v: &Value) -> ExtraValue {
        match v {
            Value::Int(i) => ExtraValue::Int(*i),
            Value::Decimal(d) => ExtraValue::Decimal(*d),
            Value::Bool(b) => ExtraValue::Bool(*b),
            other => ExtraValue::Text(self.render(other)),
        }
    }

    /// A value as text, for traces and outputs.
    fn render(&self, v: &Value) -> String {
        match v {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Decimal(d) => format_decimal(*d),
            Value::Str(s) => s.to_string(),
            Value::Date(d) => d.to_string(),
            Value::Enum(e, i) => self.rules.schema.enum_value_name(*e, *i).to_string(),
            Value::List(l) => {
                if l.iter().all(|x| !matches!(x, Value::Record(_))) {
                    format!(
                        "[{}]",
                        l.iter()
                            .map(|x| self.render(x))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!("[{} items]", l.len())
                }
            }
            Value::Record(_) => "{…}".into(),
        }
    }

    fn note(&mut self, path: String, slot: &Slot, sensitive: bool) {
        if self.facts.is_none() {
            return;
        }
        let value = match slot {
            Slot::Missing => "missing".to_string(),
            Slot::None => "none".to_string(),
            Slot::Value(Value::Record(_)) => return,
            Slot::Value(_) if sensitive => "***".to_string(),
            Slot::Value(v) => self.render(v),
        };
        if let Some(f) = &mut self.facts {
            f.add(Fact { path, value });
        }
    }

    // ------------------------------------------------------------ expressions

    /// Counts `n` evaluation steps; past the budget, the budget's error.
    #[inline]
    fn step(&mut self, n: u64) -> R<()> {
        self.steps += n;
        if self.steps > self.opts.budget {
            return Err(budget_exceeded(self.opts.budget));
        }
        Ok(())
    }

    /// The value of `e`. Evaluation recurses as deep as the rules nest (at most
    /// [`crate::check::MAX_EVAL_DEPTH`] levels); the stack grows on the heap when a
    /// host's thread has too little left, so no depth the checker accepts overflows it.
    fn eval(&mut self, e: &'r Expr, frame: &mut Frame<'r>) -> R<Val> {
        stacker::maybe_grow(
            crate::check::STACK_RED_ZONE,
            crate::check::STACK_GROWTH,
            || self.eval_node(e, frame),
        )
    }

    fn eval_node(&mut self, e: &'r Expr, frame: &mut Frame<'r>) -> R<Val> {
        self.step(1)?;
        Ok(match e {
            Expr::Const(Some(v)) => Val::Known(v.clone()),
            Expr::Const(None) => Val::None,
            Expr::Duration(..) => return Err("a duration is used on its own".into()),
            Expr::Ref => Val::Known(Value::Date(self.ref_date)),
            Expr::Root => Val::Known(Value::Record(self.root.clone())),
            Expr::Local(i) => frame.locals.get(*i).cloned().unwrap_or(Val::None),
            Expr::Let(i) => self.definition(i, frame)?,
            Expr::Field {
                base,
                index,
                name,
                sensitive,
                ..
            } => match self.eval(base, frame)? {
                Val::Known(Value::Record(node)) => {
                    let slot = node.fields.get(*index).cloned().unwrap_or(Slot::Missing);
                    if self.facts.is_some() {
                        self.note(node.field_path(name), &slot, *sensitive);
                    }
                    match slot {
                        Slot::Value(v) => Val::Known(v),
                        Slot::None => Val::None,
                        Slot::Missing => Val::Unknown(vec![Arc::from(node.field_path(name))]),
                    }
                }
                Val::Known(_) => return Err("internal: field of a non-record".into()),
                other => other,
            },
            Expr::Call(b, args) => self.builtin(*b, args, frame)?,
            Expr::Function(f, args) => self.call(f, args, frame)?,
            Expr::Param(p, at) => self.parameter(p, at, frame)?,
            Expr::Scale { op, scale, x, at } => self.scale(*op, *scale, x, at, frame)?,
            Expr::PolicyRef(p) => self.policy_ref(*p)?,
            Expr::PolicyAmount(p) => self.policy_amount(*p)?,
            Expr::PolicyItem { policy, item, read } => {
                self.policy_item(*policy, item, *read, frame)?
            }
            Expr::MemberRef(m) => self
                .members
                .get(*m)
                .cloned()
                .ok_or("internal: member used before it is decided")?,
            Expr::Neg(x) => match self.eval(x, frame)? {
                Val::Known(Value::Int(i)) => Val::Known(Value::Int(number::int_neg(i)?)),
                Val::Known(Value::Decimal(d)) => Val::Known(Value::Decimal(-d)),
                other => other,
            },
            Expr::Arith(op, a, b, ty) => {
                let x = self.eval(a, frame)?;
                let y = self.eval(b, frame)?;
                match strict2(x, y) {
                    Ok((x, y)) => Val::Known(arith(*op, &x, &y, ty)?),
                    Err(v) => v,
                }
            }
            Expr::DateShift(d, dur, minus) => {
                let x = self.eval(d, frame)?;
                let Expr::Duration(n, unit) = &**dur else {
                    return Err("internal: duration".into());
                };
                match x {
                    Val::Known(Value::Date(d)) => {
                        let n = if *minus { -n } else { *n };
                        Val::Known(Value::Date(number::shift(d, n, *unit)?))
                    }
                    other => other,
                }
            }
            Expr::Not(x) => match self.eval(x, frame)? {
                v @ Val::Unknown(_) => v,
                v => Val::Known(Value::Bool(!truth(v).unwrap_or(false))),
            },
            Expr::And(xs) => self.kleene(xs, Connective::And, frame)?,
            Expr::Or(xs) => self.kleene(xs, Connective::Or, frame)?,
            Expr::Compare(op, a, b) => {
                let x = self.eval(a, frame)?;
                let y = self.eval(b, frame)?;
                match strict2(x, y) {
                    Ok((x, y)) => Val::Known(Value::Bool(compare(*op, &x, &y))),
                    Err(Val::None) => Val::Known(Value::Bool(false)),
                    Err(v) => v,
                }
            }
            Expr::InSet(v, items, negated) => self.in_set(v, items, negated, frame)?,
            Expr::InRange(v, lo, hi, negated) => self.in_range(v, lo, hi, negated, frame)?,
            Expr::InList(v, list, negated) => {
                let x = self.eval(v, frame)?;
                let l = self.eval(list, frame)?;
                match strict2(x, l) {
                    Ok((x, Value::List(items))) => {
                        let found = items.iter().any(|y| compare(CmpOp::Eq, &x, y));
                        Val::Known(Value::Bool(found != *negated))
                    }
                    Ok(_) => return Err("internal: `in` of a non-list".into()),
                    Err(Val::None) => Val::Known(Value::Bool(false)),
                    Err(v) => v,
                }
            }
            Expr::IsNone(v, negated) => match self.eval(v, frame)? {
                u @ Val::Unknown(_) => u,
                Val::None => Val::Known(Value::Bool(!negated)),
                Val::Known(_) => Val::Known(Value::Bool(*negated)),
            },
            Expr::Otherwise(a, b) => match self.eval(a, frame)? {
                Val::None => self.eval(b, frame)?,
                v => v,
            },
            Expr::If(c, a, b) => {
                let v = self.eval(c, frame)?;
                match truth(v.clone()) {
                    Some(true) => self.eval(a, frame)?,
                    Some(false) => self.eval(b, frame)?,
                    None => v,
                }
            }
            Expr::Quant {
                quantifier,
                var,
                list,
                filter,
                body,
                ..
            } => self.quantified(
                *quantifier,
                *var,
                list,
                filter.as_deref(),
                body.as_deref(),
                frame,
            )?,
            Expr::Match(s, arms) => self.match_arms(s, arms, frame)?,
            Expr::Cases(arms, default) => self.cases(arms, default, frame)?,
        })
    }

    /// A definition's value: computed once per frame, its facts kept for every clause that uses it.
    fn definition(&mut self, i: &usize, frame: &mut Frame<'r>) -> R<Val> {
        if let Some(v) = frame.memo.get(*i).and_then(|m| m.clone()) {
            if let (Some(f), Some(seen)) = (&mut self.facts, frame.memo_facts.get(*i)) {
                for fact in seen {
                    f.add(fact.clone());
                }
            }
            return v;
        }
        let lets = frame.lets;
        let Some(def) = lets.get(*i) else {
            return Err("internal: unknown definition".into());
        };
        let outer = self.facts.take();
        if outer.is_some() {
            self.facts = Some(Facts::default());
        }
        let v = self
            .eval(&def.value, frame)
            .map_err(|f| f.within(&def.name));
        let inner = self.facts.take();
        self.facts = outer;
        if let (Some(f), Some(Facts { list: inner, .. })) = (&mut self.facts, inner) {
            for fact in &inner {
                f.add(fact.clone());
            }
            if frame.memo_facts.len() < lets.len() {
                frame.memo_facts.resize(lets.len(), vec![]);
            }
            if let Some(slot) = frame.memo_facts.get_mut(*i) {
                *slot = inner;
            }
        }
        if let Some(slot) = frame.memo.get_mut(*i) {
            *slot = Some(v.clone());
        }
        v
    }

    /// A user function, in a frame of its own.
    fn call(&mut self, f: &usize, args: &'r [Expr], frame: &mut Frame<'r>) -> R<Val> {
        if self.depth > crate::check::MAX_EVAL_DEPTH {
            return Err(Failure::new(
                ErrorKind::TooDeep,
                "functions nest too deeply",
            ));
        }
        let rules = self.rules;
        let def = rules
            .program
            .functions
            .get(*f)
            .ok_or("internal: no such function")?;
        let mut callee = Frame::new(def.locals, &def.lets);
        for (i, a) in args.iter().enumerate() {
            let v = self.eval(a, frame)?;
            callee.set_local(i, v);
        }
        self.depth += 1;
        let v = self.eval(&def.body, &mut callee);
        self.depth -= 1;
        v.map_err(|f| f.within(&def.name))
    }

    /// A parameter's value on the reference date or the date given.
    fn parameter(&mut self, p: &usize, at: &'r Option<Box<Expr>>, frame: &mut Frame<'r>) -> R<Val> {
        let date = match at {
            None => self.ref_date,
            Some(d) => match self.eval(d, frame)? {
                Val::Known(Value::Date(d)) => d,
                Val::Known(_) => return Err("internal: parameter date".into()),
                other => return Ok(other),
            },
        };
        let def = self
            .rules
            .program
            .params
            .get(*p)
            .ok_or("internal: no such parameter")?;
        let v = in_force("parameter", &def.name, &def.steps, date)?;
        if let Some(f) = &mut self.facts {
            let path = format!("{}@{}", def.name, date);
            f.add(Fact {
                path,
                value: match v {
                    Value::Decimal(d) => format_decimal(*d),
                    other => format!("{other:?}"),
                },
            });
        }
        Ok(Val::Known(v.clone()))
    }

    /// `marginal(S, x [, d])` / `bracket(S, x [, d])`: strict in `x` and the date
    /// (unknown when either is, else none when either is), then the scale in force on
    /// the date applied to `x` ([`crate::semantics::scale`]).
    fn scale(
        &mut self,
        op: ScaleOp,
        s: usize,
        x: &'r Expr,
        at: &'r Option<Box<Expr>>,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        let x = self.eval(x, frame)?;
        let date = match at {
            None => Val::Known(Value::Date(self.ref_date)),
            Some(d) => self.eval(d, frame)?,
        };
        let (x, date) = match strict2(x, date) {
            Ok((x, Value::Date(d))) => (x, d),
            Ok(_) => return Err("internal: scale date".into()),
            Err(v) => return Ok(v),
        };
        let x = x
            .as_decimal()
            .ok_or("internal: a scale applied to a non-number")?;
        let def = self
            .rules
            .program
            .scales
            .get(s)
            .ok_or("internal: no such scale")?;
        let brackets = in_force("scale", &def.name, &def.steps, date)?;
        if let Some(f) = &mut self.facts {
            f.add(Fact {
                path: format!("{}@{}", def.name, date),
                value: brackets.describe(),
            });
        }
        Ok(Val::Known(Value::Decimal(op.apply(brackets, x)?)))
    }

    /// `v in {a, b}`.
    fn in_set(
        &mut self,
        v: &'r Expr,
        items: &'r [Expr],
        negated: &bool,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        let x = self.eval(v, frame)?;
        let mut missing = missing_of(&x);
        let mut vals = vec![];
        for it in items {
            match self.eval(it, frame)? {
                Val::Known(v) => vals.push(v),
                Val::Unknown(m) => union(&mut missing, &m),
                Val::None => {}
            }
        }
        if !missing.is_empty() {
            return Ok(Val::Unknown(missing));
        }
        Ok(match x {
            Val::Known(x) => {
                let found = vals.iter().any(|y| compare(CmpOp::Eq, &x, y));
                Val::Known(Value::Bool(found != *negated))
            }
            _ => Val::Known(Value::Bool(false)),
        })
    }

    /// `v in lo..hi`.
    fn in_range(
        &mut self,
        v: &'r Expr,
        lo: &'r Expr,
        hi: &'r Expr,
        negated: &bool,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        let x = self.eval(v, frame)?;
        let l = self.eval(lo, frame)?;
        let h = self.eval(hi, frame)?;
        let mut missing = missing_of(&x);
        union(&mut missing, &missing_of(&l));
        union(&mut missing, &missing_of(&h));
        if !missing.is_empty() {
            return Ok(Val::Unknown(missing));
        }
        Ok(match (x, l, h) {
            (Val::Known(x), Val::Known(l), Val::Known(h)) => {
                let inside = compare(CmpOp::Ge, &x, &l) && compare(CmpOp::Le, &x, &h);
                Val::Known(Value::Bool(inside != *negated))
            }
            _ => Val::Known(Value::Bool(false)),
        })
    }

    /// `match`: the subject once, then the arms' patterns in order.
    fn match_arms(
        &mut self,
        s: &'r Expr,
        arms: &'r [(Vec<Pat>, Expr)],
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        let x = self.eval(s, frame)?;
        if let Val::Unknown(_) = x {
            return Ok(x);
        }
        for (pats, value) in arms {
            for pat in pats {
                let hit = match (pat, &x) {
                    (Pat::Any, _) => true,
                    (_, Val::None) => false,
                    (Pat::Eq(p), Val::Known(xv)) => match self.eval(p, frame)? {
                        Val::Known(pv) => compare(CmpOp::Eq, xv, &pv),
                        Val::Unknown(m) => return Ok(Val::Unknown(m)),
                        Val::None => false,
                    },
                    (Pat::Range(lo, hi), Val::Known(xv)) => {
                        match (self.eval(lo, frame)?, self.eval(hi, frame)?) {
                            (Val::Known(l), Val::Known(h)) => {
                                compare(CmpOp::Ge, xv, &l) && compare(CmpOp::Le, xv, &h)
                            }
                            (Val::Unknown(m), _) | (_, Val::Unknown(m)) => {
                                return Ok(Val::Unknown(m))
                            }
                            _ => false,
                        }
                    }
                    (_, Val::Unknown(_)) => false,
                };
                if hit {
                    return self.eval(value, frame);
                }
            }
        }
        Ok(Val::None)
    }

    /// `cases`: the first arm whose condition holds.
    fn cases(
        &mut self,
        arms: &'r [(Expr, Expr)],
        default: &'r Option<Box<Expr>>,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        for (c, v) in arms {
            let t = self.eval(c, frame)?;
            match truth(t.clone()) {
                Some(true) => return self.eval(v, frame),
                Some(false) => {}
                None => return Ok(t),
            }
        }
        Ok(match default {
            Some(d) => self.eval(d, frame)?,
            None => Val::None,
        })
    }

    /// A Kleene connective over the operands ([`Connective`]); the missing fields of an
    /// unknown result are those of every unknown operand, an error the first one's.
    fn kleene(&mut self, xs: &'r [Expr], connective: Connective, frame: &mut Frame<'r>) -> R<Val> {
        let mut missing: Missing = vec![];
        let mut err = None;
        let mut whole = connective.identity();
        for x in xs {
            let t = match self.eval(x, frame) {
                Ok(v) => {
                    let t = truth_of(&v);
                    if t == Truth::Unknown {
                        union(&mut missing, &missing_of(&v));
                    }
                    t
                }
                Err(e) => {
                    err = err.or(Some(e));
                    Truth::Error
                }
            };
            match connective.step(whole, t) {
                ControlFlow::Break(t) => return Ok(Val::Known(Value::Bool(t == Truth::True))),
                ControlFlow::Continue(w) => whole = w,
            }
        }
        match whole {
            Truth::Error => Err(err.unwrap_or_else(|| "internal: error without a message".into())),
            Truth::Unknown => Ok(Val::Unknown(missing)),
            t => Ok(Val::Known(Value::Bool(t == Truth::True))),
        }
    }

    /// Policy `p` decided on its own, without this decision's trace, as another
    /// policy's `eligible(...)` or `amount(...)` asks: its evaluation error is an error
    /// here.
    fn referenced_decision(&mut self, p: usize) -> R<Decision> {
        self.referenced(|ev| ev.decide(p))
    }

    /// A decision another one reads (`decide`), without trace and one level deeper.
    fn referenced(&mut self, decide: impl FnOnce(&mut Self) -> Decision) -> R<Decision> {
        if self.depth > crate::check::MAX_EVAL_DEPTH {
            return Err(Failure::new(
                ErrorKind::TooDeep,
                "policy references nest too deeply",
            ));
        }
        let saved_facts = self.facts.take();
        let saved_trace = self.opts.trace;
        self.opts.trace = false;
        self.depth += 1;
        let d = decide(self);
        self.depth -= 1;
        self.opts.trace = saved_trace;
        self.facts = saved_facts;
        match &d.error {
            Some(e) => Err(Failure::new(
                e.kind,
                format!("policy {}: {}", d.policy, e.message),
            )),
            None => Ok(d),
        }
    }

    /// `eligible(P for x)` / `amount(P for x)`: the chosen item's decision, read.
    fn policy_item(
        &mut self,
        policy: usize,
        item: &'r Expr,
        read: crate::ir::DecisionRead,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        let chosen = self.eval(item, frame)?;
        let d = self.referenced(|ev| ev.decide_for(policy, Some(Ok(chosen))))?;
        Ok(match read {
            crate::ir::DecisionRead::Eligible => outcome_truth(&d),
            crate::ir::DecisionRead::Amount => decided_amount(d),
        })
    }

    /// `amount(p)`: the amount policy `p` decides (not cached as a truth is: an amount
    /// is asked for rarely).
    fn policy_amount(&mut self, p: usize) -> R<Val> {
        Ok(decided_amount(self.referenced_decision(p)?))
    }

    /// `eligible(p)`: policy `p`'s outcome as a truth, decided once per record.
    fn policy_ref(&mut self, p: usize) -> R<Val> {
        if let Some(v) = self.policy_cache.get(p).and_then(|v| v.clone()) {
            return Ok(v);
        }
        let v = outcome_truth(&self.referenced_decision(p)?);
        if let Some(slot) = self.policy_cache.get_mut(p) {
            *slot = Some(v.clone());
        }
        Ok(v)
    }

    fn quantified(
        &mut self,
        q: Quantifier,
        var: usize,
        list: &'r Expr,
        filter: Option<&'r Expr>,
        body: Option<&'r Expr>,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        let items = match self.eval(list, frame)? {
            Val::Known(Value::List(l)) => l,
            Val::Known(_) => return Err("internal: quantifier over a non-list".into()),
            Val::None => Arc::from(Vec::new()),
            u @ Val::Unknown(_) => return Ok(u),
        };
        let saved = frame.locals.get(var).cloned().unwrap_or(Val::None);
        let result = self.quantified_items(q, var, &items, filter, body, frame);
        if let Some(slot) = frame.locals.get_mut(var) {
            *slot = saved;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn quantified_items(
        &mut self,
        q: Quantifier,
        var: usize,
        items: &[Value],
        filter: Option<&'r Expr>,
        body: Option<&'r Expr>,
        frame: &mut Frame<'r>,
    ) -> R<Val> {
        // Collected, then sorted once: a union per item would be quadratic.
        let mut missing: Missing = vec![];
        if matches!(
            q,
            Quantifier::Any | Quantifier::No | Quantifier::All | Quantifier::Count
        ) {
            let mut fold = Quantify::new(q);
            for item in items {
                self.step(1)?;
                frame.set_local(var, Val::Known(item.clone()));
                let f = match filter {
                    Some(f) => self.eval(f, frame)?,
                    None => Val::Known(Value::Bool(true)),
                };
                let mut b = Ok(Val::Known(Value::Bool(true)));
                let step = fold.item(truth_of(&f), || {
                    if let Some(body) = body {
                        b = self.eval(body, frame);
                    }
                    match &b {
                        Ok(v) => truth_of(v),
                        Err(_) => Truth::Error,
                    }
                });
                match step {
                    Step::Next => {}
                    Step::Stop => break,
                    Step::Error => return b.map(|_| Val::Unknown(vec![])),
                    Step::Unknown(blame) => {
                        if blame != Blame::Body {
                            missing.extend(missing_of(&f));
                        }
                        if blame != Blame::Filter {
                            missing.extend(missing_of(&b?));
                        }
                    }
                }
            }
            return Ok(match fold.result() {
                Quantified::Truth(t) => Val::Known(Value::Bool(t)),
                Quantified::Count(n) => Val::Known(Value::Int(n)),
                Quantified::Unknown => Val::Unknown(sorted(missing)),
            });
        }
        let mut fold = Aggregate::new(q);
        for item in items {
            self.step(1)?;
            frame.set_local(var, Val::Known(item.clone()));
            if let Some(f) = filter {
                let fv = self.eval(f, frame)?;
                match truth_of(&fv) {
                    Truth::False => continue,
                    Truth::Unknown => {
                        missing.extend(missing_of(&fv));
                        fold.unknown();
                        continue;
                    }
                    _ => {}
                }
            }
            let b = match body {
                Some(b) => self.eval(b, frame)?,
                None => Val::Known(item.clone()),
            };
            match b {
                Val::Known(v) => fold.item(&TreeValues, item, Some(v)),
                Val::None => fold.item(&TreeValues, item, None),
                Val::Unknown(m) => {
                    missing.extend(m);
                    fold.unknown();
                }
            }
        }
        match fold.result(&TreeValues) {
            Aggregated::Unknown => Ok(Val::Unknown(sorted(missing))),
            Aggregated::Value(v) => Ok(v.map_or(Val::None, Val::Known)),
            Aggregated::Item(i) => Ok(Val::Known(i)),
            Aggregated::Error(f) => Err(f.into()),
        }
    }

    fn builtin(&mut self, b: Builtin, args: &'r [Expr], frame: &mut Frame<'r>) -> R<Val> {
        // Every built-in is strict: an unknown argument makes it unknown, a none
        // argument makes it none.
        let mut vals = Vec::with_capacity(args.len());
        let mut missing: Missing = vec![];
        let mut none = false;
        for a in args {
            match a {
                Expr::Duration(n, u) => vals.push(Value::Int(match u {
                    DateUnit::Days => -(*n + 1) - i64::from(i32::MAX), // marked below
                    _ => *n,
                })),
                _ => match self.eval(a, frame)? {
                    Val::Known(v) => vals.push(v),
                    Val::None => none = true,
                    Val::Unknown(m) => union(&mut missing, &m),
                },
            }
        }
        if !missing.is_empty() {
            return Ok(Val::Unknown(missing));
        }
        if none {
            return Ok(Val::None);
        }
        let date = |v: &Value| match v {
            Value::Date(d) => Ok(*d),
            _ => Err(Failure::from("internal: expected a date")),
        };
        let int = |v: &Value| match v {
            Value::Int(i) => Ok(*i),
            _ => Err(Failure::from("internal: expected a whole number")),
        };
        let dec = |v: &Value| {
            v.as_decimal()
                .ok_or_else(|| Failure::from("internal: expected a number"))
        };
        let first = vals
            .first()
            .ok_or("internal: a built-in without arguments")?;
        let out = match b {
            Builtin::Age | Builtin::MonthDiff | Builtin::Year | Builtin::Month | Builtin::Day => {
                let dates = vals
                    .iter()
                    .map(|v| date(v).map(calendar::parts))
                    .collect::<R<Vec<_>>>()?;
                let on = calendar::parts(self.ref_date);
                Value::Int(number::date_builtin(b, &dates, on).ok_or("internal: date built-in")?)
            }
            Builtin::AddDays | Builtin::AddMonths | Builtin::AddYears => {
                let unit = match b {
                    Builtin::AddDays => DateUnit::Days,
                    Builtin::AddMonths => DateUnit::Months,
                    _ => DateUnit::Years,
                };
                let n = int(vals.get(1).ok_or("internal: a shift without a count")?)?;
                Value::Date(number::shift(date(first)?, n, unit)?)
            }
            Builtin::MakeDate => match vals.as_slice() {
                [y, m, d] => Value::Date(number::make_date(int(y)?, int(m)?, int(d)?)?),
                _ => return Err("internal: date() needs three parts".into()),
            },
            Builtin::WithinLast => {
                let Some(Expr::Duration(n, unit)) = args.get(1) else {
                    return Err("internal: within_last needs a duration".into());
                };
                let earliest = number::shift(self.ref_date, -n, *unit)?;
                Value::Bool(calendar::within(
                    calendar::parts(date(first)?),
                    calendar::parts(earliest),
                    calendar::parts(self.ref_date),
                ))
            }
            Builtin::Min | Builtin::Max => {
                let best = number::extreme(&vals, b == Builtin::Min, order)
                    .cloned()
                    .unwrap_or_else(|| first.clone());
                // Mixed int/decimal: the result is a decimal.
                if vals.iter().any(|v| matches!(v, Value::Decimal(_))) {
                    Value::Decimal(dec(&best)?)
                } else {
                    best
                }
            }
            Builtin::Round | Builtin::RoundHalfEven => {
                let places = match vals.get(1) {
                    Some(v) => int(v)?,
                    None => 0,
                };
                Value::Decimal(number::round(
                    dec(first)?,
                    places,
                    b == Builtin::RoundHalfEven,
                )?)
            }
            Builtin::Floor => Value::Int(number::floor(dec(first)?)?),
            Builtin::Ceil => Value::Int(number::ceil(dec(first)?)?),
            Builtin::Abs => match first {
                Value::Int(i) => Value::Int(number::int_abs(*i)?),
                other => Value::Decimal(dec(other)?.abs()),
            },
            Builtin::Len => match first {
                Value::List(l) => Value::Int(i64::try_from(l.len()).unwrap_or(i64::MAX)),
                _ => return Err("internal: len of a non-list".into()),
            },
        };
        Ok(Val::Known(out))
    }
}

enum AmountResult {
    Known(Amount),
    Unknown(Missing),
    NoRule,
}

/// The id of a list item from its path: `hires[H2]` → `H2`.
pub(crate) fn item_id(path: &str) -> String {
    match (path.rfind('['), path.ends_with(']')) {
        (Some(i), true) => path[i + 1..path.len() - 1].to_string(),
        _ => path.to_string(),
    }
}

/// The truth of a value: `None` for unknown; a known "none" is false.
fn truth(v: Val) -> Option<bool> {
    match truth_of(&v) {
        Truth::True => Some(true),
        Truth::Unknown => None,
        _ => Some(false),
    }
}

/// A value as a truth: any known value but `true`, a known "none" included, is false.
fn truth_of(v: &Val) -> Truth {
    match v {
        Val::Known(Value::Bool(true)) => Truth::True,
        Val::Known(_) | Val::None => Truth::False,
        Val::Unknown(_) => Truth::Unknown,
    }
}

/// The value of a parameter's or a scale's step in force on `date`, or the error of
/// reading it there: no step, or a step that declares the value absent.
fn in_force<'s, T>(kind: &str, name: &str, steps: &'s [Dated<T>], date: NaiveDate) -> R<&'s T> {
    match crate::ir::step_on(steps, date) {
        Some(Dated { value: Some(v), .. }) => Ok(v),
        Some(Dated { from, source, .. }) => Err(Failure::new(
            ErrorKind::ParameterWithoutValue,
            match source {
                Some(src) => {
                    format!("{kind} {name} has no value on {date}: abolished from {from} ({src})")
                }
                None => format!("{kind} {name} has no value on {date}: abolished from {from}"),
            },
        )),
        None => Err(Failure::new(
            ErrorKind::ParameterWithoutValue,
            format!("{kind} {name} has no value on {date}"),
        )),
    }
}

fn missing_of(v: &Val) -> Missing {
    match v {
        Val::Unknown(m) => m.clone(),
        _ => vec![],
    }
}

/// Both known, or the value a strict operator gives: unknown (union) or none.
fn strict2(a: Val, b: Val) -> Result<(Value, Value), Val> {
    match (a, b) {
        (Val::Known(x), Val::Known(y)) => Ok((x, y)),
        (Val::Unknown(mut m), Val::Unknown(n)) => {
            union(&mut m, &n);
            Err(Val::Unknown(m))
        }
        (Val::Unknown(m), _) | (_, Val::Unknown(m)) => Err(Val::Unknown(m)),
        _ => Err(Val::None),
    }
}

fn arith(op: ArithOp, a: &Value, b: &Value, ty: &Ty) -> R<Value> {
    number::value_arith(op, a, b, ty).map_err(Failure::from)
}

/// The tree values, for the aggregates of [`crate::semantics::quantifier`].
struct TreeValues;

impl Values for TreeValues {
    type Value = Value;
    type Item = Value;
    fn order(&self, a: &Value, b: &Value) -> Option<Ordering> {
        order(a, b)
    }
    fn add(&self, a: &Value, b: &Value) -> Result<Value, Fault> {
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => number::int_arith(ArithOp::Add, *x, *y)
                .unwrap_or(Err(Fault::Internal("sum")))
                .map(Value::Int),
            _ => match (a.as_decimal(), b.as_decimal()) {
                (Some(x), Some(y)) => number::decimal_arith(ArithOp::Add, x, y).map(Value::Decimal),
                _ => Err(Fault::Internal("sum of non-numbers")),
            },
        }
    }
    fn zero(&self) -> Value {
        Value::Int(0)
    }
}

/// Orders two values of the same type (numbers across int/decimal).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Enum(e, x), Value::Enum(f, y)) if e == f => Some(x.cmp(y)),
        _ => match (a.as_decimal(), b.as_decimal()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> bool {
    number::holds_maybe(op, order(a, b))
}
