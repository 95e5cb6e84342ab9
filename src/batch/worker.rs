//! Deciding records: the compiled tier first, the reference evaluator for what it
//! leaves open, and the rejection of records that do not fit the schema.

use super::lines::{write_outputs, LineTemplates};
use super::{ChunkOutput, MissingFields, PolicySummary, RunConfig, Source};
use crate::compile::RuleSet;
use crate::eval::{self, Decision, Outcome};
use crate::fast::{FastDecider, FastRules, Verdict};
use crate::record;
use rust_decimal::Decimal;
use serde_json::json;
use smallvec::SmallVec;
use std::fmt::Write as _;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// A record as a worker gets it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Input<'a> {
    /// A JSON object as text.
    Json(&'a str),
    /// A value already built (from CSV).
    Value(&'a serde_json::Value),
    /// Why the line could not be read.
    Unreadable(&'a str),
    /// A line longer than the limit, of this many bytes (not kept).
    TooLong(usize),
}

impl<'a> From<&'a Source> for Input<'a> {
    fn from(s: &'a Source) -> Self {
        match s {
            Source::Json(t) => Input::Json(t),
            Source::Value(v) => Input::Value(v),
            Source::Unreadable(w) => Input::Unreadable(w),
        }
    }
}

/// The outputs and counts of a run of consecutive records, before they are merged
/// into the chunk (in input order) and the summary.
pub(super) struct Part {
    pub(super) out: ChunkOutput,
    pub(super) policies: Vec<PolicySummary>,
    pub(super) errors: Vec<u64>,
    pub(super) read: u64,
    pub(super) evaluated: u64,
    pub(super) rejected: u64,
    /// Lenient reading: records per undeclared key path.
    pub(super) unknown: std::collections::BTreeMap<String, u64>,
    /// Per policy: the missing field paths of its undetermined decisions.
    pub(super) missing: Vec<MissingFields>,
    /// Per policy: its near misses written (`--near-miss`).
    pub(super) near_misses: Vec<u64>,
}

impl Part {
    pub(super) fn new(policies: usize) -> Self {
        Part {
            out: ChunkOutput::default(),
            policies: vec![PolicySummary::default(); policies],
            errors: vec![0; policies],
            read: 0,
            evaluated: 0,
            rejected: 0,
            unknown: Default::default(),
            missing: vec![MissingFields::default(); policies],
            near_misses: vec![0; policies],
        }
    }

    /// Counts the missing fields of an undetermined decision of `policy`: each field
    /// (list items as `[]`) once, and as blocking it alone when it is the only one.
    fn count_missing(&mut self, policy: usize, missing: &[String]) {
        let Some(fields) = self.missing.get_mut(policy) else {
            return;
        };
        let mut paths: SmallVec<[std::borrow::Cow<'_, str>; 4]> =
            missing.iter().map(|m| crate::reach::field_of(m)).collect();
        paths.sort_unstable();
        paths.dedup();
        let alone = paths.len() == 1;
        for path in paths {
            let n = match fields.get_mut(path.as_ref()) {
                Some(n) => n,
                None => fields.entry(path.into_owned()).or_default(),
            };
            n.total += 1;
            if alone {
                n.alone += 1;
            }
        }
    }

    fn count(&mut self, policy: usize, outcome: Outcome, amount: Option<Decimal>, error: bool) {
        if error {
            if let Some(e) = self.errors.get_mut(policy) {
                *e += 1;
            }
        }
        let Some(s) = self.policies.get_mut(policy) else {
            return;
        };
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
pub(super) const PART_SIZE: usize = 128;

/// What every worker of a run shares.
pub(super) struct Job<'r> {
    pub(super) rules: &'r RuleSet,
    pub(super) plan: record::fast::ReadPlan,
    pub(super) fast: FastRules,
    pub(super) lines: LineTemplates,
    pub(super) subject: Option<usize>,
    pub(super) config: &'r RunConfig,
    /// The run has failed or is stopping: parts not begun yet are not decided.
    pub(super) stopped: AtomicBool,
    /// The panic that failed the run (the one of the earliest line, when several).
    pub(super) fault: Mutex<Option<Fault>>,
}

/// A panic caught while deciding: a bug of the engine, which stops the run.
#[derive(Debug)]
pub(super) struct Fault {
    /// The input line of the record being decided, when it was one.
    pub(super) line: Option<u64>,
    /// The policy (index) being decided, when it could be found.
    pub(super) policy: Option<usize>,
    /// The panic's message.
    pub(super) message: String,
}

/// A part left undecided: the run has failed (its fault is in the [`Job`]) or stopped.
#[derive(Debug)]
pub(super) struct Stopped;

/// The payload of the panic raised when the reference evaluator answers with an internal
/// error (it caught a panic of its own): the policy it was deciding and the message.
struct InternalDecision {
    policy: Option<usize>,
    message: String,
}

/// The fault of a panic caught deciding the record on `line`: the internal error the
/// reference evaluator answered with ([`internal`]), or any other panic, whose policy
/// `locate` finds when it can.
pub(super) fn fault_of(
    payload: Box<dyn std::any::Any + Send>,
    line: Option<u64>,
    locate: impl FnOnce() -> Option<usize>,
) -> Fault {
    match payload.downcast::<InternalDecision>() {
        Ok(d) => Fault {
            line,
            policy: d.policy,
            message: d.message,
        },
        Err(payload) => Fault {
            line,
            message: eval::panic_message(&*payload),
            policy: locate(),
        },
    }
}

impl<'r> Job<'r> {
    /// The shared state of a run of `rules` with `config` (its reference date), on
    /// records of subject kind `subject` (any when `None`).
    pub(super) fn new(rules: &'r RuleSet, config: &'r RunConfig, subject: Option<usize>) -> Self {
        Self::with_fields(rules, config, subject, rules.used_fields.clone())
    }

    /// [`new`](Self::new), records read with the fields `used` marks (at least those
    /// the rules read).
    pub(super) fn with_fields(
        rules: &'r RuleSet,
        config: &'r RunConfig,
        subject: Option<usize>,
        used: Vec<Vec<bool>>,
    ) -> Self {
        Job {
            rules,
            plan: record::fast::ReadPlan::new(&rules.schema, used.clone()),
            fast: FastRules::with_fields(rules, config.ref_date, config.budget, used),
            lines: LineTemplates::new(rules),
            subject,
            config,
            stopped: Default::default(),
            fault: Default::default(),
        }
    }

    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Keeps `fault` as the run's (unless one of an earlier line is kept) and stops the run.
    pub(super) fn fail(&self, fault: Fault) {
        let mut kept = self.fault.lock().unwrap_or_else(PoisonError::into_inner);
        let earlier = match (&*kept, fault.line) {
            (None, _) => true,
            (Some(k), Some(line)) => k.line.is_none_or(|l| line < l),
            (Some(_), None) => false,
        };
        if earlier {
            *kept = Some(fault);
        }
        self.stop();
    }

    /// The run's fault, once the run has failed.
    pub(super) fn take_fault(&self) -> Option<Fault> {
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// One thread's reader, evaluator and row, reused record after record.
pub(super) struct Worker<'j> {
    job: &'j Job<'j>,
    fast: FastDecider<'j>,
    /// [`RunConfig::panic_at_line`], at hand.
    panic_at_line: Option<u64>,
}

impl<'j> Worker<'j> {
    pub(super) fn new(job: &'j Job<'j>) -> Self {
        Worker {
            job,
            fast: FastDecider::new(job.rules, &job.fast),
            panic_at_line: job.config.panic_at_line,
        }
    }

    /// Decides a run of consecutive records (line, input) into a part. A panic while
    /// deciding one fails the run: it is caught and kept in the job with the record's
    /// line and, when it can be found, the policy, and the part is `Err`; so is a part
    /// begun after the run has failed.
    pub(super) fn decide_part<'i>(
        &mut self,
        records: impl Iterator<Item = (u64, Input<'i>)>,
    ) -> Result<Part, Stopped> {
        let job = self.job;
        if job.stopped.load(Ordering::Relaxed) {
            return Err(Stopped);
        }
        let mut part = Part::new(job.rules.program.policies.len());
        // The record being decided, to name it if deciding it panics.
        let mut current = None;
        let decided = catch_unwind(AssertUnwindSafe(|| {
            for (line, input) in records {
                current = Some((line, input));
                self.decide(line, input, &mut part);
            }
        }));
        match decided {
            Ok(()) => Ok(part),
            Err(payload) => {
                let line = current.map(|(line, _)| line);
                job.fail(fault_of(payload, line, || {
                    current.and_then(|(line, input)| self.locate(line, input))
                }));
                Err(Stopped)
            }
        }
    }

    /// After a panic deciding the record on `line`: the policy at fault, when the
    /// compiled tier panics again deciding the record's policies one at a time (`None`
    /// when it does not: the panic was elsewhere).
    fn locate(&mut self, line: u64, input: Input<'_>) -> Option<usize> {
        let Input::Json(text) = input else {
            return None;
        };
        let job = self.job;
        let found = catch_unwind(AssertUnwindSafe(|| {
            self.fast.read(text, job.subject).ok()?;
            if self.panic_at_line == Some(line) {
                self.fast.inject_fault();
            }
            self.fast.policy_at_fault()
        }));
        found.ok().flatten()
    }

    /// Testing only ([`RunConfig::panic_at_line`]): panics deciding the record on `line`.
    /// A record the fast tier reads is given to it with a fault injected, so that the
    /// fast tier itself panics in the first policy it decides.
    #[cold]
    #[inline(never)]
    // Deliberate: the fault the batch's handling of a panicking decision is tested with.
    #[allow(clippy::panic)]
    fn injected_fault(&mut self, line: u64, input: Input<'_>) -> ! {
        if let Input::Json(text) = input {
            if self.fast.read(text, self.job.subject).is_ok() {
                self.fast.inject_fault();
                self.fast.decide();
            }
        }
        panic!("fault injected deciding line {line}");
    }

    /// Decides the record on input line `line`.
    fn decide(&mut self, line: u64, input: Input<'_>, part: &mut Part) {
        if self.panic_at_line == Some(line) {
            self.injected_fault(line, input);
        }
        part.read += 1;
        if let Input::Json(text) = input {
            if self.fast(line, text, part) {
                part.evaluated += 1;
                return;
            }
        }
        match decide_record(self.job, line, input, part) {
            true => part.evaluated += 1,
            false => part.rejected += 1,
        }
    }

    /// The policies the compiled tier found not eligible for the record last decided
    /// with at least one and at most `k` false clauses: the candidate near misses
    /// (a clause the tier counts false is false for the reference evaluator too, so
    /// no near miss is left out).
    fn near_candidates(&mut self, k: usize) -> SmallVec<[usize; 8]> {
        let not_eligible: SmallVec<[usize; 16]> = self
            .fast
            .verdicts()
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v, Verdict::NotEligible))
            .map(|(i, _)| i)
            .collect();
        not_eligible
            .into_iter()
            .filter(|&i| {
                self.fast
                    .false_clauses(i, k.saturating_add(1))
                    .is_some_and(|n| n >= 1 && n <= k)
            })
            .collect()
    }

    /// Decides a record with the compiled rules; `false` (with nothing written) when
    /// the record is left to the reference path.
    fn fast(&mut self, line: u64, text: &str, part: &mut Part) -> bool {
        let job = self.job;
        if self.fast.read(text, job.subject).is_err() {
            return false;
        }
        self.fast.decide();
        let near = match job.config.near_miss {
            Some(k) => self.near_candidates(k),
            None => SmallVec::new(),
        };
        let fast = &self.fast;
        let subject = fast.subject();
        let verdicts = fast.verdicts();
        // Undecided policies are decided again the reference way, which needs the
        // record as the reference evaluator reads it.
        let undecided: SmallVec<[usize; 8]> = verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v, Verdict::Unknown | Verdict::Deferred))
            .map(|(i, _)| i)
            .collect();
        let form = job
            .config
            .bundle
            .filter(|&b| bundle_of(job.rules, b, subject));
        let record = if undecided.is_empty() && form.is_none() && near.is_empty() {
            None
        } else {
            match record::fast::read_json(&job.rules.schema, &job.plan, Some(subject), text) {
                Some(r) => Some(r),
                None => return false,
            }
        };
        let mut reference = match &record {
            Some(rec) => eval::evaluate_policies(
                job.rules,
                rec,
                job.config.ref_date,
                job.config.eval_options(),
                undecided,
            ),
            None => vec![],
        }
        .into_iter();
        let id_buf;
        let subject_id = match fast.subject_id() {
            Some(id) => id,
            None => {
                id_buf = format!("line {line}");
                &id_buf
            }
        };
        let mut to_visit = false;
        for (i, v) in verdicts.iter().enumerate() {
            match *v {
                Verdict::NotApplicable => {}
                Verdict::NotEligible => part.count(i, Outcome::NotEligible, None, false),
                Verdict::Eligible { amount, extras } => {
                    part.count(i, Outcome::Eligible, amount.map(|a| a.1), false);
                    let extras = if extras.1 > 0 {
                        fast.extras(extras)
                    } else {
                        vec![]
                    };
                    if !job
                        .lines
                        .eligible(&mut part.out, i, subject_id, amount, &extras)
                    {
                        internal(Some(i), "no output line template for the policy");
                    }
                }
                // Decided the reference way above, in the same order.
                Verdict::Unknown | Verdict::Deferred => {
                    if let Some((_, d)) = reference.next() {
                        to_visit |= needs_visit(&d);
                        write_decision(job, part, subject_id, i, &d);
                        if let Some(rec) = &record {
                            write_near(job, part, subject_id, i, &d, rec);
                        }
                    }
                }
            }
        }
        // Not eligible in the compiled tier with few false clauses: the reference
        // evaluator says exactly which.
        if let Some(rec) = &record {
            let traced = eval::EvalOptions {
                trace: true,
                ..job.config.eval_options()
            };
            for &i in &near {
                let d = eval::evaluate_policy(job.rules, i, rec, job.config.ref_date, traced);
                write_near(job, part, subject_id, i, &d, rec);
            }
        }
        if let (Some(b), Some(rec)) = (form, &record) {
            write_form(job, part, b, rec, subject_id);
        }
        if let (true, Some(rec)) = (to_visit, &record) {
            write_visit(job, part, rec, Input::Json(text));
        }
        true
    }
}

/// Writes the line of a rejected record: `{"line", "subject", "code", "reason"}`.
pub(super) fn reject(part: &mut ChunkOutput, line: u64, id: Option<&str>, e: &record::RecordError) {
    let rejected = serde_json::to_string(&json!({
        "line": line,
        "subject": id,
        "code": e.kind.code(),
        "reason": e.reason(),
    }))
    .unwrap_or_default();
    part.rejected.push_str(&rejected);
    part.rejected.push('\n');
}

/// Decides a record the reference way; `false` when it is rejected.
pub(super) fn decide_record(job: &Job<'_>, line: u64, input: Input<'_>, part: &mut Part) -> bool {
    let (rules, config) = (job.rules, job.config);
    let ref_date = config.ref_date;
    let Some(rec) = read_reference(job, line, input, &mut part.out, &mut part.unknown) else {
        return false;
    };
    let subject_id = rec.id.clone().unwrap_or_else(|| format!("line {}", line));
    if let Some(b) = config.bundle {
        if bundle_of(rules, b, rec.subject) {
            write_form(job, part, b, &rec, &subject_id);
        }
    }
    let of_subject = rules
        .program
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.subject == rec.subject)
        .map(|(i, _)| i);
    let decisions =
        eval::evaluate_policies(rules, &rec, ref_date, job.config.eval_options(), of_subject);
    for (i, d) in &decisions {
        write_decision(job, part, &subject_id, *i, d);
        write_near(job, part, &subject_id, *i, d, &rec);
    }
    if decisions.iter().any(|(_, d)| needs_visit(d)) {
        write_visit(job, part, &rec, input);
    }
    true
}

/// Whether a decision puts its subject on a visit list: undetermined for missing data.
fn needs_visit(d: &Decision) -> bool {
    d.outcome == Outcome::Undetermined && d.error.is_none() && !d.missing.is_empty()
}

/// Writes the visit line of a record ([`RunConfig::visits_by`]): its facts to collect
/// across every policy, with the group and contact fields read from the input as given.
fn write_visit(job: &Job<'_>, part: &mut Part, rec: &record::Record, input: Input<'_>) {
    let Some(by) = job.config.visits_by.as_deref() else {
        return;
    };
    let parsed;
    let raw = match input {
        Input::Json(text) => {
            parsed = serde_json::from_str::<serde_json::Value>(text).ok();
            parsed.as_ref()
        }
        Input::Value(v) => Some(v),
        Input::Unreadable(_) | Input::TooLong(_) => None,
    };
    let Some(mut visit) = crate::reach::visit_plan(
        job.rules,
        rec,
        job.config.ref_date,
        job.config.eval_options(),
        raw,
        Some(by),
    ) else {
        return;
    };
    if visit.subject.is_empty() {
        visit.subject = rec.id.clone().unwrap_or_default();
    }
    if let Ok(line) = serde_json::to_string(&visit) {
        part.out.visits.push_str(&line);
        part.out.visits.push('\n');
    }
}

/// Writes the near miss of a reference decision, when it is one ([`RunConfig::near_miss`]).
fn write_near(
    job: &Job<'_>,
    part: &mut Part,
    subject_id: &str,
    i: usize,
    d: &Decision,
    rec: &record::Record,
) {
    let Some(k) = job.config.near_miss else {
        return;
    };
    let Some(miss) =
        crate::reach::near_miss(job.rules, i, rec, job.config.ref_date, d, k, subject_id)
    else {
        return;
    };
    if let Some(n) = part.near_misses.get_mut(i) {
        *n += 1;
    }
    if let Ok(line) = serde_json::to_string(&miss) {
        part.out.near.push_str(&line);
        part.out.near.push('\n');
    }
}

/// Reads a record the reference way, as `job`'s rule set reads it; `None`, with its
/// rejected line written to `out`, when it cannot be read. A lenient reading counts
/// the undeclared keys in `unknown`.
pub(super) fn read_reference(
    job: &Job<'_>,
    line: u64,
    input: Input<'_>,
    out: &mut ChunkOutput,
    unknown: &mut std::collections::BTreeMap<String, u64>,
) -> Option<record::Record> {
    let (rules, subject, config) = (job.rules, job.subject, job.config);
    // The reference reader judges every record the fast reader refused: it reads it
    // or says why not, with the same words as `eval`.
    let parsed;
    let value = match input {
        Input::Json(text) => match record::parse_json(text, &config.read) {
            Ok(v) => {
                parsed = v;
                &parsed
            }
            Err(e) => {
                reject(out, line, None, &e);
                return None;
            }
        },
        Input::Value(value) => value,
        Input::Unreadable(why) => {
            let e = record::RecordError::whole(record::RecordErrorKind::Syntax, why);
            reject(out, line, None, &e);
            return None;
        }
        Input::TooLong(bytes) => {
            reject(out, line, None, &record::too_long(bytes, &config.read));
            return None;
        }
    };
    let subject = match subject {
        Some(s) => s,
        None => match record::detect_subject(&rules.schema, value, None) {
            Ok(s) => s,
            Err(m) => {
                let e = record::RecordError::whole(record::RecordErrorKind::SubjectKind, m);
                reject(out, line, None, &e);
                return None;
            }
        },
    };
    match record::read_record_with(&rules.schema, subject, value, config.read) {
        Ok((r, keys)) => {
            let mut keys = keys;
            keys.sort_unstable();
            keys.dedup();
            for k in keys {
                *unknown.entry(k).or_default() += 1;
            }
            Some(r)
        }
        Err(e) => {
            let id = (!e.record.starts_with('(')).then_some(e.record.as_str());
            reject(out, line, id, &e);
            None
        }
    }
}

/// Whether bundle `b` is one of subject kind `subject`.
fn bundle_of(rules: &RuleSet, b: usize, subject: usize) -> bool {
    rules
        .program
        .bundles
        .get(b)
        .is_some_and(|x| x.subject == subject)
}

/// Counts a reference decision and writes its output line.
fn write_decision(job: &Job<'_>, part: &mut Part, subject_id: &str, i: usize, d: &Decision) {
    if let Some(e) = d.error.as_ref().filter(|e| eval::is_internal(e)) {
        internal(Some(i), &e.message);
    }
    let amount = d.amount.as_ref().map(|a| a.value);
    part.count(i, d.outcome, amount, d.error.is_some());
    if d.outcome == Outcome::Undetermined && d.error.is_none() {
        part.count_missing(i, &d.missing);
    }
    let Some(policy) = job.rules.program.policies.get(i) else {
        internal(Some(i), "no such policy");
    };
    write_outputs(&mut part.out, subject_id, policy, d, &job.rules.version);
}

/// Pre-fills bundle `b` for a record and writes the form when any member is available.
fn write_form(job: &Job<'_>, part: &mut Part, b: usize, rec: &record::Record, subject_id: &str) {
    let form = eval::prefill(
        job.rules,
        b,
        rec,
        job.config.ref_date,
        job.config.eval_options(),
    );
    if let Some(e) = form.errors.iter().find(|e| eval::is_internal(e)) {
        let message = e.message.strip_prefix("internal error: ");
        let message = format!(
            "pre-filling bundle `{}`: {}",
            form.bundle,
            message.unwrap_or(&e.message)
        );
        internal(None, &message);
    }
    if form.any_available() {
        let v = json!({"subject": subject_id, "form": form});
        let _ = writeln!(part.out.forms, "{v}");
    }
}

/// Fails the run with the internal error the reference evaluator answered with, as a
/// panic that [`Worker::decide_part`] catches (without running the panic hook again).
#[cold]
#[inline(never)]
pub(super) fn internal(policy: Option<usize>, message: &str) -> ! {
    let message = message.strip_prefix("internal error: ").unwrap_or(message);
    resume_unwind(Box::new(InternalDecision {
        policy,
        message: message.to_string(),
    }))
}
