//! The no-application batch: oracle equality on city-10, the same output whatever the
//! number of threads, every input line accounted for, and bad input answered.

use mianshen::{BatchError, ChunkOutput, InputRecord, RuleSet, RunConfig, Sink, Source, Summary};
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
) -> (Summary, Collect) {
    let rules = RuleSet::load_dir(rules).unwrap();
    let mut sink = Collect::default();
    let config = RunConfig {
        chunk_size: chunk,
        threads: Some(threads),
        ..RunConfig::new(date(day))
    };
    let summary = rules.run(input, &config, &mut sink).unwrap();
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
) -> (Summary, Collect) {
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
    let rules = RuleSet::load_dir(rules).unwrap();
    let mut sink = Collect::default();
    let config = RunConfig {
        threads: Some(threads),
        ..RunConfig::new(date(day))
    };
    let summary = rules
        .run_json_lines(Dribble(text, block), &config, &mut sink)
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
        .ends_with("{\"line\":9,\"subject\":null,\"code\":\"syntax\",\"reason\":\"the line is not valid UTF-8\"}\n"));
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
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
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
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
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

// A panic is never a hang: a panic while deciding a record (a bug of the engine) stops
// the run at once with an error naming the line and the policy, through the library
// and the command line, and leaves no output that looks complete. The panic is made
// by `RunConfig::panic_at_line` (`MIANSHEN_FAULT_INJECT=panic-at-line:N` for the
// command), which empties the record's row under the compiled tier.

const WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `f` on a thread of its own and fails the test when it takes longer than
/// [`WITHIN`], instead of hanging.
fn within_limit<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(WITHIN) {
        Ok(v) => v,
        Err(e) => panic!("{what}: no answer within {WITHIN:?} ({e})"),
    }
}

fn city10_policy_ids() -> Vec<String> {
    let oracle: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/city10-3000.summary.json")).unwrap(),
    )
    .unwrap();
    oracle.as_object().unwrap().keys().cloned().collect()
}

fn faulty_config(threads: usize, chunk: usize, line: u64) -> RunConfig {
    RunConfig {
        chunk_size: chunk,
        threads: Some(threads),
        panic_at_line: Some(line),
        ..RunConfig::new(date("2026-07-01"))
    }
}

fn expect_internal(result: Result<Summary, BatchError>, line: u64) -> Option<String> {
    match result {
        Err(BatchError::Internal {
            line: l,
            policy,
            message,
        }) => {
            assert_eq!(l, Some(line), "{message}");
            assert!(!message.is_empty());
            policy
        }
        other => panic!("expected an internal error on line {line}, got {other:?}"),
    }
}

#[test]
fn a_panic_in_a_worker_is_an_internal_error_of_run_json_lines() {
    let ids = city10_policy_ids();
    for threads in [1, 2] {
        for line in [1, 1234, 3000] {
            let result = within_limit("run_json_lines", move || {
                let rules = RuleSet::load_dir(root().join("benches/city-10")).unwrap();
                let text = std::fs::read(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
                let mut sink = Collect::default();
                rules.run_json_lines(&text[..], &faulty_config(threads, 4096, line), &mut sink)
            });
            let policy = expect_internal(result, line);
            // The compiled tier panicked deciding one of the record's policies: named.
            let policy = policy.expect("the policy at fault is named");
            assert!(ids.contains(&policy), "{policy}");
        }
    }
}

#[test]
fn a_panic_in_a_worker_is_an_internal_error_of_run_with_units_in_flight() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
    for threads in [1, 2] {
        let records = lines(&text);
        // Chunks of 50 records: the panic is in the 43rd unit, with others in flight.
        let result = within_limit("run", move || {
            let rules = RuleSet::load_dir(root().join("benches/city-10")).unwrap();
            let mut sink = Collect::default();
            let summary = rules.run(records, &faulty_config(threads, 50, 2120), &mut sink);
            // Only units before the failed one were handed to the sink, in order.
            assert!(sink.0.records < 2120, "{}", sink.0.records);
            summary
        });
        assert!(expect_internal(result, 2120).is_some());
    }
}

#[test]
fn a_panic_deciding_a_record_read_the_reference_way_is_an_internal_error_too() {
    // A record given as a value (as from CSV) is decided by the reference evaluator:
    // the injected panic names the line, not a policy.
    let value: serde_json::Value = serde_json::from_str(
        r#"{"person":{"id":"P1","gender":"male","birth_date":"1950-01-01","hukou_region":"上海"}}"#,
    )
    .unwrap();
    for threads in [1, 2] {
        let records: Vec<InputRecord> = (1..=300)
            .map(|line| InputRecord {
                line,
                source: Source::Value(value.clone()),
            })
            .collect();
        let result = within_limit("run", move || {
            let rules = RuleSet::load_dir(root().join("rules")).unwrap();
            let mut config = faulty_config(threads, 64, 200);
            config.ref_date = date("2025-07-01");
            rules.run(records, &config, &mut Collect::default())
        });
        assert_eq!(expect_internal(result, 200), None);
    }
}

#[test]
fn without_a_panic_the_fault_injection_changes_nothing() {
    // A line past the end of the input: the run is the same as without it.
    let text = std::fs::read_to_string(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
    let (s1, o1) = run(
        &root().join("benches/city-10"),
        lines(&text),
        "2026-07-01",
        2,
        500,
    );
    let rules = RuleSet::load_dir(root().join("benches/city-10")).unwrap();
    let mut sink = Collect::default();
    let s2 = rules
        .run(lines(&text), &faulty_config(2, 500, 3001), &mut sink)
        .unwrap();
    assert_eq!(s1, s2);
    assert_eq!(o1.0.grants, sink.0.grants);
    assert_eq!(o1.0.pushes, sink.0.pushes);
}

#[test]
fn the_single_record_entry_points_answer_an_internal_error_instead_of_panicking() {
    use mianshen::internals::eval;
    use mianshen::{EvalOptions, Outcome};
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let value: serde_json::Value = serde_json::from_str(
        r#"{"person":{"id":"P1","gender":"male","birth_date":"1940-01-01","hukou_region":"上海"}}"#,
    )
    .unwrap();
    let subject =
        mianshen::internals::record::detect_subject(rules.schema(), &value, None).unwrap();
    let record = mianshen::internals::record::read_record(rules.schema(), subject, &value).unwrap();
    let day = date("2025-07-01");
    let opts = EvalOptions::default();
    let is_internal = |d: &eval::Decision| {
        d.outcome == Outcome::Undetermined
            && d.error
                .as_ref()
                .is_some_and(|e| e.at == "internal" && e.message.starts_with("internal error: "))
    };
    // A policy index out of range: an internal error on that decision, not a panic.
    let d = eval::evaluate_policy(&rules, 9999, &record, day, opts);
    assert!(is_internal(&d), "{d:?}");
    let all = eval::evaluate_all(&rules, &record, day, opts);
    let of_subject: Vec<usize> = (0..rules.program().policies.len())
        .filter(|&i| rules.program().policies[i].subject == record.subject_index())
        .collect();
    let (first, second) = (of_subject[0], of_subject[1]);
    let some = eval::evaluate_policies(&rules, &record, day, opts, [first, 9999, second]);
    assert_eq!(some.len(), 3);
    assert!(is_internal(&some[1].1), "{:?}", some[1]);
    // The policies around it are decided as if it were not there.
    assert_eq!(some[0].1, all[0]);
    assert_eq!(some[2].1, all[1]);
    let form = eval::prefill(&rules, 9999, &record, day, opts);
    assert!(!form.any_available());
    assert!(
        form.errors.iter().any(|e| e.at == "internal"),
        "{:?}",
        form.errors
    );
}

/// Waits for `child` at most [`WITHIN`]; kills it and fails the test when it has not
/// exited by then.
fn exit_within_limit(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + WITHIN;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mianshen run did not exit within {WITHIN:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    (status, stderr)
}

/// The outputs of a failed run: none that looks complete, and no partial files.
fn assert_no_outputs(out: &Path) {
    let left: Vec<String> = std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", out.display());
}

fn faulty_command(input: &str, out: &Path, threads: usize, line: u64) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mianshen"));
    // Messages in the default language, whatever the machine's locale.
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    c.current_dir(root())
        .args([
            "run",
            "benches/city-10",
            "--input",
            input,
            "--date",
            "2026-07-01",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--threads",
            &threads.to_string(),
        ])
        .env("MIANSHEN_FAULT_INJECT", format!("panic-at-line:{line}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    c
}

fn assert_reported(status: std::process::ExitStatus, stderr: &str, line: u64) {
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "internal error deciding the record on line {line}, policy `"
        )),
        "{stderr}"
    );
    assert!(
        city10_policy_ids()
            .iter()
            .any(|p| stderr.contains(&format!("policy `{p}`"))),
        "{stderr}"
    );
    // No "thread panicked" noise: one error, said once.
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "{stderr}");
    assert!(!stderr.contains("thread '"), "{stderr}");
}

#[test]
fn cli_run_stops_on_a_panic_with_the_line_and_the_policy_and_no_outputs() {
    for threads in [1, 2] {
        let dir = fresh_dir(&format!("batch-panic-file-{threads}"));
        let out = dir.join("out");
        // A complete run first: its outputs must not survive a failed run.
        let o = mianshen(&[
            "run",
            "benches/city-10",
            "--input",
            "tests/fixtures/city10-3000.jsonl",
            "--date",
            "2026-07-01",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success());
        assert!(out.join("summary.json").exists());
        let child = faulty_command("tests/fixtures/city10-3000.jsonl", &out, threads, 2345)
            .spawn()
            .unwrap();
        let (status, stderr) = exit_within_limit(child);
        assert_reported(status, &stderr, 2345);
        assert_no_outputs(&out);
    }
}

#[test]
fn cli_run_on_standard_input_stops_on_a_panic_while_input_keeps_coming() {
    use std::io::Write;
    let text = std::fs::read(root().join("tests/fixtures/city10-3000.jsonl")).unwrap();
    for threads in [1, 2] {
        let dir = fresh_dir(&format!("batch-panic-stdin-{threads}"));
        let out = dir.join("out");
        let mut child = faulty_command("-", &out, threads, 1500)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Far more input than the run reads before it stops; the writes fail once the
        // run has exited (a closed pipe), which is expected.
        let mut stdin = child.stdin.take().unwrap();
        let text = text.clone();
        let feeder = std::thread::spawn(move || {
            for _ in 0..200 {
                for piece in text.chunks(4093) {
                    if stdin.write_all(piece).is_err() {
                        return;
                    }
                }
            }
        });
        let (status, stderr) = exit_within_limit(child);
        assert_reported(status, &stderr, 1500);
        assert_no_outputs(&out);
        feeder.join().unwrap();
    }
}

#[test]
fn cli_run_refuses_a_fault_injection_it_does_not_know() {
    let o = Command::new(env!("CARGO_BIN_EXE_mianshen"))
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .current_dir(root())
        .args([
            "run",
            "rules",
            "--input",
            "examples/population.jsonl",
            "--date",
            "2025-07-01",
            "--out",
            env!("CARGO_TARGET_TMPDIR"),
        ])
        .env("MIANSHEN_FAULT_INJECT", "explode")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("MIANSHEN_FAULT_INJECT"));
}

#[test]
fn blank_lines_are_not_records_but_are_counted() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let input = "{\"person\":{\"id\":\"A\"}}\n   \n\n\t\r\n{\"person\":{\"id\":\"B\"}}\n";
    let config = RunConfig::new(chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap());
    let mut sink = Collect::default();
    let summary = rules
        .run_json_lines(input.as_bytes(), &config, &mut sink)
        .unwrap();
    assert_eq!((summary.read, summary.rejected), (2, 0));
    assert_eq!(summary.blank_lines, 3);
    assert_eq!(summary.to_json(None)["run"]["blank_lines"], 3);
}

/// A CSV row is named by the line of the file it starts on, empty lines (which the CSV
/// reader skips) and quoted line breaks counted.
#[test]
fn cli_run_names_csv_rows_by_their_line_in_the_file() {
    let dir = fresh_dir("batch-csv-lines");
    let input = dir.join("in.csv");
    std::fs::write(
        &input,
        "person.id,person.birth_date\n\nA,nope\r\n\r\nB,1950-01-01\nC,\"x\ny\"\nD,bad\n\n\nE,worse\n",
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
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rejected = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
    let lines: Vec<(u64, String)> = rejected
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [(3, "A"), (6, "C"), (8, "D"), (11, "E")]
        .iter()
        .map(|(n, s)| (*n, s.to_string()))
        .collect();
    assert_eq!(lines, expected, "{rejected}");
}
