//! The contract between the two tiers, shared by `tests/differential.rs` and the
//! semantics tables (`tests/semantics.rs`, which routes its decisions through here
//! when it is included by the differential test).
//!
//! For one record and one reference date, whatever the compiled tier
//! ([`FastDecider`]) claims must be what the reference evaluator decides:
//!
//! - `Eligible { amount, extras }` → reference eligible, no error, same amount value
//!   (and, through the policy's amount rule, the same unit and period) and extras;
//! - `NotEligible` → reference not eligible;
//! - `Unknown` → reference undetermined;
//! - `Deferred` → no claim (the batch asks the reference);
//! - `NotApplicable` → exactly when the policy is about another subject kind.
//!
//! End to end, every line the batch (`batch::run_json_lines`, what `mianshen run`
//! uses) writes must be the line the reference decision gives.
//!
//! A panic in either tier is reported as a failure, not propagated, so that the caller
//! can shrink the input that causes it.

#![allow(dead_code)]

use chrono::NaiveDate;
use mianshen::internals::batch;
use mianshen::internals::eval::{
    evaluate_all, evaluate_policy, Decision, EvalOptions, ExtraValue, Outcome,
};
use mianshen::internals::fast::{FastDecider, FastRules, Verdict};
use mianshen::internals::record::{detect_subject, read_record};
use mianshen::{ChunkOutput, Mode, Record, RuleSet, RunConfig, Sink};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What went wrong, by kind (used to keep a shrunk input failing the same way).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// The compiled tier's verdict contradicts the reference decision; the text says
    /// which verdict against which outcome (`Eligible/amount`, `NotEligible/Eligible`).
    Verdict(String),
    /// Lowering the rules (`FastRules::new`) panicked.
    LowerPanic,
    /// The compiled tier panicked on a record.
    CompiledPanic,
    /// The reference evaluator panicked on a record.
    ReferencePanic,
    /// The batch panicked or failed.
    BatchPanic,
    /// A line written by the batch differs from the reference decision.
    Batch(String),
    /// The fast reader accepts a record the reference reader rejects (or reads it
    /// as another subject kind).
    Reader,
    /// The case did not finish within the watchdog's time.
    Hang,
    /// The process running the case died (a stack overflow aborts it); the text is
    /// the stage it was in.
    Crash(String),
}

/// One failure, with a human-readable account.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The kind, for shrinking.
    pub kind: Kind,
    /// The reference date.
    pub date: NaiveDate,
    /// Index of the record among those checked, when one record is to blame.
    pub record: Option<usize>,
    /// What each tier says.
    pub detail: String,
}

/// How often each verdict occurred (to see that the compiled tier decides, rather
/// than defers, the generated policies).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// Policies lowered, and how many of them the compiled tier decides.
    pub policies: u64,
    pub compiled: u64,
    pub eligible: u64,
    pub not_eligible: u64,
    pub unknown: u64,
    pub deferred: u64,
    /// Records the fast reader refused.
    pub refused: u64,
}

impl Tally {
    /// Adds another tally.
    pub fn add(&mut self, o: &Tally) {
        self.policies += o.policies;
        self.compiled += o.compiled;
        self.eligible += o.eligible;
        self.not_eligible += o.not_eligible;
        self.unknown += o.unknown;
        self.deferred += o.deferred;
        self.refused += o.refused;
    }
}

/// The message of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Reads a record the reference way, as the batch would (subject from the record).
pub fn reference_record(rules: &RuleSet, text: &str) -> Result<Record, String> {
    let value: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let subject = detect_subject(rules.schema(), &value, None)?;
    read_record(rules.schema(), subject, &value).map_err(|e| format!("{}: {}", e.path, e.message))
}

/// Lowers `rules` for `date`, catching a panic.
pub fn lower(rules: &RuleSet, date: NaiveDate) -> Result<FastRules, Failure> {
    catch_unwind(AssertUnwindSafe(|| FastRules::new(rules, date))).map_err(|p| Failure {
        kind: Kind::LowerPanic,
        date,
        record: None,
        detail: format!("FastRules::new panicked: {}", panic_text(&*p)),
    })
}

/// Checks the contract on one record (JSON text) for every policy; `index` is the
/// record's position, for the report. Records the fast reader refuses are skipped
/// (the batch reads them the reference way).
pub fn check_record(
    rules: &RuleSet,
    compiled: &FastRules,
    date: NaiveDate,
    index: usize,
    text: &str,
) -> Vec<Failure> {
    check_record_counting(
        rules,
        compiled,
        date,
        index,
        text,
        &mut Tally::default(),
        &mut |_| {},
    )
}

/// [`check_record`], counting the verdicts into `tally`.
pub fn check_record_counting(
    rules: &RuleSet,
    compiled: &FastRules,
    date: NaiveDate,
    index: usize,
    text: &str,
    tally: &mut Tally,
    stage: &mut dyn FnMut(&str),
) -> Vec<Failure> {
    let fail = |kind: Kind, detail: String| Failure {
        kind,
        date,
        record: Some(index),
        detail,
    };
    stage("the compiled tier");
    let fast = catch_unwind(AssertUnwindSafe(|| {
        let mut ev = FastDecider::new(rules, compiled);
        if ev.read(text, None).is_err() {
            return None;
        }
        let verdicts = ev.decide().to_vec();
        let extras: Vec<Vec<(usize, ExtraValue)>> = verdicts
            .iter()
            .map(|v| match v {
                Verdict::Eligible { extras, .. } => ev.extras(*extras),
                _ => vec![],
            })
            .collect();
        Some((ev.subject(), verdicts, extras))
    }));
    let (subject, verdicts, extras) = match fast {
        Ok(None) => {
            tally.refused += 1;
            return vec![];
        }
        Ok(Some(x)) => x,
        Err(p) => {
            return vec![fail(
                Kind::CompiledPanic,
                format!("the compiled tier panicked: {}", panic_text(&*p)),
            )]
        }
    };
    stage("the reference evaluator");
    let record = match reference_record(rules, text) {
        Ok(r) => r,
        Err(e) => {
            return vec![fail(
                Kind::Reader,
                format!("the fast reader accepts a record the reference rejects: {e}"),
            )]
        }
    };
    if record.subject_index() != subject {
        return vec![fail(
            Kind::Reader,
            "the readers disagree on the subject kind".into(),
        )];
    }
    let mut out = vec![];
    for (i, verdict) in verdicts.iter().enumerate() {
        let policy = &rules.program().policies[i];
        if (policy.subject == subject) == (*verdict == Verdict::NotApplicable) {
            out.push(fail(
                Kind::Verdict("NotApplicable".into()),
                format!("policy `{}`: verdict {verdict:?}", policy.id),
            ));
            continue;
        }
        match verdict {
            Verdict::Eligible { .. } => tally.eligible += 1,
            Verdict::NotEligible => tally.not_eligible += 1,
            Verdict::Unknown => tally.unknown += 1,
            Verdict::Deferred => tally.deferred += 1,
            Verdict::NotApplicable => {}
        }
        if *verdict == Verdict::NotApplicable || *verdict == Verdict::Deferred {
            continue;
        }
        let d = match catch_unwind(AssertUnwindSafe(|| {
            evaluate_policy(rules, i, &record, date, EvalOptions::default())
        })) {
            Ok(d) => d,
            Err(p) => {
                out.push(fail(
                    Kind::ReferencePanic,
                    format!(
                        "policy `{}`: the reference evaluator panicked: {}",
                        policy.id,
                        panic_text(&*p)
                    ),
                ));
                continue;
            }
        };
        let named: Vec<(String, ExtraValue)>;
        let (agrees, what) = match verdict {
            Verdict::Eligible { amount, .. } => {
                named = match amount {
                    Some((rule, _)) => extras[i]
                        .iter()
                        .map(|(k, x)| {
                            let name = policy.amounts[*rule]
                                .extras
                                .get(*k)
                                .map_or_else(|| format!("#{k}?"), |(n, _)| n.clone());
                            (name, x.clone())
                        })
                        .collect(),
                    None => vec![],
                };
                let ok_outcome = d.outcome == Outcome::Eligible && d.error.is_none();
                let ok_amount = match (amount, &d.amount) {
                    (None, None) => true,
                    (Some((rule, v)), Some(a)) => {
                        let r = &policy.amounts[*rule];
                        *v == a.value
                            && named == a.extras
                            && r.unit == a.unit
                            && r.period == a.period
                    }
                    _ => false,
                };
                let what = if !ok_outcome {
                    format!("Eligible/{:?}", d.outcome)
                } else {
                    "Eligible/amount".to_string()
                };
                (ok_outcome && ok_amount, what)
            }
            Verdict::NotEligible => (
                d.outcome == Outcome::NotEligible,
                format!("NotEligible/{:?}", d.outcome),
            ),
            Verdict::Unknown => (
                d.outcome == Outcome::Undetermined,
                format!("Unknown/{:?}", d.outcome),
            ),
            _ => (true, String::new()),
        };
        if !agrees {
            out.push(fail(
                Kind::Verdict(what),
                format!(
                    "policy `{}` on {date}: compiled {} but reference {}",
                    policy.id,
                    describe_verdict(verdict, &extras[i]),
                    describe_decision(&d)
                ),
            ));
        }
    }
    out
}

/// A verdict in words.
pub fn describe_verdict(v: &Verdict, extras: &[(usize, ExtraValue)]) -> String {
    match v {
        Verdict::Eligible {
            amount: Some((rule, a)),
            ..
        } => format!("eligible, amount {a} (rule {rule}, extras {extras:?})"),
        Verdict::Eligible { amount: None, .. } => "eligible without amount".into(),
        other => format!("{other:?}"),
    }
}

/// A reference decision in words (outcome, amount, failed, missing, error).
pub fn describe_decision(d: &Decision) -> String {
    let mut s = format!("{:?}", d.outcome);
    if let Some(a) = &d.amount {
        s.push_str(&format!(
            ", amount {} {} {} (extras {:?})",
            a.value, a.unit, a.period, a.extras
        ));
    }
    if !d.failed.is_empty() {
        s.push_str(&format!(", failed {:?}", d.failed));
    }
    if !d.missing.is_empty() {
        s.push_str(&format!(", missing {:?}", d.missing));
    }
    if let Some(e) = &d.error {
        s.push_str(&format!(
            ", error {}",
            serde_json::to_string(e).unwrap_or_default()
        ));
    }
    s
}

/// Collects the batch's output chunks.
#[derive(Default)]
struct Collect(ChunkOutput);

impl Sink for Collect {
    fn write(&mut self, c: &ChunkOutput) -> std::io::Result<()> {
        self.0.grants.push_str(&c.grants);
        self.0.pushes.push_str(&c.pushes);
        self.0.rejected.push_str(&c.rejected);
        self.0.errors.push_str(&c.errors);
        self.0.records += c.records;
        Ok(())
    }
}

/// The line the batch must write for a reference decision: (file, line without
/// `rule_set` and `basis`), or `None` for a not-eligible decision (no line).
fn expected_line(
    rules: &RuleSet,
    i: usize,
    subject: &str,
    d: &Decision,
) -> Option<(&'static str, Json)> {
    let policy = &rules.program().policies[i];
    let mut line = json!({"subject": subject, "policy": d.policy});
    let m = line.as_object_mut()?;
    let file = match (d.outcome, policy.mode) {
        (Outcome::Eligible, Mode::NoApplication) => "grants",
        (Outcome::Eligible, mode) => {
            let reason = if mode == Mode::PushAndConfirm {
                "eligible_confirm"
            } else {
                "eligible_apply"
            };
            m.insert("reason".into(), json!(reason));
            "pushes"
        }
        (Outcome::Undetermined, _) if d.error.is_some() => {
            m.insert("reason".into(), json!("evaluation_error"));
            m.insert("error".into(), serde_json::to_value(&d.error).ok()?);
            if !d.missing.is_empty() {
                m.insert("missing".into(), json!(d.missing));
            }
            "errors"
        }
        (Outcome::Undetermined, _) => {
            m.insert("reason".into(), json!("undetermined"));
            m.insert("missing".into(), json!(d.missing));
            "pushes"
        }
        (Outcome::NotEligible, _) => return None,
    };
    if let Some(a) = &d.amount {
        m.insert("amount".into(), serde_json::to_value(a).ok()?);
    }
    Some((file, line))
}

/// Parses the batch's lines of one file into `(subject, policy) → (file, line)`.
fn parse_lines(
    file: &'static str,
    text: &str,
    into: &mut BTreeMap<(String, String), Vec<(&'static str, Json)>>,
) {
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut v: Json = serde_json::from_str(l).unwrap_or(Json::String(l.to_string()));
        let key = (
            v["subject"].as_str().unwrap_or("?").to_string(),
            v["policy"].as_str().unwrap_or("?").to_string(),
        );
        if let Some(m) = v.as_object_mut() {
            m.remove("rule_set");
            m.remove("basis");
        }
        into.entry(key).or_default().push((file, v));
    }
}

/// Runs the batch on `records` (JSON Lines, each record with a distinct subject id)
/// and compares every line it writes, and its per-policy counts, with `evaluate_all`.
pub fn check_batch(rules: &RuleSet, date: NaiveDate, records: &[String]) -> Vec<Failure> {
    let fail = |kind: Kind, detail: String| Failure {
        kind,
        date,
        record: None,
        detail,
    };
    let text = records.join("\n") + "\n";
    let config = RunConfig {
        threads: Some(1),
        ..RunConfig::new(date)
    };
    let run = catch_unwind(AssertUnwindSafe(|| {
        let mut sink = Collect::default();
        let summary =
            batch::run_json_lines(rules, text.as_bytes(), &config, &mut sink, &mut |_, _| {});
        summary.map(|s| (s, sink.0))
    }));
    let (summary, out) = match run {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return vec![fail(Kind::BatchPanic, format!("the batch failed: {e}"))],
        Err(p) => {
            return vec![fail(
                Kind::BatchPanic,
                format!("the batch panicked: {}", panic_text(&*p)),
            )]
        }
    };
    let mut actual = BTreeMap::new();
    parse_lines("grants", &out.grants, &mut actual);
    parse_lines("pushes", &out.pushes, &mut actual);
    parse_lines("errors", &out.errors, &mut actual);
    let mut expected: BTreeMap<(String, String), Vec<(&'static str, Json)>> = BTreeMap::new();
    let n = rules.program().policies.len();
    let mut counts = vec![[0u64; 3]; n];
    let mut sums = vec![rust_decimal::Decimal::ZERO; n];
    let mut failures = vec![];
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (r, text) in records.iter().enumerate() {
        let Ok(record) = reference_record(rules, text) else {
            continue;
        };
        let id = record.id.clone().unwrap_or_default();
        owner.insert(id.clone(), r);
        let decisions = match catch_unwind(AssertUnwindSafe(|| {
            evaluate_all(rules, &record, date, EvalOptions::default())
        })) {
            Ok(d) => d,
            Err(p) => {
                failures.push(Failure {
                    kind: Kind::ReferencePanic,
                    date,
                    record: Some(r),
                    detail: format!("evaluate_all panicked: {}", panic_text(&*p)),
                });
                continue;
            }
        };
        for d in &decisions {
            let Some(i) = rules.policy_number(&d.policy) else {
                continue;
            };
            let slot = match d.outcome {
                Outcome::Eligible => 0,
                Outcome::NotEligible => 1,
                Outcome::Undetermined => 2,
            };
            counts[i][slot] += 1;
            if let (Outcome::Eligible, Some(a)) = (d.outcome, &d.amount) {
                sums[i] += a.value;
            }
            if let Some(line) = expected_line(rules, i, &id, d) {
                expected
                    .entry((id.clone(), d.policy.clone()))
                    .or_default()
                    .push(line);
            }
        }
    }
    let keys: std::collections::BTreeSet<_> =
        expected.keys().chain(actual.keys()).cloned().collect();
    for key in keys {
        let e = expected.get(&key);
        let a = actual.get(&key);
        if e != a {
            let show = |x: Option<&Vec<(&str, Json)>>| match x {
                None => "no line (not eligible)".to_string(),
                Some(v) => v
                    .iter()
                    .map(|(f, l)| format!("{f}.jsonl {l}"))
                    .collect::<Vec<_>>()
                    .join(" + "),
            };
            let what = match (e, a) {
                (Some(e), Some(a)) if e.len() == 1 && a.len() == 1 && e[0].0 == a[0].0 => {
                    format!("{}/content", e[0].0)
                }
                (e, a) => format!(
                    "{}/{}",
                    e.map_or("none", |v| v[0].0),
                    a.map_or("none", |v| v[0].0)
                ),
            };
            failures.push(Failure {
                kind: Kind::Batch(what),
                date,
                record: owner.get(&key.0).copied(),
                detail: format!(
                    "subject {} policy `{}` on {date}: the batch writes {} but evaluate_all gives {}",
                    key.0,
                    key.1,
                    show(a),
                    show(e)
                ),
            });
        }
    }
    for (i, (id, s)) in summary.policies.iter().enumerate() {
        let got = [s.eligible, s.not_eligible, s.undetermined];
        if got != counts[i] || s.amount != sums[i] {
            failures.push(fail(
                Kind::Batch("summary".into()),
                format!(
                    "policy `{id}` on {date}: batch summary eligible/not/undetermined {got:?} amount {} \
                     but evaluate_all {:?} amount {}",
                    s.amount, counts[i], sums[i]
                ),
            ));
        }
    }
    failures
}
