//! Benchmark workload `city-10` (shared/bench/WORKLOAD.md): the engine running
//! `benches/city-10` against the hand-written Rust baseline (`benches/baseline.rs`), the
//! practical limit, in the same process and on the same in-memory input.
//!
//! ```text
//! cargo bench --bench city10
//! MIANSHEN_BENCH_INPUT=/tmp/c10-1m.jsonl cargo bench --bench city10
//! ```
//!
//! Measures, on 1 and 2 threads (rayon pools):
//!
//! * **end to end**: the population in memory → summary. The engine gets the JSON Lines
//!   text and runs `batch::run_json_lines` exactly as `mianshen run` does on a file
//!   (blocks of text, lines found and read straight into rows by the workers, the
//!   compiled rules, the reference evaluator for what they leave open, the
//!   grants/pushes JSON lines built and handed to a sink that discards them); the
//!   baseline gets the lines already split as `String`s and runs `parse_line` +
//!   `evaluate` + `Summary::add` over parallel chunks;
//! * **evaluation only**: records already parsed (engine: rows of the compiled layout in
//!   `RowBatch` arenas, decided by `RowEvaluator`; baseline: `Vec<Person>`) → outcomes
//!   and amounts summed;
//! * **single-record latency**: every shipped `rules/` policy for one person record of
//!   `rules/cases`, with full traces, through `eval::evaluate_all`.
//!
//! Every timed pass checks its summary against the baseline's (per policy: counts of
//! each outcome and the exact amount sum), so a wrong engine is never timed.
//!
//! Environment:
//!
//! * `MIANSHEN_BENCH_INPUT`: population file (JSON Lines). Default: the 3,000-record
//!   fixture `tests/fixtures/city10-3000.jsonl` replicated to at least 100,000 lines.
//! * `MIANSHEN_BENCH_MIN_SECS` (default 1.0): minimum time spent per configuration;
//!   at least `MIANSHEN_BENCH_SAMPLES` (default 3) samples each (one sample = one
//!   pass over the whole input; evaluation-only passes over a small input are repeated
//!   until a sample lasts ≥ 50 ms).
//! * `MIANSHEN_BENCH_CASE`: the case id for the latency figure (default: the person
//!   case with the largest record).
//! * `MIANSHEN_BENCH_ONLY`: `batch`, `latency` or `diff` to run one part only (`diff`
//!   runs only when asked: `mianshen diff` beside `mianshen run` on the same input —
//!   one rule set on 2026-07-01 and 2027-01-01, and a reform overlay raising
//!   `MIN_LIVING` — their wall and CPU time and peak memory);
//!   `MIANSHEN_BENCH_THREADS`: the thread counts, comma-separated (default `1,2`).

#[allow(dead_code)]
#[path = "baseline.rs"]
mod baseline;

// The same allocator as the `mianshen` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::NaiveDate;
use mianshen::internals::batch;
use mianshen::internals::eval::{evaluate_all, evaluate_policy};
use mianshen::internals::fast::{FastDecider, FastRows, FastRules, Verdict};
use mianshen::internals::record::{self, fast};
use mianshen::{ChunkOutput, EvalOptions, Outcome, Record, RuleSet, RunConfig, Sink};
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const FIXTURE: &str = "tests/fixtures/city10-3000.jsonl";
const MIN_LINES: usize = 100_000;
/// Records per parallel chunk (the CLI's chunk size).
const CHUNK: usize = 4096;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ref_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 7, 1).expect("date")
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------------ memory

/// A line of /proc/self/status, in KiB.
fn proc_status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The process's peak RSS over the whole run (KiB), kept across [`reset_peak`].
static PROCESS_PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current VmHWM (KiB), noted into [`PROCESS_PEAK`].
fn peak_kib() -> u64 {
    let k = proc_status_kib("VmHWM:").unwrap_or(0);
    PROCESS_PEAK.fetch_max(k, std::sync::atomic::Ordering::Relaxed);
    k
}

/// Resets the peak RSS (VmHWM) to the current RSS (Linux ≥ 4.0), so that the next
/// reading is the peak of one phase; without it, readings are the process's peak.
fn reset_peak() {
    peak_kib();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time of the whole process (user + system), in seconds (clock-tick resolution).
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ------------------------------------------------------------------ summaries

/// Per policy (in `baseline::POLICIES` order): `[not_eligible, eligible, undetermined]`
/// and the exact sum of the eligible amounts; the baseline's own type.
type Sum = baseline::Summary;

fn merge(mut a: Sum, b: Sum) -> Sum {
    a.merge(&b);
    a
}

/// Maps the engine's policy indexes to the baseline's summary order.
struct PolicyMap {
    /// Engine policy index → baseline index.
    to_baseline: Vec<usize>,
}

impl PolicyMap {
    fn new(rules: &RuleSet) -> Self {
        let to_baseline = rules
            .program()
            .policies
            .iter()
            .map(|p| {
                baseline::POLICIES
                    .iter()
                    .position(|id| *id == p.id)
                    .unwrap_or_else(|| panic!("engine policy `{}` is not a city-10 policy", p.id))
            })
            .collect::<Vec<_>>();
        assert_eq!(
            to_baseline.len(),
            baseline::POLICIES.len(),
            "benches/city-10 must define the ten policies"
        );
        PolicyMap { to_baseline }
    }
}

fn code(o: Outcome) -> usize {
    match o {
        Outcome::NotEligible => 0,
        Outcome::Eligible => 1,
        Outcome::Undetermined => 2,
    }
}

fn from_batch(map: &PolicyMap, rules: &RuleSet, s: &batch::Summary) -> Sum {
    let mut out = Sum::default();
    for (id, p) in &s.policies {
        let i = map.to_baseline[rules.policy_number(id).expect("a policy of the rule set")];
        out.counts[i] = [p.not_eligible, p.eligible, p.undetermined];
        out.amounts[i] = p.amount;
    }
    out
}

/// Panics unless the engine's summary is the baseline's.
fn check(what: &str, engine: &Sum, base: &Sum) {
    let mut problems = vec![];
    for (i, id) in baseline::POLICIES.iter().enumerate() {
        if engine.counts[i] != base.counts[i] || engine.amounts[i] != base.amounts[i] {
            problems.push(format!(
                "  {id}: engine [not, elig, undet] {:?} amount {} / baseline {:?} amount {}",
                engine.counts[i], engine.amounts[i], base.counts[i], base.amounts[i]
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: the engine's summary differs from the hand-written baseline:\n{}",
        problems.join("\n")
    );
}

// ------------------------------------------------------------------ runs

struct NullSink;

impl Sink for NullSink {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        black_box(chunk.grants.len() + chunk.pushes.len() + chunk.rejected.len());
        Ok(())
    }
}

/// The engine end to end as `mianshen run` works: the JSON Lines text in blocks,
/// lines found, read and decided by the workers, outputs built and handed to a sink.
fn engine_e2e(rules: &RuleSet, map: &PolicyMap, text: &str, lines: usize, threads: usize) -> Sum {
    let config = RunConfig {
        ref_date: ref_date(),
        chunk_size: CHUNK,
        subject: Some("person".into()),
        threads: Some(threads),
        bundle: None,
        panic_at_line: None,
        read: Default::default(),
        budget: mianshen::internals::eval::DEFAULT_BUDGET,
        near_miss: None,
        visits_by: None,
    };
    let s = batch::run_json_lines(
        rules,
        text.as_bytes(),
        &config,
        &mut NullSink,
        &mut |_, _| {},
    )
    .expect("batch run");
    assert_eq!(s.read, lines as u64, "records read");
    assert_eq!(
        s.rejected, 0,
        "the engine rejected records of a valid population"
    );
    from_batch(map, rules, &s)
}

fn baseline_e2e(pool: &rayon::ThreadPool, lines: &[String]) -> Sum {
    let d = ref_date();
    pool.install(|| {
        lines
            .par_chunks(CHUNK)
            .map(|c| {
                let mut s = Sum::default();
                for l in c {
                    let p = baseline::parse_line(l).expect("baseline parse");
                    s.add(&baseline::evaluate(&p, d));
                }
                s
            })
            .reduce(Sum::default, merge)
    })
}

/// The engine's parsed form for the evaluation-only runs: each record as a row of the
/// compiled layout, and as the reference evaluator's record for the decisions the
/// compiled form leaves to it.
struct Parsed<'l> {
    compiled: FastRules,
    /// One batch per chunk of `CHUNK` records.
    rows: Vec<FastRows>,
    /// For a decision the compiled tier defers: the lines, read the reference way.
    lines: &'l [String],
    plan: fast::ReadPlan,
    subject: usize,
}

fn engine_eval(
    pool: &rayon::ThreadPool,
    rules: &RuleSet,
    map: &PolicyMap,
    parsed: &Parsed<'_>,
) -> Sum {
    let d = ref_date();
    pool.install(|| {
        parsed
            .rows
            .par_iter()
            .enumerate()
            .map(|(k, c)| {
                // Counted in the engine's policy order, put in the baseline's at the end.
                let n = map.to_baseline.len();
                let (mut counts, mut amounts) = (vec![[0u64; 3]; n], vec![Decimal::ZERO; n]);
                let mut ev = FastDecider::new(rules, &parsed.compiled);
                for j in 0..c.len() {
                    ev.decide_stored(c, j);
                    // The record as the reference evaluator reads it, read once when a
                    // decision is deferred.
                    let mut record = None;
                    for (pi, v) in ev.verdicts().iter().enumerate() {
                        match *v {
                            Verdict::Eligible { amount, .. } => {
                                counts[pi][1] += 1;
                                if let Some((_, a)) = amount {
                                    amounts[pi] += a;
                                }
                            }
                            Verdict::NotEligible => counts[pi][0] += 1,
                            Verdict::Unknown => counts[pi][2] += 1,
                            Verdict::NotApplicable => {}
                            Verdict::Deferred => {
                                let r = record.get_or_insert_with(|| {
                                    fast::read_json(
                                        rules.schema(),
                                        &parsed.plan,
                                        Some(parsed.subject),
                                        &parsed.lines[k * CHUNK + j],
                                    )
                                    .expect("a line the row reader read")
                                });
                                let dec = evaluate_policy(rules, pi, r, d, EvalOptions::default());
                                let o = code(dec.outcome);
                                counts[pi][o] += 1;
                                if let (1, Some(a)) = (o, &dec.amount) {
                                    amounts[pi] += a.value;
                                }
                            }
                        }
                    }
                }
                let mut s = Sum::default();
                for (pi, &i) in map.to_baseline.iter().enumerate() {
                    s.counts[i] = counts[pi];
                    s.amounts[i] = amounts[pi];
                }
                s
            })
            .reduce(Sum::default, merge)
    })
}

fn baseline_eval(pool: &rayon::ThreadPool, people: &[baseline::Person]) -> Sum {
    let d = ref_date();
    pool.install(|| {
        people
            .par_chunks(CHUNK)
            .map(|c| {
                let mut s = Sum::default();
                for p in c {
                    s.add(&baseline::evaluate(p, d));
                }
                s
            })
            .reduce(Sum::default, merge)
    })
}

// ------------------------------------------------------------------ timing

/// Samples of one configuration: seconds per pass over the input.
#[derive(Default)]
struct Samples {
    secs: Vec<f64>,
    peak_kib: u64,
    /// Process CPU seconds during the samples (to see how many cores a run really had).
    cpu: f64,
    reps: usize,
}

impl Samples {
    fn median(&self) -> f64 {
        let mut v = self.secs.clone();
        v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    fn rate(&self, records: usize) -> f64 {
        records as f64 / self.median()
    }
    /// Cores used on average: CPU time over wall time.
    fn cores(&self) -> f64 {
        self.cpu / self.secs.iter().sum::<f64>().max(1e-9) / self.reps as f64
    }
}

/// Runs `engine` and `base` alternately (so that a change of machine load hits both),
/// at least `min_samples` times each and for at least `min_secs` in all; `reps` passes
/// per sample. Checks every engine result against the baseline's.
#[allow(clippy::too_many_arguments)]
fn race(
    what: &str,
    reps: usize,
    min_samples: usize,
    min_secs: f64,
    reference: &Sum,
    mut engine: impl FnMut() -> Sum,
    mut base: impl FnMut() -> Sum,
) -> (Samples, Samples) {
    let (mut e, mut b) = (Samples::default(), Samples::default());
    let start = Instant::now();
    let timed = |f: &mut dyn FnMut() -> Sum, s: &mut Samples| {
        reset_peak();
        let c = cpu_secs();
        let t = Instant::now();
        let mut last = None;
        for _ in 0..reps {
            last = Some(black_box(f()));
        }
        s.secs.push(t.elapsed().as_secs_f64() / reps as f64);
        s.cpu += cpu_secs() - c;
        s.reps = reps;
        s.peak_kib = s.peak_kib.max(peak_kib());
        last.expect("one pass")
    };
    while e.secs.len() < min_samples || start.elapsed() < Duration::from_secs_f64(min_secs) {
        let es = timed(&mut engine, &mut e);
        check(what, &es, reference);
        let bs = timed(&mut base, &mut b);
        check(&format!("{what} (baseline)"), &bs, reference);
    }
    (e, b)
}

// ------------------------------------------------------------------ latency

/// Median and 90th percentile latency (µs) of `evaluate_all` over the shipped rules for
/// one person record, with and without traces.
fn latency() {
    let dir = root().join("rules");
    let rules = match RuleSet::load_dir(&dir) {
        Ok(r) => r,
        Err(e) => {
            println!("single-record latency: cannot load {}: {e}", dir.display());
            return;
        }
    };
    let wanted = std::env::var("MIANSHEN_BENCH_CASE").ok();
    let mut best: Option<(usize, String, String, NaiveDate, Record)> = None;
    for file in mianshen::internals::testing::case_files(&dir) {
        let Ok(cf) = mianshen::internals::testing::read_case_file(&file) else {
            continue;
        };
        for case in cf.cases {
            let json = record::yaml_to_json(&case.record);
            let Ok(subject) =
                record::detect_subject(rules.schema(), &json, case.subject.as_deref())
            else {
                continue;
            };
            if rules.schema().subjects[subject].name != "person" {
                continue;
            }
            let date_text = match &case.reference_date {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            let Ok(date) = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d") else {
                continue;
            };
            let Ok(rec) = record::read_record(rules.schema(), subject, &json) else {
                continue;
            };
            let size = json.to_string().len();
            let file_name = file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let take = match &wanted {
                Some(w) => *w == case.id,
                None => best.as_ref().is_none_or(|b| size > b.0),
            };
            if take {
                best = Some((size, file_name, case.id.clone(), date, rec));
            }
        }
    }
    let Some((size, file, id, date, rec)) = best else {
        println!("single-record latency: no person case found in rules/cases");
        return;
    };
    let policies = (0..rules.program().policies.len())
        .filter(|&i| rules.program().policies[i].subject == rec.subject_index())
        .count();
    let measure = |trace: bool| -> (f64, f64, usize) {
        let opts = EvalOptions {
            trace,
            ..Default::default()
        };
        for _ in 0..200 {
            black_box(evaluate_all(&rules, &rec, date, opts));
        }
        let mut v = vec![];
        let start = Instant::now();
        while v.len() < 2_000
            || (start.elapsed() < Duration::from_millis(1500) && v.len() < 200_000)
        {
            let t = Instant::now();
            let d = evaluate_all(&rules, &rec, date, opts);
            v.push(t.elapsed().as_secs_f64() * 1e6);
            black_box(d);
        }
        v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        (v[v.len() / 2], v[v.len() * 9 / 10], v.len())
    };
    let (med_t, p90_t, n_t) = measure(true);
    let (med_n, p90_n, _) = measure(false);
    println!(
        "single record: rules/ ({policies} person policies of {}), case {id} ({file}, {size} bytes of JSON), ref {date}",
        rules.program().policies.len()
    );
    println!("  with full traces:  median {med_t:8.1} µs   p90 {p90_t:8.1} µs   ({n_t} runs)");
    println!("  without traces:    median {med_n:8.1} µs   p90 {p90_n:8.1} µs");
}

// ------------------------------------------------------------------ main

fn load_input() -> (String, Vec<String>) {
    match std::env::var("MIANSHEN_BENCH_INPUT") {
        Ok(p) if !p.is_empty() => {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            (p, lines)
        }
        _ => {
            let p = root().join(FIXTURE);
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let one: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let times = MIN_LINES.div_ceil(one.len().max(1));
            let lines = (0..times)
                .flat_map(|_| one.iter().map(|l| (*l).to_owned()))
                .collect();
            (format!("{FIXTURE} × {times}"), lines)
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let min_secs = env_f64("MIANSHEN_BENCH_MIN_SECS", 1.0);
    let min_samples = env_f64("MIANSHEN_BENCH_SAMPLES", 3.0).max(1.0) as usize;
    let started = Instant::now();
    let only = std::env::var("MIANSHEN_BENCH_ONLY").unwrap_or_default();
    if only == "diff" {
        diff_part(min_samples);
        return;
    }
    if only != "latency" {
        batch_part(min_secs, min_samples);
        println!();
    }
    if only != "batch" {
        latency();
        println!();
    }
    println!(
        "total {:.1} s; load average now {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}

/// `MIANSHEN_BENCH_ONLY=diff`: the change-impact batch (`batch::diff_json_lines`, as
/// `mianshen diff` runs it) beside the run (`batch::run_json_lines`) on the same text,
/// alternately, on each thread count: one rule set on two dates, and a reform overlay.
fn diff_part(min_samples: usize) {
    let dir = root().join("benches/city-10");
    let rules = RuleSet::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let reform_dir =
        std::env::temp_dir().join(format!("mianshen-bench-reform-{}", std::process::id()));
    std::fs::create_dir_all(&reform_dir).expect("reform dir");
    std::fs::write(
        reform_dir.join("reform.rules"),
        "parameter MIN_LIVING \"本市城乡最低生活保障标准（元/人·月）\": decimal {\n  from 2020-01-01 to 2026-06-30 = 1100.00 \"city-10\"\n  from 2026-07-01 = 1200.00 \"reform\"\n}\n",
    )
    .expect("reform");
    let reformed = RuleSet::load_dir_with_overlay(&dir, &reform_dir).expect("the reform loads");
    let _ = std::fs::remove_dir_all(&reform_dir);
    let (source, lines) = load_input();
    let n = lines.len();
    let text: String = lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect();
    println!(
        "city-10 diff beside run: {n} records from {source}; load average {}",
        loadavg()
    );
    let after = NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");
    let thread_counts: Vec<usize> = std::env::var("MIANSHEN_BENCH_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2]);
    println!(
        "{:<22} {:>7} {:>9} {:>9} {:>7} {:>10}",
        "mode", "threads", "median s", "cpu s", "× run", "peak MiB"
    );
    for threads in thread_counts {
        let config = RunConfig {
            threads: Some(threads),
            subject: Some("person".into()),
            ..RunConfig::new(ref_date())
        };
        let run = || {
            let s = batch::run_json_lines(
                &rules,
                text.as_bytes(),
                &config,
                &mut NullSink,
                &mut |_, _| {},
            )
            .expect("run");
            assert_eq!(s.read, n as u64);
        };
        let diff = |b: &RuleSet, a: &RuleSet, to: NaiveDate| {
            let dc = batch::DiffConfig {
                run: config.clone(),
                after_date: to,
            };
            let i =
                batch::diff_json_lines(b, a, text.as_bytes(), &dc, &mut NullSink, &mut |_, _| {})
                    .expect("diff");
            assert_eq!(i.read, n as u64);
            assert!(i.changes() > 0, "the change reaches someone");
        };
        let modes: [(&str, &dyn Fn()); 3] = [
            ("run", &run),
            ("diff, two dates", &|| diff(&rules, &rules, after)),
            ("diff, reform overlay", &|| {
                diff(&rules, &reformed, ref_date())
            }),
        ];
        let mut samples: Vec<Samples> = (0..modes.len()).map(|_| Samples::default()).collect();
        for _ in 0..min_samples.max(3) {
            for ((_, f), s) in modes.iter().zip(samples.iter_mut()) {
                reset_peak();
                let c = cpu_secs();
                let t = Instant::now();
                f();
                s.secs.push(t.elapsed().as_secs_f64());
                s.cpu += cpu_secs() - c;
                s.reps = 1;
                s.peak_kib = s.peak_kib.max(peak_kib());
            }
        }
        let base = samples[0].median();
        let base_cpu = samples[0].cpu;
        for ((name, _), s) in modes.iter().zip(&samples) {
            println!(
                "{:<22} {:>7} {:>9.3} {:>9.2} {:>7} {:>10.0}",
                name,
                threads,
                s.median(),
                s.cpu / s.secs.len() as f64,
                format!("{:.2}", s.median() / base),
                mib(s.peak_kib)
            );
        }
        println!(
            "  CPU time over run's: two dates {:.2}x, reform {:.2}x",
            samples[1].cpu / base_cpu,
            samples[2].cpu / base_cpu
        );
    }
}

/// The batch measurements: end to end and evaluation only, engine and baseline.
fn batch_part(min_secs: f64, min_samples: usize) {
    let dir = root().join("benches/city-10");
    let rules = RuleSet::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let map = PolicyMap::new(&rules);
    let subject = rules
        .schema()
        .subjects
        .iter()
        .position(|s| s.name == "person")
        .expect("a person subject");

    let (source, lines) = load_input();
    let n = lines.len();
    let text: String = lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "city-10 benchmark: {n} records ({:.1} MB) from {source}; ref 2026-07-01; {cpus} CPUs; load average {}",
        bytes as f64 / 1e6,
        loadavg()
    );

    // The reference summary, and the parsed inputs of the evaluation-only runs.
    let t = Instant::now();
    let people: Vec<baseline::Person> = lines
        .par_iter()
        .map(|l| baseline::parse_line(l).expect("baseline parse"))
        .collect();
    let reference = people.iter().fold(Sum::default(), |mut s, p| {
        s.add(&baseline::evaluate(p, ref_date()));
        s
    });
    let plan = fast::ReadPlan::new(rules.schema(), rules.used_fields().to_vec());
    let compiled = FastRules::new(&rules, ref_date());
    let rows: Vec<FastRows> = lines
        .par_chunks(CHUNK)
        .enumerate()
        .map_init(
            || FastDecider::new(&rules, &compiled),
            |reader, (k, chunk)| {
                let mut batch = FastRows::new();
                for (j, l) in chunk.iter().enumerate() {
                    reader
                        .read(l, Some(subject))
                        .unwrap_or_else(|e| panic!("line {}: {e}", k * CHUNK + j + 1));
                    reader.store(&mut batch);
                }
                batch
            },
        )
        .collect();
    let records_kib = (rows.iter().map(FastRows::bytes).sum::<usize>() / 1024) as u64;
    let parsed = Parsed {
        compiled,
        rows,
        lines: &lines,
        plan,
        subject,
    };
    let input_kib = proc_status_kib("VmRSS:").unwrap_or(0);
    println!(
        "prepared in {:.1} s: engine rows take {:.0} MiB ({:.0} B/record); process RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        mib(records_kib),
        records_kib as f64 * 1024.0 / n as f64,
        mib(input_kib)
    );

    // Evaluation-only passes over a small input are repeated so a sample lasts ≥ 50 ms.
    let probe = |f: &dyn Fn() -> Sum| {
        let t = Instant::now();
        black_box(f());
        t.elapsed().as_secs_f64()
    };

    println!();
    println!(
        "{:<16} {:>7} {:>13} {:>15} {:>7} {:>11} {:>11} {:>6} {:>6}",
        "mode",
        "threads",
        "engine rec/s",
        "baseline rec/s",
        "ratio",
        "engine peak",
        "base peak",
        "cores",
        "cores"
    );
    let mut rows = vec![];
    let thread_counts: Vec<usize> = std::env::var("MIANSHEN_BENCH_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2]);
    for threads in thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");

        // End to end.
        let (e, b) = race(
            &format!("end to end, {threads} thread(s)"),
            1,
            min_samples,
            min_secs,
            &reference,
            || engine_e2e(&rules, &map, &text, n, threads),
            || baseline_e2e(&pool, &lines),
        );
        rows.push(("end to end", threads, e, b));

        // Evaluation only.
        let once = probe(&|| engine_eval(&pool, &rules, &map, &parsed))
            .min(probe(&|| baseline_eval(&pool, &people)));
        let reps = ((0.05 / once.max(1e-6)).ceil() as usize).clamp(1, 1000);
        let (e, b) = race(
            &format!("evaluation only, {threads} thread(s)"),
            reps,
            min_samples,
            min_secs,
            &reference,
            || engine_eval(&pool, &rules, &map, &parsed),
            || baseline_eval(&pool, &people),
        );
        rows.push(("evaluation only", threads, e, b));
    }
    rows.sort_by_key(|r| (r.0 != "end to end", r.1));
    for (mode, threads, e, b) in &rows {
        let (er, br) = (e.rate(n), b.rate(n));
        println!(
            "{:<16} {:>7} {:>13.0} {:>15.0} {:>7.3} {:>7.0} MiB {:>7.0} MiB {:>6.2} {:>6.2}",
            mode,
            threads,
            er,
            br,
            er / br,
            mib(e.peak_kib),
            mib(b.peak_kib),
            e.cores(),
            b.cores()
        );
    }
    println!(
        "(median of ≥ {min_samples} samples each, engine and baseline alternated; peak = VmHWM \
         during the samples, which includes the {:.0} MiB of input, parsed records and people \
         held in memory for the whole benchmark; cores = process CPU time / wall time, \
         engine then baseline: below the thread count, the machine was busy)",
        mib(input_kib)
    );
    println!(
        "summaries checked: engine = baseline on every sample; process peak (VmHWM) {:.0} MiB",
        mib(peak_kib().max(PROCESS_PEAK.load(std::sync::atomic::Ordering::Relaxed)))
    );
}
