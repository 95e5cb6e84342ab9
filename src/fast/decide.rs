//! Deciding a row with the compiled rule set: outcomes and amounts, nothing else.
//!
//! This is the batch's fast tier. It gives the outcome and the amount exactly as the
//! reference evaluator would, or says it cannot: a decision that is unknown (the
//! pushes need the missing fields), in error, or about a policy the lowering does not
//! cover is [`Verdict::Unknown`] or [`Verdict::Deferred`], and the caller asks the
//! reference evaluator ([`super::evaluate_policy`]) for the full decision.

use super::lower::{CompiledPolicy, CompiledRules, Ctx, PerItem, Truth};
use super::row::{unpack_date, Cell, RowRef};
use crate::eval::ExtraValue;
use crate::semantics::Connective;
use rust_decimal::Decimal;
use std::ops::ControlFlow;

/// The compiled evaluator's word on one policy for one record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Every clause holds; the amount (when the policy has amount rules): the rule
    /// that gave it, its value, and its extras in [`FastDecider::extras`](super::FastDecider::extras).
    Eligible {
        /// Index of the amount rule used, and the amount.
        amount: Option<(usize, Decimal)>,
        /// Range of the extras of this decision in [`FastDecider::extras`](super::FastDecider::extras).
        extras: (u32, u32),
    },
    /// A clause is false (or the policy is not in force).
    NotEligible,
    /// Data is missing: the outcome is undetermined; the reference evaluator names
    /// the missing fields.
    Unknown,
    /// The reference evaluator must decide (an evaluation error, or a policy or case
    /// the compiled form does not cover).
    Deferred,
    /// The policy is about another subject kind.
    NotApplicable,
}

/// How the records of one subject kind are decided, worked out once per evaluator: the
/// verdicts and truths that are the same for every such record (policies about another
/// subject kind, left to the reference evaluator or not in force), and the policies
/// decided record by record.
struct Plan<'c> {
    verdicts: Vec<Verdict>,
    truths: Vec<Truth>,
    /// In decision order.
    runs: Vec<Run<'c>>,
}

/// A policy decided record by record.
struct Run<'c> {
    policy: usize,
    /// Another policy asks for its eligibility: its truth is kept.
    referenced: bool,
    policy_def: &'c CompiledPolicy,
}

/// Decides rows with a compiled rule set. Keep one per thread: it reuses its buffers.
pub struct RowEvaluator<'c> {
    compiled: &'c CompiledRules,
    /// Per subject kind.
    plans: Vec<Plan<'c>>,
    /// The subject kind whose constant verdicts and truths are in place.
    current: Option<usize>,
    memo: Vec<Option<Cell>>,
    locals: Vec<Cell>,
    truths: Vec<Truth>,
    verdicts: Vec<Verdict>,
    extras: Vec<(usize, Cell)>,
    /// Testing only: the next decision panics (in its first policy), so that the
    /// batch's handling of a panic in this tier can be seen at work.
    fault_injected: bool,
}

impl<'c> RowEvaluator<'c> {
    /// An evaluator of `compiled`.
    pub fn new(compiled: &'c CompiledRules) -> Self {
        let n = compiled.policies.len();
        let kinds = compiled.subjects.iter().max().map_or(0, |k| k + 1);
        let plans = (0..kinds)
            .map(|subject| {
                let mut plan = Plan {
                    verdicts: vec![Verdict::NotApplicable; n],
                    truths: vec![Truth::Error; n],
                    runs: vec![],
                };
                for &i in &compiled.order {
                    if compiled.subjects.get(i) != Some(&subject) {
                        continue;
                    }
                    let (Some(verdict), Some(truth), Some(policy)) = (
                        plan.verdicts.get_mut(i),
                        plan.truths.get_mut(i),
                        compiled.policies.get(i),
                    ) else {
                        continue;
                    };
                    match policy {
                        None => *verdict = Verdict::Deferred,
                        Some(p) if !p.in_force => {
                            *verdict = Verdict::NotEligible;
                            *truth = Truth::False;
                        }
                        Some(p) => plan.runs.push(Run {
                            policy: i,
                            referenced: compiled.referenced.get(i).copied().unwrap_or(false),
                            policy_def: p,
                        }),
                    }
                }
                plan
            })
            .collect();
        RowEvaluator {
            compiled,
            plans,
            current: None,
            memo: vec![None; compiled.lets.len()],
            locals: vec![Cell::None; compiled.locals],
            truths: vec![Truth::Error; n],
            verdicts: vec![Verdict::NotApplicable; n],
            extras: vec![],
            fault_injected: false,
        }
    }

    /// The verdicts of the last [`decide`](Self::decide), per policy in rule-set order.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// Decides every policy (rule-set order) for `row`; the verdicts are in
    /// [`verdicts`](Self::verdicts).
    pub fn decide<'r>(&mut self, row: impl Into<RowRef<'r>>) -> &[Verdict] {
        let row: RowRef<'r> = row.into();
        let Some(plan) = self.plans.get(row.subject) else {
            // A subject kind no policy is about.
            self.verdicts.fill(Verdict::NotApplicable);
            self.current = None;
            return &self.verdicts;
        };
        if self.current != Some(row.subject) {
            self.verdicts.copy_from_slice(&plan.verdicts);
            self.truths.copy_from_slice(&plan.truths);
            self.current = Some(row.subject);
        }
        if self.fault_injected {
            self.injected_panic();
        }
        self.memo.fill(None);
        self.extras.clear();
        let compiled = self.compiled;
        // One context for the whole record: the policies' definitions and truths live
        // side by side in it.
        let mut ctx = Ctx {
            row,
            lets: &compiled.lets,
            memo: &mut self.memo,
            locals: &mut self.locals,
            truths: &mut self.truths,
            steps: 0,
        };
        // The first runs each get their own copy of the deciding code, so that each
        // policy's clauses are called from a call site of their own, whose targets the
        // processor predicts apart from the other policies'.
        let (runs, verdicts, extras) = (&plan.runs[..], &mut self.verdicts, &mut self.extras);
        macro_rules! unrolled {
            ($($i:literal)*) => {
                $(
                    if let Some(run) = runs.get($i) {
                        run_one(run, &mut ctx, extras, verdicts);
                    }
                )*
            };
        }
        unrolled!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        for run in runs.iter().skip(16) {
            run_one(run, &mut ctx, extras, verdicts);
        }
        &self.verdicts
    }

    /// After [`decide`](Self::decide) panicked on `row`: decides its policies again,
    /// one at a time in the same order, and returns the first whose deciding panics
    /// (the policy at fault), `None` when none does. Only to name the policy in the
    /// error; the verdicts are left unspecified.
    pub fn policy_at_fault<'r>(&mut self, row: impl Into<RowRef<'r>>) -> Option<usize> {
        let row: RowRef<'r> = row.into();
        let plan = self.plans.get(row.subject)?;
        self.verdicts.copy_from_slice(&plan.verdicts);
        self.truths.copy_from_slice(&plan.truths);
        // Whatever a panic leaves behind is not reused by the next decide.
        self.current = None;
        self.memo.fill(None);
        self.extras.clear();
        let mut ctx = Ctx {
            row,
            lets: &self.compiled.lets,
            memo: &mut self.memo,
            locals: &mut self.locals,
            truths: &mut self.truths,
            steps: 0,
        };
        let (verdicts, extras) = (&mut self.verdicts, &mut self.extras);
        let mut fault = std::mem::take(&mut self.fault_injected);
        plan.runs.iter().find_map(|run| {
            let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if std::mem::take(&mut fault) {
                    injected_panic();
                }
                run_one(run, &mut ctx, extras, verdicts)
            }));
            decided.is_err().then_some(run.policy)
        })
    }

    /// After [`decide`](Self::decide) on `row`: how many clauses of policy `policy` are
    /// false, counting every clause (not only up to the first false one) and stopping
    /// at `limit`; `None` when this tier does not decide the policy clause by clause
    /// (left to the reference evaluator, not in force, per item, about another
    /// subject kind). A clause this tier cannot decide is not counted.
    pub fn false_clauses<'r>(
        &mut self,
        row: impl Into<RowRef<'r>>,
        policy: usize,
        limit: usize,
    ) -> Option<usize> {
        let row: RowRef<'r> = row.into();
        if self.current != Some(row.subject) {
            return None;
        }
        let compiled = self.compiled;
        let p = compiled.policies.get(policy)?.as_ref()?;
        if !p.in_force
            || p.per_item.is_some()
            || compiled.subjects.get(policy) != Some(&row.subject)
        {
            return None;
        }
        let mut ctx = Ctx {
            row,
            lets: &compiled.lets,
            memo: &mut self.memo,
            locals: &mut self.locals,
            truths: &mut self.truths,
            steps: 0,
        };
        let mut n = 0;
        for c in &p.clauses {
            if n >= limit {
                break;
            }
            if c.truth(&mut ctx) == Truth::False {
                n += 1;
            }
        }
        Some(n)
    }

    /// Testing only: the next [`decide`](Self::decide) (or
    /// [`policy_at_fault`](Self::policy_at_fault), in its first policy) panics.
    pub(crate) fn inject_fault(&mut self) {
        self.fault_injected = true;
    }

    #[cold]
    #[inline(never)]
    fn injected_panic(&mut self) -> ! {
        self.fault_injected = false;
        injected_panic()
    }

    /// The extras of an eligible verdict, as the outputs state them: (index of the
    /// extra in its amount rule, value).
    pub fn extras<'r>(
        &self,
        range: (u32, u32),
        row: impl Into<RowRef<'r>>,
    ) -> Vec<(usize, ExtraValue)> {
        let row: RowRef<'r> = row.into();
        let (start, len) = (range.0 as usize, range.1 as usize);
        self.extras
            .get(start..start + len)
            .unwrap_or(&[])
            .iter()
            .filter_map(|(k, c)| Some((*k, extra_value(*c, &row)?)))
            .collect()
    }
}

/// The panic of the batch's fault injection (testing only, never reached otherwise).
#[cold]
#[allow(clippy::panic)] // Deliberate: what the batch's panic handling is tested with.
fn injected_panic() -> ! {
    panic!("fault injected into the fast tier")
}

/// Decides one run's policy into its verdict, and keeps its truth when another policy
/// asks for it.
#[inline(always)]
fn run_one(
    run: &Run<'_>,
    ctx: &mut Ctx<'_>,
    extras: &mut Vec<(usize, Cell)>,
    verdicts: &mut [Verdict],
) {
    // The verdict is written in place and the truth returned apart: building a
    // verdict in a temporary and copying it stalls on store forwarding.
    let Some(out) = verdicts.get_mut(run.policy) else {
        return;
    };
    let truth = match &run.policy_def.per_item {
        None => decide_policy(run.policy_def, ctx, extras, out),
        Some(pi) => decide_items(run.policy_def, pi, ctx, out),
    };
    if run.referenced {
        if let Some(t) = ctx.truths.get_mut(run.policy) {
            *t = truth;
        }
    }
}

/// Decides one compiled policy into `out`; returns its truth as another policy's
/// `eligible(...)` sees it.
#[inline(always)]
fn decide_policy(
    p: &CompiledPolicy,
    ctx: &mut Ctx<'_>,
    extras: &mut Vec<(usize, Cell)>,
    out: &mut Verdict,
) -> Truth {
    // The clauses are joined by Kleene `and`: one false clause decides, whatever the
    // others are.
    let mut whole = Connective::And.identity();
    macro_rules! clause {
        ($clause:expr) => {
            match Connective::And.step(whole, $clause.truth(ctx)) {
                ControlFlow::Continue(w) => whole = w,
                ControlFlow::Break(_) => {
                    *out = Verdict::NotEligible;
                    return Truth::False;
                }
            }
        };
    }
    // The first two clauses called from call sites of their own (written out, not
    // looped, so that each stays a call site of its own).
    let mut rest = &p.clauses[..];
    if let [c, tail @ ..] = rest {
        clause!(c);
        rest = tail;
    }
    if let [c, tail @ ..] = rest {
        clause!(c);
        rest = tail;
    }
    for c in rest {
        clause!(c);
    }
    match whole {
        Truth::Error => return defer(out),
        Truth::Unknown => return unknown_data(out),
        _ => {}
    }
    if p.amounts.is_empty() {
        *out = Verdict::Eligible {
            amount: None,
            extras: (0, 0),
        };
        return Truth::True;
    }
    for (k, a) in p.amounts.iter().enumerate() {
        if let Some(g) = &a.guard {
            match g.truth(ctx) {
                Truth::True => {}
                Truth::Unknown => return unknown_data(out),
                Truth::Error => return defer(out),
                Truth::False => continue,
            }
        }
        let value = a.value.eval(ctx);
        if matches!(value, Cell::Error) {
            return defer(out);
        }
        let start = extras.len();
        let mut unknown = matches!(value, Cell::Unknown);
        for (x, e) in a.extras.iter().enumerate() {
            match e.eval(ctx) {
                Cell::Error => return defer(out),
                Cell::Unknown => unknown = true,
                Cell::None => {}
                // Extras the outputs render from the schema are left to the reference.
                Cell::Enum(_) | Cell::List(..) | Cell::Rec(_) => return defer(out),
                v => extras.push((x, v)),
            }
        }
        if unknown {
            return unknown_data(out);
        }
        let Some(amount) = whole_cents(value) else {
            return defer(out);
        };
        *out = Verdict::Eligible {
            amount: Some((k, amount)),
            extras: (start as u32, (extras.len() - start) as u32),
        };
        return Truth::True;
    }
    // No amount rule applies: an evaluation error.
    defer(out)
}

/// A per-item policy: not eligible when no item is a sub-subject that is not "not
/// eligible"; any other case (an item eligible or undetermined, an error) goes to the
/// reference evaluator, which decides and lays out every item.
fn decide_items(p: &CompiledPolicy, pi: &PerItem, ctx: &mut Ctx<'_>, out: &mut Verdict) -> Truth {
    let (start, len) = match pi.list.eval(ctx) {
        Cell::List(s, l) => (s, l),
        Cell::None => (0, 0),
        Cell::Unknown => return unknown_data(out),
        _ => return defer(out),
    };
    if !super::lower::charge(ctx, pi.limit, len, pi.weight) {
        return defer(out);
    }
    let (first, n) = p.lets;
    'items: for k in start..start + len {
        let item = ctx.row.cell(k as usize);
        ctx.set_local(pi.slot, item);
        // Each item is decided in a fresh frame.
        ctx.forget(first, n);
        if let Some(f) = &pi.filter {
            match f.truth(ctx) {
                // Unknown whether it is one: not eligible all the same if a clause
                // fails; otherwise undetermined, for the reference to explain.
                Truth::True | Truth::Unknown => {}
                Truth::Error => return defer(out),
                // Not a sub-subject.
                Truth::False => continue,
            }
        }
        for clause in &p.clauses {
            if clause.truth(ctx) == Truth::False {
                continue 'items;
            }
        }
        // This item is not "not eligible": the reference decides the policy.
        return defer(out);
    }
    *out = Verdict::NotEligible;
    Truth::False
}

/// An amount as a decimal, when it is a whole number of cents (otherwise the
/// reference evaluator decides, and reports it).
#[inline]
fn whole_cents(value: Cell) -> Option<Decimal> {
    match value {
        // Money read or computed at two places or fewer: no normalising needed.
        Cell::Fixed(m, s) if s <= 2 => Some(Decimal::new(m, u32::from(s))),
        Cell::Int(i) => Some(Decimal::from(i)),
        _ => value.decimal().filter(|d| d.normalize().scale() <= 2),
    }
}

fn defer(out: &mut Verdict) -> Truth {
    *out = Verdict::Deferred;
    Truth::Error
}

fn unknown_data(out: &mut Verdict) -> Truth {
    *out = Verdict::Unknown;
    Truth::Unknown
}

fn extra_value(c: Cell, row: &RowRef<'_>) -> Option<ExtraValue> {
    Some(match c {
        Cell::Int(i) => ExtraValue::Int(i),
        Cell::Fixed(..) | Cell::Dec(_) => ExtraValue::Decimal(c.decimal()?),
        Cell::Bool(b) => ExtraValue::Bool(b),
        Cell::Str(s, l) => ExtraValue::Text(row.str(s, l).to_string()),
        Cell::Date(p) => ExtraValue::Text(unpack_date(p)?.to_string()),
        _ => return None,
    })
}
