//! Boundary cases that would kill surviving mutants.
//!
//! For a surviving mutant and a policy, the existing example cases of the policy are
//! the starting points: one thing of a case at a time — its reference date, or one
//! field of its record — is moved onto the boundary the mutant shifts (the day before
//! and the day of a date, a threshold and the value next to it, the dates a number of
//! years or months away from another date of the record, the member a set lost, the
//! other truth value), until the rule set and the mutant decide the policy
//! differently. The case is written with the decision the rule set gives there, next
//! to the case on the other side of the boundary, in the case-file layout; each one is
//! read back and run — it must pass on the rule set, and the first must fail on the
//! mutant — before it is proposed. Nothing is written to the rules directory: the
//! author checks the expected decision against the policy text and pastes the case.

use super::{Mutant, RunOptions, Sources, Suite};
use crate::compile::RuleSet;
use crate::eval::{self, Decision};
use crate::record;
use crate::schema::{FieldType, RecordId, Schema};
use crate::testing::properties::to_yaml;
use crate::testing::{compare, decision_json, run_case_with, Case, CaseFile};
use chrono::{Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::str::FromStr;

/// A proposed example case.
#[derive(Debug, Clone)]
pub struct SuggestedCase {
    /// Its id (the case it was made from, and the mutant).
    pub id: String,
    /// Whether it fails on the mutant (the other is the case across the boundary).
    pub kills: bool,
    /// Its reference date, record and expectations (not its id or title), to tell
    /// the same case proposed for several mutants.
    pub content: String,
    /// The case in the case-file layout, with the decision's trace as comments, ready
    /// to paste under `cases:`.
    pub yaml: String,
}

/// The cases proposed for one surviving mutant.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The mutant.
    pub mutant: Mutant,
    /// What the boundary case shows, in words.
    pub summary: String,
    /// The proposed cases: the one that kills the mutant first; empty when none was
    /// found.
    pub cases: Vec<SuggestedCase>,
}

/// A place in a record: keys and list positions.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// One thing of a case that can be moved: the reference date, or a field.
#[derive(Debug, Clone)]
enum Dim {
    Ref,
    Field(Vec<Seg>, FieldType),
}

/// A starting case, read.
struct Base<'a> {
    case: &'a Case,
    subject: usize,
    date: NaiveDate,
    json: Json,
}

/// Proposes, for each mutant, boundary cases of `policy` that would kill it.
/// `rules` is the rule set as it is; mutants that cannot be told apart through this
/// policy from its cases get a [`Suggestion`] without cases.
pub fn suggest(
    sources: &Sources,
    rules: &RuleSet,
    suite: &Suite,
    policy: &str,
    mutants: &[Mutant],
    opts: &RunOptions,
) -> Vec<Suggestion> {
    use rayon::prelude::*;
    let bases: Vec<Base> = suite
        .cases
        .iter()
        .filter(|(_, c)| c.expected.keys().any(|k| k.as_str() == Some(policy)))
        .filter_map(|(_, c)| {
            let (date, subject, _) = super::super::prepare_case(rules, c, opts.read).ok()?;
            let json = record::yaml_to_json(&c.record);
            Some(Base {
                case: c,
                subject,
                date,
                json,
            })
        })
        .collect();
    mutants
        .par_iter()
        .map(|m| suggest_one(sources, rules, &bases, policy, m, opts))
        .collect()
}

fn suggest_one(
    sources: &Sources,
    rules: &RuleSet,
    bases: &[Base],
    policy: &str,
    m: &Mutant,
    opts: &RunOptions,
) -> Suggestion {
    let none = |summary: &str| Suggestion {
        mutant: m.clone(),
        summary: summary.to_string(),
        cases: vec![],
    };
    let checked = sources.check_mutant(m);
    let Some(mutant) = checked.rules.as_ref() else {
        return none("the mutant does not check");
    };
    // A number in a label shows in the trace only: the case states the trace's texts.
    let labels = m.category == super::Category::Label;
    for base in bases {
        let dims = dimensions(&rules.schema, base);
        for dim in &dims {
            for value in candidates(rules, policy, m, base, dim) {
                let Some((date, json)) = moved(base, dim, &value) else {
                    continue;
                };
                let Some(orig) = decide(rules, policy, base.subject, &json, date, opts) else {
                    continue;
                };
                let Some(mutd) = decide(mutant, policy, base.subject, &json, date, opts) else {
                    continue;
                };
                let expected = expected_block(&orig, labels);
                let mut diffs = vec![];
                compare(&expected, &decision_json(&mutd), policy, None, &mut diffs);
                if diffs.is_empty() {
                    continue;
                }
                // Found: this case and the one across the boundary of the rule set.
                let mut cases = vec![];
                let (what, title) = if labels {
                    let what = "the trace's texts as the policy words them".to_string();
                    let title = format!(
                        "{what} (case {} as it is): kills {} {}",
                        base.case.id,
                        m.id,
                        m.change()
                    );
                    (what, title)
                } else {
                    let what = describe(dim, &value);
                    let title = format!(
                        "{what} (case {} moved onto the boundary): kills {} {}",
                        base.case.id,
                        m.id,
                        m.change()
                    );
                    (what, title)
                };
                let killer = render_case(
                    rules,
                    base,
                    policy,
                    &format!("{}-{}", base.case.id, m.id),
                    &title,
                    date,
                    &json,
                    &orig,
                    labels,
                );
                let Some(killer) = verify(rules, mutant, killer, true, opts) else {
                    continue;
                };
                cases.push(killer);
                let across = if labels { vec![] } else { neighbours(&value) };
                for n in across {
                    let Some((d2, j2)) = moved(base, dim, &n) else {
                        continue;
                    };
                    let Some(o2) = decide(rules, policy, base.subject, &j2, d2, opts) else {
                        continue;
                    };
                    if expected_block(&o2, labels) == expected {
                        continue;
                    }
                    let other = render_case(
                        rules,
                        base,
                        policy,
                        &format!("{}-{}-other-side", base.case.id, m.id),
                        &format!(
                            "{} (the other side of the boundary of {})",
                            describe(dim, &n),
                            m.id
                        ),
                        d2,
                        &j2,
                        &o2,
                        labels,
                    );
                    if let Some(c) = verify(rules, mutant, other, false, opts) {
                        cases.push(c);
                        break;
                    }
                }
                let summary = if labels {
                    format!("{what}: the mutant's trace reads differently")
                } else {
                    format!(
                        "{what}: the rule set decides {}, the mutant {}",
                        brief(&orig),
                        brief(&mutd)
                    )
                };
                return Suggestion {
                    mutant: m.clone(),
                    summary,
                    cases,
                };
            }
        }
    }
    none("no case of this policy moved onto a boundary tells the mutant apart")
}

/// The decision of `policy` on a record, or `None` when the record cannot be read.
fn decide(
    rules: &RuleSet,
    policy: &str,
    subject: usize,
    json: &Json,
    date: NaiveDate,
    opts: &RunOptions,
) -> Option<Decision> {
    let pi = *rules.policy_index.get(policy)?;
    let (rec, _) = record::read_record_with(&rules.schema, subject, json, opts.read).ok()?;
    Some(eval::evaluate_policy(rules, pi, &rec, date, opts.eval))
}

/// What a case states of a decision: everything but the trace (and an error's text);
/// with `labels`, the texts of the trace too (the legal basis, each clause's label and
/// citation).
fn expected_block(d: &Decision, labels: bool) -> Json {
    let mut j = decision_json(d);
    if let Json::Object(m) = &mut j {
        m.shift_remove("policy");
        let trace = m.shift_remove("trace");
        strip_error(m);
        for (_, v) in m.iter_mut() {
            if let Json::Object(items) = v {
                for (_, it) in items.iter_mut() {
                    if let Json::Object(x) = it {
                        if x.contains_key("outcome") {
                            let t = x.shift_remove("trace");
                            strip_error(x);
                            if let (true, Some(t)) = (labels, t) {
                                x.insert("trace".into(), label_view(&t));
                            }
                        }
                    }
                }
            }
        }
        if let (true, Some(t)) = (labels, trace) {
            m.insert("trace".into(), label_view(&t));
        }
    }
    j
}

/// The texts of a trace: its basis, and each clause's id, label and citation.
fn label_view(trace: &Json) -> Json {
    let mut out = Map::new();
    if let Some(b) = trace.get("basis") {
        out.insert("basis".into(), b.clone());
    }
    let clauses: Vec<Json> = trace
        .get("clauses")
        .and_then(Json::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let mut x = Map::new();
                    for k in ["id", "label", "basis"] {
                        if let Some(v) = c.get(k) {
                            x.insert(k.into(), v.clone());
                        }
                    }
                    Json::Object(x)
                })
                .collect()
        })
        .unwrap_or_default();
    out.insert("clauses".into(), Json::Array(clauses));
    Json::Object(out)
}

fn strip_error(m: &mut Map<String, Json>) {
    if let Some(code) = m.get("error").and_then(|e| e.get("code")).cloned() {
        let mut e = Map::new();
        e.insert("code".into(), code);
        m.insert("error".into(), Json::Object(e));
    }
}

fn brief(d: &Decision) -> String {
    let mut s = d.outcome.as_str().to_string();
    if let Some(a) = &d.amount {
        s.push_str(&format!(" {}", crate::value::money(a.value)));
    }
    if !d.failed.is_empty() {
        s.push_str(&format!(" (failed {})", d.failed.join(", ")));
    }
    for (k, v) in &d.reports {
        let v = serde_json::to_value(v).unwrap_or(Json::Null);
        s.push_str(&format!(
            " ({k} {})",
            v.as_str().map_or_else(|| v.to_string(), str::to_string)
        ));
    }
    if let Some(e) = &d.error {
        s.push_str(&format!(" (error {})", e.kind.code()));
    }
    s
}

/// Every field of a case's record that can be moved (present, or absent from a
/// mapping the record has), and its reference date.
fn dimensions(schema: &Schema, base: &Base) -> Vec<Dim> {
    let mut out = vec![Dim::Ref];
    let Some(root) = schema.subjects.get(base.subject).map(|s| s.root) else {
        return out;
    };
    let mut stack: Vec<(Vec<Seg>, RecordId, &Json)> = vec![(vec![], root, &base.json)];
    while let Some((path, rid, v)) = stack.pop() {
        let (Some(def), Json::Object(map)) = (schema.record(rid), v) else {
            continue;
        };
        for f in &def.fields {
            let mut p = path.clone();
            p.push(Seg::Key(f.name.clone()));
            let here = map.get(&f.name);
            match (&f.ty, here) {
                (FieldType::Record(r), Some(x)) => stack.push((p, *r, x)),
                (FieldType::List(inner), Some(Json::Array(items))) => {
                    if let FieldType::Record(r) = &**inner {
                        for (i, it) in items.iter().enumerate() {
                            let mut q = p.clone();
                            q.push(Seg::Index(i));
                            stack.push((q, *r, it));
                        }
                    }
                }
                (FieldType::Record(_) | FieldType::List(_), None) => {}
                (FieldType::List(_), Some(_)) => {}
                (t, _) => out.push(Dim::Field(p, t.clone())),
            }
        }
    }
    // Fields in record order (the stack reverses them).
    let (r, mut f): (Vec<Dim>, Vec<Dim>) = out.into_iter().partition(|d| matches!(d, Dim::Ref));
    f.sort_by_key(|d| match d {
        Dim::Field(p, _) => format!("{p:?}"),
        Dim::Ref => String::new(),
    });
    r.into_iter().chain(f).collect()
}

fn get<'a>(json: &'a Json, path: &[Seg]) -> Option<&'a Json> {
    let mut v = json;
    for s in path {
        v = match s {
            Seg::Key(k) => v.get(k)?,
            Seg::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}

fn set(json: &mut Json, path: &[Seg], value: Json) -> Option<()> {
    let (last, init) = path.split_last()?;
    let mut v = json;
    for s in init {
        v = match s {
            Seg::Key(k) => v.get_mut(k)?,
            Seg::Index(i) => v.get_mut(*i)?,
        };
    }
    match last {
        Seg::Key(k) => {
            v.as_object_mut()?.insert(k.clone(), value);
        }
        Seg::Index(i) => *v.get_mut(*i)? = value,
    }
    Some(())
}

/// The case with one thing moved.
fn moved(base: &Base, dim: &Dim, value: &Json) -> Option<(NaiveDate, Json)> {
    match dim {
        Dim::Ref => Some((parse_date(value)?, base.json.clone())),
        Dim::Field(p, _) => {
            let mut j = base.json.clone();
            set(&mut j, p, value.clone())?;
            Some((base.date, j))
        }
    }
}

fn parse_date(v: &Json) -> Option<NaiveDate> {
    NaiveDate::from_str(v.as_str()?).ok()
}

fn date_json(d: NaiveDate) -> Json {
    Json::from(d.format("%Y-%m-%d").to_string())
}

fn path_text(p: &[Seg]) -> String {
    let mut s = String::new();
    for seg in p {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn describe(dim: &Dim, v: &Json) -> String {
    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    match dim {
        Dim::Ref => format!("reference_date {shown}"),
        Dim::Field(p, _) => format!("{} = {shown}", path_text(p)),
    }
}

/// Days around each date.
fn around(dates: &[NaiveDate]) -> Vec<NaiveDate> {
    let mut out = vec![];
    for d in dates {
        out.extend(d.checked_sub_days(Days::new(1)));
        out.push(*d);
        out.extend(d.checked_add_days(Days::new(1)));
    }
    out
}

/// The values to try for one thing of a case, for one mutant: boundaries first.
fn candidates(rules: &RuleSet, policy: &str, m: &Mutant, base: &Base, dim: &Dim) -> Vec<Json> {
    if m.category == super::Category::Label {
        // The case as it is: the trace's texts tell the mutant apart.
        return match dim {
            Dim::Ref => vec![date_json(base.date)],
            Dim::Field(..) => vec![],
        };
    }
    let h = &m.hints;
    let ints: Vec<i64> = h
        .numbers
        .iter()
        .filter(|n| n.fract().is_zero())
        .filter_map(rust_decimal::prelude::ToPrimitive::to_i64)
        .collect();
    // Dates of the case: the reference date and the record's dates.
    let mut case_dates = vec![base.date];
    collect_dates(&base.json, &mut case_dates);
    let shifted = |from: &[NaiveDate], sign: i64| -> Vec<NaiveDate> {
        let mut out = vec![];
        for d in from {
            for &n in &ints {
                let Ok(k) = u32::try_from(n) else { continue };
                let (y, mo) = (Months::new(k.saturating_mul(12)), Months::new(k));
                let moved = if sign < 0 {
                    [d.checked_sub_months(y), d.checked_sub_months(mo)]
                } else {
                    [d.checked_add_months(y), d.checked_add_months(mo)]
                };
                out.extend(moved.into_iter().flatten());
                out.extend(if sign < 0 {
                    d.checked_sub_days(Days::new(u64::from(k)))
                } else {
                    d.checked_add_days(Days::new(u64::from(k)))
                });
            }
        }
        out
    };
    let mut dates: Vec<NaiveDate> = vec![];
    let mut out: Vec<Json> = vec![];
    match dim {
        Dim::Ref => {
            dates.extend(around(&h.dates));
            if let Some((_, a, b)) = &h.param {
                dates.extend(around(&[*a, *b]));
            }
            if let Some(p) = rules.policy_def(policy) {
                dates.extend(around(&[p.from]));
                dates.extend(p.to.map(|t| around(&[t])).unwrap_or_default());
            }
            let record_dates: Vec<NaiveDate> = case_dates.iter().skip(1).copied().collect();
            dates.extend(around(&shifted(&record_dates, 1)));
        }
        Dim::Field(path, ty) => {
            let current = get(&base.json, path);
            match ty {
                FieldType::Bool => {
                    out.push(Json::Bool(
                        !current.and_then(Json::as_bool).unwrap_or(false),
                    ));
                    if current.is_none() {
                        out.push(Json::Bool(false));
                    }
                }
                FieldType::Enum(e) => {
                    if let Some(def) = rules.schema.enum_def(*e) {
                        let mut vals: Vec<&String> = def.values.iter().collect();
                        // The values the mutation is about first.
                        vals.sort_by_key(|v| !h.strings.contains(v));
                        out.extend(vals.into_iter().map(|v| Json::from(v.as_str())));
                    }
                }
                FieldType::String => {
                    out.extend(h.strings.iter().map(|s| Json::from(s.as_str())));
                }
                FieldType::Int => {
                    let cur = current.and_then(Json::as_i64);
                    let mut ns: Vec<i64> = vec![];
                    for &n in &ints {
                        ns.extend([n - 1, n, n + 1]);
                    }
                    if let Some(c) = cur {
                        ns.extend([c - 1, c + 1]);
                    }
                    ns.push(0);
                    out.extend(ns.into_iter().filter(|n| *n >= 0).map(Json::from));
                }
                FieldType::Decimal => {
                    let mut ds: Vec<Decimal> = vec![];
                    let cent = Decimal::new(1, 2);
                    for n in &h.numbers {
                        ds.extend([*n - cent, *n, *n + cent]);
                    }
                    if let Some(c) = current.and_then(|c| Decimal::from_str(&c.to_string()).ok()) {
                        ds.extend([c - cent, c + cent]);
                    }
                    out.extend(
                        ds.into_iter()
                            .filter(|d| !d.is_sign_negative())
                            .filter_map(|d| {
                                serde_json::from_str::<Json>(&d.normalize().to_string()).ok()
                            }),
                    );
                }
                FieldType::Date => {
                    dates.extend(around(&h.dates));
                    dates.extend(around(&shifted(&[base.date], -1)));
                    dates.extend(around(&case_dates));
                    if let Some(c) = current.and_then(parse_date) {
                        let others: Vec<NaiveDate> =
                            case_dates.iter().copied().filter(|d| *d != c).collect();
                        dates.extend(around(&shifted(&others, -1)));
                        dates.extend(around(&shifted(&others, 1)));
                    }
                }
                _ => {}
            }
            if let Some(c) = current {
                out.retain(|v| v != c);
            }
        }
    }
    let (lo, hi) = rules.schema.dates;
    for d in dates {
        let v = date_json(d);
        if d >= lo && d <= hi && !out.contains(&v) {
            out.push(v);
        }
    }
    if let (Dim::Ref, Some(cur)) = (dim, Some(date_json(base.date))) {
        out.retain(|v| *v != cur);
    }
    out
}

fn collect_dates(v: &Json, out: &mut Vec<NaiveDate>) {
    match v {
        Json::String(s) if s.len() == 10 => out.extend(NaiveDate::from_str(s).ok()),
        Json::Array(a) => a.iter().for_each(|x| collect_dates(x, out)),
        Json::Object(m) => m.values().for_each(|x| collect_dates(x, out)),
        _ => {}
    }
}

/// The values next to a boundary value: the day before and after, one less and more.
fn neighbours(v: &Json) -> Vec<Json> {
    if let Some(d) = parse_date(v) {
        return [
            d.checked_sub_days(Days::new(1)),
            d.checked_add_days(Days::new(1)),
        ]
        .into_iter()
        .flatten()
        .map(date_json)
        .collect();
    }
    if let Some(n) = v.as_i64() {
        return vec![Json::from(n - 1), Json::from(n + 1)];
    }
    if let Json::Number(n) = v {
        if let Ok(d) = Decimal::from_str(&n.to_string()) {
            let unit = Decimal::new(1, d.scale().max(2));
            return [d - unit, d + unit]
                .into_iter()
                .filter_map(|x| serde_json::from_str::<Json>(&x.normalize().to_string()).ok())
                .collect();
        }
    }
    vec![]
}

/// A case in the case-file layout, with the decision's trace as comments.
#[allow(clippy::too_many_arguments)]
fn render_case(
    rules: &RuleSet,
    base: &Base,
    policy: &str,
    id: &str,
    title: &str,
    date: NaiveDate,
    json: &Json,
    d: &Decision,
    labels: bool,
) -> SuggestedCase {
    let mut case = Map::new();
    case.insert("id".into(), Json::from(id));
    case.insert("title".into(), Json::from(title));
    case.insert("reference_date".into(), date_json(date));
    if let Some(s) = rules.schema.subjects.get(base.subject) {
        case.insert("subject".into(), Json::from(s.name.as_str()));
    }
    case.insert("record".into(), json.clone());
    let mut expected = Map::new();
    expected.insert(policy.to_string(), expected_block(d, labels));
    let expected_for_key = expected.clone();
    case.insert("expected".into(), Json::Object(expected));
    let mut yaml = indent(&to_yaml(&Json::Array(vec![Json::Object(case)])), 2);
    yaml.push_str("    # the rule set's decision (check it against the policy text):\n");
    for line in trace_lines(d) {
        yaml.push_str(&format!("    #   {line}\n"));
    }
    let content = format!("{date} {json} {}", Json::Object(expected_for_key));
    SuggestedCase {
        id: id.to_string(),
        kills: false,
        content,
        yaml,
    }
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// The trace of a decision, a line per clause.
pub fn trace_lines(d: &Decision) -> Vec<String> {
    let mut out = vec![format!("{} {}", d.policy, brief(d))];
    let clause_lines = |t: &eval::Trace, pad: &str, out: &mut Vec<String>| {
        for c in &t.clauses {
            let mark = c.value.mark();
            let facts: Vec<String> = c
                .facts
                .iter()
                .map(|f| format!("{} = {}", f.path, f.value))
                .collect();
            let mut line = format!("{pad}{mark} {} {}", c.id, c.label);
            if !facts.is_empty() {
                line.push_str(&format!("  [{}]", facts.join("; ")));
            }
            out.push(line);
        }
    };
    if let Some(t) = &d.trace {
        clause_lines(t, "", &mut out);
    }
    if let Some((key, items)) = &d.per_item {
        for (id, it) in items {
            let mut line = format!("{key} {id}: {}", it.outcome.as_str());
            if let Some(a) = &it.amount {
                line.push_str(&format!(" {}", crate::value::money(a.value)));
            }
            out.push(line);
            if let Some(t) = &it.trace {
                clause_lines(t, "  ", &mut out);
            }
        }
    }
    if let Some(e) = &d.error {
        out.push(format!(
            "error[{}] at {}: {}",
            e.kind.code(),
            e.at,
            e.message
        ));
    }
    out.into_iter().map(|l| l.replace('\n', " ")).collect()
}

/// Reads a proposed case back and runs it: it must pass on the rule set, and (when
/// `must_kill`) fail on the mutant.
fn verify(
    rules: &RuleSet,
    mutant: &RuleSet,
    mut c: SuggestedCase,
    must_kill: bool,
    opts: &RunOptions,
) -> Option<SuggestedCase> {
    let text: String = c
        .yaml
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let file: CaseFile = serde_yaml::from_str(&format!("cases:\n{text}")).ok()?;
    let case = file.cases.first()?;
    let here = Path::new("suggested.yaml");
    let on_rules = run_case_with(rules, here, case, opts.read, opts.eval);
    if !on_rules.failures.is_empty() {
        return None;
    }
    let on_mutant = run_case_with(mutant, here, case, opts.read, opts.eval);
    c.kills = !on_mutant.failures.is_empty();
    (c.kills || !must_kill).then_some(c)
}
