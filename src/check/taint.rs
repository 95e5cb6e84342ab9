//! Which values derive from sensitive fields: a static pass over the checked program.
//!
//! A field marked `sensitive: true` in the schema (an id number, a bank account, a phone
//! number) is shown as `***` in the facts of a trace. Its value must not leave through
//! any other door either: a `report`, an extra stated with an amount, or an evaluation
//! error's message. This pass computes, for every such output, whether its value may
//! derive from a sensitive field, and [`mask_decision`] masks what does.
//!
//! An expression is *tainted* when it reads a sensitive field, a tainted definition
//! (`let`), a tainted local (a quantifier's or `for each`'s item drawn from a tainted
//! list), or calls a function with a tainted argument or whose body is tainted. Every
//! operator propagates taint from all its operands, conditions included: the value of
//! `if c then a else b`, `cases`, `match`, `otherwise`, and a count or sum whose filter
//! reads a sensitive field are tainted too (what is chosen by a sensitive value tells
//! something of it). Whether another policy is eligible (`eligible(...)`) and a bundle
//! member's availability are outcomes, shown as such, and not tainted.
//!
//! What is never masked: the outcome of a decision, its clauses' truth values, the amount
//! (the decision itself), and the values of a bundle's pre-filled form fields (putting
//! the citizen's own data on the citizen's form is their purpose).

use crate::eval::{Decision, EvalError, ExtraValue, ItemDecision};
use crate::ir::{AmountGuard, BundleDef, Expr, LetDef, MemberKind, PolicyDef, Program};

/// What a masked value is shown as.
pub const MASK: &str = "***";

/// The outputs of a program that derive from sensitive fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Taint {
    /// Per policy, in program order.
    pub policies: Vec<PolicyTaint>,
    /// Per bundle, in program order.
    pub bundles: Vec<BundleTaint>,
}

/// The tainted outputs of one policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyTaint {
    /// Names of the reported values that are tainted.
    pub reports: Vec<String>,
    /// Names of the extras stated with an amount that are tainted (in any amount rule).
    pub extras: Vec<String>,
    /// Ids of the clauses whose condition is tainted.
    pub clauses: Vec<String>,
    /// Whether any amount rule (guard, value, extras) is tainted.
    pub amount: bool,
    /// Whether the `for each` list or its filter is tainted.
    pub per_item: bool,
}

/// The tainted parts of one bundle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleTaint {
    /// Keys of the members whose condition (or clause overrides) is tainted.
    pub members: Vec<String>,
    /// Keys of the form fields whose value is tainted (pre-filled all the same).
    pub fields: Vec<String>,
}

impl Taint {
    /// The taint of every output of `program`.
    pub fn of(program: &Program) -> Taint {
        let functions = functions(program);
        Taint {
            policies: program
                .policies
                .iter()
                .map(|p| policy(p, &functions))
                .collect(),
            bundles: program
                .bundles
                .iter()
                .map(|b| bundle(b, &functions))
                .collect(),
        }
    }
}

/// Taint of the definitions and locals of one body, found by iterating to a fixpoint.
struct Ctx<'a> {
    lets: Vec<bool>,
    locals: Vec<bool>,
    functions: &'a [bool],
    changed: bool,
}

impl<'a> Ctx<'a> {
    fn new(lets: usize, locals: usize, functions: &'a [bool]) -> Self {
        Ctx {
            lets: vec![false; lets],
            locals: vec![false; locals],
            functions,
            changed: false,
        }
    }

    fn set_local(&mut self, i: usize) {
        if i >= self.locals.len() {
            self.locals.resize(i + 1, false);
        }
        if let Some(slot) = self.locals.get_mut(i) {
            if !*slot {
                *slot = true;
                self.changed = true;
            }
        }
    }

    /// Whether `e` is tainted; marks the item variables of tainted lists.
    fn expr(&mut self, e: &Expr) -> bool {
        match e {
            // Another policy's eligibility is not a value of the record.
            Expr::PolicyRef(_) | Expr::PolicyAmount(_) | Expr::MemberRef(_) => false,
            Expr::Local(i) => self.locals.get(*i).copied().unwrap_or(false),
            Expr::Let(i) => self.lets.get(*i).copied().unwrap_or(false),
            Expr::Field {
                base, sensitive, ..
            } => self.expr(base) | *sensitive,
            Expr::Function(f, args) => {
                let mut t = self.functions.get(*f).copied().unwrap_or(false);
                for a in args {
                    t |= self.expr(a);
                }
                t
            }
            Expr::Quant {
                var,
                list,
                filter,
                body,
                ..
            } => {
                let l = self.expr(list);
                if l {
                    self.set_local(*var);
                }
                let f = filter.as_deref().is_some_and(|x| self.expr(x));
                let b = body.as_deref().is_some_and(|x| self.expr(x));
                l | f | b
            }
            // Any other expression derives from what its operands derive from.
            _ => {
                let mut tainted = false;
                e.for_each_child(&mut |x| tainted |= self.expr(x));
                tainted
            }
        }
    }

    /// Iterates the definitions and `roots` until nothing more is tainted; `bind` marks
    /// further locals (a `for each` item) from the current state.
    fn settle(&mut self, lets: &[LetDef], roots: &[&Expr], bind: &dyn Fn(&mut Ctx<'a>)) {
        loop {
            self.changed = false;
            bind(self);
            for (i, l) in lets.iter().enumerate() {
                if self.expr(&l.value) && self.lets.get(i) == Some(&false) {
                    if let Some(slot) = self.lets.get_mut(i) {
                        *slot = true;
                    }
                    self.changed = true;
                }
            }
            for r in roots {
                self.expr(r);
            }
            if !self.changed {
                break;
            }
        }
    }
}

/// Per function: whether its value is tainted whatever its arguments are (a call with a
/// tainted argument is tainted as well).
fn functions(program: &Program) -> Vec<bool> {
    let mut out = vec![false; program.functions.len()];
    loop {
        let mut changed = false;
        for (i, f) in program.functions.iter().enumerate() {
            let mut ctx = Ctx::new(f.lets.len(), f.locals, &out);
            ctx.settle(&f.lets, &[&f.body], &|_| {});
            let t = ctx.expr(&f.body);
            if t && out.get(i) == Some(&false) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = true;
                }
                changed = true;
            }
        }
        if !changed {
            return out;
        }
    }
}

fn policy(p: &PolicyDef, functions: &[bool]) -> PolicyTaint {
    let mut roots: Vec<&Expr> = vec![];
    roots.extend(p.clauses.iter().map(|c| &c.condition));
    for a in &p.amounts {
        if let AmountGuard::When(g) = &a.guard {
            roots.push(g);
        }
        roots.push(&a.value);
        roots.extend(a.extras.iter().map(|(_, e)| e));
    }
    roots.extend(p.reports.iter().map(|(_, e)| e));
    if let Some(pi) = &p.per_item {
        roots.push(&pi.list);
        roots.extend(pi.filter.iter());
    }
    let mut ctx = Ctx::new(p.lets.len(), p.locals, functions);
    let bind = |c: &mut Ctx<'_>| {
        if let Some(pi) = &p.per_item {
            if c.expr(&pi.list) {
                c.set_local(pi.var);
            }
        }
    };
    ctx.settle(&p.lets, &roots, &bind);
    let mut t = PolicyTaint::default();
    for (name, e) in &p.reports {
        if ctx.expr(e) {
            t.reports.push(name.clone());
        }
    }
    for c in &p.clauses {
        if ctx.expr(&c.condition) {
            t.clauses.push(c.id.clone());
        }
    }
    for a in &p.amounts {
        if let AmountGuard::When(g) = &a.guard {
            t.amount |= ctx.expr(g);
        }
        t.amount |= ctx.expr(&a.value);
        for (name, e) in &a.extras {
            if ctx.expr(e) {
                t.amount = true;
                if !t.extras.contains(name) {
                    t.extras.push(name.clone());
                }
            }
        }
    }
    if let Some(pi) = &p.per_item {
        t.per_item = ctx.expr(&pi.list) | pi.filter.as_ref().is_some_and(|f| ctx.expr(f));
    }
    t
}

fn bundle(b: &BundleDef, functions: &[bool]) -> BundleTaint {
    let mut roots: Vec<&Expr> = vec![];
    for m in &b.members {
        match &m.kind {
            MemberKind::Procedural(e) => roots.push(e),
            MemberKind::Policy { overrides, .. } => roots.extend(overrides.iter().map(|(_, e)| e)),
        }
    }
    for f in &b.fields {
        roots.extend(f.value.iter());
        roots.extend(f.when.iter());
    }
    for m in &b.materials {
        if let Some(Some(e)) = &m.held {
            roots.push(e);
        }
    }
    let mut ctx = Ctx::new(b.lets.len(), b.locals, functions);
    ctx.settle(&b.lets, &roots, &|_| {});
    let mut t = BundleTaint::default();
    for m in &b.members {
        let tainted = match &m.kind {
            MemberKind::Procedural(e) => ctx.expr(e),
            MemberKind::Policy { overrides, .. } => {
                let mut x = false;
                for (_, e) in overrides {
                    x |= ctx.expr(e);
                }
                x
            }
        };
        if tainted {
            t.members.push(m.key.clone());
        }
    }
    for f in &b.fields {
        let tainted = f.value.as_ref().is_some_and(|e| ctx.expr(e))
            | f.when.as_ref().is_some_and(|e| ctx.expr(e));
        if tainted {
            t.fields.push(f.key.clone());
        }
    }
    t
}

/// The value-carrying parts of the evaluator's error messages: the text just before
/// each of these is a value (`2023-2-30 is not a calendar date`, `the amount 1.005 has
/// more than two decimal places`, `3 items match, where exactly one is expected`).
const VALUE_BEFORE: [&str; 3] = [
    " is not a calendar date",
    " has more than two decimal places",
    " items match, where exactly one",
];

/// An evaluation error's message with the values it quotes masked.
pub fn redact_message(message: &str) -> String {
    let mut out = message.to_string();
    for marker in VALUE_BEFORE {
        let mut from = 0;
        while let Some(pos) = out[from..].find(marker).map(|p| p + from) {
            let start = out[..pos]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_digit() || matches!(c, '-' | '.' | '+'))
                .last()
                .map_or(pos, |(i, _)| i);
            if start < pos {
                out.replace_range(start..pos, MASK);
                from = start + MASK.len() + marker.len();
            } else {
                from = pos + marker.len();
            }
        }
    }
    out
}

fn mask_extras(extras: &mut [(String, ExtraValue)], tainted: &[String]) {
    for (name, v) in extras {
        if tainted.contains(name) {
            *v = ExtraValue::Text(MASK.into());
        }
    }
}

fn mask_error(error: &mut Option<EvalError>, t: &PolicyTaint) {
    if let Some(e) = error {
        let tainted = match e.at.as_str() {
            "amount" => t.amount,
            "for each" | "for each … where" => t.per_item,
            at => t.clauses.iter().any(|c| c == at),
        };
        if tainted {
            e.message = redact_message(&e.message);
        }
    }
}

fn mask_item(item: &mut ItemDecision, t: &PolicyTaint) {
    if let Some(a) = &mut item.amount {
        mask_extras(&mut a.extras, &t.extras);
    }
    mask_error(&mut item.error, t);
}

/// Masks, in a decision of the policy `t` is the taint of, every reported value and
/// extra derived from a sensitive field, and the values quoted by an error raised where
/// one is read. Outcome, clauses, amount and trace facts (masked where they are read)
/// are left as they are.
pub fn mask_decision(t: &PolicyTaint, d: &mut Decision) {
    for (name, v) in &mut d.reports {
        if t.reports.contains(name) {
            *v = ExtraValue::Text(MASK.into());
        }
    }
    if let Some(a) = &mut d.amount {
        mask_extras(&mut a.extras, &t.extras);
    }
    mask_error(&mut d.error, t);
    if let Some((_, items)) = &mut d.per_item {
        for (_, item) in items {
            mask_item(item, t);
        }
    }
}

/// Masks the values quoted by a bundle's evaluation errors raised where a sensitive
/// field is read (errors are `at` a member's key, or its key and a clause).
pub fn mask_bundle_errors(t: &BundleTaint, errors: &mut [EvalError]) {
    for e in errors {
        let key = e.at.split(' ').next().unwrap_or("");
        if t.members.iter().any(|m| m == key) || t.fields.iter().any(|f| f == key) {
            e.message = redact_message(&e.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> crate::compile::RuleSet {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let schema_text = std::fs::read_to_string(root.join("rules/schema.yaml")).unwrap();
        let schema = crate::schema::Schema::from_yaml(&schema_text).unwrap();
        let checked = crate::load::check_sources(
            schema,
            &schema_text,
            vec![("t.rules".into(), text.to_string())],
        );
        checked.rules.expect("the test rules check")
    }

    #[test]
    fn taint_flows_through_lets_functions_quantifiers_and_conditions() {
        let r = rules(
            r#"
function echo(s: string): string { s }
function twice(n: int): int { n * 2 }
policy p-t "t" {
  subject person
  mode push_and_confirm
  effective from 2020-01-01
  let idn = person.id_number
  let via = idn
  C1 "x": person.id_number is not none
  C2 "y": person.birth_date < ref
  amount one_time CNY: 1.00
    with a = echo(person.phone), b = twice(3), c = year(person.birth_date)
  report r1 = via
  report r2 = echo(idn)
  report r3 = count m in household.members where m.birth_certificate_no is not none
  report r4 = if person.phone is none then 1 else 2
  report r5 = person.name otherwise person.address
  report r6 = person.birth_date
  report r7 = twice(1)
}
"#,
        );
        let t = &r.taint.policies[0];
        assert_eq!(t.reports, vec!["r1", "r2", "r3", "r4", "r5"]);
        assert_eq!(t.extras, vec!["a"]);
        assert_eq!(t.clauses, vec!["C1"]);
        assert!(t.amount);
        assert!(!t.per_item);
    }

    #[test]
    fn the_shipped_rules_state_nothing_sensitive() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let r = crate::load::load_dir(&root.join("rules")).unwrap();
        for (p, t) in r.program.policies.iter().zip(&r.taint.policies) {
            assert!(
                t.reports.is_empty() && t.extras.is_empty(),
                "{}: {t:?}",
                p.id
            );
        }
    }

    #[test]
    fn messages_lose_their_values() {
        assert_eq!(
            redact_message("d: 2023-2-30 is not a calendar date"),
            "d: *** is not a calendar date"
        );
        assert_eq!(
            redact_message("the amount 1.005 has more than two decimal places: round it"),
            "the amount *** has more than two decimal places: round it"
        );
        assert_eq!(
            redact_message("3 items match, where exactly one is expected"),
            "*** items match, where exactly one is expected"
        );
        assert_eq!(redact_message("division by zero"), "division by zero");
    }
}
