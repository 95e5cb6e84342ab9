//! The nightly no-application batch: a population streamed through every policy.
//!
//! Records are read in chunks; each chunk is decided in parallel (rayon) and its
//! outputs are written in input order, so the result is the same whatever the number
//! of threads, and memory stays flat however large the input. Every input record is
//! accounted for: read = evaluated + rejected.

use crate::compile::RuleSet;
use crate::eval::{self, Decision, EvalOptions, Outcome};
use crate::record;
use crate::syntax::ast::Mode;
use chrono::NaiveDate;
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;

/// One input record, as it comes from the file.
#[derive(Debug, Clone)]
pub struct InputRecord {
    /// 1-based line (or row) number in the input.
    pub line: u64,
    /// The record's text (one JSON object) or an already built value, or why the line
    /// could not be read.
    pub source: Source,
}

/// The content of an input record.
#[derive(Debug, Clone)]
pub enum Source {
    /// A JSON object as text (JSON Lines).
    Json(String),
    /// A value already built (from CSV).
    Value(serde_json::Value),
    /// The line could not be read at all.
    Unreadable(String),
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The reference date.
    pub ref_date: NaiveDate,
    /// Records decided together (and held in memory at once).
    pub chunk_size: usize,
    /// The subject kind of the records; recognised per record when `None`.
    pub subject: Option<String>,
    /// Worker threads; all cores when `None`.
    pub threads: Option<usize>,
    /// Also pre-fill this bundle (index) for every subject with an available member.
    pub bundle: Option<usize>,
}

/// Where the outputs of a run go, chunk by chunk, in input order.
pub trait Sink {
    /// Takes the JSON Lines text of one chunk's grants, pushes and rejected records.
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()>;
}

/// The outputs of one chunk, as JSON Lines text.
#[derive(Debug, Default, Clone)]
pub struct ChunkOutput {
    /// grants.jsonl lines.
    pub grants: String,
    /// pushes.jsonl lines.
    pub pushes: String,
    /// rejected.jsonl lines.
    pub rejected: String,
    /// forms.jsonl lines (pre-filled bundle forms), when a bundle is asked for.
    pub forms: String,
    /// errors.jsonl lines: decisions the rule text leaves undefined.
    pub errors: String,
    /// Records in the chunk.
    pub records: u64,
}

/// Per-policy counts and the exact sum of the eligible amounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicySummary {
    /// Eligible subjects.
    pub eligible: u64,
    /// Not eligible subjects.
    pub not_eligible: u64,
    /// Undetermined subjects.
    pub undetermined: u64,
    /// Sum of the eligible amounts.
    #[serde(serialize_with = "two_places")]
    pub amount: Decimal,
}

fn two_places<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let mut v = *d;
    v.rescale(2);
    s.serialize_str(&v.to_string())
}

/// The summary of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Policy ids with their summaries, in rule-set order.
    pub policies: Vec<(String, PolicySummary)>,
    /// Records read.
    pub read: u64,
    /// Records evaluated.
    pub evaluated: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rule-set version hash.
    pub rule_set: String,
    /// Reference date.
    pub reference_date: NaiveDate,
    /// Per policy (same order): undetermined decisions that are evaluation errors.
    pub errors: Vec<u64>,
}

impl Summary {
    /// The per-policy block: `{policy: {eligible, not_eligible, undetermined, amount}}`.
    pub fn policies_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (id, s) in &self.policies {
            map.insert(id.clone(), serde_json::to_value(s).unwrap_or_default());
        }
        serde_json::Value::Object(map)
    }

    /// The whole summary file; `elapsed_seconds` is the caller's measurement.
    pub fn to_json(&self, elapsed_seconds: Option<f64>) -> serde_json::Value {
        json!({
            "policies": self.policies_json(),
            "run": {
                "records_read": self.read,
                "evaluated": self.evaluated,
                "rejected": self.rejected,
                "accounted": self.read == self.evaluated + self.rejected,
                "rule_set": self.rule_set,
                "reference_date": self.reference_date.to_string(),
                "evaluation_errors": self
                    .policies
                    .iter()
                    .zip(&self.errors)
                    .filter(|(_, n)| **n > 0)
                    .map(|((id, _), n)| (id.clone(), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
                "elapsed_seconds": elapsed_seconds,
            }
        })
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Writing an output failed.
    #[error("writing the outputs failed: {0}")]
    Output(#[from] std::io::Error),
    /// The subject kind is unknown.
    #[error("{0}")]
    Subject(String),
    /// The worker threads could not be started.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

/// The result of one record, before it is merged into the summary.
struct RecordResult {
    grants: String,
    pushes: String,
    rejected: String,
    forms: String,
    errors: String,
    /// Per policy index: outcome, eligible amount, whether it is an evaluation error.
    decisions: Vec<(usize, Outcome, Option<Decimal>, bool)>,
    ok: bool,
}

/// Runs the batch over `input`, writing to `sink`; `progress` is told the number of
/// records done after every chunk.
pub fn run<I>(
    rules: &RuleSet,
    input: I,
    config: &RunConfig,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, BatchError>
where
    I: Iterator<Item = InputRecord>,
{
    let subject = match &config.subject {
        Some(s) => Some(
            rules
                .schema
                .subjects
                .iter()
                .position(|d| &d.name == s)
                .ok_or_else(|| BatchError::Subject(format!("unknown subject kind `{s}`")))?,
        ),
        None => None,
    };
    let mut summary = Summary {
        policies: rules
            .program
            .policies
            .iter()
            .map(|p| (p.id.clone(), PolicySummary::default()))
            .collect(),
        read: 0,
        evaluated: 0,
        rejected: 0,
        rule_set: rules.version.clone(),
        reference_date: config.ref_date,
        errors: vec![0; rules.program.policies.len()],
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .build()
        .map_err(|e| BatchError::Threads(e.to_string()))?;
    let plan = record::fast::ReadPlan::new(&rules.schema, rules.used_fields.clone());
    let chunk_size = config.chunk_size.max(1);
    let mut input = input.peekable();
    let mut chunk: Vec<InputRecord> = Vec::with_capacity(chunk_size);
    while input.peek().is_some() {
        chunk.clear();
        chunk.extend(input.by_ref().take(chunk_size));
        let results: Vec<RecordResult> = pool.install(|| {
            chunk
                .par_iter()
                .map(|r| decide_record(rules, &plan, r, subject, config))
                .collect()
        });
        let mut out = ChunkOutput {
            records: chunk.len() as u64,
            ..ChunkOutput::default()
        };
        for r in results {
            summary.read += 1;
            if r.ok {
                summary.evaluated += 1;
            } else {
                summary.rejected += 1;
            }
            out.grants.push_str(&r.grants);
            out.pushes.push_str(&r.pushes);
            out.rejected.push_str(&r.rejected);
            out.forms.push_str(&r.forms);
            out.errors.push_str(&r.errors);
            for (i, outcome, amount, error) in r.decisions {
                if error {
                    summary.errors[i] += 1;
                }
                let s = &mut summary.policies[i].1;
                match outcome {
                    Outcome::Eligible => {
                        s.eligible += 1;
                        if let Some(a) = amount {
                            s.amount += a;
                        }
                    }
                    Outcome::NotEligible => s.not_eligible += 1,
                    Outcome::Undetermined => s.undetermined += 1,
                }
            }
        }
        sink.write(&out)?;
        progress(summary.read);
    }
    Ok(summary)
}

fn reject(line: u64, id: Option<&str>, reason: &str) -> RecordResult {
    let mut rejected = serde_json::to_string(&json!({
        "line": line,
        "subject": id,
        "reason": reason,
    }))
    .unwrap_or_default();
    rejected.push('\n');
    RecordResult {
        grants: String::new(),
        pushes: String::new(),
        rejected,
        forms: String::new(),
        errors: String::new(),
        decisions: vec![],
        ok: false,
    }
}

fn decide_record(
    rules: &RuleSet,
    plan: &record::fast::ReadPlan,
    input: &InputRecord,
    subject: Option<usize>,
    config: &RunConfig,
) -> RecordResult {
    let ref_date = config.ref_date;
    let rec = match &input.source {
        Source::Json(text) => match record::fast::read_json(&rules.schema, plan, subject, text) {
            Some(r) => r,
            None => {
                let e = record::fast::explain_failure(&rules.schema, subject, text);
                let id = (!e.record.starts_with('(')).then_some(e.record.as_str());
                let reason = if e.path.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.path, e.message)
                };
                return reject(input.line, id, &reason);
            }
        },
        Source::Value(value) => {
            let subject = match subject {
                Some(s) => s,
                None => match record::detect_subject(&rules.schema, value, None) {
                    Ok(s) => s,
                    Err(m) => return reject(input.line, None, &m),
                },
            };
            match record::read_record(&rules.schema, subject, value) {
                Ok(r) => r,
                Err(e) => {
                    let id = (!e.record.starts_with('(')).then_some(e.record.as_str());
                    return reject(input.line, id, &format!("{}: {}", e.path, e.message));
                }
            }
        }
        Source::Unreadable(why) => return reject(input.line, None, why),
    };
    let subject_id = rec
        .id
        .clone()
        .unwrap_or_else(|| format!("line {}", input.line));
    let decisions = eval::evaluate_all(rules, &rec, ref_date, EvalOptions::default());
    let mut result = RecordResult {
        grants: String::new(),
        pushes: String::new(),
        rejected: String::new(),
        forms: String::new(),
        errors: String::new(),
        decisions: Vec::with_capacity(decisions.len()),
        ok: true,
    };
    if let Some(b) = config.bundle {
        if rules.program.bundles[b].subject == rec.subject {
            let form = eval::prefill(rules, b, &rec, ref_date, EvalOptions::default());
            if form.any_available() {
                let v = json!({"subject": subject_id, "form": form});
                let _ = writeln!(result.forms, "{v}");
            }
        }
    }
    // evaluate_all decides the subject's policies in rule-set order.
    let indexes = rules
        .program
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.subject == rec.subject)
        .map(|(i, _)| i);
    for (d, pi) in decisions.iter().zip(indexes) {
        let policy = &rules.program.policies[pi];
        let amount = d.amount.as_ref().map(|a| a.value);
        result
            .decisions
            .push((pi, d.outcome, amount, d.error.is_some()));
        write_outputs(&mut result, &subject_id, policy, d, &rules.version);
    }
    result
}

/// A line of grants.jsonl, pushes.jsonl or errors.jsonl.
#[derive(Serialize)]
struct OutputLine<'a> {
    subject: &'a str,
    policy: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<&'a crate::eval::Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a crate::eval::EvalError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basis: Option<&'a str>,
    rule_set: &'a str,
}

fn write_outputs(
    out: &mut RecordResult,
    subject: &str,
    policy: &crate::ir::PolicyDef,
    d: &Decision,
    version: &str,
) {
    let mut line = OutputLine {
        subject,
        policy: &d.policy,
        reason: None,
        amount: d.amount.as_ref(),
        missing: None,
        error: None,
        basis: policy.basis.as_deref(),
        rule_set: version,
    };
    let target = match (d.outcome, policy.mode) {
        (Outcome::Eligible, Mode::NoApplication) => &mut out.grants,
        (Outcome::Eligible, mode) => {
            line.reason = Some(if mode == Mode::PushAndConfirm {
                "eligible_confirm"
            } else {
                "eligible_apply"
            });
            &mut out.pushes
        }
        // A case the rule text leaves undefined is nothing to ask a citizen about: it
        // goes to the rule set's maintainers.
        (Outcome::Undetermined, _) if d.error.is_some() => {
            line.reason = Some("evaluation_error");
            line.error = d.error.as_ref();
            line.missing = (!d.missing.is_empty()).then_some(d.missing.as_slice());
            line.basis = None;
            &mut out.errors
        }
        (Outcome::Undetermined, _) => {
            line.reason = Some("undetermined");
            line.missing = Some(&d.missing);
            line.basis = None;
            &mut out.pushes
        }
        (Outcome::NotEligible, _) => return,
    };
    // Serialising into a String cannot fail.
    if let Ok(text) = serde_json::to_string(&line) {
        target.push_str(&text);
        target.push('\n');
    }
}
