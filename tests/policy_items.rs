//! One item of a per-item policy: a bundle member `policy P for x` and the references
//! `eligible(P for x)` / `amount(P for x)` decide the chosen item alone — its outcome,
//! reasons, amount with its extras and trace — never the aggregate over every item.
//! Written against the public API only.

use chrono::NaiveDate;
use mianshen::{BundleResult, Decision, LoadError, Outcome, RuleSet};
use serde_json::Value as Json;

const SCHEMA: &str = r#"
subjects:
  person:
    id: person.id
    fields:
      person:
        fields:
          id: {type: string}
      children:
        default: []
        items:
          key: id
          fields:
            id: {type: string}
            birth_date: {type: date}
            compliant: {type: bool}
      claimed: {type: bool, default: false}
"#;

/// 育儿补贴-like: per child under the policy's own filter; a per-year amount with its
/// total entitlement for children born from 2025, a one-time amount otherwise.
const POLICY: &str = r#"
policy child-allowance "育儿补贴" {
  subject person
  mode apply
  effective from 2025-01-01
  for each child c in children where c.birth_date >= 2022-01-01
  C1 "符合规定生育": c.compliant
  amount per_year CNY when c.birth_date >= 2025-01-01: 3600.00
    with total_entitlement = 10800.00
  amount one_time CNY otherwise: 300.00
}
"#;

const ON: &str = "2025-09-01";

fn on() -> NaiveDate {
    NaiveDate::parse_from_str(ON, "%Y-%m-%d").expect("a date")
}

fn rules(extra: &str) -> Result<RuleSet, LoadError> {
    RuleSet::from_sources(SCHEMA, &[("policy.rules", POLICY), ("extra.rules", extra)])
}

fn checked(extra: &str) -> RuleSet {
    match rules(extra) {
        Ok(r) => r,
        Err(e) => panic!("the rules do not check: {e:?}"),
    }
}

/// The newborn bundle: the member decides the youngest child only.
const NEWBORN: &str = r#"
bundle newborn-one-thing "出生一件事" {
  subject person
  let newborn = latest c in children: c.birth_date
  member birth-registration "出生登记": available when newborn.compliant
  member childcare "育儿补贴": policy child-allowance for newborn
      with C1 = available(birth-registration) and not claimed
  field child_birth_date "出生日期": newborn.birth_date
}
"#;

fn form(rules: &RuleSet, record: &str) -> (BundleResult, Json) {
    let record = rules.read_json(record).expect("a valid record");
    let form = rules
        .prefill("newborn-one-thing", &record, on())
        .expect("the bundle");
    let json = serde_json::to_value(&form).expect("serialisable");
    (form, json)
}

fn member<'f>(form: &'f BundleResult, key: &str) -> &'f Decision {
    form.members
        .iter()
        .find(|(k, _, _)| k == key)
        .and_then(|(_, _, m)| m.decision())
        .unwrap_or_else(|| panic!("no policy member {key}"))
}

const TWO_CHILDREN: &str = r#"{"person": {"id": "P1"}, "claimed": false, "children": [
    {"id": "K1", "birth_date": "2023-03-01", "compliant": true},
    {"id": "K2", "birth_date": "2025-05-20", "compliant": true}
]}"#;

#[test]
fn a_member_for_one_item_is_that_items_decision_with_its_extras() {
    let rules = checked(NEWBORN);
    let (form, json) = form(&rules, TWO_CHILDREN);
    let d = member(&form, "childcare");
    assert_eq!(d.outcome, Outcome::Eligible, "{json}");
    // The newborn's own amount: the older sibling's one-time 300 is not added.
    let m = &json["members"]["childcare"];
    assert_eq!(m["item"], "K2", "{json}");
    assert_eq!(m["amount"]["value"], "3600.00", "{json}");
    assert_eq!(m["amount"]["period"], "per_year", "{json}");
    assert_eq!(m["amount"]["total_entitlement"], "10800.00", "{json}");
    assert!(m.get("per_child").is_none(), "no aggregate: {json}");
    // Its trace reads the newborn's fields, and the override is noted.
    let trace = d.trace.as_ref().expect("a trace");
    let ids: Vec<&str> = trace.clauses.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["C0", "C1"]);
    // The whole-subject decision still sums every child.
    let record = rules.read_json(TWO_CHILDREN).expect("valid");
    let all = rules
        .decide_policy("child-allowance", &record, on())
        .expect("the policy");
    let all = serde_json::to_value(&all).expect("json");
    assert_eq!(all["per_child"]["K1"]["amount"]["value"], "300.00", "{all}");
    assert_eq!(all["amount"]["value"], "3900.00", "{all}");
}

#[test]
fn a_not_eligible_item_member_lists_its_own_failed_clauses() {
    let rules = checked(NEWBORN);
    let (form, json) = form(
        &rules,
        r#"{"person": {"id": "P1"}, "claimed": true, "children": [
            {"id": "K1", "birth_date": "2023-03-01", "compliant": true},
            {"id": "K2", "birth_date": "2025-05-20", "compliant": true}
        ]}"#,
    );
    let d = member(&form, "childcare");
    assert_eq!(d.outcome, Outcome::NotEligible, "{json}");
    assert_eq!(d.failed, ["C1"], "{json}");
    assert_eq!(json["members"]["childcare"]["failed"][0], "C1", "{json}");
}

#[test]
fn an_item_the_policy_leaves_out_or_no_item_is_not_eligible_for_each() {
    let rules = checked(NEWBORN);
    // The youngest child was born before the policy's `where` (2022): not one of its items.
    let (form, json) = self::form(
        &rules,
        r#"{"person": {"id": "P1"}, "claimed": false, "children": [
            {"id": "K1", "birth_date": "2019-03-01", "compliant": true}
        ]}"#,
    );
    let d = member(&form, "childcare");
    assert_eq!(
        (d.outcome, d.failed.as_slice()),
        (Outcome::NotEligible, ["for each".to_string()].as_slice()),
        "{json}"
    );
    // The chosen item is `none` (a choice that found nothing).
    let rules = checked(
        r#"
bundle b "b" {
  subject person
  member m: policy child-allowance for (if claimed then none else (latest c in children: c.birth_date))
}
"#,
    );
    let record = rules
        .read_json(
            TWO_CHILDREN
                .replace("\"claimed\": false", "\"claimed\": true")
                .as_str(),
        )
        .expect("valid");
    let form = rules.prefill("b", &record, on()).expect("bundle");
    let d = member(&form, "m");
    assert_eq!(d.outcome, Outcome::NotEligible);
    assert_eq!(d.failed, ["for each"]);
}

#[test]
fn a_choice_that_is_undefined_is_the_members_error_never_eligible() {
    // Twins: two youngest children tie, so "the newborn" is undefined.
    let rules = checked(NEWBORN);
    let (form, json) = form(
        &rules,
        r#"{"person": {"id": "P1"}, "claimed": false, "children": [
            {"id": "K1", "birth_date": "2025-05-20", "compliant": true},
            {"id": "K2", "birth_date": "2025-05-20", "compliant": true}
        ]}"#,
    );
    let d = member(&form, "childcare");
    assert_eq!(d.outcome, Outcome::Undetermined, "{json}");
    let e = d
        .error
        .as_ref()
        .expect("the choice's error is the member's");
    assert_eq!(e.kind, mianshen::ErrorKind::Tie, "{json}");
    assert!(d.amount.is_none());
    assert!(
        form.errors.iter().any(|e| e.at == "childcare for"),
        "the form names the failing choice: {json}"
    );
}

#[test]
fn an_unknown_choice_is_undetermined_with_what_it_misses() {
    let rules = checked(NEWBORN);
    let (form, json) = form(
        &rules,
        r#"{"person": {"id": "P1"}, "claimed": false, "children": [
            {"id": "K1", "compliant": true}
        ]}"#,
    );
    let d = member(&form, "childcare");
    assert_eq!(d.outcome, Outcome::Undetermined, "{json}");
    assert_eq!(d.missing, ["children[K1].birth_date"], "{json}");
}

#[test]
fn eligible_and_amount_of_one_item_inside_another_policy() {
    let rules = checked(
        r#"
policy newborn-top-up "新生儿补足" {
  subject person
  mode no_application
  effective from 2025-01-01
  let newborn = latest c in children: c.birth_date
  C1 "新生儿可领育儿补贴": eligible(child-allowance for newborn)
  amount one_time CNY: amount(child-allowance for newborn) / 12
}
"#,
    );
    let record = rules.read_json(TWO_CHILDREN).expect("valid");
    let d = rules
        .decide_policy("newborn-top-up", &record, on())
        .expect("the policy");
    assert_eq!(d.outcome, Outcome::Eligible, "{d:?}");
    assert_eq!(
        d.amount.map(|a| a.value.to_string()),
        Some("300.00".to_string()),
        "3600.00 / 12, the newborn's amount only"
    );
    // The newborn not compliant: not eligible (C1 false), whatever the sibling gets.
    let record = rules
        .read_json(
            r#"{"person": {"id": "P1"}, "children": [
                {"id": "K1", "birth_date": "2023-03-01", "compliant": true},
                {"id": "K2", "birth_date": "2025-05-20", "compliant": false}
            ]}"#,
        )
        .expect("valid");
    let d = rules
        .decide_policy("newborn-top-up", &record, on())
        .expect("the policy");
    assert_eq!(
        (d.outcome, d.failed.as_slice()),
        (Outcome::NotEligible, ["C1".to_string()].as_slice())
    );
}

fn diagnostic_codes(extra: &str) -> Vec<String> {
    match rules(extra) {
        Ok(_) => vec![],
        Err(LoadError::Diagnostics { diagnostics, .. }) => {
            diagnostics.iter().map(|d| d.code.to_string()).collect()
        }
        Err(other) => panic!("unexpected load error {other:?}"),
    }
}

#[test]
fn check_refuses_an_item_of_a_policy_decided_per_subject_or_of_another_kind() {
    let whole = r#"
policy whole "w" {
  subject person
  mode apply
  effective from 2025-01-01
  C1 "c": claimed
}
bundle b "b" {
  subject person
  member m: policy whole for (latest c in children: c.birth_date)
}
"#;
    assert_eq!(diagnostic_codes(whole), ["item-choice"]);
    let wrong_kind = r#"
bundle b "b" {
  subject person
  member m: policy child-allowance for person
}
"#;
    assert_eq!(diagnostic_codes(wrong_kind), ["item-choice"]);
    let in_policy = r#"
policy p "p" {
  subject person
  mode apply
  effective from 2025-01-01
  C1 "c": eligible(child-allowance for claimed)
}
"#;
    assert_eq!(diagnostic_codes(in_policy), ["item-choice"]);
}
