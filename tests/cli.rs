//! The `mianshen` command line: exit codes and the key parts of its output.
//!
//! Runs the built binary from the package root, on the shipped `rules/` and on the
//! records and case files in `tests/fixtures/cli/`. Broken rule sets are copies of
//! `rules/` in a scratch directory under the target dir.

#[path = "support/command.rs"]
mod command;
use command::{run_within, Run};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const SENIOR: &str = "sh-senior-comprehensive-allowance";
const SENIOR_FILE: &str = "social-assistance/sh-senior-comprehensive-allowance.rules";
const ON: &str = "2025-06-30";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    format!("tests/fixtures/cli/{name}")
}

fn run(args: &[&str]) -> Run {
    run_within(args, std::time::Duration::from_secs(300))
}

fn json_of(r: &Run) -> Vec<Json> {
    match serde_json::from_str::<Json>(&r.stdout) {
        Ok(Json::Array(items)) => items,
        other => panic!("--json does not print an array: {other:?}\n{r:?}"),
    }
}

fn decision<'a>(items: &'a [Json], policy: &str) -> &'a Json {
    items
        .iter()
        .find(|d| d["policy"] == policy)
        .unwrap_or_else(|| panic!("no decision for {policy}"))
}

// ------------------------------------------------------------------ scratch rule sets

static SCRATCH: AtomicUsize = AtomicUsize::new(0);

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fresh copy of `rules/` in the target's scratch directory.
fn scratch_rules(tag: &str) -> PathBuf {
    let n = SCRATCH.fetch_add(1, Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-rules-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root().join("rules"), &dir);
    dir
}

/// Replaces the first occurrence of `from` in a rule file; returns the 1-based line
/// and the 1-based column (in characters) of the replacement.
fn break_file(dir: &Path, file: &str, from: &str, to: &str) -> (usize, usize) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .find(from)
        .unwrap_or_else(|| panic!("`{from}` is not in {file}"));
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at].rsplit('\n').next().unwrap().chars().count() + 1;
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    (line, col)
}

// ------------------------------------------------------------------ check / test

#[test]
fn check_shipped_rules_exits_0() {
    let r = run(&["check", "rules/"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("no errors"), "{r:?}");
    assert!(r.stdout.contains("policies"), "{r:?}");
    assert!(!r.stderr.contains("error"), "{r:?}");
    // The batch's compiled tier says which policies it leaves to the reference
    // evaluator, and why.
    assert!(
        r.stdout.contains("batch: all 14 policies compiled"),
        "{r:?}"
    );
}

#[test]
fn test_shipped_rules_exits_0() {
    let r = run(&["test", "rules/"]);
    assert_eq!(r.code, 0, "{r:?}");
    let last = r.stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with("passed, 0 failed"), "{r:?}");
    let passed: usize = last.split_whitespace().next().unwrap().parse().unwrap();
    assert!(passed > 0, "some cases ran: {last}");
    assert!(!r.stdout.contains("FAIL"), "{r:?}");
}

#[test]
fn test_with_a_wrong_expectation_exits_1_and_shows_expected_and_actual() {
    let r = run(&["test", "rules/", &fixture("cases-wrong.yaml")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("FAIL CLI-WRONG-001"), "{r:?}");
    assert!(
        r.stdout
            .contains("sh-senior-comprehensive-allowance.amount.value: expected 150.00, got 75.00"),
        "{r:?}"
    );
    let expected = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("expected:"))
        .expect("an expected: line");
    let actual = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("actual:"))
        .expect("an actual: line");
    assert!(expected.contains("150.00"), "{expected}");
    assert!(actual.contains("75.00"), "{actual}");
    assert!(r.stdout.trim_end().ends_with("0 passed, 1 failed"), "{r:?}");
}

#[test]
fn test_with_given_case_files_runs_only_those() {
    let r = run(&["test", "rules/", &fixture("cases-right.yaml")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.trim_end().ends_with("2 passed, 0 failed"), "{r:?}");
    // Both files at once: the failure counts.
    let r = run(&[
        "test",
        "rules/",
        &fixture("cases-right.yaml"),
        &fixture("cases-wrong.yaml"),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.trim_end().ends_with("2 passed, 1 failed"), "{r:?}");
}

#[test]
fn test_with_an_unreadable_case_file_fails() {
    let r = run(&["test", "rules/", &fixture("no-such-cases.yaml")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no-such-cases.yaml"), "{r:?}");
}

#[test]
fn check_of_a_broken_rules_dir_exits_1_with_file_line_column() {
    let dir = scratch_rules("field");
    let (line, col) = break_file(&dir, SENIOR_FILE, "hukou_region", "hukou_regoin");
    let r = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    let loc = format!("{}:{line}:{}", dir.join(SENIOR_FILE).display(), col);
    assert!(r.stderr.contains(&loc), "expected {loc}\n{r:?}");
    assert!(r.stderr.contains("error[unknown-field]"), "{r:?}");
    assert!(r.stderr.contains("did you mean `hukou_region`?"), "{r:?}");
    assert!(r.stderr.contains("1 error(s)"), "{r:?}");
    // The other commands refuse the broken set too, and point at `check`.
    let r = run(&[
        "eval",
        dir.to_str().unwrap(),
        &fixture("person.json"),
        "--date",
        ON,
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&loc), "{r:?}");
    assert!(r.stderr.contains("mianshen check"), "{r:?}");
    let r = run(&["test", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_of_a_syntax_error_exits_1_with_file_line_column() {
    let dir = scratch_rules("syntax");
    // Drop the colon after C1's label: the expression on the next line is unexpected.
    let text = std::fs::read_to_string(dir.join(SENIOR_FILE)).unwrap();
    let c1 = text.find("C1 \"").expect("C1 in the senior allowance");
    let colon = c1 + text[c1..].find("\":").unwrap() + 1;
    let broken = format!("{}{}", &text[..colon], &text[colon + 1..]);
    std::fs::write(dir.join(SENIOR_FILE), broken).unwrap();
    let r = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error[syntax]"), "{r:?}");
    let file = dir.join(SENIOR_FILE).display().to_string();
    let loc = r
        .stderr
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .expect("a location line");
    let rest = loc
        .strip_prefix(&format!("{file}:"))
        .unwrap_or_else(|| panic!("{loc}"));
    let (line, col) = rest.split_once(':').unwrap();
    let (line, col): (usize, usize) = (line.parse().unwrap(), col.parse().unwrap());
    let c1_line = text[..c1].matches('\n').count() + 1;
    assert!(
        line == c1_line || line == c1_line + 1,
        "line {line}, C1 is on {c1_line}"
    );
    assert!(col >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_of_a_missing_dir_or_schema_exits_1() {
    let r = run(&["check", "tests/fixtures/cli/no-such-rules"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no-such-rules"), "{r:?}");
    let dir = scratch_rules("schema");
    std::fs::write(dir.join("schema.yaml"), "subjects: [this is not a schema\n").unwrap();
    let r = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("schema.yaml"), "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ eval

#[test]
fn eval_yaml_record_prints_decisions() {
    let r = run(&["eval", "rules/", &fixture("person.yaml"), "--date", ON]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("CLI-P1 on 2025-06-30:"), "{r:?}");
    assert!(
        r.stdout
            .contains("sh-senior-comprehensive-allowance 上海市老年综合津贴 — eligible"),
        "{r:?}"
    );
    assert!(r.stdout.contains("amount: 75.00 CNY per_month"), "{r:?}");
    // Every clause is listed with its mark and the facts it read.
    assert!(r.stdout.contains("✓ C2 年满65周岁"), "{r:?}");
    assert!(r.stdout.contains("person.birth_date = 1955-08-10"), "{r:?}");
    // Other person policies are decided too, with their reasons.
    assert!(r.stdout.contains("ui-unemployment-benefit"), "{r:?}");
    assert!(r.stdout.contains("— not_eligible"), "{r:?}");
    assert!(r.stdout.contains("failed: "), "{r:?}");
}

#[test]
fn eval_json_record_prints_the_same_decisions() {
    let yaml = run(&["eval", "rules/", &fixture("person.yaml"), "--date", ON]);
    let json = run(&["eval", "rules/", &fixture("person.json"), "--date", ON]);
    assert_eq!(json.code, 0, "{json:?}");
    assert_eq!(
        yaml.stdout, json.stdout,
        "YAML and JSON records are read alike"
    );
}

#[test]
fn eval_json_output_is_an_array_of_decisions() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.json"),
        "--date",
        ON,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let items = json_of(&r);
    assert!(items.len() > 1, "every person policy is decided");
    for d in &items {
        assert!(d["policy"].is_string(), "{d}");
        let outcome = d["outcome"].as_str().expect("an outcome");
        assert!(
            ["eligible", "not_eligible", "undetermined"].contains(&outcome),
            "{outcome}"
        );
        assert!(d["trace"]["clauses"][0]["id"] == "C0", "{d}");
        if outcome == "not_eligible" {
            assert!(
                d["failed"].is_array() || d.get("per_child").is_some(),
                "{d}"
            );
        }
        if outcome == "undetermined" {
            assert!(d["missing"].is_array(), "{d}");
        }
    }
    let senior = decision(&items, SENIOR);
    assert_eq!(senior["outcome"], "eligible");
    assert_eq!(senior["amount"]["value"], "75.00");
    assert_eq!(senior["amount"]["unit"], "CNY");
    assert_eq!(senior["amount"]["period"], "per_month");
    // Only person policies: no enterprise policy is decided for a person.
    assert!(items
        .iter()
        .all(|d| d["policy"] != "ui-job-expansion-subsidy"));
}

#[test]
fn eval_policy_restricts_to_one_decision() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.json"),
        "--date",
        ON,
        "--json",
        "--policy",
        SENIOR,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let items = json_of(&r);
    assert_eq!(items.len(), 1, "{r:?}");
    assert_eq!(items[0]["policy"], SENIOR);
    // Text output too.
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.yaml"),
        "--date",
        ON,
        "--policy",
        SENIOR,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(SENIOR), "{r:?}");
    assert!(!r.stdout.contains("ui-unemployment-benefit"), "{r:?}");
}

#[test]
fn eval_on_a_date_outside_the_period_is_not_in_force() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.json"),
        "--date",
        "2015-12-31",
        "--json",
        "--policy",
        SENIOR,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let d = &json_of(&r)[0];
    assert_eq!(d["outcome"], "not_eligible");
    assert_eq!(d["failed"], serde_json::json!(["C0"]));
}

#[test]
fn eval_is_deterministic_and_masks_sensitive_fields() {
    let args = [
        "eval",
        "rules/",
        "tests/fixtures/cli/person.json",
        "--date",
        ON,
        "--json",
    ];
    let first = run(&args);
    let second = run(&args);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.stdout, second.stdout, "byte for byte");
    // The record's id number is sensitive: it never appears in the output.
    assert!(!first.stdout.contains("310101195508100011"));
    let text = run(&["eval", "rules/", &fixture("person.json"), "--date", ON]);
    assert!(!text.stdout.contains("310101195508100011"));
}

#[test]
fn eval_missing_required_field_is_not_an_error() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("missing-birth-date.json"),
        "--date",
        ON,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let items = json_of(&r);
    let senior = decision(&items, SENIOR);
    assert_eq!(senior["outcome"], "undetermined", "{senior}");
    assert_eq!(senior["missing"], serde_json::json!(["person.birth_date"]));
    let text = run(&[
        "eval",
        "rules/",
        &fixture("missing-birth-date.json"),
        "--date",
        ON,
    ]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("missing: person.birth_date"),
        "{text:?}"
    );
    assert!(text.stdout.contains("? C2"), "{text:?}");
}

// ------------------------------------------------------------------ eval: bad input

#[test]
fn eval_missing_record_file_exits_2_and_names_it() {
    let r = run(&[
        "eval",
        "rules/",
        "tests/fixtures/cli/no-such-record.json",
        "--date",
        ON,
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no-such-record.json"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn eval_invalid_json_exits_2() {
    let r = run(&["eval", "rules/", &fixture("not-json.json"), "--date", ON]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("not-json.json"), "{r:?}");
    assert!(r.stderr.contains("not valid JSON"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn eval_value_of_the_wrong_type_exits_2_naming_record_and_path() {
    for (file, id) in [
        ("wrong-type.json", "CLI-BAD-TYPE"),
        ("wrong-type.yaml", "CLI-BAD-TYPE-Y"),
    ] {
        let r = run(&["eval", "rules/", &fixture(file), "--date", ON]);
        assert_eq!(r.code, 2, "{file}: {r:?}");
        assert!(r.stderr.contains(id), "{file}: {r:?}");
        assert!(r.stderr.contains("person.birth_date"), "{file}: {r:?}");
        assert!(r.stderr.contains("expected date"), "{file}: {r:?}");
        assert!(r.stdout.is_empty(), "{file}: {r:?}");
    }
}

#[test]
fn eval_unknown_enum_value_exits_2_listing_the_allowed_values() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("unknown-enum.json"),
        "--date",
        ON,
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("CLI-BAD-ENUM"), "{r:?}");
    assert!(r.stderr.contains("person.gender"), "{r:?}");
    assert!(r.stderr.contains("`mal`"), "{r:?}");
    assert!(r.stderr.contains("male, female"), "{r:?}");
}

#[test]
fn eval_unknown_policy_exits_2_with_did_you_mean() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.json"),
        "--date",
        ON,
        "--policy",
        "sh-senior-comprehensive-allowanse",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("unknown policy `sh-senior-comprehensive-allowanse`"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("did you mean `sh-senior-comprehensive-allowance`?"),
        "{r:?}"
    );
}

#[test]
fn eval_policy_of_another_subject_kind_exits_2() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.json"),
        "--date",
        ON,
        "--policy",
        "ui-job-expansion-subsidy",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("ui-job-expansion-subsidy"), "{r:?}");
}

#[test]
fn eval_bad_date_exits_2() {
    for bad in ["2025-13-01", "2025-02-29", "30/06/2025", "yesterday", ""] {
        let r = run(&["eval", "rules/", &fixture("person.json"), "--date", bad]);
        assert_eq!(r.code, 2, "--date {bad:?}: {r:?}");
        assert!(r.stderr.contains("YYYY-MM-DD"), "--date {bad:?}: {r:?}");
        assert!(r.stdout.is_empty(), "--date {bad:?}: {r:?}");
    }
}

#[test]
fn eval_unknown_subject_kind_or_a_non_mapping_record_exits_2() {
    let r = run(&[
        "eval",
        "rules/",
        &fixture("person.json"),
        "--date",
        ON,
        "--subject",
        "persn",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("persn"), "{r:?}");
    assert!(r.stderr.contains("person"), "{r:?}");
    // A list where a record (a mapping) is expected.
    let r = run(&[
        "eval",
        "rules/",
        &fixture("not-a-mapping.json"),
        "--date",
        ON,
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("not-a-mapping.json"), "{r:?}");
    assert!(r.stderr.contains("mapping"), "{r:?}");
    // A record with none of the subject kinds' keys: the kind must be given.
    let r = run(&["eval", "rules/", &fixture("cases-right.yaml"), "--date", ON]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--subject"), "{r:?}");
}

// ------------------------------------------------------------------ scales

/// The worked example of scales in the language reference (§5.1) is
/// `tests/fixtures/scales/`: its rules are in the reference word for word, `eval`
/// prints what the reference shows, and its example cases pass.
#[test]
fn the_scales_worked_example_runs_as_the_language_reference_shows() {
    let doc = std::fs::read_to_string(root().join("docs/language.md")).unwrap();
    let rules = std::fs::read_to_string(root().join("tests/fixtures/scales/tax.rules")).unwrap();
    for block in rules.split("\n\n") {
        assert!(
            doc.contains(block.trim()),
            "docs/language.md lacks this block of the fixture:\n{block}"
        );
    }
    let r = run(&["check", "tests/fixtures/scales"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("1 parameters, 2 scales, 0 functions — no errors"),
        "{r:?}"
    );
    let r = run(&[
        "eval",
        "tests/fixtures/scales",
        "tests/fixtures/scales/p1.yaml",
        "--date",
        "2025-06-30",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        doc.contains(r.stdout.trim_end()),
        "docs/language.md does not show this output:\n{}",
        r.stdout
    );
    let r = run(&["test", "tests/fixtures/scales"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("5 passed, 0 failed"), "{r:?}");
}
