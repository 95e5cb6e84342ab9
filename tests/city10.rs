//! Benchmark workload city-10 (shared/bench/WORKLOAD.md): the engine running
//! benches/city-10, and the hand-written baseline (benches/baseline.rs), must both give
//! the oracle's summary (shared/bench/oracle.py) on a fixed population.
//!
//! Fixture: `gen_population.py 3000 7 > tests/fixtures/city10-3000.jsonl` and
//! `oracle.py tests/fixtures/city10-3000.jsonl > tests/fixtures/city10-3000.summary.json`.

#[allow(dead_code)]
#[path = "../benches/baseline.rs"]
mod baseline;

use chrono::NaiveDate;
use mianshen::{EvalOptions, LoadError, Outcome, RuleSet};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::PathBuf;

const POPULATION: &str = "tests/fixtures/city10-3000.jsonl";
const ORACLE_SUMMARY: &str = "tests/fixtures/city10-3000.summary.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ref_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
}

fn read(path: &str) -> String {
    let p = root().join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// One policy's line of the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Line {
    eligible: u64,
    not_eligible: u64,
    undetermined: u64,
    amount: String,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "eligible {}, not_eligible {}, undetermined {}, amount {}",
            self.eligible, self.not_eligible, self.undetermined, self.amount
        )
    }
}

fn two_places(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string()
}

/// The oracle's summary, in its policy order.
fn oracle() -> Vec<(String, Line)> {
    let v: serde_json::Value = serde_json::from_str(&read(ORACLE_SUMMARY)).expect("summary JSON");
    let obj = v.as_object().expect("the summary is an object");
    obj.iter()
        .map(|(id, s)| {
            let n = |k: &str| {
                s[k].as_u64()
                    .unwrap_or_else(|| panic!("{id}.{k} is not a count"))
            };
            let line = Line {
                eligible: n("eligible"),
                not_eligible: n("not_eligible"),
                undetermined: n("undetermined"),
                amount: s["amount"].as_str().expect("amount string").to_string(),
            };
            (id.clone(), line)
        })
        .collect()
}

/// Compares policy by policy; panics with every difference.
fn assert_matches_oracle(who: &str, got: &BTreeMap<String, Line>) {
    let want = oracle();
    assert_eq!(want.len(), 10, "the oracle summary has ten policies");
    let mut problems = vec![];
    for (id, w) in &want {
        match got.get(id) {
            None => problems.push(format!("  {id}: no decisions (policy missing?)")),
            Some(g) if g != w => problems.push(format!("  {id}:\n    oracle: {w}\n    {who}: {g}")),
            Some(_) => {}
        }
    }
    for id in got.keys() {
        if !want.iter().any(|(w, _)| w == id) {
            problems.push(format!("  {id}: not in the oracle summary"));
        }
    }
    assert!(
        problems.is_empty(),
        "{who} differs from the oracle on {} ({} of 10 policies):\n{}",
        POPULATION,
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn engine_matches_oracle_on_city10() {
    let dir = root().join("benches/city-10");
    let rules = RuleSet::load_dir(&dir).unwrap_or_else(|e| match &e {
        LoadError::Diagnostics { diagnostics, .. } => {
            panic!("{}: {e}: {diagnostics:#?}", dir.display())
        }
        _ => panic!("{}: {e}", dir.display()),
    });
    let opts = EvalOptions::default();
    let mut counts: BTreeMap<String, (u64, u64, u64, Decimal)> = BTreeMap::new();
    let mut records = 0;
    for (n, line) in read(POPULATION).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{POPULATION}:{}: {e}", n + 1));
        let record = rules
            .read_value(&value, None)
            .unwrap_or_else(|e| panic!("{POPULATION}:{}: {e}", n + 1));
        records += 1;
        for d in rules.decide_with(&record, ref_date(), opts) {
            if let Some(e) = &d.error {
                panic!(
                    "{POPULATION}:{}: {}: evaluation error at {}: {}",
                    n + 1,
                    d.policy,
                    e.at,
                    e.message
                );
            }
            let c = counts.entry(d.policy.clone()).or_default();
            match d.outcome {
                Outcome::Eligible => {
                    c.0 += 1;
                    let a = d.amount.as_ref().unwrap_or_else(|| {
                        panic!(
                            "{POPULATION}:{}: {} eligible without an amount",
                            n + 1,
                            d.policy
                        )
                    });
                    c.3 += a.value;
                }
                Outcome::NotEligible => c.1 += 1,
                Outcome::Undetermined => c.2 += 1,
            }
        }
    }
    assert_eq!(records, 3000, "records in {POPULATION}");
    let got = counts
        .into_iter()
        .map(|(id, (e, n, u, a))| {
            let line = Line {
                eligible: e,
                not_eligible: n,
                undetermined: u,
                amount: two_places(a),
            };
            (id, line)
        })
        .collect();
    assert_matches_oracle("engine", &got);
}

#[test]
fn baseline_matches_oracle_on_city10() {
    let mut summary = baseline::Summary::default();
    for (n, line) in read(POPULATION).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let person =
            baseline::parse_line(line).unwrap_or_else(|e| panic!("{POPULATION}:{}: {e}", n + 1));
        summary.add(&baseline::evaluate(&person, ref_date()));
    }
    let got = baseline::POLICIES
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let [not, elig, undet] = summary.counts[i];
            let line = Line {
                eligible: elig,
                not_eligible: not,
                undetermined: undet,
                amount: two_places(summary.amounts[i]),
            };
            (id.to_string(), line)
        })
        .collect();
    assert_matches_oracle("baseline", &got);
    // The printed summary is the oracle's, byte for byte.
    assert_eq!(
        summary.to_json() + "\n",
        read(ORACLE_SUMMARY),
        "baseline Summary::to_json differs from {ORACLE_SUMMARY}"
    );
}

/// The baseline's three-valued reading on hand-made records (the oracle's self-test
/// cases that matter most): missing required data is unknown, optional none is false.
#[test]
fn baseline_three_valued_cases() {
    let base = r#"{"id":"T","birth_date":"1986-01-15","gender":"male",
        "hukou":{"local":true,"district":"330102"},
        "education":{"level":"secondary","graduation_date":"2004-06-30"},
        "employment":{"status":"employed","employer_size":"large","registered_unemployed":false,"separation":null},
        "social_insurance":{"months_paid":200,"contributing":true},
        "income_monthly":"8000.00","disability_level":0,"certificates":[],
        "business":null,"household":{"assets":"300000.00","members":[]}}"#;
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        edit(&mut v);
        let p = baseline::parse_line(&v.to_string()).unwrap();
        baseline::evaluate(&p, ref_date())
    };
    let dec = |s: &str| s.parse::<Decimal>().unwrap();
    // income absent, local, poor, disabled: minimum-living and disability unknown
    let r = with(&|v| {
        v.as_object_mut().unwrap().remove("income_monthly");
        v["household"]["assets"] = "100.00".into();
        v["disability_level"] = 1.into();
    });
    assert_eq!((r[3].0, r[4].0, r[5].0), (2, 2, 1));
    // income absent, not local: false and unknown
    let r = with(&|v| {
        v.as_object_mut().unwrap().remove("income_monthly");
        v["hukou"]["local"] = false.into();
        v["household"]["assets"] = "100.00".into();
    });
    assert_eq!(r[3].0, 0);
    // one cent below the line
    let r = with(&|v| {
        v["income_monthly"] = "2199.99".into();
        v["household"] = serde_json::json!({"assets": "99999.99", "members": [
            {"relation": "spouse", "birth_date": "1987-01-01", "income_monthly": "0.00"}]});
        v["disability_level"] = 2.into();
    });
    assert_eq!(
        (r[3], r[4], r[5]),
        ((1, dec("0.01")), (1, dec("150")), (1, dec("200")))
    );
    // graduation date null (optional): false, even with the rest true
    let r = with(&|v| {
        v["education"] = serde_json::json!({"level": "bachelor", "graduation_date": null});
        v["employment"]["employer_size"] = "small".into();
        v["social_insurance"]["months_paid"] = 3.into();
    });
    assert_eq!(r[2].0, 0);
    // business present, operating_months absent (required): unknown
    let r = with(&|v| v["business"] = serde_json::json!({"registered": "2024-01-01"}));
    assert_eq!(r[7].0, 2);
    // certificates: one too old, one undated: false or unknown
    let r = with(&|v| {
        v["certificates"] =
            serde_json::json!([{"level": 1, "obtained": "2025-06-30"}, {"level": 2}])
    });
    assert_eq!(r[8].0, 2);
    // best level among the recent ones
    let r = with(&|v| {
        v["certificates"] = serde_json::json!([{"level": 1, "obtained": "2025-06-30"},
            {"level": 4, "obtained": "2025-07-01"}, {"level": 5, "obtained": "2026-07-01"}, {"level": 2}])
    });
    assert_eq!(r[8], (1, dec("1500")));
    // unemployed, months_paid 60: 18 months of 2241.00
    let r = with(&|v| {
        v["employment"] = serde_json::json!({"status": "unemployed", "employer_size": null,
            "registered_unemployed": true, "separation": "involuntary"});
        v["social_insurance"]["months_paid"] = 60.into();
    });
    assert_eq!(r[1], (1, dec("40338.00")));
    // children: one aged 2, one exactly 3, one of unknown age
    let r = with(&|v| {
        v["household"]["members"] = serde_json::json!([
            {"relation": "child", "birth_date": "2024-02-29", "income_monthly": "0.00"},
            {"relation": "child", "birth_date": "2023-07-01", "income_monthly": "0.00"},
            {"relation": "child", "income_monthly": "0.00"}]);
    });
    assert_eq!(r[9], (1, dec("3600")));
    let r = with(&|v| {
        v["household"]["members"] = serde_json::json!([
            {"relation": "child", "birth_date": "2023-07-01", "income_monthly": "0.00"},
            {"relation": "child", "income_monthly": "0.00"}]);
    });
    assert_eq!(r[9].0, 2);
    // hukou.local null (required): elderly allowance unknown for a 90-year-old
    let r = with(&|v| {
        v["birth_date"] = "1936-03-01".into();
        v["hukou"]["local"] = serde_json::Value::Null;
    });
    assert_eq!(r[0].0, 2);
}
