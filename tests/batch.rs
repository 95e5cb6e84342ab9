//! The no-application batch: oracle equality on city-10, the same output whatever the
//! number of threads, every input line accounted for, and bad input answered.

use mianshen::batch::{self, ChunkOutput, InputRecord, RunConfig, Sink, Source};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[derive(Default)]
struct Collect(ChunkOutput);

impl Sink for Collect {
    fn write(&mut self, c: &ChunkOutput) -> std::io::Result<()> {
        self.0.grants.push_str(&c.grants);
        self.0.pushes.push_str(&c.pushes);
        self.0.rejected.push_str(&c.rejected);
        self.0.forms.push_str(&c.forms);
        self.0.records += c.records;
        Ok(())
    }
}

fn lines(text: &str) -> Vec<InputRecord> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| InputRecord {
            line: i as u64 + 1,
            source: Source::Json(l.to_string()),
        })
        .collect()
}

fn run(
    rules: &Path,
    input: Vec<InputRecord>,
    day: &str,
    threads: usize,
    chunk: usize,
) -> (batch::Summary, Collect) {
    let rules = mianshen::load::load_dir(rules).unwrap();
    let mut sink = Collect::default();
    let config = RunConfig {
        ref_date: date(day),
        chunk_size: chunk,
        subject: None,
        threads: Some(threads),
        bundle: None,
    };
    let summary = batch::run(&rules, input.into_iter(), &config, &mut sink, &mut |_| {}).unwrap();
    (summary, sink)
}

/// The same run through `run_json_lines` (the text in blocks, as `mianshen run` reads a
/// file), with `block` bytes handed over per read.
fn run_text(
    rules: &Path,
    text: &[u8],
    day: &str,
    threads: usize,
    block: usize,
) -> (batch::Summary, Collect) {
    /// A reader that returns at most `block` bytes a call, to cut lines across reads.
    struct Dribble<'a>(&'a [u8], usize);
    impl std::io::Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let rules = mianshen::load::load_dir(rules).unwrap();
    let mut sink = Collect::default();
    let config = RunConfig {
        ref_date: date(day),
        chunk_size: 4096,
        subject: None,
        threads: Some(threads),
        bundle: None,
    };
    let summary = batch::run_json_lines(
        &rules,
        Dribble(text, block),
        &config,
        &mut sink,
        &mut |_, _| {},
    )
    .unwrap();
    (summary, sink)
}

#[test]
fn json_lines_in_blocks_give_the_same_run_as_records_one_by_one() {
    for (rules, file, day) in [
        (
            "benches/city-10",
            "tests/fixtures/city10-3000.jsonl",
            "2026-07-01",
        ),
        ("rules", "examples/population.jsonl", "2025-07-01"),
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let (s1, o1) = run(&root().join(rules), lines(&text), day, 2, 500);
        for (threads, block) in [(1, 1 << 20), (2, 977)] {
            let (s2, o2) = run_text(&root().join(rules), text.as_bytes(), day, threads, block);
            assert_eq!(s1, s2, "{file}");
            assert_eq!(o1.0.grants, o2.0.grants, "{file}");
            assert_eq!(o1.0.pushes, o2.0.pushes, "{file}");
            assert_eq!(o1.0.rejected, o2.0.rejected, "{file}");
        }
    }
}

#[test]
fn city10_summary_equals_the_oracle_through_the_batch() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
    let oracle: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/city10-3000.summary.json")).unwrap(),
    )
    .unwrap();
    let (summary, _) = run(
        &root().join("benches/city-10"),
        lines(&text),
        "2026-07-01",
        2,
        500,
    );
    assert_eq!(summary.policies_json(), oracle);
    assert_eq!(summary.read, 3000);
    assert_eq!(summary.evaluated, 3000);
    assert_eq!(summary.rejected, 0);
}

#[test]
fn outputs_are_identical_whatever_the_thread_count_and_chunk_size() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
    let (s1, o1) = run(
        &root().join("benches/city-10"),
        lines(&text),
        "2026-07-01",
        1,
        4096,
    );
    let (s2, o2) = run(
        &root().join("benches/city-10"),
        lines(&text),
        "2026-07-01",
        2,
        97,
    );
    assert_eq!(s1, s2);
    assert_eq!(o1.0.grants, o2.0.grants);
    assert_eq!(o1.0.pushes, o2.0.pushes);
    assert!(!o1.0.grants.is_empty() && !o1.0.pushes.is_empty());
}

#[test]
fn bad_lines_are_rejected_with_their_line_number_and_the_run_goes_on() {
    let good =
        r#"{"person":{"id":"P1","gender":"male","birth_date":"1950-01-01","hukou_region":"上海"}}"#;
    let big = format!(
        r#"{{"person":{{"id":"BIG","name":"{}"}}}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    let text = [
        good,
        r#"{"person":{"id":"P2","birth_date":"#, // truncated
        "not json at all",                       // invalid JSON
        r#"{"person":{"id":"P3","birth_date":12}}"#, // wrong type
        r#"{"person":{"id":"P4","gender":"robot"}}"#, // unknown enum value
        r#"[1,2,3]"#,                            // not a record
        &big,                                    // a 10 MB line
        good,
    ]
    .join("\n");
    let (summary, out) = run(&root().join("rules"), lines(&text), "2025-07-01", 2, 3);
    // The same lines read in blocks, with a line that is not UTF-8 added.
    let mut bytes = text.clone().into_bytes();
    bytes.extend_from_slice(b"\n{\"person\":{\"id\":\"P\xff\"}}\n");
    let (in_blocks, block_out) = run_text(&root().join("rules"), &bytes, "2025-07-01", 2, 4096);
    assert_eq!(in_blocks.read, 9);
    assert_eq!(in_blocks.evaluated, summary.evaluated);
    assert!(block_out.0.rejected.starts_with(&out.0.rejected));
    assert!(block_out
        .0
        .rejected
        .ends_with("{\"line\":9,\"subject\":null,\"reason\":\"the line is not valid UTF-8\"}\n"));
    assert_eq!(summary.read, 8);
    assert_eq!(summary.evaluated + summary.rejected, summary.read);
    assert_eq!(summary.rejected, 5, "{}", out.0.rejected);
    let rejected: Vec<serde_json::Value> = out
        .0
        .rejected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line_numbers: Vec<u64> = rejected
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(line_numbers, vec![2, 3, 4, 5, 6]);
    assert_eq!(rejected[2]["subject"], "P3");
    assert!(rejected[2]["reason"]
        .as_str()
        .unwrap()
        .contains("person.birth_date"));
    assert!(rejected[3]["reason"]
        .as_str()
        .unwrap()
        .contains("person.gender"));
    // The 10 MB record is read (its name is display-only) and evaluated.
    assert_eq!(summary.evaluated, 3);
    assert!(out.0.pushes.contains("\"BIG\""));
}

#[test]
fn an_empty_input_gives_an_empty_complete_run() {
    let (summary, out) = run(&root().join("rules"), vec![], "2025-07-01", 2, 10);
    assert_eq!(summary.read, 0);
    assert!(out.0.grants.is_empty());
    assert!(summary
        .policies
        .iter()
        .all(|(_, s)| s.eligible + s.not_eligible + s.undetermined == 0));
}

/// An empty directory under the test target directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mianshen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_run_writes_all_outputs_and_accounts_for_every_line() {
    let dir = fresh_dir("batch-cli");
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        "{\"person\":{\"id\":\"P1\",\"birth_date\":\"1940-01-01\",\"hukou_region\":\"上海\"}}\n\n{broken\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = mianshen(&[
        "run",
        "rules",
        "--input",
        input.to_str().unwrap(),
        "--date",
        "2025-07-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "grants.jsonl",
        "pushes.jsonl",
        "rejected.jsonl",
        "summary.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // No partial files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["run"]["records_read"], 2);
    assert_eq!(summary["run"]["evaluated"], 1);
    assert_eq!(summary["run"]["rejected"], 1);
    assert_eq!(summary["run"]["accounted"], true);
    // The 80+-year-old Shanghai resident is granted the senior allowance without applying.
    let grants = std::fs::read_to_string(out.join("grants.jsonl")).unwrap();
    assert!(
        grants.contains("sh-senior-comprehensive-allowance"),
        "{grants}"
    );
    let rejected = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
    assert!(rejected.contains("\"line\":3"), "{rejected}");
}

#[test]
fn cli_run_reads_csv_with_dotted_headers_and_writes_bundle_forms() {
    let dir = fresh_dir("batch-csv");
    let input = dir.join("in.csv");
    std::fs::write(
        &input,
        "person.id,person.name,person.gender,person.birth_date,person.hukou_region,employment.status,employment.separation_reason,social_insurance.unemployment.months_total,social_insurance.unemployment.insured_region\n\
         P1,张三,male,1990-01-01,上海,unemployed,contract_expired,40,上海\n\
         P2,李四,female,notadate,上海,employed,,,\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = mianshen(&[
        "run",
        "rules",
        "--input",
        input.to_str().unwrap(),
        "--subject",
        "person",
        "--date",
        "2025-09-01",
        "--out",
        out.to_str().unwrap(),
        "--bundle",
        "bundle-unemployment",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let forms = std::fs::read_to_string(out.join("forms.jsonl")).unwrap();
    assert_eq!(forms.lines().count(), 1, "{forms}");
    assert!(forms.contains("\"P1\"") && forms.contains("张三"));
    let rejected = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
    assert!(rejected.contains("person.birth_date"), "{rejected}");
}

#[test]
fn cli_run_reports_a_missing_input_file_before_starting() {
    let o = mianshen(&[
        "run",
        "rules",
        "--input",
        "does/not/exist.jsonl",
        "--date",
        "2025-07-01",
        "--out",
        env!("CARGO_TARGET_TMPDIR"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does/not/exist.jsonl"));
}

#[test]
fn cli_run_reads_standard_input_and_matches_the_oracle() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = fresh_dir("batch-stdin");
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .args([
            "run",
            "benches/city-10",
            "--input",
            "-",
            "--date",
            "2026-07-01",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--threads",
            "2",
        ])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
    // Written in small pieces, as a pipe delivers them.
    {
        let mut stdin = child.stdin.take().unwrap();
        for piece in text.chunks(4093) {
            stdin.write_all(piece).unwrap();
        }
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let oracle: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/city10-3000.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["policies"], oracle);
    assert_eq!(summary["run"]["records_read"], 3000);
    assert_eq!(summary["run"]["accounted"], true);
}
