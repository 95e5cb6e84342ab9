//! Differential tests of the compiled tier (the batch's fast path) against the
//! reference evaluator, in the manner of Cedar's differential testing: for every
//! record and every policy of the record's subject kind, whatever the compiled tier
//! claims must be what the reference evaluator decides.
//!
//! - `Eligible { amount, extras }`: the reference is eligible without an error, with
//!   the same amount (none exactly when the reference has none) and the same extras;
//! - `NotEligible`: the reference is not eligible;
//! - `Unknown`: the reference is undetermined;
//! - `Deferred`: no claim;
//! - `NotApplicable`: exactly when the policy is about another subject kind.
//!
//! And a record the fast row reader accepts is accepted by the reference reader.
//!
//! Records come from the generators (shipped rules at several reference dates,
//! city-10) and from the fixture populations (`tests/fixtures/city10-3000.jsonl`,
//! `examples/population.jsonl`).

use chrono::NaiveDate;
use mianshen::internals::eval::evaluate_policy;
use mianshen::internals::fast::{FastDecider, FastRules, Verdict};
use mianshen::internals::record::{detect_subject, read_record};
use mianshen::internals::testing::generate::{best_of, try_record_strategy};
use mianshen::{Constraints, EvalOptions, ExtraValue, Mix, Outcome, RuleSet};
use proptest::strategy::{BoxedStrategy, Strategy, Union};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

const SEED: u64 = 20_250_701;
/// Generated records per subject kind and reference date.
const CASES: u32 = 500;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(dir: &str) -> RuleSet {
    let p = root().join(dir);
    RuleSet::load_dir(&p).unwrap_or_else(|e| panic!("cannot load {}: {e:?}", p.display()))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ------------------------------------------------------------------ the contract

/// Verdicts on one policy.
#[derive(Debug, Default, Clone, Copy)]
struct PolicyTally {
    decisions: usize,
    deferred: usize,
    /// Deferred verdicts where the reference decides without an evaluation error.
    deferred_without_error: usize,
    /// Deferred verdicts where the reference says not eligible.
    deferred_not_eligible: usize,
    eligible: usize,
    not_eligible: usize,
    unknown: usize,
}

/// What the checks saw: how many records, verdicts and reference outcomes.
#[derive(Debug, Default, Clone)]
struct Tally {
    records: usize,
    /// Records the fast reader refused (left to the reference path).
    refused: usize,
    /// Verdicts on policies of the record's subject kind.
    applicable: usize,
    eligible: usize,
    not_eligible: usize,
    unknown: usize,
    deferred: usize,
    ref_eligible: usize,
    ref_not_eligible: usize,
    ref_undetermined: usize,
    /// Per policy (rule-set order).
    per_policy: Vec<PolicyTally>,
}

impl Tally {
    /// The compiled policies of which the compiled tier defers more than one decision
    /// in 20 that the reference decides without an evaluation error, with their
    /// tallies.
    fn deferring(&self, rules: &RuleSet, compiled: &FastRules) -> Vec<(String, PolicyTally)> {
        self.per_policy
            .iter()
            .enumerate()
            .filter(|&(i, t)| {
                // A per-item policy (`for each`) is compiled only to say "not eligible":
                // it must not defer those, and defers the rest by design.
                let limit = if rules.program().policies[i].per_item.is_some() {
                    t.deferred_not_eligible
                } else {
                    t.deferred_without_error
                };
                compiled.is_compiled(i) && limit * 20 > t.decisions
            })
            .map(|(i, t)| (rules.program().policies[i].id.clone(), *t))
            .collect()
    }
}

struct Checker<'r> {
    rules: &'r RuleSet,
    compiled: FastRules,
    ref_date: NaiveDate,
}

impl<'r> Checker<'r> {
    fn new(rules: &'r RuleSet, ref_date: NaiveDate) -> Self {
        Checker {
            rules,
            compiled: FastRules::new(rules, ref_date),
            ref_date,
        }
    }

    /// A checker of rules lowered for `lowered_on` against the reference on
    /// `ref_date`: wrong on purpose, to see that the checks notice.
    fn skewed(rules: &'r RuleSet, lowered_on: NaiveDate, ref_date: NaiveDate) -> Self {
        Checker {
            rules,
            compiled: FastRules::new(rules, lowered_on),
            ref_date,
        }
    }

    /// Checks the contract on one record given as JSON text (`subject`: as the
    /// batch's `--subject`, or `None` to tell it from the record). A record the fast
    /// reader refuses is only counted.
    /// Checks one record with `ev`, an evaluator of `self.compiled` that the caller keeps
    /// from record to record (as the batch does), so that nothing it keeps between
    /// records can change a verdict unnoticed.
    fn check(
        &self,
        ev: &mut FastDecider<'_>,
        text: &str,
        subject: Option<usize>,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let rules = self.rules;
        let schema = rules.schema();
        tally.records += 1;
        if ev.read(text, subject).is_err() {
            tally.refused += 1;
            return Ok(());
        }
        let value: Json = serde_json::from_str(text).map_err(|e| {
            format!("the fast reader accepts a line that is not JSON ({e})\nrecord: {text}")
        })?;
        let detected = match subject {
            Some(s) => s,
            None => detect_subject(schema, &value, None).map_err(|e| {
                format!("the fast reader accepts a record of no subject kind ({e})\nrecord: {text}")
            })?,
        };
        if ev.subject() != detected {
            return Err(format!(
                "the fast reader reads a {} record as a {} record\nrecord: {text}",
                schema.subjects[detected].name,
                schema.subjects[ev.subject()].name
            ));
        }
        let record = read_record(schema, ev.subject(), &value).map_err(|e| {
            format!(
                "the fast reader accepts a record the reference reader rejects ({}: {})\nrecord: {text}",
                e.path, e.message
            )
        })?;
        let verdicts = ev.decide().to_vec();
        if verdicts.len() != rules.program().policies.len() {
            return Err(format!(
                "{} verdicts for {} policies\nrecord: {text}",
                verdicts.len(),
                rules.program().policies.len()
            ));
        }
        for (i, &verdict) in verdicts.iter().enumerate() {
            let policy = &rules.program().policies[i];
            let applicable = policy.subject == ev.subject();
            if applicable == (verdict == Verdict::NotApplicable) {
                return Err(format!(
                    "policy `{}` (subject {}) on {}: verdict {verdict:?} for a {} record\nrecord: {text}",
                    policy.id,
                    schema.subjects[policy.subject].name,
                    self.ref_date,
                    schema.subjects[ev.subject()].name
                ));
            }
            if !applicable {
                continue;
            }
            tally.applicable += 1;
            if tally.per_policy.len() <= i {
                tally.per_policy.resize(i + 1, PolicyTally::default());
            }
            tally.per_policy[i].decisions += 1;
            let d = evaluate_policy(rules, i, &record, self.ref_date, EvalOptions::default());
            match d.outcome {
                Outcome::Eligible => tally.ref_eligible += 1,
                Outcome::NotEligible => tally.ref_not_eligible += 1,
                Outcome::Undetermined => tally.ref_undetermined += 1,
            }
            let mut compiled_extras: Vec<(String, ExtraValue)> = vec![];
            let agrees = match verdict {
                Verdict::Eligible { amount, extras } => {
                    tally.eligible += 1;
                    tally.per_policy[i].eligible += 1;
                    let mut extras_ok = true;
                    if let Some((rule, _)) = amount {
                        let names = policy.amounts.get(rule).map(|a| &a.extras);
                        for (k, x) in ev.extras(extras) {
                            match names.and_then(|n| n.get(k)) {
                                Some((name, _)) => compiled_extras.push((name.clone(), x)),
                                None => {
                                    extras_ok = false;
                                    compiled_extras.push((format!("#{rule}.{k}?"), x));
                                }
                            }
                        }
                    } else if extras.1 > 0 {
                        extras_ok = false;
                    }
                    d.outcome == Outcome::Eligible
                        && d.error.is_none()
                        && extras_ok
                        && match (amount, &d.amount) {
                            (None, None) => true,
                            (Some((_, v)), Some(a)) => v == a.value && compiled_extras == a.extras,
                            _ => false,
                        }
                }
                Verdict::NotEligible => {
                    tally.not_eligible += 1;
                    tally.per_policy[i].not_eligible += 1;
                    d.outcome == Outcome::NotEligible
                }
                Verdict::Unknown => {
                    tally.unknown += 1;
                    tally.per_policy[i].unknown += 1;
                    d.outcome == Outcome::Undetermined
                }
                Verdict::Deferred => {
                    tally.deferred += 1;
                    tally.per_policy[i].deferred += 1;
                    if d.error.is_none() {
                        tally.per_policy[i].deferred_without_error += 1;
                    }
                    if d.outcome == Outcome::NotEligible {
                        tally.per_policy[i].deferred_not_eligible += 1;
                    }
                    true
                }
                Verdict::NotApplicable => unreachable!("checked above"),
            };
            if !agrees {
                return Err(format!(
                    "policy `{}` on {}: compiled verdict {verdict:?} (extras {compiled_extras:?}) \
                     but reference decision {d:?}\nrecord: {text}",
                    policy.id, self.ref_date
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------- generated records

fn rng(seed: u64, salt: &str) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    for (i, b) in salt.bytes().enumerate() {
        bytes[8 + i % 24] ^= b;
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// How deep a record goes in policy `p`: its clauses that are not false, more when
/// eligible, less on an evaluation error.
fn depth(rules: &RuleSet, subject: usize, p: usize, ref_date: NaiveDate, json: &Json) -> i64 {
    let Ok(record) = read_record(rules.schema(), subject, json) else {
        return i64::MIN;
    };
    let n = i64::try_from(rules.program().policies[p].clauses.len()).unwrap_or(0) + 1;
    let d = evaluate_policy(rules, p, &record, ref_date, EvalOptions::default());
    let not_false = |failed: &[String]| n - i64::try_from(failed.len()).unwrap_or(n);
    let mut score = match &d.per_item {
        Some((_, items)) => items
            .iter()
            .map(|(_, it)| not_false(&it.failed))
            .max()
            .unwrap_or(1),
        None => not_false(&d.failed),
    };
    if d.error.is_some() {
        score -= n / 2 + 1;
    }
    score + if d.outcome == Outcome::Eligible { 2 } else { 0 }
}

/// Records of `subject` dated around `ref_date`: a general generator with the hints
/// of every policy, and two per policy of the subject kind with its own hints and
/// few missing fields (one of them the best of a few draws), so that every outcome of
/// every policy occurs; more of them for the policies that `compiled` decides.
fn records(
    rules: &RuleSet,
    compiled: &FastRules,
    subject: usize,
    ref_date: NaiveDate,
) -> BoxedStrategy<Json> {
    let schema = rules.schema();
    let mut general = Constraints::new().with_hints_from(rules);
    general.anchor = ref_date;
    let strategy = |c: &Constraints| {
        try_record_strategy(schema, subject, c).unwrap_or_else(|e| panic!("generator: {e}"))
    };
    let policies: Vec<usize> = (0..rules.program().policies.len())
        .filter(|&i| rules.program().policies[i].subject == subject)
        .collect();
    let scored = Arc::new(rules.clone());
    let mut alts = vec![(
        u32::try_from(policies.len() / 2).unwrap_or(1).max(1),
        strategy(&general),
    )];
    for &p in &policies {
        let group = Constraints::policy_group(rules, p);
        let mut c = Constraints::new().with_policy_hints(rules, &group);
        c.anchor = ref_date;
        let few_missing = Mix {
            value: 18,
            absent: 1,
            null: 1,
        };
        c.required = few_missing;
        c.optional = Mix {
            value: 8,
            absent: 1,
            null: 1,
        };
        c.defaulted = c.optional;
        c.hint_weight = 12;
        // The policies the compiled tier decides get more records.
        let weight = if compiled.is_compiled(p) { 4 } else { 1 };
        alts.push((weight, strategy(&c)));
        // The best of a few draws: deep in the policy (every clause true), where
        // independent draws rarely go.
        let scored = scored.clone();
        let deep = best_of(strategy(&c), 8, move |json: &Json| {
            depth(&scored, subject, p, ref_date, json)
        });
        alts.push((weight, deep.boxed()));
    }
    Union::new_weighted(alts).boxed()
}

/// Checks that the compiled tier does not silently defer: some policy of the subject
/// kind is compiled, and the compiled ones defer (to the reference) at most one
/// decision in 20 that is not an evaluation error.
fn assert_compiled(rules: &RuleSet, compiled: &FastRules, subject: usize, t: &Tally, what: &str) {
    assert!(
        (0..rules.program().policies.len())
            .any(|i| rules.program().policies[i].subject == subject && compiled.is_compiled(i)),
        "{what}: no policy of the subject kind is compiled"
    );
    let deferring = t.deferring(rules, compiled);
    assert!(
        deferring.is_empty(),
        "{what}: the compiled tier defers compiled policies: {deferring:?}"
    );
}

/// Runs the contract on `CASES` generated records of every subject kind at
/// `ref_date`; panics with the shrunk counterexample on a violation.
fn check_generated(rules: &RuleSet, name: &str, ref_date: NaiveDate) -> Vec<(String, Tally)> {
    let checker = Checker::new(rules, ref_date);
    let mut tallies = vec![];
    for (subject, s) in rules.schema().subjects.iter().enumerate() {
        if !rules
            .program()
            .policies
            .iter()
            .any(|p| p.subject == subject)
        {
            continue;
        }
        let config = Config {
            cases: CASES,
            failure_persistence: None,
            max_shrink_iters: 4096,
            max_shrink_time: 60_000,
            ..Config::default()
        };
        let salt = format!("{name}/{}/{ref_date}", s.name);
        let mut runner = TestRunner::new_with_rng(config, rng(SEED, &salt));
        let tally = RefCell::new(Tally::default());
        let ev = RefCell::new(FastDecider::new(checker.rules, &checker.compiled));
        let result = runner.run(
            &records(rules, &checker.compiled, subject, ref_date),
            |json| {
                let text = serde_json::to_string(&json).expect("JSON text");
                checker
                    .check(
                        &mut ev.borrow_mut(),
                        &text,
                        Some(subject),
                        &mut tally.borrow_mut(),
                    )
                    .map_err(TestCaseError::fail)
            },
        );
        match result {
            Ok(()) => {}
            Err(TestError::Fail(why, _)) => panic!(
                "{name}, {} records, reference date {ref_date}: {}",
                s.name,
                why.message()
            ),
            Err(TestError::Abort(why)) => panic!("{name}: aborted: {}", why.message()),
        }
        let t = tally.into_inner();
        let what = format!("{name}, {} records, {ref_date}", s.name);
        // The generated records are valid: the fast reader takes them, the compiled
        // tier decides the policies it compiles, and every verdict occurs.
        assert!(
            t.refused * 20 <= t.records,
            "{what}: the fast reader refuses {} of {} generated records",
            t.refused,
            t.records
        );
        assert_compiled(rules, &checker.compiled, subject, &t, &what);
        tallies.push((what, t));
    }
    tallies
}

#[test]
fn compiled_tier_agrees_with_reference_on_generated_shipped_records() {
    let rules = load("rules");
    let mut all = vec![];
    for ref_date in [date(2024, 9, 1), date(2025, 7, 1), date(2026, 7, 1)] {
        let tallies = check_generated(&rules, "rules", ref_date);
        assert_eq!(tallies.len(), 2, "person and enterprise records");
        all.extend(tallies);
    }
    // Over the dates, the records of each subject kind reach every verdict and every
    // reference outcome.
    for subject in ["person", "enterprise"] {
        let of = || {
            all.iter()
                .filter(move |(what, _)| what.contains(&format!(" {subject} records")))
                .map(|(_, t)| t)
        };
        let sum = |f: fn(&Tally) -> usize| of().map(f).sum::<usize>();
        let counts = [
            sum(|t| t.eligible),
            sum(|t| t.not_eligible),
            sum(|t| t.unknown),
            sum(|t| t.ref_eligible),
            sum(|t| t.ref_not_eligible),
            sum(|t| t.ref_undetermined),
        ];
        assert!(
            counts.iter().all(|&n| n > 0),
            "{subject} records: verdicts eligible, not eligible, unknown and reference \
             outcomes eligible, not eligible, undetermined: {counts:?}"
        );
    }
}

#[test]
fn compiled_tier_agrees_with_reference_on_generated_city10_records() {
    let rules = load("benches/city-10");
    let tallies = check_generated(&rules, "benches/city-10", date(2026, 7, 1));
    assert!(!tallies.is_empty());
    for (what, t) in &tallies {
        assert!(
            t.eligible > 0 && t.not_eligible > 0 && t.unknown > 0,
            "{what}: the generated records do not reach every verdict: {t:?}"
        );
        assert!(
            t.deferred * 20 < t.applicable,
            "{what}: the compiled tier defers {} of {} decisions",
            t.deferred,
            t.applicable
        );
    }
}

// ------------------------------------------------------------------ fixtures

/// Checks every line of a JSON Lines file as the batch reads it (subject kind from
/// the record); panics listing the violations.
fn check_lines(rules: &RuleSet, file: &str, ref_date: NaiveDate) -> Tally {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let checker = Checker::new(rules, ref_date);
    let mut ev = FastDecider::new(checker.rules, &checker.compiled);
    let mut tally = Tally::default();
    let mut violations = vec![];
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Err(m) = checker.check(&mut ev, line, None, &mut tally) {
            violations.push(format!("{file} line {}: {m}", n + 1));
        }
    }
    assert!(
        violations.is_empty(),
        "{} violations of the contract; the first ones:\n\n{}",
        violations.len(),
        violations
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    for subject in 0..rules.schema().subjects.len() {
        if rules
            .program()
            .policies
            .iter()
            .any(|p| p.subject == subject)
        {
            let what = format!("{file}, {} records", rules.schema().subjects[subject].name);
            assert_compiled(rules, &checker.compiled, subject, &tally, &what);
        }
    }
    tally
}

#[test]
fn compiled_tier_agrees_with_reference_on_city10_population() {
    let rules = load("benches/city-10");
    let t = check_lines(&rules, "tests/fixtures/city10-3000.jsonl", date(2026, 7, 1));
    assert_eq!(t.records, 3000);
    assert!(
        t.refused * 100 <= t.records,
        "the fast reader refuses {} of {} lines",
        t.refused,
        t.records
    );
    assert!(
        t.deferred * 20 < t.applicable,
        "the compiled tier defers {} of {} decisions: {t:?}",
        t.deferred,
        t.applicable
    );
    assert!(
        t.eligible > 0 && t.not_eligible > 0,
        "the population reaches eligible and not eligible: {t:?}"
    );
}

/// The calendar's edges: 28 and 29 February and 1 March of a leap and a common year,
/// month ends and the turn of a year. Ages, `within_last`, month arithmetic and
/// parameter steps change there, and the fast tier's packed dates must follow the
/// semantics exactly.
const CALENDAR_EDGES: [(i32, u32, u32); 9] = [
    (2024, 2, 28),
    (2024, 2, 29),
    (2024, 3, 1),
    (2025, 2, 28),
    (2025, 3, 1),
    (2025, 1, 31),
    (2025, 4, 30),
    (2025, 12, 31),
    (2026, 1, 1),
];

#[test]
fn compiled_tier_agrees_with_reference_on_both_populations_at_the_calendars_edges() {
    for (dir, population) in [
        ("rules", "examples/population.jsonl"),
        ("benches/city-10", "tests/fixtures/city10-3000.jsonl"),
    ] {
        let rules = load(dir);
        for (y, m, d) in CALENDAR_EDGES {
            let t = check_lines(&rules, population, date(y, m, d));
            assert!(
                t.records > 0 && t.applicable > 0,
                "{dir} on {y}-{m}-{d}: {t:?}"
            );
        }
    }
}

#[test]
fn compiled_tier_agrees_with_reference_on_example_population() {
    let rules = load("rules");
    let t = check_lines(&rules, "examples/population.jsonl", date(2025, 7, 1));
    assert_eq!(t.records, 3300);
    // A few lines are deliberately malformed.
    assert!(
        t.refused * 20 <= t.records,
        "the fast reader refuses {} of {} lines",
        t.refused,
        t.records
    );
    assert!(
        t.eligible > 0 && t.not_eligible > 0,
        "the population reaches eligible and not eligible: {t:?}"
    );
}

/// The checks have teeth: rules lowered for another date (other ages, other
/// parameters) disagree with the reference, and the checks say so.
#[test]
fn the_checks_notice_a_compiled_tier_that_disagrees() {
    let rules = load("benches/city-10");
    let text = std::fs::read_to_string(root().join("tests/fixtures/city10-3000.jsonl"))
        .expect("city-10 population");
    let checker = Checker::skewed(&rules, date(2021, 1, 1), date(2026, 7, 1));
    let mut ev = FastDecider::new(checker.rules, &checker.compiled);
    let mut tally = Tally::default();
    let violations = text
        .lines()
        .filter(|line| checker.check(&mut ev, line, None, &mut tally).is_err())
        .count();
    assert!(violations > 0, "no violation found: {tally:?}");
}
