//! The resolved, typed program: what the checker produces, the compiler lays out and
//! the evaluator runs. Names are gone: fields are slot indexes, definitions are memo
//! slots, parameters, functions and policies are indexes into the rule set.

use crate::schema::RecordId;
use crate::syntax::ast::{ArithOp, CmpOp, Mode, Quantifier, Span};
use crate::value::{EnumId, Value};
use chrono::NaiveDate;
use std::sync::Arc;

/// The static type of an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// true / false (three-valued at run time)
    Bool,
    /// whole number
    Int,
    /// exact decimal
    Decimal,
    /// text
    Str,
    /// calendar date
    Date,
    /// a number of days, months or years (only in date arithmetic)
    Duration,
    /// enum value
    Enum(EnumId),
    /// list
    List(Box<Ty>),
    /// record
    Record(RecordId),
    /// the literal `none`, compatible with every type
    NoneLit,
}

impl Ty {
    /// Int or decimal.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Decimal)
    }
}

/// Built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `age(birth[, on])`: completed years on `on` (default `ref`).
    Age,
    /// `add_days(d, n)`
    AddDays,
    /// `add_months(d, n)`
    AddMonths,
    /// `add_years(d, n)`
    AddYears,
    /// `month_diff(a, b)`
    MonthDiff,
    /// `year(d)`
    Year,
    /// `month(d)`
    Month,
    /// `day(d)`
    Day,
    /// `date(y, m, d)`
    MakeDate,
    /// `within_last(d, K months)`: `ref − K ≤ d ≤ ref`
    WithinLast,
    /// `min(a, b, ...)`
    Min,
    /// `max(a, b, ...)`
    Max,
    /// `round(x, places)`: half-up (half away from zero)
    Round,
    /// `round_half_even(x, places)`
    RoundHalfEven,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`
    Ceil,
    /// `abs(x)`
    Abs,
    /// `len(list)`
    Len,
}

/// A date arithmetic unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateUnit {
    /// days
    Days,
    /// months
    Months,
    /// years
    Years,
}

impl DateUnit {
    /// `d` shifted by `n` of this unit (month ends clamped, see [`crate::semantics::calendar`]).
    pub fn shift(self, d: NaiveDate, n: i64) -> Option<NaiveDate> {
        crate::semantics::number::shift(d, n, self).ok()
    }
}

/// A `match` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pat {
    /// `_`
    Any,
    /// equal to the value of the expression
    Eq(Expr),
    /// inclusive range
    Range(Expr, Expr),
}

/// A resolved expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant (`None` is the literal `none`).
    Const(Option<Value>),
    /// A duration literal.
    Duration(i64, DateUnit),
    /// The reference date.
    Ref,
    /// The subject's root record.
    Root,
    /// A local slot of the current frame (parameter, item variable, quantifier variable).
    Local(usize),
    /// A memoised definition of the current body.
    Let(usize),
    /// A field of a record.
    Field {
        /// The record.
        base: Box<Expr>,
        /// The record's type.
        record: RecordId,
        /// Slot index.
        index: usize,
        /// Field name (for missing paths and traces).
        name: Arc<str>,
        /// Masked in traces.
        sensitive: bool,
    },
    /// A built-in.
    Call(Builtin, Vec<Expr>),
    /// A user function.
    Function(usize, Vec<Expr>),
    /// A parameter on `ref`, or on the given date.
    Param(usize, Option<Box<Expr>>),
    /// Whether another policy is eligible (three-valued).
    PolicyRef(usize),
    /// Inside a bundle: whether an earlier member is available (or, for a policy
    /// member, eligible), three-valued.
    MemberRef(usize),
    /// `-e`
    Neg(Box<Expr>),
    /// Arithmetic; the result type decides integer or decimal arithmetic.
    Arith(ArithOp, Box<Expr>, Box<Expr>, Ty),
    /// date ± duration
    DateShift(Box<Expr>, Box<Expr>, bool),
    /// `not e`
    Not(Box<Expr>),
    /// Kleene and.
    And(Vec<Expr>),
    /// Kleene or.
    Or(Vec<Expr>),
    /// Comparison.
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `e in {a, b}` (negated when the flag is set)
    InSet(Box<Expr>, Vec<Expr>, bool),
    /// `e in lo..hi`
    InRange(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// `e in list`
    InList(Box<Expr>, Box<Expr>, bool),
    /// `e is none` / `e is not none`
    IsNone(Box<Expr>, bool),
    /// `a otherwise b`
    Otherwise(Box<Expr>, Box<Expr>),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A quantifier or aggregate over a list; the item goes into local `var`.
    Quant {
        /// Which.
        quantifier: Quantifier,
        /// Local slot of the item.
        var: usize,
        /// The list.
        list: Box<Expr>,
        /// Filter.
        filter: Option<Box<Expr>>,
        /// Body.
        body: Option<Box<Expr>>,
        /// Where it was written (for evaluation errors).
        span: Span,
    },
    /// `match`
    Match(Box<Expr>, Vec<(Vec<Pat>, Expr)>),
    /// `cases`
    Cases(Vec<(Expr, Expr)>, Option<Box<Expr>>),
}

/// A definition slot of a body.
#[derive(Debug, Clone, PartialEq)]
pub struct LetDef {
    /// Its name (for traces).
    pub name: String,
    /// Its value.
    pub value: Expr,
}

/// A clause of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ClauseDef {
    /// `C1`
    pub id: String,
    /// Label.
    pub label: String,
    /// Citation.
    pub basis: Option<String>,
    /// Condition.
    pub condition: Expr,
}

/// When an amount rule applies.
#[derive(Debug, Clone, PartialEq)]
pub enum AmountGuard {
    /// Always.
    Always,
    /// When the condition holds.
    When(Expr),
}

/// An amount rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AmountDef {
    /// Period word.
    pub period: String,
    /// Unit.
    pub unit: String,
    /// Guard.
    pub guard: AmountGuard,
    /// Value.
    pub value: Expr,
    /// Extras stated with the amount.
    pub extras: Vec<(String, Expr)>,
}

/// Per-item evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct PerItemDef {
    /// Output key: `per_hire`, `per_child`.
    pub key: String,
    /// Local slot of the item variable.
    pub var: usize,
    /// The list.
    pub list: Expr,
    /// Which items are sub-subjects.
    pub filter: Option<Expr>,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDef {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Subject kind index in the schema.
    pub subject: usize,
    /// Mode.
    pub mode: Mode,
    /// Authority.
    pub authority: Option<String>,
    /// Legal basis.
    pub basis: Option<String>,
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force.
    pub to: Option<NaiveDate>,
    /// Per-item evaluation.
    pub per_item: Option<PerItemDef>,
    /// Definitions (memo slots).
    pub lets: Vec<LetDef>,
    /// Number of local slots.
    pub locals: usize,
    /// Clauses C1.. in order.
    pub clauses: Vec<ClauseDef>,
    /// Amount rules.
    pub amounts: Vec<AmountDef>,
    /// Aggregate of per-item amounts: period and the summed key (`value` or an extra).
    pub total: Option<(String, String)>,
    /// Reported extras.
    pub reports: Vec<(String, Expr)>,
    /// Mutually exclusive policies.
    pub excludes: Vec<String>,
    /// Rule file the policy came from.
    pub source: String,
    /// Declared invariants.
    pub properties: Vec<PropertyDef>,
}

impl PolicyDef {
    /// Whether the policy is in force on `d`.
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.from <= d && self.to.is_none_or(|t| d <= t)
    }
}

/// A declared invariant of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyDef {
    /// Name.
    pub name: String,
    /// Label.
    pub label: String,
    /// What must hold.
    pub kind: PropertyKind,
}

/// The kinds of declared invariants.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyKind {
    /// Every eligible amount satisfies `amount <op> bound`.
    AmountBound(CmpOp, rust_decimal::Decimal),
    /// Raising the values at `path` never lowers (increasing) or raises (decreasing)
    /// the outcome (not_eligible < eligible) or the amount.
    Monotone {
        /// Direction.
        increasing: bool,
        /// Path segments; a segment ending in `[]` is a list whose every item is changed.
        path: Vec<String>,
    },
}

/// A checked parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// Name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Dated steps, sorted, not overlapping: (from, to, value, source).
    pub steps: Vec<(NaiveDate, Option<NaiveDate>, Value, Option<String>)>,
}

impl ParamDef {
    /// The value in force on `d`.
    pub fn value_on(&self, d: NaiveDate) -> Option<&Value> {
        self.steps
            .iter()
            .find(|(from, to, _, _)| *from <= d && to.is_none_or(|t| d <= t))
            .map(|(_, _, v, _)| v)
    }
}

/// A checked function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// Name.
    pub name: String,
    /// Number of parameters (locals 0..params).
    pub params: usize,
    /// Number of local slots (parameters and quantifier variables).
    pub locals: usize,
    /// Definitions.
    pub lets: Vec<LetDef>,
    /// Body.
    pub body: Expr,
}

/// What decides a member of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberKind {
    /// Available when the condition holds.
    Procedural(Expr),
    /// A policy's decision, with clauses forced by the bundle.
    Policy {
        /// Policy index.
        policy: usize,
        /// Clause id and the bundle's value for it.
        overrides: Vec<(String, Expr)>,
    },
}

/// A member matter of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberDef {
    /// Its key.
    pub key: String,
    /// Its label.
    pub label: String,
    /// What decides it.
    pub kind: MemberKind,
}

/// A field of a bundle's form.
#[derive(Debug, Clone, PartialEq)]
pub struct FormFieldDef {
    /// Key.
    pub key: String,
    /// Label.
    pub label: String,
    /// Value, `None` when always entered.
    pub value: Option<Expr>,
    /// When the value may be used.
    pub when: Option<Expr>,
}

/// A material a bundle asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialDef {
    /// Key.
    pub key: String,
    /// Label.
    pub label: String,
    /// Indexes of the members that need it.
    pub members: Vec<usize>,
    /// `None`: to submit; `Some(None)`: always held; `Some(Some(c))`: held when c.
    pub held: Option<Option<Expr>>,
}

/// A checked bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleDef {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Subject kind index.
    pub subject: usize,
    /// Legal frame.
    pub basis: Option<String>,
    /// Definitions.
    pub lets: Vec<LetDef>,
    /// Local slots.
    pub locals: usize,
    /// Members in order.
    pub members: Vec<MemberDef>,
    /// Form fields in form order.
    pub fields: Vec<FormFieldDef>,
    /// Materials.
    pub materials: Vec<MaterialDef>,
}

/// A checked program: everything the compiler needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// "One thing" bundles.
    pub bundles: Vec<BundleDef>,
    /// Policies, in rule-set order (the compiled batch tier decides them in dependency
    /// order).
    pub policies: Vec<PolicyDef>,
    /// Parameters.
    pub params: Vec<ParamDef>,
    /// Functions.
    pub functions: Vec<FunctionDef>,
}

impl Expr {
    /// Calls `f` on each direct sub-expression, in source order: the one place that
    /// knows where every kind of expression keeps its operands, so that a stage that
    /// only traverses (a walk, a depth, a taint) needs no arm per kind.
    pub fn for_each_child<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        match self {
            Expr::Const(_)
            | Expr::Duration(..)
            | Expr::Ref
            | Expr::Root
            | Expr::Local(_)
            | Expr::Let(_)
            | Expr::PolicyRef(_)
            | Expr::MemberRef(_) => {}
            Expr::Field { base, .. } => f(base),
            Expr::Call(_, args) | Expr::Function(_, args) | Expr::And(args) | Expr::Or(args) => {
                args.iter().for_each(f)
            }
            Expr::Param(_, at) => {
                if let Some(a) = at {
                    f(a)
                }
            }
            Expr::Neg(x) | Expr::Not(x) | Expr::IsNone(x, _) => f(x),
            Expr::Arith(_, a, b, _)
            | Expr::DateShift(a, b, _)
            | Expr::Compare(_, a, b)
            | Expr::Otherwise(a, b)
            | Expr::InList(a, b, _) => {
                f(a);
                f(b);
            }
            Expr::InSet(a, xs, _) => {
                f(a);
                xs.iter().for_each(f);
            }
            Expr::InRange(a, b, c, _) | Expr::If(a, b, c) => {
                f(a);
                f(b);
                f(c);
            }
            Expr::Quant {
                list, filter, body, ..
            } => {
                f(list);
                if let Some(x) = filter {
                    f(x);
                }
                if let Some(x) = body {
                    f(x);
                }
            }
            Expr::Match(s, arms) => {
                f(s);
                for (pats, v) in arms {
                    for p in pats {
                        match p {
                            Pat::Any => {}
                            Pat::Eq(e) => f(e),
                            Pat::Range(a, b) => {
                                f(a);
                                f(b);
                            }
                        }
                    }
                    f(v);
                }
            }
            Expr::Cases(arms, d) => {
                for (c, v) in arms {
                    f(c);
                    f(v);
                }
                if let Some(d) = d {
                    f(d);
                }
            }
        }
    }

    /// Calls `f` on this expression and every sub-expression (depth first, without
    /// recursion on the machine stack: expressions nest as deep as the rules do).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            let at = stack.len();
            e.for_each_child(&mut |c| stack.push(c));
            // Children in source order: the first pushed is popped first.
            if let Some(pushed) = stack.get_mut(at..) {
                pushed.reverse();
            }
        }
    }
}

impl Program {
    /// Every expression of the program.
    pub fn expressions(&self) -> Vec<&Expr> {
        let mut out: Vec<&Expr> = vec![];
        for p in &self.policies {
            out.extend(p.lets.iter().map(|l| &l.value));
            out.extend(p.clauses.iter().map(|c| &c.condition));
            for a in &p.amounts {
                if let AmountGuard::When(g) = &a.guard {
                    out.push(g);
                }
                out.push(&a.value);
                out.extend(a.extras.iter().map(|(_, e)| e));
            }
            out.extend(p.reports.iter().map(|(_, e)| e));
            if let Some(pi) = &p.per_item {
                out.push(&pi.list);
                out.extend(pi.filter.iter());
            }
        }
        for f in &self.functions {
            out.extend(f.lets.iter().map(|l| &l.value));
            out.push(&f.body);
        }
        for b in &self.bundles {
            out.extend(b.lets.iter().map(|l| &l.value));
            for m in &b.members {
                match &m.kind {
                    MemberKind::Procedural(e) => out.push(e),
                    MemberKind::Policy { overrides, .. } => {
                        out.extend(overrides.iter().map(|(_, e)| e))
                    }
                }
            }
            for f in &b.fields {
                out.extend(f.value.iter());
                out.extend(f.when.iter());
            }
            for m in &b.materials {
                if let Some(Some(e)) = &m.held {
                    out.push(e);
                }
            }
        }
        out
    }
}
