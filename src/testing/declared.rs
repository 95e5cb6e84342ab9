//! The properties policy staff declare next to the rules (`property ...` in a policy):
//! amount bounds and monotonicity, checked on generated records with a fixed seed.
//!
//! A failure comes with the smallest record proptest could shrink it to, written as a
//! YAML record ready to paste into a case file, and the decision's trace.

use super::generate::{case_strategy, ref_date_strategy, Constraints};
use super::properties::to_yaml;
use crate::compile::RuleSet;
use crate::eval::{self, Decision, EvalOptions, Outcome};
use crate::ir::{PolicyDef, PropertyKind};
use crate::record;
use crate::syntax::ast::CmpOp;
use chrono::NaiveDate;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::str::FromStr;

/// The result of one property a policy declares (`property …`), checked on generated
/// records.
#[derive(Debug, Clone)]
pub struct DeclaredResult {
    /// The policy that declares it.
    pub policy: String,
    /// The property's name, unique within the policy.
    pub name: String,
    /// The property's label, as written in quotes.
    pub label: String,
    /// Generated cases that were tried.
    pub cases: u32,
    /// The shrunk counterexample, when the property fails.
    pub counterexample: Option<DeclaredCounterexample>,
}

/// A record on which a declared property does not hold.
#[derive(Debug, Clone)]
pub struct DeclaredCounterexample {
    /// What does not hold.
    pub message: String,
    /// The reference date.
    pub reference_date: NaiveDate,
    /// The subject kind of the record.
    pub subject: String,
    /// The record, as YAML in the case layout.
    pub record_yaml: String,
    /// The decision (with its trace) as JSON.
    pub decision: Json,
}

/// Checks every declared property of every policy on `cases` generated records each.
pub fn check_declared(rules: &RuleSet, cases: u32, seed: u64) -> Vec<DeclaredResult> {
    let mut out = vec![];
    for (pi, p) in rules.program.policies.iter().enumerate() {
        for (k, prop) in p.properties.iter().enumerate() {
            let mut runner = TestRunner::new_with_rng(
                Config {
                    cases,
                    failure_persistence: None,
                    ..Config::default()
                },
                TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed, pi, k)),
            );
            let constraints = Constraints::complete().with_policy_hints(rules, &[pi]);
            let Ok(strategy) = case_strategy(
                &rules.schema,
                p.subject,
                &constraints,
                ref_date_strategy(rules, Some(pi)),
            ) else {
                continue;
            };
            let result = runner.run(&strategy, |(date, json)| {
                match holds(rules, pi, p, &prop.kind, date, &json) {
                    Ok(()) => Ok(()),
                    Err(m) => Err(TestCaseError::fail(m)),
                }
            });
            let counterexample = match result {
                Ok(()) => None,
                Err(proptest::test_runner::TestError::Fail(_, (date, json))) => {
                    // Shrinking keeps every required field; drop what the failure
                    // does not need, so the case shows only what matters.
                    let json =
                        minimize(json, &|j| holds(rules, pi, p, &prop.kind, date, j).is_err());
                    let message = holds(rules, pi, p, &prop.kind, date, &json)
                        .err()
                        .unwrap_or_default();
                    Some(describe(rules, pi, date, &json, message))
                }
                Err(proptest::test_runner::TestError::Abort(reason)) => {
                    Some(DeclaredCounterexample {
                        message: format!("gave up: {reason}"),
                        reference_date: NaiveDate::default(),
                        subject: String::new(),
                        record_yaml: String::new(),
                        decision: Json::Null,
                    })
                }
            };
            out.push(DeclaredResult {
                policy: p.id.clone(),
                name: prop.name.clone(),
                label: prop.label.clone(),
                cases,
                counterexample,
            });
        }
    }
    out
}

fn seed_bytes(seed: u64, policy: usize, property: usize) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b[8..16].copy_from_slice(&(policy as u64).to_le_bytes());
    b[16..24].copy_from_slice(&(property as u64).to_le_bytes());
    b[24..].copy_from_slice(b"declared");
    b
}

fn decide(
    rules: &RuleSet,
    pi: usize,
    date: NaiveDate,
    json: &Json,
    trace: bool,
) -> Option<Decision> {
    let subject = rules.program.policies.get(pi)?.subject;
    let rec = record::read_record(&rules.schema, subject, json).ok()?;
    Some(eval::evaluate_policy(
        rules,
        pi,
        &rec,
        date,
        EvalOptions {
            trace,
            ..Default::default()
        },
    ))
}

fn holds(
    rules: &RuleSet,
    pi: usize,
    p: &PolicyDef,
    kind: &PropertyKind,
    date: NaiveDate,
    json: &Json,
) -> Result<(), String> {
    let Some(d) = decide(rules, pi, date, json, false) else {
        return Ok(());
    };
    match kind {
        PropertyKind::AmountBound(op, bound) => {
            let (Outcome::Eligible, Some(a)) = (d.outcome, &d.amount) else {
                return Ok(());
            };
            let ok = match op {
                CmpOp::Eq => a.value == *bound,
                CmpOp::Ne => a.value != *bound,
                CmpOp::Lt => a.value < *bound,
                CmpOp::Le => a.value <= *bound,
                CmpOp::Gt => a.value > *bound,
                CmpOp::Ge => a.value >= *bound,
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{}: amount {} breaks the bound {op:?} {bound}",
                    p.id, a.value
                ))
            }
        }
        PropertyKind::Monotone { increasing, path } => {
            // Raise every value at the path by the same step; compare the decisions.
            for step in [1i64, 12, 365, 5000] {
                let mut raised = json.clone();
                if !raise(&mut raised, path, step) {
                    return Ok(());
                }
                let Some(e) = decide(rules, pi, date, &raised, false) else {
                    continue;
                };
                if d.outcome == Outcome::Undetermined || e.outcome == Outcome::Undetermined {
                    continue;
                }
                let rank = |x: &Decision| u8::from(x.outcome == Outcome::Eligible);
                let amount = |x: &Decision| x.amount.as_ref().map(|a| a.value);
                let (before, after) = if *increasing { (&d, &e) } else { (&e, &d) };
                // `before` is the subject with less of the value (for increasing) and
                // must never do better than `after`.
                if rank(before) > rank(after) {
                    return Err(format!(
                        "raising {} by {step} turned {} into {}",
                        path.join("."),
                        d.outcome.as_str(),
                        e.outcome.as_str()
                    ));
                }
                if let (Some(a), Some(b)) = (amount(before), amount(after)) {
                    if rank(before) == 1 && rank(after) == 1 && a > b {
                        return Err(format!(
                            "raising {} by {step} changed the amount from {} to {}",
                            path.join("."),
                            amount(&d).unwrap_or_default(),
                            amount(&e).unwrap_or_default()
                        ));
                    }
                }
            }
            Ok(())
        }
    }
}

/// Adds `step` (units of the field: 1 for numbers, days for dates, hundredths for
/// money) to every value at `path`; false when the path holds no value.
fn raise(json: &mut Json, path: &[String], step: i64) -> bool {
    let Some((head, rest)) = path.split_first() else {
        return bump(json, step);
    };
    let (name, list) = match head.strip_suffix("[]") {
        Some(n) => (n, true),
        None => (head.as_str(), false),
    };
    let Some(child) = json.get_mut(name) else {
        return false;
    };
    if list {
        let Json::Array(items) = child else {
            return false;
        };
        let mut any = false;
        for item in items {
            any |= if rest.is_empty() {
                bump(item, step)
            } else {
                raise(item, rest, step)
            };
        }
        any
    } else if rest.is_empty() {
        bump(child, step)
    } else {
        raise(child, rest, step)
    }
}

fn bump(v: &mut Json, step: i64) -> bool {
    match v {
        Json::Number(n) => {
            let text = n.to_string();
            let Ok(d) = Decimal::from_str(&text) else {
                return false;
            };
            let raised = if text.contains('.') {
                d.checked_add(Decimal::new(step, 2))
            } else {
                d.checked_add(Decimal::from(step))
            };
            let Some(raised) = raised else {
                return false;
            };
            match serde_json::from_str::<serde_json::Number>(&raised.to_string()) {
                Ok(n) => {
                    *v = Json::Number(n);
                    true
                }
                Err(_) => false,
            }
        }
        Json::String(s) => {
            if let Some(d) = crate::schema::parse_date(s) {
                match crate::semantics::calendar::add_days(d, step) {
                    Some(r) => {
                        *s = r.to_string();
                        true
                    }
                    None => false,
                }
            } else if let Some(d) = Decimal::from_str(s)
                .ok()
                .and_then(|d| d.checked_add(Decimal::new(step, 2)))
            {
                *s = d.to_string();
                true
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Removes, one by one, every field whose removal keeps `fails` true.
fn minimize(mut json: Json, fails: &dyn Fn(&Json) -> bool) -> Json {
    let mut paths = vec![];
    collect_paths(&json, &mut vec![], &mut paths);
    // Deepest first, so that records are emptied before they are removed.
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in paths {
        let mut trial = json.clone();
        if remove_path(&mut trial, &path) && fails(&trial) {
            json = trial;
        }
    }
    json
}

fn collect_paths(v: &Json, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Json::Object(m) = v {
        for (k, child) in m {
            at.push(k.clone());
            out.push(at.clone());
            collect_paths(child, at, out);
            at.pop();
        }
    }
}

fn remove_path(v: &mut Json, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => v.as_object_mut().is_some_and(|m| m.remove(last).is_some()),
        [head, rest @ ..] => v.get_mut(head).is_some_and(|c| remove_path(c, rest)),
    }
}

fn describe(
    rules: &RuleSet,
    pi: usize,
    date: NaiveDate,
    json: &Json,
    message: String,
) -> DeclaredCounterexample {
    let decision = decide(rules, pi, date, json, true)
        .map(|d| serde_json::to_value(&d).unwrap_or(Json::Null))
        .unwrap_or(Json::Null);
    DeclaredCounterexample {
        message,
        reference_date: date,
        subject: rules
            .program
            .policies
            .get(pi)
            .and_then(|p| rules.schema.subjects.get(p.subject))
            .map_or_else(String::new, |s| s.name.clone()),
        record_yaml: to_yaml(json),
        decision,
    }
}

/// Renders the results: one line per property, and for a failure the counterexample
/// as a case ready to paste.
pub fn render(results: &[DeclaredResult]) -> String {
    let mut out = String::new();
    for r in results {
        match &r.counterexample {
            None => out.push_str(&format!(
                "ok    {} {} ({}): {} cases\n",
                r.policy, r.name, r.label, r.cases
            )),
            Some(c) => {
                out.push_str(&format!(
                    "FAIL  {} {} ({}): {}\n",
                    r.policy, r.name, r.label, c.message
                ));
                out.push_str(&format!(
                    "  counterexample (paste into a case file):\n  - id: {}-{}\n    title: counterexample of property {}\n    reference_date: {}\n    subject: {}\n    record:\n",
                    r.policy, r.name, r.name, c.reference_date, c.subject
                ));
                for line in c.record_yaml.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
                out.push_str(&format!(
                    "  decision: {}\n",
                    serde_json::to_string(&c.decision).unwrap_or_default()
                ));
            }
        }
    }
    out
}
