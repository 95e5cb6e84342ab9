//! Record generators from the schema: proptest [`Strategy`]s that produce any record
//! the schema allows, for property tests of a rule set (ours and a host's).
//!
//! * enums take their declared values, numbers their declared `range`, dates a
//!   plausible span (1920–2030, with weight on 2015–2027 and on 29 February);
//! * lists have 0–4 items; items of a keyed list get unique ids (`M1`, `M2`, …);
//! * every field is sometimes absent or `null` (missing for a required field, a
//!   known "none" for an optional one, the default for a defaulted one), an
//!   optional record sometimes absent altogether;
//! * [`Constraints`] pin a field to a range, a value or a set of values, or make it
//!   always present ("persons aged 55–70 with 100–300 months of contributions"),
//!   and can carry *hints*: values the rules compare a field with, drawn more often
//!   so that generated records reach the interesting side of every threshold;
//! * shrinking first tries to drop a field (absent), then simplifies its value;
//!   lists shrink by dropping items: a failing record shrinks to a small one.
//!
//! Paths name fields from the record's top (`person.birth_date`,
//! `social_insurance.employee_pension.contribution_months`,
//! `household.members[].birth_date`, `enterprise.hires[].birth_date`); an item part
//! may be written `[]`, `[K1]` or left out, and for a subject whose reported paths
//! start below a top key (`enterprise`) that key may be left out (`hires[].birth_date`).
//!
//! The module also reads and writes fields of a JSON record by the paths the
//! evaluator reports in `missing` ([`set_path`], [`get_path`]) and lists the fields a
//! record lacks ([`missing_fields`]), which the built-in properties use to fill them.

use crate::compile::RuleSet;
use crate::ir::{Expr, LetDef, Pat};
use crate::schema::{FieldDef, FieldType, Presence, RecordId, Schema};
use crate::syntax::ast::CmpOp;
use crate::value::Value;
use chrono::{Datelike, NaiveDate};
use proptest::collection::vec as vec_of;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Just, NewTree, Strategy, Union, ValueTree};
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// What a constraint asks of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// A whole number in `lo..=hi` (always present).
    IntRange(i64, i64),
    /// A decimal in `lo..=hi`, with two decimal places (always present).
    DecimalRange(Decimal, Decimal),
    /// A date in `from..=to` (always present).
    DateRange(NaiveDate, NaiveDate),
    /// Exactly this value, as it is written in a record.
    Fixed(Json),
    /// One of these values, as written in a record (always present).
    OneOf(Vec<Json>),
    /// Never absent or `null`; otherwise any value.
    Present,
    /// Always absent.
    Absent,
    /// A list with `lo..=hi` items (always present).
    Items(usize, usize),
}

/// Relative weights of a field's three states in generated records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// A value.
    pub value: u32,
    /// The key is left out.
    pub absent: u32,
    /// The key is `null`.
    pub null: u32,
}

impl Mix {
    /// Always a value.
    pub const ALWAYS: Mix = Mix {
        value: 1,
        absent: 0,
        null: 0,
    };
}

/// Constraints and tuning of a record generator. [`Constraints::default`] allows every
/// record of the schema.
#[derive(Debug, Clone)]
pub struct Constraints {
    fields: BTreeMap<String, Constraint>,
    hints: BTreeMap<String, Vec<Value>>,
    /// State mix of required fields (absent or null = missing data).
    pub required: Mix,
    /// State mix of optional fields (absent or null = a known "none").
    pub optional: Mix,
    /// State mix of defaulted fields (absent or null = the default).
    pub defaulted: Mix,
    /// Weight of hinted values against the weight (4) of values from the whole range.
    pub hint_weight: u32,
    /// Most items of a generated list.
    pub max_items: usize,
    /// Text values for string fields without hints.
    pub strings: Vec<String>,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            fields: BTreeMap::new(),
            hints: BTreeMap::new(),
            required: Mix {
                value: 8,
                absent: 1,
                null: 1,
            },
            optional: Mix {
                value: 6,
                absent: 3,
                null: 1,
            },
            defaulted: Mix {
                value: 5,
                absent: 4,
                null: 1,
            },
            hint_weight: 4,
            max_items: 4,
            strings: ["上海", "北京", "苏州", "深圳", "CN", "X1"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// Removes item parts (`[]`, `[K1]`) from a path: `household.members.birth_date`.
fn norm(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for ch in path.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

impl Constraints {
    /// Every record of the schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records without missing data: required fields are always present (optional and
    /// defaulted fields still vary).
    pub fn complete() -> Self {
        Constraints {
            required: Mix::ALWAYS,
            ..Self::default()
        }
    }

    /// Sets the constraint of one field.
    pub fn set(mut self, path: &str, c: Constraint) -> Self {
        self.fields.insert(norm(path), c);
        self
    }

    /// A whole-number field in `lo..=hi`, always present.
    pub fn int_range(self, path: &str, lo: i64, hi: i64) -> Self {
        self.set(path, Constraint::IntRange(lo.min(hi), lo.max(hi)))
    }

    /// A decimal field in `lo..=hi`, always present.
    pub fn decimal_range(self, path: &str, lo: Decimal, hi: Decimal) -> Self {
        self.set(path, Constraint::DecimalRange(lo.min(hi), lo.max(hi)))
    }

    /// A date field in `from..=to`, always present.
    pub fn date_range(self, path: &str, from: NaiveDate, to: NaiveDate) -> Self {
        self.set(path, Constraint::DateRange(from.min(to), from.max(to)))
    }

    /// A birth-date field of someone aged `lo..=hi` completed years on `on`.
    pub fn aged(self, path: &str, lo: u32, hi: u32, on: NaiveDate) -> Self {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let latest = crate::calendar::add_years(on, -i64::from(lo)).unwrap_or(on);
        let earliest = crate::calendar::add_years(on, -i64::from(hi) - 1)
            .and_then(|d| d.succ_opt())
            .unwrap_or(on);
        self.date_range(path, earliest, latest)
    }

    /// Exactly this value (JSON as in a record).
    pub fn fixed(self, path: &str, value: Json) -> Self {
        self.set(path, Constraint::Fixed(value))
    }

    /// One of these values (JSON as in a record).
    pub fn one_of(self, path: &str, values: Vec<Json>) -> Self {
        self.set(path, Constraint::OneOf(values))
    }

    /// Never absent or null.
    pub fn present(self, path: &str) -> Self {
        self.set(path, Constraint::Present)
    }

    /// Always absent.
    pub fn absent(self, path: &str) -> Self {
        self.set(path, Constraint::Absent)
    }

    /// A list field with `lo..=hi` items.
    pub fn items(self, path: &str, lo: usize, hi: usize) -> Self {
        self.set(path, Constraint::Items(lo.min(hi), lo.max(hi)))
    }

    /// The constraint of a field, if any.
    pub fn get(&self, path: &str) -> Option<&Constraint> {
        self.fields.get(&norm(path))
    }

    /// Adds values to draw more often for a field.
    pub fn hint(mut self, path: &str, values: Vec<Value>) -> Self {
        let e = self.hints.entry(norm(path)).or_default();
        for v in values {
            if !e.contains(&v) {
                e.push(v);
            }
        }
        self
    }

    /// Adds as hints the constants every policy of `rules` compares fields with.
    pub fn with_hints_from(self, rules: &RuleSet) -> Self {
        let all: Vec<usize> = (0..rules.program.policies.len()).collect();
        self.with_policy_hints(rules, &all)
    }

    /// Adds as hints the constants the given policies (by index) compare fields with,
    /// and the text constants of those policies as strings.
    pub fn with_policy_hints(mut self, rules: &RuleSet, policies: &[usize]) -> Self {
        let mut miner = Miner {
            rules,
            hints: BTreeMap::new(),
            depth: 0,
        };
        for &i in policies {
            if let Some(p) = rules.program.policies.get(i) {
                miner.policy(p);
            }
        }
        for (path, values) in miner.hints {
            self = self.hint(&path, values.into_iter().map(Value::from).collect());
        }
        self
    }

    /// The hints of a field.
    pub fn hints(&self, path: &str) -> &[Value] {
        self.hints.get(&norm(path)).map_or(&[], |v| v.as_slice())
    }

    /// Checks that every constrained path is a field of the subject.
    pub fn check(&self, schema: &Schema, subject: usize) -> Result<(), String> {
        let known = field_paths(schema, subject);
        for path in self.fields.keys() {
            if resolve_key(schema, subject, path, &known).is_none() {
                let s = &schema.subjects[subject].name;
                return Err(format!(
                    "constraint on `{path}`: not a field of the {s} records of this schema"
                ));
            }
        }
        Ok(())
    }
}

/// Every normalised field path of a subject.
fn field_paths(schema: &Schema, subject: usize) -> BTreeSet<String> {
    fn walk(schema: &Schema, rec: RecordId, prefix: &str, out: &mut BTreeSet<String>) {
        for f in &schema.records[rec].fields {
            let p = join(prefix, &f.name);
            out.insert(p.clone());
            match &f.ty {
                FieldType::Record(r) => walk(schema, *r, &p, out),
                FieldType::List(inner) => {
                    if let FieldType::Record(r) = &**inner {
                        walk(schema, *r, &p, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(schema, schema.subjects[subject].root, "", &mut out);
    out
}

/// A constraint key as a full field path: as written, or below the subject's
/// `paths_from` key.
fn resolve_key(
    schema: &Schema,
    subject: usize,
    key: &str,
    known: &BTreeSet<String>,
) -> Option<String> {
    if known.contains(key) {
        return Some(key.to_string());
    }
    let s = &schema.subjects[subject];
    let top = &schema.records[s.root].fields[s.paths_from?].name;
    let full = join(top, key);
    known.contains(&full).then_some(full)
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

// ------------------------------------------------------------------ strategies

/// The generator of records of subject kind `subject` (an index into
/// `schema.subjects`) under `constraints`: JSON values as a host would pass them to
/// [`crate::record::read_record`].
///
/// # Panics
/// When a constrained path is not a field of the subject (see [`Constraints::check`]).
pub fn record_strategy(
    schema: &Schema,
    subject: usize,
    constraints: &Constraints,
) -> impl Strategy<Value = Json> {
    match try_record_strategy(schema, subject, constraints) {
        Ok(s) => s,
        Err(m) => panic!("record_strategy: {m}"),
    }
}

/// [`record_strategy`], or why the constraints do not fit the schema.
pub fn try_record_strategy(
    schema: &Schema,
    subject: usize,
    constraints: &Constraints,
) -> Result<BoxedStrategy<Json>, String> {
    if subject >= schema.subjects.len() {
        return Err(format!("no subject kind number {subject} in the schema"));
    }
    constraints.check(schema, subject)?;
    let known = field_paths(schema, subject);
    let mut c = constraints.clone();
    c.fields = constraints
        .fields
        .iter()
        .filter_map(|(k, v)| resolve_key(schema, subject, k, &known).map(|k| (k, v.clone())))
        .collect();
    c.hints = constraints
        .hints
        .iter()
        .filter_map(|(k, v)| resolve_key(schema, subject, k, &known).map(|k| (k, v.clone())))
        .collect();
    // The subject's id is always there, so that every generated record names itself.
    let s = &schema.subjects[subject];
    let mut rec = s.root;
    let mut id_path = String::new();
    for &i in &s.id_path {
        let f = &schema.records[rec].fields[i];
        id_path = join(&id_path, &f.name);
        if let FieldType::Record(r) = f.ty {
            rec = r;
        }
    }
    if !id_path.is_empty() && !c.fields.contains_key(&id_path) {
        c.fields
            .insert(id_path, Constraint::Fixed(Json::from("GEN-1")));
    }
    let g = Gen { schema, c: &c };
    Ok(g.record(s.root, ""))
}

/// The generator of one value of a field (a complete value: required fields of a
/// record or list items are all present), for filling a record's missing fields.
pub fn field_value_strategy(
    schema: &Schema,
    field: &FieldDef,
    path: &str,
    constraints: &Constraints,
) -> BoxedStrategy<Json> {
    let mut c = constraints.clone();
    c.required = Mix::ALWAYS;
    let g = Gen { schema, c: &c };
    g.value(&field.ty, field.range, &norm(path), &field.name)
}

struct Gen<'a> {
    schema: &'a Schema,
    c: &'a Constraints,
}

impl Gen<'_> {
    fn record(&self, rec: RecordId, path: &str) -> BoxedStrategy<Json> {
        let def = &self.schema.records[rec];
        let names: Vec<String> = def.fields.iter().map(|f| f.name.clone()).collect();
        let fields: Vec<BoxedStrategy<Option<Json>>> = def
            .fields
            .iter()
            .map(|f| self.field(f, &join(path, &f.name)))
            .collect();
        fields
            .prop_map(move |vals| {
                let mut m = serde_json::Map::new();
                for (k, v) in names.iter().zip(vals) {
                    if let Some(v) = v {
                        m.insert(k.clone(), v);
                    }
                }
                Json::Object(m)
            })
            .boxed()
    }

    fn field(&self, f: &FieldDef, path: &str) -> BoxedStrategy<Option<Json>> {
        let constraint = self.c.fields.get(path);
        let mix = match constraint {
            Some(Constraint::Absent) => {
                return Just(None).boxed();
            }
            Some(Constraint::Fixed(v)) => return Just(Some(v.clone())).boxed(),
            Some(_) => Mix::ALWAYS,
            None => match f.presence {
                Presence::Required => self.c.required,
                Presence::Optional => self.c.optional,
                Presence::Default(_) => self.c.defaulted,
            },
        };
        let value = self.value(&f.ty, f.range, path, &f.name);
        FieldStrategy { value, mix }.boxed()
    }

    fn value(
        &self,
        ty: &FieldType,
        range: Option<(Decimal, Decimal)>,
        path: &str,
        name: &str,
    ) -> BoxedStrategy<Json> {
        let constraint = self.c.fields.get(path);
        if let Some(Constraint::Fixed(v)) = constraint {
            return Just(v.clone()).boxed();
        }
        if let Some(Constraint::OneOf(vs)) = constraint {
            if !vs.is_empty() {
                return select(vs.clone()).boxed();
            }
        }
        let hints: Vec<Json> = self
            .c
            .hints
            .get(path)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| hint_json(self.schema, ty, h))
                    .collect()
            })
            .unwrap_or_default();
        match ty {
            FieldType::Bool => proptest::bool::ANY.prop_map(Json::Bool).boxed(),
            FieldType::Int => {
                let (lo, hi) = match constraint {
                    Some(Constraint::IntRange(lo, hi)) => (*lo, *hi),
                    _ => match range {
                        Some((lo, hi)) => (
                            i64::try_from(lo.ceil()).unwrap_or(i64::MIN / 4),
                            i64::try_from(hi.floor()).unwrap_or(i64::MAX / 4),
                        ),
                        None => (-100, 1000),
                    },
                };
                let hints: Vec<Json> = hints
                    .into_iter()
                    .filter(|h| h.as_i64().is_some_and(|x| lo <= x && x <= hi))
                    .collect();
                numbers(lo, hi, hints, self.c.hint_weight, Json::from)
            }
            FieldType::Decimal => {
                let (lo, hi) = match constraint {
                    Some(Constraint::DecimalRange(lo, hi)) => (*lo, *hi),
                    _ => range.unwrap_or((Decimal::from(-1000), Decimal::from(100_000))),
                };
                let cents = |d: Decimal| i64::try_from((d * Decimal::from(100)).round()).ok();
                let (Some(lo_c), Some(hi_c)) = (cents(lo), cents(hi)) else {
                    return Just(decimal_json(lo)).boxed();
                };
                let hints: Vec<Json> = hints
                    .into_iter()
                    .filter(|h| {
                        json_decimal(h)
                            .and_then(cents)
                            .is_some_and(|x| lo_c <= x && x <= hi_c)
                    })
                    .collect();
                numbers(lo_c, hi_c, hints, self.c.hint_weight, |c| {
                    decimal_json(Decimal::new(c, 2))
                })
            }
            FieldType::Date => {
                let day = |d: NaiveDate| i64::from(d.num_days_from_ce());
                let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
                let date_json = |n: i64| {
                    let d = i32::try_from(n)
                        .ok()
                        .and_then(NaiveDate::from_num_days_from_ce_opt)
                        .unwrap_or_default();
                    Json::from(d.to_string())
                };
                if let Some(Constraint::DateRange(a, b)) = constraint {
                    return (day(*a)..=day(*b)).prop_map(date_json).boxed();
                }
                let mut alts: Vec<(u32, BoxedStrategy<Json>)> = vec![
                    (
                        4,
                        (day(ymd(2015, 1, 1))..=day(ymd(2027, 12, 31)))
                            .prop_map(date_json)
                            .boxed(),
                    ),
                    (
                        4,
                        (day(ymd(1920, 1, 1))..=day(ymd(2030, 12, 31)))
                            .prop_map(date_json)
                            .boxed(),
                    ),
                    (
                        1,
                        select(vec![1956, 1960, 1964, 1980, 2000, 2020, 2024])
                            .prop_map(move |y| Json::from(ymd(y, 2, 29).to_string()))
                            .boxed(),
                    ),
                ];
                if !hints.is_empty() {
                    alts.insert(1, (self.c.hint_weight, select(hints).boxed()));
                }
                Union::new_weighted(alts).boxed()
            }
            FieldType::String => {
                let mut pool = hints;
                if pool.is_empty() {
                    pool = self
                        .c
                        .strings
                        .iter()
                        .map(|s| Json::from(s.as_str()))
                        .collect();
                }
                if pool.is_empty() {
                    pool.push(Json::from("X"));
                }
                select(pool).boxed()
            }
            FieldType::Enum(e) => {
                let values: Vec<Json> = self
                    .schema
                    .enums
                    .get(usize::from(*e))
                    .map(|d| d.values.iter().map(|v| Json::from(v.as_str())).collect())
                    .unwrap_or_default();
                if values.is_empty() {
                    return Just(Json::Null).boxed();
                }
                let all = select(values).boxed();
                if hints.is_empty() {
                    all
                } else {
                    Union::new_weighted(vec![(4, all), (self.c.hint_weight, select(hints).boxed())])
                        .boxed()
                }
            }
            FieldType::List(inner) => {
                let (lo, hi) = match constraint {
                    Some(Constraint::Items(lo, hi)) => (*lo, *hi),
                    _ => (0, self.c.max_items),
                };
                match &**inner {
                    FieldType::Record(r) => {
                        let def = &self.schema.records[*r];
                        let key = def.key.map(|k| def.fields[k].name.clone());
                        let prefix = name
                            .chars()
                            .next()
                            .map_or('I', |c| c.to_ascii_uppercase())
                            .to_string();
                        let item = self.record(*r, path);
                        vec_of(item, lo..=hi)
                            .prop_map(move |mut items| {
                                if let Some(k) = &key {
                                    for (i, it) in items.iter_mut().enumerate() {
                                        if let Json::Object(m) = it {
                                            m.insert(
                                                k.clone(),
                                                Json::from(format!("{prefix}{}", i + 1)),
                                            );
                                        }
                                    }
                                }
                                Json::Array(items)
                            })
                            .boxed()
                    }
                    other => vec_of(self.value(other, range, path, name), lo..=hi)
                        .prop_map(Json::Array)
                        .boxed(),
                }
            }
            FieldType::Record(r) => self.record(*r, path),
        }
    }
}

/// Numbers in `lo..=hi` (as integers, mapped to JSON by `to_json`): the bounds, small
/// values, hints and the whole range.
fn numbers(
    lo: i64,
    hi: i64,
    hints: Vec<Json>,
    hint_weight: u32,
    to_json: fn(i64) -> Json,
) -> BoxedStrategy<Json> {
    let small_hi = hi.min(lo.saturating_add(120));
    let mid_hi = hi.min(lo.saturating_add(1_000_000));
    let mut alts: Vec<(u32, BoxedStrategy<Json>)> = vec![
        (1, Just(to_json(lo)).boxed()),
        (3, (lo..=small_hi).prop_map(to_json).boxed()),
    ];
    if !hints.is_empty() {
        alts.push((hint_weight, select(hints).boxed()));
    }
    alts.push((2, (lo..=mid_hi).prop_map(to_json).boxed()));
    alts.push((1, (lo..=hi).prop_map(to_json).boxed()));
    alts.push((1, Just(to_json(hi)).boxed()));
    Union::new_weighted(alts).boxed()
}

fn decimal_json(d: Decimal) -> Json {
    let text = d.normalize().to_string();
    serde_json::from_str::<serde_json::Number>(&text)
        .map(Json::Number)
        .unwrap_or(Json::String(text))
}

fn json_decimal(v: &Json) -> Option<Decimal> {
    match v {
        Json::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Json::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

/// A hint as a JSON value of the field's type, when it fits.
fn hint_json(schema: &Schema, ty: &FieldType, v: &Value) -> Option<Json> {
    Some(match (ty, v) {
        (FieldType::Bool, Value::Bool(b)) => Json::Bool(*b),
        (FieldType::Int, _) => {
            let d = v.as_decimal()?;
            if d.fract() != Decimal::ZERO {
                return None;
            }
            Json::from(i64::try_from(d).ok()?)
        }
        (FieldType::Decimal, _) => decimal_json(v.as_decimal()?),
        (FieldType::String, Value::Str(s)) => Json::from(s.to_string()),
        (FieldType::Date, Value::Date(d)) => Json::from(d.to_string()),
        (FieldType::Enum(e), Value::Enum(f, i)) if e == f => {
            Json::from(schema.enum_value_name(*f, *i).to_string())
        }
        (FieldType::List(inner), _) => return hint_json(schema, inner, v),
        _ => return None,
    })
}

// ------------------------------------------------------ absent-first shrinking

/// A field: absent, `null` or a value, by weight. Shrinks a value or a `null` to
/// absent first, then simplifies the value.
#[derive(Debug)]
struct FieldStrategy {
    value: BoxedStrategy<Json>,
    mix: Mix,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pick {
    Absent,
    Null,
    Value,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Last {
    Nothing,
    ToAbsent(Pick),
    Inner,
}

struct FieldTree {
    pick: Pick,
    inner: Option<Box<dyn ValueTree<Value = Json>>>,
    can_be_absent: bool,
    tried_absent: bool,
    last: Last,
}

impl std::fmt::Debug for FieldTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldTree")
            .field("pick", &self.pick)
            .field("current", &self.current())
            .finish()
    }
}

impl Strategy for FieldStrategy {
    type Tree = FieldTree;
    type Value = Option<Json>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let total = self.mix.value + self.mix.absent + self.mix.null;
        let roll = if total <= 1 {
            0
        } else {
            (0..total).new_tree(runner)?.current()
        };
        let pick = if roll < self.mix.value || total == 0 {
            Pick::Value
        } else if roll < self.mix.value + self.mix.absent {
            Pick::Absent
        } else {
            Pick::Null
        };
        let inner = match pick {
            Pick::Value => Some(self.value.new_tree(runner)?),
            _ => None,
        };
        Ok(FieldTree {
            pick,
            inner,
            can_be_absent: self.mix.absent + self.mix.null > 0,
            tried_absent: false,
            last: Last::Nothing,
        })
    }
}

impl ValueTree for FieldTree {
    type Value = Option<Json>;

    fn current(&self) -> Option<Json> {
        match self.pick {
            Pick::Absent => None,
            Pick::Null => Some(Json::Null),
            Pick::Value => self.inner.as_ref().map(|t| t.current()),
        }
    }

    fn simplify(&mut self) -> bool {
        if self.pick != Pick::Absent && self.can_be_absent && !self.tried_absent {
            self.tried_absent = true;
            self.last = Last::ToAbsent(self.pick);
            self.pick = Pick::Absent;
            return true;
        }
        if self.pick == Pick::Value {
            if let Some(t) = &mut self.inner {
                if t.simplify() {
                    self.last = Last::Inner;
                    return true;
                }
            }
        }
        self.last = Last::Nothing;
        false
    }

    fn complicate(&mut self) -> bool {
        match self.last {
            Last::ToAbsent(prev) => {
                self.pick = prev;
                self.last = Last::Nothing;
                true
            }
            Last::Inner => {
                let more = self.inner.as_mut().is_some_and(|t| t.complicate());
                if !more {
                    self.last = Last::Nothing;
                }
                more
            }
            Last::Nothing => false,
        }
    }
}

// ------------------------------------------------------------------- ref dates

/// Reference dates for property runs: days around every policy's start and end and
/// every parameter step (the day before, the day, the day after), and any day of
/// 2015–2027. With `focus`, the days of that policy's effective period.
pub fn ref_date_strategy(rules: &RuleSet, focus: Option<usize>) -> BoxedStrategy<NaiveDate> {
    let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let (mut lo, mut hi) = (ymd(2015, 1, 1), ymd(2027, 12, 31));
    let mut marks = BTreeSet::new();
    let mut mark = |d: NaiveDate| {
        for x in [d.pred_opt(), Some(d), d.succ_opt()].into_iter().flatten() {
            marks.insert(x);
        }
    };
    match focus.and_then(|i| rules.program.policies.get(i)) {
        Some(p) => {
            lo = lo.max(p.from);
            hi = p.to.unwrap_or(hi).max(lo);
            mark(p.from);
            if let Some(t) = p.to {
                mark(t);
            }
        }
        None => {
            for p in &rules.program.policies {
                mark(p.from);
                if let Some(t) = p.to {
                    mark(t);
                }
            }
            for par in &rules.program.params {
                for (from, to, _, _) in &par.steps {
                    mark(*from);
                    if let Some(t) = to {
                        mark(*t);
                    }
                }
            }
        }
    }
    let day = |d: NaiveDate| i64::from(d.num_days_from_ce());
    let to_date = |n: i64| {
        i32::try_from(n)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .unwrap_or_default()
    };
    let range = (day(lo)..=day(hi)).prop_map(to_date).boxed();
    let marks: Vec<NaiveDate> = marks.into_iter().collect();
    Union::new_weighted(vec![(4, range), (1, select(marks).boxed())]).boxed()
}

// -------------------------------------------------------------- hint mining

/// Collects, for each field path, the constants the rules compare it with.
struct Miner<'r> {
    rules: &'r RuleSet,
    hints: BTreeMap<String, BTreeSet<HintKey>>,
    depth: usize,
}

/// A value with an order, so hints are collected once and in a stable order.
#[derive(Debug, Clone, PartialEq)]
struct HintKey(Value);

impl Eq for HintKey {}

impl PartialOrd for HintKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HintKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        format!("{:?}", self.0).cmp(&format!("{:?}", other.0))
    }
}

impl From<HintKey> for Value {
    fn from(h: HintKey) -> Value {
        h.0
    }
}

/// What the locals of a body stand for: the field paths they are read from.
struct Env<'r> {
    locals: Vec<Vec<String>>,
    lets: &'r [LetDef],
}

impl<'r> Miner<'r> {
    fn policy(&mut self, p: &'r crate::ir::PolicyDef) {
        let mut env = Env {
            locals: vec![vec![]; p.locals.max(1)],
            lets: &p.lets,
        };
        if let Some(pi) = &p.per_item {
            self.walk(&pi.list, &mut env);
            let items: Vec<String> = self.paths(&pi.list, &env, 0);
            if let Some(slot) = env.locals.get_mut(pi.var) {
                *slot = items;
            }
            if let Some(f) = &pi.filter {
                self.walk(f, &mut env);
            }
        }
        for l in &p.lets {
            self.walk(&l.value, &mut env);
        }
        for c in &p.clauses {
            self.walk(&c.condition, &mut env);
        }
        for a in &p.amounts {
            if let crate::ir::AmountGuard::When(g) = &a.guard {
                self.walk(g, &mut env);
            }
            self.walk(&a.value, &mut env);
            for (_, x) in &a.extras {
                self.walk(x, &mut env);
            }
        }
        for (_, x) in &p.reports {
            self.walk(x, &mut env);
        }
    }

    /// The field paths an expression reads its value from (a field, an item variable,
    /// a definition that is one of those).
    fn paths(&self, e: &Expr, env: &Env, depth: usize) -> Vec<String> {
        if depth > 16 {
            return vec![];
        }
        match e {
            Expr::Root => vec![String::new()],
            Expr::Field { base, name, .. } => self
                .paths(base, env, depth + 1)
                .into_iter()
                .map(|b| join(&b, name))
                .collect(),
            Expr::Local(i) => env.locals.get(*i).cloned().unwrap_or_default(),
            Expr::Let(i) => env
                .lets
                .get(*i)
                .map(|l| self.paths(&l.value, env, depth + 1))
                .unwrap_or_default(),
            Expr::Otherwise(a, b) | Expr::If(_, a, b) => {
                let mut v = self.paths(a, env, depth + 1);
                v.extend(self.paths(b, env, depth + 1));
                v
            }
            // `the`, `latest`, `earliest` give an item of the list.
            Expr::Quant {
                quantifier, list, ..
            } if matches!(
                quantifier,
                crate::syntax::ast::Quantifier::The
                    | crate::syntax::ast::Quantifier::Latest
                    | crate::syntax::ast::Quantifier::Earliest
            ) =>
            {
                self.paths(list, env, depth + 1)
            }
            _ => vec![],
        }
    }

    fn add(&mut self, paths: &[String], v: &Value, neighbours: bool) {
        if paths.is_empty() {
            return;
        }
        let mut vals = vec![v.clone()];
        if neighbours {
            match v {
                Value::Int(i) => {
                    vals.extend(
                        [i.checked_sub(1), i.checked_add(1)]
                            .into_iter()
                            .flatten()
                            .map(Value::Int),
                    );
                }
                Value::Decimal(d) => {
                    let step = Decimal::new(1, 2);
                    vals.extend(
                        [d.checked_sub(step), d.checked_add(step)]
                            .into_iter()
                            .flatten()
                            .map(Value::Decimal),
                    );
                }
                Value::Date(d) => {
                    vals.extend(
                        [d.pred_opt(), d.succ_opt()]
                            .into_iter()
                            .flatten()
                            .map(Value::Date),
                    );
                }
                _ => {}
            }
        }
        for p in paths {
            let e = self.hints.entry(norm(p)).or_default();
            for x in &vals {
                e.insert(HintKey(x.clone()));
            }
        }
    }

    fn constant(&self, e: &Expr) -> Option<Value> {
        match e {
            Expr::Const(Some(v)) => Some(v.clone()),
            Expr::Param(p, None) => {
                // A parameter: its first step's value stands for it.
                self.rules
                    .program
                    .params
                    .get(*p)?
                    .steps
                    .first()
                    .map(|s| s.2.clone())
            }
            _ => None,
        }
    }

    fn walk(&mut self, e: &'r Expr, env: &mut Env<'r>) {
        match e {
            Expr::Compare(op, a, b) => {
                let near = !matches!(op, CmpOp::Eq | CmpOp::Ne);
                if let Some(v) = self.constant(b) {
                    let p = self.paths(a, env, 0);
                    self.add(&p, &v, near);
                }
                if let Some(v) = self.constant(a) {
                    let p = self.paths(b, env, 0);
                    self.add(&p, &v, near);
                }
                self.walk(a, env);
                self.walk(b, env);
            }
            Expr::InSet(x, items, _) => {
                let p = self.paths(x, env, 0);
                for it in items {
                    if let Some(v) = self.constant(it) {
                        self.add(&p, &v, false);
                    }
                }
                self.walk(x, env);
            }
            Expr::InRange(x, lo, hi, _) => {
                let p = self.paths(x, env, 0);
                for b in [lo, hi] {
                    if let Some(v) = self.constant(b) {
                        self.add(&p, &v, true);
                    }
                }
                self.walk(x, env);
                self.walk(lo, env);
                self.walk(hi, env);
            }
            Expr::Match(s, arms) => {
                let p = self.paths(s, env, 0);
                for (pats, v) in arms {
                    for pat in pats {
                        match pat {
                            Pat::Eq(x) => {
                                if let Some(c) = self.constant(x) {
                                    self.add(&p, &c, false);
                                }
                            }
                            Pat::Range(lo, hi) => {
                                for b in [lo, hi] {
                                    if let Some(c) = self.constant(b) {
                                        self.add(&p, &c, true);
                                    }
                                }
                            }
                            Pat::Any => {}
                        }
                    }
                    self.walk(v, env);
                }
                self.walk(s, env);
            }
            Expr::Quant {
                var,
                list,
                filter,
                body,
                ..
            } => {
                self.walk(list, env);
                let items = self.paths(list, env, 0);
                if env.locals.len() <= *var {
                    env.locals.resize(*var + 1, vec![]);
                }
                let saved = std::mem::replace(&mut env.locals[*var], items);
                if let Some(f) = filter {
                    self.walk(f, env);
                }
                if let Some(b) = body {
                    self.walk(b, env);
                }
                env.locals[*var] = saved;
            }
            Expr::Function(f, args) => {
                for a in args {
                    self.walk(a, env);
                }
                if self.depth > 8 {
                    return;
                }
                let rules = self.rules;
                let Some(def) = rules.program.functions.get(*f) else {
                    return;
                };
                let mut inner = Env {
                    locals: vec![vec![]; def.locals.max(args.len())],
                    lets: &def.lets,
                };
                for (i, a) in args.iter().enumerate() {
                    inner.locals[i] = self.paths(a, env, 0);
                }
                self.depth += 1;
                for l in &def.lets {
                    self.walk(&l.value, &mut inner);
                }
                self.walk(&def.body, &mut inner);
                self.depth -= 1;
            }
            Expr::Call(_, xs) | Expr::And(xs) | Expr::Or(xs) => {
                for x in xs {
                    self.walk(x, env);
                }
            }
            Expr::Field { base, .. } => self.walk(base, env),
            Expr::Param(_, Some(x)) | Expr::Neg(x) | Expr::Not(x) | Expr::IsNone(x, _) => {
                self.walk(x, env)
            }
            Expr::Arith(_, a, b, _) | Expr::DateShift(a, b, _) | Expr::Otherwise(a, b) => {
                self.walk(a, env);
                self.walk(b, env);
            }
            Expr::InList(a, b, _) => {
                self.walk(a, env);
                self.walk(b, env);
            }
            Expr::If(c, a, b) => {
                self.walk(c, env);
                self.walk(a, env);
                self.walk(b, env);
            }
            Expr::Cases(arms, default) => {
                for (c, v) in arms {
                    self.walk(c, env);
                    self.walk(v, env);
                }
                if let Some(d) = default {
                    self.walk(d, env);
                }
            }
            _ => {}
        }
    }
}

// ----------------------------------------------------------- record paths

/// One step of a path into a JSON record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A field a record lacks: a required field that is absent or `null` (inside records
/// and list items that are there, and inside required records that are absent).
#[derive(Debug, Clone, PartialEq)]
pub struct MissingField {
    /// The path as the evaluator reports it in `missing`
    /// (`household.members[M1].birth_date`, `hires[H2].birth_date`).
    pub path: String,
    /// The normalised schema path (`household.members.birth_date`), for constraints.
    pub schema_path: String,
    /// The record type and the field's index in it.
    pub field: (RecordId, usize),
    steps: Vec<Step>,
}

/// Lists the fields `record` lacks, in schema order.
pub fn missing_fields(schema: &Schema, subject: usize, record: &Json) -> Vec<MissingField> {
    let s = &schema.subjects[subject];
    let mut out = vec![];
    walk_missing(
        schema,
        s.root,
        Some(record),
        &mut Walk {
            steps: vec![],
            reported: String::new(),
            schema_path: String::new(),
        },
        s.paths_from,
        &mut out,
    );
    out
}

struct Walk {
    steps: Vec<Step>,
    reported: String,
    schema_path: String,
}

fn walk_missing(
    schema: &Schema,
    rec: RecordId,
    value: Option<&Json>,
    at: &mut Walk,
    paths_from: Option<usize>,
    out: &mut Vec<MissingField>,
) {
    let def = &schema.records[rec];
    let map = value.and_then(|v| v.as_object());
    for (i, f) in def.fields.iter().enumerate() {
        let v = map.and_then(|m| m.get(&f.name)).filter(|v| !v.is_null());
        let reported = if paths_from == Some(i) {
            String::new()
        } else {
            join(&at.reported, &f.name)
        };
        let sp = join(&at.schema_path, &f.name);
        let mut child = Walk {
            steps: at.steps.clone(),
            reported,
            schema_path: sp,
        };
        child.steps.push(Step::Key(f.name.clone()));
        match (v, &f.ty, &f.presence) {
            (None, FieldType::Record(r), Presence::Required) => {
                walk_missing(schema, *r, None, &mut child, None, out)
            }
            (None, _, Presence::Required) => out.push(MissingField {
                path: child.reported.clone(),
                schema_path: child.schema_path.clone(),
                field: (rec, i),
                steps: child.steps.clone(),
            }),
            (Some(v), FieldType::Record(r), _) => {
                walk_missing(schema, *r, Some(v), &mut child, None, out)
            }
            (Some(Json::Array(items)), FieldType::List(inner), _) => {
                if let FieldType::Record(r) = &**inner {
                    let idef = &schema.records[*r];
                    for (n, item) in items.iter().enumerate() {
                        let name = item_name(idef, item, n);
                        let mut ic = Walk {
                            steps: child.steps.clone(),
                            reported: format!("{}[{name}]", child.reported),
                            schema_path: child.schema_path.clone(),
                        };
                        ic.steps.push(Step::Index(n));
                        walk_missing(schema, *r, Some(item), &mut ic, None, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The name of a list item in reported paths: its key, or its position.
fn item_name(def: &crate::schema::RecordDef, item: &Json, n: usize) -> String {
    def.key
        .and_then(|k| item.get(&def.fields[k].name))
        .and_then(|k| match k {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| n.to_string())
}

/// The definition of the field a missing-field entry names.
pub fn field_def<'s>(schema: &'s Schema, m: &MissingField) -> &'s FieldDef {
    &schema.records[m.field.0].fields[m.field.1]
}

/// Sets the value at a missing-field entry's place, creating absent records on the way.
pub fn fill(record: &mut Json, m: &MissingField, value: Json) {
    let mut cur = record;
    for step in &m.steps {
        if cur.is_null() {
            *cur = Json::Object(serde_json::Map::new());
        }
        cur = match step {
            Step::Key(k) => match cur {
                Json::Object(map) => map.entry(k.clone()).or_insert(Json::Null),
                _ => return,
            },
            Step::Index(i) => match cur {
                Json::Array(items) if *i < items.len() => &mut items[*i],
                _ => return,
            },
        };
    }
    *cur = value;
}

/// Splits a reported path into steps: `household.members[M1].birth_date` →
/// `household`, `members`, item `M1`, `birth_date`; for a subject whose paths start
/// below a top key, that key comes first.
fn resolve_path(
    schema: &Schema,
    subject: usize,
    record: &Json,
    path: &str,
) -> Result<Vec<Step>, String> {
    let s = &schema.subjects[subject];
    let mut steps = vec![];
    let mut rec = s.root;
    let mut cur = Some(record);
    if let Some(i) = s.paths_from {
        let f = &schema.records[rec].fields[i];
        steps.push(Step::Key(f.name.clone()));
        cur = cur.and_then(|c| c.get(&f.name));
        match &f.ty {
            FieldType::Record(r) => rec = *r,
            _ => return Err("the subject's path root is not a record".into()),
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let (name, item) = match part.find('[') {
            Some(b) if part.ends_with(']') => (&part[..b], Some(&part[b + 1..part.len() - 1])),
            _ => (*part, None),
        };
        let def = &schema.records[rec];
        let fi = def
            .field_index(name)
            .ok_or_else(|| format!("`{path}`: `{name}` is not a field of `{}`", def.path))?;
        let f = &def.fields[fi];
        steps.push(Step::Key(name.to_string()));
        cur = cur.and_then(|c| c.get(name));
        let last = n + 1 == parts.len();
        match (&f.ty, item) {
            (FieldType::Record(r), None) => rec = *r,
            (FieldType::List(inner), Some(id)) => {
                let FieldType::Record(r) = &**inner else {
                    return Err(format!("`{path}`: `{name}` is not a list of records"));
                };
                let idef = &schema.records[*r];
                let items = cur.and_then(|c| c.as_array()).ok_or_else(|| {
                    format!("`{path}`: the record has no list `{name}` to find item `{id}` in")
                })?;
                let pos = items
                    .iter()
                    .enumerate()
                    .position(|(i, it)| item_name(idef, it, i) == id)
                    .ok_or_else(|| format!("`{path}`: no item `{id}` in `{name}`"))?;
                steps.push(Step::Index(pos));
                cur = items.get(pos);
                rec = *r;
            }
            (_, None) if last => {}
            _ => return Err(format!("`{path}`: cannot go into `{part}`")),
        }
    }
    Ok(steps)
}

/// Sets the value of a field given by a reported path (as in a decision's `missing`:
/// `household.members[K1].birth_date`, or `hires[H2].birth_date` for an enterprise),
/// creating absent records on the way. List items are found by their key (or position).
pub fn set_path(
    schema: &Schema,
    subject: usize,
    record: &mut Json,
    path: &str,
    value: Json,
) -> Result<(), String> {
    let steps = resolve_path(schema, subject, record, path)?;
    let m = MissingField {
        path: path.to_string(),
        schema_path: String::new(),
        field: (0, 0),
        steps,
    };
    fill(record, &m, value);
    Ok(())
}

/// The value of a field given by a reported path; `None` when it is absent (or a
/// record on the way is).
pub fn get_path<'j>(
    schema: &Schema,
    subject: usize,
    record: &'j Json,
    path: &str,
) -> Result<Option<&'j Json>, String> {
    let steps = resolve_path(schema, subject, record, path)?;
    let mut cur = record;
    for s in &steps {
        let next = match s {
            Step::Key(k) => cur.get(k),
            Step::Index(i) => cur.get(*i),
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_drops_item_parts() {
        assert_eq!(
            norm("household.members[K1].birth_date"),
            "household.members.birth_date"
        );
        assert_eq!(norm("hires[].birth_date"), "hires.birth_date");
    }
}
