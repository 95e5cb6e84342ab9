//! The SQL backend held to the reference evaluator on the real engines.
//!
//! A rule set is compiled to one SQL script (`mianshen sql`), the population is laid
//! out in the tables of `mianshen sql --ddl` and written by `mianshen export` (CSV and
//! `load.psql` for PostgreSQL, Parquet for Spark), the script runs on the engine, and
//! every row of its `decisions` table must be the evaluator's decision of that record
//! and policy on that date (`support/sql_compare.rs`: outcome, with `error` for an
//! evaluation error; amount; failed clauses; missing paths; the error's clause and
//! kind), with no row for a policy left out. The `grants` and `pushes` views must hold
//! what `mianshen run` writes to `grants.jsonl` and `pushes.jsonl` for the compiled
//! policies (subject, policy, reason, amount with unit and period, missing paths).
//!
//! 1. The shipped rules on the sample population (`examples/population.jsonl`, whose
//!    deliberately bad records `export` leaves out as `run` does) at three dates, one
//!    of them 29 February, on PostgreSQL and on Spark. The script is the library's
//!    ([`compile_script`]), and every policy it leaves out is named with its reason on
//!    standard error and in the script's header.
//! 2. Random rule sets of the differential generator (`support/gen.rs`) with random
//!    records, each decided on a fixed awkward date (28/29 February, 1 March, month and
//!    year ends, in turn over the cases) and a random one. A rule set `check` accepts
//!    must never make the engine fail; the policies the backend leaves out are counted
//!    with their reasons (printed as a histogram, also in a passing run), and more than
//!    half of them left out fails the test. `MIANSHEN_SQL_CASES` (default [`PG_CASES`]
//!    on PostgreSQL, [`SPARK_CASES`] on Spark) and `MIANSHEN_SQL_SEED` (default
//!    [`DEFAULT_SEED`]) change the number of rule sets and the seed; a failing case is
//!    written under `$CARGO_TARGET_DIR/sql-failures/<engine>-<case>-<date>/` (rules,
//!    records, date, script, the engine's rows, the differences, the commands that
//!    replay it) and its path printed. A script that blows up fails its case rather
//!    than the machine: `mianshen sql` runs in a process of its own with its memory,
//!    time and output bounded ([`MAX_SCRIPT`]), PostgreSQL stops a statement after
//!    [`PG_STATEMENT_LIMIT`], and a Spark runner that does not answer in time is
//!    replaced for the next case.
//! 3. A construct the backend cannot express is reported (`mianshen sql` lists the
//!    policy and why on standard error, the script's header names it), never run: no
//!    row of it in `decisions`, `grants` or `pushes`.
//!
//! The engines come from `support/engines.rs`: each test skips with a loud `SKIPPED:`
//! line when its engine is missing, unless `MIANSHEN_SQL_REQUIRE=1`.

#[path = "support/engines.rs"]
mod engines;
#[path = "support/gen.rs"]
mod gen;
#[path = "support/sql_compare.rs"]
mod sql_compare;

use chrono::NaiveDate;
use engines::{read_json_lines, require_or_skip, run_limited, Postgres, Scratch, Spark};
use gen::Gen;
use mianshen::internals::sql::{compile_script, Dialect, Script};
use mianshen::RuleSet;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Random rule sets run on PostgreSQL by default.
const PG_CASES: u64 = 40;
/// Random rule sets run on Spark by default.
const SPARK_CASES: u64 = 3;
/// The default seed of the random rule sets.
const DEFAULT_SEED: u64 = 20_261_219;
/// Records per random rule set.
const RECORDS: usize = 24;
/// Expression depth of the generated rules (as `tests/differential.rs`).
const DEPTH: u32 = 4;
/// Expression depth of the rules generated for Spark.
const SPARK_DEPTH: u32 = 3;
/// The time limit of one run of the binary.
const BIN_LIMIT: Duration = Duration::from_secs(120);
/// The dates the shipped rules are decided on.
const SHIPPED_DATES: [&str; 3] = ["2025-07-01", "2024-02-29", "2026-01-01"];
/// Differences printed per failure (all are written to the failure's directory).
const SHOWN: usize = 12;
/// A generated rule set's script longer than this is a failure (the SQL of a rule
/// set should grow with its text, not exponentially), and is not run.
const MAX_SCRIPT: u64 = 16 << 20;
/// The address space `mianshen sql` may use on a generated rule set (KiB, `ulimit -v`).
const SQL_MEMORY_KIB: u64 = 4 << 20;
/// A random case that takes longer than this is named in the output.
const SLOW_CASE: Duration = Duration::from_secs(10);
/// The time limit of compiling a generated rule set.
const SQL_LIMIT: Duration = Duration::from_secs(60);
/// The time limit of one statement on PostgreSQL (`statement_timeout`).
const PG_STATEMENT_LIMIT: &str = "90s";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Prints `line` past libtest's capture of `eprintln!`, so that a passing run shows it
/// too (what is left out, and why, is for the reader of every run).
fn loud(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

// ------------------------------------------------------------------ the binary

/// The binary that writes the DDL and exports populations: this crate's, unless
/// `MIANSHEN_SQL_EXPORT_BIN` names another build (while `sql --ddl` and `export` are
/// developed apart).
fn export_bin() -> PathBuf {
    std::env::var_os("MIANSHEN_SQL_EXPORT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mianshen")))
}

/// What a run of the binary gave: (stdout, stderr), or why it failed.
fn mianshen(bin: &Path, args: &[&str]) -> Result<(String, String), String> {
    let mut cmd = Command::new(bin);
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .args(args)
        .current_dir(root());
    let done = run_limited(&mut cmd, BIN_LIMIT)?;
    if done.code == Some(0) {
        Ok((done.stdout, done.stderr))
    } else {
        Err(format!(
            "mianshen {} failed (exit {:?})\n{}{}",
            args.join(" "),
            done.code,
            done.stderr,
            done.stdout.chars().take(2000).collect::<String>()
        ))
    }
}

fn this_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mianshen"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "postgres",
        Dialect::Spark => "spark",
    }
}

/// The population's records that are JSON objects (the others `export` and `run`
/// reject as `read_value` does).
fn json_records(path: &Path) -> Vec<Json> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ------------------------------------------------------------------ the engines

/// The rows an engine gave for one script: `decisions`, `grants` and `pushes`.
struct Rows {
    decisions: Vec<Json>,
    grants: Vec<Json>,
    pushes: Vec<Json>,
}

/// An engine the scripts run on.
trait Engine {
    /// `postgres` or `spark`.
    fn name(&self) -> &'static str;
    fn dialect(&self) -> Dialect;
    /// Lays the records of `input` out in the tables of the rules `rules` (in
    /// `work`), replacing what was loaded before.
    fn load(&mut self, rules: &Path, input: &Path, work: &Path) -> Result<(), String>;
    /// Runs `script` on what was loaded.
    fn decide(&mut self, script: &str, work: &Path) -> Result<Rows, String>;
}

/// PostgreSQL: the DDL, the CSV export and its `load.psql`; the script through psql.
struct OnPostgres<'a>(&'a Postgres);

impl Engine for OnPostgres<'_> {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn load(&mut self, rules: &Path, input: &Path, work: &Path) -> Result<(), String> {
        let pg = self.0;
        pg.reset()?;
        let (ddl, _) = mianshen(
            &export_bin(),
            &["sql", s(rules), "--ddl", "--dialect", "postgres"],
        )?;
        let ddl_file = work.join("ddl.sql");
        write(&ddl_file, &ddl);
        pg.run_script(&ddl_file, work)
            .map_err(|e| format!("the DDL: {e}"))?;
        let csv = work.join("csv");
        let _ = fs::remove_dir_all(&csv);
        mianshen(
            &export_bin(),
            &[
                "export",
                s(rules),
                "--input",
                s(input),
                "--format",
                "csv",
                "--out",
                s(&csv),
            ],
        )?;
        pg.run_script(&csv.join("load.psql"), &csv)
            .map_err(|e| format!("load.psql: {e}"))?;
        Ok(())
    }

    fn decide(&mut self, script: &str, work: &Path) -> Result<Rows, String> {
        let pg = self.0;
        let file = work.join("script.sql");
        // A statement that runs away is stopped by the server (the client's time
        // limit would leave it running).
        write(
            &file,
            &format!("SET statement_timeout = '{PG_STATEMENT_LIMIT}';\n{script}"),
        );
        pg.run_script(&file, work)
            .map_err(|e| format!("the script: {e}"))?;
        Ok(Rows {
            decisions: pg.query_json_lines("SELECT * FROM decisions")?,
            grants: pg.query_json_lines("SELECT * FROM grants")?,
            pushes: pg.query_json_lines("SELECT * FROM pushes")?,
        })
    }
}

/// Spark: the Parquet export, each file a temporary view; the script by a runner of
/// its own, started anew after one that ran out of time (so that one case that does
/// not finish does not fail the ones after it).
struct OnSpark {
    spark: Option<Spark>,
    data: PathBuf,
}

impl OnSpark {
    /// A runner, or the reason there is none (`None`: skipped, the message printed).
    fn start() -> Option<OnSpark> {
        let spark = require_or_skip(Spark::start())?;
        Some(OnSpark {
            spark: Some(spark),
            data: PathBuf::new(),
        })
    }
}

impl Engine for OnSpark {
    fn name(&self) -> &'static str {
        "spark"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Spark
    }

    fn load(&mut self, rules: &Path, input: &Path, work: &Path) -> Result<(), String> {
        let out = work.join("parquet");
        let _ = fs::remove_dir_all(&out);
        mianshen(
            &export_bin(),
            &[
                "export",
                s(rules),
                "--input",
                s(input),
                "--format",
                "parquet",
                "--out",
                s(&out),
            ],
        )?;
        self.data = out;
        Ok(())
    }

    fn decide(&mut self, script: &str, work: &Path) -> Result<Rows, String> {
        let spark = match self.spark.take() {
            Some(spark) => spark,
            None => Spark::start().map_err(|e| format!("Spark does not start again: {e}"))?,
        };
        let file = work.join("script.sql");
        write(&file, script);
        let out = |name: &str| work.join(format!("{name}.jsonl"));
        let job = json!({
            "data": self.data, "script": file, "out": out("decisions"),
            "views": {"grants": out("grants"), "pushes": out("pushes")},
        });
        let done = spark.job(&job, engines::SPARK_JOB_LIMIT);
        // A runner that did not answer in time (or died) was stopped: the next job
        // gets a new one. A statement that failed leaves the runner as it was.
        if !done
            .as_ref()
            .is_err_and(|e| e.starts_with("the Spark runner"))
        {
            self.spark = Some(spark);
        }
        done?;
        Ok(Rows {
            decisions: read_json_lines(&out("decisions"))?,
            grants: read_json_lines(&out("grants"))?,
            pushes: read_json_lines(&out("pushes"))?,
        })
    }
}

/// What `mianshen run` writes on `on`: (grants, pushes).
fn run_outputs(
    rules: &Path,
    input: &Path,
    on: NaiveDate,
    work: &Path,
) -> Result<(Vec<Json>, Vec<Json>), String> {
    let out = work.join(format!("run-{on}"));
    mianshen(
        &this_bin(),
        &[
            "run",
            s(rules),
            "--input",
            s(input),
            "--date",
            &on.to_string(),
            "--out",
            s(&out),
            "--quiet",
        ],
    )?;
    Ok((
        read_json_lines(&out.join("grants.jsonl"))?,
        read_json_lines(&out.join("pushes.jsonl"))?,
    ))
}

/// Everything the engine's rows state that the evaluator (`decisions`) and `mianshen
/// run` (`grants`, `pushes`) do not, each difference a line.
fn compare(
    rules: &RuleSet,
    records: &[Json],
    on: NaiveDate,
    script: &Script,
    rows: &Rows,
    run: &(Vec<Json>, Vec<Json>),
) -> Vec<String> {
    let mut diffs = sql_compare::differences(rules, records, on, &script.compiled, &rows.decisions);
    let decided = policies_of(&rows.decisions);
    let compiled: BTreeSet<String> = script.compiled.iter().cloned().collect();
    if !decided.is_subset(&compiled) {
        diffs.push(format!(
            "decisions of policies not compiled: {:?}",
            decided.difference(&compiled).collect::<Vec<_>>()
        ));
    }
    diffs.extend(sql_compare::view_differences(
        "grants",
        &run.0,
        &script.compiled,
        &rows.grants,
    ));
    diffs.extend(sql_compare::view_differences(
        "pushes",
        &run.1,
        &script.compiled,
        &rows.pushes,
    ));
    diffs
}

// ------------------------------------------------------------------ the script

/// The script of `mianshen sql` for `dialect` and `on`, checked against the
/// library's [`compile_script`]: the same text, every policy it leaves out listed on
/// standard error and in the script's header with its reason.
fn script_of(rules_dir: &Path, rules: &RuleSet, dialect: Dialect, on: NaiveDate) -> Script {
    let lib = compile_script(rules, dialect, on, &[]);
    let (stdout, stderr) = mianshen(
        &this_bin(),
        &[
            "sql",
            s(rules_dir),
            "--dialect",
            dialect_name(dialect),
            "--date",
            &on.to_string(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stdout == lib.sql,
        "`mianshen sql` printed another script than compile_script gives"
    );
    check_left_out_reported(&lib, &stdout, &stderr);
    lib
}

/// Every policy `script` leaves out is named, with its reason, on standard error and in
/// the script's header; no compiled policy is said to be left out.
fn check_left_out_reported(script: &Script, sql: &str, stderr: &str) {
    let header: Vec<&str> = sql.lines().take_while(|l| l.starts_with("--")).collect();
    for (id, why) in &script.left_out {
        let why = why.replace('\n', " ");
        assert!(
            stderr.contains(&format!("left out {id}: {why}")),
            "{id} ({why}) is not reported on stderr:\n{stderr}"
        );
        let line = format!("-- Left out: {id}: {why}");
        assert!(
            header.contains(&line.as_str()),
            "{id} is not named in the script's header:\n{}",
            header.join("\n")
        );
    }
    let count = format!("-- Policies decided: {}.", script.compiled.len());
    assert!(
        header.contains(&count.as_str()),
        "the header does not count the policies decided:\n{}",
        header.join("\n")
    );
    for id in &script.compiled {
        assert!(
            !stderr.contains(&format!("left out {id}:")),
            "{id} is compiled but said to be left out:\n{stderr}"
        );
    }
}

/// The policies of `rows` (the `decisions` table).
fn policies_of(rows: &[Json]) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|r| r["policy"].as_str().map(str::to_string))
        .collect()
}

// ------------------------------------------------------------------ the shipped rules

/// The shipped rules on the sample population, on every date of [`SHIPPED_DATES`]:
/// every decision of every compiled policy is the evaluator's, and the `grants` and
/// `pushes` views hold what `mianshen run` writes.
fn shipped_rules_on(engine: &mut dyn Engine) {
    let name = engine.name();
    let started = Instant::now();
    let work = Scratch::new("sqltest").expect("a scratch directory");
    let rules_dir = root().join("rules");
    let input = root().join("examples/population.jsonl");
    let rules = RuleSet::load_dir(&rules_dir).expect("the shipped rules load");
    let records = json_records(&input);
    engine
        .load(&rules_dir, &input, work.path())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!(
        "{name}: the sample population loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut failures = vec![];
    let mut left_out_why: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for on in SHIPPED_DATES.map(date) {
        let began = Instant::now();
        let script = script_of(&rules_dir, &rules, engine.dialect(), on);
        for (id, why) in &script.left_out {
            left_out_why
                .entry(why.clone())
                .or_default()
                .insert(id.clone());
        }
        let rows = engine
            .decide(&script.sql, work.path())
            .unwrap_or_else(|e| panic!("{name} on {on}: {e}"));
        let on_engine = began.elapsed();
        let run =
            run_outputs(&rules_dir, &input, on, work.path()).unwrap_or_else(|e| panic!("{e}"));
        let diffs = compare(&rules, &records, on, &script, &rows, &run);
        let left_out: Vec<&str> = script.left_out.iter().map(|(id, _)| id.as_str()).collect();
        loud(&format!(
            "{name} on {on}: {} of {} policies compiled (left out: {}); {} decisions, {} grants, \
             {} pushes; {} differences; compiled and run in {:.1} s",
            script.compiled.len(),
            script.compiled.len() + script.left_out.len(),
            left_out.join(", "),
            rows.decisions.len(),
            rows.grants.len(),
            rows.pushes.len(),
            diffs.len(),
            on_engine.as_secs_f64(),
        ));
        if !diffs.is_empty() {
            let shown: Vec<&str> = diffs.iter().take(SHOWN).map(String::as_str).collect();
            failures.push(format!(
                "on {on}: {} differences:\n{}",
                diffs.len(),
                shown.join("\n")
            ));
        }
    }
    for (why, ids) in &left_out_why {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        loud(&format!("{name}: left out ({why}): {}", ids.join(", ")));
    }
    eprintln!(
        "{name}: shipped rules in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{name}: the SQL disagrees with the evaluator\n{}",
        failures.join("\n")
    );
}

#[test]
fn shipped_rules_on_the_sample_population_postgres() {
    let Some(pg) = require_or_skip(Postgres::shared()) else {
        return;
    };
    shipped_rules_on(&mut OnPostgres(&pg));
}

#[test]
fn shipped_rules_on_the_sample_population_spark() {
    let Some(mut engine) = OnSpark::start() else {
        return;
    };
    shipped_rules_on(&mut engine);
}

// ------------------------------------------------------------------ what is left out

const LEFT_OUT_SCHEMA: &str = "\
subjects:
  person:
    id: person.id
    fields:
      person:
        fields:
          id: {type: string}
          income: {type: decimal}
          birth_date: {type: date}
      children:
        default: []
        items:
          key: id
          fields:
            id: {type: string}
            birth_date: {type: date}
";

/// One policy the backend compiles, and constructs it cannot express (today): a policy
/// decided item by item, one item's decision of it, a date shifted past 5,000 years.
const LEFT_OUT_RULES: &str = r#"
policy plain "plain" {
  subject person
  mode no_application
  effective from 2000-01-01
  C1 "low income": person.income < 2000
  amount per_month CNY: 300
}

policy per-child "per child" {
  subject person
  mode apply
  effective from 2000-01-01
  for each child c in children
  C1 "young": age(c.birth_date) < 3
  amount per_month CNY: 100
}

policy far-future "far future" {
  subject person
  mode no_application
  effective from 2000-01-01
  C1 "born": person.birth_date + 6000 years > ref
}

policy child-bonus "bonus" {
  subject person
  mode no_application
  effective from 2000-01-01
  C1 "a child eligible": any c in children: eligible(per-child for c)
}
"#;

const LEFT_OUT_RECORDS: &str = r#"{"person": {"id": "A", "income": 1500, "birth_date": "1990-02-28"}, "children": [{"id": "c1", "birth_date": "2024-02-29"}]}
{"person": {"id": "B", "income": 2500, "birth_date": "1980-01-31"}}
{"person": {"id": "C", "birth_date": "2000-12-31"}, "children": [{"id": "c1"}]}
"#;

#[test]
fn a_construct_without_a_sql_form_is_reported_not_run() {
    let Some(pg) = require_or_skip(Postgres::shared()) else {
        return;
    };
    let work = Scratch::new("sqltest").expect("a scratch directory");
    let rules_dir = work.join("rules");
    write(&rules_dir.join("schema.yaml"), LEFT_OUT_SCHEMA);
    write(&rules_dir.join("policies.rules"), LEFT_OUT_RULES);
    let input = work.join("records.jsonl");
    write(&input, LEFT_OUT_RECORDS);
    let rules = RuleSet::load_dir(&rules_dir).expect("the rules check");
    let on = date("2025-07-01");
    let script = script_of(&rules_dir, &rules, Dialect::Postgres, on);
    assert!(
        script.compiled.contains(&"plain".to_string()),
        "{:?}",
        script
    );
    assert!(
        !script.left_out.is_empty(),
        "every construct of this rule set is compiled now: give the test one that is not \
         ({:?})",
        script.compiled
    );
    for (id, why) in &script.left_out {
        eprintln!("left out: {id}: {why}");
    }
    let all: BTreeSet<String> = script
        .compiled
        .iter()
        .chain(script.left_out.iter().map(|(id, _)| id))
        .cloned()
        .collect();
    assert_eq!(
        all.len(),
        4,
        "every policy is compiled or left out: {script:?}"
    );
    let mut engine = OnPostgres(&pg);
    engine
        .load(&rules_dir, &input, work.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let rows = engine
        .decide(&script.sql, work.path())
        .unwrap_or_else(|e| panic!("{e}"));
    for (id, _) in &script.left_out {
        for (what, rows) in [
            ("decisions", &rows.decisions),
            ("grants", &rows.grants),
            ("pushes", &rows.pushes),
        ] {
            assert!(
                !rows.iter().any(|r| r["policy"] == json!(id)),
                "{id} is left out, yet in {what}: {rows:#?}"
            );
        }
    }
    let records = json_records(&input);
    let run = run_outputs(&rules_dir, &input, on, work.path()).unwrap_or_else(|e| panic!("{e}"));
    let diffs = compare(&rules, &records, on, &script, &rows, &run);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // Only the policies asked for: the others are neither compiled nor reported.
    let only = compile_script(&rules, Dialect::Postgres, on, &["plain".to_string()]);
    assert_eq!(only.compiled, ["plain"]);
    assert!(only.left_out.is_empty(), "{:?}", only.left_out);
}

// ------------------------------------------------------------------ random rule sets

fn rng_for(seed: u64, case: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&case.to_le_bytes());
    bytes[16] = 0x5c;
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// One generated case: a rule set as text, records, the dates it is decided on.
struct Case {
    schema: String,
    rules: String,
    records: Vec<Json>,
    dates: Vec<NaiveDate>,
}

/// Case `k` of `seed`: the generator's rule set and records (aimed at every awkward
/// date), decided on one fixed date (in turn over the cases) and a random one.
fn generate(seed: u64, k: u64, depth: u32) -> Case {
    let mut rng = rng_for(seed, k);
    let mut g = Gen::new(&mut rng, depth);
    let spec = g.rule_set();
    let fixed = gen::fixed_dates();
    let random = gen::random_date(g.rng);
    let mut aims = fixed.clone();
    aims.push(random);
    let records = (0..RECORDS)
        .map(|r| g.record(&spec.schema, &format!("R{r}"), &aims))
        .collect();
    let pick = fixed[(k as usize) % fixed.len()];
    Case {
        schema: spec.schema.render(),
        rules: spec.render_rules(),
        records,
        dates: vec![pick, random],
    }
}

/// Checks a case's rules (on a thread with a main thread's stack, as `mianshen check`).
fn check_case(case: &Case) -> Result<RuleSet, String> {
    std::thread::scope(|sc| {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(sc, || {
                RuleSet::from_sources(&case.schema, &[("generated.rules", &case.rules)])
                    .map_err(|e| e.to_string())
            })
            .expect("a thread")
            .join()
            .unwrap_or_else(|_| Err("check panicked".into()))
    })
}

/// The script of a generated rule set, compiled by `mianshen sql` in a process of its
/// own with its memory (`ulimit -v`) and time bounded and its output going to
/// `work/script.sql`; why there is none otherwise (a script that blows up must fail
/// the case, not the machine).
fn guarded_script(
    rules_dir: &Path,
    dialect: Dialect,
    on: NaiveDate,
    work: &Path,
) -> Result<String, String> {
    let out = work.join("script.sql");
    let err = work.join("sql.stderr");
    let open = |p: &Path| fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {SQL_MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(this_bin())
        .args(["sql", s(rules_dir), "--dialect", dialect_name(dialect)])
        .args(["--date", &on.to_string()])
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .stdin(std::process::Stdio::null())
        .stdout(open(&out)?)
        .stderr(open(&err)?)
        .spawn()
        .map_err(|e| format!("cannot run mianshen sql: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        let size = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        if started.elapsed() > SQL_LIMIT || size > MAX_SCRIPT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "mianshen sql was stopped after {:.1} s, having written {size} bytes of script \
                 (at most {MAX_SCRIPT} bytes in {SQL_LIMIT:?} expected)",
                started.elapsed().as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let size = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    if !status.success() {
        let stderr = fs::read_to_string(&err).unwrap_or_default();
        return Err(format!(
            "mianshen sql failed ({status}) after {:.1} s, having written {size} bytes:\n{stderr}",
            started.elapsed().as_secs_f64()
        ));
    }
    if size > MAX_SCRIPT {
        return Err(format!(
            "the script has {size} bytes (at most {MAX_SCRIPT} expected)"
        ));
    }
    fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))
}

/// Where failing cases are written.
fn failures_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("sql-failures")
}

/// Writes a case as a rules directory with records.
fn write_case(dir: &Path, case: &Case) -> (PathBuf, PathBuf) {
    let rules = dir.join("rules");
    write(&rules.join("schema.yaml"), &case.schema);
    write(&rules.join("generated.rules"), &case.rules);
    let input = dir.join("records.jsonl");
    let lines: String = case.records.iter().map(|r| format!("{r}\n")).collect();
    write(&input, &lines);
    (rules, input)
}

/// A failure of one case on one date.
struct Failure {
    case: u64,
    date: NaiveDate,
    /// The engine's error, or the differences.
    what: String,
    script: String,
    rows: Vec<Json>,
}

/// Writes a failing case under `sql-failures/<engine>-<case>-<date>/`; the directory.
fn write_failure(engine: &str, dialect: Dialect, case: &Case, f: &Failure) -> PathBuf {
    let dir = failures_dir().join(format!("{engine}-{}-{}", f.case, f.date));
    let _ = fs::remove_dir_all(&dir);
    let (rules, input) = write_case(&dir, case);
    write(&dir.join("date"), &format!("{}\n", f.date));
    write(&dir.join("script.sql"), &f.script);
    write(&dir.join("differences.txt"), &format!("{}\n", f.what));
    let rows: String = f.rows.iter().map(|r| format!("{r}\n")).collect();
    write(&dir.join("decisions.jsonl"), &rows);
    let replay = format!(
        "mianshen check {r}\n\
         mianshen sql {r} --dialect {d} --date {on} > script.sql\n\
         mianshen sql {r} --ddl --dialect {d} > ddl.sql\n\
         mianshen export {r} --input {i} --format {fmt} --out data\n\
         mianshen run {r} --input {i} --date {on} --out out\n",
        r = rules.display(),
        i = input.display(),
        d = dialect_name(dialect),
        on = f.date,
        fmt = if dialect == Dialect::Spark {
            "parquet"
        } else {
            "csv"
        },
    );
    write(&dir.join("REPLAY.txt"), &replay);
    dir
}

/// What the random rule sets gave on one engine.
#[derive(Default)]
struct Tally {
    accepted: u64,
    rejected: u64,
    /// Policies per date: compiled, left out.
    compiled: u64,
    left_out: u64,
    decisions: u64,
    outcomes: BTreeMap<String, u64>,
    reasons: BTreeMap<String, u64>,
}

/// Random rule sets on `engine`: every decision of every compiled policy is the
/// evaluator's, the `grants` and `pushes` views hold what `mianshen run` writes, the
/// engine never fails; at most half of the policies are left out.
fn random_rule_sets(engine: &mut dyn Engine, default_cases: u64) {
    let name = engine.name();
    let dialect = engine.dialect();
    let cases = env_u64("MIANSHEN_SQL_CASES", default_cases);
    let seed = env_u64("MIANSHEN_SQL_SEED", DEFAULT_SEED);
    let started = Instant::now();
    if let Ok(entries) = fs::read_dir(failures_dir()) {
        for e in entries.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}-"))
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let mut tally = Tally::default();
    let mut failures: Vec<String> = vec![];
    for k in 0..cases {
        let case_started = Instant::now();
        // Spark plans the deepest generated rules slowly (docs/sql.md): shallower ones.
        let depth = if name == "spark" { SPARK_DEPTH } else { DEPTH };
        let case = generate(seed, k, depth);
        let Ok(rules) = check_case(&case) else {
            tally.rejected += 1;
            continue;
        };
        tally.accepted += 1;
        let work = Scratch::new("sqltest").expect("a scratch directory");
        let (rules_dir, input) = write_case(work.path(), &case);
        let mut loaded = false;
        for &on in &case.dates {
            let mut fail = |what: String, script: &str, rows: Vec<Json>| {
                let f = Failure {
                    case: k,
                    date: on,
                    what,
                    script: script.to_string(),
                    rows,
                };
                let dir = write_failure(name, dialect, &case, &f);
                let shown: Vec<&str> = f.what.lines().take(SHOWN).collect();
                failures.push(format!(
                    "case {k} on {on} ({}):\n{}",
                    dir.display(),
                    shown.join("\n")
                ));
            };
            // Once `mianshen sql` has shown that the script stays small, the library
            // gives the lists of the policies compiled and left out.
            let script = match guarded_script(&rules_dir, dialect, on, work.path()) {
                Ok(text) => {
                    let script = compile_script(&rules, dialect, on, &[]);
                    assert!(
                        script.sql == text,
                        "mianshen sql printed another script than compile_script gives"
                    );
                    script
                }
                Err(e) => {
                    fail(e, "", vec![]);
                    continue;
                }
            };
            tally.compiled += script.compiled.len() as u64;
            tally.left_out += script.left_out.len() as u64;
            for (_, why) in &script.left_out {
                *tally.reasons.entry(why.clone()).or_default() += 1;
            }
            if script.compiled.is_empty() {
                continue;
            }
            let mut result = || {
                if !loaded {
                    engine.load(&rules_dir, &input, work.path())?;
                    loaded = true;
                }
                let rows = engine.decide(&script.sql, work.path())?;
                let run = run_outputs(&rules_dir, &input, on, work.path())?;
                Ok::<_, String>((rows, run))
            };
            match result() {
                Err(e) => fail(format!("failed: {e}"), &script.sql, vec![]),
                Ok((rows, run)) => {
                    tally.decisions += rows.decisions.len() as u64;
                    for r in &rows.decisions {
                        let o = r["outcome"].as_str().unwrap_or("?").to_string();
                        *tally.outcomes.entry(o).or_default() += 1;
                    }
                    let diffs = compare(&rules, &case.records, on, &script, &rows, &run);
                    if !diffs.is_empty() {
                        let what = format!("{} differences:\n{}", diffs.len(), diffs.join("\n"));
                        fail(what, &script.sql, rows.decisions);
                    }
                }
            }
        }
        let took = case_started.elapsed();
        if took > SLOW_CASE {
            eprintln!("{name}: case {k} took {:.1} s", took.as_secs_f64());
        }
    }
    let policies = tally.compiled + tally.left_out;
    loud(&format!(
        "{name}: seed {seed}, {cases} rule sets ({} accepted, {} rejected by check), \
         {RECORDS} records x 2 dates each; {} of {policies} policies compiled (counted per \
         date), {} left out; {} decisions {:?}; {} failures; {:.1} s",
        tally.accepted,
        tally.rejected,
        tally.compiled,
        tally.left_out,
        tally.decisions,
        tally.outcomes,
        failures.len(),
        started.elapsed().as_secs_f64()
    ));
    let mut reasons: Vec<(&String, &u64)> = tally.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (why, n) in &reasons {
        loud(&format!("{name}: left out {n:>4} x {why}"));
    }
    assert!(
        failures.is_empty(),
        "{name}: {} failure(s) with seed {seed}:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        tally.accepted > 0 && tally.compiled > 0,
        "{name}: nothing was compiled to SQL"
    );
    assert!(
        tally.left_out * 2 <= policies,
        "{name}: {} of {policies} policies left out (more than half)",
        tally.left_out
    );
}

#[test]
fn random_rule_sets_agree_with_the_evaluator_postgres() {
    let Some(pg) = require_or_skip(Postgres::shared()) else {
        return;
    };
    random_rule_sets(&mut OnPostgres(&pg), PG_CASES);
}

#[test]
fn random_rule_sets_agree_with_the_evaluator_spark() {
    let Some(mut engine) = OnSpark::start() else {
        return;
    };
    random_rule_sets(&mut engine, SPARK_CASES);
}
