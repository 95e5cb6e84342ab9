//! Where a rule set can be mutated: the mutation sites of its syntax tree.
//!
//! Every mutant is one precise change at a span the parser recorded: an operator, a
//! literal, a date of an effective period or of a parameter step, a member of a set, a
//! clause's condition. The span comes from the tree; the few tokens the tree does not
//! give a span of its own (a comparison's operator between its operands, `and` / `or`
//! between the items of a chain, the dates and the value of a parameter step) are
//! found in the text between the spans of their neighbours, skipping comments and
//! strings, so a mutation never touches a label or a comment.

use super::{Category, Hints, Mutant, Owner, OwnerKind};
use crate::syntax::ast::{
    CmpOp, Expr, ExprKind, Guard, InTarget, Item, Literal, Pattern, Policy, RuleFile, Span,
};
use chrono::{Days, Months, NaiveDate};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The mutants of one parsed rule file (`text` is its source, `file` its index).
pub(super) fn file_mutants(file: usize, text: &str, ast: &RuleFile) -> Vec<Mutant> {
    let mut out = Sites {
        file,
        text,
        out: vec![],
    };
    for item in &ast.items {
        match item {
            Item::Policy(p) => out.policy(p),
            Item::Parameter(p) => {
                let owner = Owner {
                    kind: OwnerKind::Parameter,
                    name: p.name.name.clone(),
                };
                for (i, step) in p.steps.iter().enumerate() {
                    out.param_step(&owner, i, step);
                }
            }
            Item::Scale(sc) => {
                let owner = Owner {
                    kind: OwnerKind::Parameter,
                    name: sc.name.name.clone(),
                };
                for (i, step) in sc.steps.iter().enumerate() {
                    out.scale_step(&owner, i, step);
                }
            }
            Item::Function(f) => {
                let owner = Owner {
                    kind: OwnerKind::Function,
                    name: f.name.name.clone(),
                };
                for l in &f.lets {
                    out.expr(
                        &owner,
                        &format!("let {}", l.name.name),
                        &l.value,
                        Ctx::Value,
                    );
                }
                out.expr(&owner, "body", &f.body, Ctx::Value);
            }
            Item::Bundle(b) => {
                let owner = Owner {
                    kind: OwnerKind::Bundle,
                    name: b.id.name.clone(),
                };
                for l in &b.lets {
                    out.expr(
                        &owner,
                        &format!("let {}", l.name.name),
                        &l.value,
                        Ctx::Value,
                    );
                }
                for m in &b.members {
                    let part = format!("member {}", m.key.name);
                    match &m.kind {
                        crate::syntax::ast::MemberKind::Available(e) => {
                            out.expr(&owner, &part, e, Ctx::Condition)
                        }
                        crate::syntax::ast::MemberKind::Policy {
                            item, overrides, ..
                        } => {
                            if let Some(e) = item {
                                out.expr(&owner, &part, e, Ctx::Value);
                            }
                            for (c, e) in overrides {
                                let part = format!("{part} {}", c.name);
                                out.expr(&owner, &part, e, Ctx::Condition);
                            }
                        }
                    }
                }
                for f in &b.fields {
                    let part = format!("field {}", f.key.name);
                    if let Some(e) = &f.value {
                        out.expr(&owner, &part, e, Ctx::Value);
                    }
                    if let Some(e) = &f.when {
                        out.expr(&owner, &part, e, Ctx::Condition);
                    }
                }
                for m in &b.materials {
                    if let Some(Some(e)) = &m.held {
                        let part = format!("material {}", m.key.name);
                        out.expr(&owner, &part, e, Ctx::Condition);
                    }
                }
            }
        }
    }
    out.out
}

/// What an expression is for: a condition (numbers in it are thresholds) or a value
/// (numbers in it are amounts).
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Condition,
    Value,
}

struct Sites<'a> {
    file: usize,
    text: &'a str,
    out: Vec<Mutant>,
}

/// One found token: its byte range in the file and its text.
/// A piece of rule text: one character of code, or a whole string literal (its byte
/// range, quotes included).
enum Piece {
    Code(usize, char),
    Str(usize, usize),
}

struct Token<'a> {
    start: usize,
    end: usize,
    text: &'a str,
}

impl<'a> Sites<'a> {
    /// A scale's step: each threshold and each value moved by one in its last digit.
    fn scale_step(&mut self, owner: &Owner, index: usize, step: &crate::syntax::ast::ScaleStep) {
        let part = format!("step {}", index + 1);
        for b in step.brackets.iter().flatten() {
            let Some(pair) = self.text.get(b.span.start..b.span.end) else {
                continue;
            };
            // The pair is `threshold → value` (or `->`): its two numbers, where they stand.
            let mut numbers = vec![];
            let mut at = None;
            for (i, c) in pair.char_indices().chain([(pair.len(), ' ')]) {
                let part_of_number = c.is_ascii_digit()
                    || c == '.'
                    || (c == '-'
                        && at.is_none()
                        && pair[i..].chars().nth(1).is_some_and(|d| d.is_ascii_digit()));
                match (at, part_of_number) {
                    (None, true) => at = Some(i),
                    (Some(s), false) => {
                        numbers.push((s, i));
                        at = None;
                    }
                    _ => {}
                }
            }
            for (k, (s, e)) in numbers.into_iter().take(2).enumerate() {
                let Some(tok) = pair.get(s..e) else { continue };
                let which = if k == 0 { "threshold" } else { "value" };
                for delta in [1i64, -1] {
                    if let Some(m) = bump_number(tok, delta) {
                        let hints = Hints {
                            numbers: number_of(tok).into_iter().chain(number_of(&m)).collect(),
                            dates: [step.from].into_iter().chain(step.to).collect(),
                            ..Hints::default()
                        };
                        self.push(
                            owner,
                            &part,
                            b.span.start + s,
                            b.span.start + e,
                            Category::Parameter,
                            m,
                            format!("scale {} step {} {which} changed", owner.name, index + 1),
                            hints,
                        );
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        owner: &Owner,
        part: &str,
        start: usize,
        end: usize,
        category: Category,
        mutated: String,
        what: String,
        hints: Hints,
    ) {
        let Some(original) = self.text.get(start..end) else {
            return;
        };
        if original == mutated {
            return;
        }
        self.out.push(Mutant {
            id: String::new(),
            file: self.file,
            path: String::new(),
            start,
            end,
            line: 0,
            column: 0,
            category,
            original: original.to_string(),
            mutated,
            owner: owner.clone(),
            part: part.to_string(),
            what,
            hints,
        });
    }

    fn policy(&mut self, p: &Policy) {
        let owner = Owner {
            kind: OwnerKind::Policy,
            name: p.id.name.clone(),
        };
        if let Some(eff) = &p.effective {
            for (k, tok) in self.dates_in(eff.span).iter().enumerate() {
                let which = if k == 0 { "start" } else { "end" };
                self.date_shifts(
                    &owner,
                    "effective",
                    tok,
                    Category::Date,
                    &format!("effective period {which}"),
                    None,
                );
            }
        }
        self.labels(&owner, p);
        if let Some(pi) = &p.per_item {
            self.expr(&owner, "for each", &pi.list, Ctx::Value);
            if let Some(f) = &pi.filter {
                self.expr(&owner, "for each", f, Ctx::Condition);
            }
        }
        for l in &p.lets {
            self.expr(
                &owner,
                &format!("let {}", l.name.name),
                &l.value,
                Ctx::Value,
            );
        }
        for c in &p.clauses {
            let part = c.id.name.clone();
            // An expression's span may run on over the blanks and comments after it.
            let end = self.code_end(c.condition.span.start, c.condition.span.end);
            if self
                .text
                .get(c.condition.span.start..end)
                .is_some_and(|t| t.trim() != "true")
            {
                self.push(
                    &owner,
                    &part,
                    c.condition.span.start,
                    end,
                    Category::ClauseDropped,
                    "true".into(),
                    format!(
                        "clause {} dropped (its condition replaced by `true`)",
                        c.id.name
                    ),
                    Hints::default(),
                );
            }
            self.expr(&owner, &part, &c.condition, Ctx::Condition);
        }
        let several = p.amounts.len() > 1;
        for (i, a) in p.amounts.iter().enumerate() {
            let part = if several {
                format!("amount {}", i + 1)
            } else {
                "amount".to_string()
            };
            if let Guard::When(g) = &a.guard {
                self.expr(&owner, &part, g, Ctx::Condition);
            }
            self.expr(&owner, &part, &a.value, Ctx::Value);
            for x in &a.extras {
                self.expr(&owner, &part, &x.value, Ctx::Value);
            }
        }
        for r in &p.reports {
            self.expr(
                &owner,
                &format!("report {}", r.name.name),
                &r.value,
                Ctx::Value,
            );
        }
    }

    /// The numbers in the texts a decision shows (the policy's basis, each clause's
    /// label and basis), each moved by one: a typo a citizen would read.
    fn labels(&mut self, owner: &Owner, p: &Policy) {
        let in_clause = |at: usize| {
            p.clauses
                .iter()
                .find(|c| c.span.start <= at && at < c.span.end)
                .map(|c| c.id.name.clone())
        };
        let mut texts: Vec<(String, Token, String)> = vec![];
        // Each clause's label: its first string.
        for c in &p.clauses {
            if let Some(t) = self.strings_in(c.span.start, c.span.end).into_iter().next() {
                let what = format!("a number in the label of clause {} changed", c.id.name);
                texts.push((c.id.name.clone(), t, what));
            }
        }
        // `basis "…"`: the policy's, or a clause's.
        let mut from = p.span.start;
        while let Some((at, _)) = self.keyword_between(from, p.span.end, "basis") {
            from = at + 5;
            if let Some(t) = self.strings_in(from, p.span.end).into_iter().next() {
                from = t.end;
                let (part, what) = match in_clause(at) {
                    Some(c) => (
                        c.clone(),
                        format!("a number in the basis of clause {c} changed"),
                    ),
                    None => (
                        "basis".to_string(),
                        "a number in the policy's basis changed".to_string(),
                    ),
                };
                texts.push((part, t, what));
            }
        }
        for (part, t, what) in texts {
            self.digit_runs(owner, &part, &t, &what);
        }
    }

    /// Each run of digits in a string moved by one (its width kept: `07` → `08`).
    fn digit_runs(&mut self, owner: &Owner, part: &str, t: &Token, what: &str) {
        let mut runs: Vec<(usize, usize)> = vec![];
        let mut start: Option<usize> = None;
        for (i, c) in t.text.char_indices() {
            match (c.is_ascii_digit(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    runs.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            runs.push((s, t.text.len()));
        }
        for (a, b) in runs {
            let Some(digits) = t.text.get(a..b) else {
                continue;
            };
            let Ok(n) = digits.parse::<u64>() else {
                continue;
            };
            let Some(m) = n.checked_add(1) else { continue };
            let width = digits.len();
            let mutated = format!("{m:0width$}");
            self.push(
                owner,
                part,
                t.start + a,
                t.start + b,
                Category::Label,
                mutated,
                what.to_string(),
                Hints::default(),
            );
        }
    }

    fn param_step(&mut self, owner: &Owner, index: usize, step: &crate::syntax::ast::ParamStep) {
        let part = format!("step {} (from {})", index + 1, step.from);
        let dates = self.dates_in(step.span);
        // The step's dates come before `=`; a date after it is the value.
        let eq = self.find_outside(step.span, "=");
        for (k, tok) in dates.iter().enumerate() {
            if eq.is_some_and(|e| tok.start > e) {
                continue;
            }
            let which = if k == 0 { "from" } else { "to" };
            let Ok(orig) = NaiveDate::from_str(tok.text) else {
                continue;
            };
            // The dates whose value a shift of this date changes.
            let changed = |to: NaiveDate| -> Option<(NaiveDate, NaiveDate)> {
                match (which == "from", to < orig) {
                    (true, true) => Some((to, orig.checked_sub_days(Days::new(1))?)),
                    (true, false) => Some((orig, to.checked_sub_days(Days::new(1))?)),
                    (false, true) => Some((to.checked_add_days(Days::new(1))?, orig)),
                    (false, false) => Some((orig.checked_add_days(Days::new(1))?, to)),
                }
            };
            self.date_shifts(
                owner,
                &part,
                tok,
                Category::Date,
                &format!("parameter {} step {} `{which}` date", owner.name, index + 1),
                Some((&owner.name, &changed)),
            );
        }
        // The value: the literal after `=`.
        let Some(eq) = eq else { return };
        let Some(tok) = self.value_after(eq, step.span.end) else {
            return;
        };
        let period = (step.from, step.to.unwrap_or(NaiveDate::MAX));
        let mut hints = Hints {
            param: Some((owner.name.clone(), period.0, period.1)),
            ..Hints::default()
        };
        hints.dates.extend([step.from]);
        hints.dates.extend(step.to);
        match &step.value {
            Some(Literal::Int(_) | Literal::Decimal(_)) => {
                for delta in [1i64, -1] {
                    if let Some(m) = bump_number(tok.text, delta) {
                        let mut h = hints.clone();
                        h.numbers.extend(number_of(tok.text));
                        h.numbers.extend(number_of(&m));
                        self.push(
                            owner,
                            &part,
                            tok.start,
                            tok.end,
                            Category::Parameter,
                            m,
                            format!("parameter {} step {} value changed", owner.name, index + 1),
                            h,
                        );
                    }
                }
            }
            Some(Literal::Bool(b)) => self.push(
                owner,
                &part,
                tok.start,
                tok.end,
                Category::Parameter,
                (!b).to_string(),
                format!("parameter {} step {} value changed", owner.name, index + 1),
                hints,
            ),
            Some(Literal::Date(_)) => {
                for (m, what) in date_variants(tok.text) {
                    let mut h = hints.clone();
                    h.dates.extend(NaiveDate::from_str(tok.text).ok());
                    h.dates.extend(NaiveDate::from_str(&m).ok());
                    self.push(
                        owner,
                        &part,
                        tok.start,
                        tok.end,
                        Category::Parameter,
                        m,
                        format!("parameter {} step {} value {what}", owner.name, index + 1),
                        h,
                    );
                }
            }
            _ => {}
        }
    }

    /// The six shifts of a date token: ± one day, one month, one year.
    #[allow(clippy::type_complexity)]
    fn date_shifts(
        &mut self,
        owner: &Owner,
        part: &str,
        tok: &Token,
        category: Category,
        what: &str,
        param: Option<(&str, &dyn Fn(NaiveDate) -> Option<(NaiveDate, NaiveDate)>)>,
    ) {
        let Ok(orig) = NaiveDate::from_str(tok.text) else {
            return;
        };
        for (m, how) in date_variants(tok.text) {
            let Ok(to) = NaiveDate::from_str(&m) else {
                continue;
            };
            let mut hints = Hints {
                dates: vec![orig, to],
                ..Hints::default()
            };
            if let Some((name, changed)) = param {
                if let Some((a, b)) = changed(to) {
                    hints.param = Some((name.to_string(), a, b));
                }
            }
            self.push(
                owner,
                part,
                tok.start,
                tok.end,
                category,
                m,
                format!("{what} {how}"),
                hints,
            );
        }
    }

    /// Every mutation site of an expression and its sub-expressions.
    fn expr(&mut self, owner: &Owner, part: &str, root: &Expr, ctx: Ctx) {
        let mut stack: Vec<(&Expr, Ctx)> = vec![(root, ctx)];
        while let Some((e, ctx)) = stack.pop() {
            match &e.kind {
                ExprKind::Literal(lit) => self.literal(owner, part, e.span, lit, ctx),
                ExprKind::Compare(op, a, b) => {
                    self.compare(owner, part, *op, a, b);
                    stack.push((b, Ctx::Condition));
                    stack.push((a, Ctx::Condition));
                    continue;
                }
                ExprKind::And(items) | ExprKind::Or(items) => {
                    let is_and = matches!(e.kind, ExprKind::And(_));
                    let (from, to) = if is_and { ("and", "or") } else { ("or", "and") };
                    for w in items.windows(2) {
                        if let [x, y] = w {
                            if let Some(t) = self.keyword_between(x.span.end, y.span.start, from) {
                                self.push(
                                    owner,
                                    part,
                                    t.0,
                                    t.1,
                                    Category::Logic,
                                    to.into(),
                                    format!("`{from}` replaced by `{to}`"),
                                    Hints::default(),
                                );
                            }
                        }
                    }
                }
                ExprKind::Not(inner) => {
                    if let Some((s, _)) =
                        self.keyword_between(e.span.start, inner.span.start, "not")
                    {
                        // Drop `not` and the space after it.
                        let mut end = s + 3;
                        while self
                            .text
                            .get(end..)
                            .and_then(|r| r.chars().next())
                            .is_some_and(|c| c == ' ' || c == '\t')
                        {
                            end += 1;
                        }
                        self.push(
                            owner,
                            part,
                            s,
                            end,
                            Category::Logic,
                            String::new(),
                            "`not` dropped".into(),
                            Hints::default(),
                        );
                    }
                }
                ExprKind::In {
                    target: InTarget::Set(items),
                    ..
                } if items.len() > 1 => {
                    for (i, item) in items.iter().enumerate() {
                        let (start, end) = match (items.get(i + 1), i.checked_sub(1)) {
                            (Some(next), _) => (item.span.start, next.span.start),
                            (None, Some(p)) => match items.get(p) {
                                Some(prev) => (prev.span.end, item.span.end),
                                None => continue,
                            },
                            (None, None) => continue,
                        };
                        let member = self
                            .text
                            .get(item.span.start..item.span.end)
                            .unwrap_or_default()
                            .to_string();
                        let hints = Hints {
                            strings: vec![member.trim_matches('"').to_string()],
                            ..Hints::default()
                        };
                        self.push(
                            owner,
                            part,
                            start,
                            end,
                            Category::SetMember,
                            String::new(),
                            format!("`{member}` dropped from the set"),
                            hints,
                        );
                    }
                }
                _ => {}
            }
            // Children, in source order (pushed reversed), with their context.
            let cond_children: Vec<&Expr> = match &e.kind {
                ExprKind::If(c, _, _) => vec![c],
                ExprKind::Quantified { filter, .. } => filter.iter().map(|f| &**f).collect(),
                ExprKind::Cases(arms, _) => arms.iter().map(|(c, _)| c).collect(),
                ExprKind::Match(_, arms) => arms
                    .iter()
                    .flat_map(|(pats, _)| pats.iter())
                    .flat_map(|p| match p {
                        Pattern::Wildcard => vec![],
                        Pattern::Value(v) => vec![v],
                        Pattern::Range(a, b) => vec![a, b],
                    })
                    .collect(),
                ExprKind::In { .. } | ExprKind::IsNone { .. } | ExprKind::Not(_) => e.children(),
                ExprKind::And(_) | ExprKind::Or(_) => e.children(),
                _ => vec![],
            };
            let mut children = e.children();
            children.sort_by_key(|c| std::cmp::Reverse(c.span.start));
            for c in children {
                let cc = if cond_children.iter().any(|x| std::ptr::eq(*x, c)) {
                    Ctx::Condition
                } else {
                    ctx
                };
                stack.push((c, cc));
            }
        }
    }

    fn literal(&mut self, owner: &Owner, part: &str, span: Span, lit: &Literal, ctx: Ctx) {
        let Some(text) = self.text.get(span.start..span.end) else {
            return;
        };
        let numeric = if ctx == Ctx::Condition {
            Category::Threshold
        } else {
            Category::Amount
        };
        match lit {
            Literal::Int(_) | Literal::Decimal(_) => {
                for delta in [1i64, -1] {
                    if let Some(m) = bump_number(text, delta) {
                        let hints = Hints {
                            numbers: number_of(text).into_iter().chain(number_of(&m)).collect(),
                            ..Hints::default()
                        };
                        let what = format!("constant {text} changed to {m}");
                        self.push(owner, part, span.start, span.end, numeric, m, what, hints);
                    }
                }
            }
            Literal::Duration(n, _) => {
                // `12 months`: the number only.
                let digits = text.chars().take_while(|c| c.is_ascii_digit()).count();
                let Some(num) = text.get(..digits) else {
                    return;
                };
                for delta in [1i64, -1] {
                    if let Some(m) = bump_number(num, delta) {
                        let hints = Hints {
                            numbers: vec![
                                Decimal::from(*n),
                                Decimal::from_str(&m).unwrap_or_default(),
                            ],
                            ..Hints::default()
                        };
                        let what = format!("duration `{text}` changed by one");
                        self.push(
                            owner,
                            part,
                            span.start,
                            span.start + digits,
                            numeric,
                            m,
                            what,
                            hints,
                        );
                    }
                }
            }
            Literal::Date(_) => {
                let tok = Token {
                    start: span.start,
                    end: span.end,
                    text,
                };
                self.date_shifts(owner, part, &tok, Category::Date, "date constant", None);
            }
            Literal::Bool(b) => self.push(
                owner,
                part,
                span.start,
                span.end,
                Category::Logic,
                (!b).to_string(),
                format!("`{b}` replaced by `{}`", !b),
                Hints::default(),
            ),
            _ => {}
        }
    }

    fn compare(&mut self, owner: &Owner, part: &str, op: CmpOp, a: &Expr, b: &Expr) {
        let (from, to) = match op {
            CmpOp::Ge => (">=", ">"),
            CmpOp::Gt => (">", ">="),
            CmpOp::Le => ("<=", "<"),
            CmpOp::Lt => ("<", "<="),
            CmpOp::Eq => ("==", "!="),
            CmpOp::Ne => ("!=", "=="),
        };
        let Some((s, e)) = self.operator_between(a.span.end, b.span.start, from) else {
            return;
        };
        let mut hints = Hints::default();
        for side in [a, b] {
            if let ExprKind::Literal(l) = &side.kind {
                match l {
                    Literal::Int(n) => hints.numbers.push(Decimal::from(*n)),
                    Literal::Decimal(d) => hints.numbers.push(*d),
                    Literal::Date(d) => hints.dates.push(*d),
                    _ => {}
                }
            }
        }
        self.push(
            owner,
            part,
            s,
            e,
            Category::Comparison,
            to.into(),
            format!("`{from}` replaced by `{to}`"),
            hints,
        );
    }

    /// The text between two offsets as the rules read it: code characters and string
    /// literals (quotes included), comments left out.
    fn pieces(&self, start: usize, end: usize) -> Vec<Piece> {
        let mut out = vec![];
        let Some(slice) = self.text.get(start..end) else {
            return out;
        };
        let mut it = slice.char_indices();
        while let Some((i, c)) = it.next() {
            match c {
                '#' => {
                    for (_, c) in it.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' => {
                    while let Some((j, c)) = it.next() {
                        match c {
                            '\\' => {
                                it.next();
                            }
                            '"' => {
                                out.push(Piece::Str(start + i, start + j + 1));
                                break;
                            }
                            _ => {}
                        }
                    }
                }
                c => out.push(Piece::Code(start + i, c)),
            }
        }
        out
    }

    /// The string literals (quotes included) in the code between two offsets.
    fn strings_in(&self, start: usize, end: usize) -> Vec<Token<'a>> {
        self.pieces(start, end)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Str(s, e) => Some(Token {
                    start: s,
                    end: e,
                    text: self.text.get(s..e)?,
                }),
                Piece::Code(..) => None,
            })
            .collect()
    }

    /// The code (not comments, not strings) between `start` and `end`, as (offset,
    /// char) pairs.
    fn code_chars(&self, start: usize, end: usize) -> Vec<(usize, char)> {
        self.pieces(start, end)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Code(i, c) => Some((i, c)),
                Piece::Str(..) => None,
            })
            .collect()
    }

    /// The end of the code in `start..end`: the blanks and comments at its end left out.
    fn code_end(&self, start: usize, end: usize) -> usize {
        if self.text.get(start..end).is_none() {
            return end;
        }
        self.pieces(start, end)
            .into_iter()
            .rev()
            .find_map(|p| match p {
                Piece::Str(_, e) => Some(e),
                Piece::Code(i, c) if !c.is_whitespace() => Some(i + c.len_utf8()),
                Piece::Code(..) => None,
            })
            .unwrap_or(start)
    }

    /// The dates written in a span (outside comments and strings), in order.
    fn dates_in(&self, span: Span) -> Vec<Token<'a>> {
        let code = self.code_chars(span.start, span.end);
        let mut out = vec![];
        let mut i = 0;
        while i < code.len() {
            // A date: ten consecutive characters DDDD-DD-DD, not inside a longer number.
            let window: Option<Vec<char>> = code.get(i..i + 10).map(|w| {
                let contiguous = w
                    .windows(2)
                    .all(|p| matches!(p, [(a, _), (b, _)] if *b == *a + 1));
                if contiguous {
                    w.iter().map(|(_, c)| *c).collect()
                } else {
                    vec![]
                }
            });
            let before = i
                .checked_sub(1)
                .and_then(|j| code.get(j))
                .is_some_and(|(_, c)| c.is_ascii_digit());
            let after = code.get(i + 10).is_some_and(|(_, c)| c.is_ascii_digit());
            if let (Some(w), Some((s, _))) = (window, code.get(i)) {
                let shape = w.len() == 10
                    && w.iter().enumerate().all(|(k, c)| {
                        if k == 4 || k == 7 {
                            *c == '-'
                        } else {
                            c.is_ascii_digit()
                        }
                    });
                if shape && !before && !after {
                    if let Some(text) = self.text.get(*s..s + 10) {
                        out.push(Token {
                            start: *s,
                            end: s + 10,
                            text,
                        });
                    }
                    i += 10;
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    /// The offset of the first `needle` character in a span's code.
    fn find_outside(&self, span: Span, needle: &str) -> Option<usize> {
        let c = needle.chars().next()?;
        self.code_chars(span.start, span.end)
            .into_iter()
            .find(|(_, x)| *x == c)
            .map(|(i, _)| i)
    }

    /// The literal token after `=` at `eq` (a signed number, a date, a word).
    fn value_after(&self, eq: usize, end: usize) -> Option<Token<'a>> {
        let code = self.code_chars(eq + 1, end);
        let first = code.iter().position(|(_, c)| !c.is_whitespace())?;
        let (start, _) = *code.get(first)?;
        let mut stop = start;
        for (i, c) in code.iter().skip(first) {
            if c.is_whitespace() || *i != stop {
                break;
            }
            stop = i + c.len_utf8();
        }
        let text = self.text.get(start..stop)?;
        Some(Token {
            start,
            end: stop,
            text,
        })
    }

    /// An operator token (`>=`, `==`, ...) in the code between two operands.
    fn operator_between(&self, start: usize, end: usize, op: &str) -> Option<(usize, usize)> {
        let code = self.code_chars(start, end);
        let ops = ['<', '>', '=', '!'];
        let first = code.iter().position(|(_, c)| ops.contains(c))?;
        let (s, _) = *code.get(first)?;
        let mut e = s;
        for (i, c) in code.iter().skip(first) {
            if !ops.contains(c) || *i != e {
                break;
            }
            e = i + c.len_utf8();
        }
        (self.text.get(s..e) == Some(op)).then_some((s, e))
    }

    /// A keyword (`and`, `or`, `not`) as a word of its own in the code between spans.
    fn keyword_between(&self, start: usize, end: usize, word: &str) -> Option<(usize, usize)> {
        let code = self.code_chars(start, end);
        let n = word.chars().count();
        for k in 0..code.len() {
            let w = code.get(k..k + n)?;
            let contiguous = w
                .windows(2)
                .all(|p| matches!(p, [(a, _), (b, _)] if *b == *a + 1));
            let s: String = w.iter().map(|(_, c)| *c).collect();
            let before = k
                .checked_sub(1)
                .and_then(|j| code.get(j))
                .is_some_and(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.');
            let after = code
                .get(k + n)
                .is_some_and(|(_, c)| c.is_alphanumeric() || *c == '_');
            if contiguous && s == word && !before && !after {
                let (st, _) = *w.first()?;
                return Some((st, st + word.len()));
            }
        }
        None
    }
}

/// The number a literal's text stands for.
fn number_of(text: &str) -> Option<Decimal> {
    Decimal::from_str(text).ok()
}

/// A number moved by one in its last digit (`400.00` → `400.01` / `399.99`, `12` →
/// `13` / `11`), written with as many decimals; `None` when it would turn negative.
pub(super) fn bump_number(text: &str, delta: i64) -> Option<String> {
    let negative = text.starts_with('-');
    if text.contains('.') {
        let d = Decimal::from_str(text).ok()?;
        let scale = d.scale();
        let unit = Decimal::new(delta, scale);
        let mut m = d.checked_add(unit)?;
        if m.is_sign_negative() != negative && !m.is_zero() {
            return None;
        }
        m.rescale(scale);
        Some(m.to_string())
    } else {
        let n: i64 = text.parse().ok()?;
        let m = n.checked_add(delta)?;
        if (m < 0) != negative && m != 0 {
            return None;
        }
        Some(m.to_string())
    }
}

/// A date's six neighbours: ± one day, ± one month, ± one year (month ends clamped),
/// each with how it moved.
pub(super) fn date_variants(text: &str) -> Vec<(String, &'static str)> {
    let Ok(d) = NaiveDate::from_str(text) else {
        return vec![];
    };
    let mut out = vec![];
    let shifts: [(Option<NaiveDate>, &'static str); 6] = [
        (d.checked_sub_days(Days::new(1)), "one day earlier"),
        (d.checked_add_days(Days::new(1)), "one day later"),
        (d.checked_sub_months(Months::new(1)), "one month earlier"),
        (d.checked_add_months(Months::new(1)), "one month later"),
        (d.checked_sub_months(Months::new(12)), "one year earlier"),
        (d.checked_add_months(Months::new(12)), "one year later"),
    ];
    for (m, how) in shifts {
        if let Some(m) = m {
            let s = m.format("%Y-%m-%d").to_string();
            if s.len() == 10 && !out.iter().any(|(x, _)| *x == s) {
                out.push((s, how));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_move_by_one_in_their_last_digit() {
        assert_eq!(bump_number("400.00", 1).as_deref(), Some("400.01"));
        assert_eq!(bump_number("400.00", -1).as_deref(), Some("399.99"));
        assert_eq!(bump_number("0.055", 1).as_deref(), Some("0.056"));
        assert_eq!(bump_number("12", -1).as_deref(), Some("11"));
        assert_eq!(bump_number("0", -1), None);
        assert_eq!(bump_number("0.00", -1), None);
    }

    #[test]
    fn dates_move_by_a_day_a_month_a_year() {
        let v: Vec<String> = date_variants("2024-01-31")
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(
            v,
            [
                "2024-01-30",
                "2024-02-01",
                "2023-12-31",
                "2024-02-29",
                "2023-01-31",
                "2025-01-31"
            ]
        );
    }
}
