//! The JSON that `eval --json` and `prefill --json` print, shared with `mianshen serve`
//! so that the service answers with the same bytes.

use mianshen::internals::escape;
use mianshen::{BundleResult, Decision};

/// The decisions of one record as `eval --json` prints them (without the final newline):
/// pretty JSON with dangerous characters escaped ([`escape::json`]).
pub fn decisions_json(decisions: &[Decision]) -> String {
    escape::json(&serde_json::to_string_pretty(decisions).unwrap_or_default()).into_owned()
}

/// A pre-filled bundle as `prefill --json` prints it (without the final newline).
pub fn prefill_json(result: &BundleResult) -> String {
    escape::json(&serde_json::to_string_pretty(result).unwrap_or_default()).into_owned()
}
