//! Built-in properties, checked for every policy of a rule set over generated
//! records (see [`super::generate`]):
//!
//! * **amounts** — an amount is never negative;
//! * **determinism** — the same rules, record and date give the same decisions, byte
//!   for byte, and a policy decided alone gives what it gives among all the others;
//! * **soundness** — an `eligible` or `not_eligible` decision stays what it is when
//!   every field the record lacks is filled in with any values (a clause that was
//!   false stays false; an eligible amount stays the same);
//! * **missing-listed** — an `undetermined` decision lists at least one field unless
//!   it carries an evaluation error; every field it lists is one the record lacks; and
//!   filling in exactly the listed fields decides the policy or asks for *other*
//!   fields only (a filled value can open a branch that needs a field the first round
//!   could not know about — policies.md §0.1 item 4 — so one round is not always
//!   enough, but every round makes progress and the rounds end);
//! * **missing-fill-all** — with every field the record lacks filled in, no decision
//!   is `undetermined` except with an evaluation error;
//! * **excludes** — two policies declared mutually exclusive (`excludes`) are never
//!   both eligible.
//!
//! [`run_properties`] runs them with proptest's runner from a fixed seed, so a run is
//! reproducible; a failure comes back shrunk to a small record, as a YAML case ready to
//! paste into a case file, with the decision trace.
//!
//! The cases come from a generator of any record of the subject kind (a third of them)
//! and from one generator per policy, focused on it: the constants its clauses compare
//! fields with (mined from the checked program) are drawn more often, dates around the
//! reference date, fewer gaps, reference dates inside its effective period, and of 12
//! draws the one that gets furthest into the policy (and the policies it excludes) is
//! kept. [`generated_coverage`] shows how far the generated records reach.

use super::generate::{
    self, field_def, field_value_strategy, missing_fields, ref_date_strategy, Constraints,
    MissingField, Mix,
};
use crate::compile::RuleSet;
use crate::eval::{self, Decision, EvalOptions, Outcome};
use crate::record;
use chrono::NaiveDate;
use proptest::strategy::{BoxedStrategy, Just, Strategy, Union};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A built-in property: an invariant every rule set must hold, checked on generated
/// records by [`RuleSet::check_properties`](crate::RuleSet::check_properties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// Amounts are never negative.
    Amounts,
    /// Same input, same output, byte for byte.
    Determinism,
    /// Filling missing fields never overturns an eligible / not_eligible decision.
    Soundness,
    /// `missing` names real gaps, and filling them makes progress.
    MissingListed,
    /// A record without gaps is never undetermined (except with an evaluation error).
    MissingFillAll,
    /// Mutually exclusive policies are never both eligible.
    Excludes,
    /// An eligible decision (a policy's, an item's, a bundle member's) has every clause
    /// true: no clause unknown or in error lets a decision through.
    EligibleClauses,
}

impl Property {
    /// Every built-in property, in report order.
    pub const ALL: [Property; 7] = [
        Property::Amounts,
        Property::Determinism,
        Property::Soundness,
        Property::MissingListed,
        Property::MissingFillAll,
        Property::Excludes,
        Property::EligibleClauses,
    ];

    /// Its stable name in reports (`amounts-non-negative`, `determinism`, …).
    pub fn name(self) -> &'static str {
        match self {
            Property::Amounts => "amounts-non-negative",
            Property::Determinism => "determinism",
            Property::Soundness => "three-valued-soundness",
            Property::MissingListed => "missing-listed",
            Property::MissingFillAll => "missing-fill-all",
            Property::Excludes => "excludes",
            Property::EligibleClauses => "eligible-clauses-true",
        }
    }

    /// What it checks, in one line.
    pub fn description(self) -> &'static str {
        match self {
            Property::Amounts => "an amount is never negative",
            Property::Determinism => {
                "the same rules, record and date give the same decisions, byte for byte"
            }
            Property::Soundness => {
                "filling in missing fields never changes an eligible or not_eligible decision"
            }
            Property::MissingListed => {
                "undetermined lists fields the record lacks; filling them decides or asks for other fields"
            }
            Property::MissingFillAll => {
                "with every missing field filled in, nothing is undetermined except on an evaluation error"
            }
            Property::Excludes => "policies declared `excludes` are never both eligible",
            Property::EligibleClauses => {
                "an eligible decision, a policy's, an item's or a bundle member's, has every clause true"
            }
        }
    }

    fn salt(self) -> u8 {
        match self {
            Property::Amounts => 1,
            Property::Determinism => 2,
            Property::Soundness => 3,
            Property::MissingListed => 4,
            Property::MissingFillAll => 5,
            Property::Excludes => 6,
            Property::EligibleClauses => 7,
        }
    }
}

/// Options of a property run: how many cases, from which seed, which properties.
#[derive(Debug, Clone)]
pub struct PropertyOptions {
    /// Generated cases per property and subject kind.
    pub cases: u32,
    /// The seed: the same seed gives the same cases.
    pub seed: u64,
    /// The properties to run (all by default).
    pub properties: Vec<Property>,
    /// The most shrinking steps spent on a failure.
    pub max_shrink_iters: u32,
}

impl PropertyOptions {
    /// Every property, `cases` cases each, from `seed`.
    pub fn new(cases: u32, seed: u64) -> Self {
        PropertyOptions {
            cases,
            seed,
            properties: Property::ALL.to_vec(),
            max_shrink_iters: 4096,
        }
    }
}

/// A record on which a property does not hold, shrunk as small as it would go, with
/// the case to paste into a case file and the decisions' traces.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// What does not hold.
    pub message: String,
    /// The ids of the policies concerned.
    pub policies: Vec<String>,
    /// The reference date of the case.
    pub reference_date: NaiveDate,
    /// The record, as generated (JSON).
    pub record: Json,
    /// The record with fields filled in (soundness, missing-*), when that matters.
    pub filled: Option<Json>,
    /// The case(s) in the case-file layout, ready to paste under `cases:`; `expected`
    /// holds what the engine decides now, to be corrected by hand.
    pub case_yaml: String,
    /// The decisions of the concerned policies, with their traces (YAML).
    pub trace: String,
}

/// The result of one property for one subject kind.
#[derive(Debug, Clone)]
pub struct PropertyResult {
    /// Which property.
    pub property: Property,
    /// The subject kind of the records it ran on.
    pub subject: String,
    /// Generated cases run.
    pub cases: u32,
    /// How long it took.
    pub elapsed: Duration,
    /// `None` when the property held; the counterexample otherwise.
    pub failure: Option<Counterexample>,
    /// Why the run stopped without a verdict (too many rejected cases), if it did.
    pub aborted: Option<String>,
}

/// The result of a property run: one result per property and subject kind.
/// [`render`](Self::render) gives the report `mianshen test --properties` prints.
#[derive(Debug, Clone)]
pub struct PropertyReport {
    /// The seed the cases were generated from.
    pub seed: u64,
    /// Cases per property and subject kind.
    pub cases: u32,
    /// One result per property and subject kind.
    pub results: Vec<PropertyResult>,
}

impl PropertyReport {
    /// Whether every property held.
    pub fn passed(&self) -> bool {
        self.results
            .iter()
            .all(|r| r.failure.is_none() && r.aborted.is_none())
    }

    /// The report in words: one line per property and subject kind, then each
    /// counterexample as a case to paste and its trace.
    pub fn render(&self) -> String {
        let mut out = format!(
            "properties: {} cases per property and subject kind, seed {}\n",
            self.cases, self.seed
        );
        for r in &self.results {
            let verdict = match (&r.failure, &r.aborted) {
                (Some(_), _) => "FAILED",
                (None, Some(_)) => "ABORTED",
                (None, None) => "ok",
            };
            out.push_str(&format!(
                "  {verdict:7} {:24} {:10} {:>6} cases {:>8.2}s  {}\n",
                r.property.name(),
                r.subject,
                r.cases,
                r.elapsed.as_secs_f64(),
                r.property.description()
            ));
        }
        for r in self.failures() {
            if let Some(a) = &r.aborted {
                out.push_str(&format!("\n{} ({}): {a}\n", r.property.name(), r.subject));
            }
            if let Some(c) = &r.failure {
                out.push_str(&format!(
                    "\n{} ({}) does not hold: {}\nshrunk counterexample, as a case (paste under `cases:`):\n\n{}\ndecision trace:\n{}",
                    r.property.name(),
                    r.subject,
                    c.message,
                    c.case_yaml,
                    c.trace
                ));
            }
        }
        out
    }

    /// The results that did not hold.
    pub fn failures(&self) -> impl Iterator<Item = &PropertyResult> {
        self.results
            .iter()
            .filter(|r| r.failure.is_some() || r.aborted.is_some())
    }
}

/// Runs every built-in property with `cases` generated cases per property and subject
/// kind, from `seed`.
pub fn run_properties(rules: &RuleSet, cases: u32, seed: u64) -> PropertyReport {
    run_properties_with(rules, &PropertyOptions::new(cases, seed))
}

/// Runs the chosen properties.
pub fn run_properties_with(rules: &RuleSet, opts: &PropertyOptions) -> PropertyReport {
    use rayon::prelude::*;
    let rules = Arc::new(rules.clone());
    let mut jobs = vec![];
    for subject in 0..rules.schema.subjects.len() {
        if rules.program.policies.iter().any(|p| p.subject == subject) {
            jobs.extend(opts.properties.iter().map(|&p| (subject, p)));
        }
    }
    // Each job has its own generator and random stream: the results do not depend on
    // how the jobs are spread over threads.
    let results = jobs
        .par_iter()
        .map(|&(subject, property)| {
            let gen = CaseGen::new(&rules, subject);
            run_one(&rules, &gen, property, opts)
        })
        .collect();
    PropertyReport {
        seed: opts.seed,
        cases: opts.cases,
        results,
    }
}

/// Clause coverage of `cases` generated records per subject kind (the records the
/// properties see, from `seed`): how far the generators reach into each policy.
pub fn generated_coverage(
    rules: &RuleSet,
    cases: u32,
    seed: u64,
) -> super::coverage::CoverageReport {
    use proptest::strategy::ValueTree;
    let mut report = super::coverage::CoverageReport::new(rules);
    let rules = &Arc::new(rules.clone());
    for subject in 0..rules.schema.subjects.len() {
        if !rules.program.policies.iter().any(|p| p.subject == subject) {
            continue;
        }
        let gen = CaseGen::new(rules, subject);
        let mut runner =
            TestRunner::new_with_rng(Config::default(), rng_for(seed, Property::Amounts, subject));
        for _ in 0..cases {
            let Ok(tree) = gen.cases.new_tree(&mut runner) else {
                continue;
            };
            let case = tree.current();
            if let Ok(ds) = decide(rules, subject, &case.record, case.reference_date, true) {
                report.cases += 1;
                for d in &ds {
                    report.add(d);
                }
            }
        }
    }
    report
}

/// A generated case: a reference date and a record.
#[derive(Debug, Clone)]
pub struct GenCase {
    /// The reference date.
    pub reference_date: NaiveDate,
    /// The record.
    pub record: Json,
}

/// The generators of one subject kind: records anywhere in the schema, and records
/// focused on each policy (its hints, its effective period, fewer gaps).
struct CaseGen {
    subject: usize,
    cases: BoxedStrategy<GenCase>,
    /// Hints of every policy, resolved, for filling values.
    fill: Arc<Constraints>,
}

impl CaseGen {
    fn new(rules: &Arc<RuleSet>, subject: usize) -> Self {
        let policies: Vec<usize> = (rules.program.policies.iter().enumerate())
            .filter(|(_, p)| p.subject == subject)
            .map(|(i, _)| i)
            .collect();
        let schema = &rules.schema;
        let general = Constraints::default().with_hints_from(rules);
        let mut alts: Vec<(u32, BoxedStrategy<GenCase>)> = vec![];
        let pair = |c: &Constraints, focus: Option<usize>| -> BoxedStrategy<GenCase> {
            generate::case_strategy(schema, subject, c, ref_date_strategy(rules, focus))
                .map(|s| {
                    s.prop_map(|(reference_date, record)| GenCase {
                        reference_date,
                        record,
                    })
                    .boxed()
                })
                .unwrap_or_else(|_| Just(dummy()).boxed())
        };
        alts.push((
            u32::try_from(policies.len() / 2).unwrap_or(1).max(1),
            pair(&general, None),
        ));
        for &p in &policies {
            let group = Constraints::policy_group(rules, p);
            let mut c = Constraints::default().with_policy_hints(rules, &group);
            c.required = Mix {
                value: 18,
                absent: 1,
                null: 1,
            };
            c.defaulted = Mix {
                value: 8,
                absent: 1,
                null: 1,
            };
            c.optional = Mix {
                value: 8,
                absent: 1,
                null: 1,
            };
            c.hint_weight = 12;
            let scored = rules.clone();
            let focused = generate::best_of(pair(&c, Some(p)), 12, move |case: &GenCase| {
                reach(&scored, subject, &group, case)
            });
            alts.push((1, focused.boxed()));
        }
        CaseGen {
            subject,
            cases: Union::new_weighted(alts).boxed(),
            fill: Arc::new(
                generate::resolve_constraints(schema, subject, &general).unwrap_or_default(),
            ),
        }
    }

    /// Cases with values for every field the record lacks.
    fn with_fills(&self, rules: &Arc<RuleSet>) -> BoxedStrategy<(GenCase, Vec<Json>)> {
        let rules = rules.clone();
        let subject = self.subject;
        let fill = self.fill.clone();
        self.cases
            .clone()
            .prop_flat_map(move |case| {
                let gaps = missing_fields(&rules.schema, subject, &case.record);
                let values: Vec<BoxedStrategy<Json>> = gaps
                    .iter()
                    .map(|m| match field_def(&rules.schema, m) {
                        Some(field) => field_value_strategy(
                            &rules.schema,
                            field,
                            &m.schema_path,
                            &fill,
                            case.reference_date,
                        ),
                        // Not reached: the entries are from this schema.
                        None => Just(Json::Null).boxed(),
                    })
                    .collect();
                (Just(case), values)
            })
            .boxed()
    }
}

/// How far a case gets into a group of policies: the clauses that are not false
/// (for per-item policies, in the best item), and a bonus for each eligible policy.
fn reach(rules: &RuleSet, subject: usize, group: &[usize], case: &GenCase) -> i64 {
    let Ok(rec) = record::read_record(&rules.schema, subject, &case.record) else {
        return i64::MIN;
    };
    let mut score = 0i64;
    for &p in group {
        let Some(def) = rules.program.policies.get(p) else {
            continue;
        };
        let n = i64::try_from(def.clauses.len()).unwrap_or(0) + 1;
        let d = eval::evaluate_policy(rules, p, &rec, case.reference_date, EvalOptions::default());
        let not_false = |failed: &[String]| n - i64::try_from(failed.len()).unwrap_or(n);
        let mut best = not_false(&d.failed);
        if let Some((_, items)) = &d.per_item {
            best = items
                .iter()
                .map(|(_, it)| not_false(&it.failed))
                .max()
                .unwrap_or(1);
        }
        // An evaluation error hides clauses that are not really true.
        if d.error.is_some() {
            best -= n / 2 + 1;
        }
        score += best + if d.outcome == Outcome::Eligible { 2 } else { 0 };
    }
    score
}

fn rng_for(seed: u64, property: Property, subject: usize) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = property.salt();
    bytes[9] = u8::try_from(subject).unwrap_or(u8::MAX);
    bytes[16..24].copy_from_slice(&seed.rotate_left(17).to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// What went wrong in one case.
struct Failure {
    message: String,
    policies: Vec<String>,
    filled: Option<Json>,
}

impl Failure {
    fn new(message: String, policies: Vec<String>) -> Self {
        Failure {
            message,
            policies,
            filled: None,
        }
    }
}

fn run_one(
    rules: &Arc<RuleSet>,
    gen: &CaseGen,
    property: Property,
    opts: &PropertyOptions,
) -> PropertyResult {
    let start = Instant::now();
    let config = Config {
        cases: opts.cases,
        failure_persistence: None,
        max_shrink_iters: opts.max_shrink_iters,
        max_shrink_time: 60_000,
        max_local_rejects: 1_000_000,
        max_global_rejects: opts.cases.saturating_mul(4).max(1024),
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(opts.seed, property, gen.subject));
    let subject = gen.subject;
    let subject_name = rules
        .schema
        .subjects
        .get(subject)
        .map_or_else(String::new, |s| s.name.clone());
    let to_tc = |r: Result<(), Failure>| r.map_err(|f| TestCaseError::fail(f.message));
    let outcome: Result<(), (String, GenCase, Vec<Json>)> = match property {
        Property::Soundness | Property::MissingListed | Property::MissingFillAll => {
            let strategy = gen.with_fills(rules);
            let r = runner.run(&strategy, |(case, fills)| {
                to_tc(check(rules, subject, property, &case, &fills))
            });
            match r {
                Ok(()) => Ok(()),
                Err(TestError::Fail(why, (case, fills))) => {
                    Err((why.message().to_string(), case, fills))
                }
                Err(TestError::Abort(why)) => {
                    Err((format!("aborted: {}", why.message()), dummy(), vec![]))
                }
            }
        }
        _ => {
            let r = runner.run(&gen.cases, |case| {
                to_tc(check(rules, subject, property, &case, &[]))
            });
            match r {
                Ok(()) => Ok(()),
                Err(TestError::Fail(why, case)) => Err((why.message().to_string(), case, vec![])),
                Err(TestError::Abort(why)) => {
                    Err((format!("aborted: {}", why.message()), dummy(), vec![]))
                }
            }
        }
    };
    let mut result = PropertyResult {
        property,
        subject: subject_name,
        cases: opts.cases,
        elapsed: Duration::ZERO,
        failure: None,
        aborted: None,
    };
    match outcome {
        Ok(()) => {}
        Err((why, _, _)) if why.starts_with("aborted: ") => result.aborted = Some(why),
        Err((why, case, fills)) => {
            let f = match check(rules, subject, property, &case, &fills) {
                Err(f) => f,
                // A panic, or a failure that did not repeat: report what proptest said.
                Ok(()) => Failure::new(why, vec![]),
            };
            result.failure = Some(counterexample(rules, subject, property, &case, f));
        }
    }
    result.elapsed = start.elapsed();
    result
}

fn dummy() -> GenCase {
    GenCase {
        reference_date: NaiveDate::default(),
        record: Json::Null,
    }
}

/// Reads and evaluates a record: every policy of its subject kind.
fn decide(
    rules: &RuleSet,
    subject: usize,
    record: &Json,
    date: NaiveDate,
    trace: bool,
) -> Result<Vec<Decision>, String> {
    let rec = record::read_record(&rules.schema, subject, record).map_err(|e| e.to_string())?;
    Ok(eval::evaluate_all(
        rules,
        &rec,
        date,
        EvalOptions {
            trace,
            ..Default::default()
        },
    ))
}

/// One generated case under test: the rule set, the subject kind, the case, the values
/// to fill its gaps with, and the decisions it gets.
#[derive(Clone, Copy)]
struct Trial<'a> {
    rules: &'a RuleSet,
    subject: usize,
    case: &'a GenCase,
    fills: &'a [Json],
    date: NaiveDate,
    ds: &'a [Decision],
}

fn check(
    rules: &RuleSet,
    subject: usize,
    property: Property,
    case: &GenCase,
    fills: &[Json],
) -> Result<(), Failure> {
    let date = case.reference_date;
    let ds = decide(rules, subject, &case.record, date, false).map_err(|e| {
        Failure::new(
            format!("the generator made a record the schema rejects: {e}"),
            vec![],
        )
    })?;
    let t = Trial {
        rules,
        subject,
        case,
        fills,
        date,
        ds: &ds,
    };
    match property {
        Property::Amounts => amounts_non_negative(&t),
        Property::Determinism => deterministic(&t),
        Property::EligibleClauses => eligible_clauses_true(&t),
        Property::Excludes => excludes_hold(&t),
        Property::Soundness => sound_when_filled(&t),
        Property::MissingFillAll => decided_when_all_filled(&t),
        Property::MissingListed => missing_listed(&t),
    }
}

/// No amount, a policy's or an item's, is negative.
fn amounts_non_negative(t: &Trial) -> Result<(), Failure> {
    let Trial { ds, .. } = *t;
    for d in ds {
        let mut amounts: Vec<(String, &eval::Amount)> = vec![];
        if let Some(a) = &d.amount {
            amounts.push((d.policy.clone(), a));
        }
        if let Some((_, items)) = &d.per_item {
            for (id, it) in items {
                if let Some(a) = &it.amount {
                    amounts.push((format!("{} [{id}]", d.policy), a));
                }
            }
        }
        for (who, a) in amounts {
            if a.value.is_sign_negative() && !a.value.is_zero() {
                return Err(Failure::new(
                    format!("{who}: negative amount {}", a.value),
                    vec![d.policy.clone()],
                ));
            }
        }
    }
    Ok(())
}

/// The same record decides the same twice, and each policy decided alone as among all.
fn deterministic(t: &Trial) -> Result<(), Failure> {
    let Trial {
        rules,
        subject,
        case,
        date,
        ..
    } = *t;
    let a =
        decide(rules, subject, &case.record, date, true).map_err(|e| Failure::new(e, vec![]))?;
    let b =
        decide(rules, subject, &case.record, date, true).map_err(|e| Failure::new(e, vec![]))?;
    let (ja, jb) = (
        serde_json::to_string(&a).unwrap_or_default(),
        serde_json::to_string(&b).unwrap_or_default(),
    );
    if ja != jb {
        return Err(Failure::new(
            "two evaluations of the same record give different output".into(),
            a.iter().map(|d| d.policy.clone()).collect(),
        ));
    }
    let rec = record::read_record(&rules.schema, subject, &case.record)
        .map_err(|e| Failure::new(e.to_string(), vec![]))?;
    for d in &a {
        let Some(&i) = rules.policy_index.get(&d.policy) else {
            continue;
        };
        let alone = eval::evaluate_policy(
            rules,
            i,
            &rec,
            date,
            EvalOptions {
                trace: true,
                ..Default::default()
            },
        );
        let (x, y) = (
            serde_json::to_string(d).unwrap_or_default(),
            serde_json::to_string(&alone).unwrap_or_default(),
        );
        if x != y {
            return Err(Failure::new(
                format!(
                    "{}: decided alone it gives {y}, among all policies {x}",
                    d.policy
                ),
                vec![d.policy.clone()],
            ));
        }
    }
    Ok(())
}

/// Every eligible decision (a policy's, an item's, a bundle member's) has every clause true.
fn eligible_clauses_true(t: &Trial) -> Result<(), Failure> {
    let Trial {
        rules,
        subject,
        case,
        date,
        ..
    } = *t;
    let rec = record::read_record(&rules.schema, subject, &case.record)
        .map_err(|e| Failure::new(e.to_string(), vec![]))?;
    let traced = EvalOptions {
        trace: true,
        ..Default::default()
    };
    let mut decisions = eval::evaluate_all(rules, &rec, date, traced);
    // The policy members of every bundle about the subject, with their overrides.
    for (b, def) in rules.program.bundles.iter().enumerate() {
        if def.subject != subject {
            continue;
        }
        let form = eval::prefill(rules, b, &rec, date, traced);
        for (_, _, m) in form.members {
            if let eval::MemberStatus::Policy { decision, .. } = m {
                decisions.push(*decision);
            }
        }
    }
    for d in &decisions {
        let items = d.per_item.iter().flat_map(|(_, items)| items.iter());
        let mut traces: Vec<(String, Outcome, Option<&eval::Trace>)> =
            vec![(d.policy.clone(), d.outcome, d.trace.as_ref())];
        traces.extend(items.map(|(id, it)| {
            (
                format!("{} [{id}]", d.policy),
                it.outcome,
                it.trace.as_ref(),
            )
        }));
        for (who, outcome, trace) in traces {
            let Some(t) = trace.filter(|_| outcome == Outcome::Eligible) else {
                continue;
            };
            if let Some(c) = t.clauses.iter().find(|c| c.value != eval::Truth::True) {
                return Err(Failure::new(
                    format!("{who} is eligible with clause {} {:?}", c.id, c.value),
                    vec![d.policy.clone()],
                ));
            }
        }
    }
    Ok(())
}

/// Policies declared mutually exclusive are never both eligible.
fn excludes_hold(t: &Trial) -> Result<(), Failure> {
    let Trial { rules, ds, .. } = *t;
    for d in ds {
        if d.outcome != Outcome::Eligible {
            continue;
        }
        let Some(p) = rules.policy_def(&d.policy) else {
            continue;
        };
        for other in &p.excludes {
            if ds
                .iter()
                .any(|e| &e.policy == other && e.outcome == Outcome::Eligible)
            {
                return Err(Failure::new(
                    format!(
                        "{} and {other} are both eligible, but {} excludes {other}",
                        d.policy, d.policy
                    ),
                    vec![d.policy.clone(), other.clone()],
                ));
            }
        }
    }
    Ok(())
}

/// Filling the missing fields never changes a decided outcome.
fn sound_when_filled(t: &Trial) -> Result<(), Failure> {
    let Trial {
        rules,
        subject,
        case,
        fills,
        date,
        ds,
        ..
    } = *t;
    let (filled, after) = decide_filled(rules, subject, &case.record, fills, date)?;
    for (a, b) in ds.iter().zip(&after) {
        if let Some(msg) = sound(a, b) {
            return Err(Failure {
                message: msg,
                policies: vec![a.policy.clone()],
                filled: Some(filled),
            });
        }
    }
    Ok(())
}

/// With every missing field filled in, nothing is undetermined except on an error.
fn decided_when_all_filled(t: &Trial) -> Result<(), Failure> {
    let Trial {
        rules,
        subject,
        case,
        fills,
        date,
        ..
    } = *t;
    let (filled, after) = decide_filled(rules, subject, &case.record, fills, date)?;
    for d in &after {
        let bad = |outcome: Outcome, err: bool| outcome == Outcome::Undetermined && !err;
        let mut msg = None;
        if bad(d.outcome, d.error.is_some()) {
            msg = Some(format!(
                "{} is undetermined (missing {:?}) although the record lacks no field",
                d.policy, d.missing
            ));
        }
        if let Some((_, items)) = &d.per_item {
            for (id, it) in items {
                if msg.is_none() && bad(it.outcome, it.error.is_some()) {
                    msg = Some(format!(
                        "{} [{id}] is undetermined (missing {:?}) although the record lacks no field",
                        d.policy, it.missing
                    ));
                }
            }
        }
        if let Some(message) = msg {
            return Err(Failure {
                message,
                policies: vec![d.policy.clone()],
                filled: Some(filled),
            });
        }
    }
    Ok(())
}

/// An undetermined decision lists fields the record lacks, and filling them, round after round, decides it or asks for other fields.
fn missing_listed(t: &Trial) -> Result<(), Failure> {
    let Trial {
        rules,
        subject,
        case,
        fills,
        date,
        ds,
        ..
    } = *t;
    let gaps = missing_fields(&rules.schema, subject, &case.record);
    for d in ds {
        if d.outcome != Outcome::Undetermined {
            continue;
        }
        let fail = |message: String, filled: Option<Json>| Failure {
            message,
            policies: vec![d.policy.clone()],
            filled,
        };
        if d.missing.is_empty() && d.error.is_none() {
            return Err(fail(
                format!(
                    "{} is undetermined but lists no missing field and no error",
                    d.policy
                ),
                None,
            ));
        }
        if let Some((_, items)) = &d.per_item {
            for (id, it) in items {
                if it.outcome == Outcome::Undetermined
                    && it.missing.is_empty()
                    && it.error.is_none()
                {
                    return Err(fail(
                        format!(
                            "{} [{id}] is undetermined but lists no missing field and no error",
                            d.policy
                        ),
                        None,
                    ));
                }
            }
        }
        let Some(&pi) = rules.policy_index.get(&d.policy) else {
            continue;
        };
        // Fill exactly the listed fields, round after round.
        let mut record = case.record.clone();
        let mut filled: BTreeSet<String> = BTreeSet::new();
        let mut listed = d.missing.clone();
        let mut round = 0;
        loop {
            round += 1;
            for p in &listed {
                let Some((k, gap)) = gaps.iter().enumerate().find(|(_, g)| &g.path == p) else {
                    return Err(fail(
                        format!(
                            "{} lists `{p}` as missing (round {round}), but the record has that field",
                            d.policy
                        ),
                        Some(record),
                    ));
                };
                if !filled.insert(p.clone()) {
                    return Err(fail(
                        format!(
                            "{} still lists `{p}` as missing after it was filled in (round {round})",
                            d.policy
                        ),
                        Some(record),
                    ));
                }
                if let Some(v) = fills.get(k) {
                    generate::fill(&mut record, gap, v.clone());
                }
            }
            let rec = record::read_record(&rules.schema, subject, &record).map_err(|e| {
                fail(
                    format!("the filled record is rejected: {e}"),
                    Some(record.clone()),
                )
            })?;
            let next = eval::evaluate_policy(rules, pi, &rec, date, EvalOptions::default());
            if next.outcome != Outcome::Undetermined || next.error.is_some() {
                break;
            }
            if next.missing.is_empty() {
                return Err(fail(
                    format!(
                        "{}: after filling {:?}, undetermined with no missing field and no error",
                        d.policy, listed
                    ),
                    Some(record),
                ));
            }
            if round > gaps.len() + 1 {
                return Err(fail(
                    format!("{}: filling the listed fields does not end", d.policy),
                    Some(record),
                ));
            }
            listed = next.missing;
        }
    }
    Ok(())
}

/// The record with every gap filled by the value generated for it.
/// The record with every field it lacks filled in, and its decisions.
fn decide_filled(
    rules: &RuleSet,
    subject: usize,
    record: &Json,
    fills: &[Json],
    date: NaiveDate,
) -> Result<(Json, Vec<Decision>), Failure> {
    let gaps = missing_fields(&rules.schema, subject, record);
    let filled = fill_all(record, &gaps, fills);
    let after = decide(rules, subject, &filled, date, false).map_err(|e| Failure {
        message: format!("the filled record is rejected: {e}"),
        policies: vec![],
        filled: Some(filled.clone()),
    })?;
    Ok((filled, after))
}

fn fill_all(record: &Json, gaps: &[MissingField], fills: &[Json]) -> Json {
    let mut out = record.clone();
    for (g, v) in gaps.iter().zip(fills) {
        generate::fill(&mut out, g, v.clone());
    }
    out
}

/// Why decision `b` (on the filled record) overturns decision `a`, if it does.
fn sound(a: &Decision, b: &Decision) -> Option<String> {
    let p = &a.policy;
    if a.outcome == Outcome::Undetermined {
        // Items decided before must stay decided the same way.
        return items_sound(a, b);
    }
    if a.outcome != b.outcome {
        return Some(format!(
            "{p} is {} with fields missing, {} once they are filled in",
            a.outcome.as_str(),
            b.outcome.as_str()
        ));
    }
    if a.per_item.is_none() {
        if a.outcome == Outcome::NotEligible {
            if let Some(c) = a.failed.iter().find(|c| !b.failed.contains(c)) {
                return Some(format!(
                    "{p}: clause {c} is false with fields missing, not once they are filled in"
                ));
            }
        }
        if a.outcome == Outcome::Eligible && a.amount != b.amount {
            return Some(format!(
                "{p}: the amount changes from {:?} to {:?} when missing fields are filled in",
                a.amount.as_ref().map(|x| x.value),
                b.amount.as_ref().map(|x| x.value)
            ));
        }
    }
    items_sound(a, b)
}

fn items_sound(a: &Decision, b: &Decision) -> Option<String> {
    let (Some((_, xs)), Some((_, ys))) = (&a.per_item, &b.per_item) else {
        return None;
    };
    for (id, x) in xs {
        if x.outcome == Outcome::Undetermined {
            continue;
        }
        match ys.iter().find(|(j, _)| j == id) {
            Some((_, y)) => {
                if x.outcome != y.outcome {
                    return Some(format!(
                        "{} [{id}] is {} with fields missing, {} once they are filled in",
                        a.policy,
                        x.outcome.as_str(),
                        y.outcome.as_str()
                    ));
                }
                if let Some(c) = x.failed.iter().find(|c| !y.failed.contains(c)) {
                    return Some(format!(
                        "{} [{id}]: clause {c} is false with fields missing, not once they are filled in",
                        a.policy
                    ));
                }
                if x.outcome == Outcome::Eligible && x.amount != y.amount {
                    return Some(format!(
                        "{} [{id}]: the amount changes when missing fields are filled in",
                        a.policy
                    ));
                }
            }
            // Filling the field a `where` filter needed may leave the item out; an item
            // that was not eligible may go.
            None if x.outcome == Outcome::NotEligible => {}
            None => {
                return Some(format!(
                    "{} [{id}] is eligible with fields missing and gone once they are filled in",
                    a.policy
                ))
            }
        }
    }
    None
}

// ------------------------------------------------------------ reporting

fn counterexample(
    rules: &RuleSet,
    subject: usize,
    property: Property,
    case: &GenCase,
    f: Failure,
) -> Counterexample {
    let date = case.reference_date;
    let policies: Vec<String> = if f.policies.is_empty() {
        rules
            .program
            .policies
            .iter()
            .filter(|p| p.subject == subject)
            .map(|p| p.id.clone())
            .collect()
    } else {
        f.policies.clone()
    };
    let subject_name = rules
        .schema
        .subjects
        .get(subject)
        .map_or_else(String::new, |s| s.name.clone());
    let mut yaml = String::new();
    let mut trace = String::new();
    let mut records = vec![("", &case.record)];
    if let Some(filled) = &f.filled {
        records.push(("-filled", filled));
    }
    for (suffix, record) in records {
        let decisions = decide(rules, subject, record, date, true).unwrap_or_default();
        let mut expected = serde_json::Map::new();
        let mut traces = serde_json::Map::new();
        for d in decisions.iter().filter(|d| policies.contains(&d.policy)) {
            let mut j = super::decision_json(d);
            if let Json::Object(m) = &mut j {
                m.shift_remove("policy");
                if let Some(t) = m.shift_remove("trace") {
                    traces.insert(d.policy.clone(), per_item_traces(t, d));
                }
                if let Some(e) = m.shift_remove("error") {
                    traces.insert(format!("{} error", d.policy), e);
                }
                strip_item_traces(m);
            }
            expected.insert(d.policy.clone(), j);
        }
        let id = format!("PROP-{}{suffix}", property.name());
        let title = if suffix.is_empty() {
            format!("{}: {}", property.name(), f.message)
        } else {
            format!(
                "{} (the same record with the missing fields filled in)",
                property.name()
            )
        };
        let mut case_map = serde_json::Map::new();
        case_map.insert("id".into(), Json::from(id.clone()));
        case_map.insert("title".into(), Json::from(title));
        case_map.insert("reference_date".into(), Json::from(date.to_string()));
        case_map.insert("subject".into(), Json::from(subject_name.clone()));
        case_map.insert("record".into(), record.clone());
        case_map.insert("expected".into(), Json::Object(expected));
        yaml.push_str("  # expected: what the engine decides now; correct it by hand\n");
        yaml.push_str(&indent(
            &to_yaml(&Json::Array(vec![Json::Object(case_map)])),
            2,
        ));
        trace.push_str(&format!("# {id}\n"));
        trace.push_str(&to_yaml(&Json::Object(traces)));
    }
    Counterexample {
        message: f.message,
        policies,
        reference_date: date,
        record: case.record.clone(),
        filled: f.filled,
        case_yaml: yaml,
        trace,
    }
}

/// A decision's trace, with the per-item traces beside it.
fn per_item_traces(trace: Json, d: &Decision) -> Json {
    let Some((key, items)) = &d.per_item else {
        return trace;
    };
    let mut m = serde_json::Map::new();
    m.insert("policy".into(), trace);
    let mut per = serde_json::Map::new();
    for (id, it) in items {
        if let Some(t) = &it.trace {
            per.insert(id.clone(), serde_json::to_value(t).unwrap_or(Json::Null));
        }
    }
    m.insert(key.clone(), Json::Object(per));
    Json::Object(m)
}

fn strip_item_traces(m: &mut serde_json::Map<String, Json>) {
    for (_, v) in m.iter_mut() {
        if let Json::Object(items) = v {
            for (_, it) in items.iter_mut() {
                if let Json::Object(x) = it {
                    x.shift_remove("trace");
                    x.shift_remove("error");
                }
            }
        }
    }
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}

/// Writes a JSON value as block-style YAML (numbers keep their exact text).
pub fn to_yaml(v: &Json) -> String {
    let mut out = String::new();
    yaml_value(v, 0, &mut out);
    out
}

fn yaml_scalar(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            let plain = serde_yaml::to_string(s).unwrap_or_default();
            let plain = plain.trim_end_matches('\n');
            if plain.contains('\n') || plain.starts_with('|') || plain.starts_with('>') {
                serde_json::to_string(s).unwrap_or_default()
            } else {
                plain.to_string()
            }
        }
        Json::Array(a) if a.is_empty() => "[]".into(),
        Json::Object(m) if m.is_empty() => "{}".into(),
        Json::Array(a) => format!(
            "[{}]",
            a.iter().map(yaml_scalar).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    yaml_scalar(&Json::from(k.as_str())),
                    yaml_scalar(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn is_flat(v: &Json) -> bool {
    match v {
        Json::Array(a) => a.iter().all(|x| !x.is_array() && !x.is_object()),
        Json::Object(m) => m.is_empty(),
        _ => true,
    }
}

fn yaml_value(v: &Json, ind: usize, out: &mut String) {
    let pad = " ".repeat(ind);
    match v {
        Json::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let key = yaml_scalar(&Json::from(k.as_str()));
                if is_flat(x) {
                    out.push_str(&format!("{pad}{key}: {}\n", yaml_scalar(x)));
                } else {
                    out.push_str(&format!("{pad}{key}:\n"));
                    yaml_value(x, ind + 2, out);
                }
            }
        }
        Json::Array(a) if !a.is_empty() && !is_flat(v) => {
            for x in a {
                let mut inner = String::new();
                yaml_value(x, ind + 2, &mut inner);
                let inner = inner.trim_start_matches(' ');
                if is_flat(x) && !x.is_object() {
                    out.push_str(&format!("{pad}- {}\n", yaml_scalar(x)));
                } else {
                    out.push_str(&format!("{pad}- {inner}"));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", yaml_scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ItemDecision;

    fn decision(outcome: Outcome, failed: &[&str]) -> Decision {
        Decision {
            policy: "p".into(),
            outcome,
            failed: failed.iter().map(|s| s.to_string()).collect(),
            missing: vec![],
            amount: None,
            reports: vec![],
            per_item: None,
            error: None,
            trace: None,
        }
    }

    fn item(outcome: Outcome) -> ItemDecision {
        ItemDecision {
            outcome,
            failed: vec![],
            missing: vec![],
            amount: None,
            error: None,
            trace: None,
        }
    }

    #[test]
    fn soundness_sees_an_overturned_decision() {
        let a = decision(Outcome::NotEligible, &["C3"]);
        assert!(sound(&a, &decision(Outcome::NotEligible, &["C3", "C5"])).is_none());
        assert!(sound(&a, &decision(Outcome::Eligible, &[])).is_some());
        assert!(sound(&a, &decision(Outcome::NotEligible, &["C5"])).is_some());
        // an undetermined decision may go either way
        let u = decision(Outcome::Undetermined, &[]);
        assert!(sound(&u, &decision(Outcome::Eligible, &[])).is_none());
    }

    #[test]
    fn soundness_sees_an_overturned_item() {
        let mut a = decision(Outcome::Undetermined, &[]);
        a.per_item = Some((
            "per_child".into(),
            vec![
                ("K1".into(), item(Outcome::Eligible)),
                ("K2".into(), item(Outcome::NotEligible)),
            ],
        ));
        let mut b = a.clone();
        b.per_item = Some((
            "per_child".into(),
            vec![("K1".into(), item(Outcome::Eligible))],
        ));
        assert!(
            sound(&a, &b).is_none(),
            "a not-eligible item may be filtered out"
        );
        b.per_item = Some((
            "per_child".into(),
            vec![("K1".into(), item(Outcome::NotEligible))],
        ));
        assert!(sound(&a, &b).is_some());
    }

    #[test]
    fn yaml_is_read_back_as_the_same_value() {
        let v = serde_json::json!({
            "id": "X", "title": "a: b # c", "n": 12, "d": "2025-01-01", "t": "true",
            "list": [1, 2], "items": [{"k": "K1", "v": null}, {}], "empty": [],
            "zh": "上海", "nested": {"a": {"b": [true, false]}}
        });
        let yaml = to_yaml(&v);
        let back: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("yaml");
        assert_eq!(crate::record::yaml_to_json(&back), v, "{yaml}");
    }
}
