//! The tables of a population (src/sql/layout.rs) as the DDL declares them, as the CSV
//! export fills them and as Parquet carries them, on the shipped schema and sample
//! population: every table and list present with its types, NULL and presence as the
//! reader judged the record, `_parent` links right, and a population that goes through
//! Parquet decided exactly as the JSON Lines it came from.

#[path = "support/command.rs"]
mod command;
use command::run_within;
use mianshen::internals::sql::{ddl, export, parquet, Dialect};
use mianshen::RuleSet;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn rules() -> RuleSet {
    RuleSet::load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
}

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mianshen-sql-layout-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The statement that creates `table`, up to its end.
fn create<'a>(sql: &'a str, table: &str) -> &'a str {
    let start = sql
        .find(&format!("CREATE TABLE {table} ("))
        .unwrap_or_else(|| panic!("no table {table}:\n{sql}"));
    let end = sql[start..].find("\n)").unwrap() + start;
    &sql[start..end]
}

/// The identifiers a PostgreSQL script quotes.
fn quoted_identifiers(sql: &str) -> Vec<&str> {
    sql.split('"').skip(1).step_by(2).collect()
}

#[test]
fn postgres_ddl_declares_every_table_and_list_of_the_shipped_schema() {
    let rules = rules();
    let sql = ddl::ddl(rules.schema(), Dialect::Postgres);
    let tables = export::table_names(rules.schema());
    for t in [
        "person",
        "person__person__status_flags",
        "person__skill_certificates",
        "person__disability__multiple_components",
        "person__business__registrations",
        "person__startup_groups",
        "person__loans",
        "person__household__members",
        "person__household__members__monthly_income",
        "enterprise",
        "enterprise__enterprise__hires",
    ] {
        assert!(tables.iter().any(|n| n == t), "{t} in {tables:?}");
        assert!(
            sql.contains(&format!("DROP TABLE IF EXISTS \"{t}\" CASCADE;")),
            "{t}"
        );
    }
    assert_eq!(sql.matches("CREATE TABLE").count(), tables.len());
    let person = create(&sql, "\"person\"");
    for column in [
        "\"_id\" bigint PRIMARY KEY",
        "\"person__id\" text",
        "\"person__birth_date\" date",
        "\"person__alive\" boolean",
        "\"person__gender\" text CHECK (\"person__gender\" IN ('male', 'female'))",
        "\"social_insurance__resident_pension__account_balance\" numeric",
        "\"social_insurance__unemployment__months_total\" bigint",
        "\"disability\" boolean",
        "\"disability__level\" bigint",
        "\"loans\" boolean",
        "\"household__members\" boolean",
    ] {
        assert!(person.contains(column), "{column} in\n{person}");
    }
    let income = create(&sql, "\"person__household__members__monthly_income\"");
    assert!(income.contains(
        "\"_parent\" bigint NOT NULL REFERENCES \"person__household__members\" (\"_id\")"
    ));
    assert!(income.contains("\"_pos\" integer NOT NULL"));
    assert!(income.contains("\"amount\" numeric"));
    let flags = create(&sql, "\"person__startup_groups\"");
    assert!(flags.contains("\"value\" text CHECK (\"value\" IN ('registered_unemployed'"));
    // Children are dropped before their owners, and every child is indexed on _parent.
    let drop_of = |t: &str| sql.find(&format!("DROP TABLE IF EXISTS \"{t}\"")).unwrap();
    assert!(
        drop_of("person__household__members__monthly_income")
            < drop_of("person__household__members")
    );
    assert!(drop_of("person__household__members") < drop_of("person"));
    assert_eq!(sql.matches("CREATE INDEX ON").count(), tables.len() - 2);
    assert!(sql.contains(
        "COMMENT ON COLUMN \"person\".\"person__birth_date\" IS 'person.birth_date: 出生日期';"
    ));
    for name in quoted_identifiers(&sql) {
        assert!(name.len() <= 63, "{name}");
    }
}

#[test]
fn spark_ddl_nests_the_lists_of_the_shipped_schema() {
    let rules = rules();
    let sql = ddl::ddl(rules.schema(), Dialect::Spark);
    assert_eq!(sql.matches("CREATE TABLE").count(), 2, "{sql}");
    let person = create(&sql, "`person`");
    for column in [
        "`_id` BIGINT,",
        "`person__birth_date` DATE COMMENT",
        "`person__alive` BOOLEAN COMMENT",
        "`person__gender` STRING COMMENT",
        "`social_insurance__resident_pension__account_balance` DECIMAL(38,18) COMMENT",
        "`person__status_flags` ARRAY<STRING> COMMENT",
        "`loans` ARRAY<STRUCT<`type`: STRING COMMENT 'type: 贷款类型', `principal`: DECIMAL(38,18) COMMENT",
        "`monthly_income`: ARRAY<STRUCT<`type`: STRING COMMENT 'type: income type', `amount`: DECIMAL(38,18)",
        "`disability` BOOLEAN COMMENT",
    ] {
        assert!(person.contains(column), "{column} in\n{person}");
    }
    assert!(sql.contains(") USING parquet\nCOMMENT 'person records, one row each';"));
    assert!(!person.contains("`_parent`") && !person.contains("`_pos`"));
    let enterprise = create(&sql, "`enterprise`");
    assert!(enterprise.contains("`enterprise__hires` ARRAY<STRUCT<`id`: STRING"));
    assert!(enterprise.contains("`education__level`: STRING"));
    for name in sql.split('`').skip(1).step_by(2) {
        assert!(name.len() <= 63, "{name}");
    }
}

/// CSV rows, each cell `None` for NULL (an empty field not in quotes) or its text.
fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut cell = String::new();
    let (mut quoted, mut in_quotes, mut chars) = (false, false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', true) => in_quotes = false,
            ('"', false) => (in_quotes, quoted) = (true, true),
            (',' | '\n', false) => {
                let text = std::mem::take(&mut cell);
                row.push((quoted || !text.is_empty()).then_some(text));
                quoted = false;
                if c == '\n' {
                    rows.push(std::mem::take(&mut row));
                }
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

/// A CSV table as rows keyed by column name.
fn table(text: &str) -> Rows {
    let mut rows = parse_csv(text).into_iter();
    let header: Vec<String> = rows
        .next()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    rows.map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

fn cell<'a>(row: &'a BTreeMap<String, Option<String>>, column: &str) -> Option<&'a str> {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_deref()
}

/// A CSV table's rows, by column name.
type Rows = Vec<BTreeMap<String, Option<String>>>;

/// Exports `lines` as CSV with the shipped schema: each table's rows, and the lines of
/// `rejected`.
fn export_csv(lines: &[Json]) -> (BTreeMap<String, Rows>, String) {
    let rules = rules();
    let names = export::table_names(rules.schema());
    let mut out: Vec<Vec<u8>> = vec![vec![]; names.len()];
    let mut rejected = vec![];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    export::export_csv(
        rules.schema(),
        input.as_bytes(),
        &export::ExportOptions::default(),
        &mut out,
        &mut rejected,
    )
    .unwrap();
    let tables = names
        .into_iter()
        .zip(out)
        .map(|(n, b)| (n, table(&String::from_utf8(b).unwrap())))
        .collect();
    (tables, String::from_utf8(rejected).unwrap())
}

fn edge_cases() -> Vec<Json> {
    vec![
        serde_json::json!({
            "person": {"id": "P1", "name": "", "birth_date": "1950-02-28", "gender": "female",
                       "phone": "a \"quoted\", two-line\ntext"},
            "disability": {},
            "startup_groups": ["veteran", "online_merchant"],
            "skill_certificates": [],
            "household": {"members": [
                {"person_id": "P1", "relationship": "self", "monthly_income": []},
                {"person_id": "M1", "relationship": "spouse"},
                {"person_id": "M2", "relationship": "child", "monthly_income": [
                    {"type": "wage", "amount": "1234.50"}, {"type": "pension", "amount": 0}
                ]}
            ]}
        }),
        serde_json::json!({"person": {"id": "P2"}, "education": null, "disability": null}),
        serde_json::json!({"person": {"id": "P3", "nope": 1}}),
    ]
}

#[test]
fn csv_rows_say_null_presence_and_parents_as_the_reader_judged_the_record() {
    let (t, rejected) = export_csv(&edge_cases());
    assert!(
        rejected.contains("\"line\":3") && rejected.contains("unknown-field"),
        "{rejected}"
    );
    let person = &t["person"];
    assert_eq!(person.len(), 2);
    let (p1, p2) = (&person[0], &person[1]);
    assert_eq!(cell(p1, "_id"), Some("1"));
    assert_eq!(cell(p1, "person__id"), Some("P1"));
    // An empty text is a value, apart from NULL; an optional text left out is NULL.
    assert_eq!(cell(p1, "person__name"), Some(""));
    assert_eq!(cell(p2, "person__name"), None);
    assert_eq!(
        cell(p1, "person__phone"),
        Some("a \"quoted\", two-line\ntext")
    );
    // Defaults are written as the reader applies them.
    assert_eq!(cell(p2, "person__alive"), Some("true"));
    assert_eq!(cell(p2, "person__nationality"), Some("CN"));
    assert_eq!(cell(p2, "housing_fund__balance"), Some("0"));
    // A required record left out (or null) is empty: its fields are NULL, and it has
    // no presence column.
    assert_eq!(cell(p2, "education__level"), None);
    assert!(!p2.contains_key("education"));
    // An optional record: present (even empty) or NULL.
    assert_eq!(cell(p1, "disability"), Some("true"));
    assert_eq!(cell(p1, "disability__level"), None);
    assert_eq!(cell(p2, "disability"), None);
    // Lists: present when given or defaulted, items in their own table.
    assert_eq!(cell(p1, "skill_certificates"), Some("true"));
    assert_eq!(cell(p2, "loans"), Some("true"));
    assert_eq!(cell(p2, "household__members"), Some("true"));
    assert!(t["person__skill_certificates"].is_empty());
    let groups = &t["person__startup_groups"];
    let pairs: Vec<_> = groups
        .iter()
        .map(|r| (cell(r, "_parent"), cell(r, "_pos"), cell(r, "value")))
        .collect();
    assert_eq!(
        pairs,
        [
            (Some("1"), Some("0"), Some("veteran")),
            (Some("1"), Some("1"), Some("online_merchant"))
        ]
    );
    let members = &t["person__household__members"];
    assert_eq!(members.len(), 3);
    let income_presence: Vec<_> = members.iter().map(|m| cell(m, "monthly_income")).collect();
    // [] is an empty list, present; a required list left out is missing: NULL.
    assert_eq!(income_presence, [Some("true"), None, Some("true")]);
    assert!(members.iter().all(|m| cell(m, "_parent") == Some("1")));
    let income = &t["person__household__members__monthly_income"];
    let rows: Vec<_> = income
        .iter()
        .map(|r| {
            (
                cell(r, "_parent"),
                cell(r, "_pos"),
                cell(r, "type"),
                cell(r, "amount"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("3"), Some("0"), Some("wage"), Some("1234.50")),
            (Some("3"), Some("1"), Some("pension"), Some("0"))
        ]
    );
}

/// The records of the sample population as the rule set reads them, in input order.
fn sample_records(rules: &RuleSet) -> Vec<mianshen::Record> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/population.jsonl"),
    )
    .unwrap();
    text.lines()
        .filter_map(|l| rules.read_json(l).ok())
        .collect()
}

#[test]
fn the_sample_population_reads_back_from_parquet_as_the_same_records() {
    let rules = rules();
    let dir = scratch();
    let subjects = parquet::subject_names(rules.schema());
    let files: Vec<_> = subjects
        .iter()
        .map(|s| std::fs::File::create(dir.join(parquet::parquet_file_name(s))).unwrap())
        .collect();
    let population =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/population.jsonl"))
            .unwrap();
    let mut rejected = vec![];
    let summary = parquet::export_parquet(
        rules.schema(),
        &population[..],
        &export::ExportOptions::default(),
        files,
        &mut rejected,
    )
    .unwrap();
    let expected = sample_records(&rules);
    assert_eq!(summary.written, expected.len() as u64);
    for (s, name) in subjects.iter().enumerate() {
        let file = std::fs::File::open(dir.join(parquet::parquet_file_name(name))).unwrap();
        let rows = parquet::ParquetRecords::open(rules.schema(), file, None).unwrap();
        assert_eq!(rows.subject(), s);
        let back: Vec<_> = rows
            .map(|v| rules.read_value(&v.unwrap(), Some(name)).unwrap())
            .collect();
        let of_kind: Vec<_> = expected
            .iter()
            .filter(|r| rules.subject_of(r) == name)
            .cloned()
            .collect();
        assert_eq!(back.len(), of_kind.len(), "{name}");
        for (a, b) in back.iter().zip(&of_kind) {
            assert_eq!(a, b, "{name} {:?}", b.id);
        }
    }
}

#[test]
fn edge_cases_survive_parquet() {
    let rules = rules();
    let dir = scratch();
    let subjects = parquet::subject_names(rules.schema());
    let path = |s: &str| dir.join(parquet::parquet_file_name(s));
    let files: Vec<_> = subjects
        .iter()
        .map(|s| std::fs::File::create(path(s)).unwrap())
        .collect();
    let input: String = edge_cases().iter().map(|l| format!("{l}\n")).collect();
    let mut rejected = vec![];
    parquet::export_parquet(
        rules.schema(),
        input.as_bytes(),
        &export::ExportOptions::default(),
        files,
        &mut rejected,
    )
    .unwrap();
    let file = std::fs::File::open(path("person")).unwrap();
    let back: Vec<Json> = parquet::ParquetRecords::open(rules.schema(), file, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0]["person"]["name"], "");
    // Present with nothing given: the record, its defaults as read, no other field.
    assert_eq!(
        back[0]["disability"],
        serde_json::json!({"multiple_components": [], "long_term_care_needed": false})
    );
    assert!(back[1].get("disability").is_none());
    let members = back[0]["household"]["members"].as_array().unwrap();
    assert_eq!(members[0]["monthly_income"], serde_json::json!([]));
    assert!(members[1].get("monthly_income").is_none());
    assert_eq!(
        members[2]["monthly_income"][0]["amount"].to_string(),
        "1234.5"
    );
    for (given, read) in edge_cases().iter().zip(&back) {
        assert_eq!(
            rules.read_value(given, None).unwrap(),
            rules.read_value(read, None).unwrap()
        );
    }
}

/// A run's outputs: its output lines (sorted) and its summary's counts per policy.
fn run_outputs(input: &Path, out: &Path) -> (Vec<String>, BTreeMap<String, [u64; 3]>) {
    let r = run_within(
        &[
            "run",
            "rules",
            "--input",
            input.to_str().unwrap(),
            "--date",
            "2025-07-01",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        Duration::from_secs(300),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let mut lines = vec![];
    for f in ["grants.jsonl", "pushes.jsonl", "errors.jsonl"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        lines.extend(text.lines().map(|l| format!("{f}: {l}")));
    }
    lines.sort();
    let summary: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let counts = summary["policies"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, p)| {
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            (
                id.clone(),
                [n("eligible"), n("not_eligible"), n("undetermined")],
            )
        })
        .collect();
    (lines, counts)
}

#[test]
fn run_on_the_exported_parquet_decides_as_on_the_json_lines() {
    let dir = scratch();
    let exported = dir.join("parquet");
    let r = run_within(
        &[
            "export",
            "rules",
            "--input",
            "examples/population.jsonl",
            "--format",
            "parquet",
            "--out",
            exported.to_str().unwrap(),
        ],
        Duration::from_secs(300),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("rejected"), "{r:?}");
    let (mut lines, mut counts) = (vec![], BTreeMap::<String, [u64; 3]>::new());
    for subject in ["person", "enterprise"] {
        let (l, c) = run_outputs(
            &exported.join(format!("{subject}.parquet")),
            &dir.join(format!("run-{subject}")),
        );
        lines.extend(l);
        for (id, n) in c {
            let total = counts.entry(id).or_default();
            for (t, x) in total.iter_mut().zip(n) {
                *t += x;
            }
        }
    }
    lines.sort();
    let (json_lines, json_counts) = run_outputs(
        Path::new("examples/population.jsonl"),
        &dir.join("run-jsonl"),
    );
    assert_eq!(counts, json_counts);
    assert_eq!(lines.len(), json_lines.len());
    assert!(lines == json_lines, "the outputs differ");
}

#[test]
fn csv_export_writes_a_file_per_table_and_the_load_script() {
    let dir = scratch();
    let r = run_within(
        &[
            "export",
            "rules",
            "--input",
            "examples/population.jsonl",
            "--out",
            dir.to_str().unwrap(),
        ],
        Duration::from_secs(300),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("3279 records written, 21 rejected"),
        "{r:?}"
    );
    let rules = rules();
    let script = std::fs::read_to_string(dir.join("load.psql")).unwrap();
    for t in export::table_names(rules.schema()) {
        let file = export::csv_file_name(&t);
        assert!(dir.join(&file).exists(), "{file}");
        assert!(script.contains(&format!("\\copy \"{t}\" (")), "{t}");
    }
    let rejected = std::fs::read_to_string(dir.join("rejected.jsonl")).unwrap();
    assert_eq!(rejected.lines().count(), 21);
    let missing = run_within(
        &[
            "export",
            "rules",
            "--input",
            "no-such.jsonl",
            "--out",
            dir.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(missing.code, 1, "{missing:?}");
}
