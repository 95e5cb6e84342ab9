//! Change impact over a population (`mianshen diff`): every record decided under two
//! versions of the rules — two rule sets, or one rule set on two dates — streamed as
//! `run` streams, and the decisions that differ written out.
//!
//! Each record is read and decided by the fast tier of either version (its own rows,
//! its own date); what the fast tier leaves open is decided by the reference
//! evaluator, exactly as `run` does. Only a decision whose outcome or amount differs
//! between the versions is decided again, with traces on both sides, by the reference
//! evaluator: its change line (`changes.jsonl`) and its counts come from those two
//! reference decisions, which also name the clauses whose value changed. A record
//! either version's reader refuses is rejected (`rejected.jsonl`), once.

use super::worker::{fault_of, internal, read_reference, Input, Job, Stopped, PART_SIZE};
use super::{block_input, input, stream, subject_index, thread_pool, Unit};
use super::{BatchError, ChunkOutput, InputRecord, RunConfig, Sink};
use crate::compile::RuleSet;
use crate::eval::{self, Decision, EvalOptions, Outcome};
use crate::fast::{FastDecider, Verdict};
use crate::reach::{self, PolicyImpact, Presence, Side};
use crate::record::{self, Record};
use crate::syntax::ast::Mode;
use chrono::NaiveDate;
use rayon::prelude::*;
use serde_json::json;
use smallvec::SmallVec;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

/// Settings of a diff.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    /// The run's settings; its reference date is the earlier version's.
    pub run: RunConfig,
    /// The later version's reference date (the earlier's for two rule sets on one
    /// date).
    pub after_date: NaiveDate,
}

/// The impact of a diff: per policy, the counts of [`PolicyImpact`].
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    /// Per policy (the earlier rule set's in order, then those only in the later).
    pub policies: Vec<(String, PolicyImpact)>,
    /// Records read.
    pub read: u64,
    /// Records decided under both versions.
    pub evaluated: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Input lines with nothing but white space.
    pub blank_lines: u64,
    /// The earlier version: its rule-set version hash and date.
    pub before: (String, NaiveDate),
    /// The later version: its rule-set version hash and date.
    pub after: (String, NaiveDate),
}

impl Impact {
    /// The change lines written (decisions that differ).
    pub fn changes(&self) -> u64 {
        self.policies.iter().map(|(_, p)| p.changed).sum()
    }

    /// Those to tell the subject about.
    pub fn to_notify(&self) -> u64 {
        self.policies.iter().map(|(_, p)| p.notify).sum()
    }

    /// `impact.json`; `elapsed_seconds` is the caller's measurement.
    pub fn to_json(&self, elapsed_seconds: Option<f64>) -> serde_json::Value {
        let policies: serde_json::Map<String, serde_json::Value> = self
            .policies
            .iter()
            .map(|(id, p)| (id.clone(), serde_json::to_value(p).unwrap_or_default()))
            .collect();
        json!({
            "before": {"rule_set": self.before.0, "reference_date": self.before.1.to_string()},
            "after": {"rule_set": self.after.0, "reference_date": self.after.1.to_string()},
            "policies": policies,
            "run": {
                "records_read": self.read,
                "evaluated": self.evaluated,
                "rejected": self.rejected,
                "accounted": self.read == self.evaluated + self.rejected,
                "blank_lines": self.blank_lines,
                "changes": self.changes(),
                "notify": self.to_notify(),
                "elapsed_seconds": elapsed_seconds,
            }
        })
    }
}

/// Diffs the records of `input` (CSV rows, values) under `before` on the run's date
/// and `after` on `config.after_date`, writing `changes` and `rejected` to `sink`.
pub fn diff<I>(
    before: &RuleSet,
    after: &RuleSet,
    input: I,
    config: &DiffConfig,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64),
) -> Result<Impact, BatchError>
where
    I: Iterator<Item = InputRecord>,
{
    let chunk_size = config.run.chunk_size.max(1);
    let mut input = input;
    let next = |_spent: Option<Vec<InputRecord>>| -> Result<Option<Vec<InputRecord>>, BatchError> {
        let chunk: Vec<InputRecord> = input.by_ref().take(chunk_size).collect();
        Ok((!chunk.is_empty()).then_some(chunk))
    };
    let decide = |sides: &Sides<'_>, chunk: &Vec<InputRecord>| -> Result<Vec<DiffPart>, Stopped> {
        chunk
            .par_chunks(PART_SIZE)
            .map_init(
                || DiffWorker::new(sides),
                |w, records| {
                    w.decide_part(records.iter().map(|r| (r.line, Input::from(&r.source))))
                },
            )
            .collect()
    };
    pipeline(before, after, config, next, decide, sink, &mut |i, _| {
        progress(i.read)
    })
}

/// Diffs JSON Lines read from `reader` (as [`diff`]); `progress` is told the records
/// and bytes done after every block.
pub fn diff_json_lines<R: std::io::Read>(
    before: &RuleSet,
    after: &RuleSet,
    reader: R,
    config: &DiffConfig,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Impact, BatchError> {
    let mut blocks = input::BlockReader::new(reader, config.run.read.max_bytes);
    let mut blank = 0;
    let next = |spent| {
        let block = blocks.next_block(spent).map_err(BatchError::Input)?;
        blank += block.as_ref().map_or(0, |b| b.blank);
        Ok(block)
    };
    let decide = |sides: &Sides<'_>, block: &input::Block| -> Result<Vec<DiffPart>, Stopped> {
        block
            .lines
            .par_chunks(PART_SIZE)
            .map_init(
                || DiffWorker::new(sides),
                |w, lines| w.decide_part(lines.iter().map(|l| block_input(block, l))),
            )
            .collect()
    };
    let mut bytes = 0u64;
    let impact = pipeline(before, after, config, next, decide, sink, &mut |i, b| {
        bytes += b;
        progress(i.read, bytes)
    });
    impact.map(|i| Impact {
        blank_lines: blank,
        ..i
    })
}

/// What the workers of a diff share: either version's run state, and the policies
/// paired by id.
struct Sides<'r> {
    before: Job<'r>,
    after: Job<'r>,
    /// Policy id, index in the earlier rule set, index in the later one.
    pairs: Vec<(String, Option<usize>, Option<usize>)>,
    /// Per pair: the later rule set's mode of the policy.
    modes: Vec<Option<Mode>>,
    /// The two rule sets read records alike (the same schema and fields read, as one
    /// rule set on two dates): a record is read once for both.
    shared: bool,
}

fn pipeline<U: Unit + Send + Sync>(
    before: &RuleSet,
    after: &RuleSet,
    config: &DiffConfig,
    next: impl FnMut(Option<U>) -> Result<Option<U>, BatchError>,
    decide: impl Fn(&Sides<'_>, &U) -> Result<Vec<DiffPart>, Stopped> + Sync,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(&Impact, u64),
) -> Result<Impact, BatchError> {
    let after_config = RunConfig {
        ref_date: config.after_date,
        ..config.run.clone()
    };
    let pairs = reach::policy_pairs(before, after);
    let modes = pairs
        .iter()
        .map(|(_, _, a)| {
            a.and_then(|i| after.program.policies.get(i))
                .map(|p| p.mode)
        })
        .collect();
    // Two rule sets of one schema read records with the fields either reads: a record
    // is then read once for both.
    let shared = std::ptr::eq(before, after) || before.schema == after.schema;
    let (used_before, used_after) = if shared {
        let union: Vec<Vec<bool>> = before
            .used_fields
            .iter()
            .zip(&after.used_fields)
            .map(|(x, y)| x.iter().zip(y).map(|(a, b)| *a || *b).collect())
            .collect();
        (union.clone(), union)
    } else {
        (before.used_fields.clone(), after.used_fields.clone())
    };
    let sides = Sides {
        before: Job::with_fields(
            before,
            &config.run,
            subject_index(before, &config.run)?,
            used_before,
        ),
        after: Job::with_fields(
            after,
            &after_config,
            subject_index(after, &after_config)?,
            used_after,
        ),
        pairs,
        modes,
        shared,
    };
    let mut impact = Impact {
        policies: sides
            .pairs
            .iter()
            .map(|(id, b, a)| {
                let presence = match (b, a) {
                    (Some(_), None) => Presence::Gone,
                    (None, Some(_)) => Presence::New,
                    _ => Presence::Both,
                };
                (
                    id.clone(),
                    PolicyImpact {
                        presence,
                        ..PolicyImpact::default()
                    },
                )
            })
            .collect(),
        read: 0,
        evaluated: 0,
        rejected: 0,
        blank_lines: 0,
        before: (before.version.clone(), config.run.ref_date),
        after: (after.version.clone(), config.after_date),
    };
    let pool = thread_pool(&config.run)?;
    stream(
        &pool,
        &sides.before,
        next,
        |unit| decide(&sides, unit),
        |parts, unit| {
            for mut part in parts {
                impact.read += part.read;
                impact.evaluated += part.evaluated;
                impact.rejected += part.rejected;
                for ((_, total), p) in impact.policies.iter_mut().zip(&part.impact) {
                    total.merge(p);
                }
                part.out.records = part.read;
                sink.write(&part.out)?;
            }
            progress(&impact, unit.bytes());
            Ok(())
        },
    )?;
    Ok(impact)
}

/// The outputs and counts of a run of consecutive records.
struct DiffPart {
    out: ChunkOutput,
    /// Per policy pair.
    impact: Vec<PolicyImpact>,
    read: u64,
    evaluated: u64,
    rejected: u64,
}

/// One thread's readers and deciders of either version.
struct DiffWorker<'j> {
    sides: &'j Sides<'j>,
    before: FastDecider<'j>,
    after: FastDecider<'j>,
}

/// A record's decisions of one version, per policy (its rule-set order): `None` for a
/// policy about another subject kind.
type Decided = Vec<Option<Side>>;

impl<'j> DiffWorker<'j> {
    fn new(sides: &'j Sides<'j>) -> Self {
        DiffWorker {
            sides,
            before: FastDecider::new(sides.before.rules, &sides.before.fast),
            after: FastDecider::new(sides.after.rules, &sides.after.fast),
        }
    }

    /// Decides a run of consecutive records into a part; a panic fails the run (as
    /// [`super::worker::Worker::decide_part`]).
    fn decide_part<'i>(
        &mut self,
        records: impl Iterator<Item = (u64, Input<'i>)>,
    ) -> Result<DiffPart, Stopped> {
        let job = &self.sides.before;
        if job.stopped.load(Ordering::Relaxed) {
            return Err(Stopped);
        }
        let mut part = DiffPart {
            out: ChunkOutput::default(),
            impact: vec![PolicyImpact::default(); self.sides.pairs.len()],
            read: 0,
            evaluated: 0,
            rejected: 0,
        };
        let mut current = None;
        let decided = catch_unwind(AssertUnwindSafe(|| {
            for (line, input) in records {
                current = Some(line);
                self.decide(line, input, &mut part);
            }
        }));
        match decided {
            Ok(()) => Ok(part),
            Err(payload) => {
                job.fail(fault_of(payload, current, || None));
                Err(Stopped)
            }
        }
    }

    fn decide(&mut self, line: u64, input: Input<'_>, part: &mut DiffPart) {
        part.read += 1;
        if let Input::Json(text) = input {
            if self.fast(line, text, part) {
                part.evaluated += 1;
                return;
            }
        }
        match self.reference(line, input, part) {
            true => part.evaluated += 1,
            false => part.rejected += 1,
        }
    }

    /// Decides a record with both versions' fast tiers (the reference evaluator for
    /// what they leave open); `false`, with nothing written, when it is left to the
    /// reference path.
    fn fast(&mut self, line: u64, text: &str, part: &mut DiffPart) -> bool {
        let sides = self.sides;
        if self.before.read(text, sides.before.subject).is_err() {
            return false;
        }
        self.before.decide();
        // One rule set on two dates reads the record once.
        let after_reads = if sides.shared {
            self.after.decide_read_by(&self.before);
            &self.before
        } else {
            if self.after.read(text, sides.after.subject).is_err() {
                return false;
            }
            self.after.decide();
            &self.after
        };
        let (kind_before, kind_after) = (self.before.subject(), after_reads.subject());
        let mut records = Records::default();
        let Some(before) = fast_sides(
            &sides.before,
            &self.before,
            kind_before,
            text,
            &mut records.before,
        ) else {
            return false;
        };
        if sides.shared {
            records.after.clone_from(&records.before);
        }
        let Some(after) = fast_sides(
            &sides.after,
            &self.after,
            kind_after,
            text,
            &mut records.after,
        ) else {
            return false;
        };
        let id_buf;
        let subject = match after_reads.subject_id().or(self.before.subject_id()) {
            Some(id) => id,
            None => {
                id_buf = format!("line {line}");
                &id_buf
            }
        };
        // The records of both versions, read the reference way when a decision changes
        // that the two sides alone do not tell.
        let changed = sides.pairs.iter().any(|(_, b, a)| {
            let (sb, sa) = (side(&before, *b), side(&after, *a));
            reach::differs(sb, sa)
                && !(settled(&sides.before, *b, sb) && settled(&sides.after, *a, sa))
        });
        if changed {
            if records.before.is_none() {
                records.before = record::fast::read_json(
                    &sides.before.rules.schema,
                    &sides.before.plan,
                    Some(kind_before),
                    text,
                );
            }
            if records.after.is_none() {
                records.after = if sides.shared {
                    records.before.clone()
                } else {
                    record::fast::read_json(
                        &sides.after.rules.schema,
                        &sides.after.plan,
                        Some(kind_after),
                        text,
                    )
                };
            }
            if records.before.is_none() || records.after.is_none() {
                return false;
            }
        }
        write(sides, part, subject, &before, &after, &records);
        true
    }

    /// Decides a record the reference way under both versions; `false` when either
    /// version's reader rejects it (one rejected line, the earlier version's reason
    /// first).
    fn reference(&mut self, line: u64, input: Input<'_>, part: &mut DiffPart) -> bool {
        let sides = self.sides;
        let mut unknown = Default::default();
        let Some(rec_before) =
            read_reference(&sides.before, line, input, &mut part.out, &mut unknown)
        else {
            return false;
        };
        let Some(rec_after) =
            read_reference(&sides.after, line, input, &mut part.out, &mut unknown)
        else {
            return false;
        };
        let decide = |job: &Job<'_>, rec: &Record| -> Decided {
            let rules = job.rules;
            let of_subject = (0..rules.program.policies.len()).filter(|&i| {
                rules
                    .program
                    .policies
                    .get(i)
                    .is_some_and(|p| p.subject == rec.subject)
            });
            let mut out = vec![None; rules.program.policies.len()];
            let decided = eval::evaluate_policies(
                rules,
                rec,
                job.config.ref_date,
                job.config.eval_options(),
                of_subject,
            );
            for (i, d) in decided {
                check_internal(i, &d);
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(Side::of(&d));
                }
            }
            out
        };
        let before = decide(&sides.before, &rec_before);
        let after = decide(&sides.after, &rec_after);
        let subject = rec_after
            .id
            .clone()
            .or_else(|| rec_before.id.clone())
            .unwrap_or_else(|| format!("line {line}"));
        let records = Records {
            before: Some(rec_before),
            after: Some(rec_after),
        };
        write(sides, part, &subject, &before, &after, &records);
        true
    }
}

/// A record as each version's reference reader reads it, when it has been read.
#[derive(Default)]
struct Records {
    before: Option<Record>,
    after: Option<Record>,
}

/// The side of policy `index` (`None`: not in the rule set, or about another kind).
fn side(decided: &Decided, index: Option<usize>) -> Option<Side> {
    index.and_then(|i| decided.get(i).copied().flatten())
}

/// A record's decisions of one version from its fast tier's verdicts, the reference
/// evaluator deciding those it defers (the record read into `record` for them);
/// `None` when the reference reader does not read the record.
fn fast_sides(
    job: &Job<'_>,
    fast: &FastDecider<'_>,
    subject: usize,
    text: &str,
    record: &mut Option<Record>,
) -> Option<Decided> {
    let verdicts = fast.verdicts();
    let deferred: SmallVec<[usize; 8]> = verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| matches!(v, Verdict::Deferred))
        .map(|(i, _)| i)
        .collect();
    let mut out: Decided = verdicts
        .iter()
        .map(|v| match *v {
            Verdict::Eligible { amount, .. } => {
                Some(Side::new(Outcome::Eligible, amount.map(|a| a.1)))
            }
            Verdict::NotEligible => Some(Side::new(Outcome::NotEligible, None)),
            // Data is missing: undetermined, whichever fields the reference names.
            Verdict::Unknown => Some(Side::new(Outcome::Undetermined, None)),
            Verdict::Deferred | Verdict::NotApplicable => None,
        })
        .collect();
    if !deferred.is_empty() {
        let rec = match record.take() {
            Some(rec) => rec,
            None => record::fast::read_json(&job.rules.schema, &job.plan, Some(subject), text)?,
        };
        let decided = eval::evaluate_policies(
            job.rules,
            &rec,
            job.config.ref_date,
            job.config.eval_options(),
            deferred,
        );
        for (i, d) in decided {
            check_internal(i, &d);
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(Side::of(&d));
            }
        }
        *record = Some(rec);
    }
    Some(out)
}

/// Fails the run when a reference decision is an internal error (a bug of the
/// engine), as `run` does.
fn check_internal(i: usize, d: &Decision) {
    if let Some(e) = d.error.as_ref().filter(|e| eval::is_internal(e)) {
        internal(Some(i), &e.message);
    }
}

/// Whether a decision's clause values are known without evaluating it again: eligible
/// under a policy decided per subject, every clause is true.
fn settled(job: &Job<'_>, index: Option<usize>, s: Option<Side>) -> bool {
    s.is_none_or(|s| s.outcome == Outcome::Eligible)
        && index
            .and_then(|i| job.rules.program.policies.get(i))
            .is_none_or(|p| p.per_item.is_none())
}

/// The traced decision of an eligible decision of a policy decided per subject, as
/// the reference evaluator would trace it: `C0` and every clause true.
fn all_true(job: &Job<'_>, index: usize, s: Side) -> Option<Decision> {
    let p = job.rules.program.policies.get(index)?;
    let clause = |id: &str| eval::ClauseTrace {
        id: id.to_string(),
        label: String::new(),
        value: eval::Truth::True,
        basis: None,
        facts: vec![],
    };
    Some(Decision {
        policy: p.id.clone(),
        outcome: Outcome::Eligible,
        failed: vec![],
        missing: vec![],
        amount: s.amount.map(|value| eval::Amount {
            value,
            unit: String::new(),
            period: String::new(),
            extras: vec![],
        }),
        reports: vec![],
        per_item: None,
        error: None,
        trace: Some(eval::Trace {
            basis: None,
            clauses: std::iter::once(clause("C0"))
                .chain(p.clauses.iter().map(|c| clause(&c.id)))
                .collect(),
            amount_facts: vec![],
        }),
    })
}

/// Counts a record's decisions under both versions and writes the lines of those that
/// differ, decided again with traces by the reference evaluator (from `records`,
/// read whenever any differs).
fn write(
    sides: &Sides<'_>,
    part: &mut DiffPart,
    subject: &str,
    before: &Decided,
    after: &Decided,
    records: &Records,
) {
    let traced = |job: &Job<'_>, i: Option<usize>, rec: &Option<Record>| -> Option<Decision> {
        let (i, rec) = (i?, rec.as_ref()?);
        let options = EvalOptions {
            trace: true,
            ..job.config.eval_options()
        };
        let d = eval::evaluate_policy(job.rules, i, rec, job.config.ref_date, options);
        check_internal(i, &d);
        Some(d)
    };
    for (k, (id, b, a)) in sides.pairs.iter().enumerate() {
        let (sb, sa) = (side(before, *b), side(after, *a));
        let mode = sides.modes.get(k).copied().flatten();
        let Some(counts) = part.impact.get_mut(k) else {
            continue;
        };
        if !reach::differs(sb, sa) {
            counts.count(sb, sa, false);
            continue;
        }
        // Decided again, with traces, for the clauses (an eligible decision has every
        // clause true); the reference decisions are the ones counted and written.
        let decided =
            |job: &Job<'_>, i: Option<usize>, s: Option<Side>, rec: &Option<Record>| match (i, s) {
                (Some(i), Some(s)) if settled(job, Some(i), Some(s)) => all_true(job, i, s),
                (_, Some(_)) => traced(job, i, rec),
                (_, None) => None,
            };
        let db = decided(&sides.before, *b, sb, &records.before);
        let da = decided(&sides.after, *a, sa, &records.after);
        let (sb, sa) = (db.as_ref().map(Side::of), da.as_ref().map(Side::of));
        match reach::change(subject, id, db.as_ref(), da.as_ref(), mode) {
            Some(change) => {
                counts.count(sb, sa, change.notify);
                if let Ok(line) = serde_json::to_string(&change) {
                    part.out.changes.push_str(&line);
                    part.out.changes.push('\n');
                }
            }
            None => counts.count(sb, sa, false),
        }
    }
}
