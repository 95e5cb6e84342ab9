//! The API as a host uses it, through the crate root only (no `internals`): loading,
//! listing, reading, deciding from several threads, a batch into the host's own sink,
//! the test runners, the generators, and every kind of error a host handles.

use chrono::NaiveDate;
use mianshen::{
    BatchError, BundleResult, ChunkOutput, Decision, ErrorKind, EvalOptions, InputRecord,
    LoadError, Mode, Outcome, PropertyOptions, Record, RecordErrorKind, RequestError, RuleSet,
    RunConfig, Severity, Sink, Summary,
};
use std::sync::Arc;

// The documented guarantee, checked at compile time: a rule set is shared across
// threads, and what it gives back can be sent to another.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<RuleSet>();
    shared::<Record>();
    shared::<Decision>();
    shared::<BundleResult>();
    shared::<Summary>();
};

fn on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()
}

fn shipped() -> RuleSet {
    RuleSet::load_dir("rules").expect("the shipped rules check")
}

const PEOPLE: [&str; 4] = [
    r#"{"person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海", "alive": true}}"#,
    r#"{"person": {"id": "P2", "birth_date": "1990-05-17", "hukou_region": "北京"}}"#,
    r#"{"person": {"id": "P3", "birth_date": "1958-11-30", "gender": "male"}}"#,
    r#"{"person": {"id": "P4"}}"#,
];

#[test]
fn policies_and_bundles_are_listed_with_what_a_host_shows() {
    let rules = shipped();
    assert!(
        !rules.version().is_empty() && rules.version().chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        rules.version()
    );
    assert_eq!(
        rules.version(),
        shipped().version(),
        "the same texts, the same version"
    );
    let subjects: Vec<&str> = rules.subjects().collect();
    assert_eq!(subjects, ["person", "enterprise"]);
    let ids: Vec<&str> = rules.policies().map(|p| p.id()).collect();
    assert!(ids.len() >= 14, "{ids:?}");
    for p in rules.policies() {
        assert!(!p.title().is_empty(), "{}", p.id());
        assert!(subjects.contains(&p.subject()), "{}", p.id());
        assert!(p.clauses().len() > 0, "{}", p.id());
        assert_eq!(rules.policy(p.id()).map(|q| q.id()), Some(p.id()));
        for other in p.excludes() {
            assert!(rules.policy(other).is_some(), "{} excludes {other}", p.id());
        }
    }
    let senior = rules.policy("sh-senior-comprehensive-allowance").unwrap();
    assert_eq!(senior.mode(), Mode::NoApplication);
    assert_eq!(senior.mode().as_str(), "no_application");
    assert_eq!(senior.authority(), Some("上海市民政局"));
    assert!(senior.basis().is_some_and(|b| b.contains("老年综合津贴")));
    assert!(senior.in_force(on()) && senior.effective_to().is_none());
    assert!(!senior.in_force(NaiveDate::from_ymd_opt(2015, 12, 31).unwrap()));
    assert!(senior.has_amount() && !senior.is_per_item());
    let clauses: Vec<_> = senior.clauses().collect();
    assert_eq!(clauses[1], ("C2", "年满65周岁"));
    assert!(senior
        .source()
        .ends_with("sh-senior-comprehensive-allowance.rules"));
    assert!(rules.policy("no-such-policy").is_none());

    let bundles: Vec<&str> = rules.bundles().map(|b| b.id()).collect();
    assert!(bundles.contains(&"bundle-unemployment"), "{bundles:?}");
    let b = rules.bundle("bundle-employee-hiring").unwrap();
    assert_eq!(b.subject(), "enterprise");
    assert!(b.members().len() > 0 && b.form_fields().len() > 0);
    assert_eq!(
        rules.bundle_index(b.id()),
        bundles.iter().position(|x| *x == b.id())
    );
}

#[test]
fn decisions_from_many_threads_are_the_decisions_of_one() {
    let rules = Arc::new(shipped());
    let alone: Vec<Vec<Decision>> = PEOPLE
        .iter()
        .map(|t| rules.decide(&rules.read_json(t).unwrap(), on()))
        .collect();
    let together: Vec<Vec<Vec<Decision>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let rules = Arc::clone(&rules);
                s.spawn(move || {
                    PEOPLE
                        .iter()
                        .map(|t| rules.decide(&rules.read_json(t).unwrap(), on()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for got in together {
        assert_eq!(got, alone);
    }
    // One decision per policy about persons, in rule-set order.
    let persons: Vec<&str> = rules
        .policies()
        .filter(|p| p.subject() == "person")
        .map(|p| p.id())
        .collect();
    let order: Vec<&str> = alone[0].iter().map(|d| d.policy.as_str()).collect();
    assert_eq!(order, persons);
    let senior = alone[0]
        .iter()
        .find(|d| d.policy == "sh-senior-comprehensive-allowance")
        .unwrap();
    assert_eq!(senior.outcome, Outcome::Eligible);
    assert_eq!(senior.amount.as_ref().unwrap().value.to_string(), "180.00");
    // An empty record: undetermined, with what to ask for.
    let empty = alone[3]
        .iter()
        .find(|d| d.policy == "sh-senior-comprehensive-allowance")
        .unwrap();
    assert_eq!(empty.outcome, Outcome::Undetermined);
    assert!(empty.missing.contains(&"person.birth_date".to_string()));
}

#[test]
fn records_are_read_from_json_yaml_and_serde_values_alike() {
    let rules = shipped();
    let json = rules.read_json(PEOPLE[0]).unwrap();
    let yaml = rules
        .read_yaml(
            "person:\n  id: P1\n  birth_date: 1940-03-01\n  hukou_region: 上海\n  alive: true\n",
        )
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(PEOPLE[0]).unwrap();
    let from_value = rules.read_value(&value, Some("person")).unwrap();
    assert_eq!(json, yaml);
    assert_eq!(json, from_value);
    assert_eq!(json.id.as_deref(), Some("P1"));
    assert_eq!(rules.subject_of(&json), "person");
}

/// A sink of the host's own: keeps every line, by output.
#[derive(Default)]
struct Kept {
    grants: Vec<String>,
    pushes: Vec<String>,
    rejected: Vec<String>,
    records: u64,
}

impl Sink for Kept {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        self.grants.extend(chunk.grants.lines().map(str::to_string));
        self.pushes.extend(chunk.pushes.lines().map(str::to_string));
        self.rejected
            .extend(chunk.rejected.lines().map(str::to_string));
        self.records += chunk.records;
        Ok(())
    }
}

#[test]
fn a_batch_runs_over_any_iterator_into_the_hosts_sink() {
    let rules = shipped();
    let mut lines: Vec<String> = PEOPLE.iter().map(|s| s.to_string()).collect();
    lines.push(r#"{"person": {"id": "P5", "birth_dat": "1950-01-01"}}"#.into());
    lines.push("not json".into());
    let config = RunConfig {
        chunk_size: 2,
        threads: Some(2),
        ..RunConfig::new(on())
    };

    let mut by_text = Kept::default();
    let text = lines.join("\n");
    let s1 = rules
        .run_json_lines(text.as_bytes(), &config, &mut by_text)
        .unwrap();

    // The same records as serde values, from an iterator (a database cursor, say).
    let mut by_value = Kept::default();
    let input = lines
        .iter()
        .zip(1..)
        .map(|(l, n)| match serde_json::from_str(l) {
            Ok(v) => InputRecord::value(n, v),
            Err(_) => InputRecord::json(n, l.as_str()),
        });
    let s2 = rules.run(input, &config, &mut by_value).unwrap();

    for (s, kept) in [(&s1, &by_text), (&s2, &by_value)] {
        assert_eq!((s.read, s.evaluated, s.rejected), (6, 4, 2));
        assert_eq!(kept.records, 6);
        assert_eq!(kept.rejected.len(), 2);
        assert_eq!(s.rule_set, rules.version());
        assert_eq!(s.reference_date, on());
        let senior = s
            .policies
            .iter()
            .find(|(id, _)| id == "sh-senior-comprehensive-allowance")
            .map(|(_, p)| p)
            .unwrap();
        assert_eq!(senior.eligible, 1);
        assert_eq!(senior.amount.to_string(), "180.00");
    }
    assert_eq!(by_text.grants, by_value.grants);
    assert_eq!(by_text.pushes, by_value.pushes);
    let rejected: serde_json::Value = serde_json::from_str(&by_text.rejected[0]).unwrap();
    assert_eq!(rejected["line"], 5);
    assert_eq!(rejected["code"], "unknown-field");
}

#[test]
fn a_failing_sink_ends_the_run_with_an_output_error() {
    struct Full;
    impl Sink for Full {
        fn write(&mut self, _: &ChunkOutput) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }
    let rules = shipped();
    let input = PEOPLE
        .iter()
        .zip(1..)
        .map(|(t, n)| InputRecord::json(n, *t));
    match rules.run(input, &RunConfig::new(on()), &mut Full) {
        Err(BatchError::Output(e)) => assert_eq!(e.to_string(), "disk full"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_errors_are_told_apart() {
    // A directory that is not there: an I/O error naming it.
    match RuleSet::load_dir("no/such/rules") {
        Err(LoadError::Io { path, .. }) => assert!(path.ends_with("rules")),
        other => panic!("{other:?}"),
    }
    // A schema that cannot be used.
    match RuleSet::from_sources("subjects: 3", &[]) {
        Err(LoadError::Schema { source, .. }) => assert!(!source.message.is_empty()),
        other => panic!("{other:?}"),
    }
    // Rules with errors: every diagnostic, with a stable code and a rendering.
    let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          income: {type: decimal}\n";
    let text = "policy p \"P\" {\n  subject person\n  mode no_application\n  effective from 2025-01-01\n  C1 \"x\": person.incme < 2000\n}\n";
    match RuleSet::from_sources(schema, &[("p.rules", text)]) {
        Err(LoadError::Diagnostics {
            diagnostics,
            sources,
        }) => {
            let d = &diagnostics[0];
            assert_eq!(d.severity, Severity::Error);
            assert_eq!(d.code, mianshen::diagnostic_code::UNKNOWN_FIELD);
            assert_eq!(d.code, "unknown-field");
            assert_eq!(d.hint.as_deref().map(|h| h.contains("income")), Some(true));
            let shown = d.render(&sources);
            assert!(shown.contains("p.rules:5:"), "{shown}");
            assert!(shown.contains("person.incme"), "{shown}");
            assert_eq!(sources.files().len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn record_errors_carry_a_kind_a_code_and_a_path() {
    let rules = shipped();
    let cases = [
        ("{", RecordErrorKind::Syntax, ""),
        (
            r#"{"person": {"id": "P1", "id": "P2"}}"#,
            RecordErrorKind::DuplicateKey,
            "person.id",
        ),
        (
            r#"{"person": {"id": "P1", "birth_dat": "1950-01-01"}}"#,
            RecordErrorKind::UnknownField,
            "person.birth_dat",
        ),
        (
            r#"{"person": {"id": "P1", "birth_date": 1950}}"#,
            RecordErrorKind::WrongType,
            "person.birth_date",
        ),
        (
            r#"{"person": {"id": "P1", "birth_date": "1950-02-30"}}"#,
            RecordErrorKind::InvalidValue,
            "person.birth_date",
        ),
        (r#"{"nobody": {}}"#, RecordErrorKind::SubjectKind, ""),
    ];
    for (text, kind, path) in cases {
        let e = rules.read_json(text).unwrap_err();
        assert_eq!((e.kind, e.path.as_str()), (kind, path), "{text}: {e}");
        assert!(!e.kind.code().is_empty());
    }
    // Limits are options; a lenient read names the keys it skipped.
    let tight = mianshen::ReadOptions {
        max_bytes: 10,
        ..Default::default()
    };
    let e = rules.read_json_with(PEOPLE[0], None, &tight).unwrap_err();
    assert_eq!(e.kind.code(), "too-large");
    let lenient = mianshen::ReadOptions {
        lenient: true,
        ..Default::default()
    };
    let (_, unknown) = rules
        .read_json_with(r#"{"person": {"id": "P1", "x": 1}}"#, None, &lenient)
        .unwrap();
    assert_eq!(unknown, ["person.x"]);
}

#[test]
fn evaluation_errors_are_on_the_decision_with_a_stable_code() {
    let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          income: {type: decimal}\n          members: {type: int}\n";
    let text = "policy per-head \"P\" {\n  subject person\n  mode no_application\n  effective from 2025-01-01\n  C1 \"x\": person.income / person.members < 1000\n}\n";
    let rules = RuleSet::from_sources(schema, &[("p.rules", text)]).unwrap();
    let record = rules
        .read_json(r#"{"person": {"id": "P1", "income": 1500, "members": 0}}"#)
        .unwrap();
    let d = rules.decide_policy("per-head", &record, on()).unwrap();
    assert_eq!(d.outcome, Outcome::Undetermined);
    let e = d.error.as_ref().unwrap();
    assert_eq!(
        (e.kind, e.kind.code(), e.at.as_str()),
        (ErrorKind::DivisionByZero, "division-by-zero", "C1")
    );
    // In JSON, the error is its code.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["error"]["code"], "division-by-zero");

    // A budget too small for any decision.
    let tiny = EvalOptions {
        trace: false,
        budget: 1,
        ..EvalOptions::default()
    };
    let record = rules
        .read_json(r#"{"person": {"id": "P1", "income": 1500, "members": 3}}"#)
        .unwrap();
    let d = rules
        .decide_policy_with("per-head", &record, on(), tiny)
        .unwrap();
    assert_eq!(d.error.map(|e| e.kind), Some(ErrorKind::BudgetExceeded));
    let d = rules.decide_policy("per-head", &record, on()).unwrap();
    assert_eq!((d.outcome, d.error), (Outcome::Eligible, None));
}

#[test]
fn requests_for_what_the_rule_set_does_not_have_are_errors() {
    let rules = shipped();
    let person = rules.read_json(PEOPLE[0]).unwrap();
    match rules.decide_policy("sh-senior-comprehensive-allowanse", &person, on()) {
        Err(e @ RequestError::UnknownPolicy { .. }) => assert_eq!(
            e.to_string(),
            "unknown policy `sh-senior-comprehensive-allowanse` (did you mean `sh-senior-comprehensive-allowance`?)"
        ),
        other => panic!("{other:?}"),
    }
    match rules.decide_policy("ui-job-expansion-subsidy", &person, on()) {
        Err(RequestError::WrongSubject {
            target,
            expected,
            found,
        }) => assert_eq!(
            (target.as_str(), expected.as_str(), found.as_str()),
            ("ui-job-expansion-subsidy", "enterprise", "person")
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        rules.prefill("bundle-unemploymnet", &person, on()),
        Err(RequestError::UnknownBundle { did_you_mean: Some(s), .. }) if s == "bundle-unemployment"
    ));
    assert!(matches!(
        rules.prefill("bundle-employee-hiring", &person, on()),
        Err(RequestError::WrongSubject { .. })
    ));
    let form = rules.prefill("bundle-unemployment", &person, on()).unwrap();
    assert_eq!(form.bundle, "bundle-unemployment");
    assert!(matches!(
        rules.record_strategy("citizen", &mianshen::Constraints::new()),
        Err(RequestError::UnknownSubject { known, .. }) if known == ["person", "enterprise"]
    ));
    assert!(matches!(
        rules.record_strategy(
            "person",
            &mianshen::Constraints::new().present("person.shoe_size")
        ),
        Err(RequestError::Constraint(_))
    ));
}

#[test]
fn the_test_runners_run_the_shipped_cases_and_properties() {
    let rules = shipped();
    let files = mianshen::case_files("rules").unwrap();
    let report = rules.run_cases(&files);
    assert!(report.is_success(), "{:?}", report.failures().next());
    assert!(report.passed() >= 400, "{}", report.passed());
    assert_eq!(report.failed(), 0);

    // A case file that does not parse counts as a failure, and names the file.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-bad-cases");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "cases: [").unwrap();
    let report = rules.run_cases(&[&bad]);
    assert_eq!((report.passed(), report.failed()), (0, 1));
    assert_eq!(report.unreadable[0].path, bad);

    let props = rules.check_properties(&PropertyOptions::new(30, 1));
    assert!(props.passed(), "{}", props.render());
    let declared = rules.check_declared_properties(30, 1);
    assert!(!declared.is_empty());
    assert!(declared.iter().all(|r| r.counterexample.is_none()));
}

#[test]
fn generated_records_drive_a_hosts_own_proptest() {
    use proptest::prelude::*;
    let rules = shipped();
    let cases = rules
        .case_strategy("person", &mianshen::Constraints::complete())
        .unwrap();
    proptest!(ProptestConfig::with_cases(100), |((on, json) in cases)| {
        let record = rules.read_value(&json, None).unwrap();
        // Complete records: nothing is undetermined for want of data.
        for d in rules.decide(&record, on) {
            prop_assert!(
                d.outcome != Outcome::Undetermined || d.error.is_some() || d.missing.is_empty(),
                "{}: {:?}", d.policy, d.missing
            );
        }
    });
}
