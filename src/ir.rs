//! The resolved, typed program: what the checker produces, the compiler lays out and
//! the evaluator runs. Names are gone: fields are slot indexes, definitions are memo
//! slots, parameters, functions and policies are indexes into the rule set.

use crate::schema::RecordId;
pub use crate::semantics::scale::{Brackets, ScaleOp};
use crate::syntax::ast::{ArithOp, CmpOp, Mode, Quantifier, Span};
use crate::value::{EnumId, Value};
use chrono::NaiveDate;
use std::sync::Arc;

/// The static type of an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// true / false (three-valued at run time)
    Bool,
    /// A whole number (`i64`).
    Int,
    /// An exact decimal (money, ratios); never a float.
    Decimal,
    /// Text (names, regions, ids).
    Str,
    /// A calendar date without time or zone.
    Date,
    /// a number of days, months or years (only in date arithmetic)
    Duration,
    /// A value of the schema's enum type with this id.
    Enum(EnumId),
    /// A list whose items all have the given type.
    List(Box<Ty>),
    /// A (nested) record of the schema's record type with this id.
    Record(RecordId),
    /// the literal `none`, compatible with every type
    NoneLit,
}

impl Ty {
    /// Whether the type is a number (int or decimal), so arithmetic applies.
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
    /// `n days`: calendar days.
    Days,
    /// `n months`: calendar months, the day clamped to the month's end.
    Months,
    /// `n years`: calendar years, 29 February clamped to 28 February.
    Years,
}

/// A `match` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pat {
    /// `_`
    Any,
    /// equal to the value of the expression
    Eq(Expr),
    /// `lo..hi`: between the two values, both ends included.
    Range(Expr, Expr),
}

/// A resolved expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant (`None` is the literal `none`).
    Const(Option<Value>),
    /// A duration literal such as `3 months`, only as an operand of date ± duration.
    Duration(i64, DateUnit),
    /// `ref`: the reference date the decision is made on (`--date`).
    Ref,
    /// The subject's root record.
    Root,
    /// A local slot of the current frame (parameter, item variable, quantifier variable).
    Local(usize),
    /// A memoised definition of the current body.
    Let(usize),
    /// A field of a record.
    Field {
        /// The expression giving the record the field is read from.
        base: Box<Expr>,
        /// The schema record type of `base`.
        record: RecordId,
        /// The field's slot in the record's layout (its position in the schema).
        index: usize,
        /// Field name (for missing paths and traces).
        name: Arc<str>,
        /// The schema marks the field sensitive: its value is masked in traces.
        sensitive: bool,
    },
    /// A call of a built-in function, such as `age(person.birth_date)`.
    Call(Builtin, Vec<Expr>),
    /// A call of a rule-set `function`, by index into [`Program::functions`].
    Function(usize, Vec<Expr>),
    /// A parameter on `ref`, or on the given date.
    Param(usize, Option<Box<Expr>>),
    /// `marginal(S, x)` / `bracket(S, x)`: a scale (index into [`Program::scales`]) in
    /// force on `ref`, or on the date `at`, applied to the number `x`.
    Scale {
        /// Marginally or by the bracket reached.
        op: ScaleOp,
        /// The scale, by index into [`Program::scales`].
        scale: usize,
        /// The amount the scale is applied to.
        x: Box<Expr>,
        /// The date the scale is read at; `ref` when `None`.
        at: Option<Box<Expr>>,
    },
    /// Whether another policy is eligible (three-valued).
    PolicyRef(usize),
    /// The amount another policy decides: its value when eligible, none when not
    /// eligible or eligible without an amount, unknown while undetermined, an error
    /// while in error.
    PolicyAmount(usize),
    /// `eligible(P for x)` / `amount(P for x)`: the decision of per-item policy `policy`
    /// for the one item `item` (a record of the policy's list), read as `read` says.
    PolicyItem {
        /// Index of the per-item policy into [`Program::policies`].
        policy: usize,
        /// The item: a record of the kind the policy decides one by one.
        item: Box<Expr>,
        /// Whether its eligibility or its amount is read.
        read: DecisionRead,
    },
    /// Inside a bundle: whether an earlier member is available (or, for a policy
    /// member, eligible), three-valued.
    MemberRef(usize),
    /// `-e`
    Neg(Box<Expr>),
    /// Arithmetic; the result type decides integer or decimal arithmetic.
    Arith(ArithOp, Box<Expr>, Box<Expr>, Ty),
    /// `d + 3 months` / `d - 3 months`: the flag is true for `-`.
    DateShift(Box<Expr>, Box<Expr>, bool),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and c`, three-valued: false if any is false, else unknown if any is unknown.
    And(Vec<Expr>),
    /// `a or b or c`, three-valued: true if any is true, else unknown if any is unknown.
    Or(Vec<Expr>),
    /// `a < b`, `a == b`, …: unknown when either side is unknown, false when either is `none`.
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
        /// Which quantifier or aggregate (`any`, `count`, `sum`, `the`, `latest`, …).
        quantifier: Quantifier,
        /// Local slot of the item.
        var: usize,
        /// The list-valued expression the quantifier ranges over.
        list: Box<Expr>,
        /// The `where` condition an item must pass, if any.
        filter: Option<Box<Expr>>,
        /// The expression after `:` (a predicate or the aggregated value); `None` when
        /// omitted (`count x in L`, `the x in L where F`).
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
    /// The defining expression, evaluated at most once per decision.
    pub value: Expr,
}

/// A clause of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ClauseDef {
    /// `C1`
    pub id: String,
    /// The clause's label as written in quotes, shown in traces (`"年满65周岁"`).
    pub label: String,
    /// The clause's own `basis "…"` citation, if written.
    pub basis: Option<String>,
    /// The condition that must be true for the clause to hold.
    pub condition: Expr,
}

/// When an amount rule applies.
#[derive(Debug, Clone, PartialEq)]
pub enum AmountGuard {
    /// No `when`: the only rule, or the last one with `otherwise`.
    Always,
    /// When the condition holds.
    When(Expr),
}

/// An amount rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AmountDef {
    /// The period: `per_month`, `per_year`, `one_time` or `total_entitlement`.
    pub period: String,
    /// The currency as written, copied to the output; `CNY` when omitted.
    pub unit: String,
    /// When the rule applies; the rules are tried in order.
    pub guard: AmountGuard,
    /// The amount itself.
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
    /// The list of records of the subject whose items are decided one by one.
    pub list: Expr,
    /// Which items are sub-subjects.
    pub filter: Option<Expr>,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDef {
    /// The policy's id, kebab-case (`sh-senior-comprehensive-allowance`).
    pub id: String,
    /// The policy's title as written, usually Chinese (`"上海市老年综合津贴"`).
    pub title: String,
    /// Subject kind index in the schema.
    pub subject: usize,
    /// How the policy reaches the citizen: granted from the data, pushed to be confirmed,
    /// or applied for.
    pub mode: Mode,
    /// Who issues and executes the policy (`authority "上海市民政局"`), if stated.
    pub authority: Option<String>,
    /// The legal basis (`basis "…"`), shown in every trace.
    pub basis: Option<String>,
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force.
    pub to: Option<NaiveDate>,
    /// `for each <kind> <var> in <list>`: decided per item; `None` for a policy decided
    /// once per subject.
    pub per_item: Option<PerItemDef>,
    /// Definitions (memo slots).
    pub lets: Vec<LetDef>,
    /// Number of local slots.
    pub locals: usize,
    /// Clauses C1.. in order.
    pub clauses: Vec<ClauseDef>,
    /// Amount rules in source order; the first whose guard holds applies.
    pub amounts: Vec<AmountDef>,
    /// Aggregate of per-item amounts: period and the summed key (`value` or an extra).
    pub total: Option<(String, String)>,
    /// `report <name> = <expr>`: values stated beside the outcome whenever known.
    pub reports: Vec<(String, Expr)>,
    /// Ids of the policies declared mutually exclusive with this one (`excludes`).
    pub excludes: Vec<String>,
    /// Rule file the policy came from.
    pub source: String,
    /// Declared invariants (`property`), checked by `mianshen test --properties`.
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
    /// The property's name, unique within the policy.
    pub name: String,
    /// The property's label as written in quotes, shown in test reports.
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
        /// True for `increasing`, false for `decreasing`.
        increasing: bool,
        /// Path segments; a segment ending in `[]` is a list whose every item is changed.
        path: Vec<String>,
    },
}

/// One dated step of a parameter or a scale: in force from `from` to `to` (both
/// included; open-ended without `to`), with a value, or declared absent (the value
/// abolished from `from` on).
#[derive(Debug, Clone, PartialEq)]
pub struct Dated<T> {
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force, open-ended when `None`.
    pub to: Option<NaiveDate>,
    /// The value; `None` for a step declared `absent`.
    pub value: Option<T>,
    /// The source of the value (document number), as written.
    pub source: Option<String>,
}

impl<T> Dated<T> {
    /// Whether the step is in force on `d`.
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.from <= d && self.to.is_none_or(|t| d <= t)
    }
}

/// The step of `steps` in force on `d`, if any (steps do not overlap).
pub fn step_on<T>(steps: &[Dated<T>], d: NaiveDate) -> Option<&Dated<T>> {
    steps.iter().find(|s| s.covers(d))
}

/// The first day of `[from, to]` (open-ended without `to`) on which no step is in
/// force: neither a value nor a declared absence.
pub fn first_uncovered<T>(
    steps: &[Dated<T>],
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let mut cursor = from;
    loop {
        let Some(step) = step_on(steps, cursor) else {
            return Some(cursor);
        };
        match (step.to, to) {
            (None, _) => return None,
            (Some(e), Some(t)) if e >= t => return None,
            // The calendar's last day: nothing after it to cover.
            (Some(e), _) => cursor = e.succ_opt()?,
        }
    }
}

/// The first step declared absent that is in force on some day of `[from, to]`.
pub fn first_absent<T>(
    steps: &[Dated<T>],
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Option<&Dated<T>> {
    steps
        .iter()
        .filter(|s| s.value.is_none())
        .filter(|s| s.to.is_none_or(|e| from <= e) && to.is_none_or(|t| s.from <= t))
        .min_by_key(|s| s.from)
}

/// A checked parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// The parameter's name, by convention UPPER_CASE.
    pub name: String,
    /// The parameter's label as written in quotes.
    pub label: String,
    /// Dated steps, sorted, not overlapping.
    pub steps: Vec<Dated<Value>>,
}

impl ParamDef {
    /// The value in force on `d` (`None` when no step is, or the step in force
    /// declares the value absent).
    pub fn value_on(&self, d: NaiveDate) -> Option<&Value> {
        step_on(&self.steps, d).and_then(|s| s.value.as_ref())
    }
}

/// A checked bracket scale (`scale NAME "label" { from DATE: 0 → 0.02, ... }`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleDef {
    /// The scale's name, by convention UPPER_CASE.
    pub name: String,
    /// The scale's label as written in quotes.
    pub label: String,
    /// Dated steps, sorted, not overlapping.
    pub steps: Vec<Dated<Arc<Brackets>>>,
}

impl ScaleDef {
    /// The brackets in force on `d`.
    pub fn brackets_on(&self, d: NaiveDate) -> Option<&Arc<Brackets>> {
        step_on(&self.steps, d).and_then(|s| s.value.as_ref())
    }
}

/// A checked function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// The function's name, as called in rules.
    pub name: String,
    /// Number of parameters (locals 0..params).
    pub params: usize,
    /// Number of local slots (parameters and quantifier variables).
    pub locals: usize,
    /// The function's `let` definitions (memo slots of one call).
    pub lets: Vec<LetDef>,
    /// The expression whose value the call returns.
    pub body: Expr,
}

/// What an expression reads of another policy's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionRead {
    /// Whether it is eligible, three-valued.
    Eligible,
    /// The amount it decides (none unless eligible).
    Amount,
}

/// What decides a member of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberKind {
    /// Available when the condition holds.
    Procedural(Expr),
    /// A policy's decision, with clauses forced by the bundle.
    Policy {
        /// Index of the policy into [`Program::policies`].
        policy: usize,
        /// `for x`: the one item of a per-item policy the member decides (the member's
        /// result is that item's decision); `None` decides the policy for the subject.
        item: Option<Expr>,
        /// Clause id and the bundle's value for it.
        overrides: Vec<(String, Expr)>,
    },
}

/// A member matter of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberDef {
    /// The member's key, as `available(key)` and `eligible(key)` name it.
    pub key: String,
    /// The member's label as written in quotes (`"失业登记"`).
    pub label: String,
    /// What decides it.
    pub kind: MemberKind,
}

/// A field of a bundle's form.
#[derive(Debug, Clone, PartialEq)]
pub struct FormFieldDef {
    /// The field's key in the form output (`bank_account`).
    pub key: String,
    /// The field's label as the form shows it (`"姓名"`).
    pub label: String,
    /// Value, `None` when always entered.
    pub value: Option<Expr>,
    /// When the value may be used.
    pub when: Option<Expr>,
}

/// A material a bundle asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialDef {
    /// The material's key in the output (`id_card`).
    pub key: String,
    /// The material's label as the form shows it (`"居民身份证"`).
    pub label: String,
    /// Indexes of the members that need it.
    pub members: Vec<usize>,
    /// `None`: to submit; `Some(None)`: always held; `Some(Some(c))`: held when c.
    pub held: Option<Option<Expr>>,
}

/// A checked bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleDef {
    /// The bundle's id (`bundle-unemployment`), as `--bundle` names it.
    pub id: String,
    /// The bundle's printable title, as the form shows it.
    pub title: String,
    /// Subject kind index in the schema.
    pub subject: usize,
    /// The legal frame (`basis "…"`) printed on the form, if stated.
    pub basis: Option<String>,
    /// The bundle's `let` definitions (memo slots).
    pub lets: Vec<LetDef>,
    /// Number of local slots the bundle's expressions use.
    pub locals: usize,
    /// Member matters in order; a member may refer only to earlier ones.
    pub members: Vec<MemberDef>,
    /// Form fields in form order.
    pub fields: Vec<FormFieldDef>,
    /// Materials, each listed once with every member that needs it.
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
    /// Dated parameters, indexed by [`Expr::Param`].
    pub params: Vec<ParamDef>,
    /// Bracket scales, indexed by [`Expr::Scale`].
    pub scales: Vec<ScaleDef>,
    /// User functions, indexed by [`Expr::Function`].
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
            | Expr::PolicyAmount(_)
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
            Expr::Scale { x, at, .. } => {
                f(x);
                if let Some(a) = at {
                    f(a)
                }
            }
            Expr::Neg(x) | Expr::Not(x) | Expr::IsNone(x, _) => f(x),
            Expr::PolicyItem { item, .. } => f(item),
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
                    MemberKind::Policy {
                        item, overrides, ..
                    } => {
                        out.extend(item.iter());
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
