//! Any bytes as a rule file, checked against the shipped schema: the parser and the
//! checker must not panic, and a rule file that is not a program gets an error
//! located in the file (rendering it must not panic either).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mianshen::internals::load::check_sources;
use mianshen::internals::schema::Schema;
use mianshen::Severity;
use std::sync::OnceLock;

const SCHEMA: &str = include_str!("../../rules/schema.yaml");

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::from_yaml(SCHEMA).expect("the shipped schema reads"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let len = text.len();
    let checked = check_sources(
        schema().clone(),
        SCHEMA,
        vec![("fuzz.rules".into(), text.to_string())],
    );
    for d in &checked.diagnostics {
        let _ = d.render(&checked.sources);
    }
    if checked.rules.is_none() {
        let located = checked.diagnostics.iter().any(|d| {
            d.severity == Severity::Error
                && d.span.is_some_and(|s| s.start <= s.end && s.end <= len)
        });
        assert!(located, "no program and no located error");
    }
});
