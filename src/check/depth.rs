//! Evaluation depth: how deeply evaluating a construct nests, counted through the
//! definitions, functions and `eligible(...)` references it uses. Evaluators recurse
//! along this depth, so the checker refuses anything deeper than [`MAX_EVAL_DEPTH`]
//! (diagnostic `too-deep`) before it types a body; every command loads through the
//! checker, so every command evaluates within the limit.
//!
//! The computation is iterative (explicit stacks) and memoised: every definition,
//! function and policy is measured once, so chains of thousands of definitions cost
//! linear time and no stack.

use super::code;
use super::Diagnostic;
use crate::messages::{msg, Arg, Message};
use crate::syntax::ast::{self, Expr, ExprKind, Span};
use std::collections::HashMap;

/// The deepest evaluation the checker accepts, the same for every command (`check`,
/// `eval`, `test`, `prefill`, `run`). An expression node is one level; a name of a
/// definition is one level plus the depth of the definition's value; a call of a
/// function is one level plus the deeper of its arguments and its body (with the
/// body's definitions); `eligible(p)` is one level plus the depth of policy `p`.
///
/// Real policy sets stay far below (the shipped rules: under 30). At this limit the
/// reference evaluator needs at most about 5 MiB of stack (measured on the worst
/// shape, a chain of `eligible(...)`; chained definitions, nested function calls,
/// conditionals, quantifiers and arithmetic need under 2 MiB), and the checker less.
/// The command line runs every command, and the batch's and properties' workers, on
/// threads of [`EVAL_STACK`].
pub const MAX_EVAL_DEPTH: usize = 1000;

/// The stack of every thread the command line checks or evaluates on: ten times what
/// the deepest evaluation within [`MAX_EVAL_DEPTH`] was measured to need. Only address
/// space is reserved; pages are used as touched.
pub const EVAL_STACK: usize = 64 << 20;

/// The stack the recursive stages (checking, lowering, the reference evaluator) keep
/// free: below it, they continue on a new stack segment of [`STACK_GROWTH`] bytes on
/// the heap (`stacker`), so that a host calling the library on a thread with a small
/// stack cannot overflow it with a rule set the checker accepts.
pub const STACK_RED_ZONE: usize = 256 << 10;

/// The size of each stack segment the recursive stages add when they run low.
pub const STACK_GROWTH: usize = 8 << 20;

/// Which bodies are too deep to be typed (the checker skips them: typing recurses
/// along the same depth), and the diagnostics saying so.
#[derive(Default)]
pub(super) struct TooDeep {
    pub functions: Vec<bool>,
    pub policies: Vec<bool>,
    pub bundles: Vec<bool>,
    pub diags: Vec<Diagnostic>,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Unvisited,
    Visiting,
    Done(usize, Option<usize>),
}

/// A definition, a function or a policy: something other expressions reach by name.
struct Node<'a> {
    name: String,
    exprs: Vec<&'a Expr>,
    scope: usize,
}

struct Graph<'a> {
    nodes: Vec<Node<'a>>,
    /// Per body: definition name → node.
    scopes: Vec<HashMap<&'a str, usize>>,
    functions: &'a HashMap<String, usize>,
    policies: &'a HashMap<String, usize>,
    /// Node of function i is i; node of policy i is `policy_base + i`.
    policy_base: usize,
    state: Vec<State>,
}

/// The deepest point of some expressions, and the node it goes through.
struct Walk {
    depth: usize,
    via: Option<usize>,
    missing: Vec<usize>,
}

impl<'a> Graph<'a> {
    fn add_scope(&mut self, lets: &'a [ast::Let]) -> (usize, Vec<usize>) {
        let scope = self.scopes.len();
        let mut map = HashMap::new();
        let mut ids = vec![];
        for l in lets {
            let id = self.nodes.len();
            self.nodes.push(Node {
                name: l.name.name.clone(),
                exprs: vec![&l.value],
                scope,
            });
            map.entry(l.name.name.as_str()).or_insert(id);
            ids.push(id);
        }
        self.scopes.push(map);
        (scope, ids)
    }

    /// The state of a node; an id that names no node counts as a leaf, like a cycle.
    fn state(&self, id: usize) -> State {
        self.state.get(id).copied().unwrap_or(State::Visiting)
    }

    fn set_state(&mut self, id: usize, state: State) {
        if let Some(s) = self.state.get_mut(id) {
            *s = state;
        }
    }

    fn dep(&self, id: usize, level: usize, w: &mut Walk) {
        match self.state(id) {
            State::Done(d, _) => {
                let depth = level.saturating_add(d);
                if depth > w.depth {
                    w.depth = depth;
                    w.via = Some(id);
                }
            }
            State::Unvisited => w.missing.push(id),
            // A cycle: reported elsewhere; counts as a leaf here.
            State::Visiting => {}
        }
    }

    /// The depth of expressions of a body, iteratively.
    fn walk(&self, exprs: &[&'a Expr], scope: usize) -> Walk {
        let mut w = Walk {
            depth: 0,
            via: None,
            missing: vec![],
        };
        // Quantifier variables in scope, as a linked list: (name, parent).
        let mut bound: Vec<(&str, Option<usize>)> = vec![];
        let mut stack: Vec<(&Expr, usize, Option<usize>)> =
            exprs.iter().map(|e| (*e, 1, None)).collect();
        while let Some((e, level, b)) = stack.pop() {
            if level > w.depth {
                w.depth = level;
                w.via = None;
            }
            match &e.kind {
                ExprKind::Name(id) => {
                    let mut at = b;
                    let mut shadowed = false;
                    while let Some(&(name, parent)) = at.and_then(|i| bound.get(i)) {
                        if name == id.name {
                            shadowed = true;
                            break;
                        }
                        at = parent;
                    }
                    if !shadowed {
                        let def = self.scopes.get(scope).and_then(|s| s.get(id.name.as_str()));
                        if let Some(&n) = def {
                            self.dep(n, level, &mut w);
                        }
                    }
                }
                ExprKind::Call(id, args) => {
                    if let Some(&f) = self.functions.get(&id.name) {
                        self.dep(f, level, &mut w);
                    }
                    stack.extend(args.iter().map(|a| (a, level + 1, b)));
                }
                ExprKind::PolicyRef(id, item) | ExprKind::PolicyAmount(id, item) => {
                    if let Some(&p) = self.policies.get(&id.name) {
                        self.dep(self.policy_base + p, level, &mut w);
                    }
                    stack.extend(item.iter().map(|x| (&**x, level + 1, b)));
                }
                ExprKind::Quantified {
                    var,
                    list,
                    filter,
                    body,
                    ..
                } => {
                    stack.push((list, level + 1, b));
                    let inner = Some(bound.len());
                    bound.push((var.name.as_str(), b));
                    stack.extend(filter.iter().map(|x| (&**x, level + 1, inner)));
                    stack.extend(body.iter().map(|x| (&**x, level + 1, inner)));
                }
                _ => stack.extend(e.children().into_iter().map(|c| (c, level + 1, b))),
            }
        }
        w
    }

    /// Measures `start` and everything it reaches, depth-first without recursion.
    fn measure(&mut self, start: usize) {
        let mut stack = vec![start];
        while let Some(&n) = stack.last() {
            let Some(node) = self.nodes.get(n) else {
                stack.pop();
                continue;
            };
            if matches!(self.state(n), State::Done(..)) {
                stack.pop();
                continue;
            }
            let w = self.walk(&node.exprs, node.scope);
            if self.state(n) == State::Unvisited && !w.missing.is_empty() {
                self.set_state(n, State::Visiting);
                stack.extend(w.missing);
                continue;
            }
            self.set_state(n, State::Done(w.depth, w.via));
            stack.pop();
        }
    }

    fn depth_of(&mut self, exprs: &[&'a Expr], scope: usize) -> (usize, Option<usize>) {
        let w = self.walk(exprs, scope);
        if w.missing.is_empty() {
            return (w.depth, w.via);
        }
        for m in w.missing {
            self.measure(m);
        }
        let w = self.walk(exprs, scope);
        (w.depth, w.via)
    }

    fn via_text(&self, via: Option<usize>) -> Arg {
        let Some((n, node)) = via.and_then(|n| Some((n, self.nodes.get(n)?))) else {
            return "".into();
        };
        let name = node.name.as_str();
        if n < self.functions.len() {
            msg!("too-deep--via-function", name = name).into()
        } else if n < self.policy_base.saturating_add(self.policies.len()) {
            msg!("too-deep--via-policy", name = name).into()
        } else {
            msg!("too-deep--via-definition", name = name).into()
        }
    }
}

/// One part of a body to measure: what it is called in a message, where, what.
struct Part<'a> {
    what: Message,
    span: Span,
    exprs: Vec<&'a Expr>,
    /// A member policy of a bundle: its depth counts one level more.
    policy: Option<usize>,
}

fn let_span(l: &ast::Let) -> Span {
    Span {
        file: l.name.span.file,
        start: l.name.span.start,
        end: l.value.span.end.max(l.name.span.end),
    }
}

fn policy_parts(p: &ast::Policy) -> Vec<Part<'_>> {
    let mut parts = vec![];
    if let Some(pi) = &p.per_item {
        let mut exprs = vec![&pi.list];
        exprs.extend(pi.filter.iter());
        parts.push(Part {
            what: msg!("too-deep--item-list"),
            span: pi.list.span,
            exprs,
            policy: None,
        });
    }
    for c in &p.clauses {
        parts.push(Part {
            what: msg!("too-deep--clause", name = &c.id.name),
            span: c.condition.span,
            exprs: vec![&c.condition],
            policy: None,
        });
    }
    for a in &p.amounts {
        let mut exprs = vec![&a.value];
        if let ast::Guard::When(g) = &a.guard {
            exprs.push(g);
        }
        exprs.extend(a.extras.iter().map(|x| &x.value));
        parts.push(Part {
            what: msg!("too-deep--amount"),
            span: a.value.span,
            exprs,
            policy: None,
        });
    }
    for r in &p.reports {
        parts.push(Part {
            what: msg!("too-deep--report", name = &r.name.name),
            span: r.value.span,
            exprs: vec![&r.value],
            policy: None,
        });
    }
    parts
}

/// Measures every function, policy and bundle; a body deeper than the limit gets one
/// `too-deep` diagnostic, at its first part (clause, amount, ...) that is too deep, or
/// else at its deepest definition (the outermost of a chain).
pub(super) fn measure(
    functions: &[&ast::Function],
    function_index: &HashMap<String, usize>,
    policies: &[&ast::Policy],
    policy_index: &HashMap<String, usize>,
    bundles: &[&ast::Bundle],
) -> TooDeep {
    let mut g = Graph {
        nodes: vec![],
        scopes: vec![],
        functions: function_index,
        policies: policy_index,
        policy_base: functions.len(),
        state: vec![],
    };
    // Nodes of functions and policies first, so their ids are their indexes; their
    // scopes and expressions are filled in once the scopes exist.
    for f in functions {
        g.nodes.push(Node {
            name: f.name.name.clone(),
            exprs: vec![&f.body],
            scope: 0,
        });
    }
    for p in policies {
        g.nodes.push(Node {
            name: p.id.name.clone(),
            exprs: policy_parts(p).into_iter().flat_map(|x| x.exprs).collect(),
            scope: 0,
        });
    }
    let fn_scopes: Vec<_> = functions.iter().map(|f| g.add_scope(&f.lets)).collect();
    let policy_scopes: Vec<_> = policies.iter().map(|p| g.add_scope(&p.lets)).collect();
    let bundle_scopes: Vec<_> = bundles.iter().map(|b| g.add_scope(&b.lets)).collect();
    // The first nodes are the functions' and then the policies', in order.
    for (node, (scope, _)) in g
        .nodes
        .iter_mut()
        .zip(fn_scopes.iter().chain(&policy_scopes))
    {
        node.scope = *scope;
    }
    g.state = vec![State::Unvisited; g.nodes.len()];

    let mut out = TooDeep::default();
    for (f, (scope, lets)) in functions.iter().zip(&fn_scopes) {
        let parts = vec![Part {
            what: msg!("too-deep--function-result", name = &f.name.name),
            span: f.body.span,
            exprs: vec![&f.body],
            policy: None,
        }];
        let d = too_deep(&mut g, parts, lets, &f.lets, *scope);
        out.functions.push(d.is_some());
        out.diags.extend(d);
    }
    for (p, (scope, lets)) in policies.iter().zip(&policy_scopes) {
        let d = too_deep(&mut g, policy_parts(p), lets, &p.lets, *scope);
        out.policies.push(d.is_some());
        out.diags.extend(d);
    }
    for (b, (scope, lets)) in bundles.iter().zip(&bundle_scopes) {
        let mut parts = vec![];
        for m in &b.members {
            match &m.kind {
                ast::MemberKind::Available(e) => parts.push(Part {
                    what: msg!("too-deep--member", name = &m.key.name),
                    span: e.span,
                    exprs: vec![e],
                    policy: None,
                }),
                ast::MemberKind::Policy {
                    policy,
                    item,
                    overrides,
                } => parts.push(Part {
                    what: msg!("too-deep--member", name = &m.key.name),
                    span: m.key.span,
                    exprs: item
                        .iter()
                        .chain(overrides.iter().map(|(_, e)| e))
                        .collect(),
                    policy: policy_index.get(&policy.name).copied(),
                }),
            }
        }
        for f in &b.fields {
            parts.push(Part {
                what: msg!("too-deep--field", name = &f.key.name),
                span: f
                    .value
                    .as_ref()
                    .or(f.when.as_ref())
                    .map_or(f.key.span, |e| e.span),
                exprs: f.value.iter().chain(f.when.iter()).collect(),
                policy: None,
            });
        }
        for m in &b.materials {
            if let Some(Some(e)) = &m.held {
                parts.push(Part {
                    what: msg!("too-deep--material", name = &m.key.name),
                    span: e.span,
                    exprs: vec![e],
                    policy: None,
                });
            }
        }
        let d = too_deep(&mut g, parts, lets, &b.lets, *scope);
        out.bundles.push(d.is_some());
        out.diags.extend(d);
    }
    out
}

/// The diagnostic for a body, if it is too deep.
fn too_deep<'a>(
    g: &mut Graph<'a>,
    parts: Vec<Part<'a>>,
    lets: &[usize],
    let_asts: &[ast::Let],
    scope: usize,
) -> Option<Diagnostic> {
    let mut found: Option<(Message, Span, usize, Option<usize>)> = None;
    for part in parts {
        let (mut d, mut via) = g.depth_of(&part.exprs, scope);
        if let Some(p) = part.policy {
            let n = g.policy_base.saturating_add(p);
            g.measure(n);
            if let State::Done(pd, _) = g.state(n) {
                if pd.saturating_add(1) > d {
                    (d, via) = (pd.saturating_add(1), Some(n));
                }
            }
        }
        if d > MAX_EVAL_DEPTH {
            found = Some((part.what, part.span, d, via));
            break;
        }
    }
    if found.is_none() {
        // `lets` are the nodes of `let_asts`, in order (see `Graph::add_scope`).
        for (&n, l) in lets.iter().zip(let_asts) {
            g.measure(n);
            if let State::Done(d, via) = g.state(n) {
                let d = d.saturating_add(1);
                if d > MAX_EVAL_DEPTH && found.as_ref().is_none_or(|f| d > f.2) {
                    found = Some((
                        msg!("too-deep--definition", name = &l.name.name),
                        let_span(l),
                        d,
                        via,
                    ));
                }
            }
        }
    }
    let (what, span, depth, via) = found?;
    Some(
        Diagnostic::error(
            code::TOO_DEEP,
            span,
            msg!(
                "too-deep",
                what = what,
                depth = depth,
                via = g.via_text(via),
                limit = MAX_EVAL_DEPTH
            ),
        )
        .with_hint(msg!("too-deep--hint")),
    )
}
