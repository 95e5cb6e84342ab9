//! Property tests of the shipped rule set (issue 5): the built-in properties with a
//! fixed seed and 1,000 cases per property, planted bugs that the properties or the
//! clause coverage catch with a small counterexample, and the few-line API a host's
//! CI uses.

use chrono::NaiveDate;
// The API wherever it suffices; coverage reports and single cases read from text are
// the command line's, behind the internals door.
use mianshen::internals::testing::coverage::case_coverage;
use mianshen::internals::testing::properties::generated_coverage;
use mianshen::internals::testing::{case_files, run_case, CaseFile};
use mianshen::{
    Constraints, EvalOptions, Outcome, Property, PropertyOptions, PropertyReport, RuleSet,
};
use std::path::{Path, PathBuf};

const SEED: u64 = 2025;
const CASES: u32 = 1000;

fn shipped() -> RuleSet {
    RuleSet::load_dir("rules").expect("shipped rules load")
}

#[test]
fn shipped_rules_hold_the_builtin_properties() {
    let report = shipped().check_properties(&PropertyOptions::new(CASES, SEED));
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
    // Every property ran for both subject kinds.
    assert_eq!(report.results.len(), Property::ALL.len() * 2);
    assert!(report.results.iter().all(|r| r.cases >= 1000));
}

#[test]
fn property_runs_are_reproducible() {
    let rules = shipped();
    let opts = PropertyOptions {
        properties: vec![Property::Excludes, Property::Amounts],
        ..PropertyOptions::new(200, 7)
    };
    let a = rules.check_properties(&opts);
    let b = rules.check_properties(&opts);
    let strip = |r: &PropertyReport| {
        r.results
            .iter()
            .map(|x| (x.property, x.subject.clone(), x.failure.is_some()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    // The generated records are the same too: same coverage of the clauses.
    assert_eq!(
        generated_coverage(&rules, 200, 7),
        generated_coverage(&rules, 200, 7)
    );
}

/// The generators reach every policy's outcomes, so the properties test something.
#[test]
fn generated_records_reach_every_outcome_of_every_policy() {
    let report = generated_coverage(&shipped(), CASES, SEED);
    println!("{}", report.render());
    for p in &report.policies {
        assert!(
            p.eligible > 0 && p.not_eligible > 0 && p.undetermined > 0,
            "{}: generated records reach eligible {}, not_eligible {}, undetermined {}",
            p.policy,
            p.eligible,
            p.not_eligible,
            p.undetermined
        );
    }
    assert!(report.totals().seen_both * 100 >= report.totals().clauses * 95);
}

#[test]
fn shipped_cases_reach_full_true_false_coverage() {
    let rules = shipped();
    let report = case_coverage(&rules, &case_files(Path::new("rules"))).expect("cases read");
    println!("{}", report.render());
    assert!(
        report.full_true_false(),
        "clauses never seen false: {:?}\nnever seen true: {:?}",
        report.never_false(),
        report.never_true()
    );
}

// -------------------------------------------------------------- planted bugs

/// A copy of the shipped rules with one edit, in a directory of its own.
struct Planted {
    dir: PathBuf,
}

impl Planted {
    fn new(name: &str, file: &str, from: &str, to: &str) -> Planted {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).expect("temp dir");
            for e in std::fs::read_dir(from).expect("rules dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    copy(&p, &to.join(e.file_name()));
                } else {
                    std::fs::copy(&p, to.join(e.file_name())).expect("copy");
                }
            }
        }
        let dir =
            std::env::temp_dir().join(format!("mianshen-planted-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy(Path::new("rules"), &dir);
        let f = dir.join(file);
        let text = std::fs::read_to_string(&f).expect("rule file");
        assert!(text.contains(from), "{file} no longer contains `{from}`");
        std::fs::write(&f, text.replacen(from, to, 1)).expect("write");
        Planted { dir }
    }

    fn rules(&self) -> RuleSet {
        RuleSet::load_dir(&self.dir).expect("planted rules load")
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs one property on planted rules; returns its counterexample's case YAML after
/// checking it is small and pastes into a case file.
fn caught(rules: &RuleSet, property: Property) -> String {
    let opts = PropertyOptions {
        properties: vec![property],
        ..PropertyOptions::new(CASES, SEED)
    };
    let report = rules.check_properties(&opts);
    println!("{}", report.render());
    let failure = report
        .results
        .iter()
        .find_map(|r| r.failure.clone())
        .unwrap_or_else(|| panic!("{} did not catch the planted bug", property.name()));
    // Small: a handful of fields.
    let leaves = count_leaves(&failure.record);
    assert!(
        leaves <= 25,
        "counterexample has {leaves} fields:\n{}",
        failure.case_yaml
    );
    // Ready to paste: with `cases:` above it, it is a case file that runs.
    let file: CaseFile = serde_yaml::from_str(&format!("cases:\n{}", failure.case_yaml))
        .expect("the counterexample is a case file");
    for case in &file.cases {
        let r = run_case(rules, Path::new("planted.yaml"), case);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
    }
    assert!(failure.trace.contains("clauses"), "{}", failure.trace);
    failure.case_yaml
}

fn count_leaves(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Object(m) => m.values().map(count_leaves).sum(),
        serde_json::Value::Array(a) => a.iter().map(count_leaves).sum::<usize>().max(1),
        _ => 1,
    }
}

/// Policy 4 C6 flipped to `ref >= retirement`: an unemployment benefit for people past
/// retirement, so the benefit and the pension (declared exclusive) are both granted.
#[test]
fn planted_flipped_threshold_is_caught_by_excludes() {
    let p = Planted::new(
        "flip",
        "unemployment-insurance/ui-unemployment-benefit.rules",
        "ref < retirement",
        "ref >= retirement",
    );
    let yaml = caught(&p.rules(), Property::Excludes);
    assert!(yaml.contains("ui-unemployment-benefit"));
    assert!(yaml.contains("employee-pension-retirement"));
    // On the real rules the same case shows the benefit is not granted.
    let file: CaseFile = serde_yaml::from_str(&format!("cases:\n{yaml}")).expect("case file");
    let r = run_case(&shipped(), Path::new("planted.yaml"), &file.cases[0]);
    assert!(!r.failures.is_empty());
}

/// Policy 4 C6 (未达到法定退休年龄) dropped: the exclusion with the pension is lost.
#[test]
fn planted_dropped_exclusion_clause_is_caught_by_excludes() {
    let p = Planted::new(
        "drop",
        "unemployment-insurance/ui-unemployment-benefit.rules",
        "C6 \"未达到法定退休年龄\":\n      ref < retirement",
        "C6 \"未达到法定退休年龄\":\n      true",
    );
    caught(&p.rules(), Property::Excludes);
}

/// 低保 amount written the wrong way round: negative amounts.
#[test]
fn planted_reversed_amount_is_caught_by_amounts() {
    let p = Planted::new(
        "amount",
        "social-assistance/bj-minimum-living-allowance.rules",
        "round((BJ_DIBAO - per_capita_income) * household_size, 2)",
        "round((per_capita_income - BJ_DIBAO) * household_size, 2)",
    );
    let yaml = caught(&p.rules(), Property::Amounts);
    assert!(yaml.contains("bj-minimum-living-allowance"));
}

/// Policy 15 C3's threshold edited to 0 months: the clause can no longer fail, and
/// clause coverage says so (the example cases that expected C3 to fail fail too).
#[test]
fn planted_always_true_clause_is_caught_by_coverage() {
    let p = Planted::new(
        "cover",
        "pensions/employee-pension-retirement.rules",
        ">= min_contribution_months(year(retirement))",
        ">= 0",
    );
    let rules = p.rules();
    let report = case_coverage(&rules, &case_files(Path::new("rules"))).expect("cases read");
    let never_false = report.never_false();
    println!("{never_false:?}");
    assert!(never_false
        .iter()
        .any(|(policy, clause, _)| policy == "employee-pension-retirement" && clause == "C3"));
    assert!(!report.full_true_false());
}

// ------------------------------------------------------------------ host CI

/// What a host project writes in its own CI: load the rules, get a generator for the
/// region it cares about, evaluate, assert.
#[test]
fn host_ci_example() {
    use proptest::prelude::*;

    let rules = RuleSet::load_dir("rules").unwrap();
    let on = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    // Persons aged 55–70 with 100–300 months of contributions.
    let people = rules
        .record_strategy(
            "person",
            &Constraints::new()
                .aged("person.birth_date", 55, 70, on)
                .int_range(
                    "social_insurance.employee_pension.contribution_months",
                    100,
                    300,
                ),
        )
        .unwrap();
    proptest!(ProptestConfig::with_cases(500), |(json in people)| {
        let record = rules.read_value(&json, Some("person")).unwrap();
        let d = rules
            .decide_policy_with("employee-pension-retirement", &record, on, EvalOptions::default())
            .unwrap();
        let months = json["social_insurance"]["employee_pension"]["contribution_months"]
            .as_i64()
            .unwrap();
        // Fewer than 15 years of contributions never gives a pension.
        if months < 180 {
            prop_assert_ne!(d.outcome, Outcome::Eligible);
        }
    });
}

// --------------------------------------------------------------- command line

#[test]
fn cli_test_with_coverage_and_properties() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mianshen"))
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .args([
            "test",
            "rules",
            "--coverage",
            "--properties",
            "--cases",
            "50",
            "--seed",
            "3",
        ])
        .output()
        .expect("mianshen runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("clauses never seen false: 0"), "{text}");
    assert!(text.contains("properties: 50 cases per property and subject kind, seed 3"));
    for p in Property::ALL {
        assert!(text.contains(p.name()), "{}", p.name());
    }
}

#[test]
fn cli_properties_fail_with_a_counterexample() {
    let p = Planted::new(
        "cli",
        "unemployment-insurance/ui-unemployment-benefit.rules",
        "ref < retirement",
        "ref >= retirement",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mianshen"))
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .arg("test")
        .arg(&p.dir)
        .args(["--properties", "--cases", "300"])
        .output()
        .expect("mianshen runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("excludes (person) does not hold"), "{text}");
    assert!(text.contains("- id: PROP-excludes"), "{text}");
    assert!(text.contains("decision trace:"), "{text}");
}
