//! Lowering the checked program to closures over the flat row layout, bound to one
//! reference date: the form the nightly batch runs.
//!
//! Every field read is a constant cell offset, every parameter a constant, every date
//! computed from `ref` alone (`within_last`, `ref - 3 years`) is computed once here, and
//! values are plain [`Cell`]s: nothing is looked up by name, allocated or re-parsed per
//! record. The closures follow the reference evaluator ([`crate::eval`]) operator by
//! operator, with one simplification: an unknown value carries no list of missing
//! fields, and whatever the closures cannot give exactly (an evaluation error, a
//! construct they do not cover) is [`Cell::Error`]. A decision that comes out unknown
//! or in error is then made again by the reference evaluator, which explains it; a
//! policy with a construct the lowering does not cover at all is left to the reference
//! evaluator for every record.

use super::row::{
    date_parts, pack_date, unpack_date, value_cell, Cell, PackedDecimal, RowLayout, RowRef,
};
use crate::compile::RuleSet;
use crate::ir::{AmountGuard, Brackets, Builtin, DateUnit, Expr, Pat, ScaleOp, Ty};
use crate::semantics::calendar;
use crate::semantics::number;
use crate::semantics::quantifier::{Aggregate, Aggregated, Quantified, Quantify, Step, Values};
use crate::semantics::Connective;
pub use crate::semantics::Truth;
use crate::syntax::ast::{ArithOp, CmpOp, Quantifier};
use crate::value::Value;
use chrono::NaiveDate;
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::ops::ControlFlow;
use std::sync::Arc;

/// A compiled expression.
///
/// Its closure returns the value as a [`Word`] pair, which the calling convention
/// passes back in two registers; a [`Cell`] (an enum of 16 bytes that is not a pair
/// of scalars) would be written to memory by the callee and read back by the caller.
pub struct Node(Box<dyn Fn(&mut Ctx<'_>) -> Word + Send + Sync>);

impl Node {
    /// A node computing `f`.
    pub fn new<F>(f: F) -> Node
    where
        F: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
    {
        Node(Box::new(move |c| Word::from(f(c))))
    }

    /// The node's value for the record in `c`.
    #[inline(always)]
    pub fn eval(&self, c: &mut Ctx<'_>) -> Cell {
        (self.0)(c).cell()
    }

    /// The node's value as a truth (any known value but `true` is false), without
    /// decoding the cell.
    #[inline(always)]
    pub fn truth(&self, c: &mut Ctx<'_>) -> Truth {
        (self.0)(c).truth()
    }
}

/// A [`Cell`] as two machine words: the variant (and a small payload) in the first,
/// the main payload in the second.
#[derive(Clone, Copy)]
pub struct Word(u64, u64);

impl From<Cell> for Word {
    #[inline(always)]
    fn from(c: Cell) -> Word {
        match c {
            Cell::Unknown => Word(0, 0),
            Cell::Error => Word(1, 0),
            Cell::None => Word(2, 0),
            Cell::Bool(b) => Word(3 | u64::from(b) << 8, 0),
            Cell::Int(i) => Word(4, i as u64),
            Cell::Fixed(m, s) => Word(5 | u64::from(s) << 8, m as u64),
            Cell::Dec(d) => {
                let (hi, lo) = d.words();
                Word(6 | hi << 8, lo)
            }
            Cell::Date(d) => Word(7, u64::from(d as u32)),
            Cell::Enum(e) => Word(8 | u64::from(e) << 8, 0),
            Cell::Str(s, l) => Word(9, u64::from(s) | u64::from(l) << 32),
            Cell::List(s, l) => Word(10, u64::from(s) | u64::from(l) << 32),
            Cell::Rec(b) => Word(11, u64::from(b)),
        }
    }
}

impl Word {
    /// The value as a truth: `true`, unknown, an error, or false (any other value).
    #[inline(always)]
    pub fn truth(self) -> Truth {
        match self.0 {
            0x103 => Truth::True,
            0 => Truth::Unknown,
            1 => Truth::Error,
            _ => Truth::False,
        }
    }

    /// The cell.
    #[inline(always)]
    pub fn cell(self) -> Cell {
        let Word(a, b) = self;
        match a as u8 {
            0 => Cell::Unknown,
            2 => Cell::None,
            3 => Cell::Bool(a >> 8 & 1 != 0),
            4 => Cell::Int(b as i64),
            5 => Cell::Fixed(b as i64, (a >> 8) as u8),
            6 => Cell::Dec(PackedDecimal::from_words(a >> 8, b)),
            7 => Cell::Date(b as u32 as i32),
            8 => Cell::Enum((a >> 8) as u16),
            9 => Cell::Str(b as u32, (b >> 32) as u32),
            10 => Cell::List(b as u32, (b >> 32) as u32),
            11 => Cell::Rec(b as u32),
            _ => Cell::Error,
        }
    }
}

/// `$make(read)`, where `read` reads the value of `$v` in place when it is a field (of
/// the row or of an item) and calls its node otherwise; `$make` is expanded once per
/// kind of reader, so that each node gets its own reader inlined. With `access`, the
/// field is already known.
macro_rules! reading {
    (access $f:expr, $make:expr) => {
        match $f {
            Access::Cell(at) => ($make)(move |c: &mut Ctx<'_>| c.row.cell(at)),
            Access::Item { slot, off } => ($make)(move |c: &mut Ctx<'_>| item_field(c, slot, off)),
        }
    };
    ($lower:expr, $v:expr, $sc:expr, $make:expr) => {
        match $lower.access($v, $sc) {
            Some(f) => reading!(access f, $make),
            None => {
                let v = $lower.expr($v, $sc)?;
                ($make)(move |c: &mut Ctx<'_>| v.eval(c))
            }
        }
    };
}

/// What a compiled expression reads while it runs.
pub struct Ctx<'a> {
    /// The record.
    pub row: RowRef<'a>,
    /// The definitions of every compiled policy.
    pub lets: &'a [Node],
    /// Their values, once computed for this record.
    pub memo: &'a mut [Option<Cell>],
    /// Item variables.
    pub locals: &'a mut [Cell],
    /// Per policy: its decision as a truth value, once decided for this record.
    pub truths: &'a mut [Truth],
    /// The charge so far for the record's list items: per item visited, at least the
    /// steps the reference evaluator counts for it.
    pub steps: u64,
}

impl Ctx<'_> {
    /// An item variable's value (an error for a slot the lowering never gave out).
    #[inline(always)]
    pub fn local(&self, slot: usize) -> Cell {
        self.locals.get(slot).copied().unwrap_or(Cell::Error)
    }

    /// Sets an item variable.
    #[inline(always)]
    pub fn set_local(&mut self, slot: usize, v: Cell) {
        if let Some(l) = self.locals.get_mut(slot) {
            *l = v;
        }
    }

    /// Forgets the `n` definitions from slot `first` (a new call or item).
    #[inline(always)]
    pub fn forget(&mut self, first: usize, n: usize) {
        if let Some(m) = self.memo.get_mut(first..first + n) {
            m.fill(None);
        }
    }

    /// Another policy's decision as a truth, once decided for this record.
    #[inline(always)]
    pub fn policy_truth(&self, p: usize) -> Truth {
        self.truths.get(p).copied().unwrap_or(Truth::Error)
    }
}

/// The truth of cells: a policy's decision as `eligible(...)` reads it is one byte,
/// so that writing it per policy per record is one store.
impl Truth {
    /// A value as a truth: `true`, unknown, an error, or false (any other value).
    #[inline(always)]
    pub(crate) fn of(c: Cell) -> Truth {
        match c {
            Cell::Bool(true) => Truth::True,
            Cell::Unknown => Truth::Unknown,
            Cell::Error => Truth::Error,
            _ => Truth::False,
        }
    }

    /// The truth as a value.
    #[inline(always)]
    pub(crate) fn cell(self) -> Cell {
        match self {
            Truth::True => Cell::Bool(true),
            Truth::False => Cell::Bool(false),
            Truth::Unknown => Cell::Unknown,
            Truth::Error => Cell::Error,
        }
    }
}

/// The rule set lowered for one reference date.
pub struct CompiledRules {
    /// The row layout the closures read.
    pub layout: RowLayout,
    /// The reference date.
    pub ref_date: NaiveDate,
    /// Per policy (rule-set order): its compiled form, or `None` when the reference
    /// evaluator decides it.
    pub policies: Vec<Option<CompiledPolicy>>,
    /// Policy indexes in the order they are decided: every policy after those whose
    /// eligibility it asks.
    pub order: Vec<usize>,
    /// Definitions, all policies' together.
    pub lets: Vec<Node>,
    /// Item variable slots, all policies' together.
    pub locals: usize,
    /// Per policy: its subject kind.
    pub subjects: Vec<usize>,
    /// Per policy left to the reference evaluator: the construct that keeps it out.
    pub uncompiled: Vec<&'static str>,
    /// Per policy: whether a compiled policy asks for its eligibility (so that its
    /// truth must be kept for each record).
    pub referenced: Vec<bool>,
}

/// Charges `n` list items of `weight` steps each; `false` past the limit.
#[inline(always)]
pub(super) fn charge(c: &mut Ctx<'_>, limit: u64, n: u32, weight: u64) -> bool {
    c.steps = c.steps.saturating_add(u64::from(n).saturating_mul(weight));
    c.steps <= limit
}

/// The steps the reference evaluator may count evaluating `e` once (list items aside):
/// its nodes, with the nodes of the functions it calls.
fn static_size(e: &Expr, inline: &[usize]) -> u64 {
    let mut n = 0u64;
    e.walk(&mut |x| {
        n = n.saturating_add(1);
        if let Expr::Function(f, _) = x {
            n = n.saturating_add(inline.get(*f).copied().unwrap_or(usize::MAX) as u64);
        }
    });
    n
}

/// The static size of a whole policy (every expression it has).
fn policy_size(p: &crate::ir::PolicyDef, inline: &[usize]) -> u64 {
    let mut n = 0u64;
    let mut add = |e: &Expr| n = n.saturating_add(static_size(e, inline));
    p.lets.iter().for_each(|l| add(&l.value));
    p.clauses.iter().for_each(|c| add(&c.condition));
    for a in &p.amounts {
        add(&a.value);
        if let AmountGuard::When(g) = &a.guard {
            add(g);
        }
        a.extras.iter().for_each(|(_, e)| add(e));
    }
    p.reports.iter().for_each(|(_, e)| add(e));
    if let Some(pi) = &p.per_item {
        add(&pi.list);
        if let Some(f) = &pi.filter {
            add(f);
        }
    }
    n
}

/// A policy lowered.
pub struct CompiledPolicy {
    /// In force on the reference date.
    pub in_force: bool,
    /// Clause conditions, cheapest first.
    pub clauses: Vec<Clause>,
    /// Amount rules, in order.
    pub amounts: Vec<CompiledAmount>,
    /// The first definition slot of the policy and how many it has.
    pub lets: (usize, usize),
    /// For a per-item policy (`for each`): the items and which are sub-subjects. The
    /// compiled form says only "not eligible" (no item is) and leaves everything else
    /// to the reference evaluator.
    pub per_item: Option<PerItem>,
}

/// A clause's condition lowered: a yes/no field of the row is read in place.
pub struct Clause(ClauseKind);

enum ClauseKind {
    Field(usize),
    Node(Node),
}

impl Clause {
    /// Whether the condition holds for the record in `c`.
    #[inline(always)]
    pub fn truth(&self, c: &mut Ctx<'_>) -> Truth {
        match &self.0 {
            ClauseKind::Field(at) => Truth::of(c.row.cell(*at)),
            ClauseKind::Node(n) => n.truth(c),
        }
    }
}

/// The items of a per-item policy.
pub struct PerItem {
    /// The list.
    pub list: Node,
    /// Which items are sub-subjects.
    pub filter: Option<Node>,
    /// The item variable's slot.
    pub slot: usize,
    /// Steps charged per item: the policy's static size.
    pub weight: u64,
    /// The most steps a record may charge.
    pub limit: u64,
}

/// An amount rule lowered.
pub struct CompiledAmount {
    /// Its guard, when it has one.
    pub guard: Option<Node>,
    /// Its value.
    pub value: Node,
    /// Its stated extras, in order.
    pub extras: Vec<Node>,
}

impl std::fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRules")
            .field("ref_date", &self.ref_date)
            .field(
                "compiled",
                &self
                    .policies
                    .iter()
                    .map(Option::is_some)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CompiledRules {
    /// Lowers `rules` for `ref_date`, with the default budget of evaluation steps.
    pub fn new(rules: &RuleSet, ref_date: NaiveDate) -> Self {
        Self::with_budget(rules, ref_date, crate::eval::DEFAULT_BUDGET)
    }

    /// Lowers `rules` for `ref_date`, for the budget of evaluation steps per decision.
    pub fn with_budget(rules: &RuleSet, ref_date: NaiveDate, budget: u64) -> Self {
        Self::with_fields(rules, ref_date, budget, rules.used_fields.clone())
    }

    /// [`with_budget`](Self::with_budget), rows holding the fields `used` marks (per
    /// record type, per field: at least those the rules read).
    pub fn with_fields(
        rules: &RuleSet,
        ref_date: NaiveDate,
        budget: u64,
        used: Vec<Vec<bool>>,
    ) -> Self {
        let inline_sizes = inline_sizes(rules);
        let total: u64 = rules
            .program
            .policies
            .iter()
            .map(|p| policy_size(p, &inline_sizes))
            .fold(0u64, u64::saturating_add);
        let limit = budget.saturating_sub(total);
        let layout = RowLayout::new(&rules.schema, used);
        let n = rules.program.policies.len();
        let mut out = CompiledRules {
            layout,
            ref_date,
            policies: (0..n).map(|_| None).collect(),
            order: decision_order(rules),
            lets: vec![],
            locals: 0,
            subjects: rules.program.policies.iter().map(|p| p.subject).collect(),
            uncompiled: vec![""; n],
            referenced: vec![false; n],
        };
        for &index in &out.order {
            let Some(p) = rules.program.policies.get(index) else {
                continue;
            };
            let scope = Scope {
                lets: out.lets.len(),
                locals: out.locals,
                defs: &p.lets,
            };
            let mut lower = Lower {
                rules,
                layout: &out.layout,
                ref_date,
                compiled: &out.policies,
                why: None,
                lets: vec![],
                locals: p.locals,
                depth: 0,
                base: (scope.lets, scope.locals),
                inline_sizes: &inline_sizes,
                limit,
                inlined: 0,
                refs: vec![],
            };
            let lowered = lower.policy(p, &scope);
            let refs = std::mem::take(&mut lower.refs);
            match lowered {
                Some((lets, mut c)) => {
                    c.lets = (scope.lets, lets.len());
                    out.lets.extend(lets);
                    out.locals += lower.locals;
                    if let Some(slot) = out.policies.get_mut(index) {
                        *slot = Some(c);
                    }
                    for r in refs {
                        if let Some(slot) = out.referenced.get_mut(r) {
                            *slot = true;
                        }
                    }
                }
                None => {
                    if let Some(slot) = out.uncompiled.get_mut(index) {
                        *slot = lower.why.unwrap_or("a value it does not cover");
                    }
                }
            }
        }
        out
    }

    /// Whether the policy with this index is compiled (otherwise the reference evaluator
    /// decides it).
    pub fn is_compiled(&self, policy: usize) -> bool {
        self.policies.get(policy).is_some_and(Option::is_some)
    }
}

/// Policies ordered so that each comes after the policies it refers to; policies in a
/// cycle of references come last (their references are not compiled).
fn decision_order(rules: &RuleSet) -> Vec<usize> {
    let policies = &rules.program.policies;
    let deps: Vec<Vec<usize>> = policies
        .iter()
        .map(|p| {
            let mut refs = vec![];
            let mut note = |e: &Expr| {
                if let Expr::PolicyRef(q) = e {
                    refs.push(*q);
                }
            };
            p.lets.iter().for_each(|l| l.value.walk(&mut note));
            p.clauses.iter().for_each(|c| c.condition.walk(&mut note));
            for a in &p.amounts {
                a.value.walk(&mut note);
                if let AmountGuard::When(g) = &a.guard {
                    g.walk(&mut note);
                }
                a.extras.iter().for_each(|(_, e)| e.walk(&mut note));
            }
            refs
        })
        .collect();
    // Depth first without recursion (references chain as deep as the rules allow):
    // a policy is placed once every policy it refers to is. A policy in a cycle is
    // placed too; its reference to a policy not yet compiled keeps it out of the
    // compiled form.
    let mut seen = vec![false; policies.len()];
    let mut order = vec![];
    for start in 0..policies.len() {
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if expanded {
                order.push(i);
                continue;
            }
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            stack.push((i, true));
            let refs = deps.get(i).map_or(&[][..], Vec::as_slice);
            stack.extend(refs.iter().rev().map(|&d| (d, false)));
        }
    }
    order
}

/// The most expression nodes the functions inlined into one policy may make.
const INLINE_BUDGET: usize = 50_000;

/// Per function: the expression nodes one inlined call makes, its callees' included
/// (saturating; the checker refuses recursion, so the call graph is acyclic).
fn inline_sizes(rules: &RuleSet) -> Vec<usize> {
    let functions = &rules.program.functions;
    let mut sizes: Vec<Option<usize>> = vec![None; functions.len()];
    // Iterative depth-first order over the call graph: a function's size once its
    // callees' are known.
    for start in 0..functions.len() {
        let mut stack = vec![(start, false)];
        while let Some((f, expanded)) = stack.pop() {
            let (Some(None), Some(def)) = (sizes.get(f), functions.get(f)) else {
                continue;
            };
            let mut calls = vec![];
            let mut nodes = 0usize;
            for e in def.lets.iter().map(|l| &l.value).chain([&def.body]) {
                e.walk(&mut |x| {
                    nodes += 1;
                    if let Expr::Function(g, _) = x {
                        calls.push(*g);
                    }
                });
            }
            let pending: Vec<usize> = calls
                .iter()
                .copied()
                .filter(|&g| g != f && matches!(sizes.get(g), Some(None)))
                .collect();
            if !pending.is_empty() && !expanded {
                stack.push((f, true));
                stack.extend(pending.into_iter().map(|g| (g, false)));
                continue;
            }
            let total = calls.iter().fold(nodes, |n, &g| {
                n.saturating_add(sizes.get(g).copied().flatten().unwrap_or(usize::MAX))
            });
            if let Some(size) = sizes.get_mut(f) {
                *size = Some(total);
            }
        }
    }
    sizes.into_iter().map(|s| s.unwrap_or(usize::MAX)).collect()
}

/// A rough cost of evaluating an expression: its nodes, with list operations and
/// calls weighted (a definition counts once, where it is defined).
fn cost(e: &Expr, defs: &[crate::ir::LetDef]) -> usize {
    let mut n = 0;
    e.walk(&mut |x| {
        n += match x {
            Expr::Quant { .. } => 8,
            Expr::Function(..) | Expr::PolicyRef(_) => 8,
            Expr::Let(i) => defs.get(*i).map_or(1, |d| {
                if matches!(d.value, Expr::Quant { .. }) {
                    8
                } else {
                    2
                }
            }),
            _ => 1,
        }
    });
    n
}

/// Where a policy's definitions and item variables start in the shared slots.
struct Scope<'d> {
    lets: usize,
    locals: usize,
    /// The definitions of the body (policy or function) being lowered.
    defs: &'d [crate::ir::LetDef],
}

struct Lower<'a> {
    rules: &'a RuleSet,
    layout: &'a RowLayout,
    ref_date: NaiveDate,
    compiled: &'a [Option<CompiledPolicy>],
    /// The first construct the lowering does not cover.
    why: Option<&'static str>,
    /// The policy's definition slots so far (its own, then those of inlined
    /// functions), relative to its first slot.
    lets: Vec<Option<Node>>,
    /// Item variable slots the policy uses so far (its own, then those of inlined
    /// functions).
    locals: usize,
    /// Functions being inlined.
    depth: usize,
    /// The policy's first definition slot and first item-variable slot in the shared
    /// slots: an inlined function's slots follow the policy's own (and those of the
    /// functions inlined before it), whatever scope the call is made from.
    base: (usize, usize),
    /// Per function: the number of expression nodes one inlined call of it makes
    /// (its callees' included, saturating).
    inline_sizes: &'a [usize],
    /// The most [`Ctx::steps`] a record may charge before a list operation gives an
    /// error (and its policies go to the reference evaluator, which reports the
    /// budget): the budget of evaluation steps less every policy's static size. The
    /// charge of a list operation is its items times the nodes evaluated per item, an
    /// upper bound of the reference's count; with the static size of the rest, a
    /// record this tier decides within its limit is within the reference's budget.
    limit: u64,
    /// Expression nodes inlined into the policy so far.
    inlined: usize,
    /// The policies whose eligibility the lowered policy asks.
    refs: Vec<usize>,
}

impl Lower<'_> {
    fn policy(
        &mut self,
        p: &crate::ir::PolicyDef,
        sc: &Scope<'_>,
    ) -> Option<(Vec<Node>, CompiledPolicy)> {
        // The policy's own slots first: the functions its definitions inline take the
        // slots after them.
        self.lets = (0..p.lets.len()).map(|_| None).collect();
        for (i, l) in p.lets.iter().enumerate() {
            let node = self.expr(&l.value, sc)?;
            *self.lets.get_mut(i)? = Some(node);
        }
        // One false clause decides and the others then do not matter, so the cheapest
        // clauses go first.
        let mut order: Vec<&crate::ir::ClauseDef> = p.clauses.iter().collect();
        order.sort_by_key(|c| cost(&c.condition, sc.defs));
        let clauses = order
            .into_iter()
            .map(|c| match self.access(&c.condition, sc) {
                Some(Access::Cell(at)) => Some(Clause(ClauseKind::Field(at))),
                _ => Some(Clause(ClauseKind::Node(self.expr(&c.condition, sc)?))),
            })
            .collect::<Option<Vec<_>>>()?;
        let per_item = match &p.per_item {
            Some(pi) => Some(PerItem {
                list: self.expr(&pi.list, sc)?,
                filter: match &pi.filter {
                    Some(f) => Some(self.expr(f, sc)?),
                    None => None,
                },
                slot: sc.locals + pi.var,
                weight: 1 + policy_size(p, self.inline_sizes),
                limit: self.limit,
            }),
            None => None,
        };
        let mut amounts = vec![];
        // A per-item policy's amounts are left to the reference evaluator, which also
        // lays out its per-item decision.
        for a in p.amounts.iter().filter(|_| per_item.is_none()) {
            amounts.push(CompiledAmount {
                guard: match &a.guard {
                    AmountGuard::Always => None,
                    AmountGuard::When(g) => Some(self.expr(g, sc)?),
                },
                value: self.expr(&a.value, sc)?,
                extras: a
                    .extras
                    .iter()
                    .map(|(_, e)| self.expr(e, sc))
                    .collect::<Option<Vec<_>>>()?,
            });
        }
        let in_force = p.in_force(self.ref_date);
        let lets = std::mem::take(&mut self.lets)
            .into_iter()
            .map(|l| l.unwrap_or_else(|| konst(Cell::Error)))
            .collect();
        Some((
            lets,
            CompiledPolicy {
                per_item,
                in_force,
                clauses,
                amounts,
                lets: (0, 0),
            },
        ))
    }

    /// A user function, inlined: its parameters and item variables get slots of their
    /// own at this call, and its definitions memo slots that each call clears (the
    /// reference evaluator gives every call a fresh frame).
    fn function(&mut self, f: usize, args: &[Expr], sc: &Scope<'_>) -> Option<Node> {
        if self.depth >= 16 {
            return self.unsupported("functions nested too deeply");
        }
        let def = self.rules.program.functions.get(f)?;
        // Each call is inlined on its own, so functions that call functions several
        // times multiply: past the budget the policy is left to the reference evaluator.
        // (A top-level call's size includes the calls inside it.)
        if self.depth == 0 {
            self.inlined = self
                .inlined
                .saturating_add(self.inline_sizes.get(f).copied().unwrap_or(usize::MAX));
        }
        if self.inlined > INLINE_BUDGET {
            return self.unsupported("functions too large to inline");
        }
        let args = args
            .iter()
            .map(|a| self.expr(a, sc))
            .collect::<Option<Vec<_>>>()?;
        let fsc = Scope {
            lets: self.base.0 + self.lets.len(),
            locals: self.base.1 + self.locals,
            defs: &def.lets,
        };
        let first_let = self.lets.len();
        self.lets.extend((0..def.lets.len()).map(|_| None));
        self.locals += def.locals;
        self.depth += 1;
        for (i, l) in def.lets.iter().enumerate() {
            let node = self.expr(&l.value, &fsc);
            *self.lets.get_mut(first_let + i)? = Some(node?);
        }
        let body = self.expr(&def.body, &fsc);
        self.depth -= 1;
        let body = body?;
        let (memo, n, locals) = (fsc.lets, def.lets.len(), fsc.locals);
        Some(Node::new(move |c| {
            // Arguments are evaluated first, all of them (an error in any is the call's).
            for (i, a) in args.iter().enumerate() {
                let v = a.eval(c);
                if matches!(v, Cell::Error) {
                    return v;
                }
                c.set_local(locals + i, v);
            }
            c.forget(memo, n);
            body.eval(c)
        }))
    }

    /// The value of a literal, or of a parameter on the reference date.
    fn constant(&self, e: &Expr) -> Option<Cell> {
        match e {
            Expr::Const(Some(v)) => value_cell(v),
            Expr::Const(None) => Some(Cell::None),
            Expr::Param(p, None) => Some(
                self.rules
                    .program
                    .params
                    .get(*p)?
                    .value_on(self.ref_date)
                    .map_or(Some(Cell::Error), value_cell)?,
            ),
            _ => None,
        }
    }

    fn unsupported<T>(&mut self, what: &'static str) -> Option<T> {
        self.why.get_or_insert(what);
        None
    }

    fn ref_packed(&self) -> Option<i32> {
        pack_date(self.ref_date)
    }

    /// Lowers an operand: a leaf in place, anything else as a node.
    fn operand(&mut self, e: &Expr, sc: &Scope<'_>) -> Option<Operand> {
        if let Some(k) = self.constant(e) {
            return Some(Operand::Const(k));
        }
        if let Some(a) = self.access(e, sc) {
            return Some(Operand::Read(a));
        }
        if let Expr::Let(i) = e {
            return Some(Operand::Let(sc.lets + i));
        }
        Some(Operand::Node(self.expr(e, sc)?))
    }

    /// Lowers an expression; `None` when the lowering does not cover it.
    fn expr(&mut self, e: &Expr, sc: &Scope<'_>) -> Option<Node> {
        // Lowering recurses as deep as the rules nest; on a host's thread with little
        // stack left it continues on the heap.
        stacker::maybe_grow(
            crate::check::STACK_RED_ZONE,
            crate::check::STACK_GROWTH,
            || self.expr_node(e, sc),
        )
    }

    fn expr_node(&mut self, e: &Expr, sc: &Scope<'_>) -> Option<Node> {
        Some(match e {
            Expr::Const(None) => konst(Cell::None),
            Expr::Const(Some(v)) => match value_cell(v) {
                Some(c) => konst(c),
                None => return self.unsupported("a text or list constant"),
            },
            Expr::Duration(..) => konst(Cell::Error),
            Expr::Ref => konst(Cell::Date(self.ref_packed()?)),
            Expr::Root => konst(Cell::Rec(0)),
            Expr::Local(i) => {
                let slot = sc.locals + i;
                Node::new(move |c| c.local(slot))
            }
            Expr::Let(i) => {
                let slot = sc.lets + i;
                Node::new(move |c| let_value(c, slot))
            }
            Expr::Field {
                base,
                record,
                index,
                ..
            } => self.field(base, *record, *index, sc)?,
            Expr::Call(b, args) => self.builtin(*b, args, sc)?,
            Expr::Function(f, args) => self.function(*f, args, sc)?,
            Expr::MemberRef(_) => return self.unsupported("a bundle member"),
            Expr::Param(_, None) => konst(self.constant(e)?),
            Expr::Param(p, Some(d)) => {
                // The dated steps, packed once: (from, to, value).
                let steps = self
                    .rules
                    .program
                    .params
                    .get(*p)?
                    .steps
                    .iter()
                    .map(|s| {
                        // A step declared absent reads as an error, as no step does.
                        let v = match &s.value {
                            Some(v) => value_cell(v)?,
                            None => Cell::Error,
                        };
                        Some((pack_date(s.from)?, packed_end(s.to)?, v))
                    })
                    .collect::<Option<Vec<(i32, Option<i32>, Cell)>>>()?;
                let d = self.expr(d, sc)?;
                Node::new(move |c| match d.eval(c) {
                    Cell::Date(p) => steps
                        .iter()
                        .find(|(from, to, _)| *from <= p && to.is_none_or(|t| p <= t))
                        .map_or(Cell::Error, |s| s.2),
                    other => strict_one(other),
                })
            }
            Expr::Scale { op, scale, x, at } => self.scale(*op, *scale, x, at.as_deref(), sc)?,
            Expr::PolicyAmount(_) => return self.unsupported("amount() of another policy"),
            Expr::PolicyItem { .. } => {
                return self.unsupported("one item's decision of another policy")
            }
            Expr::PolicyRef(p) => {
                // Compiled, and so decided before this policy.
                if !self.compiled.get(*p).is_some_and(Option::is_some) {
                    return self.unsupported("eligible() of a policy left to the reference");
                }
                let p = *p;
                self.refs.push(p);
                Node::new(move |c| c.policy_truth(p).cell())
            }
            Expr::Neg(x) => {
                let x = self.expr(x, sc)?;
                Node::new(move |c| match x.eval(c) {
                    Cell::Int(i) => i.checked_neg().map_or(Cell::Error, Cell::Int),
                    Cell::Fixed(m, s) if m != 0 => Cell::Fixed(-m, s),
                    d @ (Cell::Fixed(..) | Cell::Dec(_)) => {
                        d.decimal().map_or(Cell::Error, |d| Cell::dec(-d))
                    }
                    other => strict_one(other),
                })
            }
            Expr::Arith(op, a, b, ty) => {
                let (op, int) = (*op, *ty == Ty::Int);
                let a = self.operand(a, sc)?;
                let b = self.operand(b, sc)?;
                // One closure per operator, in which `arith` is specialised to it; the
                // operands read as `operands` reads them, written out (docs/performance.md).
                macro_rules! node {
                    ($op:expr) => {
                        Node::new(move |c| {
                            let x = a.get(c);
                            if matches!(x, Cell::Error) {
                                return x;
                            }
                            arith($op, x, b.get(c), int)
                        })
                    };
                }
                match op {
                    ArithOp::Add => node!(ArithOp::Add),
                    ArithOp::Sub => node!(ArithOp::Sub),
                    ArithOp::Mul => node!(ArithOp::Mul),
                    ArithOp::Div => node!(ArithOp::Div),
                }
            }
            Expr::DateShift(d, dur, minus) => {
                let Expr::Duration(n, unit) = &**dur else {
                    return None;
                };
                let (n, unit) = (if *minus { -n } else { *n }, *unit);
                if let Expr::Ref = &**d {
                    return Some(konst(
                        shift(self.ref_packed()?, n, unit).map_or(Cell::Error, Cell::Date),
                    ));
                }
                let d = self.expr(d, sc)?;
                Node::new(move |c| match d.eval(c) {
                    Cell::Date(p) => shift(p, n, unit).map_or(Cell::Error, Cell::Date),
                    other => strict_one(other),
                })
            }
            Expr::Not(x) => {
                let x = self.expr(x, sc)?;
                Node::new(move |c| (!x.truth(c)).cell())
            }
            Expr::And(xs) => self.kleene(xs, Connective::And, sc)?,
            Expr::Or(xs) => self.kleene(xs, Connective::Or, sc)?,
            Expr::Compare(op, a, b) => self.compare(*op, a, b, sc)?,
            Expr::InSet(v, items, negated) => self.in_set(v, items, *negated, sc)?,
            Expr::InRange(v, lo, hi, negated) => self.in_range(v, lo, hi, negated, sc)?,
            Expr::InList(v, list, negated) => self.in_list(v, list, negated, sc)?,
            Expr::IsNone(v, negated) => {
                let negated = *negated;
                let v = self.expr(v, sc)?;
                Node::new(move |c| match v.eval(c) {
                    u @ (Cell::Unknown | Cell::Error) => u,
                    Cell::None => Cell::Bool(!negated),
                    _ => Cell::Bool(negated),
                })
            }
            Expr::Otherwise(a, b) => {
                let a = self.expr(a, sc)?;
                let b = self.expr(b, sc)?;
                Node::new(move |c| match a.eval(c) {
                    Cell::None => b.eval(c),
                    v => v,
                })
            }
            Expr::If(cond, a, b) => {
                let cond = self.expr(cond, sc)?;
                let a = self.expr(a, sc)?;
                let b = self.expr(b, sc)?;
                Node::new(move |c| match cond.truth(c) {
                    Truth::True => a.eval(c),
                    Truth::False => b.eval(c),
                    t => t.cell(),
                })
            }
            Expr::Quant {
                quantifier,
                var,
                list,
                filter,
                body,
                ..
            } => self.quantifier(quantifier, var, list, filter, body, sc)?,
            Expr::Match(s, arms) => self.match_node(s, arms, sc)?,
            Expr::Cases(arms, default) => self.cases(arms, default, sc)?,
        })
    }

    /// `marginal(S, x [, d])` / `bracket(S, x [, d])`: the steps of the scale are
    /// found once here (on `ref`, the one in force), and the shared semantics
    /// ([`crate::semantics::scale`]) apply them, as in the reference evaluator.
    fn scale(
        &mut self,
        op: ScaleOp,
        scale: usize,
        x: &Expr,
        at: Option<&Expr>,
        sc: &Scope<'_>,
    ) -> Option<Node> {
        let def = self.rules.program.scales.get(scale)?;
        let x = self.expr(x, sc)?;
        let Some(at) = at else {
            // On `ref`: the brackets in force, or an error for every known `x`.
            let brackets = def.brackets_on(self.ref_date).cloned();
            return Some(Node::new(move |c| match x.eval(c) {
                v @ (Cell::Error | Cell::Unknown | Cell::None) => v,
                v => match (&brackets, v.decimal()) {
                    (Some(b), Some(x)) => scaled(op, b, x),
                    _ => Cell::Error,
                },
            }));
        };
        // The dated steps, packed once: (from, to, brackets or absent).
        type Steps = Vec<(i32, Option<i32>, Option<Arc<Brackets>>)>;
        let steps = def
            .steps
            .iter()
            .map(|s| Some((pack_date(s.from)?, packed_end(s.to)?, s.value.clone())))
            .collect::<Option<Steps>>()?;
        let at = self.expr(at, sc)?;
        Some(Node::new(move |c| {
            let (v, d) = (x.eval(c), at.eval(c));
            if let Some(s) = strict(v, d) {
                return s;
            }
            let (Cell::Date(d), Some(v)) = (d, v.decimal()) else {
                return Cell::Error;
            };
            let brackets = steps
                .iter()
                .find(|(from, to, _)| *from <= d && to.is_none_or(|t| d <= t))
                .and_then(|s| s.2.as_ref());
            brackets.map_or(Cell::Error, |b| scaled(op, b, v))
        }))
    }

    /// `v in lo..hi`: constant bounds in one node, any others read as operands.
    fn in_range(
        &mut self,
        v: &Expr,
        lo: &Expr,
        hi: &Expr,
        negated: &bool,
        sc: &Scope<'_>,
    ) -> Option<Node> {
        let negated = *negated;
        // Constant bounds: one node.
        if let (Some(l), Some(h)) = (self.constant(lo), self.constant(hi)) {
            if !matches!(l, Cell::None | Cell::Error) && !matches!(h, Cell::None | Cell::Error) {
                return Some(reading!(self, v, sc, |read| in_range(read, l, h, negated)));
            }
        }
        let v = self.operand(v, sc)?;
        let lo = self.operand(lo, sc)?;
        let hi = self.expr(hi, sc)?;
        Some(Node::new(move |c| {
            let (x, l) = match operands(c, &v, &lo) {
                Ok(xl) => xl,
                Err(e) => return e,
            };
            if matches!(l, Cell::Error) {
                return l;
            }
            let h = hi.eval(c);
            if matches!(h, Cell::Error) {
                return h;
            }
            if [x, l, h].contains(&Cell::Unknown) {
                return Cell::Unknown;
            }
            if [x, l, h].contains(&Cell::None) {
                return Cell::Bool(false);
            }
            Cell::Bool(between(x, l, h, &c.row) != negated)
        }))
    }

    /// `v in list`.
    fn in_list(&mut self, v: &Expr, list: &Expr, negated: &bool, sc: &Scope<'_>) -> Option<Node> {
        let negated = *negated;
        let v = self.operand(v, sc)?;
        let list = self.operand(list, sc)?;
        Some(Node::new(move |c| {
            let (x, l) = match operands(c, &v, &list) {
                Ok(xl) => xl,
                Err(e) => return e,
            };
            if let Some(s) = strict(x, l) {
                return if matches!(s, Cell::None) {
                    Cell::Bool(false)
                } else {
                    s
                };
            }
            let Cell::List(start, len) = l else {
                return Cell::Error;
            };
            let items = c.row.items(start, len);
            let found = items
                .iter()
                .any(|y| order(x, *y, &c.row) == Some(Ordering::Equal));
            Cell::Bool(found != negated)
        }))
    }

    /// A quantifier or aggregate over a list, the list read in place when it is a field.
    fn quantifier(
        &mut self,
        quantifier: &Quantifier,
        var: &usize,
        list: &Expr,
        filter: &Option<Box<Expr>>,
        body: &Option<Box<Expr>>,
        sc: &Scope<'_>,
    ) -> Option<Node> {
        let slot = sc.locals + var;
        // The list is read in place when it is a field.
        // `count m in L`: the list's length.
        let limit = self.limit;
        if let (Quantifier::Count, None, None) = (quantifier, filter, body) {
            return Some(reading!(self, list, sc, |list| count_node(list, limit)));
        }
        let weight = 1
            + filter
                .as_ref()
                .map_or(0, |f| static_size(f, self.inline_sizes))
            + body
                .as_ref()
                .map_or(0, |b| static_size(b, self.inline_sizes));
        // `sum m in L: m.f`: the field read in place, item by item (through
        // the item's own cell when it is the item's field: no local is set).
        if let (Quantifier::Sum, None, Some(b)) = (quantifier, filter, body) {
            if let Some(f) = self.access(b, sc) {
                return Some(match f {
                    Access::Item { slot: own, off } if own == slot => {
                        let field = move |c: &Ctx<'_>, item| match item {
                            Cell::Rec(b) => c.row.field(b, off),
                            other => strict_one(other),
                        };
                        reading!(self, list, sc, |list| sum_in_place(
                            list, field, limit, weight
                        ))
                    }
                    // The same value for every item (a field of the row or of an
                    // enclosing item).
                    _ => {
                        let field = move |c: &Ctx<'_>, _| f.read(c);
                        reading!(self, list, sc, |list| sum_in_place(
                            list, field, limit, weight
                        ))
                    }
                });
            }
        }
        let filter = match filter {
            Some(f) => Some(self.expr(f, sc)?),
            None => None,
        };
        let body = match body {
            Some(b) => Some(self.expr(b, sc)?),
            None => None,
        };
        let q = Quant {
            q: *quantifier,
            slot,
            filter,
            body,
            weight,
            limit,
        };
        Some(reading!(self, list, sc, |list| quant_node(list, q)))
    }

    /// `match`: the subject once, then the arms' patterns in order.
    fn match_node(&mut self, s: &Expr, arms: &[(Vec<Pat>, Expr)], sc: &Scope<'_>) -> Option<Node> {
        let s = self.expr(s, sc)?;
        let mut lowered = vec![];
        for (pats, value) in arms {
            let mut ps = vec![];
            for p in pats {
                ps.push(match p {
                    Pat::Any => LPat::Any,
                    Pat::Eq(x) => LPat::Eq(self.expr(x, sc)?),
                    Pat::Range(lo, hi) => LPat::Range(self.expr(lo, sc)?, self.expr(hi, sc)?),
                });
            }
            lowered.push((ps, self.expr(value, sc)?));
        }
        Some(Node::new(move |c| run_match(c, &s, &lowered)))
    }

    /// `cases`: the first arm whose condition holds.
    fn cases(
        &mut self,
        arms: &[(Expr, Expr)],
        default: &Option<Box<Expr>>,
        sc: &Scope<'_>,
    ) -> Option<Node> {
        let arms = arms
            .iter()
            .map(|(k, v)| Some((self.expr(k, sc)?, self.expr(v, sc)?)))
            .collect::<Option<Vec<_>>>()?;
        let default = match default {
            Some(d) => Some(self.expr(d, sc)?),
            None => None,
        };
        Some(Node::new(move |c| {
            for (k, v) in &arms {
                match k.truth(c) {
                    Truth::True => return v.eval(c),
                    Truth::False => {}
                    t => return t.cell(),
                }
            }
            match &default {
                Some(d) => d.eval(c),
                None => Cell::None,
            }
        }))
    }

    /// A field read. Fields reached from the root through nested records are constant
    /// offsets, checked only for an absent optional record on the way.
    fn field(&mut self, base: &Expr, record: usize, index: usize, sc: &Scope<'_>) -> Option<Node> {
        let off = self.layout.offset(record, index)?;
        if let Expr::Local(v) = base {
            let f = Access::Item {
                slot: sc.locals + v,
                off,
            };
            return Some(Node::new(move |c| f.read(c)));
        }
        if let Some((start, guards)) = self.static_record(base) {
            let at = (start + off) as usize;
            return Some(match guards.as_slice() {
                [] => Node::new(move |c| c.row.cell(at)),
                [g] => {
                    let g = *g as usize;
                    Node::new(move |c| match c.row.cell(g) {
                        Cell::Rec(_) => c.row.cell(at),
                        other => other,
                    })
                }
                _ => Node::new(move |c| {
                    for &g in &guards {
                        match c.row.cell(g as usize) {
                            Cell::Rec(_) => {}
                            other => return other,
                        }
                    }
                    c.row.cell(at)
                }),
            });
        }
        let base = self.expr(base, sc)?;
        Some(Node::new(move |c| match base.eval(c) {
            Cell::Rec(b) => c.row.field(b, off),
            other => strict_one(other),
        }))
    }

    /// A record reached from the root through nested record fields: its base cell and
    /// the record cells to check on the way.
    fn static_record(&self, e: &Expr) -> Option<(u32, Vec<u32>)> {
        match e {
            Expr::Root => Some((0, vec![])),
            Expr::Field {
                base,
                record,
                index,
                ..
            } => {
                let (start, mut guards) = self.static_record(base)?;
                let cell = start + self.layout.offset(*record, *index)?;
                let def = self.rules.schema.records.get(*record)?.fields.get(*index)?;
                if !matches!(def.ty, crate::schema::FieldType::Record(_)) {
                    return None;
                }
                // A required record is never absent (absent, it is read as an empty
                // one); only an optional one needs checking on the way.
                if def.presence != crate::schema::Presence::Required {
                    guards.push(cell);
                }
                Some((cell + 1, guards))
            }
            _ => None,
        }
    }

    fn kleene(&mut self, xs: &[Expr], connective: Connective, sc: &Scope<'_>) -> Option<Node> {
        // The result does not depend on the order of the operands: cheapest first.
        let mut order: Vec<&Expr> = xs.iter().collect();
        order.sort_by_key(|x| cost(x, sc.defs));
        let xs = order
            .into_iter()
            .map(|x| self.expr(x, sc))
            .collect::<Option<Vec<_>>>()?;
        // Two operands, the common case: no loop, and a closure per connective, in
        // which the connective is a constant.
        let xs = match <[Node; 2]>::try_from(xs) {
            Ok([a, b]) => {
                macro_rules! both {
                    ($connective:expr) => {
                        Node::new(move |c| {
                            let k = $connective;
                            let whole = match k.step(k.identity(), a.truth(c)) {
                                ControlFlow::Break(t) => return t.cell(),
                                ControlFlow::Continue(w) => w,
                            };
                            match k.step(whole, b.truth(c)) {
                                ControlFlow::Break(t) | ControlFlow::Continue(t) => t.cell(),
                            }
                        })
                    };
                }
                return Some(match connective {
                    Connective::And => both!(Connective::And),
                    Connective::Or => both!(Connective::Or),
                });
            }
            Err(xs) => xs,
        };
        Some(Node::new(move |c| {
            connective.fold(xs.iter().map(|x| x.truth(c))).cell()
        }))
    }

    fn compare(&mut self, op: CmpOp, a: &Expr, b: &Expr, sc: &Scope<'_>) -> Option<Node> {
        // A text constant on the left: compare the other way round.
        if let (Expr::Const(Some(Value::Str(_))), false) =
            (a, matches!(b, Expr::Const(Some(Value::Str(_)))))
        {
            let flipped = match op {
                CmpOp::Lt => CmpOp::Gt,
                CmpOp::Le => CmpOp::Ge,
                CmpOp::Gt => CmpOp::Lt,
                CmpOp::Ge => CmpOp::Le,
                other => other,
            };
            return self.compare(flipped, b, a, sc);
        }
        // Text against a text constant.
        if let Expr::Const(Some(Value::Str(k))) = b {
            let k = k.clone();
            let a = self.expr(a, sc)?;
            return Some(Node::new(move |c| match a.eval(c) {
                Cell::Str(s, l) => Cell::Bool(holds(op, c.row.str(s, l).cmp(&k))),
                x @ (Cell::Unknown | Cell::Error) => x,
                _ => Cell::Bool(false),
            }));
        }
        if let Expr::Const(Some(v)) = b {
            let Some(k) = value_cell(v) else {
                return self.unsupported("a comparison with a list constant");
            };
            // A field (or `age(field)`) against a constant: one read, one comparison.
            if let Some(f) = self.access(a, sc) {
                return Some(reading!(access f, |read| compare_const(read, op, k)));
            }
            if let Some(f) = self.age_of(a, sc) {
                let on = self.ref_packed()?;
                return Some(reading!(access f, |read| compare_age(read, op, k, on)));
            }
            let a = self.expr(a, sc)?;
            return Some(Node::new(move |c| {
                let x = a.eval(c);
                compare_cells(op, x, k, &c.row)
            }));
        }
        let a = self.operand(a, sc)?;
        let b = self.operand(b, sc)?;
        Some(Node::new(move |c| {
            let x = a.get(c);
            if matches!(x, Cell::Error) {
                return x;
            }
            compare_cells(op, x, b.get(c), &c.row)
        }))
    }

    /// How to read a field in one step: a fixed cell (reached from the root through
    /// required nested records only), or a field of the item in a local slot. A
    /// definition that is only such a read is read in place.
    fn access(&self, e: &Expr, sc: &Scope<'_>) -> Option<Access> {
        match e {
            Expr::Let(i) => self.access(&sc.defs.get(*i)?.value, sc),
            Expr::Field {
                base,
                record,
                index,
                ..
            } => {
                let off = self.layout.offset(*record, *index)?;
                if let Expr::Local(v) = &**base {
                    return Some(Access::Item {
                        slot: sc.locals + v,
                        off,
                    });
                }
                let (start, guards) = self.static_record(base)?;
                guards
                    .is_empty()
                    .then_some(Access::Cell((start + off) as usize))
            }
            _ => None,
        }
    }

    /// `age(d)` of a field read in one step (through a definition or not).
    fn age_of(&self, e: &Expr, sc: &Scope<'_>) -> Option<Access> {
        match e {
            Expr::Let(i) => self.age_of(&sc.defs.get(*i)?.value, sc),
            Expr::Call(Builtin::Age, args) => match args.as_slice() {
                [d] => self.access(d, sc),
                _ => None,
            },
            _ => None,
        }
    }

    fn in_set(&mut self, v: &Expr, items: &[Expr], negated: bool, sc: &Scope<'_>) -> Option<Node> {
        let texts: Option<Vec<Arc<str>>> = items
            .iter()
            .map(|i| match i {
                Expr::Const(Some(Value::Str(t))) => Some(t.clone()),
                _ => None,
            })
            .collect();
        if let Some(texts) = texts.filter(|t| !t.is_empty()) {
            let v = self.expr(v, sc)?;
            return Some(Node::new(move |c| match v.eval(c) {
                Cell::Str(s, l) => {
                    let x = c.row.str(s, l);
                    Cell::Bool(texts.iter().any(|t| &**t == x) != negated)
                }
                u @ (Cell::Unknown | Cell::Error) => u,
                Cell::None => Cell::Bool(false),
                _ => Cell::Bool(negated),
            }));
        }
        let consts: Option<Vec<Cell>> = items
            .iter()
            .map(|i| match i {
                Expr::Const(Some(x)) => value_cell(x),
                _ => None,
            })
            .collect();
        if let Some(consts) = consts {
            // Constant members: the value read in place when it is a field.
            return Some(reading!(self, v, sc, |read| member_of(
                read, consts, negated
            )));
        }
        let v = self.expr(v, sc)?;
        let items = items
            .iter()
            .map(|i| self.expr(i, sc))
            .collect::<Option<Vec<_>>>()?;
        Some(Node::new(move |c| {
            let x = v.eval(c);
            if matches!(x, Cell::Error) {
                return x;
            }
            let mut unknown = matches!(x, Cell::Unknown);
            let mut found = false;
            for i in &items {
                match i.eval(c) {
                    Cell::Error => return Cell::Error,
                    Cell::Unknown => unknown = true,
                    Cell::None => {}
                    y => found |= order(x, y, &c.row) == Some(Ordering::Equal),
                }
            }
            if unknown {
                Cell::Unknown
            } else if matches!(x, Cell::None) {
                Cell::Bool(false)
            } else {
                Cell::Bool(found != negated)
            }
        }))
    }

    fn builtin(&mut self, b: Builtin, args: &[Expr], sc: &Scope<'_>) -> Option<Node> {
        let ref_date = self.ref_packed()?;
        match (b, args) {
            (Builtin::WithinLast, [d, Expr::Duration(n, unit)]) => {
                let start = shift(ref_date, -n, *unit);
                if let (Some(f), Some(s)) = (self.access(d, sc), start) {
                    return Some(Node::new(move |c| match f.read(c) {
                        Cell::Date(x) => Cell::Bool(calendar::within(x, s, ref_date)),
                        other => strict_one(other),
                    }));
                }
                let d = self.expr(d, sc)?;
                return Some(Node::new(move |c| match d.eval(c) {
                    Cell::Date(x) => match start {
                        Some(s) => Cell::Bool(calendar::within(x, s, ref_date)),
                        None => Cell::Error,
                    },
                    other => strict_one(other),
                }));
            }
            (Builtin::Age, [d]) => {
                if let Some(f) = self.access(d, sc) {
                    return Some(Node::new(move |c| match f.read(c) {
                        Cell::Date(x) => Cell::Int(age(x, ref_date)),
                        other => strict_one(other),
                    }));
                }
                let d = self.expr(d, sc)?;
                return Some(Node::new(move |c| match d.eval(c) {
                    Cell::Date(x) => Cell::Int(age(x, ref_date)),
                    other => strict_one(other),
                }));
            }
            _ => {}
        }
        // The general case: every argument evaluated (strict), then the function. A
        // duration is only ever `within_last`'s literal, handled above.
        if args.iter().any(|a| matches!(a, Expr::Duration(..))) {
            return self.unsupported("a duration outside within_last");
        }
        let lowered = args
            .iter()
            .map(|a| self.expr(a, sc))
            .collect::<Option<Vec<_>>>()?;
        Some(Node::new(move |c| {
            let mut vals: SmallVec<[Cell; 4]> = SmallVec::new();
            let (mut unknown, mut none) = (false, false);
            for a in &lowered {
                match a.eval(c) {
                    Cell::Error => return Cell::Error,
                    Cell::Unknown => unknown = true,
                    Cell::None => none = true,
                    v => vals.push(v),
                }
            }
            if unknown {
                Cell::Unknown
            } else if none {
                Cell::None
            } else {
                builtin(b, &vals, ref_date, &c.row).unwrap_or(Cell::Error)
            }
        }))
    }
}

/// A field read in one step.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// A fixed cell of the row.
    Cell(usize),
    /// A field of the record item in a local slot.
    Item { slot: usize, off: u32 },
}

impl Access {
    #[inline(always)]
    fn read(self, c: &Ctx<'_>) -> Cell {
        match self {
            Access::Cell(at) => c.row.cell(at),
            Access::Item { slot, off } => item_field(c, slot, off),
        }
    }
}

/// Field `off` of the record item in local `slot`.
#[inline(always)]
fn item_field(c: &Ctx<'_>, slot: usize, off: u32) -> Cell {
    match c.local(slot) {
        Cell::Rec(b) => c.row.field(b, off),
        other => strict_one(other),
    }
}

/// Whether the value read by `read` is within the constant bounds `lo..hi` (or not,
/// when `negated`).
fn in_range<R>(read: R, lo: Cell, hi: Cell, negated: bool) -> Node
where
    R: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
{
    let general = move |x: Cell, row: &RowRef<'_>| match x {
        Cell::Unknown | Cell::Error => x,
        Cell::None => Cell::Bool(false),
        _ => Cell::Bool(between(x, lo, hi, row) != negated),
    };
    match (lo, hi) {
        (Cell::Int(l), Cell::Int(h)) => Node::new(move |c| match read(c) {
            Cell::Int(x) => Cell::Bool((l <= x && x <= h) != negated),
            x => general(x, &c.row),
        }),
        _ => Node::new(move |c| {
            let x = read(c);
            general(x, &c.row)
        }),
    }
}

/// `age(d) op k` for the birth date read by `read`: with a whole number `k`, the birth
/// date against the latest date of birth for the age on `on`, one comparison of packed
/// dates; otherwise the age computed and compared.
fn compare_age<R>(read: R, op: CmpOp, k: Cell, on: i32) -> Node
where
    R: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
{
    let bounds = |k: i64| Some((born_by(on, k)?, born_by(on, k.checked_add(1)?)?));
    if let Some((hi, lo)) = match k {
        Cell::Int(k) => bounds(k),
        _ => None,
    } {
        return Node::new(move |c| match read(c) {
            Cell::Date(b) => Cell::Bool(age_holds(op, i64::from(b), hi, lo)),
            other => compare_cells(op, strict_one(other), k, &c.row),
        });
    }
    compare_const(
        move |c| match read(c) {
            Cell::Date(b) => Cell::Int(age(b, on)),
            other => strict_one(other),
        },
        op,
        k,
    )
}

/// Whether the value read by `read` is one of the constants `ks` (or not, when
/// `negated`): a bit mask when they are all members of an enumeration or all whole
/// numbers from 0 to 63, and the general comparison otherwise.
fn member_of<R>(read: R, ks: Vec<Cell>, negated: bool) -> Node
where
    R: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
{
    let mask = |small: &dyn Fn(Cell) -> Option<u32>| {
        ks.iter().try_fold(0u64, |m, k| {
            Some(m | 1u64 << small(*k).filter(|i| *i < 64)?)
        })
    };
    let general = move |x: Cell, ks: &[Cell], row: &RowRef<'_>| match x {
        Cell::Unknown | Cell::Error => x,
        Cell::None => Cell::Bool(false),
        _ => Cell::Bool(
            ks.iter()
                .any(|k| order(x, *k, row) == Some(Ordering::Equal))
                != negated,
        ),
    };
    if let Some(mask) = mask(&|k| match k {
        Cell::Enum(i) => Some(u32::from(i)),
        _ => None,
    }) {
        return Node::new(move |c| match read(c) {
            Cell::Enum(i) => Cell::Bool((i < 64 && mask & (1 << i) != 0) != negated),
            u @ (Cell::Unknown | Cell::Error) => u,
            Cell::None => Cell::Bool(false),
            _ => Cell::Bool(negated),
        });
    }
    if let Some(mask) = mask(&|k| match k {
        Cell::Int(i) => u32::try_from(i).ok(),
        _ => None,
    }) {
        return Node::new(move |c| match read(c) {
            Cell::Int(i) => Cell::Bool(((0..64).contains(&i) && mask & (1 << i) != 0) != negated),
            x => general(x, &ks, &c.row),
        });
    }
    Node::new(move |c| {
        let x = read(c);
        general(x, &ks, &c.row)
    })
}

/// A value read by `read` compared with the constant `k`: a whole number or an
/// enumeration member compared inline, anything else the general way.
fn compare_const<R>(read: R, op: CmpOp, k: Cell) -> Node
where
    R: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
{
    match k {
        Cell::Int(j) => Node::new(move |c| match read(c) {
            Cell::Int(i) => Cell::Bool(holds(op, i.cmp(&j))),
            x => compare_cells(op, x, k, &c.row),
        }),
        Cell::Enum(j) => Node::new(move |c| match read(c) {
            Cell::Enum(i) => Cell::Bool(holds(op, i.cmp(&j))),
            x => compare_cells(op, x, k, &c.row),
        }),
        _ => Node::new(move |c| compare_cells(op, read(c), k, &c.row)),
    }
}

/// An operand of an inner node. Leaves (a constant, a field read in one step, a
/// definition already computed) are read in place rather than called: most nodes
/// have a leaf operand, and a call costs more than the read.
enum Operand {
    Const(Cell),
    Read(Access),
    /// A definition's memo slot.
    Let(usize),
    Node(Node),
}

impl Operand {
    #[inline(always)]
    fn get(&self, c: &mut Ctx<'_>) -> Cell {
        match self {
            Operand::Const(k) => *k,
            Operand::Read(a) => a.read(c),
            Operand::Let(slot) => let_value(c, *slot),
            Operand::Node(n) => n.eval(c),
        }
    }
}

/// A definition's value: computed the first time it is asked for, then kept for the
/// rest of the record (or call).
#[inline(always)]
fn let_value(c: &mut Ctx<'_>, slot: usize) -> Cell {
    if let Some(Some(v)) = c.memo.get(slot) {
        return *v;
    }
    let lets = c.lets;
    let Some(node) = lets.get(slot) else {
        return Cell::Error;
    };
    let v = node.eval(c);
    if let Some(m) = c.memo.get_mut(slot) {
        *m = Some(v);
    }
    v
}

enum LPat {
    Any,
    Eq(Node),
    Range(Node, Node),
}

fn run_match(c: &mut Ctx<'_>, s: &Node, arms: &[(Vec<LPat>, Node)]) -> Cell {
    let x = s.eval(c);
    if matches!(x, Cell::Unknown | Cell::Error) {
        return x;
    }
    for (pats, value) in arms {
        for pat in pats {
            let hit = match pat {
                LPat::Any => true,
                _ if matches!(x, Cell::None) => false,
                LPat::Eq(p) => match p.eval(c) {
                    u @ (Cell::Unknown | Cell::Error) => return u,
                    Cell::None => false,
                    pv => order(x, pv, &c.row) == Some(Ordering::Equal),
                },
                LPat::Range(lo, hi) => {
                    let l = lo.eval(c);
                    if matches!(l, Cell::Error) {
                        return l;
                    }
                    let h = hi.eval(c);
                    if matches!(h, Cell::Error) {
                        return h;
                    }
                    match (l, h) {
                        (Cell::Unknown, _) | (_, Cell::Unknown) => return Cell::Unknown,
                        (Cell::None, _) | (_, Cell::None) => false,
                        _ => between(x, l, h, &c.row),
                    }
                }
            };
            if hit {
                return value.eval(c);
            }
        }
    }
    Cell::None
}

/// The quantifiers of [`Quant::logical`], as its constant parameter.
const ANY: u8 = 0;
const NO: u8 = 1;
const ALL: u8 = 2;
const COUNT: u8 = 3;

/// A quantifier over the items of `list`. Each kind runs its own copy of the loop,
/// in which what depends on the kind is settled at compile time.
fn quant_node<L>(list: L, q: Quant) -> Node
where
    L: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
{
    macro_rules! node {
        ($run:expr) => {
            Node::new(move |c: &mut Ctx<'_>| {
                let (start, len) = match items(list(c)) {
                    Ok(r) => r,
                    Err(e) => return e,
                };
                if !charge(c, q.limit, len, q.weight) {
                    return Cell::Error;
                }
                let saved = c.local(q.slot);
                let v = $run(&q, c, start, len);
                c.set_local(q.slot, saved);
                v
            })
        };
    }
    match q.q {
        Quantifier::Any => node!(Quant::logical::<ANY>),
        Quantifier::No => node!(Quant::logical::<NO>),
        Quantifier::All => node!(Quant::logical::<ALL>),
        Quantifier::Count => node!(Quant::logical::<COUNT>),
        _ => node!(Quant::aggregate),
    }
}

struct Quant {
    q: Quantifier,
    slot: usize,
    filter: Option<Node>,
    body: Option<Node>,
    /// Steps charged per item.
    weight: u64,
    limit: u64,
}

impl Quant {
    fn item(c: &Ctx<'_>, start: u32, k: u32) -> Cell {
        c.row.cell(start as usize + k as usize)
    }

    /// any / no / all / count (`Q`: [`ANY`], [`NO`], [`ALL`], [`COUNT`]), the
    /// semantics' [`Quantify`] fold over the items.
    fn logical<const Q: u8>(&self, c: &mut Ctx<'_>, start: u32, len: u32) -> Cell {
        let q = match Q {
            ANY => Quantifier::Any,
            NO => Quantifier::No,
            ALL => Quantifier::All,
            _ => Quantifier::Count,
        };
        let mut fold = Quantify::new(q);
        for k in 0..len {
            let item = Self::item(c, start, k);
            c.set_local(self.slot, item);
            let f = match &self.filter {
                Some(f) => f.truth(c),
                None => Truth::True,
            };
            let step = fold.item(f, || match &self.body {
                Some(b) => b.truth(c),
                None => Truth::True,
            });
            match step {
                Step::Next | Step::Unknown(_) => {}
                Step::Stop => break,
                Step::Error => return Cell::Error,
            }
        }
        match fold.result() {
            Quantified::Truth(t) => Cell::Bool(t),
            Quantified::Count(n) => Cell::Int(n),
            Quantified::Unknown => Cell::Unknown,
        }
    }

    /// sum / min / max / the / latest / earliest: the semantics' [`Aggregate`] fold.
    fn aggregate(&self, c: &mut Ctx<'_>, start: u32, len: u32) -> Cell {
        let mut fold = Aggregate::new(self.q);
        for k in 0..len {
            let item = Self::item(c, start, k);
            c.set_local(self.slot, item);
            if let Some(f) = &self.filter {
                match f.truth(c) {
                    Truth::True => {}
                    Truth::Unknown => {
                        fold.unknown();
                        continue;
                    }
                    Truth::Error => return Cell::Error,
                    Truth::False => continue,
                }
            }
            let v = match &self.body {
                Some(b) => b.eval(c),
                None => item,
            };
            if !aggregate_item(&mut fold, &c.row, item, v) {
                return Cell::Error;
            }
        }
        aggregated(fold.result(&CellValues(&c.row)))
    }
}

/// Feeds an item's value to an aggregate; `false` on an error (the aggregate's result).
#[inline(always)]
fn aggregate_item(fold: &mut Aggregate<Cell, Cell>, row: &RowRef<'_>, item: Cell, v: Cell) -> bool {
    match v {
        Cell::Error => return false,
        Cell::Unknown => fold.unknown(),
        Cell::None => fold.item(&CellValues(row), &item, None),
        v => fold.item(&CellValues(row), &item, Some(v)),
    }
    true
}

/// An aggregate's result as a cell.
#[inline(always)]
fn aggregated(r: Aggregated<Cell, Cell>) -> Cell {
    match r {
        Aggregated::Value(v) => v.unwrap_or(Cell::None),
        Aggregated::Item(i) => i,
        Aggregated::Unknown => Cell::Unknown,
        Aggregated::Error(_) => Cell::Error,
    }
}

/// The cells of a row, for the aggregates of [`crate::semantics::quantifier`].
struct CellValues<'r, 'a>(&'r RowRef<'a>);

impl Values for CellValues<'_, '_> {
    type Value = Cell;
    type Item = Cell;
    #[inline(always)]
    fn order(&self, a: &Cell, b: &Cell) -> Option<Ordering> {
        order(*a, *b, self.0)
    }
    #[inline(always)]
    fn add(&self, a: &Cell, b: &Cell) -> Result<Cell, number::Fault> {
        let int = matches!((a, b), (Cell::Int(_), Cell::Int(_)));
        match arith(ArithOp::Add, *a, *b, int) {
            Cell::Error => Err(number::Fault::DecimalOverflow),
            s => Ok(s),
        }
    }
    #[inline(always)]
    fn zero(&self) -> Cell {
        Cell::Int(0)
    }
}

/// `count m in L`: the length of the list `list` reads.
fn count_node<L>(list: L, limit: u64) -> Node
where
    L: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
{
    Node::new(move |c| match items(list(c)) {
        // The reference visits every item.
        Ok((_, len)) if charge(c, limit, len, 1) => Cell::Int(i64::from(len)),
        Ok(_) => Cell::Error,
        Err(e) => e,
    })
}

/// `sum` over the items of `list` of the value `read` gives for each item cell (no
/// filter, no item variable set): the semantics' [`Aggregate`] fold.
fn sum_in_place<L, R>(list: L, read: R, limit: u64, weight: u64) -> Node
where
    L: Fn(&mut Ctx<'_>) -> Cell + Send + Sync + 'static,
    R: Fn(&Ctx<'_>, Cell) -> Cell + Send + Sync + 'static,
{
    Node::new(move |c| {
        let (start, len) = match items(list(c)) {
            Ok(r) => r,
            Err(e) => return e,
        };
        if !charge(c, limit, len, weight) {
            return Cell::Error;
        }
        let mut fold = Aggregate::new(Quantifier::Sum);
        for k in start..start + len {
            let item = c.row.cell(k as usize);
            if !aggregate_item(&mut fold, &c.row, item, read(c, item)) {
                return Cell::Error;
            }
        }
        aggregated(fold.result(&CellValues(&c.row)))
    })
}

/// The run of item cells of a list value (none: no items), or the value a quantifier
/// gives when the list is unknown or in error.
#[inline(always)]
fn items(list: Cell) -> Result<(u32, u32), Cell> {
    match list {
        Cell::List(s, l) => Ok((s, l)),
        Cell::None => Ok((0, 0)),
        Cell::Unknown => Err(Cell::Unknown),
        _ => Err(Cell::Error),
    }
}

/// Two operands, left to right; an error in the first is the result and the second is
/// not evaluated (as in the reference evaluator).
#[inline(always)]
fn operands(c: &mut Ctx<'_>, a: &Operand, b: &Operand) -> Result<(Cell, Cell), Cell> {
    let x = a.get(c);
    if matches!(x, Cell::Error) {
        return Err(x);
    }
    Ok((x, b.get(c)))
}

fn konst(v: Cell) -> Node {
    Node::new(move |_| v)
}

/// A scale applied to a known number, as a cell (an error on overflow).
fn scaled(op: ScaleOp, b: &Brackets, x: rust_decimal::Decimal) -> Cell {
    op.apply(b, x).map_or(Cell::Error, Cell::dec)
}

/// The packed last day of a step: `Some(None)` for an open-ended step, `None` when the
/// date does not pack.
fn packed_end(to: Option<NaiveDate>) -> Option<Option<i32>> {
    match to {
        Some(t) => Some(Some(pack_date(t)?)),
        None => Some(None),
    }
}

/// The value a strict one-argument operation gives for a special argument.
fn strict_one(c: Cell) -> Cell {
    match c {
        Cell::Unknown => Cell::Unknown,
        Cell::None => Cell::None,
        _ => Cell::Error,
    }
}

/// For a strict two-argument operation: the result when an argument is not a plain
/// value (error, then unknown, then none), `None` when both are values.
fn strict(a: Cell, b: Cell) -> Option<Cell> {
    let special = |c: Cell| matches!(c, Cell::Error | Cell::Unknown | Cell::None);
    if !special(a) && !special(b) {
        return None;
    }
    Some(if matches!(a, Cell::Error) || matches!(b, Cell::Error) {
        Cell::Error
    } else if matches!(a, Cell::Unknown) || matches!(b, Cell::Unknown) {
        Cell::Unknown
    } else {
        Cell::None
    })
}

use number::holds;

/// A comparison, three-valued; comparing with none is false.
#[inline(always)]
pub fn compare_cells(op: CmpOp, x: Cell, y: Cell, row: &RowRef<'_>) -> Cell {
    // The common cases inline.
    let o = match (x, y) {
        (Cell::Int(i), Cell::Int(j)) => i.cmp(&j),
        (Cell::Fixed(i, s), Cell::Fixed(j, t)) if s == t => i.cmp(&j),
        (Cell::Date(i), Cell::Date(j)) => i.cmp(&j),
        (Cell::Enum(i), Cell::Enum(j)) => i.cmp(&j),
        _ => return compare_any(op, x, y, row),
    };
    Cell::Bool(holds(op, o))
}

#[inline(never)]
fn compare_any(op: CmpOp, x: Cell, y: Cell, row: &RowRef<'_>) -> Cell {
    if let Some(s) = strict(x, y) {
        return if matches!(s, Cell::None) {
            Cell::Bool(false)
        } else {
            s
        };
    }
    Cell::Bool(order(x, y, row).is_some_and(|o| holds(op, o)))
}

/// `lo <= x <= hi`, for values that order.
#[inline(always)]
fn between(x: Cell, lo: Cell, hi: Cell, row: &RowRef<'_>) -> bool {
    number::between(order(x, lo, row), order(x, hi, row))
}

/// Orders two values of the same type (numbers across int/decimal).
#[inline(always)]
fn order(a: Cell, b: Cell, row: &RowRef<'_>) -> Option<Ordering> {
    // The common cases inline: whole numbers, and money at one scale.
    match (a, b) {
        (Cell::Int(x), Cell::Int(y)) => Some(x.cmp(&y)),
        (Cell::Fixed(x, s), Cell::Fixed(y, t)) if s == t => Some(x.cmp(&y)),
        _ => order_any(a, b, row),
    }
}

#[inline(never)]
fn order_any(a: Cell, b: Cell, row: &RowRef<'_>) -> Option<Ordering> {
    match (a, b) {
        (Cell::Int(x), Cell::Int(y)) => Some(x.cmp(&y)),
        (Cell::Int(_) | Cell::Fixed(..) | Cell::Dec(_), Cell::Fixed(..) | Cell::Dec(_))
        | (Cell::Fixed(..) | Cell::Dec(_), Cell::Int(_)) => match (small(a), small(b)) {
            (Some(x), Some(y)) => align(x, y).map(|(x, y, _)| x.cmp(&y)),
            _ => None,
        }
        .or_else(|| Some(a.decimal()?.cmp(&b.decimal()?))),
        (Cell::Date(x), Cell::Date(y)) => Some(x.cmp(&y)),
        (Cell::Enum(x), Cell::Enum(y)) => Some(x.cmp(&y)),
        (Cell::Bool(x), Cell::Bool(y)) => Some(x.cmp(&y)),
        (Cell::Str(s, l), Cell::Str(t, m)) => Some(row.str(s, l).cmp(row.str(t, m))),
        _ => None,
    }
}

/// Arithmetic on two values (strict: an error, unknown or none operand gives the
/// same); whole numbers stay whole when the type says so.
#[inline(always)]
fn arith(op: ArithOp, a: Cell, b: Cell, int: bool) -> Cell {
    // The common cases inline, each returning at once: money plus or minus money at
    // one scale, money times a whole number (the scale stays), money plus or minus a
    // whole zero. A large result goes the general way, as does a zero that might be
    // negative (a `Fixed` zero is positive); a zero from operands that are not
    // negative is positive.
    let fits = |m: i64, positive: bool| (m != 0 || positive) && m.unsigned_abs() < 1 << 62;
    match (op, a, b) {
        (ArithOp::Add, Cell::Int(x), Cell::Int(y)) if int => {
            if let Some(r) = x.checked_add(y) {
                return Cell::Int(r);
            }
        }
        (ArithOp::Sub, Cell::Int(x), Cell::Int(y)) if int => {
            if let Some(r) = x.checked_sub(y) {
                return Cell::Int(r);
            }
        }
        (ArithOp::Mul, Cell::Int(x), Cell::Int(y)) if int => {
            if let Some(r) = x.checked_mul(y) {
                return Cell::Int(r);
            }
        }
        // The start of a sum, and a sum of no items added to money (the decimal type
        // gives the other operand of a zero as it is, the second when both are zero).
        (ArithOp::Add, Cell::Int(0), f @ Cell::Fixed(..)) => return f,
        (ArithOp::Add | ArithOp::Sub, f @ Cell::Fixed(x, _), Cell::Int(0)) if x != 0 => return f,
        (ArithOp::Add, Cell::Fixed(x, s), Cell::Fixed(y, t)) if s == t => {
            if let Some(m) = x.checked_add(y) {
                if fits(m, x >= 0 && y >= 0) {
                    return Cell::Fixed(m, s);
                }
            }
        }
        (ArithOp::Sub, Cell::Fixed(x, s), Cell::Fixed(y, t)) if s == t => {
            if let Some(m) = x.checked_sub(y) {
                if fits(m, false) {
                    return Cell::Fixed(m, s);
                }
            }
        }
        (ArithOp::Mul, Cell::Fixed(x, s), Cell::Int(k))
        | (ArithOp::Mul, Cell::Int(k), Cell::Fixed(x, s)) => {
            // The decimal type's zero product has no scale: the general way.
            if let Some(m) = x.checked_mul(k) {
                if fits(m, false) {
                    return Cell::Fixed(m, s);
                }
            }
        }
        _ => {}
    }
    arith_any(op, a, b, int)
}

#[inline(never)]
fn arith_any(op: ArithOp, a: Cell, b: Cell, int: bool) -> Cell {
    if let Some(s) = strict(a, b) {
        return s;
    }
    if let (true, Cell::Int(x), Cell::Int(y)) = (int, a, b) {
        if let Some(r) = number::int_arith(op, x, y) {
            return r.map_or(Cell::Error, Cell::Int);
        }
    }
    // Money on 63-bit mantissas, exactly as the decimal type would compute it (the
    // larger scale for sums, the sum of scales for products); a zero operand (the
    // decimal type then gives the other operand as it is), a zero result, an overflow
    // or a division goes the general way.
    if let (Some(x), Some(y), false) = (small(a), small(b), op == ArithOp::Div) {
        if x.0 == 0 || y.0 == 0 {
            return decimal_arith(op, a, b);
        }
        let r = match op {
            ArithOp::Mul => {
                x.0.checked_mul(y.0)
                    .filter(|_| x.1 + y.1 <= 28)
                    .map(|m| (m, x.1 + y.1))
            }
            _ => align(x, y).and_then(|(x, y, scale)| {
                let m = if op == ArithOp::Add {
                    x.checked_add(y)
                } else {
                    x.checked_sub(y)
                }?;
                i64::try_from(m).ok().map(|m| (m, scale))
            }),
        };
        if let Some((m, scale)) = r.filter(|&(m, _)| m != 0 && m.unsigned_abs() < 1 << 62) {
            return Cell::Fixed(m, scale as u8);
        }
    }
    decimal_arith(op, a, b)
}

/// Arithmetic in the decimal type itself.
fn decimal_arith(op: ArithOp, a: Cell, b: Cell) -> Cell {
    let (Some(x), Some(y)) = (a.decimal(), b.decimal()) else {
        return Cell::Error;
    };
    number::decimal_arith(op, x, y).map_or(Cell::Error, Cell::dec)
}

/// A whole number or a decimal as (mantissa, scale), when the mantissa fits in 63 bits.
#[inline]
fn small(c: Cell) -> Option<(i64, u32)> {
    match c {
        Cell::Int(i) if i.unsigned_abs() < 1 << 62 => Some((i, 0)),
        Cell::Fixed(m, s) => Some((m, u32::from(s))),
        Cell::Dec(d) => d.small(),
        _ => None,
    }
}

/// Two (mantissa, scale) numbers brought to the larger scale.
#[inline]
fn align(x: (i64, u32), y: (i64, u32)) -> Option<(i128, i128, u32)> {
    if x.1 == y.1 {
        return Some((i128::from(x.0), i128::from(y.0), x.1));
    }
    let scale = x.1.max(y.1);
    let up = |(m, s): (i64, u32)| i128::from(m).checked_mul(*POW10.get((scale - s) as usize)?);
    Some((up(x)?, up(y)?, scale))
}

/// 10^0 ..= 10^28 (indexes checked at compile time).
#[allow(clippy::indexing_slicing)]
pub(super) static POW10: [i128; 29] = {
    let mut t = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The latest packed date of birth of someone `years` old or older on the packed date
/// `on`: [`calendar::born_by`], so that `age(b, on) >= years` exactly when
/// `b <= born_by(on, years)`.
fn born_by(on: i32, years: i64) -> Option<i64> {
    pack_date(calendar::born_by(unpack_date(on)?, years)?).map(i64::from)
}

/// Whether `age op k` holds for the packed birth date `b`, given `hi = born_by(on, k)`
/// and `lo = born_by(on, k + 1)`.
#[inline(always)]
fn age_holds(op: CmpOp, b: i64, hi: i64, lo: i64) -> bool {
    match op {
        CmpOp::Ge => b <= hi,
        CmpOp::Gt => b <= lo,
        CmpOp::Lt => b > hi,
        CmpOp::Le => b > lo,
        CmpOp::Eq => lo < b && b <= hi,
        CmpOp::Ne => !(lo < b && b <= hi),
    }
}

/// Completed years from packed `birth` to packed `on`: [`calendar::age_of_parts`].
#[inline]
fn age(birth: i32, on: i32) -> i64 {
    calendar::age_of_parts(date_parts(birth), date_parts(on))
}

fn shift(p: i32, n: i64, unit: DateUnit) -> Option<i32> {
    pack_date(number::shift(unpack_date(p)?, n, unit).ok()?)
}

/// A built-in on plain argument values; `None` is an evaluation error.
fn builtin(b: Builtin, v: &[Cell], ref_date: i32, row: &RowRef<'_>) -> Option<Cell> {
    let date = |c: &Cell| match c {
        Cell::Date(d) => Some(*d),
        _ => None,
    };
    let int = |c: &Cell| match c {
        Cell::Int(i) => Some(*i),
        _ => None,
    };
    Some(match b {
        Builtin::Age | Builtin::MonthDiff | Builtin::Year | Builtin::Month | Builtin::Day => {
            let dates = v
                .iter()
                .map(|c| date(c).map(date_parts))
                .collect::<Option<SmallVec<[_; 2]>>>()?;
            Cell::Int(number::date_builtin(b, &dates, date_parts(ref_date))?)
        }
        Builtin::AddDays => Cell::Date(shift(date(v.first()?)?, int(v.get(1)?)?, DateUnit::Days)?),
        Builtin::AddMonths => {
            Cell::Date(shift(date(v.first()?)?, int(v.get(1)?)?, DateUnit::Months)?)
        }
        Builtin::AddYears => {
            Cell::Date(shift(date(v.first()?)?, int(v.get(1)?)?, DateUnit::Years)?)
        }
        Builtin::MakeDate => {
            let (y, m, d) = (int(v.first()?)?, int(v.get(1)?)?, int(v.get(2)?)?);
            Cell::Date(pack_date(number::make_date(y, m, d).ok()?)?)
        }
        // Lowered on its own (its duration is a literal); never reached here.
        Builtin::WithinLast => return None,
        Builtin::Min | Builtin::Max => {
            let best = *number::extreme(v, b == Builtin::Min, |x, y| order(*x, *y, row))?;
            if v.iter()
                .any(|x| matches!(x, Cell::Fixed(..) | Cell::Dec(_)))
            {
                Cell::dec(best.decimal()?)
            } else {
                best
            }
        }
        Builtin::Round | Builtin::RoundHalfEven => {
            let places = match v.get(1) {
                Some(p) => int(p)?,
                None => 0,
            };
            let x = v.first()?.decimal()?;
            Cell::dec(number::round(x, places, b == Builtin::RoundHalfEven).ok()?)
        }
        Builtin::Floor => Cell::Int(number::floor(v.first()?.decimal()?).ok()?),
        Builtin::Ceil => Cell::Int(number::ceil(v.first()?.decimal()?).ok()?),
        Builtin::Abs => match v.first()? {
            Cell::Int(i) => Cell::Int(number::int_abs(*i).ok()?),
            other => Cell::dec(other.decimal()?.abs()),
        },
        Builtin::Len => match v.first()? {
            Cell::List(_, n) => Cell::Int(i64::from(*n)),
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn a_cell_passed_as_words_comes_back_unchanged() {
        let big = Decimal::from_str("-79228162514264337593543950335").unwrap();
        let tiny = Decimal::from_str("0.0000000000000000000000000001").unwrap();
        let cells = [
            Cell::Unknown,
            Cell::Error,
            Cell::None,
            Cell::Bool(false),
            Cell::Bool(true),
            Cell::Int(0),
            Cell::Int(i64::MIN),
            Cell::Int(i64::MAX),
            Cell::Fixed(-(1 << 61), 28),
            Cell::Fixed(123_456, 2),
            Cell::Dec(PackedDecimal::new(big)),
            Cell::Dec(PackedDecimal::new(tiny)),
            Cell::Date(0),
            Cell::Date(99_991_231),
            Cell::Enum(u16::MAX),
            Cell::Str(u32::MAX, 7),
            Cell::List(3, u32::MAX),
            Cell::Rec(u32::MAX),
        ];
        for c in cells {
            assert_eq!(Word::from(c).cell(), c, "{c:?}");
            assert_eq!(Word::from(c).truth(), Truth::of(c), "{c:?}");
        }
        assert_eq!(
            Word::from(Cell::Dec(PackedDecimal::new(big)))
                .cell()
                .decimal(),
            Some(big)
        );
        assert_eq!(Truth::of(Cell::Bool(true)), Truth::True);
        assert_eq!(Truth::of(Cell::Int(1)), Truth::False);
        for t in [Truth::True, Truth::False, Truth::Unknown, Truth::Error] {
            assert_eq!(Truth::of(t.cell()), t);
        }
    }

    fn cell(m: i64, scale: u32, int: bool) -> Cell {
        if int {
            Cell::Int(m)
        } else {
            Cell::dec(Decimal::new(m, scale))
        }
    }

    /// Zeros and signs at the edges of the inline paths: every small operand pair.
    #[test]
    fn small_money_arithmetic_keeps_the_decimal_types_sign_and_scale() {
        for a in -3i64..=3 {
            for b in -3i64..=3 {
                for (sa, sb) in [(0, 0), (2, 2), (0, 2), (2, 0), (1, 2)] {
                    for (ia, ib) in [(false, false), (true, false), (false, true)] {
                        for op in [ArithOp::Add, ArithOp::Sub, ArithOp::Mul] {
                            let (x, y) = (cell(a, sa, ia), cell(b, sb, ib));
                            let (dx, dy) = (x.decimal().unwrap(), y.decimal().unwrap());
                            let want = match op {
                                ArithOp::Add => dx + dy,
                                ArithOp::Sub => dx - dy,
                                _ => dx * dy,
                            };
                            let got = arith(op, x, y, false).decimal().unwrap();
                            assert_eq!(
                                (got, got.scale(), got.is_sign_negative()),
                                (want, want.scale(), want.is_sign_negative()),
                                "{x:?} {op:?} {y:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_age_compared_with_a_constant_is_a_comparison_of_birth_dates() {
        let days =
            |y: i32| (1..=12).flat_map(move |m| (1..=31).map(move |d| y * 10_000 + m * 100 + d));
        let ons = [
            20240228, 20240229, 20240301, 20250228, 20250301, 20251231, 20260101,
        ];
        for on in ons {
            for b in (2018..=2026)
                .flat_map(days)
                .step_by(3)
                .chain([20200229, 20210228])
            {
                for k in -2..=9 {
                    let (hi, lo) = (born_by(on, k).unwrap(), born_by(on, k + 1).unwrap());
                    for op in [
                        CmpOp::Eq,
                        CmpOp::Ne,
                        CmpOp::Lt,
                        CmpOp::Le,
                        CmpOp::Gt,
                        CmpOp::Ge,
                    ] {
                        assert_eq!(
                            age_holds(op, i64::from(b), hi, lo),
                            holds(op, age(b, on).cmp(&k)),
                            "born {b}, on {on}: age {op:?} {k}"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// The fast path of money arithmetic gives the decimal type's exact result:
        /// value, scale and sign.
        #[test]
        fn money_arithmetic_is_the_decimal_types(
            a in -(1i64 << 40)..(1i64 << 40), sa in 0u32..=6, ia: bool,
            b in -(1i64 << 40)..(1i64 << 40), sb in 0u32..=6, ib: bool,
            op in proptest::sample::select(vec![ArithOp::Add, ArithOp::Sub, ArithOp::Mul]),
        ) {
            let (x, y) = (cell(a, sa, ia), cell(b, sb, ib));
            let (dx, dy) = (x.decimal().unwrap(), y.decimal().unwrap());
            let want = match op {
                ArithOp::Add => dx.checked_add(dy),
                ArithOp::Sub => dx.checked_sub(dy),
                _ => dx.checked_mul(dy),
            };
            let got = arith(op, x, y, false);
            match (got, want) {
                (g @ (Cell::Fixed(..) | Cell::Dec(_)), Some(w)) => {
                    let g = g.decimal().unwrap();
                    proptest::prop_assert_eq!((g, g.scale(), g.is_sign_negative()), (w, w.scale(), w.is_sign_negative()));
                }
                (got, want) => proptest::prop_assert!(false, "{:?} vs {:?}", got, want),
            }
            let o = order(x, y, &RowRef { subject: 0, cells: &[], text: "" });
            proptest::prop_assert_eq!(o, Some(dx.cmp(&dy)));
        }
    }
}
