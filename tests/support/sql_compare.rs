//! The SQL backend's decisions held to the reference evaluator, record by record.

#![allow(dead_code)]

use chrono::NaiveDate;
use mianshen::{Decision, Outcome, RuleSet};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One decision as the `decisions` table states it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub outcome: String,
    pub amount: Option<Decimal>,
    pub failed: Vec<String>,
    pub missing: Vec<String>,
    pub error_clause: Option<String>,
    pub error_kind: Option<String>,
}

/// The row the evaluator's decision should give.
pub fn expected_row(d: &Decision) -> Row {
    let error = d.error.as_ref();
    let outcome = match (error, d.outcome) {
        (Some(_), _) => "error".to_string(),
        (None, o) => o.as_str().to_string(),
    };
    Row {
        amount: match d.outcome {
            Outcome::Eligible if error.is_none() => d.amount.as_ref().map(|a| a.value.normalize()),
            _ => None,
        },
        failed: if d.outcome == Outcome::NotEligible {
            d.failed.clone()
        } else {
            vec![]
        },
        missing: if d.outcome == Outcome::Undetermined && error.is_none() {
            d.missing.clone()
        } else {
            vec![]
        },
        error_clause: error.map(|e| e.at.clone()),
        error_kind: error.map(|e| e.kind.code().to_string()),
        outcome,
    }
}

fn texts(v: Option<&Json>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: Option<&Json>) -> Option<String> {
    v.and_then(|v| v.as_str()).map(str::to_string)
}

/// A row of the `decisions` table (as JSON: `row_to_json` or Spark's `toJSON`).
pub fn actual_row(j: &Json) -> Row {
    let outcome = text(j.get("outcome")).unwrap_or_default();
    let amount = j.get("amount").and_then(|a| match a {
        Json::Null => None,
        Json::String(s) => Decimal::from_str(s).ok(),
        other => Decimal::from_str(&other.to_string()).ok(),
    });
    Row {
        amount: amount.map(|a| a.normalize()),
        failed: if outcome == "not_eligible" {
            texts(j.get("failed"))
        } else {
            vec![]
        },
        missing: if outcome == "undetermined" {
            texts(j.get("missing"))
        } else {
            vec![]
        },
        error_clause: if outcome == "error" {
            text(j.get("error_clause"))
        } else {
            None
        },
        error_kind: if outcome == "error" {
            text(j.get("error_kind"))
        } else {
            None
        },
        outcome,
    }
}

/// The differences between the SQL's rows and the evaluator's decisions of `records`
/// on `date`, for the policies `compiled` (each difference a line).
pub fn differences(
    rules: &RuleSet,
    records: &[Json],
    date: NaiveDate,
    compiled: &[String],
    rows: &[Json],
) -> Vec<String> {
    let mut actual: BTreeMap<(String, String), Row> = BTreeMap::new();
    for r in rows {
        let key = (
            text(r.get("subject")).unwrap_or_default(),
            text(r.get("policy")).unwrap_or_default(),
        );
        actual.insert(key, actual_row(r));
    }
    let mut out = vec![];
    let mut seen = 0;
    for rec in records {
        let Ok(record) = rules.read_value(rec, None) else {
            continue;
        };
        let Some(id) = record.id.clone() else {
            continue;
        };
        for d in rules.decide(&record, date) {
            if !compiled.contains(&d.policy) {
                continue;
            }
            seen += 1;
            let want = expected_row(&d);
            match actual.get(&(id.clone(), d.policy.clone())) {
                None => out.push(format!("{id} {}: no row in the SQL's decisions", d.policy)),
                Some(got) if *got != want => out.push(format!(
                    "{id} {} on {date}:\n  eval: {want:?}\n  sql:  {got:?}",
                    d.policy
                )),
                Some(_) => {}
            }
        }
    }
    if seen != rows.len() {
        out.push(format!(
            "{} rows in the SQL's decisions, {seen} decisions expected",
            rows.len()
        ));
    }
    out
}

/// One line of `grants.jsonl` / `pushes.jsonl`, or one row of the `grants` / `pushes`
/// views, reduced to what both state: the reason (pushes), the amount with its unit
/// and period, and the missing field paths.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewLine {
    pub reason: Option<String>,
    pub amount: Option<Decimal>,
    pub unit: Option<String>,
    pub period: Option<String>,
    pub missing: Vec<String>,
}

fn decimal(v: Option<&Json>) -> Option<Decimal> {
    v.and_then(|a| match a {
        Json::Null => None,
        Json::String(s) => Decimal::from_str(s).ok(),
        other => Decimal::from_str(&other.to_string()).ok(),
    })
    .map(|d| d.normalize())
}

/// A line `mianshen run` wrote (`amount` as `{"value", "unit", "period"}`).
pub fn line_of_run(j: &Json) -> ViewLine {
    let amount = j.get("amount");
    ViewLine {
        reason: text(j.get("reason")),
        amount: decimal(amount.and_then(|a| a.get("value"))),
        unit: text(amount.and_then(|a| a.get("unit"))),
        period: text(amount.and_then(|a| a.get("period"))),
        missing: texts(j.get("missing")),
    }
}

/// A row of the `grants` or `pushes` view (`amount`, `unit`, `period` as columns;
/// unit and period only stated with an amount, as `run` writes them).
pub fn line_of_view(j: &Json) -> ViewLine {
    let amount = decimal(j.get("amount"));
    ViewLine {
        reason: text(j.get("reason")),
        unit: amount.and(text(j.get("unit"))),
        period: amount.and(text(j.get("period"))),
        amount,
        missing: texts(j.get("missing")),
    }
}

/// The differences between what `mianshen run` wrote to `what` (`grants` or
/// `pushes`), restricted to the `compiled` policies, and the rows of the view of the
/// same name (each difference a line).
pub fn view_differences(
    what: &str,
    run: &[Json],
    compiled: &[String],
    view: &[Json],
) -> Vec<String> {
    let key = |j: &Json| {
        (
            text(j.get("subject")).unwrap_or_default(),
            text(j.get("policy")).unwrap_or_default(),
        )
    };
    let mut want: BTreeMap<(String, String), ViewLine> = BTreeMap::new();
    for j in run {
        let k = key(j);
        if compiled.contains(&k.1) {
            want.insert(k, line_of_run(j));
        }
    }
    let mut got: BTreeMap<(String, String), ViewLine> = BTreeMap::new();
    let mut out = vec![];
    for j in view {
        if got.insert(key(j), line_of_view(j)).is_some() {
            out.push(format!("{what}: two rows for {:?}", key(j)));
        }
    }
    for (k, w) in &want {
        match got.get(k) {
            None => out.push(format!(
                "{what}: {} {}: written by run, not in the view\n  run: {w:?}",
                k.0, k.1
            )),
            Some(g) if g != w => out.push(format!(
                "{what}: {} {}:\n  run:  {w:?}\n  view: {g:?}",
                k.0, k.1
            )),
            Some(_) => {}
        }
    }
    for (k, g) in &got {
        if !want.contains_key(k) {
            out.push(format!(
                "{what}: {} {}: in the view, not written by run\n  view: {g:?}",
                k.0, k.1
            ));
        }
    }
    out
}
