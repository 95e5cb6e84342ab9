//! The lines of grants.jsonl, pushes.jsonl and errors.jsonl.

use super::ChunkOutput;
use crate::compile::RuleSet;
use crate::eval::{Decision, Outcome};
use crate::syntax::ast::Mode;
use rust_decimal::Decimal;
use serde::Serialize;
use std::fmt::Write as _;

/// The constant parts of the grant and push lines of eligible decisions, escaped once
/// per run, so that a line is a few string copies.
pub(super) struct LineTemplates {
    /// Per policy: `,"policy":…` up to the amount, the target file, and the tail from
    /// `,"basis"` to the end of the line.
    policies: Vec<(String, bool, String)>,
    /// Per policy, per amount rule: `"unit":…,"period":…` and the extras' keys, each
    /// with whether it derives from a sensitive field (then written masked).
    amounts: Vec<Vec<(String, Vec<ExtraKey>)>>,
}

/// An extra's key as JSON, and whether its value is masked.
type ExtraKey = (String, bool);

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl LineTemplates {
    pub(super) fn new(rules: &RuleSet) -> Self {
        let mut policies = vec![];
        let mut amounts = vec![];
        for (i, p) in rules.program.policies.iter().enumerate() {
            let tainted = rules
                .taint
                .policies
                .get(i)
                .map(|t| &t.extras[..])
                .unwrap_or(&[]);
            let mut head = format!(",\"policy\":{}", json_str(&p.id));
            let grant = p.mode == Mode::NoApplication;
            if !grant {
                let reason = if p.mode == Mode::PushAndConfirm {
                    "eligible_confirm"
                } else {
                    "eligible_apply"
                };
                head.push_str(&format!(",\"reason\":\"{reason}\""));
            }
            let mut tail = String::new();
            if let Some(b) = &p.basis {
                tail.push_str(&format!(",\"basis\":{}", json_str(b)));
            }
            tail.push_str(&format!(",\"rule_set\":{}}}\n", json_str(&rules.version)));
            policies.push((head, grant, tail));
            amounts.push(
                p.amounts
                    .iter()
                    .map(|a| {
                        (
                            format!(
                                "\"unit\":{},\"period\":{}",
                                json_str(&a.unit),
                                json_str(&a.period)
                            ),
                            a.extras
                                .iter()
                                .map(|(k, _)| (json_str(k), tainted.contains(k)))
                                .collect(),
                        )
                    })
                    .collect(),
            );
        }
        LineTemplates { policies, amounts }
    }

    /// Writes the line of an eligible decision (the same bytes as [`write_outputs`]);
    /// `false`, with nothing written, when the templates have no such policy or amount
    /// rule.
    #[must_use]
    pub(super) fn eligible(
        &self,
        out: &mut ChunkOutput,
        policy: usize,
        subject: &str,
        amount: Option<(usize, Decimal)>,
        extras: &[(usize, crate::eval::ExtraValue)],
    ) -> bool {
        let Some((head, grant, tail)) = self.policies.get(policy) else {
            return false;
        };
        let amount = match amount {
            Some((rule, value)) => match self.amounts.get(policy).and_then(|a| a.get(rule)) {
                Some(template) => Some((template, value)),
                None => return false,
            },
            None => None,
        };
        let target = if *grant {
            &mut out.grants
        } else {
            &mut out.pushes
        };
        target.push_str("{\"subject\":");
        push_json_str(target, subject);
        target.push_str(head);
        if let Some(((unit_period, keys), value)) = amount {
            let v = crate::value::money(value);
            let _ = write!(target, ",\"amount\":{{\"value\":\"{v}\",{unit_period}");
            for (k, x) in extras {
                match keys.get(*k) {
                    Some((key, true)) => {
                        let _ = write!(target, ",{key}:\"{}\"", crate::check::taint::MASK);
                    }
                    Some((key, false)) => {
                        if let Ok(text) = serde_json::to_string(x) {
                            let _ = write!(target, ",{key}:{text}");
                        }
                    }
                    None => {}
                }
            }
            target.push('}');
        }
        target.push_str(tail);
        true
    }
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&json_str(s));
    }
}

/// A line of grants.jsonl, pushes.jsonl or errors.jsonl.
#[derive(Serialize)]
struct OutputLine<'a> {
    subject: &'a str,
    policy: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<&'a crate::eval::Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a crate::eval::EvalError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basis: Option<&'a str>,
    rule_set: &'a str,
}

pub(super) fn write_outputs(
    out: &mut ChunkOutput,
    subject: &str,
    policy: &crate::ir::PolicyDef,
    d: &Decision,
    version: &str,
) {
    let mut line = OutputLine {
        subject,
        policy: &d.policy,
        reason: None,
        amount: d.amount.as_ref(),
        missing: None,
        error: None,
        basis: policy.basis.as_deref(),
        rule_set: version,
    };
    let target = match (d.outcome, policy.mode) {
        (Outcome::Eligible, Mode::NoApplication) => &mut out.grants,
        (Outcome::Eligible, mode) => {
            line.reason = Some(if mode == Mode::PushAndConfirm {
                "eligible_confirm"
            } else {
                "eligible_apply"
            });
            &mut out.pushes
        }
        // A case the rule text leaves undefined is nothing to ask a citizen about: it
        // goes to the rule set's maintainers.
        (Outcome::Undetermined, _) if d.error.is_some() => {
            line.reason = Some("evaluation_error");
            line.error = d.error.as_ref();
            line.missing = (!d.missing.is_empty()).then_some(d.missing.as_slice());
            line.basis = None;
            &mut out.errors
        }
        (Outcome::Undetermined, _) => {
            line.reason = Some("undetermined");
            line.missing = Some(&d.missing);
            line.basis = None;
            &mut out.pushes
        }
        (Outcome::NotEligible, _) => return,
    };
    // Serialising into a String cannot fail.
    if let Ok(text) = serde_json::to_string(&line) {
        target.push_str(&text);
        target.push('\n');
    }
}
