//! Semantic tables of the evaluator, through small inline rule sets and a tiny schema:
//! Kleene logic, none vs unknown, `failed` / `missing`, the calendar, exact decimals,
//! decision errors, dated parameters, per-item aggregation, determinism and masking.
//!
//! Everything goes through the library: `Schema::from_yaml` → `load::check_sources`
//! → `record::read_record` → `eval::evaluate_policy` / `evaluate_all`. Every decision
//! a table asserts on is also made by the batch's fast tier, which must agree with it
//! (so that each table holds for both tiers, not only the reference evaluator).

use chrono::NaiveDate;
use mianshen::internals::eval;
use mianshen::internals::fast::{FastDecider, FastRules, Verdict};
use mianshen::internals::load::check_sources;
use mianshen::internals::record;
use mianshen::internals::schema::Schema;
use mianshen::{Decision, EvalOptions, Outcome, Record, RuleSet, Truth};
use serde_json::{json, Value as Json};
use std::path::PathBuf;

/// A schema with required, optional and defaulted fields of every type.
const SCHEMA: &str = r#"
enums:
  color: [red, green, blue]
subjects:
  person:
    id: person.id
    fields:
      person:
        fields:
          id: {type: string}
          birth_date: {type: date}
          resident: {type: bool}
          id_number: {type: string, sensitive: true}
          secret_date: {type: date, optional: true, sensitive: true}
          secret_color: {type: color, optional: true, sensitive: true}
      # required
      a: {type: bool}
      b: {type: bool}
      income: {type: decimal}
      months: {type: int}
      color: {type: color}
      start: {type: date}
      name: {type: string}
      # optional: absent is a known "none"
      opt_income: {type: decimal, optional: true}
      opt_months: {type: int, optional: true}
      opt_flag: {type: bool, optional: true}
      opt_date: {type: date, optional: true}
      opt_color: {type: color, optional: true}
      # defaulted: absent takes the default
      def_months: {type: int, default: 6}
      def_rate: {type: decimal, default: 0.25}
      def_flag: {type: bool, default: false}
      def_color: {type: color, default: green}
      def_date: {type: date, default: 2020-01-31}
      def_name: {type: string, default: none-given}
      tags: {type: "list<color>", default: []}
      items:
        default: []
        items:
          key: id
          fields:
            id: {type: string}
            ok: {type: bool}
            amount: {type: decimal}
"#;

fn schema() -> Schema {
    Schema::from_yaml(SCHEMA).expect("the test schema is valid")
}

/// Checks and compiles rule text; panics with every rendered diagnostic otherwise.
fn rules(src: &str) -> RuleSet {
    let checked = check_sources(
        schema(),
        SCHEMA,
        vec![(PathBuf::from("inline.rules"), src.to_string())],
    );
    match checked.rules {
        Some(r) => r,
        None => {
            let text: String = checked
                .diagnostics
                .iter()
                .map(|d| d.render(&checked.sources))
                .collect();
            panic!("inline rules do not check:\n{text}");
        }
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn record(rules: &RuleSet, value: Json) -> Record {
    let subject = record::detect_subject(rules.schema(), &value, Some("person")).unwrap();
    record::read_record(rules.schema(), subject, &value).expect("the test record is valid")
}

/// Decides one policy, with a trace; the fast tier must agree.
fn decide(rules: &RuleSet, policy: &str, value: Json, on: &str) -> Decision {
    let rec = record(rules, value.clone());
    let index = rules
        .policy_number(policy)
        .unwrap_or_else(|| panic!("no policy {policy}"));
    let d = eval::evaluate_policy(
        rules,
        index,
        &rec,
        date(on),
        EvalOptions {
            trace: true,
            ..Default::default()
        },
    );
    fast_tier_agrees(rules, index, &value, on, &d);
    d
}

/// The fast tier's verdict on `value` for policy `index` is the reference decision
/// `d` (or no verdict at all: the reference evaluator decides then).
fn fast_tier_agrees(rules: &RuleSet, index: usize, value: &Json, on: &str, d: &Decision) {
    let fast = FastRules::new(rules, date(on));
    let mut decider = FastDecider::new(rules, &fast);
    if decider.read(&value.to_string(), None).is_err() {
        return;
    }
    let verdict = decider.decide().get(index).copied();
    let agrees = match verdict {
        Some(Verdict::Eligible { amount, .. }) => {
            d.outcome == Outcome::Eligible
                && d.error.is_none()
                && amount.map(|(_, a)| a) == d.amount.as_ref().map(|a| a.value)
        }
        Some(Verdict::NotEligible) => d.outcome == Outcome::NotEligible,
        Some(Verdict::Unknown) => d.outcome == Outcome::Undetermined,
        Some(Verdict::Deferred) => true,
        Some(Verdict::NotApplicable) | None => false,
    };
    assert!(
        agrees,
        "policy {} on {on}: the fast tier says {verdict:?}, the reference evaluator {:?} {:?}\nrecord: {value}",
        d.policy, d.outcome, d.amount
    );
}

fn to_json(d: &Decision) -> Json {
    serde_json::to_value(d).unwrap()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A person record with an id, plus the given top-level fields.
fn rec(extra: Json) -> Json {
    let mut base = json!({"person": {"id": "T1"}});
    if let (Some(m), Json::Object(x)) = (base.as_object_mut(), extra) {
        for (k, v) in x {
            if k == "person" {
                let p = m.get_mut("person").unwrap().as_object_mut().unwrap();
                for (pk, pv) in v.as_object().unwrap() {
                    p.insert(pk.clone(), pv.clone());
                }
            } else {
                m.insert(k, v);
            }
        }
    }
    base
}

/// A policy in force from 2020-01-01 with the given body.
fn policy(id: &str, body: &str) -> String {
    format!(
        "policy {id} \"{id}\" {{\n  subject person\n  mode no_application\n  effective from 2020-01-01\n{body}\n}}\n"
    )
}

const ON: &str = "2025-06-30";

// ------------------------------------------------------------------ Kleene logic

/// A truth value of the inputs a and b: a known bool, or absent (unknown).
#[derive(Clone, Copy, Debug)]
enum T3 {
    T,
    F,
    U,
}

fn field(name: &str, v: T3) -> Option<(String, Json)> {
    match v {
        T3::T => Some((name.to_string(), json!(true))),
        T3::F => Some((name.to_string(), json!(false))),
        T3::U => None,
    }
}

fn ab(a: T3, b: T3) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("person".into(), json!({"id": "K"}));
    for (k, v) in [field("a", a), field("b", b)].into_iter().flatten() {
        m.insert(k, v);
    }
    Json::Object(m)
}

/// Asserts a one-clause decision: T → eligible, F → not_eligible [C1],
/// U(missing) → undetermined with exactly those missing paths.
fn assert_truth(d: &Decision, want: T3, missing: &[&str], what: &str) {
    match want {
        T3::T => {
            assert_eq!(d.outcome, Outcome::Eligible, "{what}: {d:?}");
            assert!(d.failed.is_empty() && d.missing.is_empty(), "{what}: {d:?}");
        }
        T3::F => {
            assert_eq!(d.outcome, Outcome::NotEligible, "{what}: {d:?}");
            assert_eq!(strs(&d.failed), ["C1"], "{what}");
            assert!(d.missing.is_empty(), "{what}: {d:?}");
        }
        T3::U => {
            assert_eq!(d.outcome, Outcome::Undetermined, "{what}: {d:?}");
            assert_eq!(strs(&d.missing), missing, "{what}");
            assert!(d.failed.is_empty(), "{what}: {d:?}");
        }
    }
    let c1 = &d.trace.as_ref().unwrap().clauses[1];
    assert_eq!(c1.id, "C1");
    let truth = match want {
        T3::T => Truth::True,
        T3::F => Truth::False,
        T3::U => Truth::Unknown,
    };
    assert_eq!(c1.value, truth, "{what}: trace value");
}

fn kleene_rules() -> RuleSet {
    rules(&format!(
        "{}{}{}",
        policy("p-and", "  C1 \"and\": a and b"),
        policy("p-or", "  C1 \"or\": a or b"),
        policy("p-not", "  C1 \"not\": not a"),
    ))
}

#[test]
fn kleene_and_table() {
    use T3::*;
    let r = kleene_rules();
    // (a, b, result, missing)
    let table: [(T3, T3, T3, &[&str]); 9] = [
        (T, T, T, &[]),
        (T, F, F, &[]),
        (T, U, U, &["b"]),
        (F, T, F, &[]),
        (F, F, F, &[]),
        (F, U, F, &[]),
        (U, T, U, &["a"]),
        (U, F, F, &[]),
        (U, U, U, &["a", "b"]),
    ];
    for (a, b, want, missing) in table {
        let d = decide(&r, "p-and", ab(a, b), ON);
        assert_truth(&d, want, missing, &format!("{a:?} and {b:?}"));
    }
}

#[test]
fn kleene_or_table() {
    use T3::*;
    let r = kleene_rules();
    let table: [(T3, T3, T3, &[&str]); 9] = [
        (T, T, T, &[]),
        (T, F, T, &[]),
        (T, U, T, &[]),
        (F, T, T, &[]),
        (F, F, F, &[]),
        (F, U, U, &["b"]),
        (U, T, T, &[]),
        (U, F, U, &["a"]),
        (U, U, U, &["a", "b"]),
    ];
    for (a, b, want, missing) in table {
        let d = decide(&r, "p-or", ab(a, b), ON);
        assert_truth(&d, want, missing, &format!("{a:?} or {b:?}"));
    }
}

#[test]
fn kleene_not_table() {
    use T3::*;
    let r = kleene_rules();
    for (a, want, missing) in [(T, F, &[][..]), (F, T, &[][..]), (U, U, &["a"][..])] {
        let d = decide(&r, "p-not", ab(a, T), ON);
        assert_truth(&d, want, missing, &format!("not {a:?}"));
    }
}

#[test]
fn quantifiers_are_kleene_too() {
    // any: a true item decides even if another item is unknown; all: a false one does.
    let r = rules(&format!(
        "{}{}",
        policy("p-any", "  C1 \"any\": any i in items: i.ok"),
        policy("p-all", "  C1 \"all\": all i in items: i.ok"),
    ));
    let items = |oks: &[Option<bool>]| {
        let list: Vec<Json> = oks
            .iter()
            .enumerate()
            .map(|(n, ok)| match ok {
                Some(b) => json!({"id": format!("I{n}"), "ok": b, "amount": 1}),
                None => json!({"id": format!("I{n}"), "amount": 1}),
            })
            .collect();
        rec(json!({ "items": list }))
    };
    let d = decide(&r, "p-any", items(&[None, Some(true)]), ON);
    assert_eq!(d.outcome, Outcome::Eligible);
    let d = decide(&r, "p-any", items(&[None, Some(false)]), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["items[I0].ok"]);
    let d = decide(&r, "p-all", items(&[None, Some(false)]), ON);
    assert_eq!(d.outcome, Outcome::NotEligible);
    let d = decide(&r, "p-all", items(&[None, Some(true)]), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["items[I0].ok"]);
    // Over no items: any is false, all is true.
    assert_eq!(
        decide(&r, "p-any", items(&[]), ON).outcome,
        Outcome::NotEligible
    );
    assert_eq!(
        decide(&r, "p-all", items(&[]), ON).outcome,
        Outcome::Eligible
    );
}

#[test]
fn strict_operators_are_unknown_even_when_the_known_values_would_fix_the_result() {
    // policies.md §0.1.2: arithmetic, comparison, max/min with an absent field is unknown.
    let r = rules(&format!(
        "{}{}",
        policy("p-mul", "  C1 \"times zero\": income * 0 == 0"),
        policy("p-max", "  C1 \"max\": max(income, 5000) >= 5000"),
    ));
    for p in ["p-mul", "p-max"] {
        let d = decide(&r, p, rec(json!({})), ON);
        assert_eq!(d.outcome, Outcome::Undetermined, "{p}");
        assert_eq!(strs(&d.missing), ["income"], "{p}");
    }
    assert_eq!(
        decide(&r, "p-max", rec(json!({"income": 10})), ON).outcome,
        Outcome::Eligible
    );
}

// ------------------------------------------------------------------ none vs unknown

#[test]
fn optional_absent_is_none_and_a_comparison_with_it_is_false() {
    let r = rules(&format!(
        "{}{}{}{}",
        policy("p-opt", "  C1 \"low income\": opt_income < 1000"),
        policy("p-opt-null", "  C1 \"months\": opt_months >= 0"),
        policy("p-is-none", "  C1 \"no date\": opt_date is none"),
        policy(
            "p-otherwise",
            "  C1 \"fallback\": (opt_months otherwise 7) == 7"
        ),
    ));
    // absent
    let d = decide(&r, "p-opt", rec(json!({})), ON);
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(strs(&d.failed), ["C1"]);
    assert!(d.missing.is_empty());
    let fact = &d.trace.as_ref().unwrap().clauses[1].facts[0];
    assert_eq!(
        (fact.path.as_str(), fact.value.as_str()),
        ("opt_income", "none")
    );
    // explicit null is the same as absent
    let d = decide(&r, "p-opt-null", rec(json!({"opt_months": null})), ON);
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(strs(&d.failed), ["C1"]);
    // present
    assert_eq!(
        decide(&r, "p-opt", rec(json!({"opt_income": "999.99"})), ON).outcome,
        Outcome::Eligible
    );
    assert_eq!(
        decide(&r, "p-is-none", rec(json!({})), ON).outcome,
        Outcome::Eligible
    );
    assert_eq!(
        decide(&r, "p-is-none", rec(json!({"opt_date": "2024-01-01"})), ON).outcome,
        Outcome::NotEligible
    );
    assert_eq!(
        decide(&r, "p-otherwise", rec(json!({})), ON).outcome,
        Outcome::Eligible
    );
    assert_eq!(
        decide(&r, "p-otherwise", rec(json!({"opt_months": 3})), ON).outcome,
        Outcome::NotEligible
    );
}

#[test]
fn required_absent_or_null_is_unknown() {
    let r = rules(&policy("p-req", "  C1 \"income\": income < 1000"));
    for v in [rec(json!({})), rec(json!({"income": null}))] {
        let d = decide(&r, "p-req", v, ON);
        assert_eq!(d.outcome, Outcome::Undetermined);
        assert_eq!(strs(&d.missing), ["income"]);
        let fact = &d.trace.as_ref().unwrap().clauses[1].facts[0];
        assert_eq!(
            (fact.path.as_str(), fact.value.as_str()),
            ("income", "missing")
        );
    }
    // A nested required field is reported by its full path.
    let r = rules(&policy("p-nested", "  C1 \"resident\": person.resident"));
    let d = decide(&r, "p-nested", rec(json!({})), ON);
    assert_eq!(strs(&d.missing), ["person.resident"]);
}

#[test]
fn defaulted_absent_takes_the_default() {
    let r = rules(&policy(
        "p-def",
        "  C1 \"months\": def_months == 6\n  C2 \"rate\": def_rate == 0.25\n  C3 \"flag\": not def_flag\n  C4 \"color\": def_color == green\n  C5 \"date\": def_date == 2020-01-31\n  C6 \"name\": def_name == \"none-given\"\n  C7 \"tags\": len(tags) == 0",
    ));
    let d = decide(&r, "p-def", rec(json!({})), ON);
    assert_eq!(d.outcome, Outcome::Eligible, "{d:?}");
    // null also takes the default
    let d = decide(
        &r,
        "p-def",
        rec(json!({"def_months": null, "def_flag": null})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Eligible, "{d:?}");
    // a given value overrides it
    let d = decide(
        &r,
        "p-def",
        rec(json!({"def_months": 5, "def_color": "red"})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(strs(&d.failed), ["C1", "C4"]);
}

// ------------------------------------------------------------------ failed / missing

#[test]
fn failed_lists_every_false_clause_and_unknown_ones_are_then_ignored() {
    let r = rules(&policy(
        "p-many",
        "  C1 \"a\": a\n  C2 \"b\": b\n  C3 \"months\": months > 3\n  C4 \"income\": income > 0\n  C5 \"color\": color == red",
    ));
    let d = decide(
        &r,
        "p-many",
        rec(json!({"a": false, "b": true, "months": 1, "color": "blue"})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(strs(&d.failed), ["C1", "C3", "C5"]);
    assert!(
        d.missing.is_empty(),
        "unknown clauses are ignored once one is false"
    );
    let j = to_json(&d);
    assert_eq!(j["failed"], json!(["C1", "C3", "C5"]));
    assert!(j.get("missing").is_none());
    // Every clause is still in the trace, C4 as unknown.
    let values: Vec<Truth> = d.trace.unwrap().clauses.iter().map(|c| c.value).collect();
    assert_eq!(
        values,
        [
            Truth::True,
            Truth::False,
            Truth::True,
            Truth::False,
            Truth::Unknown,
            Truth::False
        ]
    );
}

#[test]
fn missing_lists_every_absent_field_of_the_clauses_and_of_the_amount() {
    let r = rules(&policy(
        "p-amount",
        "  C1 \"a\": a\n  C2 \"b\": b\n  amount per_month CNY: income + months * 100",
    ));
    // Clauses true, amount needs absent fields.
    let d = decide(&r, "p-amount", rec(json!({"a": true, "b": true})), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["income", "months"]);
    assert!(d.amount.is_none());
    // A clause unknown too: one list for one round of data collection.
    let d = decide(&r, "p-amount", rec(json!({"a": true, "months": 2})), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["b", "income"]);
    // Everything known.
    let d = decide(
        &r,
        "p-amount",
        rec(json!({"a": true, "b": true, "income": "12.50", "months": 2})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Eligible);
    assert_eq!(
        to_json(&d)["amount"],
        json!({"value": "212.50", "unit": "CNY", "period": "per_month"})
    );
}

#[test]
fn lazy_if_lists_only_the_fields_the_known_values_reach() {
    let r = rules(&policy(
        "p-if",
        "  C1 \"branch\": if person.resident then income > 1000 else months > 3",
    ));
    // Condition absent: only the condition's field.
    let d = decide(&r, "p-if", rec(json!({})), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["person.resident"]);
    // Condition known: only the taken branch's field.
    let d = decide(&r, "p-if", rec(json!({"person": {"resident": true}})), ON);
    assert_eq!(strs(&d.missing), ["income"]);
    let d = decide(&r, "p-if", rec(json!({"person": {"resident": false}})), ON);
    assert_eq!(strs(&d.missing), ["months"]);
    let d = decide(
        &r,
        "p-if",
        rec(json!({"person": {"resident": false}, "months": 4})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Eligible);
}

#[test]
fn c0_false_evaluates_nothing_else() {
    let src = "policy p-window \"window\" {\n  subject person\n  mode no_application\n  effective 2025-01-01 to 2025-12-31\n  C1 \"unknown\": income > 0\n  C2 \"error\": months / 0 > 1\n  C3 \"false\": a and not a\n  amount one_time CNY: income / 0\n}\n";
    let r = rules(src);
    for on in ["2024-12-31", "2026-01-01"] {
        let d = decide(&r, "p-window", rec(json!({"a": true, "months": 1})), on);
        assert_eq!(d.outcome, Outcome::NotEligible, "{on}");
        assert_eq!(strs(&d.failed), ["C0"], "{on}");
        assert!(
            d.missing.is_empty() && d.error.is_none() && d.amount.is_none(),
            "{on}"
        );
        let t = d.trace.unwrap();
        assert_eq!(t.clauses.len(), 1, "only C0 is in the trace");
        assert_eq!(
            (t.clauses[0].id.as_str(), t.clauses[0].value),
            ("C0", Truth::False)
        );
    }
    // Both ends of the period are inside it: C0 true, and the other clauses run.
    for on in ["2025-01-01", "2025-12-31"] {
        let d = decide(&r, "p-window", rec(json!({"a": true, "months": 1})), on);
        assert_eq!(strs(&d.failed), ["C3"], "{on}");
    }
}

#[test]
fn eligible_of_another_policy_is_three_valued() {
    let r = rules(&format!(
        "{}{}",
        policy("p-base", "  C1 \"a\": a\n  C2 \"income\": income > 100"),
        policy(
            "p-dep",
            "  C1 \"not base\": not eligible(p-base)\n  C2 \"b\": b"
        ),
    ));
    // base undetermined → the reference is unknown with base's missing fields.
    let d = decide(&r, "p-dep", rec(json!({"a": true, "b": true})), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["income"]);
    // base eligible → not eligible(...) is false.
    let d = decide(
        &r,
        "p-dep",
        rec(json!({"a": true, "b": true, "income": 200})),
        ON,
    );
    assert_eq!(strs(&d.failed), ["C1"]);
    // base not eligible (a false, income unknown) → true, and income is not asked for.
    let d = decide(&r, "p-dep", rec(json!({"a": false, "b": true})), ON);
    assert_eq!(d.outcome, Outcome::Eligible);
}

// ------------------------------------------------------------------ dates

fn report(d: &Decision, name: &str) -> Json {
    to_json(d)
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no report {name} in {:?}", to_json(d)))
}

#[test]
fn age_on_a_29_february_birthday() {
    let r = rules(&policy(
        "p-age",
        "  C1 \"65\": age(person.birth_date) >= 65\n  report years = age(person.birth_date)",
    ));
    let born = rec(json!({"person": {"birth_date": "1960-02-29"}}));
    let cases = [
        ("2025-02-27", Outcome::NotEligible, 64),
        ("2025-02-28", Outcome::Eligible, 65), // non-leap year: the anniversary is 28 Feb
        ("2025-03-01", Outcome::Eligible, 65),
        ("2024-02-28", Outcome::NotEligible, 63), // leap year: 29 Feb is the anniversary
        ("2024-02-29", Outcome::NotEligible, 64),
        ("2028-02-28", Outcome::Eligible, 67),
        ("2028-02-29", Outcome::Eligible, 68),
    ];
    for (on, outcome, years) in cases {
        let d = decide(&r, "p-age", born.clone(), on);
        assert_eq!(d.outcome, outcome, "{on}");
        assert_eq!(report(&d, "years"), json!(years), "{on}");
    }
    // An ordinary birthday counts on the day itself.
    let d = decide(
        &r,
        "p-age",
        rec(json!({"person": {"birth_date": "1960-07-01"}})),
        "2025-07-01",
    );
    assert_eq!(report(&d, "years"), json!(65));
    let d = decide(
        &r,
        "p-age",
        rec(json!({"person": {"birth_date": "1960-07-01"}})),
        "2025-06-30",
    );
    assert_eq!(report(&d, "years"), json!(64));
}

#[test]
fn add_months_clamps_to_the_end_of_the_month() {
    let r = rules(&policy(
        "p-months",
        "  C1 \"t\": true\n  report plus1 = add_months(start, 1)\n  report plus756 = add_months(start, 756)\n  report minus1 = add_months(start, -1)\n  report plus_years = add_years(start, 1)\n  report shifted = start + 1 month",
    ));
    let cases = [
        (
            "2024-01-31",
            "2024-02-29",
            "2087-01-31",
            "2023-12-31",
            "2025-01-31",
            "2024-02-29",
        ),
        (
            "2025-01-31",
            "2025-02-28",
            "2088-01-31",
            "2024-12-31",
            "2026-01-31",
            "2025-02-28",
        ),
        (
            "1980-02-29",
            "1980-03-29",
            "2043-02-28",
            "1980-01-29",
            "1981-02-28",
            "1980-03-29",
        ),
        (
            "2025-03-31",
            "2025-04-30",
            "2088-03-31",
            "2025-02-28",
            "2026-03-31",
            "2025-04-30",
        ),
    ];
    for (start, plus1, plus756, minus1, plus_years, shifted) in cases {
        let d = decide(&r, "p-months", rec(json!({ "start": start })), ON);
        assert_eq!(report(&d, "plus1"), json!(plus1), "{start} + 1");
        assert_eq!(report(&d, "plus756"), json!(plus756), "{start} + 756");
        assert_eq!(report(&d, "minus1"), json!(minus1), "{start} - 1");
        assert_eq!(
            report(&d, "plus_years"),
            json!(plus_years),
            "{start} + 1 year"
        );
        assert_eq!(report(&d, "shifted"), json!(shifted), "{start} + 1 month");
    }
}

#[test]
fn month_diff_ignores_days() {
    let r = rules(&policy(
        "p-diff",
        "  C1 \"t\": true\n  report from_start = month_diff(start, ref)\n  report to_start = month_diff(ref, start)",
    ));
    let cases = [
        ("2025-01-31", "2025-02-01", 1),
        ("2025-02-01", "2025-02-28", 0),
        ("2024-01-01", "2025-06-30", 17),
        ("2025-12-31", "2026-01-01", 1),
    ];
    for (start, on, months) in cases {
        let d = decide(&r, "p-diff", rec(json!({ "start": start })), on);
        assert_eq!(report(&d, "from_start"), json!(months), "{start} → {on}");
        assert_eq!(report(&d, "to_start"), json!(-months), "{on} → {start}");
    }
}

#[test]
fn within_last_includes_both_ends_and_clamps_29_february() {
    let r = rules(&format!(
        "{}{}",
        policy(
            "p-12m",
            "  C1 \"within 12 months\": within_last(start, 12 months)"
        ),
        policy("p-1y", "  C1 \"within 1 year\": within_last(start, 1 year)"),
    ));
    let cases = [
        ("p-12m", "2025-06-30", "2024-06-30", true), // ref − K is included
        ("p-12m", "2025-06-30", "2024-06-29", false),
        ("p-12m", "2025-06-30", "2025-06-30", true), // ref itself
        ("p-12m", "2025-06-30", "2025-07-01", false), // the future is not "within the last"
        ("p-12m", "2025-03-31", "2024-03-31", true),
        ("p-1y", "2024-02-29", "2023-02-28", true), // 2023-02-29 does not exist → 28 Feb
        ("p-1y", "2024-02-29", "2023-02-27", false),
        ("p-1y", "2025-02-28", "2024-02-28", true),
        ("p-1y", "2025-02-28", "2024-02-27", false),
    ];
    for (p, on, start, inside) in cases {
        let d = decide(&r, p, rec(json!({ "start": start })), on);
        let want = if inside {
            Outcome::Eligible
        } else {
            Outcome::NotEligible
        };
        assert_eq!(d.outcome, want, "{p}: {start} on {on}");
    }
}

// ------------------------------------------------------------------ exact decimals

#[test]
fn decimals_are_exact() {
    let r = rules(&format!(
        "{}{}",
        policy(
            "p-exact",
            "  C1 \"literal\": 0.1 + 0.2 == 0.3\n  C2 \"fields\": income + def_rate * 0 + 0.2 == 0.3",
        ),
        policy("p-sum", "  C1 \"t\": true\n  amount one_time CNY: income * 3"),
    ));
    let d = decide(&r, "p-exact", rec(json!({"income": 0.1})), ON);
    assert_eq!(d.outcome, Outcome::Eligible, "{d:?}");
    // A money value given as a JSON number or as a string is read exactly.
    for income in [json!(0.1), json!("0.1")] {
        let d = decide(&r, "p-sum", rec(json!({ "income": income })), ON);
        assert_eq!(to_json(&d)["amount"]["value"], json!("0.30"));
    }
}

#[test]
fn rounding_is_explicit_and_named() {
    let r = rules(&policy(
        "p-round",
        "  C1 \"t\": true\n  report half_up = round(2.345, 2)\n  report half_even = round_half_even(2.345, 2)\n  report half_even_up = round_half_even(2.355, 2)\n  report neg_half_up = round(-2.345, 2)\n  report whole = round(2.5)\n  report field_half_up = round(income, 2)\n  amount one_time CNY: round(income, 2)",
    ));
    let d = decide(&r, "p-round", rec(json!({"income": "2.345"})), ON);
    let j = to_json(&d);
    assert_eq!(j["half_up"], json!("2.35"));
    assert_eq!(j["half_even"], json!("2.34"));
    assert_eq!(j["half_even_up"], json!("2.36"));
    assert_eq!(j["neg_half_up"], json!("-2.35"));
    assert_eq!(j["whole"], json!("3.00"));
    assert_eq!(j["field_half_up"], json!("2.35"));
    assert_eq!(j["amount"]["value"], json!("2.35"));
}

#[test]
fn an_unrounded_amount_with_more_than_two_places_is_an_error_not_a_silent_rounding() {
    let r = rules(&policy(
        "p-third",
        "  C1 \"t\": true\n  amount one_time CNY: income / 3",
    ));
    let d = decide(&r, "p-third", rec(json!({"income": 100})), ON);
    assert_ne!(d.outcome, Outcome::Eligible);
    let e = d.error.expect("an evaluation error");
    assert_eq!(e.at, "amount");
    assert!(e.message.contains("round"), "{}", e.message);
}

// ------------------------------------------------------------------ decision errors

#[test]
fn division_by_zero_is_a_decision_error_and_the_other_decisions_go_on() {
    let r = rules(&format!(
        "{}{}{}",
        policy("p-div", "  C1 \"per month\": income / months > 100"),
        policy(
            "p-div-amount",
            "  C1 \"t\": true\n  amount per_month CNY: round(income / months, 2)"
        ),
        policy("p-fine", "  C1 \"t\": income > 0"),
    ));
    let v = rec(json!({"income": 1000, "months": 0}));
    let d = decide(&r, "p-div", v.clone(), ON);
    assert_ne!(d.outcome, Outcome::Eligible);
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.at, "C1");
    assert!(e.message.contains("division by zero"), "{}", e.message);
    assert_eq!(d.trace.as_ref().unwrap().clauses[1].value, Truth::Error);
    assert!(to_json(&d)["error"]["message"].is_string());
    // Hosts match on the kind; the outputs carry its stable code.
    assert_eq!(e.kind, mianshen::internals::eval::ErrorKind::DivisionByZero);
    assert_eq!(to_json(&d)["error"]["code"], "division-by-zero");

    let d = decide(&r, "p-div-amount", v.clone(), ON);
    assert_ne!(d.outcome, Outcome::Eligible);
    assert!(d.amount.is_none());
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.at, "amount");
    assert!(e.message.contains("division by zero"), "{}", e.message);

    let subject = record(&r, v);
    let all = eval::evaluate_all(&r, &subject, date(ON), EvalOptions::default());
    let ids: Vec<&str> = all.iter().map(|d| d.policy.as_str()).collect();
    assert_eq!(ids, ["p-div", "p-div-amount", "p-fine"]);
    assert!(all[0].error.is_some() && all[1].error.is_some());
    assert_eq!(all[2].outcome, Outcome::Eligible);
    assert!(all[2].error.is_none());
}

#[test]
fn the_with_zero_or_several_items_is_a_decision_error() {
    let r = rules(&policy(
        "p-the",
        "  C1 \"the ok item\": (the i in items where i.ok: i.amount) > 0",
    ));
    let item = |id: &str, ok: bool| json!({"id": id, "ok": ok, "amount": "5.00"});
    // exactly one: fine
    let d = decide(
        &r,
        "p-the",
        rec(json!({"items": [item("I1", true), item("I2", false)]})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Eligible);
    assert!(d.error.is_none());
    // none
    let d = decide(&r, "p-the", rec(json!({"items": [item("I1", false)]})), ON);
    assert_ne!(d.outcome, Outcome::Eligible);
    let e = d.error.expect("an error for no candidate");
    assert_eq!(e.at, "C1");
    assert!(e.message.contains("no item"), "{}", e.message);
    assert_eq!(e.kind, mianshen::internals::eval::ErrorKind::NoItem);
    // several
    let d = decide(
        &r,
        "p-the",
        rec(json!({"items": [item("I1", true), item("I2", true)]})),
        ON,
    );
    assert_ne!(d.outcome, Outcome::Eligible);
    let e = d.error.expect("an error for several candidates");
    assert!(e.message.contains("2 items"), "{}", e.message);
    assert_eq!(e.kind, mianshen::internals::eval::ErrorKind::SeveralItems);
    // empty list
    let d = decide(&r, "p-the", rec(json!({})), ON);
    assert!(d.error.is_some());
}

#[test]
fn a_decision_error_is_not_reported_when_another_clause_is_false() {
    // not_eligible is decided by the false clause; the undefined one does not matter.
    let r = rules(&policy(
        "p-both",
        "  C1 \"div\": income / months > 1\n  C2 \"a\": a",
    ));
    let d = decide(
        &r,
        "p-both",
        rec(json!({"income": 1, "months": 0, "a": false})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(strs(&d.failed), ["C2"]);
}

// ------------------------------------------------------------------ parameters

const PARAM: &str = "parameter RATE \"rate\": decimal {\n  from 2024-01-01 to 2024-12-31 = 100.00 \"first\"\n  from 2025-01-01 to 2025-06-30 = 150.00 \"second\"\n  from 2025-07-01 = 200.00 \"third\"\n}\n";

#[test]
fn a_parameter_takes_the_value_in_force_on_ref() {
    let src = format!(
        "{PARAM}policy p-param \"param\" {{\n  subject person\n  mode no_application\n  effective from 2024-01-01\n  C1 \"t\": RATE > 0\n  amount per_month CNY: RATE\n}}\n"
    );
    let r = rules(&src);
    let cases = [
        ("2024-01-01", "100.00"),
        ("2024-12-31", "100.00"),
        ("2025-01-01", "150.00"),
        ("2025-06-30", "150.00"),
        ("2025-07-01", "200.00"),
        ("2031-01-01", "200.00"),
    ];
    for (on, value) in cases {
        let d = decide(&r, "p-param", rec(json!({})), on);
        assert_eq!(d.outcome, Outcome::Eligible, "{on}");
        assert_eq!(to_json(&d)["amount"]["value"], json!(value), "{on}");
        // The trace names the parameter, the date and the value used.
        let t = d.trace.unwrap();
        let fact = t.clauses[1]
            .facts
            .iter()
            .find(|f| f.path.starts_with("RATE@"))
            .unwrap();
        assert_eq!(fact.path, format!("RATE@{on}"));
        assert_eq!(fact.value, value);
    }
}

#[test]
fn a_date_outside_every_step_is_an_error_on_that_decision() {
    let src = format!(
        "{PARAM}policy p-early \"early\" {{\n  subject person\n  mode no_application\n  effective from 2023-01-01\n  accept gap in RATE \"the 2023 value is not encoded\"\n  C1 \"rate\": RATE > 0\n}}\n{}",
        policy("p-other", "  C1 \"t\": true")
    );
    let r = rules(&src);
    let d = decide(&r, "p-early", rec(json!({})), "2023-06-01");
    assert_ne!(d.outcome, Outcome::Eligible);
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.at, "C1");
    assert!(
        e.message.contains("RATE") && e.message.contains("2023-06-01"),
        "{}",
        e.message
    );
    // The other decision goes on.
    let subject = record(&r, rec(json!({})));
    let all = eval::evaluate_all(&r, &subject, date("2023-06-01"), EvalOptions::default());
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].policy, "p-other");
    assert_eq!(all[1].outcome, Outcome::Eligible);
    // Inside the steps, the same policy is fine.
    assert_eq!(
        decide(&r, "p-early", rec(json!({})), "2024-06-01").outcome,
        Outcome::Eligible
    );
}

// ------------------------------------------------------------------ scales

/// A bracket scale with two dated steps (the second starting above zero) and an
/// abolition, written with both arrows.
const SSC: &str = "scale SSC \"缴费比例（示例）\" {\n  from 2013-01-01 to 2024-12-31: 0 → 0.02, 6000 → 0.06, 12000 → 0.12 \"first\"\n  from 2025-01-01 to 2025-12-31:\n      5000 -> 0.03,\n      8000 -> 0.10,\n      20000 -> 0.20\n      \"second\"\n  from 2026-01-01: absent \"abolished by 示例〔2025〕9号\"\n}\n";

fn scale_rules() -> RuleSet {
    rules(&format!(
        "{SSC}policy p-scale \"scale\" {{\n  subject person\n  mode no_application\n  effective 2020-01-01 to 2025-12-31\n  C1 \"t\": income >= -1000000\n  amount per_month CNY: round(marginal(SSC, income), 2)\n    with top = bracket(SSC, income), raw = marginal(SSC, income)\n}}\n"
    ))
}

#[test]
fn marginal_applies_each_bracket_to_its_part_and_bracket_gives_the_value_reached() {
    let r = scale_rules();
    // (date, income, marginal rounded, bracket): computed by hand.
    let cases = [
        // 6000 × 0.02 + 4000 × 0.06
        ("2024-06-30", "10000", "360.00", "0.06"),
        // exactly at a threshold: the bracket it opens is reached, but has no part yet
        ("2024-06-30", "6000", "120.00", "0.06"),
        // 5999.99 × 0.02 = 119.9998
        ("2024-06-30", "5999.99", "120.00", "0.02"),
        // 6000 × 0.02 + 6000 × 0.06 + 3000 × 0.12
        ("2024-06-30", "15000", "840.00", "0.12"),
        ("2024-06-30", "0", "0.00", "0.02"),
        // below the first threshold: nothing is taxed, no bracket is reached (0)
        ("2024-06-30", "-100", "0.00", "0"),
        // the second step: from 5000
        ("2025-01-01", "4000", "0.00", "0"),
        ("2025-06-30", "5000", "0.00", "0.03"),
        // 3000 × 0.03 + 1000 × 0.10
        ("2025-06-30", "9000", "190.00", "0.10"),
        // 3000 × 0.03 + 12000 × 0.10 + 5000 × 0.20
        ("2025-12-31", "25000", "2290.00", "0.20"),
        // the last day of the first step
        ("2024-12-31", "9000", "300.00", "0.06"),
    ];
    for (on, income, amount, top) in cases {
        let d = decide(&r, "p-scale", rec(json!({"income": income})), on);
        assert_eq!(d.outcome, Outcome::Eligible, "{on} {income}: {d:?}");
        let j = to_json(&d);
        assert_eq!(j["amount"]["value"], json!(amount), "{on} {income}");
        let got: rust_decimal::Decimal = j["amount"]["top"].as_str().unwrap().parse().unwrap();
        assert_eq!(got, top.parse().unwrap(), "{on} {income}");
    }
    // Exact and unrounded: the policy rounds.
    let d = decide(
        &r,
        "p-scale",
        rec(json!({"income": "5999.99"})),
        "2024-06-30",
    );
    assert_eq!(to_json(&d)["amount"]["raw"], json!("119.9998"));
}

#[test]
fn a_scale_read_is_in_the_trace_with_its_date_and_brackets() {
    let r = scale_rules();
    let d = decide(&r, "p-scale", rec(json!({"income": "9000"})), "2025-06-30");
    let t = d.trace.unwrap();
    let fact = t
        .amount_facts
        .iter()
        .find(|f| f.path.starts_with("SSC@"))
        .unwrap();
    assert_eq!(fact.path, "SSC@2025-06-30");
    assert_eq!(fact.value, "5000 → 0.03, 8000 → 0.10, 20000 → 0.20");
}

#[test]
fn a_scale_at_a_date_takes_the_step_in_force_on_that_date() {
    let src = format!(
        "{SSC}policy p-at \"at\" {{\n  subject person\n  mode no_application\n  effective from 2020-01-01\n  C1 \"t\": true\n  amount one_time CNY: round(marginal(SSC, income, start), 2)\n    with top = bracket(SSC, income, start)\n}}\n"
    );
    let r = rules(&src);
    let cases = [
        ("2024-12-31", "300.00", "0.06"),
        ("2025-01-01", "190.00", "0.10"),
        ("2013-01-01", "300.00", "0.06"),
    ];
    for (start, amount, top) in cases {
        let d = decide(
            &r,
            "p-at",
            rec(json!({"income": "9000", "start": start})),
            "2031-05-05",
        );
        assert_eq!(d.outcome, Outcome::Eligible, "{start}: {d:?}");
        assert_eq!(to_json(&d)["amount"]["value"], json!(amount), "{start}");
        assert_eq!(to_json(&d)["amount"]["top"], json!(top), "{start}");
    }
    // Before the first step: no value, an evaluation error naming scale and date.
    let d = decide(
        &r,
        "p-at",
        rec(json!({"income": "9000", "start": "2012-12-31"})),
        "2031-05-05",
    );
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.kind, mianshen::ErrorKind::ParameterWithoutValue);
    assert_eq!(e.message, "scale SSC has no value on 2012-12-31");
    // An unknown date or amount: unknown, with what is missing.
    let d = decide(&r, "p-at", rec(json!({"income": "9000"})), "2031-05-05");
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["start"]);
    assert!(d.error.is_none(), "{d:?}");
    let d = decide(&r, "p-at", rec(json!({})), "2031-05-05");
    assert_eq!(strs(&d.missing), ["income", "start"]);
    assert!(d.error.is_none(), "{d:?}");
}

#[test]
fn a_scale_declared_absent_is_an_evaluation_error_or_excluded_by_the_period() {
    let src = format!(
        "{SSC}policy p-open \"open\" {{\n  subject person\n  mode no_application\n  effective from 2020-01-01\n  accept gap in SSC \"abolished from 2026\"\n  C1 \"t\": true\n  amount per_month CNY: round(marginal(SSC, income), 2)\n}}\npolicy p-closed \"closed\" {{\n  subject person\n  mode no_application\n  effective 2020-01-01 to 2025-12-31\n  C1 \"t\": true\n  amount per_month CNY: round(marginal(SSC, income), 2)\n}}\n"
    );
    let r = rules(&src);
    let d = decide(&r, "p-open", rec(json!({"income": "9000"})), "2026-01-01");
    assert_eq!(d.outcome, Outcome::Undetermined);
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.kind, mianshen::ErrorKind::ParameterWithoutValue);
    assert_eq!(e.at, "amount");
    assert_eq!(
        e.message,
        "scale SSC has no value on 2026-01-01: abolished from 2026-01-01 (abolished by 示例〔2025〕9号)"
    );
    // The policy whose period ends before the abolition is simply not in force.
    let d = decide(&r, "p-closed", rec(json!({"income": "9000"})), "2026-01-01");
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(strs(&d.failed), ["C0"]);
    // A missing amount is still unknown (strict), not the abolition's error.
    let d = decide(&r, "p-open", rec(json!({})), "2026-01-01");
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["income"]);
}

#[test]
fn a_scale_of_none_is_none_and_of_unknown_is_unknown() {
    let src = format!(
        "{SSC}{}",
        policy(
            "p-none",
            "  C1 \"none in, none out\": marginal(SSC, opt_income) is none and bracket(SSC, opt_months) is none\n  C2 \"known\": marginal(SSC, income) > 100"
        )
    );
    let r = rules(&src);
    let d = decide(
        &r,
        "p-none",
        rec(json!({"income": "6000.01"})),
        "2024-06-30",
    );
    assert_eq!(d.outcome, Outcome::Eligible, "{d:?}");
    let d = decide(&r, "p-none", rec(json!({"opt_income": 5})), "2024-06-30");
    assert_eq!(d.outcome, Outcome::NotEligible, "{d:?}");
    assert_eq!(strs(&d.failed), ["C1"]);
    let d = decide(&r, "p-none", rec(json!({})), "2024-06-30");
    assert_eq!(d.outcome, Outcome::Undetermined, "{d:?}");
    assert_eq!(strs(&d.missing), ["income"]);
}

#[test]
fn scales_with_negative_thresholds_and_values_and_whole_numbers() {
    let src = "scale NEG \"neg\" {\n  from 2020-01-01: -1000 → -0.5, 0 → 0.1, 100.5 → 2\n}\nscale FLAT \"flat amounts\" {\n  from 2020-01-01: 0 → 100, 3 → 250, 10 → 400\n}\n"
        .to_string()
        + &policy(
            "p-neg",
            "  C1 \"t\": true\n  report m = marginal(NEG, income)\n  report b = bracket(NEG, income)\n  report f = bracket(FLAT, months)\n  report fm = marginal(FLAT, months)",
        );
    let r = rules(&src);
    // (income, marginal, bracket): by hand.
    let cases = [
        // 600 × −0.5
        ("-400", "-300.00", "-0.50"),
        // 1000 × −0.5 + 100.5 × 0.1 + 99.5 × 2
        ("200", "-290.95", "2.00"),
        ("100.5", "-489.95", "2.00"),
        ("-1000", "0.00", "-0.50"),
        ("-1000.01", "0.00", "0.00"),
    ];
    for (income, m, b) in cases {
        let d = decide(&r, "p-neg", rec(json!({"income": income, "months": 4})), ON);
        let num = |j: Json| -> rust_decimal::Decimal { j.as_str().unwrap().parse().unwrap() };
        assert_eq!(num(report(&d, "m")), m.parse().unwrap(), "{income}");
        assert_eq!(num(report(&d, "b")), b.parse().unwrap(), "{income}");
        // whole numbers: 3 × 100 + 1 × 250
        assert_eq!(num(report(&d, "fm")), "550".parse().unwrap());
        assert_eq!(num(report(&d, "f")), "250".parse().unwrap());
    }
}

#[test]
fn a_scale_overflow_is_an_overflow_error() {
    let src = "scale HUGE \"huge\" {\n  from 2020-01-01: 0 → 9000000000000000000\n}\n".to_string()
        + &policy("p-huge", "  C1 \"t\": marginal(HUGE, income) > 0");
    let r = rules(&src);
    let d = decide(
        &r,
        "p-huge",
        rec(json!({"income": "90000000000000000000"})),
        ON,
    );
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.kind, mianshen::ErrorKind::Overflow);
    // 1 × the value fits.
    let d = decide(&r, "p-huge", rec(json!({"income": "1"})), ON);
    assert_eq!(d.outcome, Outcome::Eligible, "{d:?}");
}

#[test]
fn a_parameter_declared_absent_is_an_evaluation_error_that_quotes_its_source() {
    let src = "parameter SUB \"补贴标准\": decimal {\n  from 2020-01-01 to 2024-12-31 = 100.00 \"old\"\n  from 2025-01-01 to 2025-06-30 = absent \"人社部发〔2024〕x号 abolished\"\n  from 2025-07-01 = 120.00 \"restored\"\n}\n"
        .to_string()
        + &policy("p-sub", "  accept gap in SUB \"abolished for half a year\"\n  C1 \"t\": true\n  amount per_month CNY: SUB + 0\n    with on_start = SUB(start)");
    let r = rules(&src);
    let j = |on: &str, start: &str| to_json(&decide(&r, "p-sub", rec(json!({"start": start})), on));
    assert_eq!(
        j("2024-12-31", "2020-01-01")["amount"]["value"],
        json!("100.00")
    );
    assert_eq!(
        j("2025-07-01", "2025-07-01")["amount"]["value"],
        json!("120.00")
    );
    let d = decide(
        &r,
        "p-sub",
        rec(json!({"start": "2020-01-01"})),
        "2025-01-01",
    );
    let e = d.error.as_ref().expect("an evaluation error");
    assert_eq!(e.kind, mianshen::ErrorKind::ParameterWithoutValue);
    assert_eq!(
        e.message,
        "parameter SUB has no value on 2025-01-01: abolished from 2025-01-01 (人社部发〔2024〕x号 abolished)"
    );
    // Read at a date inside the abolished step: the same error, naming that date.
    let d = decide(
        &r,
        "p-sub",
        rec(json!({"start": "2025-06-30"})),
        "2025-07-01",
    );
    let e = d.error.as_ref().expect("an evaluation error");
    assert!(
        e.message
            .contains("on 2025-06-30: abolished from 2025-01-01"),
        "{}",
        e.message
    );
}

// ------------------------------------------------------------------ per item

fn per_item_rules() -> RuleSet {
    rules(&policy(
        "p-items",
        "  for each item i in items\n  C1 \"ok\": i.ok\n  C2 \"resident\": person.resident\n  amount one_time CNY: i.amount",
    ))
}

fn items(list: Json) -> Json {
    rec(json!({"person": {"resident": true}, "items": list}))
}

fn item_json<'a>(j: &'a Json, id: &str) -> &'a Json {
    &j["per_item"][id]
}

#[test]
fn per_item_eligible_if_any_item_is_with_the_sum() {
    let r = per_item_rules();
    let d = decide(
        &r,
        "p-items",
        items(json!([
            {"id": "I1", "ok": true, "amount": "10.00"},
            {"id": "I2", "ok": false, "amount": "5.00"},
            {"id": "I3", "amount": "7.00"},
            {"id": "I4", "ok": true, "amount": "2.50"},
        ])),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Eligible);
    let j = to_json(&d);
    assert_eq!(j["amount"]["value"], json!("12.50"));
    assert_eq!(item_json(&j, "I1")["outcome"], json!("eligible"));
    assert_eq!(item_json(&j, "I2")["outcome"], json!("not_eligible"));
    assert_eq!(item_json(&j, "I2")["failed"], json!(["C1"]));
    assert_eq!(item_json(&j, "I3")["outcome"], json!("undetermined"));
    assert_eq!(item_json(&j, "I3")["missing"], json!(["items[I3].ok"]));
    assert!(j.get("missing").is_none() && j.get("failed").is_none());
}

#[test]
fn per_item_undetermined_is_the_union_of_the_items_missing() {
    let r = per_item_rules();
    let d = decide(
        &r,
        "p-items",
        items(json!([
            {"id": "I1", "ok": false, "amount": "1.00"},
            {"id": "I2", "amount": "1.00"},
            {"id": "I3", "ok": true},
        ])),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["items[I2].ok", "items[I3].amount"]);
    // A subject-level field missing for every item is listed once.
    let v = rec(json!({"items": [
        {"id": "I1", "ok": true, "amount": "1.00"},
        {"id": "I2", "ok": true, "amount": "1.00"},
    ]}));
    let d = decide(&r, "p-items", v, ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["person.resident"]);
}

#[test]
fn per_item_not_eligible_carries_no_failed_list() {
    let r = per_item_rules();
    let d = decide(
        &r,
        "p-items",
        items(json!([
            {"id": "I1", "ok": false, "amount": "1.00"},
            {"id": "I2", "ok": false, "amount": "1.00"},
        ])),
        ON,
    );
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert!(d.failed.is_empty());
    let j = to_json(&d);
    assert!(j.get("failed").is_none(), "{j}");
    assert_eq!(item_json(&j, "I1")["failed"], json!(["C1"]));
    assert_eq!(item_json(&j, "I2")["failed"], json!(["C1"]));
    // No items at all: not eligible either.
    let d = decide(&r, "p-items", items(json!([])), ON);
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert!(d.failed.is_empty());
}

// ------------------------------------------------------------------ determinism, masking

#[test]
fn the_same_input_gives_the_same_json_byte_for_byte() {
    let src = format!(
        "{}{}{}",
        policy(
            "p-one",
            "  C1 \"a\": a\n  C2 \"income\": income > 100\n  amount per_month CNY: income"
        ),
        policy(
            "p-two",
            "  for each item i in items\n  C1 \"ok\": i.ok\n  amount one_time CNY: i.amount"
        ),
        policy(
            "p-three",
            "  C1 \"age\": age(person.birth_date) >= 18 and person.id_number != \"x\""
        ),
    );
    let v = rec(json!({
        "person": {"birth_date": "1990-05-05", "id_number": "110101199005050011"},
        "a": true, "income": "1234.50",
        "items": [{"id": "B", "ok": true, "amount": "1.00"}, {"id": "A", "amount": "2.00"}],
    }));
    let run = || {
        let r = rules(&src);
        let subject = record(&r, v.clone());
        let all = eval::evaluate_all(
            &r,
            &subject,
            date(ON),
            EvalOptions {
                trace: true,
                ..Default::default()
            },
        );
        serde_json::to_string(&all).unwrap()
    };
    let first = run();
    for _ in 0..5 {
        assert_eq!(run(), first);
    }
    // Items keep the record's order.
    assert!(first.find("\"B\"").unwrap() < first.find("\"A\"").unwrap());
}

#[test]
fn sensitive_fields_are_masked_in_traces() {
    let r = rules(&policy(
        "p-id",
        "  C1 \"id number given\": person.id_number != \"\"\n  C2 \"born before\": person.secret_date is none or person.secret_date < 2000-01-01\n  C3 \"birth\": person.birth_date < 2000-01-01",
    ));
    let v = rec(json!({"person": {
        "id_number": "110101199005050011",
        "secret_date": "1990-05-05",
        "birth_date": "1990-05-05",
    }}));
    let d = decide(&r, "p-id", v, ON);
    assert_eq!(d.outcome, Outcome::Eligible);
    let t = d.trace.as_ref().unwrap();
    let fact = |path: &str| {
        t.clauses
            .iter()
            .flat_map(|c| c.facts.iter())
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no fact {path}"))
            .value
            .clone()
    };
    assert_eq!(fact("person.id_number"), "***");
    assert_eq!(fact("person.secret_date"), "***");
    assert_eq!(
        fact("person.birth_date"),
        "1990-05-05",
        "non-sensitive fields are shown"
    );
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("110101199005050011"), "{text}");
    // A sensitive field that is absent is shown as such: that reveals no value.
    let d = decide(
        &r,
        "p-id",
        rec(json!({"person": {"birth_date": "1990-05-05"}})),
        ON,
    );
    let t = d.trace.unwrap();
    let f = t
        .clauses
        .iter()
        .flat_map(|c| c.facts.iter())
        .find(|f| f.path == "person.id_number")
        .unwrap();
    assert_eq!(f.value, "missing");
}

#[test]

fn sensitive_values_are_not_echoed_in_record_errors() {
    // PRODUCT.md: sensitive fields are masked in traces, logs and error messages.
    let r = rules(&policy("p-x", "  C1 \"t\": true"));
    for (field, bad) in [
        ("secret_date", "1990-13-45-SECRET"),
        ("secret_color", "SECRET-purple"),
    ] {
        let v = json!({"person": {"id": "S1", field: bad}});
        let err = record::read_record(r.schema(), 0, &v).expect_err("a bad value is an error");
        assert_eq!(err.record, "S1");
        assert_eq!(err.path, format!("person.{field}"));
        let text = err.to_string();
        assert!(
            !text.contains("SECRET"),
            "the error echoes a sensitive value: {text}"
        );
    }
}

// ------------------------------------------------------------------ record errors

#[test]

fn a_numeric_subject_id_still_names_the_record() {
    let r = rules(&policy("p-x", "  C1 \"t\": true"));
    // The string field accepts a number as text ...
    let ok = record::read_record(r.schema(), 0, &json!({"person": {"id": 12345}})).unwrap();
    // ... so the record is named by it, in results and in errors.
    assert_eq!(ok.id.as_deref(), Some("12345"));
    let err = record::read_record(
        r.schema(),
        0,
        &json!({"person": {"id": 12345, "birth_date": 12}}),
    )
    .unwrap_err();
    assert_eq!(err.record, "12345");
}

#[test]
fn record_errors_name_the_record_and_the_path() {
    let r = rules(&policy("p-x", "  C1 \"t\": true"));
    let cases = [
        (
            json!({"person": {"id": "R1", "birth_date": 12}}),
            "person.birth_date",
            "expected date",
        ),
        (
            json!({"person": {"id": "R1", "birth_date": "1990-02-30"}}),
            "person.birth_date",
            "not a date",
        ),
        (
            json!({"person": {"id": "R1"}, "color": "purple"}),
            "color",
            "red, green, blue",
        ),
        (
            json!({"person": {"id": "R1"}, "months": "three"}),
            "months",
            "expected int",
        ),
        (
            json!({"person": {"id": "R1"}, "months": 1.5}),
            "months",
            "whole number",
        ),
        (
            json!({"person": {"id": "R1"}, "a": "yes"}),
            "a",
            "expected bool",
        ),
        (
            json!({"person": {"id": "R1"}, "income": "12,50"}),
            "income",
            "decimal",
        ),
        (
            json!({"person": {"id": "R1"}, "tags": "red"}),
            "tags",
            "expected a list",
        ),
        (
            json!({"person": {"id": "R1"}, "items": [{"id": "I1", "ok": 3}]}),
            "items[0].ok",
            "expected bool",
        ),
    ];
    for (v, path, words) in cases {
        let err = record::read_record(r.schema(), 0, &v).expect_err(&v.to_string());
        assert_eq!(err.record, "R1", "{v}");
        assert_eq!(err.path, path, "{v}");
        let text = err.to_string();
        assert!(text.contains(words), "{v}: {text}");
        assert!(text.contains("R1") && text.contains(path), "{text}");
    }
    // Keys the schema does not declare are an error, unless read leniently.
    let extra = json!({"person": {"id": "R1"}, "extra": {"x": 1}});
    let err = record::read_record(r.schema(), 0, &extra).expect_err("strict");
    assert_eq!(err.path, "extra");
    assert!(err.message.starts_with("unknown field"), "{err}");
    let lenient = record::ReadOptions {
        lenient: true,
        ..Default::default()
    };
    let (_, unknown) = record::read_record_with(r.schema(), 0, &extra, lenient).unwrap();
    assert_eq!(unknown, vec!["extra".to_string()]);
}

#[test]

fn an_error_in_a_per_item_filter_is_reported_not_swallowed() {
    // policies.md §0.1.6: a division by zero is an evaluation error on that decision.
    let r = rules(&policy(
        "p-filter",
        "  for each item i in items where i.amount / months > 1\n  C1 \"ok\": i.ok\n  amount one_time CNY: i.amount",
    ));
    let d = decide(
        &r,
        "p-filter",
        rec(json!({"months": 0, "items": [{"id": "I1", "ok": true, "amount": "5.00"}]})),
        ON,
    );
    let j = to_json(&d);
    let item_error = d
        .per_item
        .as_ref()
        .is_some_and(|(_, items)| items.iter().any(|(_, it)| it.error.is_some()));
    assert!(
        d.error.is_some() || item_error,
        "the division by zero is not reported: {j}"
    );
    assert_ne!(d.outcome, Outcome::NotEligible, "{j}");
}

#[test]

fn every_clause_lists_the_facts_it_read_even_through_a_shared_let() {
    // PRODUCT.md: every decision carries its trace: each clause with its value and
    // the facts it read.
    let r = rules(&policy(
        "p-let",
        "  let years = age(person.birth_date)\n  C1 \"adult\": years >= 18\n  C2 \"under 100\": years < 100\n  amount per_month CNY: years * 1.00",
    ));
    let d = decide(
        &r,
        "p-let",
        rec(json!({"person": {"birth_date": "1990-01-01"}})),
        ON,
    );
    assert_eq!(d.outcome, Outcome::Eligible);
    let t = d.trace.unwrap();
    for c in &t.clauses[1..] {
        let paths: Vec<&str> = c.facts.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["person.birth_date"], "facts of {}", c.id);
    }
    let paths: Vec<&str> = t.amount_facts.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["person.birth_date"], "facts of the amount");
}

#[test]
fn the_where_of_a_for_each_sees_the_policys_definitions() {
    // A definition (here: the largest amount) chooses which items are sub-subjects.
    let r = rules(&policy(
        "p-largest",
        "  let largest = max i in items: i.amount\n  for each item i in items where i.amount == largest\n  C1 \"ok\": i.ok\n  amount one_time CNY: i.amount",
    ));
    let d = decide(
        &r,
        "p-largest",
        rec(json!({"items": [
            {"id": "I1", "ok": true, "amount": "5.00"},
            {"id": "I2", "ok": true, "amount": "9.00"}
        ]})),
        ON,
    );
    let j = to_json(&d);
    assert_eq!(d.outcome, Outcome::Eligible, "{j}");
    assert_eq!(
        d.amount.as_ref().map(|a| a.value.to_string()),
        Some("9.00".into()),
        "{j}"
    );
    let ids: Vec<&str> = d
        .per_item
        .as_ref()
        .map(|(_, items)| items.iter().map(|(id, _)| id.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["I2"], "{j}");
}

#[test]
fn a_bundle_override_that_fails_is_an_error_of_the_member_never_eligible() {
    // C2 is satisfied inside the bundle by a choice that is undefined for two items.
    let src = format!(
        "{}bundle b \"b\" {{\n  subject person\n  member m: policy p-over with C2 = (the i in items where i.ok).ok\n}}\n",
        policy("p-over", "  C1 \"resident\": person.resident\n  C2 \"b\": b")
    );
    let r = rules(&src);
    let record = record(
        &r,
        rec(json!({"person": {"resident": true}, "b": false, "items": [
            {"id": "I1", "ok": true, "amount": "1.00"},
            {"id": "I2", "ok": true, "amount": "2.00"}
        ]})),
    );
    let form = eval::prefill(&r, 0, &record, date(ON), EvalOptions::default());
    let member = form
        .members
        .iter()
        .find_map(|(key, _, m)| match m {
            eval::MemberStatus::Policy { decision: d, .. } if key == "m" => Some(d),
            _ => None,
        })
        .expect("the policy member");
    assert_eq!(member.outcome, Outcome::Undetermined, "{member:?}");
    let e = member
        .error
        .as_ref()
        .expect("the override's error is the member's");
    assert_eq!(
        (e.at.as_str(), e.kind),
        ("C2", mianshen::internals::eval::ErrorKind::SeveralItems)
    );
    assert!(
        !form.errors.is_empty(),
        "the form names the failing override"
    );
}

#[test]
fn amount_of_another_policy_is_its_decided_amount_three_valued() {
    let r = rules(&format!(
        "{}{}",
        policy(
            "p-base",
            "  C1 \"resident\": person.resident\n  amount per_month CNY: income * 2"
        ),
        policy(
            "p-top",
            "  C1 \"t\": true\n  amount per_month CNY: (amount(p-base) otherwise 0) + 1"
        ),
    ));
    let amount = |d: &Decision| d.amount.as_ref().map(|a| a.value.to_string());
    // Eligible: its amount.
    let d = decide(
        &r,
        "p-top",
        rec(json!({"person": {"resident": true}, "income": 10})),
        ON,
    );
    assert_eq!(
        (d.outcome, amount(&d)),
        (Outcome::Eligible, Some("21".into()))
    );
    // Not eligible: none (here: 0 by `otherwise`).
    let d = decide(
        &r,
        "p-top",
        rec(json!({"person": {"resident": false}, "income": 10})),
        ON,
    );
    assert_eq!(
        (d.outcome, amount(&d)),
        (Outcome::Eligible, Some("1".into()))
    );
    // Undetermined: unknown, with the other policy's missing fields.
    let d = decide(&r, "p-top", rec(json!({"income": 10})), ON);
    assert_eq!(d.outcome, Outcome::Undetermined);
    assert_eq!(strs(&d.missing), ["person.resident"]);
    // In a circle: refused by the checker, with the path.
    let checked = check_sources(
        schema(),
        SCHEMA,
        vec![(
            PathBuf::from("inline.rules"),
            format!(
                "{}{}",
                policy(
                    "p-a",
                    "  C1 \"t\": true\n  amount per_month CNY: (amount(p-b) otherwise 0) + 1"
                ),
                policy("p-b", "  C1 \"t\": amount(p-a) > 0"),
            ),
        )],
    );
    let cycle = checked
        .diagnostics
        .iter()
        .find(|d| d.code == mianshen::diagnostic_code::CYCLE)
        .expect("a cycle");
    assert!(
        cycle.message.contains("p-a → p-b → p-a"),
        "{}",
        cycle.message
    );
}
