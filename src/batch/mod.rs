//! The nightly no-application batch: a population streamed through every policy.
//!
//! Records are read in chunks; each chunk is decided in parallel (rayon) and its
//! outputs are written in input order, so the result is the same whatever the number
//! of threads, and memory stays flat however large the input. Every input record is
//! accounted for: read = evaluated + rejected.

use crate::compile::lower::CompiledRules;
use crate::compile::RuleSet;
use crate::eval::compiled::{RowEvaluator, Verdict};
use crate::eval::{self, Decision, EvalOptions, Outcome};
use crate::record;
use crate::record::row::{Row, RowReader};
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

/// The outputs and counts of a run of consecutive records, before they are merged
/// into the chunk (in input order) and the summary.
struct Part {
    out: ChunkOutput,
    policies: Vec<PolicySummary>,
    errors: Vec<u64>,
    read: u64,
    evaluated: u64,
    rejected: u64,
}

impl Part {
    fn new(policies: usize) -> Self {
        Part {
            out: ChunkOutput::default(),
            policies: vec![PolicySummary::default(); policies],
            errors: vec![0; policies],
            read: 0,
            evaluated: 0,
            rejected: 0,
        }
    }

    fn count(&mut self, policy: usize, outcome: Outcome, amount: Option<Decimal>, error: bool) {
        if error {
            self.errors[policy] += 1;
        }
        let s = &mut self.policies[policy];
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

/// Records decided per task: small enough to spread a chunk over the threads, large
/// enough that a task's output buffers are reused many times.
const PART_SIZE: usize = 256;

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
    let n = rules.program.policies.len();
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
        errors: vec![0; n],
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .build()
        .map_err(|e| BatchError::Threads(e.to_string()))?;
    let job = Job {
        rules,
        plan: record::fast::ReadPlan::new(&rules.schema, rules.used_fields.clone()),
        compiled: CompiledRules::new(rules, config.ref_date),
        lines: LineTemplates::new(rules),
        subject,
        config,
    };
    let chunk_size = config.chunk_size.max(1);
    let mut input = input;
    let mut chunk: Vec<InputRecord> = input.by_ref().take(chunk_size).collect();
    // While the pool decides one chunk, this thread reads the next and writes the
    // outputs of the one before.
    let mut pending: Option<(Vec<Part>, u64)> = None;
    while !chunk.is_empty() {
        let mut next: Vec<InputRecord> = Vec::with_capacity(chunk_size);
        let mut parts: Vec<Part> = vec![];
        let written = pool.in_place_scope(|scope| {
            scope.spawn(|_| parts = decide_chunk(&job, &chunk, n));
            next.extend(input.by_ref().take(chunk_size));
            match pending.take() {
                Some((done, records)) => {
                    emit(done, records, &mut summary, sink)?;
                    progress(summary.read);
                    Ok(())
                }
                None => Ok::<(), BatchError>(()),
            }
        });
        written?;
        pending = Some((parts, chunk.len() as u64));
        chunk = next;
    }
    if let Some((done, records)) = pending {
        emit(done, records, &mut summary, sink)?;
        progress(summary.read);
    }
    Ok(summary)
}

/// Decides a chunk on the pool, in parts of consecutive records.
fn decide_chunk(job: &Job<'_>, chunk: &[InputRecord], policies: usize) -> Vec<Part> {
    chunk
        .par_chunks(PART_SIZE)
        .map_init(
            || Worker::new(job),
            |w, records| {
                let mut part = Part::new(policies);
                for r in records {
                    w.decide(r, &mut part);
                }
                part
            },
        )
        .collect()
}

/// Merges a decided chunk's parts, in order, into the summary and the sink.
fn emit(
    parts: Vec<Part>,
    records: u64,
    summary: &mut Summary,
    sink: &mut dyn Sink,
) -> Result<(), BatchError> {
    let mut out = ChunkOutput {
        records,
        ..ChunkOutput::default()
    };
    for part in parts {
        summary.read += part.read;
        summary.evaluated += part.evaluated;
        summary.rejected += part.rejected;
        out.grants.push_str(&part.out.grants);
        out.pushes.push_str(&part.out.pushes);
        out.rejected.push_str(&part.out.rejected);
        out.forms.push_str(&part.out.forms);
        out.errors.push_str(&part.out.errors);
        for (i, p) in part.policies.iter().enumerate() {
            let s = &mut summary.policies[i].1;
            s.eligible += p.eligible;
            s.not_eligible += p.not_eligible;
            s.undetermined += p.undetermined;
            s.amount += p.amount;
            summary.errors[i] += part.errors[i];
        }
    }
    sink.write(&out)?;
    Ok(())
}

/// What every worker of a run shares.
struct Job<'r> {
    rules: &'r RuleSet,
    plan: record::fast::ReadPlan,
    compiled: CompiledRules,
    lines: LineTemplates,
    subject: Option<usize>,
    config: &'r RunConfig,
}

/// One thread's reader, evaluator and row, reused record after record.
struct Worker<'j> {
    job: &'j Job<'j>,
    reader: RowReader<'j>,
    evaluator: RowEvaluator<'j>,
    row: Row,
}

impl<'j> Worker<'j> {
    fn new(job: &'j Job<'j>) -> Self {
        Worker {
            job,
            reader: RowReader::new(&job.rules.schema, &job.compiled.layout),
            evaluator: RowEvaluator::new(&job.compiled),
            row: Row::default(),
        }
    }

    fn decide(&mut self, input: &InputRecord, part: &mut Part) {
        part.read += 1;
        if self.job.config.bundle.is_none() {
            if let Source::Json(text) = &input.source {
                if self.fast(input.line, text, part) {
                    part.evaluated += 1;
                    return;
                }
            }
        }
        match decide_record(self.job, input, part) {
            true => part.evaluated += 1,
            false => part.rejected += 1,
        }
    }

    /// Decides a record with the compiled rules; `false` (with nothing written) when
    /// the record is left to the reference path.
    fn fast(&mut self, line: u64, text: &str, part: &mut Part) -> bool {
        let job = self.job;
        if self.reader.read(text, job.subject, &mut self.row).is_err() {
            return false;
        }
        let row = &self.row;
        self.evaluator.decide(row);
        let verdicts = self.evaluator.verdicts();
        // Undecided policies are decided again the reference way, which needs the
        // record as the reference evaluator reads it.
        let needs_reference = verdicts
            .iter()
            .any(|v| matches!(v, Verdict::Unknown | Verdict::Deferred));
        let record = if needs_reference {
            match record::fast::read_json(&job.rules.schema, &job.plan, Some(row.subject), text) {
                Some(r) => Some(r),
                None => return false,
            }
        } else {
            None
        };
        let id_buf;
        let subject_id = match row.id(&job.compiled.layout) {
            Some(id) => id,
            None => {
                id_buf = format!("line {line}");
                &id_buf
            }
        };
        for (i, v) in verdicts.iter().enumerate() {
            match *v {
                Verdict::NotApplicable => {}
                Verdict::NotEligible => part.count(i, Outcome::NotEligible, None, false),
                Verdict::Eligible { amount, extras } => {
                    part.count(i, Outcome::Eligible, amount.map(|a| a.1), false);
                    let extras = if extras.1 > 0 {
                        self.evaluator.extras(extras, row)
                    } else {
                        vec![]
                    };
                    job.lines
                        .eligible(&mut part.out, i, subject_id, amount, &extras);
                }
                Verdict::Unknown | Verdict::Deferred => {
                    let Some(rec) = &record else { continue };
                    let d = eval::evaluate_policy(
                        job.rules,
                        i,
                        rec,
                        job.config.ref_date,
                        EvalOptions::default(),
                    );
                    let amount = d.amount.as_ref().map(|a| a.value);
                    part.count(i, d.outcome, amount, d.error.is_some());
                    let policy = &job.rules.program.policies[i];
                    write_outputs(&mut part.out, subject_id, policy, &d, &job.rules.version);
                }
            }
        }
        true
    }
}

fn reject(part: &mut ChunkOutput, line: u64, id: Option<&str>, reason: &str) {
    let rejected = serde_json::to_string(&json!({
        "line": line,
        "subject": id,
        "reason": reason,
    }))
    .unwrap_or_default();
    part.rejected.push_str(&rejected);
    part.rejected.push('\n');
}

/// Decides a record the reference way; `false` when it is rejected.
fn decide_record(job: &Job<'_>, input: &InputRecord, part: &mut Part) -> bool {
    let (rules, subject, config) = (job.rules, job.subject, job.config);
    let ref_date = config.ref_date;
    let rec = match &input.source {
        Source::Json(text) => {
            match record::fast::read_json(&rules.schema, &job.plan, subject, text) {
                Some(r) => r,
                None => {
                    let e = record::fast::explain_failure(&rules.schema, subject, text);
                    let id = (!e.record.starts_with('(')).then_some(e.record.as_str());
                    let reason = if e.path.is_empty() {
                        e.message.clone()
                    } else {
                        format!("{}: {}", e.path, e.message)
                    };
                    reject(&mut part.out, input.line, id, &reason);
                    return false;
                }
            }
        }
        Source::Value(value) => {
            let subject = match subject {
                Some(s) => s,
                None => match record::detect_subject(&rules.schema, value, None) {
                    Ok(s) => s,
                    Err(m) => {
                        reject(&mut part.out, input.line, None, &m);
                        return false;
                    }
                },
            };
            match record::read_record(&rules.schema, subject, value) {
                Ok(r) => r,
                Err(e) => {
                    let id = (!e.record.starts_with('(')).then_some(e.record.as_str());
                    reject(
                        &mut part.out,
                        input.line,
                        id,
                        &format!("{}: {}", e.path, e.message),
                    );
                    return false;
                }
            }
        }
        Source::Unreadable(why) => {
            reject(&mut part.out, input.line, None, why);
            return false;
        }
    };
    let subject_id = rec
        .id
        .clone()
        .unwrap_or_else(|| format!("line {}", input.line));
    let decisions = eval::evaluate_all(rules, &rec, ref_date, EvalOptions::default());
    if let Some(b) = config.bundle {
        if rules.program.bundles[b].subject == rec.subject {
            let form = eval::prefill(rules, b, &rec, ref_date, EvalOptions::default());
            if form.any_available() {
                let v = json!({"subject": subject_id, "form": form});
                let _ = writeln!(part.out.forms, "{v}");
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
        part.count(pi, d.outcome, amount, d.error.is_some());
        write_outputs(&mut part.out, &subject_id, policy, d, &rules.version);
    }
    true
}

/// The constant parts of the grant and push lines of eligible decisions, escaped once
/// per run, so that a line is a few string copies.
struct LineTemplates {
    /// Per policy: `,"policy":…` up to the amount, the target file, and the tail from
    /// `,"basis"` to the end of the line.
    policies: Vec<(String, bool, String)>,
    /// Per policy, per amount rule: `"unit":…,"period":…` and the extras' keys.
    amounts: Vec<Vec<(String, Vec<String>)>>,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl LineTemplates {
    fn new(rules: &RuleSet) -> Self {
        let mut policies = vec![];
        let mut amounts = vec![];
        for p in &rules.program.policies {
            let mut head = format!(",\"policy\":{}", json_str(&p.id));
            let grant = p.mode == Mode::NoApplication;
            if !grant {
                let reason = if p.mode == Mode::PushAndConfirm {
                    "eligible_confirm"
                } else {
                    "eligible_apply"
                };
                head.push_str(&format!(",\"reason\":\"{reason}\""));
            }
            let mut tail = String::new();
            if let Some(b) = &p.basis {
                tail.push_str(&format!(",\"basis\":{}", json_str(b)));
            }
            tail.push_str(&format!(",\"rule_set\":{}}}\n", json_str(&rules.version)));
            policies.push((head, grant, tail));
            amounts.push(
                p.amounts
                    .iter()
                    .map(|a| {
                        (
                            format!(
                                "\"unit\":{},\"period\":{}",
                                json_str(&a.unit),
                                json_str(&a.period)
                            ),
                            a.extras.iter().map(|(k, _)| json_str(k)).collect(),
                        )
                    })
                    .collect(),
            );
        }
        LineTemplates { policies, amounts }
    }

    /// Writes the line of an eligible decision (the same bytes as [`write_outputs`]).
    fn eligible(
        &self,
        out: &mut ChunkOutput,
        policy: usize,
        subject: &str,
        amount: Option<(usize, Decimal)>,
        extras: &[(usize, crate::eval::ExtraValue)],
    ) {
        let (head, grant, tail) = &self.policies[policy];
        let target = if *grant {
            &mut out.grants
        } else {
            &mut out.pushes
        };
        target.push_str("{\"subject\":");
        push_json_str(target, subject);
        target.push_str(head);
        if let Some((rule, value)) = amount {
            let mut v = value;
            v.rescale(2);
            let (unit_period, keys) = &self.amounts[policy][rule];
            let _ = write!(target, ",\"amount\":{{\"value\":\"{v}\",{unit_period}");
            for (k, x) in extras {
                if let (Some(key), Ok(text)) = (keys.get(*k), serde_json::to_string(x)) {
                    let _ = write!(target, ",{key}:{text}");
                }
            }
            target.push('}');
        }
        target.push_str(tail);
    }
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&json_str(s));
    }
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
    out: &mut ChunkOutput,
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
