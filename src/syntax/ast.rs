//! The abstract syntax tree of rule files. Every node carries the span of the source
//! text it came from, so later stages can point at it.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// Index of the file in the [`crate::syntax::SourceMap`].
    pub file: usize,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it stands.
    pub span: Span,
}

/// One parsed rule file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleFile {
    /// Policies, bundles, parameters, scales and functions in source order.
    pub items: Vec<Item>,
}

/// A top-level item of a rule file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `policy id "title" { ... }`
    Policy(Box<Policy>),
    /// `parameter NAME "label": type { from ... = value }`
    Parameter(Parameter),
    /// `scale NAME "label" { from ...: threshold → value, ... }`
    Scale(Scale),
    /// `function name(params): type = expr`
    Function(Function),
    /// `bundle id "title" { ... }`: a "one thing" (一件事) bundle.
    Bundle(Box<Bundle>),
}

/// A "one thing" bundle: member matters, one combined form, one set of materials.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// The bundle's id, kebab-case (`bundle-unemployment`).
    pub id: Ident,
    /// The bundle's printable title, as the form shows it.
    pub title: String,
    /// The whole block.
    pub span: Span,
    /// `subject person`
    pub subject: Option<Ident>,
    /// `basis "…"`: the legal frame printed on the form.
    pub basis: Option<String>,
    /// Named definitions (`let`), in source order.
    pub lets: Vec<Let>,
    /// Member matters, in order.
    pub members: Vec<Member>,
    /// Form fields, in form order.
    pub fields: Vec<FormField>,
    /// Materials (documents) the members need, in source order.
    pub materials: Vec<Material>,
}

/// A member matter of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The member's key, as `available(key)` / `eligible(key)` name it later in the bundle.
    pub key: Ident,
    /// The member's label as written in quotes (`"失业登记"`), if any.
    pub label: Option<String>,
    /// What decides it.
    pub kind: MemberKind,
}

/// What decides a member matter.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberKind {
    /// A procedural matter: available when the condition holds.
    Available(Expr),
    /// A policy, with clauses the bundle itself satisfies.
    Policy {
        /// The policy id.
        policy: Ident,
        /// `for x`: the one item of a per-item policy the member decides.
        item: Option<Expr>,
        /// `C3 = condition`
        overrides: Vec<(Ident, Expr)>,
    },
}

/// A field of a bundle's form.
#[derive(Debug, Clone, PartialEq)]
pub struct FormField {
    /// The field's key in the form output (`bank_account`).
    pub key: Ident,
    /// The field's label as the form shows it (`"姓名"`).
    pub label: String,
    /// Where its value comes from; `None` when always entered by the citizen.
    pub value: Option<Expr>,
    /// When the value may be used.
    pub when: Option<Expr>,
}

/// A material (document) a member matter needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// The material's key in the output (`id_card`).
    pub key: Ident,
    /// The material's label as the form shows it (`"居民身份证"`).
    pub label: String,
    /// The member keys that need it.
    pub members: Vec<Ident>,
    /// `held` (`Some(None)`), `held when c` (`Some(Some(c))`), or to submit (`None`).
    pub held: Option<Option<Expr>>,
}

/// How a policy reaches the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// 免申即享: granted from the data, without an application.
    NoApplication,
    /// 政策找人: the person is told they probably qualify and confirms.
    PushAndConfirm,
    /// The person applies.
    Apply,
}

impl Mode {
    /// The word used in rule files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::NoApplication => "no_application",
            Mode::PushAndConfirm => "push_and_confirm",
            Mode::Apply => "apply",
        }
    }
}

/// A policy: its metadata, clauses and amount.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Policy id, kebab-case.
    pub id: Ident,
    /// Title, usually Chinese.
    pub title: String,
    /// The whole `policy ... { }` block.
    pub span: Span,
    /// `subject person`
    pub subject: Option<Ident>,
    /// `mode no_application`
    pub mode: Option<Ident>,
    /// `authority "..."`
    pub authority: Option<String>,
    /// `basis "..."`: the legal basis.
    pub basis: Option<String>,
    /// `effective 2024-07-01 to 2026-06-30` or `effective from 2016-01-01`.
    pub effective: Option<Effective>,
    /// `for each hire h in enterprise.hires where ...`
    pub per_item: Option<PerItem>,
    /// Named definitions, in source order.
    pub lets: Vec<Let>,
    /// Numbered clauses (C1, C2, ...); C0 is implied by `effective`.
    pub clauses: Vec<Clause>,
    /// Amount rules, tried in order.
    pub amounts: Vec<AmountRule>,
    /// How per-item amounts add up to the policy's amount.
    pub total: Option<Total>,
    /// Extra values reported beside the outcome (`report retirement_date = ...`).
    pub reports: Vec<Extra>,
    /// Policies this one is mutually exclusive with.
    pub excludes: Vec<Ident>,
    /// Parameters whose dated values knowingly do not cover the whole period.
    pub accepted_gaps: Vec<(Ident, String)>,
    /// Declared invariants (`property`), checked by `mianshen test --properties`.
    pub properties: Vec<Property>,
}

/// A declared invariant of a policy, checked by property tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Its name.
    pub name: Ident,
    /// Its label.
    pub label: Option<String>,
    /// What must hold.
    pub kind: PropertyKind,
}

/// The kinds of declared invariants.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyKind {
    /// `amount <= 2000.00`: every eligible amount satisfies the bound.
    AmountBound(CmpOp, Literal, Span),
    /// `monotone increasing|decreasing in a.b[].c`: raising the values at the path never
    /// lowers (increasing) / raises (decreasing) eligibility or the amount.
    Monotone {
        /// increasing or decreasing.
        increasing: bool,
        /// The dotted path; `[]` marks a list whose every item is changed.
        path: String,
        /// Where the path stands.
        span: Span,
    },
}

/// The effective period of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force, if any.
    pub to: Option<NaiveDate>,
    /// Where it was written.
    pub span: Span,
}

/// `for each <kind> <var> in <list> [where <filter>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerItem {
    /// The sub-subject kind (hire, child): results are reported under `per_<kind>`.
    pub kind: Ident,
    /// The variable naming the item in clauses.
    pub var: Ident,
    /// The list of items.
    pub list: Expr,
    /// Which items are sub-subjects.
    pub filter: Option<Expr>,
}

/// `let name = expr`
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    /// The defined name.
    pub name: Ident,
    /// Its definition.
    pub value: Expr,
}

/// A numbered clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// `C1`, `C2`, ...
    pub id: Ident,
    /// The clause's label, as in the policy text.
    pub label: String,
    /// Optional legal citation of this clause.
    pub basis: Option<String>,
    /// The condition that must be true for the clause to hold.
    pub condition: Expr,
    /// The whole clause.
    pub span: Span,
}

/// When an amount rule applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// Always (the only or last rule).
    Always,
    /// `when <cond>`
    When(Expr),
    /// `otherwise`
    Otherwise,
}

/// `amount <period> [unit] [when c | otherwise]: value [with k = v, ...]`
#[derive(Debug, Clone, PartialEq)]
pub struct AmountRule {
    /// per_month, per_year, one_time, total_entitlement, max_principal.
    pub period: Ident,
    /// Currency; CNY when not written.
    pub unit: Option<Ident>,
    /// When this rule applies.
    pub guard: Guard,
    /// The amount.
    pub value: Expr,
    /// Extra values stated with the amount (months, monthly, ratio...).
    pub extras: Vec<Extra>,
    /// The whole rule.
    pub span: Span,
}

/// A named extra value.
#[derive(Debug, Clone, PartialEq)]
pub struct Extra {
    /// Its key in the output.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// `total <period>: sum of <value|extra>`
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    /// Period of the aggregate amount.
    pub period: Ident,
    /// `value` or the name of an extra of the per-item amounts.
    pub of: Ident,
}

/// A parameter with dated values.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its name.
    pub name: Ident,
    /// Its label.
    pub label: String,
    /// Its declared type.
    pub ty: TypeName,
    /// Its dated values.
    pub steps: Vec<ParamStep>,
    /// The whole block.
    pub span: Span,
}

/// One dated value of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamStep {
    /// In force from.
    pub from: NaiveDate,
    /// In force until (inclusive), open-ended when absent.
    pub to: Option<NaiveDate>,
    /// The value; `None` for `absent` (the value abolished from `from` on).
    pub value: Option<Literal>,
    /// The source of the value.
    pub source: Option<String>,
    /// Where the step stands.
    pub span: Span,
}

/// A bracket scale with dated steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// Its name.
    pub name: Ident,
    /// Its label.
    pub label: String,
    /// Its dated steps.
    pub steps: Vec<ScaleStep>,
    /// The whole block.
    pub span: Span,
}

/// One dated step of a scale.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleStep {
    /// In force from.
    pub from: NaiveDate,
    /// In force until (inclusive), open-ended when absent.
    pub to: Option<NaiveDate>,
    /// The brackets in order as written; `None` for `absent`.
    pub brackets: Option<Vec<BracketDef>>,
    /// The source of the step.
    pub source: Option<String>,
    /// Where the step stands.
    pub span: Span,
}

/// `threshold → value` in a scale step.
#[derive(Debug, Clone, PartialEq)]
pub struct BracketDef {
    /// Where the bracket starts (included).
    pub threshold: Literal,
    /// The bracket's rate or amount.
    pub value: Literal,
    /// Where the pair stands.
    pub span: Span,
}

/// A type as written: `date`, `gender`, `list<int>`.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeName {
    /// A scalar or enum name.
    Named(Ident),
    /// `list<T>`
    List(Box<TypeName>, Span),
}

/// A function shared across rule files.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Its name.
    pub name: Ident,
    /// Its label (optional).
    pub label: Option<String>,
    /// Parameters with their types.
    pub params: Vec<(Ident, TypeName)>,
    /// The result type.
    pub result: TypeName,
    /// Local definitions.
    pub lets: Vec<Let>,
    /// The result.
    pub body: Expr,
    /// The whole function.
    pub span: Span,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `true`, `false`
    Bool(bool),
    /// `12`
    Int(i64),
    /// `2305.00`
    Decimal(Decimal),
    /// `"上海"`
    Str(String),
    /// `2025-07-01`
    Date(NaiveDate),
    /// `12 months`, `3 years`, `10 days`
    Duration(i64, DurationUnit),
    /// `none`
    None,
}

/// Unit of a duration literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    /// Calendar days.
    Days,
    /// Calendar months (clamping month ends).
    Months,
    /// Calendar years (clamping 29 February).
    Years,
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// Binary arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (exact decimal division)
    Div,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Quantifiers and aggregates over a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// `any x in L: P`, Kleene "at least one".
    Any,
    /// `all x in L: P`, Kleene "every".
    All,
    /// `no x in L: P`, Kleene "none of".
    No,
    /// `count x in L [: P]`
    Count,
    /// `sum x in L [where F]: E`
    Sum,
    /// `min x in L [where F]: E`
    Min,
    /// `max x in L [where F]: E`
    Max,
    /// `the x in L where F`: the single item (an error when none or several).
    The,
    /// `latest x in L [where F]: E`: the item with the greatest E (an error on ties).
    Latest,
    /// `earliest x in L [where F]: E`: the item with the least E (an error on ties).
    Earliest,
}

/// What `x in ...` tests against.
#[derive(Debug, Clone, PartialEq)]
pub enum InTarget {
    /// `{a, b, c}`
    Set(Vec<Expr>),
    /// `lo..hi`, inclusive.
    Range(Box<Expr>, Box<Expr>),
    /// a list-valued expression.
    List(Box<Expr>),
}

/// A `match` arm pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `_`
    Wildcard,
    /// `lo..hi`
    Range(Expr, Expr),
    /// a value
    Value(Expr),
}

/// The kinds of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// `ref`, the reference date.
    Ref,
    /// A name: a local, a definition, a record section, a parameter, an enum value.
    Name(Ident),
    /// `e.field`
    Field(Box<Expr>, Ident),
    /// `f(args)`: a built-in, a function or a parameter at a date.
    Call(Ident, Vec<Expr>),
    /// `eligible(policy-id)`, or `eligible(policy-id for item)` for one item of a
    /// per-item policy.
    PolicyRef(Ident, Option<Box<Expr>>),
    /// `amount(policy-id)`: the amount another policy decides for the same subject (or,
    /// with `for item`, for one item of a per-item policy).
    PolicyAmount(Ident, Option<Box<Expr>>),
    /// `available(member-key)` inside a bundle.
    AvailableRef(Ident),
    /// `-e`
    Neg(Box<Expr>),
    /// `a + b`, `a - b`, `a * b`, `a / b` (date ± duration included).
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and c`
    And(Vec<Expr>),
    /// `a or b or c`
    Or(Vec<Expr>),
    /// `a < b`, `a == b`, …: false when either side is `none`.
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `e [not] in target`
    In {
        /// The tested value.
        value: Box<Expr>,
        /// Set, range or list.
        target: InTarget,
        /// `not in`
        negated: bool,
    },
    /// `e is [not] none`
    IsNone {
        /// The tested value.
        value: Box<Expr>,
        /// `is not none`
        negated: bool,
    },
    /// `a otherwise b`: b when a is none.
    Otherwise(Box<Expr>, Box<Expr>),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Quantifier or aggregate over a list.
    Quantified {
        /// Which quantifier or aggregate (`any`, `count`, `sum`, `the`, …).
        quantifier: Quantifier,
        /// The item variable.
        var: Ident,
        /// The list-valued expression ranged over.
        list: Box<Expr>,
        /// `where` filter.
        filter: Option<Box<Expr>>,
        /// `: body`
        body: Option<Box<Expr>>,
    },
    /// `match e { pat | pat => v, ... }`
    Match(Box<Expr>, Vec<(Vec<Pattern>, Expr)>),
    /// `cases { cond => v, ..., else => v }`
    Cases(Vec<(Expr, Expr)>, Option<Box<Expr>>),
}

impl Expr {
    /// The direct sub-expressions.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Literal(_)
            | ExprKind::Ref
            | ExprKind::Name(_)
            | ExprKind::PolicyRef(_, None)
            | ExprKind::PolicyAmount(_, None)
            | ExprKind::AvailableRef(_) => {
                vec![]
            }
            ExprKind::PolicyRef(_, Some(item)) | ExprKind::PolicyAmount(_, Some(item)) => {
                vec![item]
            }
            ExprKind::Field(b, _) | ExprKind::Neg(b) | ExprKind::Not(b) => vec![b],
            ExprKind::IsNone { value, .. } => vec![value],
            ExprKind::Call(_, args) | ExprKind::And(args) | ExprKind::Or(args) => {
                args.iter().collect()
            }
            ExprKind::Arith(_, a, b) | ExprKind::Compare(_, a, b) | ExprKind::Otherwise(a, b) => {
                vec![a, b]
            }
            ExprKind::In { value, target, .. } => {
                let mut v: Vec<&Expr> = vec![value];
                match target {
                    InTarget::Set(items) => v.extend(items.iter()),
                    InTarget::Range(lo, hi) => v.extend([&**lo, &**hi]),
                    InTarget::List(l) => v.push(l),
                }
                v
            }
            ExprKind::If(c, a, b) => vec![c, a, b],
            ExprKind::Quantified {
                list, filter, body, ..
            } => {
                let mut v: Vec<&Expr> = vec![list];
                v.extend(filter.as_deref());
                v.extend(body.as_deref());
                v
            }
            ExprKind::Match(s, arms) => {
                let mut v: Vec<&Expr> = vec![s];
                for (pats, value) in arms {
                    for p in pats {
                        match p {
                            Pattern::Wildcard => {}
                            Pattern::Value(e) => v.push(e),
                            Pattern::Range(a, b) => v.extend([a, b]),
                        }
                    }
                    v.push(value);
                }
                v
            }
            ExprKind::Cases(arms, default) => {
                let mut v: Vec<&Expr> = vec![];
                for (c, x) in arms {
                    v.extend([c, x]);
                }
                v.extend(default.as_deref());
                v
            }
        }
    }

    /// The depth of the expression tree, computed without recursion.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((e, d)) = stack.pop() {
            max = max.max(d);
            stack.extend(e.children().into_iter().map(|c| (c, d + 1)));
        }
        max
    }
}

impl RuleFile {
    /// Every top-level expression of the file (clauses, definitions, amounts, ...).
    pub fn expressions(&self) -> Vec<&Expr> {
        let mut out: Vec<&Expr> = vec![];
        for item in &self.items {
            match item {
                Item::Policy(p) => {
                    out.extend(p.lets.iter().map(|l| &l.value));
                    out.extend(p.clauses.iter().map(|c| &c.condition));
                    for a in &p.amounts {
                        if let Guard::When(g) = &a.guard {
                            out.push(g);
                        }
                        out.push(&a.value);
                        out.extend(a.extras.iter().map(|x| &x.value));
                    }
                    out.extend(p.reports.iter().map(|x| &x.value));
                    if let Some(pi) = &p.per_item {
                        out.push(&pi.list);
                        out.extend(pi.filter.iter());
                    }
                }
                Item::Function(f) => {
                    out.extend(f.lets.iter().map(|l| &l.value));
                    out.push(&f.body);
                }
                Item::Bundle(b) => {
                    out.extend(b.lets.iter().map(|l| &l.value));
                    for m in &b.members {
                        match &m.kind {
                            MemberKind::Available(e) => out.push(e),
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
                Item::Parameter(_) | Item::Scale(_) => {}
            }
        }
        out
    }
}
