//! The pest binding and the AST builder.

use super::ast::*;
use super::SyntaxError;
use crate::messages::{msg, Arg, Message};
use chrono::NaiveDate;
use pest::iterators::{Pair, Pairs};
use pest::Parser;
use pest_derive::Parser;
use rust_decimal::Decimal;
use std::str::FromStr;

#[derive(Parser)]
#[grammar = "../grammar/policy.pest"]
struct PolicyParser;

type Result<T> = std::result::Result<T, SyntaxError>;

/// Parses one rule file. `file` is the index of the file in the source map and goes
/// into every span.
pub fn parse_rule_file(text: &str, file: usize) -> Result<RuleFile> {
    check_nesting(text, file)?;
    let pairs = PolicyParser::parse(Rule::rule_file, text).map_err(|e| from_pest(e, text, file))?;
    let b = Builder { file };
    let mut items = Vec::new();
    for pair in pairs.flatten().filter(|p| {
        matches!(
            p.as_rule(),
            Rule::policy | Rule::parameter | Rule::scale | Rule::function | Rule::bundle
        )
    }) {
        items.push(match pair.as_rule() {
            Rule::policy => Item::Policy(Box::new(b.policy(pair)?)),
            Rule::bundle => Item::Bundle(Box::new(b.bundle(pair)?)),
            Rule::parameter => Item::Parameter(b.parameter(pair)?),
            Rule::scale => Item::Scale(b.scale(pair)?),
            _ => Item::Function(b.function(pair)?),
        });
    }
    let file_ast = RuleFile { items };
    // Checking and evaluating walk expressions recursively: bound their depth.
    for e in file_ast.expressions() {
        if e.depth() > MAX_DEPTH {
            return Err(SyntaxError {
                message: msg!("syntax--nested-too-deeply"),
                span: e.span,
                hint: Some(msg!("syntax--split-into-lets-hint")),
            });
        }
    }
    Ok(file_ast)
}

/// What the parser expected, in an "expected …" message: a keyword or sign as written
/// (the same in every language), or a message of the catalogue.
fn rule_name(rule: &Rule) -> Option<Arg> {
    match rule {
        Rule::policy => Some("`policy`".into()),
        Rule::parameter => Some("`parameter`".into()),
        Rule::scale => Some("`scale`".into()),
        Rule::function => Some("`function`".into()),
        Rule::bundle => Some("`bundle`".into()),
        Rule::EOI => Some(msg!("syntax-rule--end-of-file").into()),
        Rule::ident => Some(msg!("syntax-rule--name").into()),
        Rule::policy_id => Some(msg!("syntax-rule--policy-id").into()),
        Rule::clause_id => Some(msg!("syntax-rule--clause-id").into()),
        Rule::string => Some(msg!("syntax-rule--string").into()),
        Rule::date => Some(msg!("syntax-rule--date").into()),
        Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr | Rule::cmp_expr => {
            Some(msg!("syntax-rule--expression").into())
        }
        Rule::type_name => Some(msg!("syntax-rule--type").into()),
        Rule::cmp_op => Some(msg!("syntax-rule--comparison").into()),
        Rule::subject_decl => Some("`subject`".into()),
        Rule::mode_decl => Some("`mode`".into()),
        Rule::let_decl => Some("`let`".into()),
        Rule::clause => Some(msg!("syntax-rule--clause").into()),
        Rule::amount_decl => Some("`amount`".into()),
        Rule::effective_decl => Some("`effective`".into()),
        Rule::param_step => Some("`from <date> [to <date>] = <value>`".into()),
        Rule::scale_step => Some("`from <date> [to <date>]: <threshold> → <value>, ...`".into()),
        Rule::bracket_def => Some("`<threshold> → <value>`".into()),
        Rule::step_colon => Some(msg!("syntax-rule--step-colon").into()),
        Rule::bracket_comma => Some(msg!("syntax-rule--bracket-comma").into()),
        Rule::arrow => Some(msg!("syntax-rule--arrow").into()),
        Rule::signed_literal => Some(msg!("syntax-rule--value").into()),
        Rule::absent => Some("`absent`".into()),
        Rule::hw_policy => Some("`policy`".into()),
        Rule::hw_subject => Some("`subject`".into()),
        Rule::hw_mode => Some("`mode`".into()),
        Rule::hw_amount => Some("`amount`".into()),
        Rule::hw_total => Some("`total`".into()),
        Rule::hw_report => Some("`report`".into()),
        Rule::hw_property => Some("`property`".into()),
        Rule::hw_parameter => Some("`parameter`".into()),
        Rule::hw_scale => Some("`scale`".into()),
        Rule::hw_function => Some("`function`".into()),
        Rule::hw_material => Some("`material`".into()),
        Rule::hw_field => Some("`field`".into()),
        Rule::hw_member => Some("`member`".into()),
        Rule::hw_bundle => Some("`bundle`".into()),
        Rule::hw_excludes => Some("`excludes`".into()),
        Rule::hw_effective => Some("`effective`".into()),
        Rule::hw_for => Some("`for`".into()),
        Rule::hw_each => Some("`each`".into()),
        Rule::kw_then => Some("`then`".into()),
        Rule::kw_else => Some("`else`".into()),
        Rule::kw_in => Some("`in`".into()),
        _ => None,
    }
}

/// Deepest bracket nesting and most conditionals in one block a rule file may have:
/// far beyond any policy text, and low enough that parsing, checking and evaluating
/// can never exhaust the stack.
const MAX_NESTING: usize = 64;
const MAX_CONDITIONALS_PER_BLOCK: usize = 256;
/// Longest chain of binary operators (`a + b + …`) or field accesses in one expression.
const MAX_CHAIN: usize = 512;
/// Deepest expression tree (a chain of `a + b + …` counts one level per operator).
const MAX_DEPTH: usize = 600;

/// The characters of rule text outside strings and comments, with their offsets.
fn code_chars(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    text.char_indices().filter(move |&(_, c)| {
        if in_comment {
            in_comment = c != '\n';
            return false;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            return false;
        }
        match c {
            '#' => {
                in_comment = true;
                false
            }
            '"' => {
                in_string = true;
                false
            }
            _ => true,
        }
    })
}

/// Rejects input nested so deeply that it could only be meant to break the parser.
fn check_nesting(text: &str, file: usize) -> Result<()> {
    let mut depth = 0usize;
    let mut conditionals = 0usize;
    let bytes = text.as_bytes();
    let too_deep = |at: usize, message: &'static str, hint: &'static str| SyntaxError {
        message: Message::new(message),
        span: Span {
            file,
            start: at,
            end: at.saturating_add(1),
        },
        hint: Some(Message::new(hint)),
    };
    for (i, c) in code_chars(text) {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(
                        i,
                        "syntax--brackets-too-deep",
                        "syntax--brackets-too-deep-hint",
                    ));
                }
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    conditionals = 0;
                }
            }
            'i' | 'm' | 'c' => {
                let word_start = i
                    .checked_sub(1)
                    .and_then(|j| bytes.get(j))
                    .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
                let rest = text.get(i..).unwrap_or_default();
                let is_kw = ["if", "match", "cases"].iter().any(|k| {
                    rest.strip_prefix(k).is_some_and(|after| {
                        !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                });
                if word_start && is_kw {
                    conditionals += 1;
                    if conditionals > MAX_CONDITIONALS_PER_BLOCK {
                        return Err(too_deep(
                            i,
                            "syntax--too-many-conditionals",
                            "syntax--too-many-conditionals-hint",
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The byte offset of a `{` that is never closed, ignoring strings and comments.
fn unclosed_brace(text: &str) -> Option<usize> {
    let mut open = vec![];
    for (i, c) in code_chars(text) {
        match c {
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.first().copied()
}

/// When the file ends inside a string (a quote left open): the byte offsets of the
/// opening quote of the first string that runs over a line end (the likeliest to have
/// lost its closing quote; strings may span lines, so every later pairing is shifted)
/// and of that line's end.
fn unclosed_string(text: &str) -> Option<(usize, usize)> {
    let mut in_comment = false;
    let mut open: Option<usize> = None;
    let mut first_spanning: Option<(usize, usize)> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(start) = open {
            match c {
                '\n' | '\r' if first_spanning.is_none() => first_spanning = Some((start, i)),
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => open = None,
                _ => {}
            }
            continue;
        }
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => open = Some(i),
            _ => {}
        }
    }
    let start = open?;
    Some(first_spanning.unwrap_or((start, text.len())))
}

fn from_pest(e: pest::error::Error<Rule>, text: &str, file: usize) -> SyntaxError {
    let mut err = from_pest_raw(e, file);
    // A quote left open: point at it, not at where the parser gave up.
    if let Some((start, end)) = unclosed_string(text) {
        if start <= err.span.start {
            return SyntaxError {
                message: msg!("syntax--unclosed-string"),
                span: Span { file, start, end },
                hint: Some(msg!("syntax--unclosed-string-hint")),
            };
        }
    }
    // The file ends inside a block: point at the `{` that is never closed.
    if err.span.start >= text.trim_end().len() {
        if let Some(at) = unclosed_brace(text) {
            return SyntaxError {
                message: msg!("syntax--unclosed-brace"),
                span: Span {
                    file,
                    start: at,
                    end: at.saturating_add(1),
                },
                hint: Some(msg!("syntax--unclosed-brace-hint")),
            };
        }
    }
    // Right after a quoted label, the usual mistake is a missing colon.
    let before = text
        .get(..err.span.start.min(text.len()))
        .unwrap_or_default()
        .trim_end();
    if before.ends_with('"') && err.message.id() != "syntax--expected" {
        let at = before.len();
        err.message = msg!("syntax--expected-colon");
        err.span = Span {
            file,
            start: at,
            end: at,
        };
        err.hint = Some(msg!("syntax--expected-colon-hint"));
    }
    err
}

fn from_pest_raw(e: pest::error::Error<Rule>, file: usize) -> SyntaxError {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, t)) => (s, t),
    };
    let (message, hint) = match &e.variant {
        ErrorVariant::ParsingError {
            positives,
            negatives,
        } => {
            let mut want: Vec<Arg> = positives.iter().filter_map(rule_name).collect();
            want.dedup();
            let msg = if want.is_empty() {
                msg!("syntax--unexpected")
            } else {
                msg!("syntax--expected", want = Arg::List(want, "sep--or"))
            };
            let hint = if !negatives.is_empty() {
                msg!("syntax--reserved-word-hint")
            } else if positives.contains(&Rule::EOI) {
                msg!("syntax--end-of-file-hint")
            } else {
                msg!("syntax--check-line-hint")
            };
            (msg, Some(hint))
        }
        // The parser's own text, in English, inside a sentence of the catalogue.
        ErrorVariant::CustomError { message } => (msg!("syntax--custom", message = message), None),
    };
    SyntaxError {
        message,
        span: Span { file, start, end },
        hint,
    }
}

struct Builder {
    file: usize,
}

fn unquote(pair: &Pair<Rule>) -> String {
    // string = "\"" ~ string_inner ~ "\""
    let raw = pair.clone().into_inner().next().map_or("", |p| p.as_str());
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Builder {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span {
            file: self.file,
            start: s.start(),
            end: s.end(),
        }
    }

    /// The children of a pair, for [`Children::required`].
    fn children<'i>(&self, pair: Pair<'i, Rule>) -> Children<'i> {
        Children {
            rule: pair.as_rule(),
            span: self.span(&pair),
            pairs: pair.into_inner(),
            operands_only: false,
        }
    }

    /// The children of a pair without its keyword tokens.
    fn operands<'i>(&self, pair: Pair<'i, Rule>) -> Children<'i> {
        Children {
            operands_only: true,
            ..self.children(pair)
        }
    }

    fn err(&self, pair: &Pair<Rule>, message: Message, hint: &'static str) -> SyntaxError {
        SyntaxError {
            message,
            span: self.span(pair),
            hint: Some(Message::new(hint)),
        }
    }

    /// `policy-id [for item]` inside `eligible(…)` or `amount(…)`.
    fn policy_choice(&self, pair: Pair<Rule>) -> Result<(Ident, Option<Box<Expr>>)> {
        let mut parts = self.operands(pair);
        let id = self.ident(parts.required()?);
        let item = match parts.next() {
            Some(choice) => Some(Box::new(self.item_choice(choice)?)),
            None => None,
        };
        Ok((id, item))
    }

    /// `for item`: the expression choosing one item of a per-item policy.
    fn item_choice(&self, pair: Pair<Rule>) -> Result<Expr> {
        let e = self.operands(pair).required()?;
        self.expr(e)
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn date(&self, pair: &Pair<Rule>) -> Result<NaiveDate> {
        NaiveDate::parse_from_str(pair.as_str(), "%Y-%m-%d").map_err(|_| {
            self.err(
                pair,
                msg!("syntax--not-a-date", text = pair.as_str()),
                "syntax--not-a-date-hint",
            )
        })
    }

    fn policy(&self, pair: Pair<Rule>) -> Result<Policy> {
        let span = self.span(&pair);
        let mut inner = self.children(pair);
        let id = self.ident(inner.required()?);
        let title = unquote(&inner.required()?);
        let mut p = Policy {
            id,
            title,
            span,
            subject: None,
            mode: None,
            authority: None,
            basis: None,
            effective: None,
            per_item: None,
            lets: vec![],
            clauses: vec![],
            amounts: vec![],
            total: None,
            reports: vec![],
            excludes: vec![],
            accepted_gaps: vec![],
            properties: vec![],
        };
        for entry in inner {
            let rule = entry.as_rule();
            let mut parts = self.children(entry.clone());
            let dup = |what: &str| {
                self.err(
                    &entry,
                    msg!("syntax--given-twice", what = what),
                    "syntax--given-twice-hint",
                )
            };
            match rule {
                Rule::subject_decl => {
                    if p.subject.is_some() {
                        return Err(dup("subject"));
                    }
                    p.subject = Some(self.ident(parts.required()?));
                }
                Rule::mode_decl => {
                    if p.mode.is_some() {
                        return Err(dup("mode"));
                    }
                    p.mode = Some(self.ident(parts.required()?));
                }
                Rule::authority_decl => {
                    p.authority = Some(unquote(&parts.required()?));
                }
                Rule::basis_decl => p.basis = Some(unquote(&parts.required()?)),
                Rule::effective_decl => {
                    if p.effective.is_some() {
                        return Err(dup("effective"));
                    }
                    p.effective = Some(self.effective(entry)?);
                }
                Rule::per_item_decl => {
                    if p.per_item.is_some() {
                        return Err(dup("for each"));
                    }
                    p.per_item = Some(self.per_item(entry)?);
                }
                Rule::let_decl => p.lets.push(self.let_decl(entry)?),
                Rule::clause => p.clauses.push(self.clause(entry)?),
                Rule::amount_decl => p.amounts.push(self.amount(entry)?),
                Rule::total_decl => {
                    let period = self.ident(parts.required()?);
                    let of = self.ident(parts.required()?);
                    p.total = Some(Total { period, of });
                }
                Rule::report_decl => {
                    let name = self.ident(parts.required()?);
                    let value = self.expr(parts.required()?)?;
                    p.reports.push(Extra { name, value });
                }
                Rule::excludes_decl => p.excludes.extend(parts.map(|x| self.ident(x))),
                Rule::property_decl => p.properties.push(self.property(entry)?),
                Rule::gap_decl => {
                    let name = self.ident(parts.required()?);
                    let why = unquote(&parts.required()?);
                    p.accepted_gaps.push((name, why));
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// `effective FROM [to TO]`: the period, never backwards.
    fn effective(&self, entry: Pair<Rule>) -> Result<Effective> {
        let espan = self.span(&entry);
        let mut parts = self.children(entry);
        let e = parts.required()?;
        let mut dates = self.children(e.clone());
        let from = self.date(&dates.required()?)?;
        let to = match dates.next() {
            Some(d) => Some(self.date(&d)?),
            None => None,
        };
        if let Some(t) = to {
            if t < from {
                return Err(self.err(
                    &e,
                    msg!("syntax--effective-backwards"),
                    "syntax--effective-backwards-hint",
                ));
            }
        }
        Ok(Effective {
            from,
            to,
            span: espan,
        })
    }

    /// `for each KIND VAR in LIST [where FILTER]`.
    fn per_item(&self, entry: Pair<Rule>) -> Result<PerItem> {
        let espan = self.span(&entry);
        let mut parts = self.children(entry);
        let kind = self.ident(parts.required()?);
        let var = self.ident(parts.required()?);
        let mut rest = parts.filter(|x| !is_token(x));
        let list = self.expr(rest.next().ok_or_else(|| internal(espan, "list"))?)?;
        let filter = match rest.next() {
            Some(f) => Some(self.expr(f)?),
            None => None,
        };
        Ok(PerItem {
            kind,
            var,
            list,
            filter,
        })
    }

    /// `C1 "label" [basis "…"]: condition`.
    fn clause(&self, entry: Pair<Rule>) -> Result<Clause> {
        let espan = self.span(&entry);
        let mut parts = self.children(entry);
        let id = self.ident(parts.required()?);
        let label = unquote(&parts.required()?);
        let mut basis = None;
        let mut cond = None;
        for part in parts {
            match part.as_rule() {
                Rule::clause_basis => basis = Some(unquote(&self.children(part).required()?)),
                _ => cond = Some(self.expr(part)?),
            }
        }
        Ok(Clause {
            id,
            label,
            basis,
            condition: cond.ok_or_else(|| internal(espan, "clause condition"))?,
            span: espan,
        })
    }

    /// `property NAME ["label"]: monotone … | amount OP literal`.
    fn property(&self, entry: Pair<Rule>) -> Result<Property> {
        let espan = self.span(&entry);
        let mut parts = self.children(entry);
        let name = self.ident(parts.required()?);
        let mut label = None;
        let mut kind = None;
        for part in parts {
            match part.as_rule() {
                Rule::string => label = Some(unquote(&part)),
                Rule::monotone_prop => {
                    let mut increasing = true;
                    let mut path = None;
                    for q in part.into_inner() {
                        match q.as_rule() {
                            Rule::direction => increasing = q.as_str() == "increasing",
                            Rule::field_path => {
                                path = Some((q.as_str().to_string(), self.span(&q)))
                            }
                            _ => {}
                        }
                    }
                    let (path, span) = path.ok_or_else(|| internal(espan, "property path"))?;
                    kind = Some(PropertyKind::Monotone {
                        increasing,
                        path,
                        span,
                    });
                }
                _ => {
                    let sp = self.span(&part);
                    let mut q = self.children(part);
                    let op = cmp_op(q.required()?.as_str());
                    let lit = self.signed_literal(q.required()?)?;
                    kind = Some(PropertyKind::AmountBound(op, lit, sp));
                }
            }
        }
        Ok(Property {
            name,
            label,
            kind: kind.ok_or_else(|| internal(espan, "property"))?,
        })
    }

    fn bundle(&self, pair: Pair<Rule>) -> Result<Bundle> {
        let span = self.span(&pair);
        let mut inner = self.children(pair);
        let id = self.ident(inner.required()?);
        let title = unquote(&inner.required()?);
        let mut b = Bundle {
            id,
            title,
            span,
            subject: None,
            basis: None,
            lets: vec![],
            members: vec![],
            fields: vec![],
            materials: vec![],
        };
        for entry in inner {
            let rule = entry.as_rule();
            let mut parts = self.children(entry.clone());
            match rule {
                Rule::subject_decl => b.subject = Some(self.ident(parts.required()?)),
                Rule::basis_decl => b.basis = Some(unquote(&parts.required()?)),
                Rule::let_decl => b.lets.push(self.let_decl(entry)?),
                Rule::member_decl => b.members.push(self.member(entry)?),
                Rule::field_decl => b.fields.push(self.form_field(entry)?),
                Rule::material_decl => b.materials.push(self.material(entry)?),
                _ => {}
            }
        }
        Ok(b)
    }

    /// `member KEY ["label"]: available when … | policy P [for x] [with C2 = …]`.
    fn member(&self, entry: Pair<Rule>) -> Result<Member> {
        let espan = self.span(&entry);
        let mut parts = self.children(entry);
        let key = self.ident(parts.required()?);
        let mut label = None;
        let mut kind = None;
        for part in parts {
            match part.as_rule() {
                Rule::string => label = Some(unquote(&part)),
                Rule::member_available => {
                    let e = self.children(part).required_rule(Rule::expr)?;
                    kind = Some(MemberKind::Available(self.expr(e)?));
                }
                _ => {
                    let mut q = self.operands(part);
                    let policy = self.ident(q.required()?);
                    let mut item = None;
                    let mut overrides = vec![];
                    for o in q {
                        if o.as_rule() == Rule::item_choice {
                            item = Some(self.item_choice(o)?);
                            continue;
                        }
                        let mut r = self.children(o);
                        let clause = self.ident(r.required()?);
                        let value = self.expr(r.required()?)?;
                        overrides.push((clause, value));
                    }
                    kind = Some(MemberKind::Policy {
                        policy,
                        item,
                        overrides,
                    });
                }
            }
        }
        Ok(Member {
            key,
            label,
            kind: kind.ok_or_else(|| internal(espan, "member kind"))?,
        })
    }

    /// `field KEY "label": entered | EXPR [when COND]`.
    fn form_field(&self, entry: Pair<Rule>) -> Result<FormField> {
        let mut parts = self.children(entry);
        let key = self.ident(parts.required()?);
        let label = unquote(&parts.required()?);
        let mut value = None;
        let mut when = None;
        for part in parts.filter(|x| !is_token(x)) {
            match part.as_rule() {
                Rule::entered => {}
                _ if value.is_none() => value = Some(self.expr(part)?),
                _ => when = Some(self.expr(part)?),
            }
        }
        Ok(FormField {
            key,
            label,
            value,
            when,
        })
    }

    /// `material KEY "label" for MEMBER, … [: held [when COND]]`.
    fn material(&self, entry: Pair<Rule>) -> Result<Material> {
        let mut parts = self.children(entry);
        let key = self.ident(parts.required()?);
        let label = unquote(&parts.required()?);
        let mut members = vec![];
        let mut held = None;
        for part in parts {
            match part.as_rule() {
                Rule::policy_id => members.push(self.ident(part)),
                Rule::held => {
                    let cond = part
                        .into_inner()
                        .find(|x| x.as_rule() == Rule::expr)
                        .map(|e| self.expr(e))
                        .transpose()?;
                    held = Some(cond);
                }
                _ => {}
            }
        }
        Ok(Material {
            key,
            label,
            members,
            held,
        })
    }

    fn let_decl(&self, pair: Pair<Rule>) -> Result<Let> {
        let mut parts = self.children(pair);
        let name = self.ident(parts.required_rule(Rule::ident)?);
        let value = self.expr(parts.required()?)?;
        Ok(Let { name, value })
    }

    fn amount(&self, pair: Pair<Rule>) -> Result<AmountRule> {
        let span = self.span(&pair);
        let mut period = None;
        let mut unit = None;
        let mut guard = Guard::Always;
        let mut value = None;
        let mut extras = vec![];
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident if period.is_none() => period = Some(self.ident(part)),
                Rule::ident => unit = Some(self.ident(part)),
                Rule::amount_guard => {
                    let g = self.children(part).required()?;
                    guard = match g.as_rule() {
                        Rule::when_guard => {
                            Guard::When(self.expr(self.children(g).required_rule(Rule::expr)?)?)
                        }
                        _ => Guard::Otherwise,
                    };
                }
                Rule::expr => value = Some(self.expr(part)?),
                Rule::amount_extras => {
                    for extra in part.into_inner().filter(|x| x.as_rule() == Rule::extra) {
                        let mut e = self.children(extra);
                        let name = self.ident(e.required()?);
                        let value = self.expr(e.required()?)?;
                        extras.push(Extra { name, value });
                    }
                }
                _ => {}
            }
        }
        Ok(AmountRule {
            period: period.ok_or_else(|| internal(span, "amount period"))?,
            unit,
            guard,
            value: value.ok_or_else(|| internal(span, "amount value"))?,
            extras,
            span,
        })
    }

    fn parameter(&self, pair: Pair<Rule>) -> Result<Parameter> {
        let span = self.span(&pair);
        let mut parts = self.children(pair);
        let name = self.ident(parts.required()?);
        let label = unquote(&parts.required()?);
        let ty = self.type_name(parts.required()?)?;
        let mut steps = vec![];
        for step in parts {
            let sspan = self.span(&step);
            let (from, to, rest) = self.dated(step)?;
            let mut value = None;
            let mut absent = false;
            let mut source = None;
            for part in rest {
                match part.as_rule() {
                    Rule::signed_literal => value = Some(self.signed_literal(part)?),
                    Rule::absent => absent = true,
                    Rule::string => source = Some(unquote(&part)),
                    _ => {}
                }
            }
            if value.is_none() && !absent {
                return Err(internal(sspan, "step value"));
            }
            steps.push(ParamStep {
                from,
                to,
                value,
                source,
                span: sspan,
            });
        }
        Ok(Parameter {
            name,
            label,
            ty,
            steps,
            span,
        })
    }

    /// The `from <date> [to <date>]` of a parameter's or a scale's step, checked, and
    /// the step's other parts.
    fn dated<'i>(
        &self,
        step: Pair<'i, Rule>,
    ) -> Result<(NaiveDate, Option<NaiveDate>, Vec<Pair<'i, Rule>>)> {
        let mut s = self.children(step.clone());
        let from = self.date(&s.required()?)?;
        let mut to = None;
        let mut rest = vec![];
        for part in s {
            match part.as_rule() {
                Rule::date => to = Some(self.date(&part)?),
                _ => rest.push(part),
            }
        }
        if let Some(t) = to {
            if t < from {
                return Err(self.err(
                    &step,
                    msg!("syntax--step-backwards"),
                    "syntax--step-backwards-hint",
                ));
            }
        }
        Ok((from, to, rest))
    }

    fn scale(&self, pair: Pair<Rule>) -> Result<Scale> {
        let span = self.span(&pair);
        let mut parts = self.children(pair);
        let name = self.ident(parts.required()?);
        let label = unquote(&parts.required()?);
        let mut steps = vec![];
        for step in parts {
            let sspan = self.span(&step);
            let (from, to, rest) = self.dated(step)?;
            // No brackets at all is a step the checker reports (`empty-scale`).
            let mut brackets = Some(vec![]);
            let mut source = None;
            for part in rest {
                match part.as_rule() {
                    Rule::absent => brackets = None,
                    Rule::string => source = Some(unquote(&part)),
                    Rule::brackets => {
                        let mut list = vec![];
                        for b in part
                            .into_inner()
                            .filter(|b| b.as_rule() == Rule::bracket_def)
                        {
                            let bspan = self.span(&b);
                            let mut pair = self.children(b);
                            let threshold =
                                self.signed_literal(pair.required_rule(Rule::signed_literal)?)?;
                            let value =
                                self.signed_literal(pair.required_rule(Rule::signed_literal)?)?;
                            list.push(BracketDef {
                                threshold,
                                value,
                                span: bspan,
                            });
                        }
                        brackets = Some(list);
                    }
                    _ => {}
                }
            }
            steps.push(ScaleStep {
                from,
                to,
                brackets,
                source,
                span: sspan,
            });
        }
        Ok(Scale {
            name,
            label,
            steps,
            span,
        })
    }

    fn signed_literal(&self, pair: Pair<Rule>) -> Result<Literal> {
        let mut negative = false;
        let mut lit = Literal::None;
        for part in pair.into_inner() {
            if part.as_rule() == Rule::neg {
                negative = true;
            } else {
                lit = self.literal(part)?;
            }
        }
        if negative {
            lit = match lit {
                Literal::Int(i) => Literal::Int(-i),
                Literal::Decimal(d) => Literal::Decimal(-d),
                other => other,
            };
        }
        Ok(lit)
    }

    fn type_name(&self, pair: Pair<Rule>) -> Result<TypeName> {
        let span = self.span(&pair);
        let inner = self.children(pair).required()?;
        Ok(match inner.as_rule() {
            Rule::list_type => {
                let elem = self.children(inner).required()?;
                TypeName::List(Box::new(self.type_name(elem)?), span)
            }
            _ => TypeName::Named(self.ident(inner)),
        })
    }

    fn function(&self, pair: Pair<Rule>) -> Result<Function> {
        let span = self.span(&pair);
        let mut parts = self.children(pair);
        let name = self.ident(parts.required()?);
        let mut params = vec![];
        let mut label = None;
        let mut result = None;
        let mut lets = vec![];
        let mut body = None;
        for part in parts {
            match part.as_rule() {
                Rule::fn_params => {
                    for p in part.into_inner() {
                        let mut q = self.children(p);
                        let n = self.ident(q.required()?);
                        let t = self.type_name(q.required()?)?;
                        params.push((n, t));
                    }
                }
                Rule::type_name => result = Some(self.type_name(part)?),
                Rule::string => label = Some(unquote(&part)),
                Rule::fn_body => {
                    for b in part.into_inner() {
                        match b.as_rule() {
                            Rule::let_decl => lets.push(self.let_decl(b)?),
                            Rule::expr => body = Some(self.expr(b)?),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Function {
            name,
            label,
            params,
            result: result.ok_or_else(|| internal(span, "result type"))?,
            lets,
            body: body.ok_or_else(|| internal(span, "function body"))?,
            span,
        })
    }

    // ------------------------------------------------------------ expressions

    fn literal(&self, pair: Pair<Rule>) -> Result<Literal> {
        Ok(match pair.as_rule() {
            Rule::date => Literal::Date(self.date(&pair)?),
            Rule::decimal => Literal::Decimal(Decimal::from_str(pair.as_str()).map_err(|_| {
                self.err(
                    &pair,
                    msg!("syntax--number-too-large"),
                    "syntax--number-too-large-hint",
                )
            })?),
            Rule::int => Literal::Int(pair.as_str().parse().map_err(|_| {
                self.err(
                    &pair,
                    msg!("syntax--int-too-large"),
                    "syntax--int-too-large-hint",
                )
            })?),
            Rule::string => Literal::Str(unquote(&pair)),
            Rule::bool_lit => Literal::Bool(pair.as_str() == "true"),
            Rule::none_lit => Literal::None,
            Rule::duration => {
                let mut parts = self.children(pair.clone());
                let n: i64 = parts.required()?.as_str().parse().map_err(|_| {
                    self.err(
                        &pair,
                        msg!("syntax--duration-too-large"),
                        "syntax--duration-too-large-hint",
                    )
                })?;
                let unit = match parts.required()?.as_str() {
                    "day" | "days" => DurationUnit::Days,
                    "month" | "months" => DurationUnit::Months,
                    _ => DurationUnit::Years,
                };
                Literal::Duration(n, unit)
            }
            _ => return Err(unhandled(&pair, self.file)),
        })
    }

    fn expr(&self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let mk = |kind| Ok(Expr { kind, span });
        match pair.as_rule() {
            Rule::expr | Rule::primary => self.expr(self.operands(pair).required()?),
            Rule::or_expr | Rule::and_expr => self.logic_chain(pair, span),
            Rule::not_expr | Rule::unary => self.prefixed(pair, span),
            Rule::cmp_expr => self.comparison(pair, span),
            Rule::coalesce => self.otherwise_chain(pair),
            Rule::sum_expr | Rule::product => self.arith_chain(pair),
            Rule::postfix => self.field_path(pair),
            Rule::if_expr => {
                let mut parts = self.operands(pair);
                let c = self.expr(parts.required()?)?;
                let a = self.expr(parts.required()?)?;
                let b = self.expr(parts.required()?)?;
                mk(ExprKind::If(Box::new(c), Box::new(a), Box::new(b)))
            }
            Rule::quantified => self.quantified(pair),
            Rule::match_expr => self.match_expr(pair, span),
            Rule::cases_expr => self.cases_expr(pair, span),
            Rule::policy_ref => {
                let (id, item) = self.policy_choice(pair)?;
                mk(ExprKind::PolicyRef(id, item))
            }
            Rule::available_ref => {
                let id = self.ident(self.children(pair).required()?);
                mk(ExprKind::AvailableRef(id))
            }
            Rule::amount_ref => {
                let (id, item) = self.policy_choice(pair)?;
                mk(ExprKind::PolicyAmount(id, item))
            }
            Rule::call => {
                let mut parts = self.children(pair);
                let name = self.ident(parts.required()?);
                let mut args = vec![];
                for a in parts {
                    args.push(self.expr(a)?);
                }
                mk(ExprKind::Call(name, args))
            }
            Rule::ref_kw => mk(ExprKind::Ref),
            Rule::ident => mk(ExprKind::Name(self.ident(pair))),
            Rule::date
            | Rule::duration
            | Rule::decimal
            | Rule::int
            | Rule::string
            | Rule::bool_lit
            | Rule::none_lit => mk(ExprKind::Literal(self.literal(pair)?)),
            _ => Err(unhandled(&pair, self.file)),
        }
    }

    /// `a or b or c` / `a and b and c`; a single operand is itself.
    fn logic_chain(&self, pair: Pair<Rule>, span: Span) -> Result<Expr> {
        let rule = pair.as_rule();
        let mut operands: Vec<Expr> = vec![];
        for p in pair.into_inner().filter(|p| !is_token(p)) {
            operands.push(self.expr(p)?);
        }
        if operands.len() == 1 {
            if let Some(single) = operands.pop() {
                return Ok(single);
            }
        }
        let kind = if rule == Rule::or_expr {
            ExprKind::Or(operands)
        } else {
            ExprKind::And(operands)
        };
        Ok(Expr { kind, span })
    }

    /// `not x` / `-x`, with any run of the same prefix.
    fn prefixed(&self, pair: Pair<Rule>, span: Span) -> Result<Expr> {
        let rule = pair.as_rule();
        // `not not x` is x (also in three-valued logic), and `- - x` is x: only
        // the parity of a run of prefix operators matters.
        let mut prefixes = 0usize;
        let mut operand = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::kw_not | Rule::neg => prefixes += 1,
                _ => operand = Some(self.expr(p)?),
            }
        }
        let operand = operand.ok_or_else(|| internal(span, "operand"))?;
        if prefixes.is_multiple_of(2) {
            return Ok(operand);
        }
        let kind = if rule == Rule::not_expr {
            ExprKind::Not(Box::new(operand))
        } else {
            ExprKind::Neg(Box::new(operand))
        };
        Ok(Expr { kind, span })
    }

    /// `a <op> b`, `a [not] in target`, `a is [not] none`, or `a` alone.
    fn comparison(&self, pair: Pair<Rule>, span: Span) -> Result<Expr> {
        let mut inner = self.children(pair);
        let left = self.expr(inner.required()?)?;
        let Some(tail) = inner.next() else {
            return Ok(left);
        };
        let kind = match tail.as_rule() {
            Rule::compare_tail => {
                let mut t = self.children(tail);
                let op = cmp_op(t.required()?.as_str());
                let right = self.expr(t.required()?)?;
                ExprKind::Compare(op, Box::new(left), Box::new(right))
            }
            Rule::in_tail => {
                let mut negated = false;
                let mut target = None;
                for t in tail.into_inner() {
                    match t.as_rule() {
                        Rule::kw_not => negated = true,
                        Rule::kw_in => {}
                        Rule::set_lit => {
                            let mut items = vec![];
                            for e in t.into_inner() {
                                items.push(self.expr(e)?);
                            }
                            target = Some(InTarget::Set(items));
                        }
                        Rule::range_lit => {
                            let (lo, hi) = self.range(t)?;
                            target = Some(InTarget::Range(Box::new(lo), Box::new(hi)));
                        }
                        _ => target = Some(InTarget::List(Box::new(self.expr(t)?))),
                    }
                }
                ExprKind::In {
                    value: Box::new(left),
                    target: target.ok_or_else(|| internal(span, "`in` target"))?,
                    negated,
                }
            }
            _ => {
                let negated = tail.into_inner().any(|t| t.as_rule() == Rule::kw_not);
                ExprKind::IsNone {
                    value: Box::new(left),
                    negated,
                }
            }
        };
        Ok(Expr { kind, span })
    }

    /// A `too-long` error when `pair` has more than `limit` children.
    fn chain_limit(
        &self,
        pair: &Pair<Rule>,
        limit: usize,
        message: &'static str,
        hint: &'static str,
    ) -> Result<()> {
        if pair.clone().into_inner().count() > limit {
            return Err(self.err(pair, Message::new(message), hint));
        }
        Ok(())
    }

    /// The span from the start of `left` to the end of `right` (an operator chain
    /// grouped to the left).
    fn joined(&self, left: &Span, right: &Span) -> Span {
        Span {
            file: self.file,
            start: left.start,
            end: right.end,
        }
    }

    /// `a otherwise b otherwise c`, grouped to the left.
    fn otherwise_chain(&self, pair: Pair<Rule>) -> Result<Expr> {
        self.chain_limit(
            &pair,
            2 * MAX_CHAIN + 1,
            "syntax--expression-too-long",
            "syntax--split-into-lets-hint",
        )?;
        let mut operands = self.operands(pair);
        let mut acc = self.expr(operands.required()?)?;
        for next in operands {
            let right = self.expr(next)?;
            let span = self.joined(&acc.span, &right.span);
            acc = Expr {
                kind: ExprKind::Otherwise(Box::new(acc), Box::new(right)),
                span,
            };
        }
        Ok(acc)
    }

    /// `a + b - c` / `a * b / c`, grouped to the left.
    fn arith_chain(&self, pair: Pair<Rule>) -> Result<Expr> {
        self.chain_limit(
            &pair,
            2 * MAX_CHAIN + 1,
            "syntax--expression-too-long",
            "syntax--split-into-lets-hint",
        )?;
        let mut inner = self.children(pair);
        let mut acc = self.expr(inner.required()?)?;
        while let Some(op) = inner.next() {
            let right = self.expr(inner.required()?)?;
            let op = match op.as_str() {
                "+" => ArithOp::Add,
                "-" => ArithOp::Sub,
                "*" => ArithOp::Mul,
                _ => ArithOp::Div,
            };
            let span = self.joined(&acc.span, &right.span);
            acc = Expr {
                kind: ExprKind::Arith(op, Box::new(acc), Box::new(right)),
                span,
            };
        }
        Ok(acc)
    }

    /// `a.b.c`: fields read in turn.
    fn field_path(&self, pair: Pair<Rule>) -> Result<Expr> {
        self.chain_limit(
            &pair,
            MAX_CHAIN,
            "syntax--path-too-long",
            "syntax--path-too-long-hint",
        )?;
        let mut inner = self.children(pair);
        let mut acc = self.expr(inner.required()?)?;
        for field in inner {
            let f = self.ident(field);
            let span = self.joined(&acc.span, &f.span);
            acc = Expr {
                kind: ExprKind::Field(Box::new(acc), f),
                span,
            };
        }
        Ok(acc)
    }

    /// `match e { patterns => value, ... }`.
    fn match_expr(&self, pair: Pair<Rule>, span: Span) -> Result<Expr> {
        let mut parts = self.operands(pair);
        let scrutinee = self.expr(parts.required()?)?;
        let mut arms = vec![];
        for arm in parts {
            let mut pats = vec![];
            let mut value = None;
            for part in arm.into_inner() {
                match part.as_rule() {
                    Rule::pattern => {
                        let p = self.children(part).required()?;
                        pats.push(match p.as_rule() {
                            Rule::wildcard => Pattern::Wildcard,
                            Rule::range_lit => {
                                let (lo, hi) = self.range(p)?;
                                Pattern::Range(lo, hi)
                            }
                            _ => Pattern::Value(self.expr(p)?),
                        });
                    }
                    _ => value = Some(self.expr(part)?),
                }
            }
            arms.push((pats, value.ok_or_else(|| internal(span, "arm value"))?));
        }
        Ok(Expr {
            kind: ExprKind::Match(Box::new(scrutinee), arms),
            span,
        })
    }

    /// `cases { condition => value, ..., else => default }`.
    fn cases_expr(&self, pair: Pair<Rule>, span: Span) -> Result<Expr> {
        let mut arms = vec![];
        let mut default = None;
        for part in pair.into_inner().filter(|p| !is_token(p)) {
            match part.as_rule() {
                Rule::case_arm => {
                    let mut q = self.children(part);
                    let c = self.expr(q.required()?)?;
                    let v = self.expr(q.required()?)?;
                    arms.push((c, v));
                }
                _ => {
                    let e = self.children(part).required_rule(Rule::expr)?;
                    default = Some(Box::new(self.expr(e)?));
                }
            }
        }
        Ok(Expr {
            kind: ExprKind::Cases(arms, default),
            span,
        })
    }

    fn range(&self, pair: Pair<Rule>) -> Result<(Expr, Expr)> {
        let mut parts = self.children(pair);
        let lo = self.expr(parts.required()?)?;
        let hi = self.expr(parts.required()?)?;
        Ok((lo, hi))
    }

    fn quantified(&self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let mut parts = self.children(pair);
        let qword = parts.required()?;
        let quantifier = match qword.as_str().trim() {
            "any" => Quantifier::Any,
            "all" => Quantifier::All,
            "no" => Quantifier::No,
            "count" => Quantifier::Count,
            "sum" => Quantifier::Sum,
            "min" => Quantifier::Min,
            "max" => Quantifier::Max,
            "the" => Quantifier::The,
            "latest" => Quantifier::Latest,
            _ => Quantifier::Earliest,
        };
        let var = self.ident(parts.required()?);
        let mut list = None;
        let mut filter = None;
        let mut body = None;
        let mut after_where = false;
        for part in parts {
            match part.as_rule() {
                Rule::kw_in => {}
                Rule::kw_where => after_where = true,
                Rule::postfix if list.is_none() => list = Some(self.expr(part)?),
                _ if after_where && filter.is_none() => {
                    filter = Some(Box::new(self.expr(part)?));
                }
                _ => body = Some(Box::new(self.expr(part)?)),
            }
        }
        Ok(Expr {
            kind: ExprKind::Quantified {
                quantifier,
                var,
                list: Box::new(list.ok_or_else(|| internal(span, "quantified list"))?),
                filter,
                body,
            },
            span,
        })
    }
}

/// The comparison a `cmp_op` token stands for.
fn cmp_op(text: &str) -> CmpOp {
    match text {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<=" => CmpOp::Le,
        ">=" => CmpOp::Ge,
        "<" => CmpOp::Lt,
        _ => CmpOp::Gt,
    }
}

/// Keyword tokens that carry no meaning of their own in the tree.
/// The word a declaration starts with (`subject`, `amount`, …): the grammar's, not
/// part of what the declaration says.
fn is_header_word(p: &Pair<Rule>) -> bool {
    matches!(
        p.as_rule(),
        Rule::hw_policy
            | Rule::hw_subject
            | Rule::hw_mode
            | Rule::hw_amount
            | Rule::hw_total
            | Rule::hw_report
            | Rule::hw_property
            | Rule::hw_parameter
            | Rule::hw_scale
            | Rule::hw_function
            | Rule::hw_material
            | Rule::hw_field
            | Rule::hw_member
            | Rule::hw_bundle
            | Rule::hw_excludes
            | Rule::hw_effective
            | Rule::hw_for
            | Rule::hw_each
    )
}

fn is_token(p: &Pair<Rule>) -> bool {
    matches!(
        p.as_rule(),
        Rule::kw_and
            | Rule::kw_or
            | Rule::kw_in
            | Rule::kw_is
            | Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
            | Rule::kw_where
            | Rule::kw_otherwise
            | Rule::kw_with
            | Rule::kw_when
            | Rule::kw_match
            | Rule::kw_cases
    )
}

/// The children of one pest pair, with the pair's span: the grammar guarantees the
/// shapes the builder takes apart, so a child that is missing is a bug in the builder,
/// not in the input, and becomes a located internal error instead of a panic.
struct Children<'i> {
    pairs: Pairs<'i, Rule>,
    /// Skip keyword tokens (see [`is_token`]).
    operands_only: bool,
    rule: Rule,
    span: Span,
}

impl<'i> Iterator for Children<'i> {
    type Item = Pair<'i, Rule>;

    fn next(&mut self) -> Option<Pair<'i, Rule>> {
        let operands_only = self.operands_only;
        self.pairs
            .find(|p| !(is_header_word(p) || operands_only && is_token(p)))
    }
}

impl<'i> Children<'i> {
    /// The next child, which the grammar guarantees.
    fn required(&mut self) -> Result<Pair<'i, Rule>> {
        let (rule, span) = (self.rule, self.span);
        self.next()
            .ok_or_else(|| internal(span, &format!("part of {rule:?}")))
    }

    /// The next child of this rule, which the grammar guarantees.
    fn required_rule(&mut self, wanted: Rule) -> Result<Pair<'i, Rule>> {
        let span = self.span;
        self.find(|p| p.as_rule() == wanted)
            .ok_or_else(|| internal(span, &format!("{wanted:?}")))
    }
}

/// A shape the grammar guarantees but the builder did not find: a bug in the builder,
/// not in the input, reported at the place it happened rather than panicking.
fn internal(span: Span, what: &str) -> SyntaxError {
    SyntaxError {
        message: msg!("syntax--internal", what = what),
        span,
        hint: Some(msg!("syntax--internal-hint")),
    }
}

/// A grammar rule the builder does not handle where it met it (a bug in the builder).
fn unhandled(pair: &Pair<Rule>, file: usize) -> SyntaxError {
    let s = pair.as_span();
    let span = Span {
        file,
        start: s.start(),
        end: s.end(),
    };
    internal(span, &format!("use for grammar rule {:?}", pair.as_rule()))
}
