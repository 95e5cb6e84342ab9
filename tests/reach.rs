//! Policies find people (issue 17): the change impact of a rule change or of the
//! passing of time, near misses, and the missing fields that block decisions.
//!
//! Every diff is held to the reference evaluator record by record: each record of the
//! population is read and decided (`RuleSet::decide`, as `mianshen eval` does) under
//! both versions, and the expected changes and counts are worked out here from those
//! decisions alone — not through the code under test.

#[path = "support/command.rs"]
mod command;

use chrono::NaiveDate;
use mianshen::{
    ChunkOutput, Decision, DiffConfig, Impact, InputRecord, Outcome, RuleSet, RunConfig, Sink,
    Source, Summary, Truth,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn population() -> String {
    std::fs::read_to_string(root().join("examples/population.jsonl")).unwrap()
}

#[derive(Default)]
struct Collect(ChunkOutput);

impl Sink for Collect {
    fn write(&mut self, c: &ChunkOutput) -> std::io::Result<()> {
        self.0.changes.push_str(&c.changes);
        self.0.near.push_str(&c.near);
        self.0.rejected.push_str(&c.rejected);
        self.0.pushes.push_str(&c.pushes);
        self.0.records += c.records;
        Ok(())
    }
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-reach-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

// ------------------------------------------------------------------ the expectation

/// A decision as a change sees it: outcome and amount (eligible only).
type SideOf = (Outcome, Option<Decimal>);

fn side(d: &Decision) -> SideOf {
    let amount = match d.outcome {
        Outcome::Eligible => d.amount.as_ref().map(|a| a.value),
        _ => None,
    };
    (d.outcome, amount)
}

fn side_json(s: Option<SideOf>) -> Value {
    match s {
        None => Value::Null,
        Some((o, a)) => json!({
            "outcome": o.as_str(),
            "amount": a.map(|mut a| { a.rescale(2); a.to_string() }),
        }),
    }
}

/// Per policy: newly eligible, no longer eligible, newly undetermined, up, down,
/// unchanged, changed, notify, and the totals before and after.
#[derive(Debug, Default, Clone, PartialEq)]
struct Counts {
    newly_eligible: u64,
    no_longer_eligible: u64,
    newly_undetermined: u64,
    amount_up: u64,
    amount_down: u64,
    unchanged: u64,
    changed: u64,
    notify: u64,
    before: Decimal,
    after: Decimal,
}

impl Counts {
    fn from_json(v: &Value) -> Counts {
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
        let d = |k: &str| v[k].as_str().unwrap().parse::<Decimal>().unwrap();
        Counts {
            newly_eligible: n("newly_eligible"),
            no_longer_eligible: n("no_longer_eligible"),
            newly_undetermined: n("newly_undetermined"),
            amount_up: n("amount_up"),
            amount_down: n("amount_down"),
            unchanged: n("unchanged"),
            changed: n("changed"),
            notify: n("notify"),
            before: d("amount_before"),
            after: d("amount_after"),
        }
    }
}

/// The clause values of a traced decision: its own, and its items' (`item/Cn`).
fn clause_values(d: &Decision) -> Vec<(String, Option<String>, Truth)> {
    let mut out = vec![];
    if let Some(t) = &d.trace {
        for c in &t.clauses {
            out.push((c.id.clone(), None, c.value));
        }
    }
    if let Some((_, items)) = &d.per_item {
        for (id, item) in items {
            if let Some(t) = &item.trace {
                for c in &t.clauses {
                    out.push((c.id.clone(), Some(id.clone()), c.value));
                }
            }
        }
    }
    out
}

/// The clauses whose value changed: compared by (item, id); a decision out of its
/// effective period shows `C0` alone, and then only what both show is compared.
fn changed_clauses(b: &Decision, a: &Decision) -> Vec<String> {
    let (vb, va) = (clause_values(b), clause_values(a));
    let out_of_force = |v: &[(String, Option<String>, Truth)]| {
        v.iter()
            .any(|(id, item, t)| id == "C0" && item.is_none() && *t == Truth::False)
    };
    let both_in_force = !out_of_force(&vb) && !out_of_force(&va);
    let items_b: Vec<&Option<String>> = vb.iter().map(|x| &x.1).collect();
    let items_a: Vec<&Option<String>> = va.iter().map(|x| &x.1).collect();
    let mut out: Vec<String> = vec![];
    let mut push = |id: &str| {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_string());
        }
    };
    for (id, item, t) in &vb {
        match va.iter().find(|(i, it, _)| i == id && it == item) {
            Some((_, _, u)) if u != t => push(id),
            None if item.is_none() && both_in_force => push(id),
            // An item's clause the other side's same item lacks.
            None if item.is_some() && items_a.contains(&item) => push(id),
            _ => {}
        }
    }
    for (id, item, _) in &va {
        if vb.iter().any(|(i, it, _)| i == id && it == item) {
            continue;
        }
        if (item.is_none() && both_in_force) || (item.is_some() && items_b.contains(&item)) {
            push(id);
        }
    }
    out
}

/// What a diff must give: the change lines (as JSON, in order), the counts per policy,
/// and the records rejected.
struct Expected {
    changes: Vec<Value>,
    counts: BTreeMap<String, Counts>,
    rejected: u64,
    read: u64,
}

/// The expectation of diffing `text` between `b` on `bd` and `a` on `ad`, from the
/// reference decisions of every record.
fn expected(b: &RuleSet, bd: NaiveDate, a: &RuleSet, ad: NaiveDate, text: &str) -> Expected {
    let mut ids: Vec<String> = b.policies().map(|p| p.id().to_string()).collect();
    for p in a.policies() {
        if !ids.iter().any(|id| id == p.id()) {
            ids.push(p.id().to_string());
        }
    }
    let mut e = Expected {
        changes: vec![],
        counts: ids
            .iter()
            .map(|id| (id.clone(), Counts::default()))
            .collect(),
        rejected: 0,
        read: 0,
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        e.read += 1;
        let (Ok(rb), Ok(ra)) = (b.read_json(line), a.read_json(line)) else {
            e.rejected += 1;
            continue;
        };
        let by_id = |ds: Vec<Decision>| -> BTreeMap<String, Decision> {
            ds.into_iter().map(|d| (d.policy.clone(), d)).collect()
        };
        let (db, da) = (by_id(b.decide(&rb, bd)), by_id(a.decide(&ra, ad)));
        let subject = ra
            .id
            .clone()
            .or(rb.id.clone())
            .unwrap_or_else(|| format!("line {}", n + 1));
        for id in &ids {
            let (xb, xa) = (db.get(id), da.get(id));
            if xb.is_none() && xa.is_none() {
                continue;
            }
            let (sb, sa) = (xb.map(side), xa.map(side));
            let none = (Outcome::NotEligible, None);
            let (nb, na) = (sb.unwrap_or(none), sa.unwrap_or(none));
            let c = e.counts.get_mut(id).unwrap();
            if nb.0 == Outcome::Eligible {
                c.before += nb.1.unwrap_or_default();
            }
            if na.0 == Outcome::Eligible {
                c.after += na.1.unwrap_or_default();
            }
            if nb == na {
                c.unchanged += 1;
                continue;
            }
            c.changed += 1;
            let eligible = |s: SideOf| s.0 == Outcome::Eligible;
            if eligible(na) && !eligible(nb) {
                c.newly_eligible += 1;
            }
            if eligible(nb) && !eligible(na) {
                c.no_longer_eligible += 1;
            }
            if na.0 == Outcome::Undetermined && nb.0 != Outcome::Undetermined {
                c.newly_undetermined += 1;
            }
            if eligible(nb) && eligible(na) {
                let (x, y) = (nb.1.unwrap_or_default(), na.1.unwrap_or_default());
                if y > x {
                    c.amount_up += 1;
                }
                if y < x {
                    c.amount_down += 1;
                }
            }
            let mode = a.policy(id).map(|p| p.mode().as_str());
            let notify = eligible(na)
                && (!eligible(nb) || nb.1 != na.1)
                && matches!(mode, Some("no_application" | "push_and_confirm"));
            if notify {
                c.notify += 1;
            }
            let clauses = match (xb, xa) {
                (Some(x), Some(y)) => changed_clauses(x, y),
                _ => vec![],
            };
            e.changes.push(json!({
                "subject": subject,
                "policy": id,
                "before": side_json(sb),
                "after": side_json(sa),
                "clauses": clauses,
                "notify": notify,
            }));
        }
    }
    e
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Diffs `text` through the library, as `mianshen diff` does, on `threads` threads.
fn diff_lib(
    b: &RuleSet,
    bd: NaiveDate,
    a: &RuleSet,
    ad: NaiveDate,
    text: &str,
    threads: usize,
) -> (Impact, Collect) {
    let config = DiffConfig {
        run: RunConfig {
            threads: Some(threads),
            ..RunConfig::new(bd)
        },
        after_date: ad,
    };
    let mut sink = Collect::default();
    let impact = b
        .diff_json_lines(a, text.as_bytes(), &config, &mut sink)
        .unwrap();
    (impact, sink)
}

/// Holds a diff's outputs to the expectation.
fn check(what: &str, e: &Expected, changes: &[Value], impact: &Value) {
    let shown = |v: &[Value]| {
        v.iter()
            .take(5)
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    if changes != e.changes.as_slice() {
        let first = changes
            .iter()
            .zip(&e.changes)
            .position(|(x, y)| x != y)
            .unwrap_or(changes.len().min(e.changes.len()));
        panic!(
            "{what}: changes differ at line {first} ({} vs {} expected)\n got:\n{}\n expected:\n{}",
            changes.len(),
            e.changes.len(),
            shown(changes.get(first..).unwrap_or_default()),
            shown(e.changes.get(first..).unwrap_or_default())
        );
    }
    let policies = impact["policies"].as_object().unwrap();
    assert_eq!(policies.len(), e.counts.len(), "{what}: policies");
    for (id, want) in &e.counts {
        let got = Counts::from_json(&policies[id]);
        assert_eq!(&got, want, "{what}: impact of {id}");
    }
    assert_eq!(impact["run"]["records_read"], e.read, "{what}");
    assert_eq!(impact["run"]["rejected"], e.rejected, "{what}");
    assert_eq!(impact["run"]["accounted"], true, "{what}");
}

/// A copy of the shipped rules with `edit` applied to one of its files.
fn edited(name: &str, file: &str, from: &str, to: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&root().join("rules"), &dir);
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen(from, to, 1);
    assert_ne!(text, changed, "{name}: the edit applies");
    std::fs::write(&path, changed).unwrap();
    dir
}

/// An overlay directory with these rule files.
fn overlay(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = scratch(name);
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn shipped_policy(file: &str) -> String {
    std::fs::read_to_string(root().join("rules").join(file)).unwrap()
}

const SENIOR: &str = "social-assistance/sh-senior-comprehensive-allowance.rules";

/// The reform overlays of the tests: a parameter raised, a threshold moved, a policy
/// added, an effective period ended.
fn overlays() -> Vec<(&'static str, PathBuf)> {
    let pension = r#"
parameter CN_RES_BASIC_PENSION "城乡居民基础养老金全国最低标准（元/月）": decimal {
  from 2024-01-01 to 2024-12-31 = 123.00 "2024"
  from 2025-01-01 to 2025-06-30 = 143.00 "2025"
  from 2025-07-01 = 163.00 "reform: +20"
}
"#;
    let threshold = shipped_policy(SENIOR).replacen("years >= 65", "years >= 60", 1);
    let added = r#"
policy sh-senior-birthday-gift "上海市高龄老人生日礼金（示例）" {
  subject   person
  mode      push_and_confirm
  basis     "示例"
  effective from 2025-07-01

  C1 "本市户籍": person.hukou_region == "上海"
  C2 "年满80周岁": age(person.birth_date) >= 80

  amount one_time CNY: 500.00
}
"#;
    let ended = shipped_policy(SENIOR).replacen(
        "effective from 2016-01-01",
        "effective 2016-01-01 to 2025-06-30",
        1,
    );
    vec![
        (
            "parameter-raised",
            overlay("o-param", &[("p.rules", pension)]),
        ),
        (
            "threshold-moved",
            overlay("o-threshold", &[("s.rules", &threshold)]),
        ),
        ("policy-added", overlay("o-added", &[("a.rules", added)])),
        ("period-ended", overlay("o-ended", &[("e.rules", &ended)])),
    ]
}

// ------------------------------------------------------------------ diff

#[test]
fn a_reform_overlay_reaches_exactly_whom_the_reference_decisions_say() {
    let base = RuleSet::load_dir(root().join("rules")).unwrap();
    let text = population();
    let on = day("2025-07-01");
    for (what, dir) in overlays() {
        let reformed = RuleSet::load_dir_with_overlay(root().join("rules"), &dir).unwrap();
        let e = expected(&base, on, &reformed, on, &text);
        assert!(
            !e.changes.is_empty(),
            "{what}: the reform changes something"
        );
        let (impact, out) = diff_lib(&base, on, &reformed, on, &text, 2);
        check(what, &e, &jsonl(&out.0.changes), &impact.to_json(None));
        assert_eq!(out.0.rejected.lines().count() as u64, e.rejected, "{what}");
    }
}

#[test]
fn one_rule_set_on_two_dates_reaches_whom_time_reaches() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let text = population();
    for (from, to) in [("2025-06-30", "2025-07-01"), ("2025-07-01", "2026-07-01")] {
        let e = expected(&rules, day(from), &rules, day(to), &text);
        let (impact, out) = diff_lib(&rules, day(from), &rules, day(to), &text, 2);
        check(
            &format!("{from} → {to}"),
            &e,
            &jsonl(&out.0.changes),
            &impact.to_json(None),
        );
        // C0 is named when the effective period is crossed (the Beijing 低保 ends on
        // 2025-06-30), the age clause when a birthday is.
        if from == "2025-06-30" {
            assert!(e.changes.iter().any(|c| c["clauses"] == json!(["C0"])));
        }
    }
}

#[test]
fn two_rule_sets_a_policy_gone_and_one_moved() {
    // NEW drops a policy and moves the senior threshold: the dropped one counts as all
    // gone.
    let new = edited("new", SENIOR, "years >= 65", "years >= 70");
    std::fs::remove_file(new.join("pensions/resident-basic-pension.rules")).unwrap();
    std::fs::remove_file(new.join("cases/resident-basic-pension.yaml")).unwrap();
    let old = RuleSet::load_dir(root().join("rules")).unwrap();
    let new = RuleSet::load_dir(&new).unwrap();
    let text = population();
    let on = day("2025-07-01");
    let e = expected(&old, on, &new, on, &text);
    let (impact, out) = diff_lib(&old, on, &new, on, &text, 1);
    check("gone", &e, &jsonl(&out.0.changes), &impact.to_json(None));
    let gone = &impact.to_json(None)["policies"]["resident-basic-pension"];
    assert_eq!(gone["in"], "gone");
    assert_eq!(gone["amount_after"], "0.00");
    assert!(e.counts["resident-basic-pension"].no_longer_eligible > 0);
}

#[test]
fn a_diff_is_the_same_on_any_number_of_threads_and_through_csv_values() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let text = population();
    let (d1, d2) = (day("2025-06-30"), day("2025-07-01"));
    let (i1, o1) = diff_lib(&rules, d1, &rules, d2, &text, 1);
    let (i2, o2) = diff_lib(&rules, d1, &rules, d2, &text, 2);
    assert_eq!(i1, i2);
    assert_eq!(o1.0.changes, o2.0.changes);
    assert_eq!(o1.0.rejected, o2.0.rejected);
    // The same records as values (the reference path, as CSV rows take it).
    let records: Vec<InputRecord> = text
        .lines()
        .enumerate()
        .map(|(i, l)| InputRecord {
            line: i as u64 + 1,
            source: match serde_json::from_str::<Value>(l) {
                Ok(v) => Source::Value(v),
                Err(e) => Source::Unreadable(e.to_string()),
            },
        })
        .collect();
    let config = DiffConfig {
        run: RunConfig {
            threads: Some(2),
            chunk_size: 500,
            ..RunConfig::new(d1)
        },
        after_date: d2,
    };
    let mut sink = Collect::default();
    let i3 = rules.diff(&rules, records, &config, &mut sink).unwrap();
    assert_eq!(i3.policies, i1.policies);
    assert_eq!(sink.0.changes, o1.0.changes);
}

#[test]
fn a_host_asks_what_changes_for_one_person() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let text = population();
    let (d1, d2) = (day("2025-06-30"), day("2025-07-01"));
    let e = expected(&rules, d1, &rules, d2, &text);
    let mut got = vec![];
    for line in text.lines() {
        let Ok(rec) = rules.read_json(line) else {
            continue;
        };
        for c in rules.compare(&rules, &rec, d1, d2).unwrap() {
            got.push(serde_json::to_value(&c).unwrap());
        }
    }
    assert_eq!(got, e.changes);
}

#[test]
fn an_overlay_replaces_items_by_name_and_keeps_the_schema() {
    let dir = overlay(
        "o-schema",
        &[("schema.yaml", "subjects: {}\n"), ("x.rules", "")],
    );
    let err = RuleSet::load_dir_with_overlay(root().join("rules"), &dir).unwrap_err();
    assert!(err.to_string().contains("schema.yaml"), "{err}");
    // The same schema text is accepted; a parameter replaced keeps one definition.
    std::fs::copy(root().join("rules/schema.yaml"), dir.join("schema.yaml")).unwrap();
    std::fs::write(
        dir.join("x.rules"),
        "parameter BJ_DIBAO \"北京城乡低保标准\": decimal {\n  from 2024-07-01 to 2026-06-30 = 1500.00\n}\n",
    )
    .unwrap();
    let rules = RuleSet::load_dir_with_overlay(root().join("rules"), &dir).unwrap();
    let base = RuleSet::load_dir(root().join("rules")).unwrap();
    assert_eq!(rules.program().params.len(), base.program().params.len());
    assert_ne!(rules.version(), base.version());
}

// ------------------------------------------------------------------ near misses

fn run_near(rules: &RuleSet, on: NaiveDate, k: usize, threads: usize) -> (Summary, Collect) {
    let config = RunConfig {
        threads: Some(threads),
        near_miss: Some(k),
        ..RunConfig::new(on)
    };
    let mut sink = Collect::default();
    let summary = rules
        .run_json_lines(population().as_bytes(), &config, &mut sink)
        .unwrap();
    (summary, sink)
}

#[test]
fn near_misses_are_exactly_the_decisions_with_at_most_k_false_clauses() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let on = day("2025-07-01");
    for k in [1, 2, 3] {
        let (summary, out) = run_near(&rules, on, k, 2);
        let got: Vec<(String, String, Vec<String>)> = jsonl(&out.0.near)
            .iter()
            .map(|m| {
                (
                    m["subject"].as_str().unwrap().to_string(),
                    m["policy"].as_str().unwrap().to_string(),
                    m["failed"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f["clause"].as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect();
        let mut want = vec![];
        for (n, line) in population().lines().enumerate() {
            let Ok(rec) = rules.read_json(line) else {
                continue;
            };
            let subject = rec.id.clone().unwrap_or_else(|| format!("line {}", n + 1));
            for d in rules.decide(&rec, on) {
                let failed = d.failed.clone();
                if d.outcome == Outcome::NotEligible
                    && (1..=k).contains(&failed.len())
                    && !failed.iter().any(|c| c == "C0")
                {
                    want.push((subject.clone(), d.policy.clone(), failed));
                }
            }
        }
        assert!(!want.is_empty());
        // Record by record in input order, policies in the order the batch decides
        // them: compare as sorted lists.
        let (mut g, mut w) = (got.clone(), want.clone());
        g.sort();
        w.sort();
        assert_eq!(g.len(), w.len(), "K = {k}");
        assert_eq!(g, w, "K = {k}");
        assert_eq!(summary.near_misses.iter().sum::<u64>(), want.len() as u64);
        assert_eq!(summary.near_miss, Some(k));
    }
    // The same on one thread.
    let (_, a) = run_near(&rules, on, 1, 1);
    let (_, b) = run_near(&rules, on, 1, 2);
    assert_eq!(a.0.near, b.0.near);
}

#[test]
fn a_near_miss_says_how_far_and_whether_it_can_change() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let on = day("2025-07-01");
    let (_, out) = run_near(&rules, on, 2, 2);
    let misses = jsonl(&out.0.near);
    let mut kinds = BTreeMap::<String, usize>::new();
    for m in &misses {
        for f in m["failed"].as_array().unwrap() {
            let kind = f["kind"].as_str().unwrap_or("none").to_string();
            *kinds.entry(kind.clone()).or_default() += 1;
            let num = |k: &str| f[k].as_str().unwrap().parse::<Decimal>().unwrap();
            match kind.as_str() {
                "number" if f["needs"] != "!=" => {
                    // The actual value moved by the gap meets the threshold.
                    let (x, t, g) = (num("actual"), num("threshold"), num("gap"));
                    let y = x + g;
                    let holds = match f["needs"].as_str().unwrap() {
                        ">=" => y >= t,
                        ">" => y > t,
                        "<=" => y <= t,
                        "<" => y < t,
                        _ => y == t,
                    };
                    assert!(holds, "{m}");
                }
                "age" => {
                    let (x, t, g) = (num("actual"), num("threshold"), num("gap"));
                    if f["needs"] == ">=" {
                        assert_eq!(x + g, t, "{m}");
                        let reached = day(f["on"].as_str().unwrap());
                        assert!(reached > on, "{m}");
                        assert_eq!(f["changeable"], true);
                    }
                    if f["needs"] == "<=" {
                        assert_eq!(f["changeable"], false, "an age bound passed: {m}");
                    }
                }
                "value" => {
                    assert_ne!(f["actual"], f["threshold"], "{m}");
                }
                _ => {}
            }
        }
    }
    assert!(
        kinds.contains_key("age") && kinds.contains_key("date"),
        "{kinds:?}"
    );
    // The hukou region is marked fixed in the shipped schema: 本市户籍 cannot change.
    let hukou = misses
        .iter()
        .flat_map(|m| m["failed"].as_array().unwrap())
        .find(|f| f["label"] == "本市户籍")
        .expect("a near miss on 本市户籍");
    assert_eq!(hukou["changeable"], false);
    assert_eq!(hukou["threshold"], "上海");
}

#[test]
fn a_near_miss_of_one_record_through_the_library() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let rec = rules
        .read_json(
            r#"{"person": {"id": "P1", "birth_date": "1961-03-14", "hukou_region": "上海"}}"#,
        )
        .unwrap();
    let near = rules.near_misses(&rec, day("2025-07-01"), 1);
    let senior = near
        .iter()
        .find(|m| m.policy == "sh-senior-comprehensive-allowance")
        .unwrap();
    let c2 = &senior.failed[0];
    assert_eq!(
        (
            c2.actual.as_deref(),
            c2.threshold.as_deref(),
            c2.gap.as_deref()
        ),
        (Some("64"), Some("65"), Some("1"))
    );
    assert_eq!(c2.on, Some(day("2026-03-14")));
}

// ------------------------------------------------------------------ missing fields

#[test]
fn missing_fields_are_ranked_by_the_decisions_they_block_alone() {
    let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          income: {type: decimal}\n          savings: {type: decimal}\n      household:\n        fields:\n          members:\n            items:\n              key: id\n              fields:\n                id: {type: string}\n                income: {type: decimal}\n";
    let rules = r#"
policy low-income "低收入" {
  subject person
  mode no_application
  effective from 2025-01-01
  C1 "收入低": person.income < 2000
  C2 "存款少": person.savings < 10000
  amount per_month CNY: 100
}
policy household-low "家庭收入低" {
  subject person
  mode no_application
  effective from 2025-01-01
  C1 "每位成员收入低": all m in household.members: m.income < 1000
}
"#;
    let rules = RuleSet::from_sources(schema, &[("r.rules", rules)]).unwrap();
    let text = [
        // income missing alone; members all known.
        r#"{"person": {"id": "A", "savings": 10}, "household": {"members": [{"id": "M1", "income": 10}]}}"#,
        // income and savings missing: neither alone.
        r#"{"person": {"id": "B"}, "household": {"members": [{"id": "M1", "income": 10}]}}"#,
        // two members' incomes missing: one field, alone.
        r#"{"person": {"id": "C", "income": 10, "savings": 10}, "household": {"members": [{"id": "M1"}, {"id": "M2"}]}}"#,
        // income missing alone again.
        r#"{"person": {"id": "D", "savings": 10}, "household": {"members": []}}"#,
    ]
    .join("\n");
    let mut sink = Collect::default();
    let summary = rules
        .run_json_lines(
            text.as_bytes(),
            &RunConfig::new(day("2025-07-01")),
            &mut sink,
        )
        .unwrap();
    let m = summary.to_json(None)["missing_fields"].clone();
    assert_eq!(
        m["overall"],
        json!([
            {"path": "person.income", "blocks_alone": 2, "missing_in": 3},
            {"path": "household.members[].income", "blocks_alone": 1, "missing_in": 1},
            {"path": "person.savings", "blocks_alone": 0, "missing_in": 1},
        ])
    );
    assert_eq!(
        m["policies"]["household-low"],
        json!([{"path": "household.members[].income", "blocks_alone": 1, "missing_in": 1}])
    );
    assert_eq!(m["policies"]["low-income"].as_array().unwrap().len(), 2);
}

// ------------------------------------------------------------------ the command line

fn mianshen(args: &[&str]) -> command::Run {
    command::run_within(args, Duration::from_secs(120))
}

#[test]
fn the_diff_command_writes_what_the_reference_decisions_say() {
    let base = RuleSet::load_dir(root().join("rules")).unwrap();
    let text = population();
    let (_, dir) = overlays().into_iter().next().unwrap();
    let reformed = RuleSet::load_dir_with_overlay(root().join("rules"), &dir).unwrap();
    let out = scratch("cli-diff");
    let r = mianshen(&[
        "diff",
        "rules/",
        "--overlay",
        dir.to_str().unwrap(),
        "--input",
        "examples/population.jsonl",
        "--date",
        "2025-07-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("resident-basic-pension"), "{r:?}");
    let on = day("2025-07-01");
    let e = expected(&base, on, &reformed, on, &text);
    let changes = jsonl(&std::fs::read_to_string(out.join("changes.jsonl")).unwrap());
    let impact: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("impact.json")).unwrap()).unwrap();
    check("cli overlay", &e, &changes, &impact);
    assert_eq!(
        std::fs::read_to_string(out.join("rejected.jsonl"))
            .unwrap()
            .lines()
            .count() as u64,
        e.rejected
    );

    // One rule set on two dates.
    let r = mianshen(&[
        "diff",
        "rules/",
        "--input",
        "examples/population.jsonl",
        "--date",
        "2025-06-30",
        "--to-date",
        "2025-07-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--threads",
        "2",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let e = expected(&base, day("2025-06-30"), &base, on, &text);
    let changes = jsonl(&std::fs::read_to_string(out.join("changes.jsonl")).unwrap());
    let impact: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("impact.json")).unwrap()).unwrap();
    check("cli dates", &e, &changes, &impact);

    // Nothing to compare is a usage error.
    let r = mianshen(&[
        "diff",
        "rules/",
        "--input",
        "examples/population.jsonl",
        "--date",
        "2025-07-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn run_near_miss_and_report_and_eval_near_miss() {
    let out = scratch("cli-near");
    let report = out.join("report.html");
    let r = mianshen(&[
        "run",
        "rules/",
        "--input",
        "examples/population.jsonl",
        "--date",
        "2025-07-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--near-miss",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let near = std::fs::read_to_string(out.join("near.jsonl")).unwrap();
    assert!(near.lines().count() > 100);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["near_misses"]["max_failed"], 1);
    assert!(
        summary["missing_fields"]["overall"]
            .as_array()
            .unwrap()
            .len()
            > 3
    );
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("<svg") && page.contains("person.birth_date"));
    // Self-contained: no script, nothing loaded from elsewhere.
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
    // A run without --near-miss leaves no near.jsonl behind.
    let r = mianshen(&[
        "run",
        "rules/",
        "--input",
        "examples/population.jsonl",
        "--date",
        "2025-07-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!out.join("near.jsonl").exists());

    let person = out.join("p.yaml");
    std::fs::write(
        &person,
        "person:\n  id: P1\n  birth_date: 1961-03-14\n  hukou_region: 上海\n",
    )
    .unwrap();
    let r = mianshen(&[
        "eval",
        "rules/",
        person.to_str().unwrap(),
        "--date",
        "2025-07-01",
        "--near-miss",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "sh-senior-comprehensive-allowance 上海市老年综合津贴 — would be eligible if"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("✗ C2 年满65周岁: age 64, needs >= 65 (1 year, on 2026-03-14)"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_report_speaks_the_language_of_the_run() {
    let out = scratch("cli-report-lang");
    let report = |lang: &str| {
        let file = out.join(format!("report.{lang}.html"));
        let r = mianshen(&[
            "run",
            "rules/",
            "--input",
            "examples/population.jsonl",
            "--date",
            "2025-07-01",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--near-miss",
            "--lang",
            lang,
            "--report",
            file.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        std::fs::read_to_string(&file).unwrap()
    };
    let zh = report("zh");
    let en = report("en");
    assert!(zh.contains("<html lang=\"zh-CN\">") && en.contains("<html lang=\"en\">"));
    for word in [
        "各政策的判定结果",
        "数据缺口",
        "一步之遥",
        "基准日期 2025-07-01",
    ] {
        assert!(zh.contains(word), "{word}");
        assert!(!en.contains(word), "{word}");
    }
    for word in [
        "Outcomes per policy",
        "Where the data is thin",
        "One step away",
    ] {
        assert!(en.contains(word), "{word}");
        assert!(!zh.contains(word), "{word}");
    }
    assert!(!zh.contains("report--") && !en.contains("report--"));
    // The same numbers and charts in both: only the words differ.
    let bars = |page: &str| page.matches("<rect").count();
    assert_eq!(bars(&zh), bars(&en));
    assert!(zh.contains("person.birth_date") && en.contains("person.birth_date"));
}
