//! The nightly no-application batch: a population streamed through every policy.
//!
//! Records are read in chunks (JSON Lines in blocks of bytes, split into lines by the
//! workers' side); each chunk is decided in parallel (rayon) while the next is read
//! and the last written, and the outputs are written in input order, so the result is
//! the same whatever the number of threads, and memory stays flat however large the
//! input. Every input record is accounted for: read = evaluated + rejected.
//!
//! A record is decided by the fast tier ([`crate::fast`]) when it can
//! be, and by the reference evaluator when the compiled tier leaves a decision open
//! (missing data to name, an evaluation error) or the record must be read the
//! reference way (to explain why it does not fit the schema).

mod diff;
mod input;
mod lines;
mod worker;

pub use diff::{diff, diff_json_lines, DiffConfig, Impact};

use crate::compile::RuleSet;
use crate::record;
use chrono::NaiveDate;
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::panic::{catch_unwind, AssertUnwindSafe};
use worker::{Input, Job, Part, Stopped, Worker, PART_SIZE};

/// One input record, as it comes from the file.
#[derive(Debug, Clone)]
pub struct InputRecord {
    /// 1-based line (or row) number in the input.
    pub line: u64,
    /// The record's text (one JSON object) or an already built value, or why the line
    /// could not be read.
    pub source: Source,
}

impl InputRecord {
    /// A record given as JSON text (one object), on input line `line`.
    pub fn json(line: u64, text: impl Into<String>) -> Self {
        InputRecord {
            line,
            source: Source::Json(text.into()),
        }
    }

    /// A record given as a serde value, on input line (or row) `line`.
    pub fn value(line: u64, value: serde_json::Value) -> Self {
        InputRecord {
            line,
            source: Source::Value(value),
        }
    }
}

/// The content of an input record: text to parse, a value already built, or a line
/// that could not be read (it becomes a rejected record).
#[derive(Debug, Clone)]
pub enum Source {
    /// A JSON object as text (JSON Lines).
    Json(String),
    /// A value already built (from CSV, a database, a host's own parser).
    Value(serde_json::Value),
    /// The line could not be read at all.
    Unreadable(String),
}

/// Settings of a batch run: the reference date, the parallelism, the subject kind, the
/// reading limits and the budget. [`RunConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The reference date every record is decided on.
    pub ref_date: NaiveDate,
    /// Records decided together (and held in memory at once) by
    /// [`RuleSet::run`](crate::RuleSet::run), the record iterator (CSV) path;
    /// [`RuleSet::run_json_lines`](crate::RuleSet::run_json_lines) reads blocks of text
    /// instead.
    pub chunk_size: usize,
    /// The subject kind of the records; recognised per record when `None`.
    pub subject: Option<String>,
    /// Worker threads; all cores when `None`.
    pub threads: Option<usize>,
    /// Also pre-fill this bundle (index) for every subject with an available member.
    pub bundle: Option<usize>,
    /// How records are read: strict or lenient, and the limits of a record's text
    /// (a JSON line longer than [`record::ReadOptions::max_bytes`] is rejected without
    /// being held in memory).
    pub read: record::ReadOptions,
    /// The budget of evaluation steps per decision ([`crate::eval::EvalOptions::budget`]).
    pub budget: u64,
    /// Also write the near misses (`near.jsonl`): every not-eligible decision that
    /// fails at least one and at most this many clauses, the policy being in force
    /// ([`crate::NearMiss`]). `None`: no near misses.
    pub near_miss: Option<usize>,
    /// Also write a visit line ([`crate::Visit`], [`ChunkOutput::visits`]) for
    /// every subject with a decision undetermined for missing data, grouped by the
    /// value at this dotted path of the record (`person.grid`). `None`: no visits.
    pub visits_by: Option<String>,
    /// Testing only: deciding the record on this input line panics (in the compiled
    /// tier, when it reads the record), so that tests can see a panic end the run with
    /// [`BatchError::Internal`]. `None` in a real run.
    #[doc(hidden)]
    pub panic_at_line: Option<u64>,
}

impl RunConfig {
    /// A run on `ref_date` with the defaults: records of any subject kind (told by
    /// their top-level key), all cores, chunks of 4,096 records, the strict reader, the
    /// default budget, no bundle forms.
    pub fn new(ref_date: NaiveDate) -> Self {
        RunConfig {
            ref_date,
            chunk_size: 4096,
            subject: None,
            threads: None,
            bundle: None,
            read: record::ReadOptions::default(),
            budget: crate::eval::DEFAULT_BUDGET,
            near_miss: None,
            visits_by: None,
            panic_at_line: None,
        }
    }

    /// The options of the reference evaluations of a run.
    pub fn eval_options(&self) -> crate::eval::EvalOptions {
        crate::eval::EvalOptions {
            budget: self.budget,
            ..Default::default()
        }
    }
}

/// Where the outputs of a run go, chunk by chunk, in input order.
pub trait Sink {
    /// Takes the JSON Lines text of one chunk's grants, pushes and rejected records.
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()>;
}

/// The outputs of one chunk, as JSON Lines text.
#[derive(Debug, Default, Clone)]
pub struct ChunkOutput {
    /// `grants.jsonl` lines: one per eligible decision of a `no_application` policy.
    pub grants: String,
    /// `pushes.jsonl` lines: eligible or undetermined decisions of the other policies,
    /// to be confirmed by the citizen.
    pub pushes: String,
    /// `rejected.jsonl` lines: records that could not be read, with the line, the
    /// reason and its code.
    pub rejected: String,
    /// forms.jsonl lines (pre-filled bundle forms), when a bundle is asked for.
    pub forms: String,
    /// errors.jsonl lines: decisions the rule text leaves undefined.
    pub errors: String,
    /// near.jsonl lines: near misses, when asked for ([`RunConfig::near_miss`]).
    pub near: String,
    /// Visit lines, when asked for ([`RunConfig::visits_by`]): one
    /// [`crate::Visit`] as JSON a line, in input order.
    pub visits: String,
    /// changes.jsonl lines of a diff (`RuleSet::diff`): one [`crate::Change`] a line.
    pub changes: String,
    /// Input records in the chunk (read = evaluated + rejected).
    pub records: u64,
}

/// Per-policy counts and the exact sum of the eligible amounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicySummary {
    /// Subjects decided eligible.
    pub eligible: u64,
    /// Subjects decided not eligible.
    pub not_eligible: u64,
    /// Subjects left undetermined (missing data or an evaluation error).
    pub undetermined: u64,
    /// The exact sum of the eligible subjects' amounts.
    #[serde(serialize_with = "two_places")]
    pub amount: Decimal,
}

fn two_places<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::value::money(*d).to_string())
}

/// The summary of a batch run: per-policy counts and sums, and every input record
/// accounted for (read = evaluated + rejected).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Policy ids with their summaries, in rule-set order.
    pub policies: Vec<(String, PolicySummary)>,
    /// Input records read (blank lines are not records).
    pub read: u64,
    /// Records decided.
    pub evaluated: u64,
    /// Records that could not be read (lines of `rejected.jsonl`).
    pub rejected: u64,
    /// The rule set's version ([`RuleSet::version`](crate::RuleSet::version)).
    pub rule_set: String,
    /// The reference date of the run.
    pub reference_date: NaiveDate,
    /// Per policy (same order): undetermined decisions that are evaluation errors.
    pub errors: Vec<u64>,
    /// A lenient run: per undeclared key path (list items as `[]`), the records that
    /// carried it. Empty in a strict run (such records are rejected).
    pub unknown_fields: std::collections::BTreeMap<String, u64>,
    /// Input lines with nothing but white space (not records, so not in `read`).
    pub blank_lines: u64,
    /// Per policy (same order): the missing field paths of its undetermined decisions
    /// (list items as `[]`), with how many decisions each blocks alone.
    pub missing: Vec<MissingFields>,
    /// Per policy (same order): its near misses (`--near-miss`, [`RunConfig::near_miss`]).
    pub near_misses: Vec<u64>,
    /// The `K` of the near misses looked for, `None` when they were not.
    pub near_miss: Option<usize>,
}

/// Per missing field path (list items written `[]`, [`crate::reach::field_of`]): the
/// undetermined decisions it blocks.
pub type MissingFields = std::collections::BTreeMap<String, MissingCount>;

/// How many undetermined decisions a missing field blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MissingCount {
    /// Decisions in which it is the only missing field: knowing it alone would decide
    /// them.
    pub alone: u64,
    /// Decisions in which it is missing, alone or with other fields.
    pub total: u64,
}

impl MissingCount {
    /// Adds the counts of `other`.
    pub fn add(&mut self, other: MissingCount) {
        self.alone += other.alone;
        self.total += other.total;
    }
}

/// Missing fields ranked: the most decisions blocked alone first, then the most
/// decisions missing it, then by path.
pub fn rank_missing(fields: &MissingFields) -> Vec<(&str, MissingCount)> {
    let mut ranked: Vec<(&str, MissingCount)> =
        fields.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    ranked.sort_by(|a, b| {
        b.1.alone
            .cmp(&a.1.alone)
            .then(b.1.total.cmp(&a.1.total))
            .then(a.0.cmp(b.0))
    });
    ranked
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

    /// The missing fields of every policy together (each decision counted once per
    /// path, as in the policies').
    pub fn missing_overall(&self) -> MissingFields {
        let mut all = MissingFields::new();
        for fields in &self.missing {
            for (path, n) in fields {
                all.entry(path.clone()).or_default().add(*n);
            }
        }
        all
    }

    /// The `missing_fields` block: overall and per policy (policies with none left
    /// out), each ranked: the most decisions blocked alone first, then the most
    /// decisions missing it, then by path.
    pub fn missing_json(&self) -> serde_json::Value {
        let ranked = |fields: &MissingFields| {
            rank_missing(fields)
                .into_iter()
                .map(|(path, n)| json!({"path": path, "blocks_alone": n.alone, "missing_in": n.total}))
                .collect::<Vec<_>>()
        };
        let policies: serde_json::Map<String, serde_json::Value> = self
            .policies
            .iter()
            .zip(&self.missing)
            .filter(|(_, m)| !m.is_empty())
            .map(|((id, _), m)| (id.clone(), json!(ranked(m))))
            .collect();
        json!({"overall": ranked(&self.missing_overall()), "policies": policies})
    }

    /// The whole summary file; `elapsed_seconds` is the caller's measurement.
    pub fn to_json(&self, elapsed_seconds: Option<f64>) -> serde_json::Value {
        let mut out = self.run_json(elapsed_seconds);
        if let Some(map) = out.as_object_mut() {
            map.insert("missing_fields".into(), self.missing_json());
            if let Some(k) = self.near_miss {
                let counts: serde_json::Map<String, serde_json::Value> = self
                    .policies
                    .iter()
                    .zip(&self.near_misses)
                    .map(|((id, _), n)| (id.clone(), json!(n)))
                    .collect();
                map.insert(
                    "near_misses".into(),
                    json!({"max_failed": k, "policies": counts}),
                );
            }
        }
        out
    }

    fn run_json(&self, elapsed_seconds: Option<f64>) -> serde_json::Value {
        json!({
            "policies": self.policies_json(),
            "run": {
                "records_read": self.read,
                "evaluated": self.evaluated,
                "rejected": self.rejected,
                "accounted": self.read == self.evaluated + self.rejected,
                "blank_lines": self.blank_lines,
                "rule_set": self.rule_set,
                "reference_date": self.reference_date.to_string(),
                "evaluation_errors": self
                    .policies
                    .iter()
                    .zip(&self.errors)
                    .filter(|(_, n)| **n > 0)
                    .map(|((id, _), n)| (id.clone(), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
                "unknown_fields": self
                    .unknown_fields
                    .iter()
                    .map(|(k, n)| (k.clone(), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
                "elapsed_seconds": elapsed_seconds,
            }
        })
    }
}

/// Why a batch run could not go on. A record that cannot be read is not one: it is a
/// rejected record, and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The sink failed: its error.
    #[error("writing the outputs failed: {0}")]
    Output(#[from] std::io::Error),
    /// Reading the input failed: the reader's error.
    #[error("reading the input failed: {0}")]
    Input(std::io::Error),
    /// [`RunConfig::subject`] names no subject kind of the schema.
    #[error("{0}")]
    Subject(String),
    /// The worker threads could not be started.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    /// Deciding a record panicked: a bug of the engine, not of the rules or the input.
    /// The run stopped at once; the outputs written so far are incomplete.
    #[error(
        "internal error{}{}: {message}",
        .line.map(|l| format!(" deciding the record on line {l}")).unwrap_or_default(),
        .policy.as_ref().map(|p| format!(", policy `{p}`")).unwrap_or_default()
    )]
    Internal {
        /// The input line (or row) of the record, when the panic was deciding one.
        line: Option<u64>,
        /// The id of the policy being decided, when it could be found.
        policy: Option<String>,
        /// The panic's message, to report.
        message: String,
    },
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
    let chunk_size = config.chunk_size.max(1);
    let mut input = input;
    let next = |_spent: Option<Vec<InputRecord>>| -> Result<Option<Vec<InputRecord>>, BatchError> {
        let chunk: Vec<InputRecord> = input.by_ref().take(chunk_size).collect();
        Ok((!chunk.is_empty()).then_some(chunk))
    };
    let decide = |job: &Job<'_>, chunk: &Vec<InputRecord>| -> Result<Vec<Part>, Stopped> {
        chunk
            .par_chunks(PART_SIZE)
            .map_init(
                || Worker::new(job),
                |w, records| {
                    w.decide_part(records.iter().map(|r| (r.line, Input::from(&r.source))))
                },
            )
            .collect()
    };
    pipeline(rules, config, next, decide, sink, &mut |s, _| {
        progress(s.read)
    })
}

/// Runs the batch over JSON Lines read from `reader` (one record a line; blank lines
/// are not records), writing to `sink`; `progress` is told the records and bytes done
/// after every block.
pub fn run_json_lines<R: std::io::Read>(
    rules: &RuleSet,
    reader: R,
    config: &RunConfig,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Summary, BatchError> {
    let mut blocks = input::BlockReader::new(reader, config.read.max_bytes);
    let mut blank = 0;
    let next = |spent| {
        let block = blocks.next_block(spent).map_err(BatchError::Input)?;
        blank += block.as_ref().map_or(0, |b| b.blank);
        Ok(block)
    };
    let decide = |job: &Job<'_>, block: &input::Block| -> Result<Vec<Part>, Stopped> {
        block
            .lines
            .par_chunks(PART_SIZE)
            .map_init(
                || Worker::new(job),
                |w, lines| w.decide_part(lines.iter().map(|l| block_input(block, l))),
            )
            .collect()
    };
    let mut bytes = 0u64;
    let summary = pipeline(rules, config, next, decide, sink, &mut |s, b| {
        bytes += b;
        progress(s.read, bytes)
    });
    summary.map(|s| Summary {
        blank_lines: blank,
        ..s
    })
}

/// A line of a block as a worker gets it: its number and its text (or why not).
fn block_input<'b>(
    block: &'b input::Block,
    &(line, start, end): &(u64, usize, usize),
) -> (u64, Input<'b>) {
    let input = if start == input::TOO_LONG {
        Input::TooLong(end)
    } else {
        match block.text.get(start..end).map(std::str::from_utf8) {
            Some(Ok(text)) => Input::Json(text),
            Some(Err(_)) => Input::Unreadable("the line is not valid UTF-8"),
            None => Input::Unreadable("the line lies outside its block"),
        }
    };
    (line, input)
}

/// The bytes of input a unit of work covers (for progress).
trait Unit {
    fn bytes(&self) -> u64;
}

impl Unit for Vec<InputRecord> {
    fn bytes(&self) -> u64 {
        0
    }
}

impl Unit for input::Block {
    fn bytes(&self) -> u64 {
        self.text.len() as u64
    }
}

/// The run: while the pool decides one unit of input, this thread reads the next and
/// writes the outputs of the one before.
fn pipeline<U: Unit + Send + Sync>(
    rules: &RuleSet,
    config: &RunConfig,
    next: impl FnMut(Option<U>) -> Result<Option<U>, BatchError>,
    decide: impl Fn(&Job<'_>, &U) -> Result<Vec<Part>, Stopped> + Sync,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(&Summary, u64),
) -> Result<Summary, BatchError> {
    let subject = subject_index(rules, config)?;
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
        unknown_fields: Default::default(),
        blank_lines: 0,
        missing: vec![Default::default(); n],
        near_misses: vec![0; n],
        near_miss: config.near_miss,
    };
    let pool = thread_pool(config)?;
    let job = Job::new(rules, config, subject);
    stream(
        &pool,
        &job,
        next,
        |unit| decide(&job, unit),
        |parts, unit| {
            emit(parts, &mut summary, sink)?;
            progress(&summary, unit.bytes());
            Ok(())
        },
    )?;
    Ok(summary)
}

/// The index of the subject kind `config` names, `None` when it names none (records
/// of any kind).
fn subject_index(rules: &RuleSet, config: &RunConfig) -> Result<Option<usize>, BatchError> {
    match &config.subject {
        Some(s) => Ok(Some(
            rules
                .schema
                .subjects
                .iter()
                .position(|d| &d.name == s)
                .ok_or_else(|| BatchError::Subject(format!("unknown subject kind `{s}`")))?,
        )),
        None => Ok(None),
    }
}

/// The worker threads of a run.
fn thread_pool(config: &RunConfig) -> Result<rayon::ThreadPool, BatchError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .stack_size(crate::check::EVAL_STACK)
        .build()
        .map_err(|e| BatchError::Threads(e.to_string()))
}

/// Streams units of input through the pool: `next` reads a unit (reusing a spent one),
/// `decide` decides it into parts on the pool, `emit` takes the parts of each unit in
/// input order on this thread. A few units are in flight at once, so memory stays flat;
/// a panic deciding a unit fails the run through `job` (its stop flag and fault).
fn stream<U: Send + Sync, P: Send>(
    pool: &rayon::ThreadPool,
    job: &Job<'_>,
    mut next: impl FnMut(Option<U>) -> Result<Option<U>, BatchError>,
    decide: impl Fn(&U) -> Result<Vec<P>, Stopped> + Sync,
    mut emit: impl FnMut(Vec<P>, &U) -> Result<(), BatchError>,
) -> Result<(), BatchError> {
    let rules = job.rules;
    // Units are decided on the pool, a few in flight, while this thread reads the next
    // ones and writes the outputs of finished ones in input order; no unit waits for
    // another to finish before it starts. Every unit sent is answered, even when its
    // deciding panics, so this thread never waits for an answer that will not come; a
    // unit that failed ends the run, and the units in flight stop at their next part.
    type Done<U, P> = (u64, Result<Vec<P>, Stopped>, U);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Done<U, P>>();
    let mut spare: Vec<U> = vec![];
    let mut finished: std::collections::BTreeMap<u64, (Vec<P>, U)> = Default::default();
    pool.in_place_scope(|scope| -> Result<(), BatchError> {
        let decide = &decide;
        let (mut sent, mut written) = (0u64, 0u64);
        let mut input_done = false;
        let mut run = || -> Result<(), BatchError> {
            loop {
                while !input_done && sent - written < IN_FLIGHT {
                    match next(spare.pop())? {
                        Some(unit) => {
                            let tx = done_tx.clone();
                            let k = sent;
                            scope.spawn(move |_| {
                                // A panic outside the parts (they catch their own).
                                let parts = catch_unwind(AssertUnwindSafe(|| decide(&unit)))
                                    .unwrap_or_else(|payload| {
                                        job.fail(worker::Fault {
                                            line: None,
                                            policy: None,
                                            message: crate::eval::panic_message(&*payload),
                                        });
                                        Err(Stopped)
                                    });
                                // The receiver outlives the scope: sending cannot fail.
                                let _ = tx.send((k, parts, unit));
                            });
                            sent += 1;
                        }
                        None => input_done = true,
                    }
                }
                if written == sent {
                    return Ok(());
                }
                let Ok((k, parts, unit)) = done_rx.recv() else {
                    return Ok(());
                };
                let Ok(parts) = parts else {
                    return Err(internal_error(rules, job.take_fault()));
                };
                finished.insert(k, (parts, unit));
                while let Some((parts, unit)) = finished.remove(&written) {
                    emit(parts, &unit)?;
                    spare.push(unit);
                    written += 1;
                }
            }
        };
        let outcome = run();
        if outcome.is_err() {
            // The units in flight need not be finished: the scope waits for them.
            job.stop();
        }
        outcome
    })
}

/// The error of a failed run.
fn internal_error(rules: &RuleSet, fault: Option<worker::Fault>) -> BatchError {
    let fault = fault.unwrap_or(worker::Fault {
        line: None,
        policy: None,
        message: "a worker stopped".into(),
    });
    BatchError::Internal {
        line: fault.line,
        policy: fault
            .policy
            .and_then(|i| rules.program.policies.get(i))
            .map(|p| p.id.clone()),
        message: fault.message,
    }
}

/// Units decided at once: enough to keep every thread busy while the next is read,
/// few enough that memory stays flat.
const IN_FLIGHT: u64 = 4;

/// Merges a decided unit's parts, in order, into the summary and hands their outputs to
/// the sink.
fn emit(parts: Vec<Part>, summary: &mut Summary, sink: &mut dyn Sink) -> Result<(), BatchError> {
    for mut part in parts {
        summary.read += part.read;
        summary.evaluated += part.evaluated;
        summary.rejected += part.rejected;
        for (k, n) in std::mem::take(&mut part.unknown) {
            *summary.unknown_fields.entry(k).or_default() += n;
        }
        for (total, fields) in summary.missing.iter_mut().zip(&mut part.missing) {
            for (k, n) in std::mem::take(fields) {
                total.entry(k).or_default().add(n);
            }
        }
        for (total, n) in summary.near_misses.iter_mut().zip(&part.near_misses) {
            *total += n;
        }
        // Parts and the summary have one entry per policy.
        let totals = summary.policies.iter_mut().zip(summary.errors.iter_mut());
        for ((p, errors), ((_, s), total_errors)) in
            part.policies.iter().zip(&part.errors).zip(totals)
        {
            s.eligible += p.eligible;
            s.not_eligible += p.not_eligible;
            s.undetermined += p.undetermined;
            s.amount += p.amount;
            *total_errors += errors;
        }
        part.out.records = part.read;
        sink.write(&part.out)?;
    }
    Ok(())
}
