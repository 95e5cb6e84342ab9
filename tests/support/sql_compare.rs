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
