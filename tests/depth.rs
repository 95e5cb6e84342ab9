//! Depth never crashes: whatever `check` accepts evaluates in `eval`, `test` and `run`
//! with the same decisions; whatever is deeper than `MAX_EVAL_DEPTH` is refused by all
//! of them with a located `too-deep` diagnostic, and no shape of rule text (long chains
//! of definitions, deep brackets) crashes any command.
//!
//! Runs the built binary on scratch rule sets under the target dir.

#[path = "support/command.rs"]
mod command;
use command::{run_within, Run};
use mianshen::internals::check::MAX_EVAL_DEPTH;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

const SCHEMA: &str = "enums:\n  gender: [male, female]\nsubjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          x: {type: int}\n          y: {type: int}\n          l: {type: \"list<int>\", optional: true}\n";
const HEAD: &str = "  subject person\n  mode no_application\n  effective from 2025-01-01\n";
const DATE: &str = "2025-06-30";
/// One record that decides, one with a missing field (undetermined: the batch explains
/// it with the reference evaluator).
const RECORDS: [&str; 2] = [
    r#"{"person":{"id":"a","x":1,"y":2,"l":[1,2]}}"#,
    r#"{"person":{"id":"b","x":1,"l":[3]}}"#,
];

fn policy(id: &str, body: &str) -> String {
    format!("policy {id} \"t\" {{\n{HEAD}{body}  C2 \"b\": person.y > 0\n}}\n")
}

/// Rule text `steps` deep in one of the worst shapes, and the policy to look at.
fn shape(kind: &str, n: usize) -> (String, String) {
    let p = "p".to_string();
    let text = match kind {
        // d1 = person.x + 1 is 3 levels, each further step 2, the clause 2 more: 2n + 3.
        "definitions" => {
            let mut b = String::from("  let d1 = person.x + 1\n");
            for i in 2..=n {
                b.push_str(&format!("  let d{i} = d{} + 1\n", i - 1));
            }
            policy("p", &format!("{b}  C1 \"a\": d{n} > 0\n"))
        }
        "functions" => {
            let mut t = String::from("function f1(x: int): int = x + 1\n");
            for i in 2..=n {
                t.push_str(&format!("function f{i}(x: int): int = f{}(x) + 1\n", i - 1));
            }
            t + &policy("p", &format!("  C1 \"a\": f{n}(person.x) > 0\n"))
        }
        "quantifiers" => {
            let mut b = String::from("  let d0 = person.x > 0\n");
            for i in 1..=n {
                let qs: String = (0..10).map(|j| format!("any v{j} in person.l: ")).collect();
                b.push_str(&format!("  let d{i} = {qs}d{}\n", i - 1));
            }
            policy("p", &format!("{b}  C1 \"a\": d{n}\n"))
        }
        // p1 refers to p2, ..., so deciding p1 first decides the whole chain.
        "eligible" => {
            let mut t = String::new();
            for i in 1..n {
                t.push_str(&policy(
                    &format!("p{i}"),
                    &format!("  C1 \"a\": eligible(p{})\n", i + 1),
                ));
            }
            t + &policy(&format!("p{n}"), "  C1 \"a\": person.x > 0\n")
        }
        _ => unreachable!(),
    };
    let p = if kind == "eligible" {
        "p1".to_string()
    } else {
        p
    };
    (text, p)
}

/// The largest `n` of each shape that is within the limit (found by the checker's
/// own count, so the test follows the limit).
const AT_LIMIT: [(&str, usize); 4] = [
    ("definitions", (MAX_EVAL_DEPTH - 3) / 2),
    ("functions", (MAX_EVAL_DEPTH - 2) / 2),
    ("quantifiers", (MAX_EVAL_DEPTH - 3) / 11),
    ("eligible", MAX_EVAL_DEPTH - 2),
];

fn scratch(tag: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("depth-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("p.rules"), text).unwrap();
    std::fs::write(dir.join("pop.jsonl"), RECORDS.join("\n") + "\n").unwrap();
    for (i, r) in RECORDS.iter().enumerate() {
        std::fs::write(dir.join(format!("r{i}.json")), r).unwrap();
    }
    dir
}

fn run(args: &[&str]) -> Run {
    run_within(args, std::time::Duration::from_secs(300))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn at_the_limit_every_command_evaluates_with_the_same_decisions() {
    for (kind, n) in AT_LIMIT {
        let (text, p) = shape(kind, n);
        let dir = scratch(&format!("at-{kind}"), &text);
        let c = run(&["check", s(&dir)]);
        assert_eq!(c.code, 0, "{kind} {n} is within the limit: {}", c.stderr);
        // One more step is over it.
        let (over, _) = shape(kind, n + 1);
        let over_dir = scratch(&format!("over-{kind}"), &over);
        let c = run(&["check", s(&over_dir)]);
        assert_eq!(c.code, 1, "{kind} {} is over the limit", n + 1);
        assert!(c.stderr.contains("error[too-deep]"), "{}", c.stderr);

        let mut outcomes = vec![];
        for i in 0..RECORDS.len() {
            let r = dir.join(format!("r{i}.json"));
            let e = run(&[
                "eval",
                s(&dir),
                s(&r),
                "--date",
                DATE,
                "--policy",
                &p,
                "--json",
            ]);
            assert_eq!(e.code, 0, "{kind}: {}", e.stderr);
            let items: Json = serde_json::from_str(&e.stdout).unwrap();
            assert!(items[0]["error"].is_null(), "{kind}: {}", e.stdout);
            outcomes.push(items[0]["outcome"].as_str().unwrap().to_string());
        }
        assert_eq!(outcomes, ["eligible", "undetermined"], "{kind}");

        let cases = format!(
            "cases:\n  - id: D1\n    title: at the limit\n    reference_date: {DATE}\n    subject: person\n    record: {}\n    expected:\n      {p}:\n        outcome: eligible\n",
            RECORDS[0]
        );
        std::fs::write(dir.join("cases.yaml"), cases).unwrap();
        let t = run(&["test", s(&dir), s(&dir.join("cases.yaml"))]);
        assert_eq!(t.code, 0, "{kind}: {}{}", t.stdout, t.stderr);

        let out = dir.join("out");
        let r = run(&[
            "run",
            s(&dir),
            "--input",
            s(&dir.join("pop.jsonl")),
            "--date",
            DATE,
            "--out",
            s(&out),
            "--quiet",
        ]);
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
        let summary: Json =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let counts = &summary["policies"][&p];
        assert_eq!(
            (counts["eligible"].as_u64(), counts["undetermined"].as_u64()),
            (Some(1), Some(1)),
            "{kind}: the batch decides as eval does: {summary}"
        );
    }
}

/// Over the limit, every command that loads rules refuses them the same way, and `run`
/// writes nothing.
#[test]
fn over_the_limit_every_command_refuses_with_a_located_diagnostic() {
    let (text, p) = shape("definitions", 700);
    let dir = scratch("over-700", &text);
    let out = dir.join("out");
    let r0 = dir.join("r0.json");
    let cases = dir.join("cases.yaml");
    std::fs::write(&cases, "cases: []\n").unwrap();
    for args in [
        vec!["check", s(&dir)],
        vec!["eval", s(&dir), s(&r0), "--date", DATE, "--policy", &p],
        vec!["test", s(&dir), s(&cases)],
        vec![
            "run",
            s(&dir),
            "--input",
            s(&dir.join("pop.jsonl")),
            "--date",
            DATE,
            "--out",
            s(&out),
            "--quiet",
        ],
    ] {
        let r = run(&args);
        assert_ne!(r.code, 0, "{args:?}");
        assert!(
            r.stderr.contains("error[too-deep]") && r.stderr.contains("p.rules:705:11"),
            "{args:?}: {}{}",
            r.stdout,
            r.stderr
        );
    }
    assert!(!out.exists(), "run writes no partial output");
}

/// Shapes far beyond the limit: refused cleanly, never a crash.
#[test]
fn huge_shapes_are_refused_cleanly() {
    let chain = shape("definitions", 5000).0;
    let mut wide = String::new();
    for j in 0..30 {
        let prev = if j == 0 {
            "person.x".to_string()
        } else {
            format!("e{}", j - 1)
        };
        wide.push_str(&format!("  let e{j} = {prev}{}\n", " + 1".repeat(50)));
    }
    let wide = policy("p", &format!("{wide}  C1 \"a\": e29 > 0\n"));
    let n = 100_000;
    let brackets = policy(
        "p",
        &format!("  C1 \"a\": {}true{}\n", "(".repeat(n), ")".repeat(n)),
    );
    let functions = shape("functions", 5000).0;
    let eligible = shape("eligible", 3000).0;
    for (tag, text) in [
        ("chain-5000", chain),
        ("wide-30x50", wide),
        ("brackets", brackets),
        ("functions-5000", functions),
        ("eligible-3000", eligible),
    ] {
        let dir = scratch(tag, &text);
        let r0 = dir.join("r0.json");
        for args in [
            vec!["check", s(&dir)],
            vec!["eval", s(&dir), s(&r0), "--date", DATE],
        ] {
            let r = run(&args);
            assert_ne!(r.code, 0, "{tag} {args:?}");
            assert!(
                r.stderr.contains("error[too-deep]") || r.stderr.contains("error[syntax]"),
                "{tag}: {}",
                r.stderr
            );
            assert!(
                r.stderr.contains("p.rules:"),
                "{tag}: located: {}",
                r.stderr
            );
        }
    }
}

/// A host calls the library on its own threads, whose stacks may be small: loading,
/// lowering for the batch and evaluating every shape at the limit must not overflow a
/// 512 KiB stack, a quarter of a Rust thread's default (the checker, the lowering and
/// the reference evaluator continue on the heap when they run low; without that the
/// chain of `eligible` references alone needs about 5 MiB).
#[test]
fn a_host_thread_with_a_small_stack_takes_every_shape_at_the_limit() {
    let on = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    for (kind, n) in AT_LIMIT {
        let (text, policy) = shape(kind, n);
        let worker = std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn(move || {
                let rules = mianshen::RuleSet::from_sources(SCHEMA, &[("p.rules", &text)])
                    .map_err(|e| e.to_string())?;
                let _fast = mianshen::internals::fast::FastRules::new(&rules, on);
                let mut outcomes = vec![];
                for r in RECORDS {
                    let record = rules.read_json(r).map_err(|e| e.to_string())?;
                    let d = rules
                        .decide_policy(&policy, &record, on)
                        .map_err(|e| e.to_string())?;
                    outcomes.push(d.outcome);
                }
                Ok::<_, String>(outcomes)
            })
            .expect("a thread");
        let outcomes = worker.join().expect("no overflow, no panic");
        assert_eq!(
            outcomes,
            Ok(vec![
                mianshen::Outcome::Eligible,
                mianshen::Outcome::Undetermined
            ]),
            "{kind} at {n}"
        );
    }
}
