//! Any bytes as a record (JSON) with a reference date, against the shipped rules: reading
//! and evaluating must not panic, and evaluating twice gives the same bytes.
//! The first two bytes choose the reference date (days from 2015-01-01).
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use mianshen::{EvalOptions, RuleSet};
use std::path::Path;
use std::sync::OnceLock;

fn rules() -> &'static RuleSet {
    static R: OnceLock<RuleSet> = OnceLock::new();
    R.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        RuleSet::load_dir(dir).expect("the shipped rules load")
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let days = u16::from_le_bytes([data[0], data[1]]);
    let Some(date) = NaiveDate::from_ymd_opt(2015, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(days % 5000))))
    else {
        return;
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&data[2..]) else {
        return;
    };
    let rules = rules();
    let _ = rules.read_value(&json, None);
    for subject in rules.subjects() {
        let Ok(record) = rules.read_value(&json, Some(subject)) else {
            continue;
        };
        let opts = EvalOptions {
            trace: true,
            ..EvalOptions::default()
        };
        let a = rules.decide_with(&record, date, opts);
        let b = rules.decide_with(&record, date, opts);
        assert_eq!(
            serde_json::to_string(&a).expect("decisions serialise"),
            serde_json::to_string(&b).expect("decisions serialise"),
            "two evaluations differ"
        );
    }
});
