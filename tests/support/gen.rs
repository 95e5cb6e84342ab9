//! A type-directed generator of random, well-typed rule sets over a random schema,
//! and of records and reference dates that probe them.
//!
//! Rule sets are built as a structure ([`RuleSetSpec`]) rendered to text, rather than
//! as text directly, so that the shrinker can take them apart (drop a policy, a clause,
//! a function; replace a definition by a literal) and re-render. Every expression is
//! generated for a wanted type from the names in scope, so nearly every rule set
//! passes `check`; the few that do not (a construct the checker refuses in a place the
//! generator did not foresee) are counted by the caller.
//!
//! The generator is driven by proptest's [`TestRng`] with a seed, so a case number
//! and a seed give the same rule set and records every time.

#![allow(dead_code)]

use chrono::Datelike;
use proptest::prelude::RngExt;
use proptest::test_runner::TestRng;
use serde_json::{json, Map, Value as Json};
use std::fmt::Write as _;

/// The value types of generated expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int,
    Dec,
    Date,
    /// The schema's enum `color`.
    Color,
}

impl Ty {
    /// The type's name in function signatures.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Dec => "decimal",
            Ty::Date => "date",
            Ty::Color => "color",
        }
    }
}

/// The age thresholds the rules test (`age(…) >= 65`) and the birthdays aim at.
pub const AGES: [i32; 5] = [16, 18, 60, 65, 1];

/// Enum values of `color`.
pub const COLORS: [&str; 3] = ["red", "green", "blue"];

/// How an absent or null field reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    /// Unknown (missing data).
    Required,
    /// A known none.
    Optional,
    /// The default, a YAML literal.
    Default(String),
}

/// A scalar field of the schema.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: Ty,
    pub presence: Presence,
}

/// The schema: one subject kind `person` with scalar fields under `person`, a nested
/// record `extra`, a list of records `items` (key `id`) and a list of enum values.
#[derive(Debug, Clone)]
pub struct SchemaSpec {
    pub person: Vec<FieldSpec>,
    /// `extra` is an optional record (absent: none) or a required one.
    pub extra_optional: bool,
    pub extra: Vec<FieldSpec>,
    /// `items` defaults to `[]` (absent: no items) or is required (absent: unknown).
    pub items_default: bool,
    pub item: Vec<FieldSpec>,
}

fn render_field(f: &FieldSpec, indent: &str, out: &mut String) {
    let opt = match &f.presence {
        Presence::Required => String::new(),
        Presence::Optional => ", optional: true".into(),
        Presence::Default(v) => format!(", default: {v}"),
    };
    let _ = writeln!(out, "{indent}{}: {{type: {}{opt}}}", f.name, f.ty.name());
}

impl SchemaSpec {
    /// schema.yaml.
    pub fn render(&self) -> String {
        let mut s = String::from(
            "enums:\n  color: [red, green, blue]\nsubjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n",
        );
        for f in &self.person {
            render_field(f, "          ", &mut s);
        }
        let _ = writeln!(
            s,
            "      extra:\n{}        fields:",
            if self.extra_optional {
                "        optional: true\n"
            } else {
                ""
            }
        );
        for f in &self.extra {
            render_field(f, "          ", &mut s);
        }
        let _ = writeln!(
            s,
            "      items:\n{}        items:\n          key: id\n          fields:\n            id: {{type: string}}",
            if self.items_default {
                "        default: []\n"
            } else {
                ""
            }
        );
        for f in &self.item {
            render_field(f, "            ", &mut s);
        }
        s.push_str("      tags: {type: \"list<color>\", default: []}\n");
        s
    }

    /// Paths of the policy-readable scalar fields of a type (not through `items`).
    fn paths(&self, ty: Ty) -> Vec<String> {
        let mut v: Vec<String> = self
            .person
            .iter()
            .filter(|f| f.ty == ty)
            .map(|f| format!("person.{}", f.name))
            .collect();
        v.extend(
            self.extra
                .iter()
                .filter(|f| f.ty == ty)
                .map(|f| format!("extra.{}", f.name)),
        );
        v
    }
}

/// A `let` (in a policy or a function body).
#[derive(Debug, Clone)]
pub struct LetSpec {
    pub name: String,
    pub ty: Ty,
    pub expr: String,
}

/// A user function.
#[derive(Debug, Clone)]
pub struct FnSpec {
    pub name: String,
    pub params: Vec<(String, Ty)>,
    pub ret: Ty,
    /// Empty: `= body`; otherwise a block `{ let … body }`.
    pub lets: Vec<LetSpec>,
    pub body: String,
}

impl FnSpec {
    fn render(&self, out: &mut String) {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(n, t)| format!("{n}: {}", t.name()))
            .collect();
        let _ = write!(
            out,
            "function {}({}): {}",
            self.name,
            params.join(", "),
            self.ret.name()
        );
        if self.lets.is_empty() {
            let _ = writeln!(out, " =\n  {}\n", self.body);
        } else {
            out.push_str(" {\n");
            // Layout is free, so `let v = NAME` followed by a result in parentheses
            // would read as the call `NAME(…)`: close every definition with `)`.
            for l in &self.lets {
                if l.expr.ends_with(')') {
                    let _ = writeln!(out, "  let {} = {}", l.name, l.expr);
                } else {
                    let _ = writeln!(out, "  let {} = ({})", l.name, l.expr);
                }
            }
            let _ = writeln!(out, "  {}\n}}\n", self.body);
        }
    }
}

/// The guard of an amount rule.
#[derive(Debug, Clone)]
pub enum Guard {
    None,
    When(String),
    Otherwise,
}

/// An amount rule.
#[derive(Debug, Clone)]
pub struct AmountSpec {
    pub period: &'static str,
    pub unit: &'static str,
    pub guard: Guard,
    pub value: String,
    pub extras: Vec<LetSpec>,
}

/// A policy.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub id: String,
    pub mode: &'static str,
    /// `from 2000-01-01` or `2020-01-01 to 2025-12-31`.
    pub effective: String,
    /// `for each item it in items [where …]`.
    pub per_item: Option<String>,
    pub lets: Vec<LetSpec>,
    /// Clause conditions, numbered C1, C2, … in order.
    pub clauses: Vec<String>,
    pub amounts: Vec<AmountSpec>,
}

impl PolicySpec {
    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "policy {} \"{}\" {{\n  subject person\n  mode {}\n  effective {}",
            self.id, self.id, self.mode, self.effective
        );
        if let Some(p) = &self.per_item {
            let _ = writeln!(out, "  {p}");
        }
        for l in &self.lets {
            let _ = writeln!(out, "  let {} = {}", l.name, l.expr);
        }
        for (i, c) in self.clauses.iter().enumerate() {
            let _ = writeln!(out, "  C{} \"c{}\":\n      {c}", i + 1, i + 1);
        }
        for a in &self.amounts {
            let guard = match &a.guard {
                Guard::None => String::new(),
                Guard::When(c) => format!(" when {c}"),
                Guard::Otherwise => " otherwise".into(),
            };
            let _ = write!(out, "  amount {} {}{guard}: {}", a.period, a.unit, a.value);
            if !a.extras.is_empty() {
                let extras: Vec<String> = a
                    .extras
                    .iter()
                    .map(|e| format!("{} = {}", e.name, e.expr))
                    .collect();
                let _ = write!(out, "\n    with {}", extras.join(", "));
            }
            out.push('\n');
        }
        out.push_str("}\n\n");
    }
}

/// A whole rule set: schema, parameters, functions and policies.
#[derive(Debug, Clone)]
pub struct RuleSetSpec {
    pub schema: SchemaSpec,
    /// Rendered parameter blocks, with their name and type.
    pub params: Vec<(String, Ty, String)>,
    /// Rendered scale blocks, with their name.
    pub scales: Vec<(String, String)>,
    pub functions: Vec<FnSpec>,
    pub policies: Vec<PolicySpec>,
}

impl RuleSetSpec {
    /// The text of the single rule file.
    pub fn render_rules(&self) -> String {
        let mut s = String::new();
        for (_, _, p) in &self.params {
            s.push_str(p);
            s.push('\n');
        }
        for (_, p) in &self.scales {
            s.push_str(p);
            s.push('\n');
        }
        for f in &self.functions {
            f.render(&mut s);
        }
        for p in &self.policies {
            p.render(&mut s);
        }
        s
    }
}

/// A literal of a type (used by the generator and by the shrinker to replace an
/// expression by something simple of the same type).
pub fn literal(ty: Ty) -> &'static str {
    match ty {
        Ty::Bool => "true",
        Ty::Int => "1",
        Ty::Dec => "1.00",
        Ty::Date => "2020-01-01",
        Ty::Color => "red",
    }
}

/// The names an expression may use.
#[derive(Clone, Default)]
struct Scope {
    /// Local names (function parameters, lets, quantifier items' scalar reads) with
    /// their types.
    vars: Vec<(String, Ty)>,
    /// Item variables of `items` in scope (quantifier or `for each`).
    items: Vec<String>,
    /// In a policy (fields, `eligible(…)`), not in a function.
    policy: bool,
    /// Functions callable here.
    fns: Vec<(String, Vec<Ty>, Ty)>,
    /// Policies `eligible(…)` may name.
    policies: Vec<String>,
    /// Parameters (name, type).
    params: Vec<(String, Ty)>,
    /// Scales (`marginal(S, x)`, `bracket(S, x)`).
    scales: Vec<String>,
}

impl Scope {
    /// Whether a color can be had without a bare enum value.
    fn has_color(&self) -> bool {
        self.policy || self.vars.iter().any(|v| v.1 == Ty::Color)
    }
}

/// Dates the records and rules cluster around: leap days, month and year ends.
pub const PIVOTS: [&str; 12] = [
    "2024-02-28",
    "2024-02-29",
    "2024-03-01",
    "2025-02-28",
    "2025-03-01",
    "2025-01-31",
    "2025-04-30",
    "2024-12-31",
    "2025-01-01",
    "2000-02-29",
    "1960-02-29",
    "1996-02-29",
];

/// The generator: a random source, the constants used so far (the records aim at
/// them) and size limits.
pub struct Gen<'r> {
    pub rng: &'r mut TestRng,
    pub ints: Vec<i64>,
    pub decs: Vec<String>,
    /// Expression depth limit.
    pub depth: u32,
    fresh: u32,
}

impl<'r> Gen<'r> {
    pub fn new(rng: &'r mut TestRng, depth: u32) -> Self {
        Gen {
            rng,
            ints: vec![0, 1, 18, 60],
            decs: vec!["0.00".into(), "100.00".into()],
            depth,
            fresh: 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())].clone()
    }

    fn int_lit(&mut self) -> String {
        let v: i64 = match self.below(4) {
            0 => self.rng.random_range(0..5),
            1 => self.pick(&[16, 18, 60, 65, 12, 24, 36]),
            2 => self.rng.random_range(0..120),
            _ => self.rng.random_range(0..2000),
        };
        self.ints.push(v);
        v.to_string()
    }

    fn dec_lit(&mut self) -> String {
        let cents: i64 = match self.below(3) {
            0 => self.rng.random_range(0..1000),
            1 => self.rng.random_range(0..500_000),
            _ => self.rng.random_range(0..100) * 100,
        };
        let places = self.pick(&[2usize, 2, 2, 1, 3]);
        let s = match places {
            1 => format!("{}.{}", cents / 100, (cents % 100) / 10),
            3 => format!("{}.{:02}5", cents / 100, cents % 100),
            _ => format!("{}.{:02}", cents / 100, cents % 100),
        };
        self.decs.push(s.clone());
        s
    }

    fn date_lit(&mut self) -> String {
        if self.chance(0.5) {
            self.pick(&PIVOTS).to_string()
        } else {
            let y = self.rng.random_range(1950..2030);
            let m = self.rng.random_range(1..13u32);
            let d = self.rng.random_range(1..29u32);
            format!("{y}-{m:02}-{d:02}")
        }
    }

    fn duration(&mut self) -> String {
        let n = self.pick(&[1, 2, 3, 6, 12, 18, 24, 30, 60]);
        let unit = self.pick(&["months", "years", "days"]);
        format!("{n} {unit}")
    }

    fn leaf(&mut self, ty: Ty, sc: &Scope, schema: &SchemaSpec) -> String {
        let mut options: Vec<String> = sc
            .vars
            .iter()
            .filter(|(_, t)| *t == ty)
            .map(|(n, _)| n.clone())
            .collect();
        if sc.policy {
            options.extend(schema.paths(ty));
        }
        for v in &sc.items {
            options.extend(
                schema
                    .item
                    .iter()
                    .filter(|f| f.ty == ty)
                    .map(|f| format!("{v}.{}", f.name)),
            );
        }
        options.extend(
            sc.params
                .iter()
                .filter(|(_, t)| *t == ty)
                .map(|(n, _)| n.clone()),
        );
        // A bare enum value is only a value where an enum is expected (§7.3), so a
        // color is read from the record or a variable whenever one is in scope.
        if !options.is_empty() && (ty == Ty::Color || self.chance(0.75)) {
            return self.pick(&options);
        }
        match ty {
            Ty::Bool => self.pick(&["true", "false"]).to_string(),
            Ty::Int => self.int_lit(),
            Ty::Dec => self.dec_lit(),
            Ty::Date => {
                if self.chance(0.4) {
                    "ref".into()
                } else {
                    self.date_lit()
                }
            }
            Ty::Color => self.pick(&COLORS).to_string(),
        }
    }

    fn var(&mut self) -> String {
        self.fresh += 1;
        format!("m{}", self.fresh)
    }

    /// An expression of type `ty`, parenthesised unless it is a leaf or a call.
    fn expr(&mut self, ty: Ty, sc: &Scope, schema: &SchemaSpec, depth: u32) -> String {
        if depth == 0 || self.chance(0.25) {
            return self.leaf(ty, sc, schema);
        }
        let d = depth - 1;
        // Calls of user functions returning `ty`.
        let fns: Vec<_> = sc.fns.iter().filter(|f| f.2 == ty).cloned().collect();
        if !fns.is_empty() && self.chance(0.3) {
            let (name, params, _) = self.pick(&fns);
            let args: Vec<String> = params
                .iter()
                .map(|&t| self.expr(t, sc, schema, d))
                .collect();
            return format!("{name}({})", args.join(", "));
        }
        // Shared forms: if, otherwise, cases, match on color.
        match self.below(12) {
            0 => {
                let c = self.expr(Ty::Bool, sc, schema, d);
                let a = self.expr(ty, sc, schema, d);
                let b = self.expr(ty, sc, schema, d);
                return format!("(if {c} then {a} else {b})");
            }
            1 if ty != Ty::Bool => {
                let a = self.expr(ty, sc, schema, d);
                let b = self.expr(ty, sc, schema, d);
                return format!("({a} otherwise {b})");
            }
            2 => {
                let n = 1 + self.below(3);
                let mut arms = vec![];
                for _ in 0..n {
                    let c = self.expr(Ty::Bool, sc, schema, d);
                    let v = self.expr(ty, sc, schema, d);
                    arms.push(format!("{c} => {v}"));
                }
                if self.chance(0.7) {
                    let v = self.expr(ty, sc, schema, d);
                    arms.push(format!("else => {v}"));
                }
                return format!("(cases {{ {} }})", arms.join(", "));
            }
            3 if sc.has_color() => {
                let on = self.expr(Ty::Color, sc, schema, d);
                let a = self.expr(ty, sc, schema, d);
                let b = self.expr(ty, sc, schema, d);
                let last = if self.chance(0.7) {
                    format!(", _ => {}", self.expr(ty, sc, schema, d))
                } else {
                    String::new()
                };
                return format!("(match {on} {{ red => {a}, green | blue => {b}{last} }})");
            }
            4 => {
                let on = self.expr(Ty::Int, sc, schema, d);
                let lo = self.int_lit();
                let hi = self.int_lit();
                let a = self.expr(ty, sc, schema, d);
                let b = self.expr(ty, sc, schema, d);
                let c = self.expr(ty, sc, schema, d);
                return format!("(match {on} {{ {lo} => {a}, {lo} .. {hi} => {b}, _ => {c} }})");
            }
            _ => {}
        }
        match ty {
            Ty::Bool => self.bool_expr(sc, schema, d),
            Ty::Int => self.int_expr(sc, schema, d),
            Ty::Dec => self.dec_expr(sc, schema, d),
            Ty::Date => self.date_expr(sc, schema, d),
            Ty::Color => self.leaf(Ty::Color, sc, schema),
        }
    }

    /// A quantifier over `items`: (variable, scope with the variable, optional filter).
    fn over_items(&mut self, sc: &Scope, schema: &SchemaSpec, d: u32) -> (String, Scope, String) {
        let v = self.var();
        let mut inner = sc.clone();
        inner.items.push(v.clone());
        let filter = if self.chance(0.4) {
            format!(" where {}", self.expr(Ty::Bool, &inner, schema, d.min(1)))
        } else {
            String::new()
        };
        (v, inner, filter)
    }

    fn bool_expr(&mut self, sc: &Scope, schema: &SchemaSpec, d: u32) -> String {
        match self.below(18) {
            0 | 1 => {
                let t = self.pick(&[Ty::Int, Ty::Dec, Ty::Int]);
                let a = self.expr(t, sc, schema, d);
                let t = self.pick_num();
                let b = self.expr(t, sc, schema, d);
                let op = self.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!("({a} {op} {b})")
            }
            2 => {
                let a = self.expr(Ty::Date, sc, schema, d);
                let b = self.expr(Ty::Date, sc, schema, d);
                let op = self.pick(&["<", "<=", ">", ">=", "=="]);
                format!("({a} {op} {b})")
            }
            3 if sc.has_color() => {
                let a = self.expr(Ty::Color, sc, schema, d);
                let n = 1 + self.below(2);
                let set: Vec<&str> = (0..n).map(|i| COLORS[(i + self.below(3)) % 3]).collect();
                let not = if self.chance(0.3) { " not" } else { "" };
                if self.chance(0.3) {
                    let b = self.expr(Ty::Color, sc, schema, d);
                    format!("({a} {} {b})", if not.is_empty() { "==" } else { "!=" })
                } else {
                    format!("({a}{not} in {{{}}})", set.join(", "))
                }
            }
            4 => {
                let t = self.pick_num();
                let x = self.expr(t, sc, schema, d);
                let lo = self.int_lit();
                let hi = self.expr(Ty::Int, sc, schema, d.min(1));
                let not = if self.chance(0.3) { " not" } else { "" };
                format!("({x}{not} in {lo} .. {hi})")
            }
            5 => {
                let x = self.expr(Ty::Date, sc, schema, d);
                let lo = self.date_expr(sc, schema, d.min(1));
                format!("({x} in {lo} .. ref)")
            }
            6 => {
                let t = match self.pick(&[Ty::Int, Ty::Dec, Ty::Date, Ty::Color, Ty::Bool]) {
                    Ty::Color if !sc.has_color() => Ty::Int,
                    t => t,
                };
                let x = self.expr(t, sc, schema, d);
                let not = if self.chance(0.5) { " not" } else { "" };
                format!("({x} is{not} none)")
            }
            7 => {
                let a = self.expr(Ty::Bool, sc, schema, d);
                let b = self.expr(Ty::Bool, sc, schema, d);
                let op = self.pick(&["and", "or"]);
                format!("({a} {op} {b})")
            }
            8 => format!("(not {})", self.expr(Ty::Bool, sc, schema, d)),
            9 | 10 if sc.policy => {
                let q = self.pick(&["any", "all", "no"]);
                let (v, inner, filter) = self.over_items(sc, schema, d);
                let body = self.expr(Ty::Bool, &inner, schema, d);
                format!("({q} {v} in items{filter}: {body})")
            }
            11 => {
                let x = self.expr(Ty::Date, sc, schema, d);
                let k = self.duration();
                format!("within_last({x}, {k})")
            }
            12 if sc.policy && !sc.policies.is_empty() => {
                format!("eligible({})", self.pick(&sc.policies))
            }
            14 | 15 => {
                // An age threshold, the way policies write it.
                let b = self.expr(Ty::Date, sc, schema, d.min(1));
                let k = self.pick(&AGES);
                self.ints.push(i64::from(k));
                let op = self.pick(&[">=", "<", ">", "<=", "=="]);
                if self.chance(0.7) {
                    format!("(age({b}) {op} {k})")
                } else {
                    let on = self.expr(Ty::Date, sc, schema, d.min(1));
                    format!("(age({b}, {on}) {op} {k})")
                }
            }
            13 if sc.policy => {
                let c = self.expr(Ty::Color, sc, schema, d);
                let not = if self.chance(0.3) { " not" } else { "" };
                format!("({c}{not} in tags)")
            }
            _ => self.leaf(Ty::Bool, sc, schema),
        }
    }

    fn pick_num(&mut self) -> Ty {
        if self.chance(0.5) {
            Ty::Int
        } else {
            Ty::Dec
        }
    }

    fn int_expr(&mut self, sc: &Scope, schema: &SchemaSpec, d: u32) -> String {
        match self.below(14) {
            0 | 1 => {
                let a = self.expr(Ty::Int, sc, schema, d);
                let b = self.expr(Ty::Int, sc, schema, d);
                let op = self.pick(&["+", "-", "*", "+"]);
                format!("({a} {op} {b})")
            }
            2 | 3 => {
                let b = self.expr(Ty::Date, sc, schema, d);
                if self.chance(0.5) {
                    format!("age({b})")
                } else {
                    let on = self.expr(Ty::Date, sc, schema, d);
                    format!("age({b}, {on})")
                }
            }
            4 => {
                let a = self.expr(Ty::Date, sc, schema, d);
                let b = self.expr(Ty::Date, sc, schema, d);
                format!("month_diff({a}, {b})")
            }
            5 => {
                let f = self.pick(&["year", "month", "day"]);
                format!("{f}({})", self.expr(Ty::Date, sc, schema, d))
            }
            6 => {
                let f = self.pick(&["floor", "ceil"]);
                format!("{f}({})", self.expr(Ty::Dec, sc, schema, d))
            }
            7 | 8 if sc.policy => {
                let (v, inner, filter) = self.over_items(sc, schema, d);
                if self.chance(0.5) {
                    let body = self.expr(Ty::Bool, &inner, schema, d);
                    format!("(count {v} in items{filter}: {body})")
                } else {
                    format!("(count {v} in items{filter})")
                }
            }
            9 if sc.policy => self.pick(&["len(items)", "len(tags)"]).to_string(),
            10 => {
                let f = self.pick(&["max", "min"]);
                let a = self.expr(Ty::Int, sc, schema, d);
                let b = self.expr(Ty::Int, sc, schema, d);
                format!("{f}({a}, {b})")
            }
            11 if sc.policy => {
                let f = self.pick(&["max", "min", "sum"]);
                let (v, inner, filter) = self.over_items(sc, schema, d);
                let body = self.expr(Ty::Int, &inner, schema, d);
                format!("({f} {v} in items{filter}: {body})")
            }
            12 => format!("abs({})", self.expr(Ty::Int, sc, schema, d)),
            _ => self.leaf(Ty::Int, sc, schema),
        }
    }

    fn dec_expr(&mut self, sc: &Scope, schema: &SchemaSpec, d: u32) -> String {
        match self.below(16) {
            0..=2 => {
                let a = self.expr(Ty::Dec, sc, schema, d);
                let t = self.pick_num();
                let b = self.expr(t, sc, schema, d);
                let op = self.pick(&["+", "-", "*", "/", "+"]);
                format!("({a} {op} {b})")
            }
            3 | 4 => {
                let x = self.expr(Ty::Dec, sc, schema, d);
                match self.below(3) {
                    0 => format!("round({x}, 2)"),
                    1 => format!("round({x})"),
                    _ => format!("round_half_even({x}, 2)"),
                }
            }
            5..=7 if sc.policy => {
                let (v, inner, filter) = self.over_items(sc, schema, d);
                let body = self.expr(Ty::Dec, &inner, schema, d);
                let f = self.pick(&["sum", "sum", "max", "min"]);
                format!("({f} {v} in items{filter}: {body})")
            }
            8 => {
                let ps: Vec<_> = sc
                    .params
                    .iter()
                    .filter(|p| p.1 == Ty::Dec)
                    .cloned()
                    .collect();
                if ps.is_empty() {
                    return self.leaf(Ty::Dec, sc, schema);
                }
                let (p, _) = self.pick(&ps);
                let on = self.date_expr(sc, schema, d.min(1));
                format!("{p}({on})")
            }
            9 => {
                let f = self.pick(&["max", "min"]);
                let a = self.expr(Ty::Dec, sc, schema, d);
                let t = self.pick_num();
                let b = self.expr(t, sc, schema, d);
                format!("{f}({a}, {b})")
            }
            10 if sc.policy => {
                let v = self.var();
                let id = self.pick(&["I1", "I2", "I3"]);
                format!("(the {v} in items where {v}.id == \"{id}\").amount")
            }
            11 if sc.policy => {
                let v = self.var();
                let q = self.pick(&["latest", "earliest"]);
                format!("({q} {v} in items: {v}.day).amount")
            }
            12 => format!("abs({})", self.expr(Ty::Dec, sc, schema, d)),
            13 => self.expr(Ty::Int, sc, schema, d),
            14 if !sc.scales.is_empty() => {
                let s = self.pick(&sc.scales);
                let f = self.pick(&["marginal", "marginal", "bracket"]);
                let t = self.pick_num();
                let x = self.expr(t, sc, schema, d);
                if self.chance(0.3) {
                    let on = self.date_expr(sc, schema, d.min(1));
                    format!("{f}({s}, {x}, {on})")
                } else {
                    format!("{f}({s}, {x})")
                }
            }
            _ => self.leaf(Ty::Dec, sc, schema),
        }
    }

    fn date_expr(&mut self, sc: &Scope, schema: &SchemaSpec, d: u32) -> String {
        match self.below(10) {
            0 | 1 => {
                let x = self.expr(Ty::Date, sc, schema, d);
                let op = self.pick(&["+", "-"]);
                let k = self.duration();
                format!("({x} {op} {k})")
            }
            2 => format!("(ref - {})", self.duration()),
            3 | 4 => {
                let f = self.pick(&["add_months", "add_years", "add_days"]);
                let x = self.expr(Ty::Date, sc, schema, d);
                let n = self.expr(Ty::Int, sc, schema, d.min(1));
                let neg = if self.chance(0.3) { "-" } else { "" };
                format!("{f}({x}, {neg}{n})")
            }
            5 => {
                let f = self.pick(&["max", "min"]);
                let a = self.expr(Ty::Date, sc, schema, d);
                let b = self.expr(Ty::Date, sc, schema, d);
                format!("{f}({a}, {b})")
            }
            6 if sc.policy => {
                let f = self.pick(&["max", "min"]);
                let (v, inner, filter) = self.over_items(sc, schema, d);
                let body = self.expr(Ty::Date, &inner, schema, d);
                format!("({f} {v} in items{filter}: {body})")
            }
            _ => self.leaf(Ty::Date, sc, schema),
        }
    }

    /// A random schema: which fields are required, optional or defaulted.
    pub fn schema(&mut self) -> SchemaSpec {
        let presence = |g: &mut Self, ty: Ty| match g.below(3) {
            0 => Presence::Required,
            1 => Presence::Optional,
            _ => Presence::Default(match ty {
                Ty::Bool => g.pick(&["true", "false"]).to_string(),
                Ty::Int => g.int_lit(),
                Ty::Dec => g.dec_lit(),
                Ty::Date => g.pick(&PIVOTS).to_string(),
                Ty::Color => g.pick(&COLORS).to_string(),
            }),
        };
        let fields = |g: &mut Self, spec: &[(&'static str, Ty)]| -> Vec<FieldSpec> {
            spec.iter()
                .map(|&(name, ty)| FieldSpec {
                    name,
                    ty,
                    presence: presence(g, ty),
                })
                .collect()
        };
        let mut person = fields(
            self,
            &[
                ("salary", Ty::Dec),
                ("months", Ty::Int),
                ("flag", Ty::Bool),
                ("color", Ty::Color),
                ("start", Ty::Date),
            ],
        );
        // The birth date is required or optional (a default birthday is odd).
        person.insert(
            0,
            FieldSpec {
                name: "birth_date",
                ty: Ty::Date,
                presence: if self.chance(0.7) {
                    Presence::Required
                } else {
                    Presence::Optional
                },
            },
        );
        let extra = fields(
            self,
            &[("level", Ty::Int), ("rate", Ty::Dec), ("since", Ty::Date)],
        );
        let item = fields(
            self,
            &[
                ("amount", Ty::Dec),
                ("n", Ty::Int),
                ("ok", Ty::Bool),
                ("day", Ty::Date),
                ("kind", Ty::Color),
            ],
        );
        SchemaSpec {
            person,
            extra_optional: self.chance(0.5),
            extra,
            items_default: self.chance(0.6),
            item,
        }
    }

    /// Parameters: a decimal one with several dated steps (some on leap days and
    /// month ends), an int one, all from 2000-01-01 without gaps.
    fn params(&mut self) -> Vec<(String, Ty, String)> {
        let mut out = vec![];
        for (name, ty) in [("RATE", Ty::Dec), ("LIMIT", Ty::Int)] {
            let cuts = self.cuts();
            let mut text = format!("parameter {name} \"{name}\": {} {{\n", ty.name());
            let mut from = "2000-01-01".to_string();
            for cut in cuts {
                // Now and then a value abolished for a while (declared absent).
                let v = if from != "2000-01-01" && self.chance(0.15) {
                    "absent".to_string()
                } else if ty == Ty::Dec {
                    self.dec_lit()
                } else {
                    self.int_lit()
                };
                let _ = writeln!(text, "  from {from} to {cut} = {v} \"s\"");
                let next = chrono::NaiveDate::parse_from_str(cut, "%Y-%m-%d")
                    .expect("a date")
                    .succ_opt()
                    .expect("a next day");
                from = next.to_string();
            }
            let v = if from != "2000-01-01" && self.chance(0.15) {
                "absent".to_string()
            } else if ty == Ty::Dec {
                self.dec_lit()
            } else {
                self.int_lit()
            };
            let _ = writeln!(text, "  from {from} = {v} \"s\"\n}}");
            out.push((name.to_string(), ty, text));
        }
        out
    }

    /// The steps' cut dates of a parameter or scale: leap days, month and year ends.
    fn cuts(&mut self) -> Vec<&'static str> {
        let mut cuts: Vec<&str> = (0..1 + self.below(3))
            .map(|_| {
                self.pick(&[
                    "2024-02-28",
                    "2024-02-29",
                    "2025-02-28",
                    "2024-12-31",
                    "2025-01-31",
                    "2025-04-30",
                    "2010-06-30",
                ])
            })
            .collect();
        cuts.sort();
        cuts.dedup();
        cuts
    }

    /// The brackets of a scale step: ascending thresholds (whole or decimal, sometimes
    /// negative) with rates or amounts (sometimes negative), the thresholds among the
    /// constants the records aim at.
    fn brackets(&mut self) -> String {
        let mut t: i64 = match self.below(4) {
            0 => 0,
            1 => -self.rng.random_range(1..500),
            _ => self.rng.random_range(0..3000),
        };
        let mut out = vec![];
        for _ in 0..1 + self.below(4) {
            let threshold = if self.chance(0.3) {
                let d = format!("{t}.{:02}", self.rng.random_range(0..100));
                self.decs.push(d.clone());
                d
            } else {
                self.ints.push(t);
                self.decs.push(format!("{t}.00"));
                t.to_string()
            };
            let value = match self.below(5) {
                0 => self.int_lit(),
                1 => format!("-{}", self.dec_lit()),
                _ => format!("0.{:02}", self.rng.random_range(0..40)),
            };
            let arrow = self.pick(&["→", "->"]);
            out.push(format!("{threshold} {arrow} {value}"));
            t += self.rng.random_range(1..6000);
        }
        out.join(", ")
    }

    /// Scales: one or two, from 2000-01-01 with dated steps (on leap days and month
    /// ends), some declared absent (and so read as an evaluation error).
    fn scales(&mut self) -> Vec<(String, String)> {
        let mut out = vec![];
        for name in ["TAX", "BAND"].into_iter().take(self.below(3)) {
            let mut text = format!("scale {name} \"{name}\" {{\n");
            let mut from = "2000-01-01".to_string();
            let cuts = self.cuts();
            let last = cuts.len();
            for (i, cut) in cuts.into_iter().chain(["open"]).enumerate() {
                let body = if from != "2000-01-01" && self.chance(0.2) {
                    "absent".to_string()
                } else {
                    self.brackets()
                };
                if i == last {
                    let _ = writeln!(text, "  from {from}: {body} \"s\"");
                } else {
                    let _ = writeln!(text, "  from {from} to {cut}: {body} \"s\"");
                    let next = chrono::NaiveDate::parse_from_str(cut, "%Y-%m-%d")
                        .expect("a date")
                        .succ_opt()
                        .expect("a next day");
                    from = next.to_string();
                }
            }
            text.push_str("}\n");
            out.push((name.to_string(), text));
        }
        out
    }

    fn scalar_ty(&mut self) -> Ty {
        self.pick(&[Ty::Int, Ty::Dec, Ty::Dec, Ty::Date, Ty::Bool, Ty::Color])
    }

    /// A type for a definition in `sc`: a color only where one can be read.
    fn let_ty(&mut self, sc: &Scope) -> Ty {
        match self.scalar_ty() {
            Ty::Color if !sc.has_color() => Ty::Int,
            t => t,
        }
    }

    /// Functions; each may call the ones before it (so there is no recursion), with
    /// block bodies of chained lets.
    fn functions(
        &mut self,
        schema: &SchemaSpec,
        params: &[(String, Ty)],
        scales: &[String],
        n: usize,
    ) -> Vec<FnSpec> {
        let mut fns: Vec<FnSpec> = vec![];
        for i in 0..n {
            let nparams = 1 + self.below(3);
            let ps: Vec<(String, Ty)> = (0..nparams)
                .map(|j| {
                    (
                        format!("x{j}"),
                        if j == 0 { Ty::Dec } else { self.scalar_ty() },
                    )
                })
                .collect();
            let ret = self.pick(&[Ty::Dec, Ty::Dec, Ty::Int, Ty::Bool, Ty::Date]);
            let mut sc = Scope {
                vars: ps.clone(),
                policy: false,
                fns: fns
                    .iter()
                    .map(|f| {
                        (
                            f.name.clone(),
                            f.params.iter().map(|p| p.1).collect(),
                            f.ret,
                        )
                    })
                    .collect(),
                params: params.to_vec(),
                scales: scales.to_vec(),
                ..Scope::default()
            };
            // Prefer calling the previous function, to get chains of calls.
            if let Some(prev) = fns.last() {
                if self.chance(0.6) {
                    let p = (
                        prev.name.clone(),
                        prev.params.iter().map(|p| p.1).collect(),
                        prev.ret,
                    );
                    sc.fns = vec![p.clone(), p.clone(), p];
                }
            }
            let mut lets = vec![];
            if self.chance(0.75) {
                for k in 0..1 + self.below(3) {
                    let ty = self.let_ty(&sc);
                    let e = self.expr(ty, &sc, schema, self.depth.min(3));
                    let name = format!("v{k}");
                    sc.vars.push((name.clone(), ty));
                    lets.push(LetSpec { name, ty, expr: e });
                }
            }
            let mut body = self.expr(ret, &sc, schema, self.depth.min(3));
            // A formula that builds on an earlier one (`f(x) = g(x) * 2`).
            let earlier: Vec<_> = fns.iter().filter(|f| f.ret == Ty::Dec).cloned().collect();
            if ret == Ty::Dec && !earlier.is_empty() && self.chance(0.5) {
                let g = self.pick(&earlier);
                let args: Vec<String> = g
                    .params
                    .iter()
                    .map(|&(_, t)| self.expr(t, &sc, schema, 1))
                    .collect();
                let op = self.pick(&["+", "*", "-"]);
                body = format!("({}({}) {op} {body})", g.name, args.join(", "));
            }
            fns.push(FnSpec {
                name: format!("f{i}"),
                params: ps,
                ret,
                lets,
                body,
            });
        }
        fns
    }

    /// A random rule set.
    pub fn rule_set(&mut self) -> RuleSetSpec {
        let schema = self.schema();
        let params = self.params();
        let pnames: Vec<(String, Ty)> = params.iter().map(|(n, t, _)| (n.clone(), *t)).collect();
        let scales = self.scales();
        let snames: Vec<String> = scales.iter().map(|(n, _)| n.clone()).collect();
        let nfns = self.below(5);
        let functions = self.functions(&schema, &pnames, &snames, nfns);
        let fsigs: Vec<(String, Vec<Ty>, Ty)> = functions
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.params.iter().map(|p| p.1).collect(),
                    f.ret,
                )
            })
            .collect();
        let mut policies: Vec<PolicySpec> = vec![];
        for i in 0..1 + self.below(4) {
            let per_item = self.chance(0.2);
            let mut sc = Scope {
                policy: true,
                fns: fsigs.clone(),
                params: pnames.clone(),
                scales: snames.clone(),
                policies: policies.iter().map(|p| p.id.clone()).collect(),
                ..Scope::default()
            };
            let per_item = if per_item {
                sc.items.push("it".into());
                let filter = if self.chance(0.5) {
                    format!(" where {}", self.expr(Ty::Bool, &sc, &schema, 1))
                } else {
                    String::new()
                };
                Some(format!("for each item it in items{filter}"))
            } else {
                None
            };
            let d = self.depth;
            let mut lets = vec![];
            for k in 0..self.below(5) {
                let ty = self.scalar_ty();
                let e = self.expr(ty, &sc, &schema, d);
                let name = format!("d{k}");
                sc.vars.push((name.clone(), ty));
                lets.push(LetSpec { name, ty, expr: e });
            }
            let clauses = (0..self.pick(&[0usize, 1, 1, 2, 3]))
                .map(|_| self.expr(Ty::Bool, &sc, &schema, d))
                .collect();
            let mut amounts = vec![];
            let nrules = self.pick(&[0usize, 1, 1, 1, 2, 3]);
            for r in 0..nrules {
                let guard = if r + 1 < nrules {
                    Guard::When(self.expr(Ty::Bool, &sc, &schema, d.min(2)))
                } else if nrules > 1 && self.chance(0.7) {
                    Guard::Otherwise
                } else if nrules > 1 {
                    Guard::When(self.expr(Ty::Bool, &sc, &schema, d.min(2)))
                } else {
                    Guard::None
                };
                // Amounts computed through functions (that call functions), the way
                // shared formulas are written, or a general expression.
                let dec_fns: Vec<_> = fsigs.iter().filter(|f| f.2 == Ty::Dec).cloned().collect();
                let raw = if !dec_fns.is_empty() && self.chance(0.5) {
                    let mut terms = vec![];
                    for _ in 0..1 + self.below(2) {
                        let (name, params, _) = self.pick(&dec_fns);
                        let args: Vec<String> = params
                            .iter()
                            .map(|&t| self.expr(t, &sc, &schema, 1))
                            .collect();
                        terms.push(format!("{name}({})", args.join(", ")));
                    }
                    if self.chance(0.3) {
                        let (v, inner, filter) = self.over_items(&sc, &schema, 1);
                        let (name, params, _) = self.pick(&dec_fns);
                        let args: Vec<String> = params
                            .iter()
                            .map(|&t| self.expr(t, &inner, &schema, 1))
                            .collect();
                        terms.push(format!(
                            "(sum {v} in items{filter}: {name}({}))",
                            args.join(", ")
                        ));
                    }
                    format!("({})", terms.join(" + "))
                } else {
                    self.expr(Ty::Dec, &sc, &schema, d)
                };
                let value = if self.chance(0.8) {
                    format!("round({raw}, 2)")
                } else {
                    raw
                };
                let extras = (0..self.below(3))
                    .map(|k| {
                        let ty = self.scalar_ty();
                        LetSpec {
                            name: format!("e{k}"),
                            ty,
                            expr: self.expr(ty, &sc, &schema, d.min(2)),
                        }
                    })
                    .collect();
                amounts.push(AmountSpec {
                    period: self.pick(&["per_month", "per_year", "one_time"]),
                    unit: self.pick(&["CNY", "CNY", "USD"]),
                    guard,
                    value,
                    extras,
                });
            }
            let effective = match self.below(3) {
                0 => "from 2000-01-01".to_string(),
                1 => format!("from {}", self.pick(&PIVOTS[..9])),
                _ => {
                    let a = self.pick(&["2000-01-01", "2024-02-29", "2024-03-01"]);
                    let b = self.pick(&["2025-02-28", "2025-01-31", "2024-12-31", "2030-12-31"]);
                    format!("{a} to {b}")
                }
            };
            policies.push(PolicySpec {
                id: format!("p{i}"),
                mode: self.pick(&[
                    "no_application",
                    "no_application",
                    "push_and_confirm",
                    "apply",
                ]),
                effective,
                per_item,
                lets,
                clauses,
                amounts,
            });
        }
        RuleSetSpec {
            schema,
            params,
            scales,
            functions,
            policies,
        }
    }

    // ------------------------------------------------------------------ records

    fn date_value(&mut self, refs: &[chrono::NaiveDate]) -> String {
        match self.below(4) {
            0 => self.pick(&PIVOTS).to_string(),
            1 => {
                // A birthday near an age threshold on one of the reference dates.
                let r = self.pick(refs);
                let years = if self.chance(0.7) {
                    self.pick(&AGES)
                } else {
                    self.pick(&self.ints.clone()).clamp(0, 100) as i32
                };
                if self.chance(0.3) {
                    // A 29 February birthday in the leap year nearest the threshold.
                    let y = r.year() - years;
                    let leap = (y - 2..=y + 2)
                        .find(|y| chrono::NaiveDate::from_ymd_opt(*y, 2, 29).is_some())
                        .unwrap_or(2000);
                    return format!("{leap}-02-29");
                }
                let base =
                    mianshen::internals::semantics::calendar::add_years(r, -i64::from(years))
                        .unwrap_or(r);
                let shift = self.pick(&[-1i64, 0, 0, 1]);
                (base + chrono::Duration::days(shift)).to_string()
            }
            2 => {
                let r = self.pick(refs);
                (r - chrono::Duration::days(self.rng.random_range(0..800))).to_string()
            }
            _ => {
                let y = self.rng.random_range(1940..2031);
                let m = self.rng.random_range(1..13u32);
                let d = self.rng.random_range(1..29u32);
                format!("{y}-{m:02}-{d:02}")
            }
        }
    }

    fn value(&mut self, ty: Ty, refs: &[chrono::NaiveDate]) -> Json {
        match ty {
            Ty::Bool => json!(self.chance(0.5)),
            Ty::Int => {
                let base = self.pick(&self.ints.clone());
                let v = match self.below(4) {
                    0 => base,
                    1 => base + self.pick(&[-1, 1]),
                    2 => self.rng.random_range(-3..50),
                    _ => self.rng.random_range(0..3000),
                };
                json!(v)
            }
            Ty::Dec => {
                let text = match self.below(4) {
                    0 => self.pick(&self.decs.clone()),
                    1 => {
                        let b: rust_decimal::Decimal =
                            self.pick(&self.decs.clone()).parse().unwrap_or_default();
                        let delta = rust_decimal::Decimal::new(self.pick(&[-1, 1]), 2);
                        (b + delta).to_string()
                    }
                    2 => format!("{}", self.rng.random_range(-5..100)),
                    _ => format!(
                        "{}.{:02}",
                        self.rng.random_range(0..50_000),
                        self.rng.random_range(0..100)
                    ),
                };
                if self.chance(0.5) {
                    Json::String(text)
                } else {
                    serde_json::from_str(&text).unwrap_or(Json::String(text))
                }
            }
            Ty::Date => Json::String(self.date_value(refs)),
            Ty::Color => json!(self.pick(&COLORS)),
        }
    }

    /// Fills `m` with the fields: mostly values, some absent, some null.
    fn fields(
        &mut self,
        spec: &[FieldSpec],
        refs: &[chrono::NaiveDate],
        m: &mut Map<String, Json>,
    ) {
        for f in spec {
            match self.below(10) {
                0 => {}
                1 => {
                    m.insert(f.name.into(), Json::Null);
                }
                _ => {
                    let v = self.value(f.ty, refs);
                    m.insert(f.name.into(), v);
                }
            }
        }
    }

    /// A random record with subject id `id`.
    pub fn record(&mut self, schema: &SchemaSpec, id: &str, refs: &[chrono::NaiveDate]) -> Json {
        let mut person = Map::new();
        person.insert("id".into(), json!(id));
        self.fields(&schema.person, refs, &mut person);
        let mut root = Map::new();
        root.insert("person".into(), Json::Object(person));
        match self.below(6) {
            0 => {}
            1 => {
                root.insert("extra".into(), Json::Null);
            }
            _ => {
                let mut extra = Map::new();
                self.fields(&schema.extra, refs, &mut extra);
                root.insert("extra".into(), Json::Object(extra));
            }
        }
        match self.below(8) {
            0 => {}
            1 => {
                root.insert("items".into(), Json::Null);
            }
            2 => {
                root.insert("items".into(), json!([]));
            }
            _ => {
                let n = 1 + self.below(3);
                let items: Vec<Json> = (0..n)
                    .map(|k| {
                        let mut it = Map::new();
                        it.insert("id".into(), json!(format!("I{}", k + 1)));
                        self.fields(&schema.item, refs, &mut it);
                        Json::Object(it)
                    })
                    .collect();
                root.insert("items".into(), Json::Array(items));
            }
        }
        if self.chance(0.5) {
            let tags: Vec<Json> = (0..self.below(3))
                .map(|_| json!(self.pick(&COLORS)))
                .collect();
            root.insert("tags".into(), Json::Array(tags));
        }
        Json::Object(root)
    }
}

/// The fixed reference dates every rule set is checked on: the leap day and the days
/// around it, month ends and the turn of the year.
pub fn fixed_dates() -> Vec<chrono::NaiveDate> {
    [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
        "2025-02-28",
        "2025-03-01",
        "2025-01-31",
        "2025-04-30",
        "2024-12-31",
        "2025-01-01",
    ]
    .iter()
    .map(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date"))
    .collect()
}

/// A random reference date between 2000 and 2030.
pub fn random_date(rng: &mut TestRng) -> chrono::NaiveDate {
    let start = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
    start + chrono::Duration::days(rng.random_range(0..11_000))
}
