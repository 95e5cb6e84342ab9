//! Visit lists for grid workers (`mianshen run --visits-by PATH`): per subject with
//! undetermined decisions, the facts to collect — the missing fields of every
//! undetermined decision, merged across the policies and deduplicated, so that one
//! visit settles them all — with the policies each fact unlocks, and the near misses
//! worth telling the person about: one failed clause that can change, and that time
//! alone, if it is what makes the clause hold, makes hold within a year
//! ([`WORTH_TELLING_DAYS`]).
//!
//! A subject is on the list when at least one of its decisions is undetermined for
//! missing data (an evaluation error is a fault of the rules, not a fact to collect).
//! Lists are ordered by the decisions a visit settles, then by the amounts at stake,
//! then by subject id ([`order`]). The amount at stake of a policy is the amount its
//! undetermined decision would have, when the amount formula reads none of the missing
//! facts ([`crate::eval::EvalOptions::pending_amounts`]); an amount that depends on the
//! missing facts is not computable before the visit, and is left empty. A visit's
//! amount at stake is the sum of the known amounts of its policies, whatever their
//! periods (a monthly and a one-time amount add up as numbers: an ordering key, not a
//! sum of money).
//!
//! What the list shows of the record: the subject's id, the group, and the fields the
//! schema marks `contact: true` (what the worker needs to find the person: a name, an
//! address), shown in full even when `sensitive: true`. No other value of the record is
//! shown: facts are named by path, and near misses show no value derived from a
//! sensitive field ([`crate::reach::explain_failed`]).

use crate::compile::RuleSet;
use crate::escape::html as esc;
use crate::eval::{self, Outcome};
use crate::messages::{text, Lang};
use crate::record::Record;
use crate::schema::{FieldDef, FieldType, Schema};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A near miss that time alone resolves is on the list when it resolves within this
/// many days of the reference date.
pub const WORTH_TELLING_DAYS: u64 = 366;

/// One subject to visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// The value of the grouping field (`person.grid`), `None` when the record has none.
    pub group: Option<String>,
    /// The subject's id.
    pub subject: String,
    /// The schema's `contact: true` fields the record has: (path, value), unmasked.
    pub contact: Vec<(String, String)>,
    /// The undetermined decisions (for missing data) the visit settles.
    pub decisions: usize,
    /// The sum of the known amounts at stake (two places), `None` when none is known.
    pub at_stake: Option<String>,
    /// The facts to collect, by path, each once.
    pub facts: Vec<VisitFact>,
    /// Near misses worth telling about: policies failed on one clause that can change.
    pub near: Vec<VisitNear>,
}

/// A fact to collect: a missing field of the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitFact {
    /// The missing path (list items by their key: `household.members[M1].income`).
    pub path: String,
    /// The policies whose undetermined decision it is missing in, with the amount at
    /// stake when known.
    pub unlocks: Vec<VisitStake>,
}

/// A policy a fact unlocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitStake {
    /// The policy's id.
    pub policy: String,
    /// The amount of the decision (two places), when computable before the visit.
    pub amount: Option<String>,
}

/// A near miss on a visit list: the policy and its one failed clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitNear {
    /// The policy's id.
    pub policy: String,
    /// The failed clause's label.
    pub clause: String,
    /// The record's value (none when derived from a sensitive field or not one value).
    pub actual: Option<String>,
    /// The value it must reach.
    pub threshold: Option<String>,
    /// The change that makes the clause hold.
    pub gap: Option<String>,
    /// The day from which it holds as time passes.
    pub on: Option<String>,
}

/// The value at a dotted path of a record as JSON (`person.grid`); a subject kind whose
/// paths are relative to a top-level key is looked up under it too.
pub fn json_at<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let mut at = value;
    for key in path.split('.') {
        at = at.as_object()?.get(key)?;
    }
    Some(at)
}

/// A scalar JSON value as text (`None` for null, arrays and objects).
fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The field a dotted schema path names in subject kind `subject` (list items as
/// `[]` or with their key: `household.members[].income`).
pub fn schema_field<'s>(schema: &'s Schema, subject: usize, path: &str) -> Option<&'s FieldDef> {
    let root = schema.subjects.get(subject)?.root;
    let mut record = schema.record(root)?;
    let path = super::field_of(path);
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let name = part.strip_suffix("[]").unwrap_or(part);
        let (_, field) = record.field_named(name)?;
        if parts.peek().is_none() {
            return Some(field);
        }
        let mut ty = &field.ty;
        while let FieldType::List(inner) = ty {
            ty = inner;
        }
        match ty {
            FieldType::Record(id) => record = schema.record(*id)?,
            _ => return None,
        }
    }
    None
}

/// The paths of the fields of subject kind `subject` the schema marks `contact: true`,
/// outside lists, in schema order.
pub fn contact_paths(schema: &Schema, subject: usize) -> Vec<String> {
    fn walk(
        schema: &Schema,
        id: crate::schema::RecordId,
        prefix: &str,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        let Some(record) = schema.record(id) else {
            return;
        };
        for f in &record.fields {
            let path = if prefix.is_empty() {
                f.name.clone()
            } else {
                format!("{prefix}.{}", f.name)
            };
            match &f.ty {
                FieldType::Record(inner) if depth < 16 => {
                    walk(schema, *inner, &path, out, depth + 1)
                }
                FieldType::List(_) | FieldType::Record(_) => {}
                _ if f.contact => out.push(path),
                _ => {}
            }
        }
    }
    let mut out = vec![];
    if let Some(s) = schema.subjects.get(subject) {
        walk(schema, s.root, "", &mut out, 0);
    }
    out
}

/// The visit one subject needs, on date `on`: `None` when none of its decisions is
/// undetermined for missing data. `raw` is the record as JSON, for the group (the
/// value at path `by`) and the contact fields; without it they are left empty.
pub fn visit_plan(
    rules: &RuleSet,
    record: &Record,
    on: NaiveDate,
    options: eval::EvalOptions,
    raw: Option<&serde_json::Value>,
    by: Option<&str>,
) -> Option<Visit> {
    let subject = record.subject;
    let of_subject = rules
        .program
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.subject == subject)
        .map(|(i, _)| i);
    let options = eval::EvalOptions {
        pending_amounts: true,
        ..options
    };
    let decisions = eval::evaluate_policies(rules, record, on, options, of_subject);
    let mut facts: BTreeMap<String, Vec<VisitStake>> = BTreeMap::new();
    let mut settled = 0;
    let mut total = rust_decimal::Decimal::ZERO;
    let mut any_amount = false;
    let mut near = vec![];
    let id = record.id.clone().unwrap_or_default();
    for (i, d) in &decisions {
        if d.outcome == Outcome::Undetermined && d.error.is_none() && !d.missing.is_empty() {
            settled += 1;
            let amount = d.amount.as_ref().map(|a| crate::value::money(a.value));
            if let Some(a) = amount {
                total += a;
                any_amount = true;
            }
            let mut paths: Vec<&String> = d.missing.iter().collect();
            paths.sort();
            paths.dedup();
            for p in paths {
                facts.entry(p.clone()).or_default().push(VisitStake {
                    policy: d.policy.clone(),
                    amount: amount.map(|a| a.to_string()),
                });
            }
        } else if let Some(m) = super::near_miss(rules, *i, record, on, d, 1, &id) {
            // Worth telling: a clause that can change, and, when time alone makes it
            // hold, within a year (an age reached in ten years is no news for a visit).
            let soon = on.checked_add_days(chrono::Days::new(WORTH_TELLING_DAYS));
            let worth = |f: &super::Miss| f.changeable && f.on.is_none_or(|d| Some(d) <= soon);
            for f in m.failed.into_iter().filter(worth) {
                near.push(VisitNear {
                    policy: m.policy.clone(),
                    clause: f.label,
                    actual: f.actual,
                    threshold: f.threshold,
                    gap: f.gap,
                    on: f.on.map(|d| d.to_string()),
                });
            }
        }
    }
    if settled == 0 {
        return None;
    }
    let schema = &rules.schema;
    let group = match (raw, by) {
        (Some(raw), Some(by)) => json_at(raw, by).and_then(scalar_text),
        _ => None,
    };
    let contact = match raw {
        Some(raw) => contact_paths(schema, subject)
            .into_iter()
            .filter_map(|p| {
                let v = json_at(raw, &p).and_then(scalar_text)?;
                Some((p, v))
            })
            .collect(),
        None => vec![],
    };
    Some(Visit {
        group,
        subject: id,
        contact,
        decisions: settled,
        at_stake: any_amount.then(|| crate::value::money(total).to_string()),
        facts: facts
            .into_iter()
            .map(|(path, unlocks)| VisitFact { path, unlocks })
            .collect(),
        near,
    })
}

/// The amount at stake as a number, for ordering.
fn stake(v: &Visit) -> rust_decimal::Decimal {
    v.at_stake
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// Orders a list: the most decisions settled first, then the largest amount at stake,
/// then by subject id.
pub fn order(visits: &mut [Visit]) {
    visits.sort_by(|a, b| {
        b.decisions
            .cmp(&a.decisions)
            .then_with(|| stake(b).cmp(&stake(a)))
            .then_with(|| a.subject.cmp(&b.subject))
    });
}

/// The file name (without extension) of a group's lists: letters, digits, `-` and `_`
/// kept, any other character (and a leading `_`) percent-encoded as UTF-8 bytes, so
/// that different groups never share a name; records without the field: `_none`.
pub fn group_file_name(group: Option<&str>) -> String {
    let Some(g) = group else {
        return "_none".into();
    };
    let mut out = String::new();
    for (i, c) in g.chars().enumerate() {
        if c.is_alphanumeric() && !crate::escape::is_dangerous(c) || c == '-' || (c == '_' && i > 0)
        {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    if out.is_empty() {
        out.push_str("_empty");
    }
    out
}

/// The CSV columns before the contact fields.
const CSV_HEAD: [&str; 2] = ["order", "subject"];
/// The CSV columns after them.
const CSV_TAIL: [&str; 6] = [
    "decisions",
    "at_stake",
    "fact",
    "unlocks",
    "amounts",
    "near_misses",
];

/// A CSV cell: quoted when it holds a comma, a quote or a line break; a cell a
/// spreadsheet would read as a formula is prefixed with `'`.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A near miss in one line: `policy: clause (actual → threshold, gap)`.
fn near_text(n: &VisitNear) -> String {
    let mut s = format!("{}: {}", n.policy, n.clause);
    if let (Some(a), Some(t)) = (&n.actual, &n.threshold) {
        let _ = write!(s, " ({a} → {t}");
        if let Some(g) = &n.gap {
            let _ = write!(s, ", {g}");
        }
        s.push(')');
    }
    if let Some(on) = &n.on {
        let _ = write!(s, " [{on}]");
    }
    s
}

/// A group's list as CSV, the visits in order: one row per fact to collect (the
/// subject's columns repeated), the columns `order, subject`, the contact paths,
/// `decisions, at_stake, fact, unlocks, amounts, near_misses` (policies and amounts
/// joined by `;`, an unknown amount empty; near misses joined by `; `).
pub fn render_csv(contact: &[String], visits: &[Visit]) -> String {
    let mut out = String::new();
    let head: Vec<String> = CSV_HEAD
        .iter()
        .map(|s| s.to_string())
        .chain(contact.iter().cloned())
        .chain(CSV_TAIL.iter().map(|s| s.to_string()))
        .map(|h| cell(&h))
        .collect();
    out.push_str(&head.join(","));
    out.push('\n');
    for (n, v) in visits.iter().enumerate() {
        let near: Vec<String> = v.near.iter().map(near_text).collect();
        for f in &v.facts {
            let mut row = vec![(n + 1).to_string(), v.subject.clone()];
            for c in contact {
                let value = v
                    .contact
                    .iter()
                    .find(|(p, _)| p == c)
                    .map(|(_, x)| x.clone());
                row.push(value.unwrap_or_default());
            }
            row.push(v.decisions.to_string());
            row.push(v.at_stake.clone().unwrap_or_default());
            row.push(f.path.clone());
            row.push(
                f.unlocks
                    .iter()
                    .map(|s| s.policy.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
            );
            row.push(
                f.unlocks
                    .iter()
                    .map(|s| s.amount.as_deref().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(";"),
            );
            row.push(near.join("; "));
            let row: Vec<String> = row.iter().map(|c| cell(c)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#111;font-size:11pt}\
h1{font-size:1.4em;margin:0 0 .2em}.meta{color:#444;margin:0 0 1em}\
.visit{border:1px solid #999;padding:.5em .8em;margin:0 0 1em;page-break-inside:avoid;break-inside:avoid}\
.visit h2{font-size:1.1em;margin:0 0 .3em}.contact{margin:0 0 .4em}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:.2em .4em;text-align:left;vertical-align:top}\
th{background:#eee}td.v{width:25%}ul{margin:.3em 0 0 1.2em;padding:0}\
@media print{body{margin:0}.visit{border-color:#000}}";

/// The label of a schema path: the field's `doc:` text and the path.
fn field_label(rules: &RuleSet, path: &str) -> String {
    let schema = &rules.schema;
    let doc = (0..schema.subjects.len())
        .find_map(|s| schema_field(schema, s, path))
        .and_then(|f| f.doc.clone());
    match doc {
        Some(d) => format!("{d} ({path})"),
        None => path.to_string(),
    }
}

fn policy_label(rules: &RuleSet, id: &str) -> String {
    match rules.policy_def(id) {
        Some(p) if !p.title.is_empty() => format!("{} ({id})", p.title),
        _ => id.to_string(),
    }
}

/// A group's list as one printable, self-contained HTML page (inline style, no script,
/// nothing loaded from elsewhere, every text escaped), its fixed words in `lang`.
pub fn render_html(
    rules: &RuleSet,
    group: Option<&str>,
    on: NaiveDate,
    visits: &[Visit],
    lang: Lang,
) -> String {
    let group_text = match group {
        Some(g) => g.to_string(),
        None => text(lang, "visits--no-group", &[]),
    };
    let title = text(lang, "visits--title", &[("group", &group_text)]);
    let mut h = String::new();
    let html_lang = match lang {
        Lang::Zh => "zh-CN",
        Lang::En => "en",
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{html_lang}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let meta = text(
        lang,
        "visits--meta",
        &[
            ("date", &on.to_string()),
            ("version", &rules.version),
            ("subjects", &visits.len().to_string()),
        ],
    );
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", esc(&meta));
    let (fact_h, unlocks_h, amount_h, value_h) = (
        text(lang, "visits--fact", &[]),
        text(lang, "visits--unlocks", &[]),
        text(lang, "visits--amount", &[]),
        text(lang, "visits--value", &[]),
    );
    for (n, v) in visits.iter().enumerate() {
        let settles = text(
            lang,
            "visits--settles",
            &[("decisions", &v.decisions.to_string())],
        );
        let _ = write!(
            h,
            "<section class=\"visit\">\n<h2>{}. {} <small>· {}</small></h2>\n",
            n + 1,
            esc(&v.subject),
            esc(&settles)
        );
        if let Some(a) = &v.at_stake {
            let _ = writeln!(
                h,
                "<p class=\"contact\">{}</p>",
                esc(&text(lang, "visits--at-stake", &[("amount", a)]))
            );
        }
        if !v.contact.is_empty() {
            h.push_str("<p class=\"contact\">");
            for (i, (p, value)) in v.contact.iter().enumerate() {
                if i > 0 {
                    h.push_str(" · ");
                }
                let _ = write!(h, "{}: <b>{}</b>", esc(&field_label(rules, p)), esc(value));
            }
            h.push_str("</p>\n");
        }
        let _ = writeln!(
            h,
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            esc(&fact_h),
            esc(&unlocks_h),
            esc(&amount_h),
            esc(&value_h)
        );
        for f in &v.facts {
            let unlocks: Vec<String> = f
                .unlocks
                .iter()
                .map(|s| esc(&policy_label(rules, &s.policy)))
                .collect();
            let amounts: Vec<String> = f
                .unlocks
                .iter()
                .map(|s| esc(s.amount.as_deref().unwrap_or("—")))
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"v\"></td></tr>",
                esc(&field_label(rules, &f.path)),
                unlocks.join("<br>"),
                amounts.join("<br>")
            );
        }
        h.push_str("</table>\n");
        if !v.near.is_empty() {
            let _ = write!(
                h,
                "<p>{}</p>\n<ul>\n",
                esc(&text(lang, "visits--near", &[]))
            );
            for m in &v.near {
                let mut line = format!("{}: {}", policy_label(rules, &m.policy), m.clause);
                if let (Some(a), Some(t)) = (&m.actual, &m.threshold) {
                    let _ = write!(line, " ({a} → {t}");
                    if let Some(g) = &m.gap {
                        let _ = write!(line, ", {g}");
                    }
                    line.push(')');
                }
                if let Some(on) = &m.on {
                    line.push_str(&text(lang, "visits--from", &[("date", on)]));
                }
                let _ = writeln!(h, "<li>{}</li>", esc(&line));
            }
            h.push_str("</ul>\n");
        }
        h.push_str("</section>\n");
    }
    if visits.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(&text(lang, "visits--empty", &[])));
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_safe_and_distinct() {
        assert_eq!(group_file_name(None), "_none");
        assert_eq!(group_file_name(Some("_none")), "%5Fnone");
        assert_eq!(group_file_name(Some("四平-3_a")), "四平-3_a");
        assert_eq!(group_file_name(Some("../x")), "%2E%2E%2Fx");
        assert_eq!(group_file_name(Some("")), "_empty");
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("-5"), "-5");
    }
}
