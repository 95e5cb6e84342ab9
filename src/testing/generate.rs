//! Record generators from the schema: proptest [`Strategy`]s that produce any record
//! the schema allows, for property tests of a rule set (ours and a host's).
//!
//! * enums take their declared values, numbers their declared `range` (with weight
//!   on the bounds and small values), dates a plausible span: around the reference
//!   date (the last three years, the next one), up to 100 years before it (birth
//!   dates), any day of 1920–2030, and 29 February; a record generated without its
//!   reference date counts from [`Constraints::anchor`];
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
    /// Weight of a value.
    pub value: u32,
    /// Weight of the key left out.
    pub absent: u32,
    /// Weight of the key given as `null`.
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
    rel_hints: BTreeMap<String, Vec<RelDate>>,
    /// Lists the rules pick an item from (`the`, `latest`, `any`): drawn non-empty more often.
    item_hints: BTreeSet<String>,
    /// Fields the rules test with `is none`: `true` = drawn absent more often.
    none_hints: BTreeMap<String, bool>,
    /// The date that dates "relative to the reference date" are counted from when a
    /// record is generated without one (see
    /// [`RuleSet::case_strategy`](crate::RuleSet::case_strategy) for records generated with
    /// their reference date).
    pub anchor: NaiveDate,
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
            rel_hints: BTreeMap::new(),
            item_hints: BTreeSet::new(),
            none_hints: BTreeMap::new(),
            anchor: NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default(),
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
    /// Constraints that allow every record of the schema (the default).
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

    /// Sets the constraint of one field, by its path.
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
        let latest = crate::semantics::calendar::add_years(on, -i64::from(lo)).unwrap_or(on);
        let earliest = crate::semantics::calendar::add_years(on, -i64::from(hi) - 1)
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

    /// A field never absent or null.
    pub fn present(self, path: &str) -> Self {
        self.set(path, Constraint::Present)
    }

    /// A field always absent.
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
    pub(crate) fn hint(mut self, path: &str, values: Vec<Value>) -> Self {
        let e = self.hints.entry(norm(path)).or_default();
        for v in values {
            if !e.contains(&v) {
                e.push(v);
            }
        }
        self
    }

    /// Adds dates relative to the reference date to draw more often for a date field.
    pub(crate) fn hint_relative(mut self, path: &str, values: Vec<RelDate>) -> Self {
        let e = self.rel_hints.entry(norm(path)).or_default();
        for v in values {
            if !e.contains(&v) {
                e.push(v);
            }
        }
        self
    }

    /// Draws a list with one or two items more often.
    pub fn hint_items(mut self, path: &str) -> Self {
        self.item_hints.insert(norm(path));
        self
    }

    /// Draws a field absent (`true`) or present (`false`) more often.
    pub fn hint_none(mut self, path: &str, none: bool) -> Self {
        self.none_hints.insert(norm(path), none);
        self
    }

    /// Adds as hints the constants every policy of `rules` compares fields with.
    pub fn with_hints_from(self, rules: &RuleSet) -> Self {
        let all: Vec<usize> = (0..rules.program.policies.len()).collect();
        self.with_policy_hints(rules, &all)
    }

    /// The policy (by index) and those it excludes or is excluded by: the group a record
    /// generator aims at when it tests one policy.
    ///
    /// Not part of the API: it takes policies by their index in the program.
    #[doc(hidden)]
    pub fn policy_group(rules: &RuleSet, policy: usize) -> Vec<usize> {
        let mut group = vec![policy];
        let Some(def) = rules.program.policies.get(policy) else {
            return group;
        };
        for (j, other) in rules.program.policies.iter().enumerate() {
            if def.excludes.contains(&other.id) || other.excludes.contains(&def.id) {
                group.push(j);
            }
        }
        group
    }

    /// Adds as hints the constants the given policies (by index) compare fields with,
    /// and the text constants of those policies as strings.
    ///
    /// Not part of the API: it takes policies by their index in the program.
    #[doc(hidden)]
    pub fn with_policy_hints(mut self, rules: &RuleSet, policies: &[usize]) -> Self {
        let mut miner = Miner {
            rules,
            hints: BTreeMap::new(),
            rel: BTreeMap::new(),
            items: BTreeSet::new(),
            none: BTreeMap::new(),
            depth: 0,
            seen_lets: BTreeSet::new(),
        };
        for &i in policies {
            if let Some(p) = rules.program.policies.get(i) {
                miner.policy(p, i);
            }
        }
        for (path, values) in miner.hints {
            self = self.hint(&path, values.into_iter().map(Value::from).collect());
        }
        for (path, values) in miner.rel {
            self = self.hint_relative(&path, values.into_iter().collect());
        }
        for path in miner.items {
            self = self.hint_items(&path);
        }
        for (path, none) in miner.none {
            self = self.hint_none(&path, none);
        }
        self
    }

    /// Checks that every constrained path is a field of the subject.
    pub(crate) fn check(&self, schema: &Schema, subject: usize) -> Result<(), String> {
        let known = field_paths(schema, subject);
        for path in self.fields.keys() {
            if resolve_key(schema, subject, path, &known).is_none() {
                let s = schema
                    .subjects
                    .get(subject)
                    .map_or("?", |s| s.name.as_str());
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
        for f in schema.record(rec).into_iter().flat_map(|d| d.fields.iter()) {
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
    if let Some(s) = schema.subjects.get(subject) {
        walk(schema, s.root, "", &mut out);
    }
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
    let s = schema.subjects.get(subject)?;
    let top = &schema.record(s.root)?.field(s.paths_from?)?.name;
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
/// When a constrained path is not a field of the subject.
/// This is the convenience form for a host's proptest, where a panic is how a test
/// fails; [`try_record_strategy`] returns the problem instead.
#[allow(clippy::panic)]
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
    let c = resolve_constraints(schema, subject, constraints)?;
    let anchor = c.anchor;
    Ok(raw_record(schema, subject, &c)
        .prop_map(move |mut j| {
            resolve_dates(&mut j, anchor);
            j
        })
        .boxed())
}

/// Records generated with their reference date: dates the rules count from `ref`
/// (ages, "within 12 months", "one year after registration") are drawn around the
/// reference date each record gets from `refs`.
pub fn case_strategy(
    schema: &Schema,
    subject: usize,
    constraints: &Constraints,
    refs: BoxedStrategy<NaiveDate>,
) -> Result<BoxedStrategy<(NaiveDate, Json)>, String> {
    let c = resolve_constraints(schema, subject, constraints)?;
    Ok((refs, raw_record(schema, subject, &c))
        .prop_map(|(r, mut j)| {
            resolve_dates(&mut j, r);
            (r, j)
        })
        .boxed())
}

/// The constraints with their paths checked and written in full.
pub(crate) fn resolve_constraints(
    schema: &Schema,
    subject: usize,
    constraints: &Constraints,
) -> Result<Constraints, String> {
    if subject >= schema.subjects.len() {
        return Err(format!("no subject kind number {subject} in the schema"));
    }
    constraints.check(schema, subject)?;
    let known = field_paths(schema, subject);
    let full = |k: &String| resolve_key(schema, subject, k, &known);
    let mut c = constraints.clone();
    c.fields = constraints
        .fields
        .iter()
        .filter_map(|(k, v)| full(k).map(|k| (k, v.clone())))
        .collect();
    c.hints = constraints
        .hints
        .iter()
        .filter_map(|(k, v)| full(k).map(|k| (k, v.clone())))
        .collect();
    c.rel_hints = constraints
        .rel_hints
        .iter()
        .filter_map(|(k, v)| full(k).map(|k| (k, v.clone())))
        .collect();
    c.item_hints = constraints.item_hints.iter().filter_map(full).collect();
    c.none_hints = constraints
        .none_hints
        .iter()
        .filter_map(|(k, v)| full(k).map(|k| (k, *v)))
        .collect();
    // The subject's id is always there, so that every generated record names itself.
    let s = schema
        .subjects
        .get(subject)
        .ok_or_else(|| format!("no subject kind number {subject} in the schema"))?;
    let mut rec = s.root;
    let mut id_path = String::new();
    for &i in &s.id_path {
        let f = schema
            .record(rec)
            .and_then(|d| d.field(i))
            .ok_or_else(|| format!("the id path of subject kind `{}` is broken", s.name))?;
        id_path = join(&id_path, &f.name);
        if let FieldType::Record(r) = f.ty {
            rec = r;
        }
    }
    if !id_path.is_empty() && !c.fields.contains_key(&id_path) {
        c.fields
            .insert(id_path, Constraint::Fixed(Json::from("GEN-1")));
    }
    // A constrained field is there, so the records holding it are there too.
    let held: Vec<String> = c
        .fields
        .iter()
        .filter(|(_, v)| **v != Constraint::Absent)
        .map(|(k, _)| k.clone())
        .collect();
    for k in held {
        let mut prefix = String::new();
        for part in k
            .split('.')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |x| x.1)
        {
            prefix = join(&prefix, part);
            c.fields
                .entry(prefix.clone())
                .or_insert(Constraint::Present);
        }
    }
    Ok(c)
}

/// Records with dates relative to `ref` left as placeholders.
fn raw_record(schema: &Schema, subject: usize, c: &Constraints) -> BoxedStrategy<Json> {
    let g = Gen {
        schema,
        c,
        complete: false,
    };
    match schema.subjects.get(subject) {
        Some(s) => g.record(s.root, ""),
        // Not reached: the constraints were resolved against this subject.
        None => Just(Json::Object(serde_json::Map::new())).boxed(),
    }
}

/// Marks a date relative to the reference date, until it is resolved.
const REL: &str = "\u{1}ref|";

fn rel_json(r: RelDate) -> Json {
    Json::String(format!("{REL}{}|{}", r.months, r.days))
}

/// Replaces the relative-date placeholders of a generated value by dates counted
/// from `anchor`.
pub(crate) fn resolve_dates(v: &mut Json, anchor: NaiveDate) {
    match v {
        Json::String(s) if s.starts_with(REL) => {
            let mut it = s
                .get(REL.len()..)
                .unwrap_or_default()
                .split('|')
                .map(|x| x.parse::<i64>().unwrap_or(0));
            let (m, d) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            let date = crate::semantics::calendar::add_months(anchor, m)
                .and_then(|x| crate::semantics::calendar::add_days(x, d))
                .unwrap_or(anchor);
            *v = Json::from(date.to_string());
        }
        Json::Array(items) => items.iter_mut().for_each(|x| resolve_dates(x, anchor)),
        Json::Object(m) => m.values_mut().for_each(|x| resolve_dates(x, anchor)),
        _ => {}
    }
}

/// The generator of one value of a field (a complete value: required fields of a
/// record or list items are all present), for filling a record's missing fields; dates
/// relative to the reference date count from `ref_date`. `constraints` are those given
/// to the record's generator.
pub fn field_value_strategy(
    schema: &Schema,
    field: &FieldDef,
    path: &str,
    constraints: &Constraints,
    ref_date: NaiveDate,
) -> BoxedStrategy<Json> {
    let g = Gen {
        schema,
        c: constraints,
        complete: true,
    };
    g.value(&field.ty, field.range, &norm(path), &field.name)
        .prop_map(move |mut j| {
            resolve_dates(&mut j, ref_date);
            j
        })
        .boxed()
}

struct Gen<'a> {
    schema: &'a Schema,
    c: &'a Constraints,
    complete: bool,
}

impl Gen<'_> {
    fn record(&self, rec: RecordId, path: &str) -> BoxedStrategy<Json> {
        let Some(def) = self.schema.record(rec) else {
            // Not reached: record ids come from the schema's own field types.
            return Just(Json::Object(serde_json::Map::new())).boxed();
        };
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
            None if self.c.none_hints.get(path) == Some(&true) && !self.complete => Mix {
                value: 1,
                absent: 2,
                null: 1,
            },
            None if self.c.none_hints.get(path) == Some(&false) => Mix {
                value: 8,
                absent: 1,
                null: 0,
            },
            None => match f.presence {
                Presence::Required if self.complete => Mix::ALWAYS,
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
            FieldType::Bool => {
                self.weighted(proptest::bool::ANY.prop_map(Json::Bool).boxed(), hints)
            }
            FieldType::Int => self.ints(constraint, range, hints),
            FieldType::Decimal => self.decimals(constraint, range, hints),
            FieldType::Date => self.dates(constraint, path, hints),
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
                self.weighted(select(values).boxed(), hints)
            }
            FieldType::List(inner) => self.lists(inner, constraint, range, path, name),
            FieldType::Record(r) => self.record(*r, path),
        }
    }

    /// Any value of `all`, with the hinted values (the rules' constants) weighted in.
    fn weighted(&self, all: BoxedStrategy<Json>, hints: Vec<Json>) -> BoxedStrategy<Json> {
        if hints.is_empty() {
            all
        } else {
            Union::new_weighted(vec![(4, all), (self.c.hint_weight, select(hints).boxed())]).boxed()
        }
    }

    /// Whole numbers in the constrained or schema range, the hints among them.
    fn ints(
        &self,
        constraint: Option<&Constraint>,
        range: Option<(Decimal, Decimal)>,
        hints: Vec<Json>,
    ) -> BoxedStrategy<Json> {
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

    /// Decimals to the cent in the constrained or schema range, the hints among them.
    fn decimals(
        &self,
        constraint: Option<&Constraint>,
        range: Option<(Decimal, Decimal)>,
        hints: Vec<Json>,
    ) -> BoxedStrategy<Json> {
        let (lo, hi) = match constraint {
            Some(Constraint::DecimalRange(lo, hi)) => (*lo, *hi),
            _ => range.unwrap_or((Decimal::from(-1000), Decimal::from(100_000))),
        };
        let cents = |d: Decimal| {
            let c = d.checked_mul(Decimal::ONE_HUNDRED)?;
            i64::try_from(c.round()).ok()
        };
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

    /// Dates around the reference date, birth dates, 29 Februaries and the hinted dates
    /// (absolute and relative to the reference date).
    fn dates(
        &self,
        constraint: Option<&Constraint>,
        path: &str,
        hints: Vec<Json>,
    ) -> BoxedStrategy<Json> {
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
        let rel = |lo: i64, hi: i64| {
            (lo..=hi)
                .prop_map(|d| rel_json(RelDate { months: 0, days: d }))
                .boxed()
        };
        let mut alts: Vec<(u32, BoxedStrategy<Json>)> = vec![
            // around the reference date: the last three years, the next one
            (3, rel(-1100, 400)),
            // anyone's birth date: up to 100 years before
            (3, rel(-36_600, 0)),
            (
                1,
                (day(ymd(2015, 1, 1))..=day(ymd(2027, 12, 31)))
                    .prop_map(date_json)
                    .boxed(),
            ),
            (
                1,
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
            alts.push((self.c.hint_weight, select(hints).boxed()));
        }
        if let Some(r) = self.c.rel_hints.get(path).filter(|r| !r.is_empty()) {
            let r: Vec<Json> = r.iter().map(|x| rel_json(*x)).collect();
            alts.push((self.c.hint_weight, select(r).boxed()));
        }
        Union::new_weighted(alts).boxed()
    }

    /// Lists of `inner`: keyed records numbered as a person would, or scalar values.
    fn lists(
        &self,
        inner: &FieldType,
        constraint: Option<&Constraint>,
        range: Option<(Decimal, Decimal)>,
        path: &str,
        name: &str,
    ) -> BoxedStrategy<Json> {
        let (lo, hi) = match constraint {
            Some(Constraint::Items(lo, hi)) => (*lo, *hi),
            _ => (0, self.c.max_items),
        };
        match inner {
            FieldType::Record(r) => {
                let key = self
                    .schema
                    .record(*r)
                    .and_then(|def| def.field(def.key?))
                    .map(|f| f.name.clone());
                let prefix = name
                    .chars()
                    .next()
                    .map_or('I', |c| c.to_ascii_uppercase())
                    .to_string();
                let item = self.record(*r, path);
                let few = (self.c.item_hints.contains(path) && constraint.is_none() && hi >= 1)
                    .then(|| vec_of(item.clone(), 1..=hi.min(2)));
                let any = vec_of(item, lo..=hi);
                let lists = match few {
                    Some(few) => Union::new_weighted(vec![
                        (self.c.hint_weight, few.boxed()),
                        (4, any.boxed()),
                    ])
                    .boxed(),
                    None => any.boxed(),
                };
                lists
                    .prop_map(move |mut items| {
                        if let Some(k) = &key {
                            for (i, it) in items.iter_mut().enumerate() {
                                if let Json::Object(m) = it {
                                    // The key first, as a person would write it.
                                    let mut keyed = serde_json::Map::new();
                                    keyed.insert(
                                        k.clone(),
                                        Json::from(format!("{prefix}{}", i + 1)),
                                    );
                                    for (name, v) in std::mem::take(m) {
                                        if &name != k {
                                            keyed.insert(name, v);
                                        }
                                    }
                                    *m = keyed;
                                }
                            }
                        }
                        Json::Array(items)
                    })
                    .boxed()
            }
            other => {
                let any = vec_of(self.value(other, range, path, name), lo..=hi)
                    .prop_map(Json::Array)
                    .boxed();
                // The rules want no item of this list to match: lean to none.
                let wants_none = self.c.hints.get(path).is_some_and(|h| h.is_empty());
                if wants_none && lo == 0 && constraint.is_none() {
                    Union::new_weighted(vec![
                        (self.c.hint_weight, Just(Json::Array(vec![])).boxed()),
                        (4, any),
                    ])
                    .boxed()
                } else {
                    any
                }
            }
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
        let total = self
            .mix
            .value
            .saturating_add(self.mix.absent)
            .saturating_add(self.mix.null);
        let roll = if total <= 1 {
            0
        } else {
            (0..total).new_tree(runner)?.current()
        };
        let pick = if roll < self.mix.value || total == 0 {
            Pick::Value
        } else if roll < self.mix.value.saturating_add(self.mix.absent) {
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
            can_be_absent: self.mix.absent > 0 || self.mix.null > 0,
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

// ------------------------------------------------------------------ best of k

/// A strategy that draws `k` values of `inner` and keeps the one `score` ranks
/// highest (the first of equals); it shrinks as `inner` does. Used to reach the deep
/// corners of a policy (every clause true) that independent draws rarely hit.
pub struct BestOf<T> {
    inner: BoxedStrategy<T>,
    k: usize,
    score: std::sync::Arc<dyn Fn(&T) -> i64 + Send + Sync>,
}

impl<T> std::fmt::Debug for BestOf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BestOf").field("k", &self.k).finish()
    }
}

/// The best of `k` draws of `inner` by `score`.
pub fn best_of<T: std::fmt::Debug + 'static>(
    inner: BoxedStrategy<T>,
    k: usize,
    score: impl Fn(&T) -> i64 + Send + Sync + 'static,
) -> BestOf<T> {
    BestOf {
        inner,
        k: k.max(1),
        score: std::sync::Arc::new(score),
    }
}

impl<T: std::fmt::Debug + 'static> Strategy for BestOf<T> {
    type Tree = Box<dyn ValueTree<Value = T>>;
    type Value = T;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let mut best = self.inner.new_tree(runner)?;
        let mut best_score = (self.score)(&best.current());
        for _ in 1..self.k {
            let t = self.inner.new_tree(runner)?;
            let s = (self.score)(&t.current());
            if s > best_score {
                best = t;
                best_score = s;
            }
        }
        Ok(best)
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
    let policy = focus.and_then(|i| rules.program.policies.get(i));
    if let Some(p) = policy {
        lo = lo.max(p.from);
        hi = p.to.unwrap_or(hi).max(lo);
    }
    for p in &rules.program.policies {
        if policy.is_none_or(|f| f.id == p.id) {
            mark(p.from);
            if let Some(t) = p.to {
                mark(t);
            }
        }
    }
    // The windows of the parameters' and scales' values in force inside the period: an
    // amount may need one. A step declared absent is a window of errors: only its
    // edges are marked.
    let mut windows = vec![];
    let params = rules
        .program
        .params
        .iter()
        .flat_map(|p| p.steps.iter().map(|s| (s.from, s.to, s.value.is_some())));
    let scales = rules
        .program
        .scales
        .iter()
        .flat_map(|p| p.steps.iter().map(|s| (s.from, s.to, s.value.is_some())));
    for (from, to, valued) in params.chain(scales) {
        let (a, b) = (from.max(lo), to.unwrap_or(hi).min(hi));
        if a <= b {
            if valued {
                windows.push((a, b));
            }
            mark(from);
            if let Some(t) = to {
                mark(t);
            }
        }
    }
    let marks: Vec<NaiveDate> = marks
        .into_iter()
        .filter(|d| {
            policy.is_none()
                || (lo.pred_opt().unwrap_or(lo) <= *d && *d <= hi.succ_opt().unwrap_or(hi))
        })
        .collect();
    let day = |d: NaiveDate| i64::from(d.num_days_from_ce());
    let to_date = |n: i64| {
        i32::try_from(n)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .unwrap_or_default()
    };
    let span = |a: NaiveDate, b: NaiveDate| (day(a)..=day(b)).prop_map(to_date).boxed();
    let mut alts: Vec<(u32, BoxedStrategy<NaiveDate>)> = vec![(4, span(lo, hi))];
    if !windows.is_empty() {
        let w: Vec<BoxedStrategy<NaiveDate>> = windows.iter().map(|&(a, b)| span(a, b)).collect();
        alts.push((3, Union::new(w).boxed()));
    }
    if !marks.is_empty() {
        alts.push((1, select(marks).boxed()));
    }
    Union::new_weighted(alts).boxed()
}

// -------------------------------------------------------------- hint mining

/// A date relative to the reference date: `ref + months + days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelDate {
    /// Calendar months (added first, clamping the day).
    pub months: i64,
    /// Days (added after the months).
    pub days: i64,
}

/// Collects, for each field path, the constants the rules compare it with (values
/// that make the comparison true where it appears, and the nearest that does not),
/// and the dates relative to `ref` they compare date fields with.
struct Miner<'r> {
    rules: &'r RuleSet,
    hints: BTreeMap<String, BTreeSet<HintKey>>,
    rel: BTreeMap<String, BTreeSet<RelDate>>,
    items: BTreeSet<String>,
    none: BTreeMap<String, bool>,
    depth: usize,
    seen_lets: BTreeSet<(usize, usize, Option<bool>)>,
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
    id: usize,
    locals: Vec<Vec<String>>,
    lets: &'r [LetDef],
}

/// `op` with its operands swapped (`a < b` is `b > a`).
fn swap_op(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

/// The negation of `op`.
fn not_op(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    }
}

/// The value one step above (`up`) or below a value: 1, 0.01 or a day.
fn step(v: &Value, up: bool, n: i64) -> Option<Value> {
    let n = if up { n } else { -n };
    match v {
        Value::Int(i) => i.checked_add(n).map(Value::Int),
        Value::Decimal(d) => d.checked_add(Decimal::new(n, 2)).map(Value::Decimal),
        Value::Date(d) => crate::semantics::calendar::add_days(*d, n).map(Value::Date),
        _ => None,
    }
}

/// Values of `x` that make `x op c` true, and the nearest that makes it false.
fn satisfying(op: CmpOp, c: &Value) -> Vec<Value> {
    let mut out = vec![];
    let mut push = |v: Option<Value>| {
        if let Some(v) = v {
            out.push(v);
        }
    };
    match op {
        CmpOp::Eq => push(Some(c.clone())),
        CmpOp::Ne => {
            push(step(c, true, 1));
            push(Some(c.clone()));
        }
        CmpOp::Lt => {
            push(step(c, false, 1));
            push(step(c, false, 7));
            push(Some(c.clone()));
        }
        CmpOp::Le => {
            push(Some(c.clone()));
            push(step(c, false, 1));
            push(step(c, true, 1));
        }
        CmpOp::Gt => {
            push(step(c, true, 1));
            push(step(c, true, 7));
            push(Some(c.clone()));
        }
        CmpOp::Ge => {
            push(Some(c.clone()));
            push(step(c, true, 1));
            push(step(c, false, 1));
        }
    }
    out
}

impl<'r> Miner<'r> {
    fn policy(&mut self, p: &'r crate::ir::PolicyDef, id: usize) {
        let mut env = Env {
            id,
            locals: vec![vec![]; p.locals.max(1)],
            lets: &p.lets,
        };
        if let Some(pi) = &p.per_item {
            self.walk(&pi.list, &mut env, None);
            let items: Vec<String> = self.paths(&pi.list, &env, 0);
            if let Some(slot) = env.locals.get_mut(pi.var) {
                *slot = items;
            }
            if let Some(f) = &pi.filter {
                self.walk(f, &mut env, Some(true));
            }
        }
        for c in &p.clauses {
            self.walk(&c.condition, &mut env, Some(true));
        }
        for a in &p.amounts {
            if let crate::ir::AmountGuard::When(g) = &a.guard {
                self.walk(g, &mut env, None);
            }
            self.walk(&a.value, &mut env, None);
            for (_, x) in &a.extras {
                self.walk(x, &mut env, None);
            }
        }
        for (_, x) in &p.reports {
            self.walk(x, &mut env, None);
        }
        for (i, l) in p.lets.iter().enumerate() {
            if !self.seen_lets.iter().any(|(e, j, _)| *e == id && *j == i) {
                self.walk(&l.value, &mut env, None);
            }
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
                quantifier:
                    crate::syntax::ast::Quantifier::The
                    | crate::syntax::ast::Quantifier::Latest
                    | crate::syntax::ast::Quantifier::Earliest,
                list,
                ..
            } => self.paths(list, env, depth + 1),
            _ => vec![],
        }
    }

    /// A date field shifted by a constant: `add_months(f, 12)`, `f + 3 years`.
    fn shifted(&self, e: &Expr, env: &Env, depth: usize) -> Option<(Vec<String>, RelDate)> {
        use crate::ir::{Builtin, DateUnit};
        if depth > 8 {
            return None;
        }
        let unit = |n: i64, u: DateUnit| match u {
            DateUnit::Days => RelDate { months: 0, days: n },
            DateUnit::Months => RelDate { months: n, days: 0 },
            DateUnit::Years => RelDate {
                months: n.saturating_mul(12),
                days: 0,
            },
        };
        match e {
            Expr::Let(i) => env
                .lets
                .get(*i)
                .and_then(|l| self.shifted(&l.value, env, depth + 1)),
            Expr::DateShift(d, dur, minus) => {
                let Expr::Duration(n, u) = &**dur else {
                    return None;
                };
                let (p, r) = self.shifted(d, env, depth + 1)?;
                let s = unit(if *minus { n.saturating_neg() } else { *n }, *u);
                Some((
                    p,
                    RelDate {
                        months: r.months.saturating_add(s.months),
                        days: r.days.saturating_add(s.days),
                    },
                ))
            }
            Expr::Call(b @ (Builtin::AddMonths | Builtin::AddYears | Builtin::AddDays), args) => {
                let n = match args.get(1).and_then(|a| self.constant(a)) {
                    Some(Value::Int(n)) => n,
                    _ => return None,
                };
                let (p, r) = self.shifted(args.first()?, env, depth + 1)?;
                let s = match b {
                    Builtin::AddMonths => unit(n, DateUnit::Months),
                    Builtin::AddYears => unit(n, DateUnit::Years),
                    _ => unit(n, DateUnit::Days),
                };
                Some((
                    p,
                    RelDate {
                        months: r.months.saturating_add(s.months),
                        days: r.days.saturating_add(s.days),
                    },
                ))
            }
            _ => {
                let p = self.paths(e, env, depth + 1);
                (!p.is_empty()).then_some((p, RelDate { months: 0, days: 0 }))
            }
        }
    }

    /// `age(f)` (on `ref`, or on another date: taken as near `ref`).
    fn age_of(&self, e: &Expr, env: &Env) -> Option<Vec<String>> {
        match e {
            Expr::Call(crate::ir::Builtin::Age, args) => {
                let p = self.paths(args.first()?, env, 0);
                (!p.is_empty()).then_some(p)
            }
            Expr::Let(i) => env.lets.get(*i).and_then(|l| self.age_of(&l.value, env)),
            _ => None,
        }
    }

    fn is_ref(e: &Expr, env: &Env) -> bool {
        match e {
            Expr::Ref => true,
            Expr::Let(i) => env
                .lets
                .get(*i)
                .is_some_and(|l| Self::is_ref(&l.value, env)),
            _ => false,
        }
    }

    fn add(&mut self, paths: &[String], vals: &[Value]) {
        for p in paths {
            let e = self.hints.entry(norm(p)).or_default();
            for x in vals {
                e.insert(HintKey(x.clone()));
            }
        }
    }

    fn add_rel(&mut self, paths: &[String], vals: &[RelDate]) {
        for p in paths {
            let e = self.rel.entry(norm(p)).or_default();
            e.extend(vals.iter().copied());
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
                    .iter()
                    .find_map(|s| s.value.clone())
            }
            _ => None,
        }
    }

    /// Hints from `a op b` read with polarity `pol`.
    fn compare(&mut self, op: CmpOp, a: &'r Expr, b: &'r Expr, env: &Env<'r>, pol: Option<bool>) {
        let ops: Vec<CmpOp> = match pol {
            Some(true) => vec![op],
            Some(false) => vec![not_op(op)],
            None => vec![op, not_op(op)],
        };
        for (x, y, flip) in [(a, b, false), (b, a, true)] {
            for &o in &ops {
                let o = if flip { swap_op(o) } else { o };
                // field op constant
                if let Some(c) = self.constant(y) {
                    let p = self.paths(x, env, 0);
                    if !p.is_empty() {
                        self.add(&p, &satisfying(o, &c));
                    }
                    // age(f) op n: birth dates n years before ref
                    if let (Some(p), Some(n)) = (self.age_of(x, env), c.as_decimal()) {
                        if let Ok(n) = i64::try_from(n.trunc()) {
                            let mut rel = vec![];
                            for k in [n, n.saturating_add(1), n.saturating_sub(1)] {
                                rel.push(RelDate {
                                    months: k.saturating_mul(-12),
                                    days: 0,
                                });
                                rel.push(RelDate {
                                    months: k.saturating_mul(-12),
                                    days: 1,
                                });
                                rel.push(RelDate {
                                    months: k.saturating_mul(-12),
                                    days: -1,
                                });
                            }
                            self.add_rel(&p, &rel);
                        }
                    }
                    // shifted date op constant date: f = c − shift
                    if let (Value::Date(d), Some((p, r))) = (&c, self.shifted(x, env, 0)) {
                        if r != (RelDate { months: 0, days: 0 }) {
                            let base = crate::semantics::calendar::add_months(
                                *d,
                                r.months.saturating_neg(),
                            )
                            .and_then(|d| {
                                crate::semantics::calendar::add_days(d, r.days.saturating_neg())
                            });
                            if let Some(base) = base {
                                let v = Value::Date(base);
                                let mut vals = satisfying(o, &v);
                                vals.push(v);
                                self.add(&p, &vals);
                            }
                        }
                    }
                }
                // shifted date op ref: f = ref − shift
                if Self::is_ref(y, env) {
                    if let Some((p, r)) = self.shifted(x, env, 0) {
                        let base = RelDate {
                            months: r.months.saturating_neg(),
                            days: r.days.saturating_neg(),
                        };
                        self.add_rel(
                            &p,
                            &[
                                base,
                                RelDate {
                                    days: base.days.saturating_sub(1),
                                    ..base
                                },
                                RelDate {
                                    days: base.days.saturating_add(1),
                                    ..base
                                },
                            ],
                        );
                    }
                }
            }
        }
    }

    fn walk(&mut self, e: &'r Expr, env: &mut Env<'r>, pol: Option<bool>) {
        let flip = |p: Option<bool>| p.map(|b| !b);
        match e {
            Expr::Compare(op, a, b) => {
                self.compare(*op, a, b, env, pol);
                self.walk(a, env, None);
                self.walk(b, env, None);
            }
            Expr::InSet(x, items, negated) => {
                self.in_set(x, items, *negated, env, pol);
                // membership of age(f) in a set of ages
                self.walk(x, env, None);
            }
            Expr::InRange(x, lo, hi, _) => {
                self.in_range(x, lo, hi, env);
                self.walk(x, env, None);
                self.walk(lo, env, None);
                self.walk(hi, env, None);
            }
            Expr::Match(s, arms) => self.match_arms(s, arms, env, pol),
            Expr::Quant { .. } => self.quantified(e, env, pol),
            Expr::Function(f, args) => self.function_call(*f, args, env, pol),
            Expr::Let(i) => self.let_ref(e, *i, env, pol),
            Expr::Field { .. } | Expr::Local(_) if pol.is_some() => {
                // a yes/no field used as a condition
                let p = self.paths(e, env, 0);
                self.add(&p, &[Value::Bool(pol == Some(true))]);
                if let Expr::Field { base, .. } = e {
                    self.walk(base, env, None);
                }
            }
            Expr::Not(x) => self.walk(x, env, flip(pol)),
            Expr::And(xs) | Expr::Or(xs) => {
                for x in xs {
                    self.walk(x, env, pol);
                }
            }
            Expr::Call(crate::ir::Builtin::WithinLast, xs) => {
                self.within_last(xs, env);
                for x in xs {
                    self.walk(x, env, None);
                }
            }
            Expr::Scale { scale, x, at, .. } => {
                // The amount a scale is applied to: every threshold of every step, and
                // the numbers next to them (a bracket's edges).
                let p = self.paths(x, env, 0);
                if !p.is_empty() {
                    let mut vals = vec![];
                    let steps = self.rules.program.scales.get(*scale).map(|s| &s.steps);
                    for b in steps.into_iter().flatten().filter_map(|s| s.value.as_ref()) {
                        for &(t, _) in b.pairs() {
                            let t = Value::Decimal(t);
                            vals.extend(
                                [step(&t, false, 1), step(&t, true, 1)]
                                    .into_iter()
                                    .flatten(),
                            );
                            vals.push(t);
                        }
                    }
                    self.add(&p, &vals);
                }
                self.walk(x, env, None);
                if let Some(a) = at {
                    self.walk(a, env, None);
                }
            }
            Expr::IsNone(x, negated) => {
                if let Some(p) = pol {
                    let wants_none = p != *negated;
                    for path in self.paths(x, env, 0) {
                        self.none.entry(norm(&path)).or_insert(wants_none);
                    }
                }
                self.walk(x, env, None)
            }
            Expr::Otherwise(a, b) => {
                self.walk(a, env, pol);
                self.walk(b, env, pol);
            }
            Expr::If(c, a, b) => {
                self.walk(c, env, None);
                self.walk(a, env, pol);
                self.walk(b, env, pol);
            }
            Expr::Cases(arms, default) => {
                for (c, v) in arms {
                    self.walk(c, env, None);
                    self.walk(v, env, pol);
                }
                if let Some(d) = default {
                    self.walk(d, env, pol);
                }
            }
            // Everything else says nothing about the values wanted itself: its operands
            // may, whatever kind of expression holds them.
            _ => e.for_each_child(&mut |x| self.walk(x, env, None)),
        }
    }

    /// `x [not] in {a, b}`: the members where membership is wanted, and (for an enum)
    /// the enum's other values where it is not.
    fn in_set(
        &mut self,
        x: &'r Expr,
        items: &'r [Expr],
        negated: bool,
        env: &Env<'r>,
        pol: Option<bool>,
    ) {
        let p = self.paths(x, env, 0);
        let members: Vec<Value> = items.iter().filter_map(|it| self.constant(it)).collect();
        let want_member = pol.map(|b| b != negated);
        let mut vals = vec![];
        if want_member != Some(false) {
            vals.extend(members.iter().cloned());
        }
        if want_member != Some(true) {
            // the enum's other values
            if let Some(Value::Enum(e, _)) = members.first() {
                let n = self
                    .rules
                    .schema
                    .enums
                    .get(usize::from(*e))
                    .map_or(0, |d| d.values.len());
                for i in 0..n {
                    let v = Value::Enum(*e, u16::try_from(i).unwrap_or(0));
                    if !members.contains(&v) {
                        vals.push(v);
                    }
                }
            }
        }
        self.add(&p, &vals);
    }

    /// `x in lo..hi`: each end and its neighbours; for `age(birth) in lo..hi`, the birth
    /// dates around each end.
    fn in_range(&mut self, x: &'r Expr, lo: &'r Expr, hi: &'r Expr, env: &Env<'r>) {
        let p = self.paths(x, env, 0);
        let mut vals = vec![];
        for (b, up) in [(lo, false), (hi, true)] {
            let Some(v) = self.constant(b) else {
                continue;
            };
            vals.push(v.clone());
            vals.extend(step(&v, up, 1));
            vals.extend(step(&v, !up, 1));
            if let (Some(ap), Some(n)) = (self.age_of(x, env), v.as_decimal()) {
                if let Ok(n) = i64::try_from(n.trunc()) {
                    let k = if up { n.saturating_add(1) } else { n };
                    let months = k.saturating_mul(-12);
                    self.add_rel(
                        &ap,
                        &[
                            RelDate { months, days: 0 },
                            RelDate { months, days: 1 },
                            RelDate { months, days: -1 },
                        ],
                    );
                }
            }
        }
        self.add(&p, &vals);
    }

    /// `match s { ... }`: the patterns' constants for the matched value; each arm's value
    /// with the match's polarity.
    fn match_arms(
        &mut self,
        s: &'r Expr,
        arms: &'r [(Vec<Pat>, Expr)],
        env: &mut Env<'r>,
        pol: Option<bool>,
    ) {
        let p = self.paths(s, env, 0);
        for (pats, v) in arms {
            for pat in pats {
                match pat {
                    Pat::Eq(x) => {
                        if let Some(c) = self.constant(x) {
                            self.add(&p, &[c]);
                        }
                    }
                    Pat::Range(lo, hi) => {
                        for b in [lo, hi] {
                            if let Some(c) = self.constant(b) {
                                self.add(&p, &[c]);
                            }
                        }
                    }
                    Pat::Any => {}
                }
            }
            self.walk(v, env, pol);
        }
        self.walk(s, env, None);
    }

    /// A quantifier or aggregate (`e` is an [`Expr::Quant`]): the item variable stands
    /// for the list's paths while the filter and body are walked, with the polarity the
    /// quantifier gives them; the lists a chosen item comes from are noted.
    fn quantified(&mut self, e: &'r Expr, env: &mut Env<'r>, pol: Option<bool>) {
        use crate::syntax::ast::Quantifier as Q;
        let flip = |p: Option<bool>| p.map(|b| !b);
        let Expr::Quant {
            quantifier,
            var,
            list,
            filter,
            body,
            ..
        } = e
        else {
            return;
        };
        self.walk(list, env, None);
        let items = self.paths(list, env, 0);
        if matches!(quantifier, Q::The | Q::Latest | Q::Earliest)
            || (*quantifier == Q::Any && pol == Some(true))
        {
            for p in &items {
                self.items.insert(norm(p));
            }
        }
        if env.locals.len() <= *var {
            env.locals.resize(var.saturating_add(1), vec![]);
        }
        let saved = env
            .locals
            .get_mut(*var)
            .map(|slot| std::mem::replace(slot, items));
        let (fp, bp) = match quantifier {
            Q::Any | Q::All => (pol, pol),
            Q::No => (flip(pol), flip(pol)),
            Q::The | Q::Latest | Q::Earliest => (Some(true), None),
            _ => (None, None),
        };
        if let Some(f) = filter {
            self.walk(f, env, fp);
        }
        if let Some(b) = body {
            self.walk(b, env, bp);
        }
        if let (Some(slot), Some(saved)) = (env.locals.get_mut(*var), saved) {
            *slot = saved;
        }
    }

    /// A call of user function `f`: its parameters stand for the arguments' paths while
    /// its definitions and body are walked (nested at most 8 deep).
    fn function_call(&mut self, f: usize, args: &'r [Expr], env: &mut Env<'r>, pol: Option<bool>) {
        for a in args {
            self.walk(a, env, None);
        }
        if self.depth > 8 {
            return;
        }
        let rules = self.rules;
        let Some(def) = rules.program.functions.get(f) else {
            return;
        };
        let mut inner = Env {
            id: usize::MAX - f,
            locals: vec![vec![]; def.locals.max(args.len())],
            lets: &def.lets,
        };
        for (slot, a) in inner.locals.iter_mut().zip(args) {
            *slot = self.paths(a, env, 0);
        }
        self.depth += 1;
        for l in &def.lets {
            self.walk(&l.value, &mut inner, None);
        }
        self.walk(&def.body, &mut inner, pol);
        self.depth -= 1;
    }

    /// A use `e` of definition `i`: its value is walked once per polarity; a yes/no
    /// definition used as a condition gives its paths the wanted truth value.
    fn let_ref(&mut self, e: &'r Expr, i: usize, env: &mut Env<'r>, pol: Option<bool>) {
        let key = (env.id, i, pol);
        if self.depth <= 8 && self.seen_lets.insert(key) {
            if let Some(l) = env.lets.get(i) {
                self.depth += 1;
                self.walk(&l.value, env, pol);
                self.depth -= 1;
            }
        }
        if let Some(b) = pol {
            let p = self.paths(e, env, 0);
            self.add(&p, &[Value::Bool(b)]);
        }
    }

    /// `within_last(d, K unit)`: dates at `ref`, at `ref − K` and the day before.
    fn within_last(&mut self, xs: &'r [Expr], env: &Env<'r>) {
        let (Some(d), Some(Expr::Duration(n, u))) = (xs.first(), xs.get(1)) else {
            return;
        };
        let p = self.paths(d, env, 0);
        let back = match u {
            crate::ir::DateUnit::Days => RelDate {
                months: 0,
                days: n.saturating_neg(),
            },
            crate::ir::DateUnit::Months => RelDate {
                months: n.saturating_neg(),
                days: 0,
            },
            crate::ir::DateUnit::Years => RelDate {
                months: n.saturating_mul(-12),
                days: 0,
            },
        };
        self.add_rel(
            &p,
            &[
                RelDate { months: 0, days: 0 },
                back,
                RelDate {
                    days: back.days.saturating_sub(1),
                    ..back
                },
            ],
        );
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
    let mut out = vec![];
    let Some(s) = schema.subjects.get(subject) else {
        return out;
    };
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
    let Some(def) = schema.record(rec) else {
        return;
    };
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
                let record = match &**inner {
                    FieldType::Record(r) => schema.record(*r).map(|d| (r, d)),
                    _ => None,
                };
                if let Some((r, idef)) = record {
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
        .and_then(|k| def.field(k))
        .and_then(|f| item.get(&f.name))
        .and_then(|k| match k {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| n.to_string())
}

/// The definition of the field a missing-field entry names (`None` when the entry is
/// not from this schema).
pub fn field_def<'s>(schema: &'s Schema, m: &MissingField) -> Option<&'s FieldDef> {
    schema.record(m.field.0)?.field(m.field.1)
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
                Json::Array(items) => match items.get_mut(*i) {
                    Some(item) => item,
                    None => return,
                },
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
    let s = schema
        .subjects
        .get(subject)
        .ok_or_else(|| format!("no subject kind number {subject} in the schema"))?;
    let mut steps = vec![];
    let mut rec = s.root;
    let mut cur = Some(record);
    if let Some(i) = s.paths_from {
        let f = schema
            .record(rec)
            .and_then(|d| d.field(i))
            .ok_or("the subject's path root is not a field")?;
        steps.push(Step::Key(f.name.clone()));
        cur = cur.and_then(|c| c.get(&f.name));
        match &f.ty {
            FieldType::Record(r) => rec = *r,
            _ => return Err("the subject's path root is not a record".into()),
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let (name, item) = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((name, item)) => (name, Some(item)),
            None => (*part, None),
        };
        let def = schema
            .record(rec)
            .ok_or_else(|| format!("`{path}`: no record type {rec} in the schema"))?;
        let (_, f) = def
            .field_named(name)
            .ok_or_else(|| format!("`{path}`: `{name}` is not a field of `{}`", def.path))?;
        steps.push(Step::Key(name.to_string()));
        cur = cur.and_then(|c| c.get(name));
        let last = n + 1 == parts.len();
        match (&f.ty, item) {
            (FieldType::Record(r), None) => rec = *r,
            (FieldType::List(inner), Some(id)) => {
                let FieldType::Record(r) = &**inner else {
                    return Err(format!("`{path}`: `{name}` is not a list of records"));
                };
                let idef = schema
                    .record(*r)
                    .ok_or_else(|| format!("`{path}`: no record type {r} in the schema"))?;
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
    use proptest::strategy::ValueTree;

    fn schema() -> Schema {
        Schema::from_yaml(include_str!("../../rules/schema.yaml")).expect("schema")
    }

    fn subject(schema: &Schema, name: &str) -> usize {
        schema
            .subjects
            .iter()
            .position(|s| s.name == name)
            .expect("subject")
    }

    #[test]
    fn a_scale_s_thresholds_are_hints_for_the_amount_it_is_applied_to() {
        let rules = crate::load::check_sources(
            schema(),
            include_str!("../../rules/schema.yaml"),
            vec![(
                std::path::PathBuf::from("scale.rules"),
                "scale T \"t\" {\n  from 2020-01-01: 0 → 0.03, 3000 → 0.10\n}\npolicy p \"p\" {\n  subject person\n  mode no_application\n  effective 2020-01-01 to 2020-12-31\n  C1 \"t\": marginal(T, housing_fund.balance) > 5\n}\n"
                    .into(),
            )],
        )
        .rules
        .expect("the rules check");
        let c = Constraints::new().with_hints_from(&rules);
        let hints = c
            .hints
            .get("housing_fund.balance")
            .cloned()
            .unwrap_or_default();
        for v in ["0", "3000", "2999.99", "3000.01"] {
            let want = Value::Decimal(v.parse().expect("a number"));
            assert!(hints.contains(&want), "{v} in {hints:?}");
        }
    }

    #[test]
    fn norm_drops_item_parts() {
        assert_eq!(
            norm("household.members[K1].birth_date"),
            "household.members.birth_date"
        );
        assert_eq!(norm("hires[].birth_date"), "hires.birth_date");
    }

    #[test]
    fn paths_of_missing_fields_are_the_evaluators() {
        let schema = schema();
        let person = subject(&schema, "person");
        let rec = serde_json::json!({
            "person": {"id": "P1"},
            "household": {"members": [{"person_id": "K1", "relationship": "child"}]}
        });
        let gaps: Vec<String> = missing_fields(&schema, person, &rec)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert!(gaps.contains(&"person.birth_date".to_string()));
        assert!(gaps.contains(&"household.members[K1].birth_date".to_string()));
        assert!(gaps.contains(&"household.members[K1].monthly_income".to_string()));
        assert!(gaps.contains(&"social_insurance.unemployment.months_total".to_string()));
        // optional and defaulted fields are never missing
        assert!(!gaps.iter().any(|g| g.contains("disability")));
        assert!(!gaps.contains(&"person.alive".to_string()));

        let ent = subject(&schema, "enterprise");
        let rec = serde_json::json!({"enterprise": {"id": "E1", "hires": [{"id": "H2"}]}});
        let gaps: Vec<String> = missing_fields(&schema, ent, &rec)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert!(gaps.contains(&"hires[H2].birth_date".to_string()));
        assert!(gaps.contains(&"prev_year.avg_insured".to_string()));
    }

    #[test]
    fn set_and_get_by_reported_path() {
        let schema = schema();
        let person = subject(&schema, "person");
        let mut rec = serde_json::json!({
            "household": {"members": [{"person_id": "K1"}, {"person_id": "K2"}]}
        });
        set_path(
            &schema,
            person,
            &mut rec,
            "household.members[K2].birth_date",
            Json::from("2024-03-01"),
        )
        .unwrap();
        set_path(
            &schema,
            person,
            &mut rec,
            "social_insurance.unemployment.months_total",
            Json::from(40),
        )
        .unwrap();
        assert_eq!(rec["household"]["members"][1]["birth_date"], "2024-03-01");
        assert_eq!(rec["social_insurance"]["unemployment"]["months_total"], 40);
        assert_eq!(
            get_path(&schema, person, &rec, "household.members[K2].birth_date").unwrap(),
            Some(&Json::from("2024-03-01"))
        );
        assert_eq!(
            get_path(&schema, person, &rec, "person.birth_date").unwrap(),
            None
        );
        assert!(set_path(
            &schema,
            person,
            &mut rec,
            "household.members[K9].birth_date",
            Json::Null
        )
        .is_err());
        assert!(set_path(
            &schema,
            person,
            &mut rec,
            "person.no_such_field",
            Json::Null
        )
        .is_err());

        let ent = subject(&schema, "enterprise");
        let mut rec = serde_json::json!({"enterprise": {"hires": [{"id": "H1"}, {"id": "H2"}]}});
        set_path(
            &schema,
            ent,
            &mut rec,
            "hires[H2].birth_date",
            Json::from("2000-01-01"),
        )
        .unwrap();
        assert_eq!(rec["enterprise"]["hires"][1]["birth_date"], "2000-01-01");
    }

    #[test]
    fn constraints_hold_and_generated_records_read() {
        let schema = schema();
        let person = subject(&schema, "person");
        let on = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        let c = Constraints::new()
            .aged("person.birth_date", 55, 70, on)
            .int_range(
                "social_insurance.employee_pension.contribution_months",
                100,
                300,
            )
            .fixed("person.hukou_region", Json::from("上海"))
            .items("household.members[]", 1, 2)
            .absent("disability");
        let s = record_strategy(&schema, person, &c);
        let mut runner = TestRunner::deterministic();
        for _ in 0..300 {
            let rec = s.new_tree(&mut runner).unwrap().current();
            crate::record::read_record(&schema, person, &rec).expect("a record the schema allows");
            let birth = NaiveDate::parse_from_str(
                rec["person"]["birth_date"].as_str().unwrap(),
                "%Y-%m-%d",
            )
            .unwrap();
            let age = crate::semantics::calendar::age(birth, on);
            assert!((55..=70).contains(&age), "age {age}");
            let m = rec["social_insurance"]["employee_pension"]["contribution_months"]
                .as_i64()
                .unwrap();
            assert!((100..=300).contains(&m));
            assert_eq!(rec["person"]["hukou_region"], "上海");
            let n = rec["household"]["members"].as_array().unwrap().len();
            assert!((1..=2).contains(&n));
            assert!(rec.get("disability").is_none());
        }
        assert!(Constraints::new()
            .present("person.no_such")
            .check(&schema, person)
            .is_err());
        assert!(Constraints::new()
            .present("hires[].birth_date")
            .check(&schema, subject(&schema, "enterprise"))
            .is_ok());
    }

    #[test]
    fn shrinking_drops_fields_first() {
        let schema = schema();
        let person = subject(&schema, "person");
        let s = record_strategy(
            &schema,
            person,
            &Constraints::new().present("person.birth_date"),
        );
        let mut runner = TestRunner::deterministic();
        let mut tree = s.new_tree(&mut runner).unwrap();
        // "fails" whenever the record has a birth date: shrink to the least such record
        let fails = |j: &Json| j["person"].get("birth_date").is_some();
        assert!(fails(&tree.current()));
        while tree.simplify() {
            if !fails(&tree.current()) && !tree.complicate() {
                break;
            }
        }
        let min = tree.current();
        assert!(fails(&min));
        let leaves = min.to_string().matches(':').count();
        assert!(leaves <= 4, "not minimal: {min}");
    }
}
