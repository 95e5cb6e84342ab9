//! Diagnostics: what is wrong, where, and what to do.

use crate::syntax::ast::Span;
use crate::syntax::SourceMap;
use serde::Serialize;

/// How bad a diagnostic is: an error refuses the rule set, a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule set cannot be used.
    Error,
    /// Worth a look; the rule set can still be used.
    Warning,
}

/// One finding of the parser or the checker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Whether the diagnostic refuses the rule set.
    pub severity: Severity,
    /// A stable code (`unknown-field`, `type-mismatch`, ...): one of the constants of
    /// [`diagnostic_code`](crate::diagnostic_code), the same in every language.
    pub code: &'static str,
    /// What is wrong, for the author of the rules.
    pub message: String,
    /// Where; `None` for problems outside the rule files (e.g. the schema).
    #[serde(skip)]
    pub span: Option<Span>,
    /// What to do about it (often a "did you mean").
    pub hint: Option<String>,
}

/// The stable codes of diagnostics, the same in every language, to match on
/// (`match d.code { code::UNKNOWN_NAME => …, _ => … }`).
pub mod code {
    /// `amount-guard`: an amount rule without `when` that is not the last, or `otherwise`
    /// not last.
    pub const AMOUNT_GUARD: &str = "amount-guard";
    /// `arity`: a function or built-in called with the wrong number of arguments.
    pub const ARITY: &str = "arity";
    /// `cycle`: definitions, functions or `eligible`/`amount` references that go round in a
    /// circle.
    pub const CYCLE: &str = "cycle";
    /// `duplicate-id`: a name defined twice (a policy, bundle, parameter or function; a
    /// parameter step given twice).
    pub const DUPLICATE_ID: &str = "duplicate-id";
    /// `duration-literal`: a duration added to or taken from a date that is not written
    /// where it is used (`d + 12 months`).
    pub const DURATION_LITERAL: &str = "duration-literal";
    /// `missing-condition`: a quantifier without its condition, value or ordering.
    pub const MISSING_CONDITION: &str = "missing-condition";
    /// `missing-entry`: a policy without its `subject`, `mode` or `effective` entry.
    pub const MISSING_ENTRY: &str = "missing-entry";
    /// `no-amount`: an amount property declared on a policy that has no amount.
    pub const NO_AMOUNT: &str = "no-amount";
    /// `overlapping-steps`: two steps of a dated parameter that start on the same day.
    pub const OVERLAPPING_STEPS: &str = "overlapping-steps";
    /// `parameter-gap`: a dated parameter without a value on some day a policy using it is
    /// in force.
    pub const PARAMETER_GAP: &str = "parameter-gap";
    /// `reserved-clause`: a clause written as `C0`, the implicit "in force on the reference
    /// date".
    pub const RESERVED_CLAUSE: &str = "reserved-clause";
    /// `subject-mismatch`: a policy referred to (by a bundle, `eligible` or `amount`) that
    /// is about another subject kind.
    pub const SUBJECT_MISMATCH: &str = "subject-mismatch";
    /// `syntax`: text that does not follow the grammar (the first one of each file).
    pub const SYNTAX: &str = "syntax";
    /// `too-deep`: expressions, functions or policy references nested deeper than the
    /// evaluator allows.
    pub const TOO_DEEP: &str = "too-deep";
    /// `total-without-items`: a `total` on a policy that is not decided per item.
    pub const TOTAL_WITHOUT_ITEMS: &str = "total-without-items";
    /// `type-mismatch`: values of types that do not go together (`person.birth_date > 60`,
    /// a clause that is not a condition, branches of different types).
    pub const TYPE_MISMATCH: &str = "type-mismatch";
    /// `unknown-clause`: a bundle overriding a clause the policy does not have.
    pub const UNKNOWN_CLAUSE: &str = "unknown-clause";
    /// `unknown-enum-value`: a value that is not one of the enumeration's.
    pub const UNKNOWN_ENUM_VALUE: &str = "unknown-enum-value";
    /// `unknown-extra`: a `total` summing an extra that not every amount rule states.
    pub const UNKNOWN_EXTRA: &str = "unknown-extra";
    /// `unknown-field`: a record path that is not a field of the schema.
    pub const UNKNOWN_FIELD: &str = "unknown-field";
    /// `unknown-function`: a call of a function that is neither built in nor defined.
    pub const UNKNOWN_FUNCTION: &str = "unknown-function";
    /// `unknown-member`: a bundle member named that is not an earlier member of the bundle.
    pub const UNKNOWN_MEMBER: &str = "unknown-member";
    /// `unknown-mode`: a `mode` that is not `no_application`, `push_and_confirm` or
    /// `apply`.
    pub const UNKNOWN_MODE: &str = "unknown-mode";
    /// `unknown-name`: a name that is not a definition, parameter, variable or enumeration
    /// value in scope.
    pub const UNKNOWN_NAME: &str = "unknown-name";
    /// `unknown-parameter`: a parameter that is not defined.
    pub const UNKNOWN_PARAMETER: &str = "unknown-parameter";
    /// `unknown-period`: an amount period the language does not know.
    pub const UNKNOWN_PERIOD: &str = "unknown-period";
    /// `unknown-policy`: a reference (`eligible`, `amount`, `excludes`, a bundle member) to
    /// a policy that does not exist.
    pub const UNKNOWN_POLICY: &str = "unknown-policy";
    /// `unknown-subject`: a `subject` that is not a subject kind of the schema.
    pub const UNKNOWN_SUBJECT: &str = "unknown-subject";
    /// `unknown-type`: a type name that is neither built in nor an enumeration of the
    /// schema.
    pub const UNKNOWN_TYPE: &str = "unknown-type";
}

impl Diagnostic {
    /// An error of code `code` at `span` (the checker's way to make one).
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: Some(span),
            hint: None,
        }
    }

    /// The diagnostic with a hint of what to do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Where the diagnostic is, as `file:line:column` (empty for a diagnostic outside
    /// the rule files).
    pub fn location(&self, sources: &SourceMap) -> String {
        match self.span {
            Some(span) => {
                let (line, col) = sources.line_col(span);
                let path = sources
                    .file(span.file)
                    .map_or_else(String::new, |f| f.path.display().to_string());
                format!("{path}:{line}:{col}")
            }
            None => String::new(),
        }
    }

    /// Renders the diagnostic like a compiler: location, message, the source line with
    /// a caret under the offending text, and the hint.
    pub fn render(&self, sources: &SourceMap) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{sev}[{}]: {}\n", self.code, self.message);
        if let Some(span) = self.span {
            out.push_str(&format!("  --> {}\n", self.location(sources)));
            if let Some(file) = sources.file(span.file) {
                let (line, col) = sources.line_col(span);
                if let Some(text) = file.text.lines().nth(line.saturating_sub(1)) {
                    let gutter = line.to_string().len();
                    let len = file.text.len();
                    let width = file
                        .text
                        .get(span.start.min(len)..span.end.min(len))
                        .unwrap_or_default()
                        .lines()
                        .next()
                        .map_or(1, |s| {
                            s.chars()
                                .map(|c| if is_wide(c) { 2 } else { 1 })
                                .sum::<usize>()
                                .max(1)
                        });
                    let pad: String = text
                        .chars()
                        .take(col.saturating_sub(1))
                        .map(|c| {
                            if c == '\t' {
                                '\t'
                            } else if is_wide(c) {
                                '　'
                            } else {
                                ' '
                            }
                        })
                        .collect();
                    out.push_str(&format!("{:gutter$} |\n", ""));
                    out.push_str(&format!("{line} | {text}\n"));
                    out.push_str(&format!("{:gutter$} | {pad}{}\n", "", "^".repeat(width)));
                }
            }
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("  = help: {hint}\n"));
        }
        out
    }
}

/// East Asian wide characters take two columns in a terminal.
fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Closest candidate to a misspelt name, for "did you mean".
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(name, c);
        let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // One row of the table at a time: `prev[j]` is the distance between the first i
    // characters of `a` and the first j of `b`.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut left = i + 1;
        let mut cur = Vec::with_capacity(prev.len());
        cur.push(left);
        for (cb, above) in b.iter().zip(prev.windows(2)) {
            let &[diagonal, up] = above else { continue };
            left = (diagonal + usize::from(ca != cb)).min(up + 1).min(left + 1);
            cur.push(left);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("年龄", "年齡"), 1);
        assert_eq!(
            did_you_mean("incme", ["income", "age"]),
            Some("income".into())
        );
    }

    #[test]
    fn spans_off_the_text_or_inside_a_character_render_without_panicking() {
        let mut sources = SourceMap::default();
        let file = sources.add(PathBuf::from("a.policy"), "年龄 >= 18\n".into());
        for (start, end) in [(1, 2), (5, 1), (100, 200), (0, usize::MAX)] {
            let d = Diagnostic::error("x", Span { file, start, end }, "m");
            assert!(d.render(&sources).contains("a.policy:"));
        }
        let elsewhere = Diagnostic::error(
            "x",
            Span {
                file: 9,
                start: 0,
                end: 1,
            },
            "m",
        );
        assert!(elsewhere.render(&sources).starts_with("error[x]"));
    }
}
