//! Differential testing of random RULE SETS across the two tiers.
//!
//! `tests/compiled.rs` compares the compiled tier (the batch's fast path) with the
//! reference evaluator on the shipped rule sets only; the lowering of constructs the
//! shipped rules do not combine (functions calling functions inside aggregates, long
//! chains of definitions, dated parameters read at computed dates, leap days on
//! reference dates other than the first of a month) is never exercised there. Here:
//!
//! 1. a seeded, type-directed generator (`support/gen.rs`) writes a random schema and
//!    a random, well-typed rule set over it (nearly always accepted by `check`; the
//!    rejections are counted and must stay rare);
//! 2. random records (absent fields, nulls, empty lists, 29 February birthdays, values
//!    next to the rules' constants) are decided on fixed awkward reference dates (28/29
//!    February, 1 March, month and year ends) and a random one;
//! 3. for every record and policy the compiled tier's verdict must agree with the
//!    reference evaluator (`support/tiers.rs` states the contract), and the batch's
//!    output lines must be what `evaluate_all` decides; a panic in either tier, or a
//!    case that does not finish under a watchdog, is a failure too;
//! 4. a failure is shrunk (records to the failing one, the rule set by dropping and
//!    simplifying its parts while it still fails the same way) and written under
//!    `$CARGO_TARGET_DIR/differential-failures/<n>/` with the commands that replay it.
//!
//! `MIANSHEN_DIFF_CASES` (default [`DEFAULT_CASES`]) and `MIANSHEN_DIFF_SEED` (default
//! [`DEFAULT_SEED`]) raise the number of rule sets and change the seed for longer local
//! runs; `MIANSHEN_DIFF_SHRINK_SECS` gives each failure that many seconds of shrinking
//! (default [`SHRINK_BUDGET`], at most [`SHRINK_TOTAL`] in all); `MIANSHEN_DIFF_ONLY=k`
//! runs rule set `k` alone; `MIANSHEN_DIFF_DEBUG=1` prints the diagnostics of rejected
//! rule sets and the shrinking effort.
//!
//! The semantics tables (`tests/semantics.rs`, included below) and the shipped example
//! cases (`rules/cases/*.yaml`) are run through both tiers as well.

#[path = "support/gen.rs"]
mod gen;
#[path = "semantics.rs"]
mod semantics;
#[path = "support/tiers.rs"]
mod tiers;

use chrono::NaiveDate;
use gen::{Gen, Guard, RuleSetSpec};
use mianshen::internals::load::check_sources;
use mianshen::internals::schema::Schema;
use mianshen::RuleSet;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tiers::{Failure, Kind};

/// Rule sets generated in CI.
const DEFAULT_CASES: u64 = 60;
/// The CI seed.
const DEFAULT_SEED: u64 = 20_261_205;
/// Records per rule set (each decided on every reference date).
const RECORDS: usize = 24;
/// Expression depth of the generated rules.
const DEPTH: u32 = 4;
/// A case that takes longer than this hangs.
const WATCHDOG: Duration = Duration::from_secs(6);
/// The time limit of a case while shrinking.
const SHRINK_WATCHDOG: Duration = Duration::from_secs(3);
/// Time spent shrinking one failure.
const SHRINK_BUDGET: Duration = Duration::from_secs(20);
/// Time spent shrinking in one run of the fuzzer (later failures are written as found).
const SHRINK_TOTAL: Duration = Duration::from_secs(40);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rng_for(seed: u64, case: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&case.to_le_bytes());
    bytes[16] = 0x5d;
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

// ------------------------------------------------------------------ cases

/// One differential case: a rule set (as text), records and reference dates.
#[derive(Clone)]
struct Case {
    /// schema.yaml.
    schema: String,
    /// The rule file.
    rules: String,
    /// The structure the text was rendered from, when generated (for shrinking).
    spec: Option<RuleSetSpec>,
    /// One JSON object per record, with distinct subject ids.
    records: Vec<Json>,
    dates: Vec<NaiveDate>,
    /// Skip the batch when the compiled tier panics on a record (see
    /// [`run_case_inline`]).
    skip_batch_after_panic: bool,
}

impl Case {
    fn from_spec(spec: RuleSetSpec, records: Vec<Json>, dates: Vec<NaiveDate>) -> Case {
        Case {
            schema: spec.schema.render(),
            rules: spec.render_rules(),
            spec: Some(spec),
            records,
            dates,
            skip_batch_after_panic: false,
        }
    }

    fn with_spec(&self, spec: RuleSetSpec) -> Case {
        Case::from_spec(spec, self.records.clone(), self.dates.clone())
    }
}

/// Checks and compiles a case's rule text; the rendered diagnostics otherwise.
fn build(schema: &str, rules: &str) -> Result<RuleSet, String> {
    let parsed = Schema::from_yaml(schema).map_err(|e| format!("schema: {e}"))?;
    let checked = check_sources(
        parsed,
        schema,
        vec![(PathBuf::from("generated.rules"), rules.to_string())],
    );
    checked.rules.ok_or_else(|| {
        checked
            .diagnostics
            .iter()
            .map(|d| d.render(&checked.sources))
            .collect()
    })
}

/// [`build`] on a thread with the stack of a main thread (8 MiB), as `mianshen check`
/// and `mianshen run` load rules; the tiers then run on the calling thread, with the
/// 2 MiB of a test thread, as the batch's (rayon) workers have.
fn build_on_main_stack(schema: &str, rules: &str) -> Result<RuleSet, String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("differential-check".into())
            .stack_size(8 << 20)
            .spawn_scoped(s, || build(schema, rules))
            .map_err(|e| format!("cannot start a thread: {e}"))?
            .join()
            .unwrap_or_else(|p| Err(format!("check panicked: {}", tiers::panic_text(&*p))))
    })
}

/// What running a case gives: it was rejected by `check`, or the failures found.
enum Outcome {
    Rejected(String),
    Ran(Vec<Failure>, tiers::Tally),
}

/// Runs every record through both tiers and the batch on every date, in this process;
/// `stage` is told what is being done (so that a hang or a crash can say where), and
/// the failures found so far before each batch run.
fn run_case_inline(case: &Case, stage: &mut dyn FnMut(&str, Option<&[Failure]>)) -> Outcome {
    stage("check", None);
    let rules = match build_on_main_stack(&case.schema, &case.rules) {
        Ok(r) => r,
        Err(d) => return Outcome::Rejected(d),
    };
    let texts: Vec<String> = case.records.iter().map(|r| r.to_string()).collect();
    let mut failures = vec![];
    let mut tally = tiers::Tally::default();
    // Both tiers record by record first, then the batch: a batch that hangs (it does
    // when the compiled tier panics in a worker) must not hide what the records show.
    for &date in &case.dates {
        stage(&format!("lowering for {date}"), None);
        match tiers::lower(&rules, date) {
            Ok(compiled) => {
                let n = rules.program().policies.len();
                tally.policies += n as u64;
                tally.compiled += (0..n).filter(|&i| compiled.is_compiled(i)).count() as u64;
                for (i, t) in texts.iter().enumerate() {
                    failures.extend(tiers::check_record_counting(
                        &rules,
                        &compiled,
                        date,
                        i,
                        t,
                        &mut tally,
                        &mut |tier| stage(&format!("record {i} on {date} in {tier}"), None),
                    ));
                }
            }
            Err(f) => failures.push(f),
        }
    }
    // The batch hangs when the compiled tier panics in a worker; once that is known,
    // such cases skip the batch rather than cost the watchdog's time each.
    let skip =
        case.skip_batch_after_panic && failures.iter().any(|f| f.kind == Kind::CompiledPanic);
    for &date in case.dates.iter().filter(|_| !skip) {
        stage(&format!("batch on {date}"), Some(&failures));
        failures.extend(tiers::check_batch(&rules, date, &texts));
    }
    Outcome::Ran(failures, tally)
}

/// A failure as the child process hands it back.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    kind: Kind,
    date: String,
    record: Option<usize>,
    detail: String,
}

/// The environment variable that makes [`child_case`] run the case in a directory.
const CHILD_ENV: &str = "MIANSHEN_DIFF_CHILD";

/// Writes a case to `dir`: `schema.yaml`, `generated.rules`, `records.jsonl`, `dates`.
fn write_case(dir: &Path, case: &Case) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("schema.yaml"), &case.schema)?;
    std::fs::write(dir.join("generated.rules"), &case.rules)?;
    let lines: String = case.records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(dir.join("records.jsonl"), lines)?;
    let dates: String = case.dates.iter().map(|d| format!("{d}\n")).collect();
    std::fs::write(dir.join("dates"), dates)?;
    if case.skip_batch_after_panic {
        std::fs::write(dir.join("skip-batch-after-panic"), "")?;
    }
    Ok(())
}

/// Reads a case written by [`write_case`].
fn read_case(dir: &Path) -> Option<Case> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    Some(Case {
        schema: read("schema.yaml")?,
        rules: read("generated.rules")?,
        spec: None,
        records: read("records.jsonl")?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        dates: read("dates")?
            .lines()
            .filter_map(|l| NaiveDate::parse_from_str(l.trim(), "%Y-%m-%d").ok())
            .collect(),
        skip_batch_after_panic: dir.join("skip-batch-after-panic").exists(),
    })
}

/// Not a test of its own: the entry point of the child process that runs one case
/// (see [`run_case`]); without [`CHILD_ENV`] it does nothing.
#[test]
fn child_case() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let case = read_case(&dir).expect("a case directory");
    let stage_file = dir.join("stage");
    let wires = |f: &[Failure]| -> Vec<Wire> {
        f.iter()
            .map(|f| Wire {
                kind: f.kind.clone(),
                date: f.date.to_string(),
                record: f.record,
                detail: f.detail.clone(),
            })
            .collect()
    };
    let mut written = 0;
    let outcome = run_case_inline(&case, &mut |s, so_far| {
        let _ = std::fs::write(&stage_file, s);
        if let Some(f) = so_far.filter(|f| f.len() > written) {
            written = f.len();
            let partial = serde_json::json!({ "failures": wires(f) });
            let _ = std::fs::write(dir.join("partial.json"), partial.to_string());
        }
    });
    let result = match outcome {
        Outcome::Rejected(d) => serde_json::json!({"rejected": d}),
        Outcome::Ran(f, tally) => serde_json::json!({ "failures": wires(&f), "tally": tally }),
    };
    std::fs::write(dir.join("result.json"), result.to_string()).expect("the result is written");
}

/// Runs a case in a child process (this test binary, running [`child_case`]), so that
/// a hang can be stopped (the child is killed after [`WATCHDOG`]) and a crash (a stack
/// overflow aborts the process) is a failure rather than the end of the test.
fn run_case(case: &Case) -> Outcome {
    run_case_within(case, WATCHDOG)
}

/// [`run_case`] with a time limit of `limit`.
fn run_case_within(case: &Case, limit: Duration) -> Outcome {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = failures_dir()
        .with_file_name("differential-work")
        .join(format!("{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    if let Err(e) = write_case(&dir, case) {
        panic!("cannot write {}: {e}", dir.display());
    }
    let exe = std::env::current_exe().expect("the test binary");
    // The child's stderr goes to a file: caught panics print there, and a pipe
    // nobody reads while the child runs would fill up and stop the child.
    let stderr_path = dir.join("stderr");
    let stderr_file = std::fs::File::create(&stderr_path).expect("a stderr file");
    let child = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_case",
            "--test-threads=1",
            "--nocapture",
            "-q",
        ])
        .env(CHILD_ENV, &dir)
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(stderr_file)
        .spawn();
    let mut child = child.expect("the test binary starts");
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break None,
        }
    };
    let stage = std::fs::read_to_string(dir.join("stage")).unwrap_or_default();
    // Failures found before a hang or a crash.
    let partial: Vec<Failure> = std::fs::read_to_string(dir.join("partial.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Json>(&t).ok())
        .and_then(|v| serde_json::from_value::<Vec<Wire>>(v["failures"].clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|w| Failure {
            kind: w.kind,
            date: NaiveDate::parse_from_str(&w.date, "%Y-%m-%d").unwrap_or(case.dates[0]),
            record: w.record,
            detail: w.detail,
        })
        .collect();
    let fail = |kind: Kind, detail: String, mut before: Vec<Failure>| {
        let date = stage
            .split(" on ")
            .nth(1)
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
            .unwrap_or(case.dates[0]);
        before.push(Failure {
            kind,
            date,
            record: None,
            detail,
        });
        Outcome::Ran(before, tiers::Tally::default())
    };
    let result = std::fs::read_to_string(dir.join("result.json")).ok();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let Some(status) = status else {
        return fail(
            Kind::Hang,
            format!(
                "the case did not finish in {} s; it was at: {stage}",
                limit.as_secs()
            ),
            partial,
        );
    };
    let Some(result) = result.and_then(|r| serde_json::from_str::<Json>(&r).ok()) else {
        let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
        return fail(
            Kind::Crash(stage.split(' ').next().unwrap_or("").to_string()),
            format!("the process running the case died ({status}) at: {stage}; stderr: {tail}"),
            partial,
        );
    };
    if let Some(d) = result.get("rejected").and_then(Json::as_str) {
        return Outcome::Rejected(d.to_string());
    }
    let wires: Vec<Wire> = serde_json::from_value(result["failures"].clone()).unwrap_or_default();
    let tally = serde_json::from_value(result["tally"].clone()).unwrap_or_default();
    Outcome::Ran(
        wires
            .into_iter()
            .map(|w| Failure {
                kind: w.kind,
                date: NaiveDate::parse_from_str(&w.date, "%Y-%m-%d").unwrap_or(case.dates[0]),
                record: w.record,
                detail: w.detail,
            })
            .collect(),
        tally,
    )
}

/// Whether a case still fails with `kind`. Failures of one record are looked for in
/// this process, through both tiers only (fast: most shrinking steps take a
/// millisecond); the batch, a hang or a crash need a child process (a panic of the
/// compiled tier in the batch's worker makes the batch hang), with a shorter time
/// limit, since a step that hangs costs the whole limit.
fn fails_with(case: &Case, kind: &Kind) -> bool {
    ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match kind {
        Kind::Verdict(_)
        | Kind::LowerPanic
        | Kind::CompiledPanic
        | Kind::ReferencePanic
        | Kind::Reader => records_fail_with(case, kind),
        _ => match run_case_within(case, SHRINK_WATCHDOG) {
            Outcome::Rejected(_) => false,
            Outcome::Ran(f, _) => f.iter().any(|f| &f.kind == kind),
        },
    }
}

/// Shrinking steps tried (reported with `MIANSHEN_DIFF_DEBUG`).
static ATTEMPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The name of the threads that check shrinking steps in this process; their caught
/// panics are not printed (there are thousands).
const QUIET_THREAD: &str = "differential-shrink";

/// Leaves the panic messages of [`QUIET_THREAD`] threads out, and prints the others
/// as before.
fn quiet_shrink_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(QUIET_THREAD) {
                default(info);
            }
        }));
    });
}

/// Both tiers on every record and date of `case` (no batch), in this process on a
/// thread of its own; whether a failure of `kind` occurs (a step that does not finish
/// in [`SHRINK_WATCHDOG`] counts as not failing, and its thread is left behind).
fn records_fail_with(case: &Case, kind: &Kind) -> bool {
    quiet_shrink_panics();
    let (tx, rx) = std::sync::mpsc::channel();
    let (case, want) = (case.clone(), kind.clone());
    let spawned = std::thread::Builder::new()
        .name(QUIET_THREAD.into())
        .stack_size(16 << 20)
        .spawn(move || {
            let found = (|| {
                let rules = build(&case.schema, &case.rules).ok()?;
                for &date in &case.dates {
                    let compiled = match tiers::lower(&rules, date) {
                        Ok(c) => c,
                        Err(f) => return Some(f.kind == want),
                    };
                    for (i, r) in case.records.iter().enumerate() {
                        let text = r.to_string();
                        if tiers::check_record(&rules, &compiled, date, i, &text)
                            .iter()
                            .any(|f| f.kind == want)
                        {
                            return Some(true);
                        }
                    }
                }
                Some(false)
            })();
            let _ = tx.send(found.unwrap_or(false));
        });
    spawned.is_ok() && rx.recv_timeout(SHRINK_WATCHDOG).unwrap_or(false)
}

// ------------------------------------------------------------------ shrinking

/// Every rule set one step simpler than `s`: a part dropped, or an expression replaced
/// by a literal of its type. Steps that break the rule set are rejected by `check`
/// and so never kept.
fn simpler_specs(s: &RuleSetSpec) -> Vec<RuleSetSpec> {
    let mut out = vec![];
    let mut push = |f: &dyn Fn(&mut RuleSetSpec)| {
        let mut c = s.clone();
        f(&mut c);
        out.push(c);
    };
    for i in 0..s.policies.len() {
        push(&|c| {
            c.policies.remove(i);
        });
    }
    for i in 0..s.functions.len() {
        push(&|c| {
            c.functions.remove(i);
        });
    }
    for i in 0..s.params.len() {
        push(&|c| {
            c.params.remove(i);
        });
    }
    for i in 0..s.scales.len() {
        push(&|c| {
            c.scales.remove(i);
        });
    }
    for (i, p) in s.policies.iter().enumerate() {
        if p.per_item.is_some() {
            push(&|c| c.policies[i].per_item = None);
            if p.per_item.as_deref() != Some("for each item it in items") {
                push(&|c| c.policies[i].per_item = Some("for each item it in items".into()));
            }
        }
        if p.effective != "from 2000-01-01" {
            push(&|c| c.policies[i].effective = "from 2000-01-01".into());
        }
        if p.mode != "no_application" {
            push(&|c| c.policies[i].mode = "no_application");
        }
        for j in 0..p.clauses.len() {
            push(&|c| {
                c.policies[i].clauses.remove(j);
            });
        }
        for j in 0..p.amounts.len() {
            push(&|c| {
                c.policies[i].amounts.remove(j);
            });
            let a = &p.amounts[j];
            for k in 0..a.extras.len() {
                push(&|c| {
                    c.policies[i].amounts[j].extras.remove(k);
                });
            }
            if !matches!(a.guard, Guard::None) {
                push(&|c| c.policies[i].amounts[j].guard = Guard::None);
            }
            if a.value != "1.00" {
                push(&|c| c.policies[i].amounts[j].value = "1.00".into());
            }
            if a.period != "per_month" || a.unit != "CNY" {
                push(&|c| {
                    c.policies[i].amounts[j].period = "per_month";
                    c.policies[i].amounts[j].unit = "CNY";
                });
            }
        }
        for j in 0..p.lets.len() {
            push(&|c| {
                c.policies[i].lets.remove(j);
            });
            if p.lets[j].expr != gen::literal(p.lets[j].ty) {
                push(&|c| c.policies[i].lets[j].expr = gen::literal(p.lets[j].ty).into());
            }
        }
        for j in 0..p.clauses.len() {
            if p.clauses[j] != "true" {
                push(&|c| c.policies[i].clauses[j] = "true".into());
            }
        }
    }
    for (i, f) in s.functions.iter().enumerate() {
        for j in 0..f.lets.len() {
            push(&|c| {
                c.functions[i].lets.remove(j);
            });
            if f.lets[j].expr != gen::literal(f.lets[j].ty) {
                push(&|c| c.functions[i].lets[j].expr = gen::literal(f.lets[j].ty).into());
            }
        }
        if f.body != gen::literal(f.ret) {
            push(&|c| c.functions[i].body = gen::literal(f.ret).into());
        }
    }
    out
}

/// Every expression of a rule set, to be replaced by a simpler one.
fn exprs_mut(s: &mut RuleSetSpec) -> Vec<&mut String> {
    let mut out: Vec<&mut String> = vec![];
    for f in &mut s.functions {
        out.extend(f.lets.iter_mut().map(|l| &mut l.expr));
        out.push(&mut f.body);
    }
    for p in &mut s.policies {
        out.extend(p.lets.iter_mut().map(|l| &mut l.expr));
        out.extend(p.clauses.iter_mut());
        for a in &mut p.amounts {
            if let Guard::When(c) = &mut a.guard {
                out.push(c);
            }
            out.push(&mut a.value);
            out.extend(a.extras.iter_mut().map(|e| &mut e.expr));
        }
    }
    out
}

/// Literals (and simple reads) to put in place of a sub-expression; `check` keeps
/// those of the right type.
const SIMPLE: [&str; 8] = [
    "1",
    "1.00",
    "true",
    "false",
    "ref",
    "2024-02-29",
    "person.salary",
    "person.color",
];

/// Expressions one step simpler than `e`: a parenthesised part or a call replaced by
/// one of its own parenthesised parts or calls, or by a literal.
fn simpler_exprs(e: &str) -> Vec<String> {
    let b = e.as_bytes();
    // Spans of parenthesised groups and calls (a call's span starts at its name).
    let mut spans = vec![];
    let mut stack = vec![];
    for (i, &c) in b.iter().enumerate() {
        if c == b'(' {
            let mut start = i;
            while start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
                start -= 1;
            }
            stack.push(start);
        } else if c == b')' {
            if let Some(start) = stack.pop() {
                spans.push((start, i + 1));
            }
        }
    }
    spans.sort_by_key(|&(a, z)| (std::cmp::Reverse(z - a), a));
    let mut out = vec![];
    let whole = (0, e.len());
    let inside =
        |(a, z): (usize, usize), (ia, iz): (usize, usize)| a <= ia && iz <= z && (ia, iz) != (a, z);
    for &outer in std::iter::once(&whole).chain(spans.iter()) {
        let (a, z) = outer;
        // The direct parts: spans inside this one and inside no other part of it.
        let parts = spans.iter().filter(|&&s| {
            inside(outer, s) && !spans.iter().any(|&m| inside(outer, m) && inside(m, s))
        });
        for &(ia, iz) in parts {
            out.push(format!("{}{}{}", &e[..a], &e[ia..iz], &e[z..]));
        }
        for lit in SIMPLE {
            if &e[a..z] != lit {
                out.push(format!("{}{lit}{}", &e[..a], &e[z..]));
            }
        }
    }
    out.dedup();
    out
}

/// Every record one step simpler: a key or a list item removed.
fn simpler_records(r: &Json) -> Vec<Json> {
    let mut out = vec![];
    let Some(root) = r.as_object() else {
        return out;
    };
    for (k, v) in root {
        if k != "person" {
            let mut c = root.clone();
            c.remove(k);
            out.push(Json::Object(c));
        }
        match v {
            Json::Object(m) => {
                for kk in m.keys().filter(|kk| !(k == "person" && *kk == "id")) {
                    let mut c = root.clone();
                    if let Some(Json::Object(inner)) = c.get_mut(k) {
                        inner.remove(kk);
                    }
                    out.push(Json::Object(c));
                }
            }
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let mut c = root.clone();
                    if let Some(Json::Array(a)) = c.get_mut(k) {
                        a.remove(i);
                    }
                    out.push(Json::Object(c));
                    if let Json::Object(m) = item {
                        for kk in m.keys().filter(|kk| *kk != "id") {
                            let mut c = root.clone();
                            if let Some(Json::Object(it)) = c.get_mut(k).and_then(|a| a.get_mut(i))
                            {
                                it.remove(kk);
                            }
                            out.push(Json::Object(c));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Shrinks a failing case to a small one that fails with the same kind: first to the
/// failing date and record, then the rule set and the record step by step, within
/// [`SHRINK_BUDGET`].
fn shrink(case: &Case, failure: &Failure) -> Case {
    let kind = &failure.kind;
    let budget = Duration::from_secs(env_u64(
        "MIANSHEN_DIFF_SHRINK_SECS",
        SHRINK_BUDGET.as_secs(),
    ));
    let deadline = Instant::now() + budget;
    let mut cur = case.clone();
    let mut c = cur.clone();
    c.dates = vec![failure.date];
    if fails_with(&c, kind) {
        cur = c;
    }
    if let Some(r) = failure.record {
        let mut c = cur.clone();
        c.records = vec![cur.records[r].clone()];
        if fails_with(&c, kind) {
            cur = c;
        }
    }
    // Fewer records, one at a time (for failures not tied to one record).
    let mut i = 0;
    while cur.records.len() > 1 && i < cur.records.len() && Instant::now() < deadline {
        let mut c = cur.clone();
        c.records.remove(i);
        if fails_with(&c, kind) {
            cur = c;
        } else {
            i += 1;
        }
    }
    loop {
        if std::env::var_os("MIANSHEN_DIFF_TRACE").is_some() {
            eprintln!(
                "shrink: {} steps, {} bytes of rules, {} records",
                ATTEMPTS.load(std::sync::atomic::Ordering::Relaxed),
                cur.rules.len(),
                cur.records.len()
            );
        }
        let mut changed = false;
        if let Some(spec) = cur.spec.clone() {
            for s in simpler_specs(&spec) {
                if Instant::now() > deadline {
                    break;
                }
                let c = cur.with_spec(s);
                if c.rules == cur.rules && c.schema == cur.schema {
                    continue;
                }
                if fails_with(&c, kind) {
                    cur = c;
                    changed = true;
                    break;
                }
            }
        }
        for i in 0..cur.records.len() {
            let mut k = 0;
            loop {
                let candidates = simpler_records(&cur.records[i]);
                if k >= candidates.len() || Instant::now() > deadline {
                    break;
                }
                let mut c = cur.clone();
                c.records[i] = candidates[k].clone();
                if fails_with(&c, kind) {
                    cur = c;
                    changed = true;
                } else {
                    k += 1;
                }
            }
        }
        if changed {
            continue;
        }
        // Then expression by expression, each to a part of itself or a literal, as
        // far as it goes, before the next.
        if let Some(mut spec) = cur.spec.clone() {
            let n = exprs_mut(&mut spec).len();
            for i in 0..n {
                // After a success, go on from about where it was found: the larger
                // parts before it did not help.
                let mut from = 0;
                'this: loop {
                    let e = exprs_mut(&mut spec)[i].clone();
                    let candidates = simpler_exprs(&e);
                    for (k, simpler) in candidates.into_iter().enumerate().skip(from) {
                        if Instant::now() > deadline {
                            break 'this;
                        }
                        from = k.saturating_sub(8);
                        let mut s = spec.clone();
                        *exprs_mut(&mut s)[i] = simpler;
                        let c = cur.with_spec(s.clone());
                        if fails_with(&c, kind) {
                            cur = c;
                            spec = s;
                            changed = true;
                            continue 'this;
                        }
                    }
                    break;
                }
            }
        }
        if !changed || Instant::now() > deadline {
            break;
        }
    }
    cur
}

// ------------------------------------------------------------------ reports

/// Where failures are written: `$CARGO_TARGET_DIR/differential-failures` (or the
/// crate's `target/`).
fn failures_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("differential-failures")
}

/// Writes a (shrunk) failing case as a rules directory, records and date, with the
/// commands that replay it; returns the report text.
fn write_failure(name: &str, case: &Case, failure: &Failure) -> String {
    let dir = failures_dir().join(name);
    let _ = std::fs::remove_dir_all(dir.join("rules"));
    let rules_dir = dir.join("rules");
    let write = |p: &Path, text: &str| {
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(p, text);
    };
    write(&rules_dir.join("schema.yaml"), &case.schema);
    write(&rules_dir.join("generated.rules"), &case.rules);
    let lines: String = case.records.iter().map(|r| format!("{r}\n")).collect();
    write(&dir.join("records.jsonl"), &lines);
    let date = failure.date;
    write(&dir.join("date"), &format!("{date}\n"));
    let record = match failure.record {
        Some(r) if r < case.records.len() => case.records[r].clone(),
        _ => case.records.first().cloned().unwrap_or(Json::Null),
    };
    write(
        &dir.join("record.json"),
        &serde_json::to_string_pretty(&record).unwrap_or_default(),
    );
    let d = dir.display();
    let commands = format!(
        "cargo run --release -- run {d}/rules --input {d}/records.jsonl --date {date} --out {d}/out --threads 1 --quiet\n\
         cargo run --release -- eval {d}/rules {d}/record.json --date {date} --json"
    );
    // Re-run the shrunk case for the failure as it now reads.
    let now = match run_case(case) {
        Outcome::Ran(f, _) => f
            .into_iter()
            .filter(|f| f.kind == failure.kind)
            .map(|f| f.detail)
            .take(3)
            .collect::<Vec<_>>()
            .join("\n  "),
        Outcome::Rejected(d) => format!("(the shrunk case no longer checks: {d})"),
    };
    let report = format!(
        "=== {name}: {:?}\n  {now}\n--- schema.yaml\n{}--- generated.rules\n{}--- records.jsonl\n{lines}--- date {date}\n--- replay:\n{commands}\n",
        failure.kind, case.schema, case.rules
    );
    write(&dir.join("REPORT.txt"), &report);
    report
}

// ------------------------------------------------------------------ the fuzzer

/// Only this rule set (by number), to look into one failure.
const ONLY_ENV: &str = "MIANSHEN_DIFF_ONLY";

/// Constructs the generated rule sets use, counted over the accepted ones.
const CONSTRUCTS: [(&str, &str); 37] = [
    ("let (policy)", "\n  let d"),
    ("let chain (d1 = … d0 …)", "let d1"),
    ("function", "function "),
    ("function with block body", "{\n  let v"),
    ("function calling function", "= f"),
    ("sum", "(sum "),
    ("min/max aggregate", "(max m"),
    ("any", "(any "),
    ("all", "(all "),
    ("no", "(no "),
    ("count", "(count "),
    ("the", "(the "),
    ("latest/earliest", "(latest "),
    ("cases", "(cases"),
    ("match", "(match"),
    ("if", "(if "),
    ("otherwise", " otherwise "),
    ("is none", "is none"),
    ("in {…}", " in {"),
    ("range", " .. "),
    ("division", " / "),
    ("round", "round("),
    ("age", "age("),
    ("add_months", "add_months("),
    ("month_diff", "month_diff("),
    ("within_last", "within_last("),
    ("date shift", " years)"),
    ("parameter at a date", "RATE("),
    ("absent step", "absent"),
    ("marginal", "marginal("),
    ("bracket", "bracket("),
    ("for each", "for each"),
    ("eligible(…)", "eligible("),
    ("amount guard", " when "),
    ("amount otherwise", " otherwise:"),
    ("extras", "with e"),
    ("effective to", " to 20"),
];

/// The regression rule set of the task (functions calling functions; definition
/// slots double-counted when inlined): the reference gives 76.00.
const REGRESSION_SCHEMA: &str = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          salary: {type: decimal}\n";
const REGRESSION_RULES: &str = r#"
function g(x: decimal): decimal { let y = x + 1  y }
function f(x: decimal): decimal = g(x) * 2
function h(x: decimal): decimal { let z = 7  let w = z + 5  w + x }
policy p "p" { subject person  mode no_application  effective from 2000-01-01
  let a = person.salary  let b = a + 1
  amount per_month: f(b) + h(a) }
"#;

#[test]
fn regression_nested_function_definitions_agree() {
    let case = Case {
        schema: REGRESSION_SCHEMA.into(),
        rules: REGRESSION_RULES.into(),
        spec: None,
        records: vec![serde_json::json!({"person": {"id": "X", "salary": 20}})],
        dates: vec![NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date")],
        skip_batch_after_panic: false,
    };
    let rules = build(&case.schema, &case.rules).expect("the regression rules check");
    let rec = tiers::reference_record(&rules, &case.records[0].to_string()).expect("record");
    let d = mianshen::internals::eval::evaluate_policy(
        &rules,
        0,
        &rec,
        case.dates[0],
        Default::default(),
    );
    assert_eq!(
        d.amount.as_ref().map(|a| a.value.normalize().to_string()),
        Some("76".to_string()),
        "the reference evaluator: 2 * (21 + 1) + (12 + 20)"
    );
    let failures = match run_case(&case) {
        Outcome::Ran(f, _) => f,
        Outcome::Rejected(d) => panic!("rejected: {d}"),
    };
    if let Some(f) = failures.first() {
        let report = write_failure("regression-nested-functions", &case, f);
        let all: Vec<String> = failures
            .iter()
            .map(|f| format!("{:?}: {}", f.kind, f.detail))
            .collect();
        panic!(
            "{} disagreement(s):\n{}\n\n{report}",
            failures.len(),
            all.join("\n")
        );
    }
}

/// The fuzzer: random rule sets, records and dates through both tiers and the batch.
#[test]
fn random_rule_sets_agree_across_tiers() {
    let cases = env_u64("MIANSHEN_DIFF_CASES", DEFAULT_CASES);
    let seed = env_u64("MIANSHEN_DIFF_SEED", DEFAULT_SEED);
    let debug = std::env::var_os("MIANSHEN_DIFF_DEBUG").is_some();
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(failures_dir().join("fuzz"));
    let mut rejected = 0u64;
    let mut accepted = 0u64;
    let mut coverage: BTreeMap<&str, u64> = BTreeMap::new();
    let mut tally = tiers::Tally::default();
    // The first failure of each kind, shrunk; later ones only counted.
    let mut found: BTreeMap<Kind, (u64, usize)> = BTreeMap::new();
    let mut reports = vec![];
    let mut shrink_spent = Duration::ZERO;
    let only = std::env::var(ONLY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    for k in 0..cases {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let mut rng = rng_for(seed, k);
        let mut g = Gen::new(&mut rng, DEPTH);
        let spec = g.rule_set();
        let mut dates = gen::fixed_dates();
        dates.push(gen::random_date(g.rng));
        let records: Vec<Json> = (0..RECORDS)
            .map(|r| g.record(&spec.schema, &format!("R{r}"), &dates))
            .collect();
        let mut case = Case::from_spec(spec, records, dates);
        case.skip_batch_after_panic = found.contains_key(&Kind::Hang);
        let mut outcome = run_case(&case);
        // A panic of the compiled tier loses every verdict of the record, which can hide
        // other disagreements: then each policy is also checked in a rule set of its
        // own (those that name another policy with `eligible(…)` do not check alone).
        let mut alone_failures: Vec<(Failure, Case)> = vec![];
        if let Outcome::Ran(failures, _) = &mut outcome {
            let spec = case.spec.clone().expect("a generated case");
            if spec.policies.len() > 1 && failures.iter().any(|f| f.kind == Kind::CompiledPanic) {
                for i in 0..spec.policies.len() {
                    let mut alone = spec.clone();
                    alone.policies = vec![spec.policies[i].clone()];
                    let mut c = case.with_spec(alone);
                    c.skip_batch_after_panic = true;
                    if let Outcome::Ran(more, _) = run_case(&c) {
                        for f in more.into_iter().filter(|f| f.kind != Kind::CompiledPanic) {
                            alone_failures.push((f, c.clone()));
                        }
                    }
                }
            }
        }
        match outcome {
            Outcome::Rejected(d) => {
                rejected += 1;
                if debug {
                    eprintln!("case {k} rejected:\n{d}\n{}", case.rules);
                }
            }
            Outcome::Ran(failures, t) => {
                accepted += 1;
                tally.add(&t);
                for (name, needle) in CONSTRUCTS {
                    if case.rules.contains(needle) {
                        *coverage.entry(name).or_default() += 1;
                    }
                }
                let with_case = failures
                    .into_iter()
                    .map(|f| (f, case.clone()))
                    .chain(alone_failures);
                for (f, case) in with_case {
                    let e = found.entry(f.kind.clone()).or_insert((k, 0));
                    e.1 += 1;
                    if e.1 == 1 {
                        let name = format!("fuzz/{}", found.len());
                        // The case as generated, before shrinking (the layout of
                        // `write_case`, which `MIANSHEN_DIFF_CHILD` runs).
                        let _ = write_case(&failures_dir().join(&name).join("original"), &case);
                        // With a budget of one's own, every failure is shrunk.
                        let total = std::env::var_os("MIANSHEN_DIFF_SHRINK_SECS")
                            .map_or(SHRINK_TOTAL, |_| Duration::MAX);
                        let small = if shrink_spent < total {
                            let t = Instant::now();
                            let small = shrink(&case, &f);
                            shrink_spent += t.elapsed();
                            if debug {
                                eprintln!(
                                    "shrinking {:?}: {:.1} s, {} steps tried so far",
                                    f.kind,
                                    t.elapsed().as_secs_f64(),
                                    ATTEMPTS.load(std::sync::atomic::Ordering::Relaxed)
                                );
                            }
                            small
                        } else {
                            case.clone()
                        };
                        reports.push(write_failure(&name, &small, &f));
                    }
                }
            }
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "differential: seed {seed}, {cases} rule sets ({accepted} accepted, {rejected} rejected by check), \
         {RECORDS} records x {} dates each, {:.1} s",
        gen::fixed_dates().len() + 1,
        elapsed.as_secs_f64()
    );
    eprintln!(
        "policies compiled: {} of {} (per date); compiled verdicts: {} eligible, {} not eligible, \
         {} unknown, {} deferred; records refused by the fast reader: {}",
        tally.compiled,
        tally.policies,
        tally.eligible,
        tally.not_eligible,
        tally.unknown,
        tally.deferred,
        tally.refused
    );
    eprintln!("constructs (rule sets using them, of {accepted}):");
    for (name, _) in CONSTRUCTS {
        eprintln!("  {name:<28} {}", coverage.get(name).copied().unwrap_or(0));
    }
    assert!(
        rejected * 10 < cases.max(1),
        "check rejects {rejected} of {cases} generated rule sets (MIANSHEN_DIFF_DEBUG=1 prints why)"
    );
    if !found.is_empty() {
        let summary: Vec<String> = found
            .iter()
            .map(|(kind, (first, n))| {
                format!("{kind:?}: {n} failure(s), first in rule set {first}")
            })
            .collect();
        panic!(
            "the tiers disagree ({} kinds):\n{}\n\n{}",
            found.len(),
            summary.join("\n"),
            reports.join("\n")
        );
    }
}

// ------------------------------------------------------------------ example cases

/// Every shipped example case (`rules/cases/*.yaml`) through both tiers: the case's
/// record on its date, the compiled verdicts against the reference decision (which
/// `mianshen test` holds to the case's expectations).
#[test]
fn shipped_example_cases_agree_across_tiers() {
    let dir = root().join("rules");
    let rules = mianshen::RuleSet::load_dir(&dir).expect("the shipped rules check");
    let mut failures = vec![];
    let mut checked = 0;
    for file in mianshen::internals::testing::case_files(&dir) {
        let cases = mianshen::internals::testing::read_case_file(&file).expect("a case file");
        for case in &cases.cases {
            let Some(date) = case
                .reference_date
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let Ok(record) = serde_json::to_value(&case.record) else {
                continue;
            };
            let text = record.to_string();
            let compiled = match tiers::lower(&rules, date) {
                Ok(c) => c,
                Err(f) => {
                    failures.push(format!("{}: {}", case.id, f.detail));
                    continue;
                }
            };
            checked += 1;
            for f in tiers::check_record(&rules, &compiled, date, 0, &text) {
                failures.push(format!(
                    "{} ({}): {:?}: {}",
                    case.id,
                    file.display(),
                    f.kind,
                    f.detail
                ));
            }
            for f in tiers::check_batch(&rules, date, &[text]) {
                failures.push(format!(
                    "{} ({}): {:?}: {}",
                    case.id,
                    file.display(),
                    f.kind,
                    f.detail
                ));
            }
        }
    }
    assert!(checked > 50, "only {checked} example cases found");
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------ the calendar sweep

/// Ages, anniversaries and month arithmetic around 29 February, swept rather than
/// sampled: every threshold form the rules use (`age(b) >= K`, `age(b, on)`, `b + K
/// years <= ref`, `add_years`, `within_last`, `month_diff`), for thresholds K, on
/// reference dates at the leap day, the days around it, month and year ends, for
/// birthdays on the threshold day and the days around it, and on 28/29 February and
/// 1 March of the leap years near it. The compiled tier folds `ref` into such
/// conditions at lowering time, which is where a clamped 29 February goes wrong.
#[test]
fn leap_day_ages_agree_across_tiers() {
    const KS: [i64; 4] = [1, 18, 60, 65];
    let mut rules = String::new();
    let mut n = 0;
    let mut policy = |cond: String| {
        rules.push_str(&format!(
            "policy q{n} \"q{n}\" {{\n  subject person\n  mode no_application\n  effective from 1900-01-01\n  C1 \"c\": {cond}\n}}\n"
        ));
        n += 1;
    };
    for k in KS {
        for op in [">=", "<", ">", "<=", "=="] {
            policy(format!("age(person.birth_date) {op} {k}"));
        }
        policy(format!("age(person.birth_date, ref) >= {k}"));
        policy(format!("age(person.birth_date, ref - 1 days) >= {k}"));
        policy(format!("person.birth_date + {k} years <= ref"));
        policy(format!("person.birth_date <= ref - {k} years"));
        policy(format!("add_years(person.birth_date, {k}) <= ref"));
        policy(format!("add_months(person.birth_date, {}) <= ref", 12 * k));
        policy(format!("within_last(person.birth_date, {k} years)"));
        policy(format!("month_diff(person.birth_date, ref) >= {}", 12 * k));
        policy(format!("age(person.birth_date) in {k} .. {}", k + 1));
        policy(format!("age(person.birth_date, person.on) >= {k}"));
        policy(format!("older(person.birth_date, {k})"));
        policy(format!("any m in kids: age(m.birth_date) >= {k}"));
        policy(format!(
            "(count m in kids: age(m.birth_date, ref) < {k}) >= 1"
        ));
    }
    // Ages as values, not only as thresholds.
    rules.push_str(
        "function older(b: date, k: int): bool = age(b) >= k
         policy amount-age \"a\" {\n  subject person\n  mode no_application\n  effective from 1900-01-01\n           amount per_month: age(person.birth_date) * 1.00 + month_diff(person.birth_date, ref) / 100\n\n           with at = age(person.birth_date, person.on), next = add_years(person.birth_date, age(person.birth_date) + 1)\n}\n",
    );
    let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          birth_date: {type: date}\n          on: {type: date}\n      kids:\n        default: []\n        items:\n          key: id\n          fields:\n            id: {type: string}\n            birth_date: {type: date}\n";
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
    let mut dates = gen::fixed_dates();
    dates.extend(
        [
            "2028-02-29",
            "2027-02-28",
            "2027-03-01",
            "2024-01-31",
            "2025-12-31",
        ]
        .map(d),
    );
    let mut births = std::collections::BTreeSet::new();
    for r in &dates {
        for k in KS {
            let base = mianshen::internals::semantics::calendar::add_years(*r, -k).expect("a date");
            for shift in -2..=2 {
                births.insert(base + chrono::Duration::days(shift));
            }
            let y = chrono::Datelike::year(&base);
            for ly in y - 4..=y + 4 {
                if let Some(leap) = NaiveDate::from_ymd_opt(ly, 2, 29) {
                    births.insert(leap);
                    births.insert(leap - chrono::Duration::days(1));
                    births.insert(leap + chrono::Duration::days(1));
                }
            }
        }
    }
    let records: Vec<Json> = births
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let on = dates[i % dates.len()];
            serde_json::json!({
                "person": {"id": format!("B{i}"), "birth_date": b.to_string(), "on": on.to_string()},
                "kids": [{"id": "K1", "birth_date": b.to_string()}],
            })
        })
        .collect();
    let case = Case {
        schema: schema.into(),
        rules,
        spec: None,
        records,
        dates,
        skip_batch_after_panic: false,
    };
    // The sweep is larger than a generated case: a minute before it counts as a hang.
    let failures = match run_case_within(&case, Duration::from_secs(60)) {
        Outcome::Ran(f, t) => {
            eprintln!(
                "leap-day sweep: {} records x {} dates, {} of {} policies compiled; verdicts: {t:?}",
                case.records.len(),
                case.dates.len(),
                t.compiled,
                t.policies
            );
            // The sweep has teeth only if the compiled tier decides.
            assert!(
                !f.is_empty() || (t.eligible > 0 && t.not_eligible > 0),
                "{t:?}"
            );
            f
        }
        Outcome::Rejected(d) => panic!("the sweep's rules do not check:\n{d}"),
    };
    if !failures.is_empty() {
        // One line per policy and date (the first record), so the pattern shows.
        let mut seen = std::collections::BTreeSet::new();
        let mut lines = vec![];
        for f in &failures {
            let policy = f.detail.split('`').nth(1).unwrap_or("?").to_string();
            if seen.insert((policy, f.date, format!("{:?}", f.kind))) {
                let birth = f
                    .record
                    .and_then(|r| case.records.get(r))
                    .map(|r| r["person"]["birth_date"].to_string())
                    .unwrap_or_default();
                lines.push(format!("{:?} birth {birth}: {}", f.kind, f.detail));
            }
        }
        let first = &failures[0];
        let small = Case {
            records: first
                .record
                .map(|r| vec![case.records[r].clone()])
                .unwrap_or_else(|| case.records.clone()),
            dates: vec![first.date],
            ..case.clone()
        };
        let report = write_failure("leap-day-ages", &small, first);
        panic!(
            "{} disagreements on leap-day ages ({} distinct); the rules:\n{}\n{}\n\n{report}",
            failures.len(),
            lines.len(),
            case.rules,
            lines.join("\n")
        );
    }
}

// ------------------------------------------------------------------ deep rule sets

/// Deep rule sets, in a child process each (a stack overflow aborts the process):
/// long chains of definitions, deeply nested expressions and conditionals, and long
/// chains of functions calling functions. Whatever the depth the checker accepts, both
/// tiers (and the batch) must decide, and agree, rather than crash.
#[test]
fn deep_rule_sets_do_not_crash_either_tier() {
    let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          salary: {type: decimal}\n          flag: {type: bool}\n";
    let policy = |body: &str| {
        format!(
            "policy deep \"deep\" {{\n  subject person\n  mode no_application\n  effective from 2000-01-01\n{body}\n}}\n"
        )
    };
    let mut shapes: Vec<(String, String)> = vec![];
    for n in [100, 1000, 5000] {
        let mut body = String::from("  let d0 = person.salary\n");
        for i in 1..n {
            body.push_str(&format!("  let d{i} = d{} + 1\n", i - 1));
        }
        body.push_str(&format!("  amount per_month: d{}\n", n - 1));
        shapes.push((format!("a chain of {n} definitions"), policy(&body)));
    }
    for n in [50, 200, 1000] {
        let e = (0..n).fold("person.salary".to_string(), |e, _| format!("({e} + 1)"));
        shapes.push((
            format!("an expression nested {n} deep"),
            policy(&format!("  amount per_month: {e}")),
        ));
        let c = (0..n).fold("person.salary".to_string(), |e, _| {
            format!("(if person.flag then {e} else 0)")
        });
        shapes.push((
            format!("conditionals nested {n} deep"),
            policy(&format!("  amount per_month: {c}")),
        ));
    }
    for n in [20, 100, 400] {
        let mut text = String::from("function f0(x: decimal): decimal = x + 1\n");
        for i in 1..n {
            text.push_str(&format!(
                "function f{i}(x: decimal): decimal {{ let y = f{}(x)  y + 1 }}\n",
                i - 1
            ));
        }
        text.push_str(&policy(&format!(
            "  let a = person.salary\n  amount per_month: f{}(a)",
            n - 1
        )));
        shapes.push((format!("a chain of {n} functions with definitions"), text));
    }
    let mut failures = vec![];
    for (what, rules) in shapes {
        let case = Case {
            schema: schema.into(),
            rules,
            spec: None,
            // The second record lacks a field: the batch then asks the reference.
            records: vec![
                serde_json::json!({"person": {"id": "D1", "salary": 1, "flag": true}}),
                serde_json::json!({"person": {"id": "D2"}}),
            ],
            dates: vec![NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date")],
            skip_batch_after_panic: false,
        };
        match run_case(&case) {
            // Too deep for the checker (a diagnostic, not a crash) is fine.
            Outcome::Rejected(_) => eprintln!("deep: {what}: rejected by check"),
            Outcome::Ran(f, _) if f.is_empty() => eprintln!("deep: {what}: both tiers agree"),
            Outcome::Ran(f, _) => {
                let name = format!("deep/{}", what.replace(' ', "-"));
                let _ = write_failure(&name, &case, &f[0]);
                failures.push(format!(
                    "{what} ({}): {}",
                    failures_dir().join(name).display(),
                    f.iter()
                        .map(|f| format!("{:?}: {}", f.kind, f.detail))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "deep rule sets:\n{}",
        failures.join("\n")
    );
}
