//! Diagnostics: what is wrong, where, and what to do.

use crate::messages::{msg, Lang, Message};
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
    /// Its stable code (`unknown-field`, `type-mismatch`, ...).
    pub code: Code,
    /// What is wrong, for the author of the rules, in English
    /// ([`Diagnostic::message_in`] for another language).
    pub message: String,
    /// Where; `None` for problems outside the rule files (e.g. the schema).
    #[serde(skip)]
    pub span: Option<Span>,
    /// What to do about it (often a "did you mean"), in English
    /// ([`Diagnostic::hint_in`] for another language).
    pub hint: Option<String>,
    /// The message, from the catalogue, to render in any language.
    #[serde(skip)]
    text: Message,
    /// The hint, from the catalogue.
    #[serde(skip)]
    hint_text: Option<Message>,
}

/// The stable code of a diagnostic, the same in every language: what a host matches on
/// (`match d.code { Code::UnknownName => …, _ => … }`), what the JSON carries
/// (`"unknown-name"`) and what the language reference lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Code {
    /// `amount-guard`: an amount rule without `when` that is not the last, or `otherwise`
    /// not last.
    AmountGuard,
    /// `arity`: a function or built-in called with the wrong number of arguments.
    Arity,
    /// `cycle`: definitions, functions or `eligible`/`amount` references that go round in a
    /// circle.
    Cycle,
    /// `duplicate-id`: a name defined twice (a policy, bundle, parameter or function; a
    /// parameter step given twice).
    DuplicateId,
    /// `duration-literal`: a duration added to or taken from a date that is not written
    /// where it is used (`d + 12 months`).
    DurationLiteral,
    /// `empty-scale`: a step of a scale without brackets.
    EmptyScale,
    /// `item-choice`: `for x` names no item of the policy's per-item list.
    ItemChoice,
    /// `missing-condition`: a quantifier without its condition, value or ordering.
    MissingCondition,
    /// `missing-entry`: a policy without its `subject`, `mode` or `effective` entry.
    MissingEntry,
    /// `no-amount`: an amount property declared on a policy that has no amount.
    NoAmount,
    /// `overlapping-steps`: two steps of a dated parameter that start on the same day.
    OverlappingSteps,
    /// `parameter-abolished` (a warning): a parameter or scale a policy reads on `ref`
    /// is declared absent on some days of the policy's effective period.
    ParameterAbolished,
    /// `parameter-gap`: a dated parameter without a value on some day a policy using it is
    /// in force.
    ParameterGap,
    /// `reserved-clause`: a clause written as `C0`, the implicit "in force on the reference
    /// date".
    ReservedClause,
    /// `subject-mismatch`: a policy referred to (by a bundle, `eligible` or `amount`) that
    /// is about another subject kind.
    SubjectMismatch,
    /// `syntax`: text that does not follow the grammar (the first one of each file).
    Syntax,
    /// `too-deep`: expressions, functions or policy references nested deeper than the
    /// evaluator allows.
    TooDeep,
    /// `total-without-items`: a `total` on a policy that is not decided per item.
    TotalWithoutItems,
    /// `type-mismatch`: values of types that do not go together (`person.birth_date > 60`,
    /// a clause that is not a condition, branches of different types).
    TypeMismatch,
    /// `unknown-clause`: a bundle overriding a clause the policy does not have.
    UnknownClause,
    /// `unknown-enum-value`: a value that is not one of the enumeration's.
    UnknownEnumValue,
    /// `unknown-extra`: a `total` summing an extra that not every amount rule states.
    UnknownExtra,
    /// `unknown-field`: a record path that is not a field of the schema.
    UnknownField,
    /// `unknown-function`: a call of a function that is neither built in nor defined.
    UnknownFunction,
    /// `unknown-member`: a bundle member named that is not an earlier member of the bundle.
    UnknownMember,
    /// `unknown-mode`: a `mode` that is not `no_application`, `push_and_confirm` or
    /// `apply`.
    UnknownMode,
    /// `unknown-name`: a name that is not a definition, parameter, variable or enumeration
    /// value in scope.
    UnknownName,
    /// `unknown-parameter`: a parameter that is not defined.
    UnknownParameter,
    /// `unknown-period`: an amount period the language does not know.
    UnknownPeriod,
    /// `unknown-policy`: a reference (`eligible`, `amount`, `excludes`, a bundle member) to
    /// a policy that does not exist.
    UnknownPolicy,
    /// `unknown-scale`: `marginal` / `bracket` of a name that is no scale.
    UnknownScale,
    /// `unknown-subject`: a `subject` that is not a subject kind of the schema.
    UnknownSubject,
    /// `unknown-type`: a type name that is neither built in nor an enumeration of the
    /// schema.
    UnknownType,
    /// `unordered-thresholds`: the thresholds of a scale's step do not strictly ascend.
    UnorderedThresholds,
}

impl Code {
    /// Every code, in alphabetical order of its text.
    pub const ALL: [Code; 34] = [
        Code::AmountGuard,
        Code::Arity,
        Code::Cycle,
        Code::DuplicateId,
        Code::DurationLiteral,
        Code::EmptyScale,
        Code::ItemChoice,
        Code::MissingCondition,
        Code::MissingEntry,
        Code::NoAmount,
        Code::OverlappingSteps,
        Code::ParameterAbolished,
        Code::ParameterGap,
        Code::ReservedClause,
        Code::SubjectMismatch,
        Code::Syntax,
        Code::TooDeep,
        Code::TotalWithoutItems,
        Code::TypeMismatch,
        Code::UnknownClause,
        Code::UnknownEnumValue,
        Code::UnknownExtra,
        Code::UnknownField,
        Code::UnknownFunction,
        Code::UnknownMember,
        Code::UnknownMode,
        Code::UnknownName,
        Code::UnknownParameter,
        Code::UnknownPeriod,
        Code::UnknownPolicy,
        Code::UnknownScale,
        Code::UnknownSubject,
        Code::UnknownType,
        Code::UnorderedThresholds,
    ];

    /// The code as written in diagnostics and JSON (`unknown-name`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AmountGuard => "amount-guard",
            Code::Arity => "arity",
            Code::Cycle => "cycle",
            Code::DuplicateId => "duplicate-id",
            Code::DurationLiteral => "duration-literal",
            Code::EmptyScale => "empty-scale",
            Code::ItemChoice => "item-choice",
            Code::MissingCondition => "missing-condition",
            Code::MissingEntry => "missing-entry",
            Code::NoAmount => "no-amount",
            Code::OverlappingSteps => "overlapping-steps",
            Code::ParameterAbolished => "parameter-abolished",
            Code::ParameterGap => "parameter-gap",
            Code::ReservedClause => "reserved-clause",
            Code::SubjectMismatch => "subject-mismatch",
            Code::Syntax => "syntax",
            Code::TooDeep => "too-deep",
            Code::TotalWithoutItems => "total-without-items",
            Code::TypeMismatch => "type-mismatch",
            Code::UnknownClause => "unknown-clause",
            Code::UnknownEnumValue => "unknown-enum-value",
            Code::UnknownExtra => "unknown-extra",
            Code::UnknownField => "unknown-field",
            Code::UnknownFunction => "unknown-function",
            Code::UnknownMember => "unknown-member",
            Code::UnknownMode => "unknown-mode",
            Code::UnknownName => "unknown-name",
            Code::UnknownParameter => "unknown-parameter",
            Code::UnknownPeriod => "unknown-period",
            Code::UnknownPolicy => "unknown-policy",
            Code::UnknownScale => "unknown-scale",
            Code::UnknownSubject => "unknown-subject",
            Code::UnknownType => "unknown-type",
            Code::UnorderedThresholds => "unordered-thresholds",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The codes as constants (`code::UNKNOWN_NAME`), one per [`Code`].
pub mod code {
    use super::Code;

    /// `amount-guard`: an amount rule without `when` that is not the last, or `otherwise`
    /// not last.
    pub const AMOUNT_GUARD: Code = Code::AmountGuard;
    /// `arity`: a function or built-in called with the wrong number of arguments.
    pub const ARITY: Code = Code::Arity;
    /// `cycle`: definitions, functions or `eligible`/`amount` references that go round in a
    /// circle.
    pub const CYCLE: Code = Code::Cycle;
    /// `duplicate-id`: a name defined twice (a policy, bundle, parameter or function; a
    /// parameter step given twice).
    pub const DUPLICATE_ID: Code = Code::DuplicateId;
    /// `duration-literal`: a duration added to or taken from a date that is not written
    /// where it is used (`d + 12 months`).
    pub const DURATION_LITERAL: Code = Code::DurationLiteral;
    /// `empty-scale`: a step of a scale without brackets.
    pub const EMPTY_SCALE: Code = Code::EmptyScale;
    /// `item-choice`: `for x` names no item of the policy's per-item list.
    pub const ITEM_CHOICE: Code = Code::ItemChoice;
    /// `missing-condition`: a quantifier without its condition, value or ordering.
    pub const MISSING_CONDITION: Code = Code::MissingCondition;
    /// `missing-entry`: a policy without its `subject`, `mode` or `effective` entry.
    pub const MISSING_ENTRY: Code = Code::MissingEntry;
    /// `no-amount`: an amount property declared on a policy that has no amount.
    pub const NO_AMOUNT: Code = Code::NoAmount;
    /// `overlapping-steps`: two steps of a dated parameter that start on the same day.
    pub const OVERLAPPING_STEPS: Code = Code::OverlappingSteps;
    /// `parameter-abolished` (a warning): a parameter or scale a policy reads on `ref`
    /// is declared absent on some days of the policy's effective period.
    pub const PARAMETER_ABOLISHED: Code = Code::ParameterAbolished;
    /// `parameter-gap`: a dated parameter without a value on some day a policy using it is
    /// in force.
    pub const PARAMETER_GAP: Code = Code::ParameterGap;
    /// `reserved-clause`: a clause written as `C0`, the implicit "in force on the reference
    /// date".
    pub const RESERVED_CLAUSE: Code = Code::ReservedClause;
    /// `subject-mismatch`: a policy referred to (by a bundle, `eligible` or `amount`) that
    /// is about another subject kind.
    pub const SUBJECT_MISMATCH: Code = Code::SubjectMismatch;
    /// `syntax`: text that does not follow the grammar (the first one of each file).
    pub const SYNTAX: Code = Code::Syntax;
    /// `too-deep`: expressions, functions or policy references nested deeper than the
    /// evaluator allows.
    pub const TOO_DEEP: Code = Code::TooDeep;
    /// `total-without-items`: a `total` on a policy that is not decided per item.
    pub const TOTAL_WITHOUT_ITEMS: Code = Code::TotalWithoutItems;
    /// `type-mismatch`: values of types that do not go together (`person.birth_date > 60`,
    /// a clause that is not a condition, branches of different types).
    pub const TYPE_MISMATCH: Code = Code::TypeMismatch;
    /// `unknown-clause`: a bundle overriding a clause the policy does not have.
    pub const UNKNOWN_CLAUSE: Code = Code::UnknownClause;
    /// `unknown-enum-value`: a value that is not one of the enumeration's.
    pub const UNKNOWN_ENUM_VALUE: Code = Code::UnknownEnumValue;
    /// `unknown-extra`: a `total` summing an extra that not every amount rule states.
    pub const UNKNOWN_EXTRA: Code = Code::UnknownExtra;
    /// `unknown-field`: a record path that is not a field of the schema.
    pub const UNKNOWN_FIELD: Code = Code::UnknownField;
    /// `unknown-function`: a call of a function that is neither built in nor defined.
    pub const UNKNOWN_FUNCTION: Code = Code::UnknownFunction;
    /// `unknown-member`: a bundle member named that is not an earlier member of the bundle.
    pub const UNKNOWN_MEMBER: Code = Code::UnknownMember;
    /// `unknown-mode`: a `mode` that is not `no_application`, `push_and_confirm` or
    /// `apply`.
    pub const UNKNOWN_MODE: Code = Code::UnknownMode;
    /// `unknown-name`: a name that is not a definition, parameter, variable or enumeration
    /// value in scope.
    pub const UNKNOWN_NAME: Code = Code::UnknownName;
    /// `unknown-parameter`: a parameter that is not defined.
    pub const UNKNOWN_PARAMETER: Code = Code::UnknownParameter;
    /// `unknown-period`: an amount period the language does not know.
    pub const UNKNOWN_PERIOD: Code = Code::UnknownPeriod;
    /// `unknown-policy`: a reference (`eligible`, `amount`, `excludes`, a bundle member) to
    /// a policy that does not exist.
    pub const UNKNOWN_POLICY: Code = Code::UnknownPolicy;
    /// `unknown-scale`: `marginal` / `bracket` of a name that is no scale.
    pub const UNKNOWN_SCALE: Code = Code::UnknownScale;
    /// `unknown-subject`: a `subject` that is not a subject kind of the schema.
    pub const UNKNOWN_SUBJECT: Code = Code::UnknownSubject;
    /// `unknown-type`: a type name that is neither built in nor an enumeration of the
    /// schema.
    pub const UNKNOWN_TYPE: Code = Code::UnknownType;
    /// `unordered-thresholds`: the thresholds of a scale's step do not strictly ascend.
    pub const UNORDERED_THRESHOLDS: Code = Code::UnorderedThresholds;
}

impl Diagnostic {
    /// An error at a span.
    pub(crate) fn error(code: Code, span: Span, message: Message) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.render(Lang::En),
            span: Some(span),
            hint: None,
            text: message,
            hint_text: None,
        }
    }

    /// A warning at a span: worth a look, but the rule set can be used.
    pub(crate) fn warning(code: Code, span: Span, message: Message) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// Adds a hint.
    pub(crate) fn with_hint(mut self, hint: Message) -> Self {
        self.hint = Some(hint.render(Lang::En));
        self.hint_text = Some(hint);
        self
    }

    /// What is wrong, in `lang` ([`Diagnostic::message`] in English).
    ///
    /// ```
    /// use mianshen::{Lang, LoadError, RuleSet};
    /// let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n";
    /// let policy = "policy p \"p\" {\n  subject person\n  mode apply\n  effective from 2025-01-01\n  C1 \"c\": person.idd == \"1\"\n}\n";
    /// let Err(LoadError::Diagnostics { diagnostics, .. }) =
    ///     RuleSet::from_sources(schema, &[("p.rules", policy)])
    /// else {
    ///     panic!("a broken rule set")
    /// };
    /// let d = &diagnostics[0];
    /// assert_eq!(d.code.as_str(), "unknown-field");
    /// assert_eq!(d.message_in(Lang::En), "record `person` has no field `idd`");
    /// assert_eq!(d.message_in(Lang::Zh), "记录 `person`中没有字段 `idd`");
    /// assert_eq!(d.hint_in(Lang::Zh).as_deref(), Some("是否应为 `id`？"));
    /// ```
    pub fn message_in(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.message.clone(),
            _ => self.text.render(lang),
        }
    }

    /// What to do about it, in `lang` ([`Diagnostic::hint`] in English).
    pub fn hint_in(&self, lang: Lang) -> Option<String> {
        match lang {
            Lang::En => self.hint.clone(),
            _ => match &self.hint_text {
                Some(h) => Some(h.render(lang)),
                None => self.hint.clone(),
            },
        }
    }

    /// `file:line:column` of the diagnostic.
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

    /// Renders the diagnostic like a compiler, in English: location, message, the
    /// source line with a caret under the offending text, and the hint.
    pub fn render(&self, sources: &SourceMap) -> String {
        self.render_in(sources, Lang::En)
    }

    /// Renders the diagnostic in `lang`: in Chinese, the label reads
    /// `错误[unknown-enum-value]：…` and the hint `  = 提示：…`; the code is the same in
    /// every language.
    pub fn render_in(&self, sources: &SourceMap, lang: Lang) -> String {
        let sev = match self.severity {
            Severity::Error => msg!("diagnostic--error"),
            Severity::Warning => msg!("diagnostic--warning"),
        };
        let mut out = msg!(
            "diagnostic--label",
            severity = sev,
            code = self.code.as_str(),
            message = self.message_in(lang)
        )
        .render(lang);
        out.push('\n');
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
        if let Some(hint) = self.hint_in(lang) {
            out.push_str(&msg!("diagnostic--help", hint = hint).render(lang));
            out.push('\n');
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
            let d = Diagnostic::error(Code::Syntax, Span { file, start, end }, msg!("m"));
            assert!(d.render(&sources).contains("a.policy:"));
        }
        let elsewhere = Diagnostic::error(
            Code::Syntax,
            Span {
                file: 9,
                start: 0,
                end: 1,
            },
            msg!("m"),
        );
        assert!(elsewhere.render(&sources).starts_with("error[syntax]"));
    }
}
