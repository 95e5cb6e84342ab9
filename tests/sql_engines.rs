//! The real engines the SQL backend is tested on, proved to work before the backend
//! is: a throwaway PostgreSQL server loads CSV files with a psql script, runs a script
//! of the contract's shape (`support/engines.rs` states it) and gives its rows as JSON;
//! a Spark in local mode reads Parquet files as temporary views, runs a script and
//! gives `decisions` back with decimals exact and arrays intact.
//!
//! Beside them, the facts of each engine that the compiled SQL relies on, or must work
//! around, checked on the engine itself: three-valued logic, date arithmetic against
//! the engine's calendar rules (`src/semantics/calendar.rs`), rounding, division.
//!
//! Each test skips with a loud `SKIPPED:` line when its engine is not installed,
//! unless `MIANSHEN_SQL_REQUIRE=1` (`.ci/run`, after `.ci/install-sql-engines`).

#[path = "support/engines.rs"]
mod engines;

use engines::{read_json_lines, require_or_skip, Postgres, Scratch, Spark};
use serde_json::{json, Value as Json};
use std::fs;
use std::path::Path;
use std::time::Instant;

/// Writes `text` to `dir/name`.
fn write(dir: &Scratch, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// The row of `rows` whose `subject` is `id`.
fn row<'a>(rows: &'a [Json], id: &str) -> &'a Json {
    rows.iter()
        .find(|r| r["subject"] == json!(id))
        .unwrap_or_else(|| panic!("no row for {id} in {rows:#?}"))
}

/// A JSON value's text: a number's digits exactly as the engine wrote them.
fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------ PostgreSQL

/// A subject table as `mianshen sql --ddl` might make it.
const PG_DDL: &str =
    "CREATE TABLE person (_id bigint PRIMARY KEY, id text NOT NULL, income numeric(18,2));\n";

/// The CSV of `mianshen export --format csv` might hold: a Chinese name, a backslash,
/// a quote and a comma in ids; an absent income.
const PERSON_CSV: &str = "_id,id,income\n1,张三,1000.00\n2,\"a\\b\"\"c,d\",2500.10\n3,p3,\n";

/// The contract's `decisions` and `grants`, computed by hand.
const PG_SCRIPT: &str = "\
DROP TABLE IF EXISTS decisions CASCADE;
CREATE TABLE decisions AS
SELECT p.id AS subject, 'p1'::text AS policy,
  CASE WHEN p.income IS NULL THEN 'undetermined' WHEN p.income < 2000 THEN 'eligible'
       ELSE 'not_eligible' END AS outcome,
  CASE WHEN p.income < 2000 THEN round(p.income * 1.5, 2) END AS amount,
  'yuan'::text AS unit, 'month'::text AS period,
  CASE WHEN p.income < 2000 THEN '{\"note\": \"a;b\"}' END AS extras,
  CASE WHEN p.income >= 2000 THEN ARRAY['c1', 'c2'] ELSE ARRAY[]::text[] END AS failed,
  CASE WHEN p.income IS NULL THEN ARRAY['person.income'] ELSE ARRAY[]::text[] END AS missing,
  NULL::text AS error_clause, NULL::text AS error_kind, 'v1'::text AS version
FROM person p;
CREATE OR REPLACE VIEW grants AS SELECT subject, policy, amount FROM decisions WHERE outcome = 'eligible';
";

#[test]
fn postgres_loads_csv_runs_a_script_and_gives_rows_as_json() {
    let started = Instant::now();
    let Some(pg) = require_or_skip(Postgres::start()) else {
        return;
    };
    eprintln!("postgres: started in {:.2?}", started.elapsed());
    let work = Scratch::new("test").expect("a scratch directory");
    write(&work, "person.csv", PERSON_CSV);
    let load = "\\copy person FROM 'person.csv' WITH (FORMAT csv, HEADER true)\n";
    let load = write(&work, "load.psql", load);
    let ddl = write(&work, "ddl.sql", PG_DDL);
    let script = write(&work, "script.sql", PG_SCRIPT);
    let timed = Instant::now();
    for file in [&ddl, &load, &script] {
        pg.run_script(file, work.path())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    let rows = pg
        .query_json_lines("SELECT * FROM decisions ORDER BY subject;")
        .expect("decisions");
    eprintln!(
        "postgres: load, script and query in {:.2?}",
        timed.elapsed()
    );
    check_pg_decisions(&rows);
    let grants = pg.query_json_lines("SELECT * FROM grants").expect("grants");
    assert_eq!(grants.len(), 1, "{grants:#?}");
    let err = pg
        .execute("SELECT no_such_column FROM decisions")
        .unwrap_err();
    assert!(err.contains("no_such_column"), "{err}");
    pg.reset().expect("reset");
    assert!(pg.execute("SELECT * FROM decisions").is_err());
    let dir = pg.dir().to_path_buf();
    drop(pg);
    assert!(!dir.exists(), "{} is left after the server", dir.display());
}

fn check_pg_decisions(rows: &[Json]) {
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let eligible = row(rows, "张三");
    assert_eq!(eligible["outcome"], json!("eligible"));
    // numeric keeps its scale, and the JSON number its digits.
    assert_eq!(text(&eligible["amount"]), "1500.00");
    assert_eq!(eligible["extras"], json!("{\"note\": \"a;b\"}"));
    assert_eq!(eligible["failed"], json!([]));
    assert_eq!(eligible["error_clause"], Json::Null);
    let not = row(rows, "a\\b\"c,d");
    assert_eq!(not["outcome"], json!("not_eligible"));
    assert_eq!(not["failed"], json!(["c1", "c2"]));
    assert_eq!(not["amount"], Json::Null);
    let unknown = row(rows, "p3");
    assert_eq!(unknown["outcome"], json!("undetermined"));
    assert_eq!(unknown["missing"], json!(["person.income"]));
}

/// PostgreSQL's behaviour, as plain facts the compiled SQL is written against.
#[test]
fn postgres_facts_the_compiled_sql_relies_on() {
    let Some(pg) = require_or_skip(Postgres::shared()) else {
        return;
    };
    pg.reset().expect("reset");
    let facts = pg
        .query_json_lines(
            "SELECT
               -- Kleene logic: NULL is the engine's unknown, and AND/OR are its and/or.
               NULL::boolean AND false AS null_and_false,
               NULL::boolean AND true AS null_and_true,
               NULL::boolean OR true AS null_or_true,
               NOT NULL::boolean AS not_null,
               NULL::int > 1 AS null_compared,
               -- Month arithmetic keeps the day and clamps to the month's end, as
               -- calendar::add_months does (an interval gives a timestamp: cast back).
               (make_date(2024, 2, 29) + interval '1 year')::date AS leap_plus_year,
               (make_date(2024, 1, 31) + interval '1 month')::date AS jan31_plus_month,
               (make_date(2024, 3, 31) - interval '1 month')::date AS mar31_minus_month,
               -- age() is NOT the engine's age: born 29 Feb 2024, the engine counts 1 on
               -- 28 Feb 2025 (calendar::age), PostgreSQL 0; the SQL compares parts.
               extract(year FROM age(date '2025-02-28', date '2024-02-29'))::int AS pg_age,
               -- round() is half away from zero, as the engine's round; there is no
               -- built-in half-even (round_half_even is written out).
               round(2.5::numeric) AS round_up, round(-2.5::numeric) AS round_down,
               round(2.345::numeric, 2) AS round_places,
               -- Integer division truncates toward zero; % takes the dividend's sign.
               7 / 2 AS int_div, -7 / 2 AS neg_int_div, -7 % 2 AS neg_mod,
               -- numeric division stops at a scale of its own (20 digits here), not at
               -- rust_decimal's 28 significant digits.
               1::numeric / 3 AS third,
               -- Collation C: byte order, as Rust's sort of the missing paths.
               (SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY['b', 'B', 'a', '_']) x) AS sorted",
        )
        .expect("the facts query");
    let f = &facts[0];
    let expect = [
        ("null_and_false", json!(false)),
        ("null_and_true", Json::Null),
        ("null_or_true", json!(true)),
        ("not_null", Json::Null),
        ("null_compared", Json::Null),
        ("leap_plus_year", json!("2025-02-28")),
        ("jan31_plus_month", json!("2024-02-29")),
        ("mar31_minus_month", json!("2024-02-29")),
        ("pg_age", json!(0)),
        ("sorted", json!(["B", "_", "a", "b"])),
    ];
    for (name, want) in expect {
        assert_eq!(f[name], want, "{name} in {f:#}");
    }
    let numbers = [
        ("round_up", "3"),
        ("round_down", "-3"),
        ("round_places", "2.35"),
        ("int_div", "3"),
        ("neg_int_div", "-3"),
        ("neg_mod", "-1"),
        ("third", "0.33333333333333333333"),
    ];
    for (name, want) in numbers {
        assert_eq!(text(&f[name]), want, "{name} in {f:#}");
    }
}

// ------------------------------------------------------------------ Spark

/// The stand-in of `mianshen export --format parquet`: the subject table `person` in
/// Spark's nested layout (a list of records as an array of structs).
const SPARK_PERSON: &str = "\
SELECT * FROM VALUES
  (1, '张三', CAST(1000.00 AS DECIMAL(18,2)), array(named_struct('amount', CAST(10.50 AS DECIMAL(18,2))))),
  (2, 'a\\\\b\"c', CAST(2500.10 AS DECIMAL(18,2)), array()),
  (3, 'p3', CAST(NULL AS DECIMAL(18,2)), CAST(NULL AS array<struct<amount: decimal(18,2)>>))
  AS person(_id, id, income, loans)";

/// Two statements: a helper view, then `decisions` of the contract's shape. A comment
/// line ending in `;` ends no statement; a `;` inside a line ends none either.
const SPARK_SCRIPT: &str = "\
-- helper;
CREATE OR REPLACE TEMPORARY VIEW big_loans AS
SELECT _id, exists(loans, l -> l.amount > 10) AS big FROM person;
CREATE OR REPLACE TEMPORARY VIEW decisions AS
SELECT p.id AS subject, 'p1' AS policy,
  CASE WHEN p.income IS NULL THEN 'undetermined' WHEN p.income < 2000 THEN 'eligible'
       ELSE 'not_eligible' END AS outcome,
  CAST(CASE WHEN p.income < 2000 THEN round(p.income * 1.5, 2) END AS DECIMAL(20,2)) AS amount,
  'yuan' AS unit, 'month' AS period,
  CASE WHEN b.big THEN '{\"note\": \"a;b\"}' END AS extras,
  CASE WHEN p.income >= 2000 THEN array('c1', 'c2') ELSE CAST(array() AS array<string>) END AS failed,
  CASE WHEN p.income IS NULL THEN array('person.income') ELSE CAST(array() AS array<string>) END AS missing,
  CAST(NULL AS STRING) AS error_clause, CAST(NULL AS STRING) AS error_kind, 'v1' AS version
FROM person p JOIN big_loans b ON b._id = p._id;
";

/// Spark of this process, and how long it took to be ready when this call started it.
fn spark() -> Option<&'static Spark> {
    let started = Instant::now();
    let spark = require_or_skip(Spark::shared())?;
    eprintln!(
        "spark {}: ready after {:.2?}",
        spark.version,
        started.elapsed()
    );
    Some(spark)
}

#[test]
fn spark_reads_parquet_and_gives_decisions_exactly() {
    let Some(spark) = spark() else {
        return;
    };
    let work = Scratch::new("test").expect("a scratch directory");
    let data = work.join("data");
    fs::create_dir(&data).expect("data directory");
    let script = write(&work, "script.sql", SPARK_SCRIPT);
    let out = work.join("decisions.jsonl");
    let person = data.join("person.parquet");
    let job = json!({
        "prepare": [{"sql": SPARK_PERSON, "parquet": person}],
        "data": data, "script": script, "out": out,
    });
    let timed = Instant::now();
    let report = spark
        .job(&job, engines::SPARK_JOB_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("spark: job in {:.2?}: {report}", timed.elapsed());
    assert_eq!(report["tables"], json!(["person"]));
    assert_eq!(report["rows"]["decisions"], json!(3));
    check_spark_decisions(&read_json_lines(&out).expect("decisions.jsonl"));
    // Once the Parquet file exists, the plain form of a job reads it.
    let again = spark.run(&data, &script, &out).expect("the same job again");
    assert_eq!(again["rows"]["decisions"], json!(3));
}

fn check_spark_decisions(rows: &[Json]) {
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let eligible = row(rows, "张三");
    assert_eq!(eligible["outcome"], json!("eligible"));
    // A decimal comes as a string with its scale: exact.
    assert_eq!(eligible["amount"], json!("1500.00"));
    assert_eq!(eligible["extras"], json!("{\"note\": \"a;b\"}"));
    assert_eq!(eligible["failed"], json!([]));
    assert_eq!(eligible["error_kind"], Json::Null);
    let not = row(rows, "a\\b\"c");
    assert_eq!(not["failed"], json!(["c1", "c2"]));
    assert_eq!(not["amount"], Json::Null);
    assert_eq!(not["extras"], Json::Null);
    let unknown = row(rows, "p3");
    assert_eq!(unknown["outcome"], json!("undetermined"));
    assert_eq!(unknown["missing"], json!(["person.income"]));
}

/// Spark SQL's behaviour (ANSI mode off), as plain facts the compiled SQL is written
/// against; and a failing statement is reported and leaves the runner usable.
#[test]
fn spark_facts_the_compiled_sql_relies_on() {
    let Some(spark) = spark() else {
        return;
    };
    let work = Scratch::new("test").expect("a scratch directory");
    let script = write(&work, "facts.sql", SPARK_FACTS);
    let out = work.join("facts.jsonl");
    let job = json!({"script": script, "views": {"facts": out}});
    spark
        .job(&job, engines::SPARK_JOB_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let facts = read_json_lines(&out).expect("facts.jsonl");
    let f = &facts[0];
    let expect = [
        ("null_and_false", json!(false)),
        ("null_and_true", Json::Null),
        ("null_or_true", json!(true)),
        ("leap_plus_year", json!("2025-02-28")),
        ("jan31_plus_month", json!("2024-02-29")),
        ("feb28_plus_month", json!("2023-03-28")),
        ("round_up", json!("3")),
        ("round_down", json!("-3")),
        ("bround", json!("2")),
        ("int_div", json!(3)),
        ("slash", json!(3.5)),
        ("sorted", json!(["B", "_", "a", "b"])),
    ];
    for (name, want) in expect {
        assert_eq!(f[name], want, "{name} in {f:#}");
    }
    let bad = write(
        &work,
        "bad.sql",
        "SELECT 1;\nSELECT no_such_column FROM facts;\n",
    );
    let err = spark.run(Path::new(""), &bad, &out).unwrap_err();
    assert!(
        err.contains("statement 1") && err.contains("no_such_column"),
        "{err}"
    );
    spark
        .job(&job, engines::SPARK_JOB_LIMIT)
        .expect("the runner goes on after a failed job");
}

const SPARK_FACTS: &str = "\
CREATE OR REPLACE TEMPORARY VIEW facts AS SELECT
  -- Kleene logic, as PostgreSQL's.
  CAST(NULL AS BOOLEAN) AND false AS null_and_false,
  CAST(NULL AS BOOLEAN) AND true AS null_and_true,
  CAST(NULL AS BOOLEAN) OR true AS null_or_true,
  -- add_months keeps the day and clamps to the month's end (Spark 3: no longer
  -- moving a month's last day to the next month's last day), as calendar::add_months.
  CAST(add_months(DATE'2024-02-29', 12) AS STRING) AS leap_plus_year,
  CAST(add_months(DATE'2024-01-31', 1) AS STRING) AS jan31_plus_month,
  CAST(add_months(DATE'2023-02-28', 1) AS STRING) AS feb28_plus_month,
  -- round() is half away from zero (the engine's round), bround() half even.
  round(CAST(2.5 AS DECIMAL(3,1)), 0) AS round_up,
  round(CAST(-2.5 AS DECIMAL(3,1)), 0) AS round_down,
  bround(CAST(2.5 AS DECIMAL(3,1)), 0) AS bround,
  -- `/` on integers is a double: whole-number division is `div`.
  7 div 2 AS int_div, 7 / 2 AS slash,
  -- Strings sort by bytes (UTF-8), as Rust's.
  array_sort(array('b', 'B', 'a', '_')) AS sorted;
";
