//! The record contract (issue 13, items 1–3): one judgment of a record by `eval`, `run`
//! and the library; strict reading; bounded work. Drives the built binary with a time
//! limit, as a careless data supplier or an attacker would.

use mianshen::{ChunkOutput, RuleSet, RunConfig, Sink};
use serde_json::{json, Value as Json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ON: &str = "2026-07-01";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mianshen-records-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary under coreutils' `timeout`: killed (and the test failed) after
/// `limit`.
fn mianshen(args: &[&str], limit: Duration) -> Out {
    let out = Command::new("timeout")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .arg(limit.as_secs().to_string())
        .arg(env!("CARGO_BIN_EXE_mianshen"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(code, 124, "mianshen {args:?} ran longer than {limit:?}");
    Out {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// `eval` on one record file: (exit code, stderr).
fn eval(rules: &str, file: &Path, extra: &[&str]) -> Out {
    let f = file.to_str().unwrap();
    let mut args = vec!["eval", rules, f, "--date", ON];
    args.extend_from_slice(extra);
    mianshen(&args, LIMIT)
}

/// `run` on JSON Lines: the rejected lines and the summary.
fn run(rules: &str, input: &Path, extra: &[&str]) -> (Vec<Json>, Json, PathBuf) {
    let out = input.with_extension("out");
    let mut args = vec![
        "run",
        rules,
        "--input",
        input.to_str().unwrap(),
        "--date",
        ON,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let r = mianshen(&args, LIMIT);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rejected = std::fs::read_to_string(out.join("rejected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (rejected, summary, out)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The reason `eval` gives for a rejected record: its message without the record and
/// the file.
fn eval_reason(o: &Out, file: &Path) -> String {
    let line = o.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    let rest = line.strip_prefix("error: record ").unwrap();
    let rest = &rest[rest.find(": ").unwrap() + 2..];
    let suffix = format!(" ({})", file.display());
    rest.strip_suffix(&suffix).unwrap_or(rest).to_string()
}

fn person(extra: Json) -> Json {
    let mut v = json!({"person": {"id": "R1", "birth_date": "1955-08-10", "gender": "male",
        "hukou_region": "上海"}});
    if let (Json::Object(m), Json::Object(e)) = (&mut v, extra) {
        for (k, x) in e {
            m.insert(k, x);
        }
    }
    v
}

/// eval and run reject the record with the same reason, which contains `expected`.
fn both_reject(text: &str, expected: &str) {
    let dir = scratch();
    let file = write(&dir, "r.json", text);
    let o = eval("rules", &file, &[]);
    assert_eq!(o.code, 2, "eval accepted {text}: {}", o.stdout);
    let reason = eval_reason(&o, &file);
    assert!(reason.contains(expected), "{reason}");
    let lines = write(&dir, "r.jsonl", &format!("{}\n", text.replace('\n', "")));
    let (rejected, _, _) = run("rules", &lines, &[]);
    assert_eq!(rejected.len(), 1, "run accepted {text}");
    assert_eq!(rejected[0]["reason"], reason, "eval and run differ");
}

#[test]
fn a_misspelt_key_is_an_error_with_a_did_you_mean() {
    let rec = person(json!({"social_insurance": {"employee_pension": {"recieving": true}}}));
    both_reject(
        &rec.to_string(),
        "social_insurance.employee_pension.recieving: unknown field; did you mean receiving?",
    );
}

#[test]
fn a_key_given_twice_is_an_error() {
    both_reject(
        r#"{"person":{"id":"R1","birth_date":"1955-08-10","birth_date":"1990-01-01"}}"#,
        "person.birth_date: the key is given twice",
    );
    let dir = scratch();
    let yaml = write(
        &dir,
        "r.yaml",
        "person:\n  id: R1\n  birth_date: 1955-08-10\n  birth_date: 1990-01-01\n",
    );
    let o = eval("rules", &yaml, &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("duplicate entry"), "{}", o.stderr);
}

#[test]
fn a_date_outside_the_plausible_range_is_an_error() {
    let rec = json!({"person": {"id": "R1", "birth_date": "0000-01-01"}});
    both_reject(
        &rec.to_string(),
        "outside the plausible dates 1900-01-01 ..= 2100-12-31",
    );
}

#[test]
fn a_value_of_a_field_no_rule_reads_is_checked_all_the_same() {
    let rec = person(json!({"social_security_card": {"has_card": 1.5}}));
    both_reject(&rec.to_string(), "social_security_card.has_card: expected");
}

#[test]
fn a_number_for_a_text_field_is_read_the_same_by_eval_and_run() {
    let dir = scratch();
    let rec = json!({"person": {"id": "R1", "name": 1.5, "birth_date": "1955-08-10"}});
    let o = eval("rules", &write(&dir, "r.json", &rec.to_string()), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (rejected, summary, _) = run("rules", &write(&dir, "r.jsonl", &format!("{rec}\n")), &[]);
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(summary["run"]["evaluated"], 1);
}

#[test]
fn a_record_of_another_subject_kind_is_rejected_not_decided() {
    let dir = scratch();
    let file = root().join("tests/fixtures/cli/person.json");
    let o = eval("rules", &file, &["--subject", "enterprise"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stderr
            .contains("the record is of subject kind `person`, not `enterprise`"),
        "{}",
        o.stderr
    );
    let lines: String = (0..5).map(|_| format!("{}\n", person(json!({})))).collect();
    let input = write(&dir, "p.jsonl", &lines);
    for extra in [
        &["--subject", "enterprise"][..],
        &["--subject", "enterprise", "--lenient"],
    ] {
        let (rejected, summary, out) = run("rules", &input, extra);
        assert_eq!(rejected.len(), 5);
        assert_eq!(summary["run"]["evaluated"], 0);
        assert_eq!(
            std::fs::read_to_string(out.join("pushes.jsonl")).unwrap(),
            ""
        );
    }
}

#[test]
fn lenient_reading_accepts_unknown_keys_and_counts_them() {
    let dir = scratch();
    let typo = person(json!({"social_insurance": {"employee_pension": {"recieving": true}}}));
    let extra = person(json!({"extra": 1, "household": {"members": [
        {"person_id": "a", "relationship": "self", "birth_date": "1955-08-10", "nick": "x"},
        {"person_id": "b", "relationship": "spouse", "birth_date": "1956-08-10", "nick": "y"}]}}));
    let input = write(&dir, "l.jsonl", &format!("{typo}\n{extra}\n{extra}\n"));
    let (rejected, summary, _) = run("rules", &input, &["--lenient"]);
    assert!(rejected.is_empty(), "{rejected:?}");
    let unknown = &summary["run"]["unknown_fields"];
    assert_eq!(unknown["social_insurance.employee_pension.recieving"], 1);
    assert_eq!(unknown["extra"], 2);
    // Counted once per record, however many items carry it.
    assert_eq!(unknown["household.members[].nick"], 2);
    let o = eval(
        "rules",
        &write(&dir, "t.json", &typo.to_string()),
        &["--lenient"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (rejected, summary, _) = run("rules", &input, &[]);
    assert_eq!(rejected.len(), 3);
    assert_eq!(summary["run"]["unknown_fields"], json!({}));
}

/// A rules directory with one policy of three nested counts over household members.
fn nested_counts() -> PathBuf {
    let dir = scratch();
    std::fs::copy(root().join("rules/schema.yaml"), dir.join("schema.yaml")).unwrap();
    write(
        &dir,
        "nested.rules",
        r#"policy nested "nested" {
  subject   person
  mode      apply
  authority "test"
  basis     "test"
  effective from 2020-01-01

  C1 "nested counts":
      (count a in household.members where (count b in household.members where (count c in household.members where c.person_id == b.person_id) > 0) > 0) > 0
}
"#,
    );
    dir
}

#[test]
fn three_nested_counts_over_a_thousand_members_end_with_a_budget_error() {
    let rules = nested_counts();
    let members: Vec<Json> = (0..1000)
        .map(|i| json!({"person_id": format!("M{i}"), "relationship": "child", "birth_date": "2000-01-01"}))
        .collect();
    let rec = json!({"person": {"id": "N1", "birth_date": "1980-01-01"}, "household": {"members": members}});
    let file = write(&rules, "big.json", &rec.to_string());
    let start = Instant::now();
    let o = eval(rules.to_str().unwrap(), &file, &["--json"]);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(
        o.stdout.contains("budget of 10000000 steps exceeded"),
        "{}",
        o.stdout
    );
    let input = write(&rules, "big.jsonl", &format!("{rec}\n"));
    let (_, summary, out) = run(rules.to_str().unwrap(), &input, &[]);
    assert_eq!(summary["run"]["evaluation_errors"]["nested"], 1);
    let errors = std::fs::read_to_string(out.join("errors.jsonl")).unwrap();
    assert!(
        errors.contains("budget of 10000000 steps exceeded"),
        "{errors}"
    );
    // A hundred members are well within the budget, in both tiers.
    let small = json!({"person": {"id": "N2", "birth_date": "1980-01-01"},
        "household": {"members": members[..100]}});
    let input = write(&rules, "small.jsonl", &format!("{small}\n"));
    let (_, summary, _) = run(rules.to_str().unwrap(), &input, &[]);
    assert_eq!(summary["policies"]["nested"]["eligible"], 1);
    // A small budget turns even that into the budget's error.
    let (_, summary, _) = run(rules.to_str().unwrap(), &input, &["--budget", "1000"]);
    assert_eq!(summary["run"]["evaluation_errors"]["nested"], 1);
}

#[test]
fn many_certificates_are_evaluated_in_linear_time() {
    let dir = scratch();
    // Household members with unknown birth dates: an undetermined outcome naming
    // every missing path.
    let members: Vec<Json> = (0..16000)
        .map(|i| json!({"person_id": format!("M{i}"), "relationship": "child"}))
        .collect();
    let rec = person(json!({"household": {"members": members}}));
    let file = write(&dir, "m.json", &rec.to_string());
    let start = Instant::now();
    let o = eval("rules", &file, &["--json"]);
    assert!(o.code == 0, "{}", o.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_overlong_line_is_rejected_and_the_run_goes_on() {
    let dir = scratch();
    let path = dir.join("long.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let name = "x".repeat(3 << 20);
    writeln!(f, "{{\"person\":{{\"id\":\"L\",\"name\":\"{name}\"}}}}").unwrap();
    writeln!(f, "{}", person(json!({}))).unwrap();
    drop(f);
    let (rejected, summary, _) = run("rules", &path, &["--max-record-bytes", "1000000"]);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["line"], 1);
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("over the limit of 1000000 bytes"));
    assert_eq!(summary["run"]["evaluated"], 1);
}

#[test]
fn a_deeply_nested_or_large_yaml_record_is_read_or_rejected_quickly() {
    let dir = scratch();
    let deep = format!(
        "person:\n  id: X\n  name: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let o = eval("rules", &write(&dir, "deep.yaml", &deep), &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("nests deeper than"), "{}", o.stderr);
    let mut big =
        String::from("person:\n  id: X\n  birth_date: 1960-01-01\nhousehold:\n  members:\n");
    for i in 0..20000 {
        big.push_str(&format!(
            "    - {{person_id: M{i}, relationship: child, birth_date: 2000-01-01}}\n"
        ));
    }
    let start = Instant::now();
    let o = eval("rules", &write(&dir, "big.yaml", &big), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// The batch's outputs, kept.
#[derive(Default)]
struct Collect(String);

impl Sink for Collect {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        self.0.push_str(&chunk.rejected);
        Ok(())
    }
}

/// Mutations of a record: a value replaced, a key misspelt or given twice.
fn mutations(v: &Json, seed: u64) -> Vec<String> {
    let mut out = vec![];
    let text = v.to_string();
    let mut paths = vec![];
    fn walk(v: &Json, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        if let Json::Object(m) = v {
            for (k, x) in m {
                let mut p = path.clone();
                p.push(k.clone());
                out.push(p.clone());
                walk(x, p, out);
            }
        }
    }
    walk(v, vec![], &mut paths);
    let replacements = [
        json!(1.5),
        json!("x"),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(12),
        json!("0000-01-01"),
        json!("1990-02-30"),
        json!(-3),
    ];
    for (k, p) in paths.iter().enumerate() {
        let r = &replacements[(k + seed as usize) % replacements.len()];
        let mut m = v.clone();
        let mut cur = &mut m;
        for part in &p[..p.len() - 1] {
            cur = cur.get_mut(part).unwrap();
        }
        if let Json::Object(o) = cur {
            let last = p.last().unwrap();
            if (k as u64 + seed).is_multiple_of(5) {
                let x = o.shift_remove(last).unwrap();
                o.insert(format!("{last}x"), x);
            } else {
                o.insert(last.clone(), r.clone());
            }
        }
        out.push(m.to_string());
        // A key given twice, in the text.
        let key = format!("\"{}\":", p.last().unwrap());
        if let Some(at) = text.find(&key) {
            out.push(format!("{}{key}1,{}", &text[..at], &text[at..]));
        }
    }
    out
}

#[test]
fn the_reference_reader_and_the_batch_judge_every_record_alike() {
    for dir in ["rules", "benches/city-10"] {
        let rules = RuleSet::load_dir(root().join(dir)).unwrap();
        let source = if dir == "rules" {
            "examples/population.jsonl"
        } else {
            "tests/fixtures/city10-3000.jsonl"
        };
        let text = std::fs::read_to_string(root().join(source)).unwrap();
        let mut lines = vec![];
        for (i, line) in text.lines().enumerate().step_by(40) {
            let Ok(v) = serde_json::from_str::<Json>(line) else {
                continue;
            };
            lines.push(line.to_string());
            lines.extend(mutations(&v, i as u64));
        }
        let input = lines.join("\n") + "\n";
        let config = RunConfig {
            chunk_size: 64,
            threads: Some(2),
            ..RunConfig::new(chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap())
        };
        let mut sink = Collect::default();
        rules
            .run_json_lines(input.as_bytes(), &config, &mut sink)
            .unwrap();
        let rejected: std::collections::HashMap<u64, String> = sink
            .0
            .lines()
            .map(|l| {
                let v: Json = serde_json::from_str(l).unwrap();
                (
                    v["line"].as_u64().unwrap(),
                    v["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let (mut accepted, mut refused) = (0, 0);
        for (i, line) in lines.iter().enumerate() {
            // The reference reader: parse strictly, tell the subject kind, read.
            let reference = rules.read_json(line);
            let batch = rejected.get(&(i as u64 + 1));
            match (&reference, batch) {
                (Ok(_), None) => accepted += 1,
                (Err(e), Some(reason)) => {
                    refused += 1;
                    assert_eq!(&e.reason(), reason, "{dir} line {}: {line}", i + 1)
                }
                (Ok(_), Some(reason)) => {
                    panic!("{dir}: the batch rejects what the reference reads ({reason}): {line}")
                }
                (Err(e), None) => {
                    panic!("{dir}: the batch reads what the reference rejects ({e}): {line}")
                }
            }
        }
        assert!(accepted > 50 && refused > 50, "{accepted} {refused}");
    }
}

/// The host API's reader and the batch judge the same lines alike (the property the
/// fuzz target `read_record` checks on any bytes).
#[test]
fn the_host_api_and_the_batch_judge_lines_alike() {
    use mianshen::{ChunkOutput, RuleSet, RunConfig, Sink};
    #[derive(Default)]
    struct Rejected(String);
    impl Sink for Rejected {
        fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
            self.0.push_str(&chunk.rejected);
            Ok(())
        }
    }
    let rules = RuleSet::load_dir(env!("CARGO_MANIFEST_DIR").to_string() + "/rules").unwrap();
    let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    let lines = [
        r#"{"person":{"id":"A","birth_date":"1950-01-01"}}"#,
        r#"{"person":{"id":"A","birth_date":"1950-01-01","birth_date":"1951-01-01"}}"#,
        r#"{"person":{"id":"A","birth_dat":"1950-01-01"}}"#,
        r#"{"person":{"id":"A","birth_date":"0000-01-01"}}"#,
        r#"{"person":{"id":"A","birth_date":19500101}}"#,
        r#"{"person":{"id":"A""#,
        r#"[1, 2]"#,
        r#"{"nobody":{}}"#,
        r#"{"person":{"id":"A","name":1.5}}"#,
        r#"{"social_security_card":{"has_card":1.5},"person":{"id":"A"}}"#,
    ];
    for line in lines {
        let mut sink = Rejected::default();
        let summary = rules
            .run_json_lines(line.as_bytes(), &RunConfig::new(on), &mut sink)
            .unwrap();
        assert_eq!(summary.read, 1, "{line}");
        match rules.read_json(line) {
            Ok(_) => assert_eq!(summary.rejected, 0, "{line}: {}", sink.0),
            Err(e) => {
                assert_eq!(
                    summary.rejected, 1,
                    "{line}: the batch reads it, eval says {e}"
                );
                let reason = serde_json::to_string(&e.reason()).unwrap();
                assert!(
                    sink.0.contains(&reason),
                    "{line}: eval {reason}, batch {}",
                    sink.0
                );
                let code = format!("\"code\":\"{}\"", e.kind.code());
                assert!(
                    sink.0.contains(&code),
                    "{line}: eval {code}, batch {}",
                    sink.0
                );
            }
        }
    }
    // A host matches on the kind of a rejection.
    use mianshen::RecordErrorKind as K;
    for (line, kind) in [
        (lines[1], K::DuplicateKey),
        (lines[2], K::UnknownField),
        (lines[3], K::OutOfRange),
        (lines[4], K::WrongType),
        (lines[5], K::Syntax),
        (lines[7], K::SubjectKind),
    ] {
        assert_eq!(
            rules.read_json(line).map(|_| ()).map_err(|e| e.kind),
            Err(kind),
            "{line}"
        );
    }
}

/// A YAML key that is not a plain value is not silently dropped: it is an unknown field.
#[test]
fn a_yaml_key_that_is_not_a_plain_value_is_an_unknown_field() {
    let rules =
        mianshen::RuleSet::load_dir(env!("CARGO_MANIFEST_DIR").to_string() + "/rules").unwrap();
    let e = rules
        .read_yaml("person:\n  id: A\n  ? [a, b]\n  : 1\n")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.kind, mianshen::RecordErrorKind::UnknownField, "{e}");
    assert!(e.path.contains("[\"a\",\"b\"]"), "{e}");
}
