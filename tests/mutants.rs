//! Mutation testing of a rule set (`mianshen test RULES --mutants`, `--suggest`): on a
//! small inline rule set, a boundary with a case on it kills its mutants and one
//! without survives; mutants the checker refuses are set aside; parameter dates no rule
//! reads are equivalent; a seed gives the same run; and a suggested case, added to the
//! cases, kills the mutant it was made for.

use mianshen::internals::testing::mutants::{self, Category, RunOptions, Sources, Status, Suite};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEMA: &str = "\
enums:
  region: [north, south, east]
subjects:
  person:
    id: person.id
    fields:
      person:
        fields:
          id: {type: string}
          age: {type: int}
          region: {type: region}
          income: {type: decimal}
";

const RULES: &str = r#"# A small allowance.
parameter BASE "monthly amount": decimal {
  from 2024-01-01 to 2025-06-30 = 100.00 "rule 7"
  from 2025-07-01 = 120.00 "rule 8"
}

policy allowance "Allowance" {
  subject   person
  mode      apply
  basis     "Rule 7 of 2025"
  effective from 2025-01-01

  C1 "aged 65 or over":
      person.age >= 65
  C2 "living in the north or the south":
      person.region in {north, south}
  C3 "income below 1000":
      person.income < 1000.00

  amount per_month CNY: BASE
}
"#;

fn case(id: &str, date: &str, age: i64, region: &str, income: &str, expected: &str) -> String {
    format!(
        "  - id: {id}\n    reference_date: {date}\n    subject: person\n    record:\n      \
         person: {{id: P1, age: {age}, region: {region}, income: {income}}}\n    expected:\n      \
         allowance:\n{expected}\n"
    )
}

/// The baseline: eligible at 70, in the north, income 500, both amounts.
fn baseline() -> Vec<String> {
    vec![
        case(
            "A1",
            "2025-06-01",
            70,
            "north",
            "500",
            "        outcome: eligible\n        amount: {value: \"100.00\", unit: CNY, period: per_month}",
        ),
        case(
            "A2",
            "2025-07-01",
            70,
            "south",
            "500",
            "        outcome: eligible\n        amount: {value: \"120.00\", unit: CNY, period: per_month}",
        ),
    ]
}

/// A rules directory with the rule set and these cases, under the target directory.
fn rules_dir(name: &str, cases: &[String]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("mutants-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("cases")).unwrap();
    std::fs::write(dir.join("schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("allowance.rules"), RULES).unwrap();
    std::fs::write(
        dir.join("cases/allowance.yaml"),
        format!("cases:\n{}", cases.join("\n")),
    )
    .unwrap();
    dir
}

fn load(dir: &Path) -> (Sources, Suite) {
    let sources = Sources::read_dir(dir).unwrap();
    let suite = Suite::load(&[dir.join("cases/allowance.yaml")]).unwrap();
    (sources, suite)
}

fn cases_only() -> RunOptions {
    RunOptions {
        property_cases: 0,
        ..RunOptions::default()
    }
}

fn status_of<'a>(report: &'a mutants::MutationReport, original: &str, mutated: &str) -> &'a Status {
    &report
        .results
        .iter()
        .find(|r| {
            r.mutant.original == original
                && r.mutant.mutated == mutated
                && r.mutant.category != Category::Label
        })
        .unwrap_or_else(|| panic!("no mutant {original} -> {mutated}"))
        .status
}

#[test]
fn a_boundary_with_a_case_on_it_kills_its_mutant_and_without_one_it_survives() {
    let dir = rules_dir("boundary-without", &baseline());
    let (sources, suite) = load(&dir);
    let report = mutants::run(&sources, &suite, &cases_only()).unwrap();
    // At 70, `>=` and `>` decide alike: the flipped comparison survives ...
    assert!(
        matches!(
            status_of(&report, ">=", ">"),
            Status::Survived { equivalent: None }
        ),
        "{}",
        report.render(None)
    );
    // ... and so does 65 → 66; a region dropped from the set is caught by A1 or A2.
    assert!(matches!(
        status_of(&report, "65", "66"),
        Status::Survived { .. }
    ));
    assert!(matches!(
        status_of(&report, "north, ", ""),
        Status::Killed { .. }
    ));
    // The survivor is listed with its place and change.
    let text = report.render(Some(0.9));
    assert!(text.contains("allowance.rules:14:18"), "{text}");
    assert!(text.contains("`>=` → `>`"), "{text}");

    // A case on the boundary (exactly 65) kills both.
    let mut cases = baseline();
    cases.push(case(
        "A3",
        "2025-06-01",
        65,
        "north",
        "500",
        "        outcome: eligible",
    ));
    let dir = rules_dir("boundary-with", &cases);
    let (sources, suite) = load(&dir);
    let report = mutants::run(&sources, &suite, &cases_only()).unwrap();
    assert_eq!(
        status_of(&report, ">=", ">"),
        &Status::Killed {
            by: "case A3".into()
        }
    );
    assert!(matches!(
        status_of(&report, "65", "66"),
        Status::Killed { .. }
    ));
}

#[test]
fn mutants_the_checker_refuses_are_set_aside_and_unread_parameter_dates_are_equivalent() {
    let dir = rules_dir("invalid", &baseline());
    let (sources, suite) = load(&dir);
    let report = mutants::run(&sources, &suite, &cases_only()).unwrap();
    let counts = report.counts();
    // Moving step 1's end a day later makes the two steps overlap on 2025-07-01.
    let Status::Invalid { reason } = status_of(&report, "2025-06-30", "2025-07-01") else {
        panic!("not set aside:\n{}", report.render(None));
    };
    assert!(reason.contains("overlapping-steps"), "{reason}");
    assert!(counts.invalid >= 1);
    // BASE's first step starts in 2024, before the only policy reading it is in force:
    // moving that start changes nothing any record can show.
    for to in ["2023-12-31", "2024-01-02", "2023-01-01", "2025-01-01"] {
        let Status::Survived {
            equivalent: Some(why),
        } = status_of(&report, "2024-01-01", to)
        else {
            panic!(
                "2024-01-01 -> {to} not equivalent:\n{}",
                report.render(None)
            );
        };
        assert!(why.contains("BASE"), "{why}");
    }
    // Neither kind counts in the score.
    let denominator = counts.valid() - counts.equivalent;
    assert_eq!(
        counts.run,
        counts.invalid + counts.killed() + counts.survived
    );
    assert!(
        (report.score() - counts.killed() as f64 / denominator as f64).abs() < 1e-9,
        "{counts:?}"
    );
    // Every mutant is one change of the text at a span: applying it changes exactly
    // that text.
    for r in &report.results {
        let m = &r.mutant;
        let text = &sources.files[m.file].1;
        assert_eq!(&text[m.start..m.end], m.original);
        let mutated = &sources.mutated(m)[m.file].1;
        assert_eq!(
            mutated.len() as isize - text.len() as isize,
            m.mutated.len() as isize - m.original.len() as isize
        );
    }
    // Each category the rule set offers is made.
    for c in [
        Category::Parameter,
        Category::Date,
        Category::Threshold,
        Category::Comparison,
        Category::ClauseDropped,
        Category::SetMember,
        Category::Label,
    ] {
        assert!(
            report.results.iter().any(|r| r.mutant.category == c),
            "no {c:?} mutant"
        );
    }
}

#[test]
fn a_seed_gives_the_same_sample_and_the_same_verdicts() {
    let dir = rules_dir("seed", &baseline());
    let (sources, suite) = load(&dir);
    let run = |seed, max| {
        let opts = RunOptions {
            seed,
            max: Some(max),
            ..cases_only()
        };
        let r = mutants::run(&sources, &suite, &opts).unwrap();
        r.results
            .iter()
            .map(|x| (x.mutant.id.clone(), x.status.clone()))
            .collect::<Vec<_>>()
    };
    let a = run(7, 12);
    assert_eq!(a.len(), 12);
    assert_eq!(a, run(7, 12));
    assert_ne!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        run(8, 12).iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    // The ids are those of the full enumeration.
    let all = mutants::enumerate(&sources).unwrap();
    for (id, _) in &a {
        assert!(all.iter().any(|m| &m.id == id));
    }
}

#[test]
fn a_suggested_case_kills_the_mutant_once_added() {
    let dir = rules_dir("suggest", &baseline());
    let (sources, suite) = load(&dir);
    let opts = cases_only();
    let report = mutants::run(&sources, &suite, &opts).unwrap();
    let survivor = report
        .results
        .iter()
        .find(|r| r.mutant.original == ">=" && matches!(r.status, Status::Survived { .. }))
        .map(|r| r.mutant.clone())
        .expect("the flipped comparison survives the baseline");
    let rules = sources.check().rules.unwrap();
    let found = mutants::suggest::suggest(
        &sources,
        &rules,
        &suite,
        "allowance",
        std::slice::from_ref(&survivor),
        &opts,
    );
    let s = &found[0];
    assert!(!s.cases.is_empty(), "{}", s.summary);
    assert!(s.cases[0].kills);
    // On the boundary: aged exactly 65, and, across it, 64.
    let yaml: String = s.cases.iter().map(|c| c.yaml.clone()).collect();
    assert!(yaml.contains("age: 65"), "{yaml}");
    assert!(yaml.contains("age: 64"), "{yaml}");
    // Pasted under `cases:`, the suggestion kills the mutant.
    let mut cases = baseline();
    cases.push(s.cases[0].yaml.clone());
    let dir = rules_dir("suggest-added", &cases);
    let (sources, suite) = load(&dir);
    let report = mutants::run(&sources, &suite, &opts).unwrap();
    assert!(matches!(
        status_of(&report, ">=", ">"),
        Status::Killed { .. }
    ));
}

fn mianshen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_command_gates_on_the_score_and_reports_json() {
    let dir = rules_dir("cli", &baseline());
    let d = dir.to_str().unwrap();
    let out = mianshen(&["test", d, "--mutants", "--cases", "0", "--json"]);
    // Below the default 0.9: the boundary is not pinned.
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let m = report["mutants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["original"] == ">=")
        .unwrap();
    for key in [
        "id",
        "file",
        "line",
        "column",
        "category",
        "original",
        "mutated",
        "policy",
        "clause",
        "status",
        "killed_by",
    ] {
        assert!(m.get(key).is_some(), "{key} missing in {m}");
    }
    assert_eq!(m["status"], "survived");
    assert_eq!(m["category"], "comparison");
    assert_eq!(m["policy"], "allowance");
    assert_eq!(m["clause"], "C1");
    assert_eq!(m["line"], 14);
    // A threshold it meets passes; one that is not a share is a usage error.
    let out = mianshen(&["test", d, "--mutants", "--cases", "0", "--min-score", "0"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("surviving mutants, most dangerous first"),
        "{text}"
    );
    let out = mianshen(&["test", d, "--mutants", "--min-score", "90"]);
    assert_eq!(out.status.code(), Some(2));
    // --suggest prints cases and writes nothing.
    let before = std::fs::read_to_string(dir.join("cases/allowance.yaml")).unwrap();
    let out = mianshen(&["test", d, "--suggest", "allowance", "--cases", "0"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  - id: A1-M"), "{text}");
    assert_eq!(
        before,
        std::fs::read_to_string(dir.join("cases/allowance.yaml")).unwrap()
    );
    let out = mianshen(&["test", d, "--suggest", "allowanse"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_scales_thresholds_and_values_are_mutated_where_they_stand() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mutants-scale");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("schema.yaml"), SCHEMA).unwrap();
    std::fs::write(
        dir.join("tax.rules"),
        "scale TAX \"t\" {\n  from 2020-01-01: 0 → 0.03, 3000 -> 0.10\n}\n\
         policy tax \"Tax\" {\n  subject person\n  mode apply\n  effective from 2020-01-01\n  \
         C1 \"income\": person.income > 0\n  amount per_month CNY: marginal(TAX, person.income)\n}\n",
    )
    .unwrap();
    let sources = Sources::read_dir(&dir).unwrap();
    let changes: Vec<(String, String)> = mutants::enumerate(&sources)
        .unwrap()
        .into_iter()
        .filter(|m| m.category == Category::Parameter)
        .map(|m| (m.original, m.mutated))
        .collect();
    for (original, mutated) in [
        ("3000", "3001"),
        ("3000", "2999"),
        ("0.03", "0.04"),
        ("0.10", "0.09"),
    ] {
        assert!(
            changes.contains(&(original.to_string(), mutated.to_string())),
            "{original} -> {mutated} in {changes:?}"
        );
    }
}
