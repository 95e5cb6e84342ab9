//! Name resolution and type checking of rule files against the record schema.
//!
//! Every expression gets a type before anything runs; every name is resolved to a
//! field slot, a definition, a parameter, a function, a policy or an enum value.
//! All problems of a rule set are reported at once, each with its span and a hint.
//! A rule set that passes cannot fail at run time with a type error.

mod depth;
mod diagnostic;
pub mod taint;

pub use depth::{EVAL_STACK, MAX_EVAL_DEPTH, STACK_GROWTH, STACK_RED_ZONE};
pub use diagnostic::{code, did_you_mean, Code, Diagnostic, Severity};

use crate::ir::{self, Builtin, DateUnit, Pat, Ty};
use crate::messages::{msg, Arg, Message};
use crate::schema::{FieldType, Schema};
use crate::syntax::ast::{self, ArithOp, CmpOp, ExprKind, Literal, Mode, Quantifier, Span};
use crate::value::Value;
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Amount periods a policy may state.
pub const PERIODS: &[&str] = &[
    "per_month",
    "per_year",
    "one_time",
    "total_entitlement",
    "max_principal",
];

/// A parsed rule file and the name it is reported under.
pub struct CheckedFile<'a> {
    /// Display name (path).
    pub name: String,
    /// The syntax tree.
    pub file: &'a ast::RuleFile,
}

/// Checks a rule set. Returns the program when there is no error, and every
/// diagnostic found either way.
pub fn check(files: &[CheckedFile], schema: &Schema) -> (Option<ir::Program>, Vec<Diagnostic>) {
    let mut cx = Checker::new(schema);
    cx.collect(files);
    cx.measure_depth(files);
    cx.check_functions();
    let policies = cx.check_policies();
    let bundles = cx.check_bundles(files);
    cx.check_item_choices();
    cx.check_cycles();
    let has_error = cx.diags.iter().any(|d| d.severity == Severity::Error);
    let program = ir::Program {
        bundles,
        policies,
        params: cx.params.iter().map(|p| p.def.clone()).collect(),
        scales: cx.scales.iter().map(|s| s.def.clone()).collect(),
        functions: cx
            .functions
            .iter()
            .map(|f| {
                f.def
                    .clone()
                    .unwrap_or_else(|| placeholder_fn(&f.ast.name.name))
            })
            .collect(),
    };
    (if has_error { None } else { Some(program) }, cx.diags)
}

fn placeholder_fn(name: &str) -> ir::FunctionDef {
    ir::FunctionDef {
        name: name.to_string(),
        params: 0,
        locals: 0,
        lets: vec![],
        body: ir::Expr::Const(None),
    }
}

struct ParamEntry {
    def: ir::ParamDef,
    ty: Ty,
}

struct ScaleEntry {
    def: ir::ScaleDef,
}

struct FunctionEntry<'a> {
    ast: &'a ast::Function,
    params: Vec<Ty>,
    result: Ty,
    def: Option<ir::FunctionDef>,
    calls: HashSet<usize>,
    params_used: HashSet<usize>,
    scales_used: HashSet<usize>,
}

struct PolicyEntry<'a> {
    ast: &'a ast::Policy,
    source: String,
    subject: Option<usize>,
    refs: Vec<(usize, Span)>,
    /// The type of the items a per-item policy decides one by one.
    item_ty: Option<Ty>,
}

/// A parameter or scale a body reads: its kind's message id, its name, the first day of
/// the policy's period without a step, and the first step declared absent in it.
type DatedRead = (
    &'static str,
    String,
    Option<NaiveDate>,
    Option<(NaiveDate, Option<NaiveDate>)>,
);

/// `P for x` somewhere: x must be an item of the kind P decides one by one, which is
/// known only once P is checked (policies may name each other in any order).
struct ItemChoice {
    policy: usize,
    ty: Ty,
    span: Span,
}

struct Checker<'a> {
    schema: &'a Schema,
    diags: Vec<Diagnostic>,
    params: Vec<ParamEntry>,
    param_index: HashMap<String, usize>,
    scales: Vec<ScaleEntry>,
    scale_index: HashMap<String, usize>,
    functions: Vec<FunctionEntry<'a>>,
    function_index: HashMap<String, usize>,
    policies: Vec<PolicyEntry<'a>>,
    policy_index: HashMap<String, usize>,
    /// Bodies deeper than [`MAX_EVAL_DEPTH`]: not typed (typing recurses as deep).
    too_deep: depth::TooDeep,
    /// Every `P for x`, checked once all policies are.
    item_choices: Vec<ItemChoice>,
}

/// State of a definition while checking a body (definitions are typed on first use,
/// so their order in the file does not matter and cycles are found).
#[derive(Clone)]
enum LetState {
    Unchecked,
    InProgress,
    Done(Ty),
}

/// The scope of one body: a policy or a function.
struct Body<'b> {
    root: Option<usize>,
    locals: Vec<(String, usize, Ty)>,
    base_locals: usize,
    next_local: usize,
    let_names: HashMap<String, usize>,
    let_asts: Vec<&'b ast::Let>,
    let_state: Vec<LetState>,
    let_exprs: Vec<Option<ir::Expr>>,
    calls: HashSet<usize>,
    params_used: HashSet<usize>,
    /// Scales read on `ref` (`marginal(S, x)` without a date).
    scales_used: HashSet<usize>,
    policy_refs: Vec<(usize, Span)>,
    /// Inside a bundle: the members declared so far (key, is a policy).
    members: Vec<(String, bool)>,
}

impl<'b> Body<'b> {
    fn new(root: Option<usize>, lets: &'b [ast::Let]) -> Self {
        Body {
            root,
            locals: vec![],
            base_locals: 0,
            next_local: 0,
            let_names: HashMap::new(),
            let_asts: lets.iter().collect(),
            let_state: vec![LetState::Unchecked; lets.len()],
            let_exprs: vec![None; lets.len()],
            calls: HashSet::new(),
            params_used: HashSet::new(),
            scales_used: HashSet::new(),
            policy_refs: vec![],
            members: vec![],
        }
    }

    /// Records the state of definition `i` and, once typed, its expression.
    fn set_let(&mut self, i: usize, state: LetState, expr: Option<ir::Expr>) {
        if let Some(s) = self.let_state.get_mut(i) {
            *s = state;
        }
        if let (Some(slot), Some(e)) = (self.let_exprs.get_mut(i), expr) {
            *slot = Some(e);
        }
    }

    fn bind(&mut self, name: &str, ty: Ty) -> usize {
        let slot = self.next_local;
        self.next_local += 1;
        self.locals.push((name.to_string(), slot, ty));
        slot
    }
}

type Typed = (ir::Expr, Ty);

fn poison() -> Typed {
    (ir::Expr::Const(None), Ty::NoneLit)
}

impl<'a> Checker<'a> {
    fn new(schema: &'a Schema) -> Self {
        Checker {
            schema,
            diags: vec![],
            params: vec![],
            param_index: HashMap::new(),
            scales: vec![],
            scale_index: HashMap::new(),
            functions: vec![],
            function_index: HashMap::new(),
            policies: vec![],
            policy_index: HashMap::new(),
            too_deep: depth::TooDeep::default(),
            item_choices: vec![],
        }
    }

    /// Measures the evaluation depth of every body before any is typed.
    fn measure_depth(&mut self, files: &[CheckedFile<'a>]) {
        let functions: Vec<&ast::Function> = self.functions.iter().map(|f| f.ast).collect();
        let policies: Vec<&ast::Policy> = self.policies.iter().map(|p| p.ast).collect();
        let bundles: Vec<&ast::Bundle> = files
            .iter()
            .flat_map(|f| f.file.items.iter())
            .filter_map(|item| match item {
                ast::Item::Bundle(b) => Some(&**b),
                _ => None,
            })
            .collect();
        let mut deep = depth::measure(
            &functions,
            &self.function_index,
            &policies,
            &self.policy_index,
            &bundles,
        );
        self.diags.append(&mut deep.diags);
        self.too_deep = deep;
    }

    fn error(&mut self, code: Code, span: Span, message: Message, hint: Message) {
        self.diags
            .push(Diagnostic::error(code, span, message).with_hint(hint));
    }

    /// The name of a type in messages: the language's word for it (`int`, `date`), or
    /// a text of the catalogue (`record `person.household``).
    fn ty_name(&self, ty: &Ty) -> Arg {
        match ty {
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Decimal => "decimal".into(),
            Ty::Str => "string".into(),
            Ty::Date => "date".into(),
            Ty::Duration => "duration".into(),
            Ty::Enum(e) => msg!(
                "ty--enum",
                name = self.schema.enum_def(*e).map_or("?", |d| d.name.as_str())
            )
            .into(),
            Ty::List(t) => msg!("ty--list", item = self.ty_name(t)).into(),
            Ty::Record(r) => {
                let p = self.schema.record(*r).map_or("", |d| d.path.as_str());
                if p.is_empty() {
                    msg!("ty--subject-record").into()
                } else {
                    msg!("ty--record", path = p).into()
                }
            }
            Ty::NoneLit => "none".into(),
        }
    }

    fn field_ty(ty: &FieldType) -> Ty {
        match ty {
            FieldType::Bool => Ty::Bool,
            FieldType::Int => Ty::Int,
            FieldType::Decimal => Ty::Decimal,
            FieldType::String => Ty::Str,
            FieldType::Date => Ty::Date,
            FieldType::Enum(e) => Ty::Enum(*e),
            FieldType::List(t) => Ty::List(Box::new(Self::field_ty(t))),
            FieldType::Record(r) => Ty::Record(*r),
        }
    }

    fn resolve_type(&mut self, t: &ast::TypeName) -> Ty {
        match t {
            ast::TypeName::List(inner, _) => Ty::List(Box::new(self.resolve_type(inner))),
            ast::TypeName::Named(id) => match id.name.as_str() {
                "bool" => Ty::Bool,
                "int" => Ty::Int,
                "decimal" | "money" => Ty::Decimal,
                "string" => Ty::Str,
                "date" => Ty::Date,
                other => match self.schema.enum_id(other) {
                    Some(e) => Ty::Enum(e),
                    None => {
                        let names: Vec<&str> = ["bool", "int", "decimal", "string", "date"]
                            .into_iter()
                            .chain(self.schema.enums.iter().map(|e| e.name.as_str()))
                            .collect();
                        let hint = match did_you_mean(other, names) {
                            Some(s) => msg!("hint--did-you-mean", name = s),
                            None => msg!("unknown-type--hint"),
                        };
                        self.error(
                            code::UNKNOWN_TYPE,
                            id.span,
                            msg!("unknown-type", name = other),
                            hint,
                        );
                        Ty::NoneLit
                    }
                },
            },
        }
    }

    // ------------------------------------------------------------ declarations

    fn collect(&mut self, files: &[CheckedFile<'a>]) {
        for f in files {
            for item in &f.file.items {
                match item {
                    ast::Item::Parameter(p) => self.collect_param(p),
                    ast::Item::Scale(sc) => self.collect_scale(sc),
                    ast::Item::Function(func) => {
                        if let Some(&prev) = self.function_index.get(&func.name.name) {
                            let prev_span = self
                                .functions
                                .get(prev)
                                .map_or(func.name.span, |f| f.ast.name.span);
                            self.dup("kind--function", &func.name, prev_span);
                            continue;
                        }
                        let params = func
                            .params
                            .iter()
                            .map(|(_, t)| self.resolve_type(t))
                            .collect();
                        let result = self.resolve_type(&func.result);
                        self.function_index
                            .insert(func.name.name.clone(), self.functions.len());
                        self.functions.push(FunctionEntry {
                            ast: func,
                            params,
                            result,
                            def: None,
                            calls: HashSet::new(),
                            params_used: HashSet::new(),
                            scales_used: HashSet::new(),
                        });
                    }
                    ast::Item::Bundle(_) => {}
                    ast::Item::Policy(p) => {
                        if let Some(&prev) = self.policy_index.get(&p.id.name) {
                            let prev_span =
                                self.policies.get(prev).map_or(p.id.span, |q| q.ast.id.span);
                            self.dup("kind--policy", &p.id, prev_span);
                            continue;
                        }
                        self.policy_index
                            .insert(p.id.name.clone(), self.policies.len());
                        self.policies.push(PolicyEntry {
                            ast: p,
                            source: f.name.clone(),
                            subject: None,
                            refs: vec![],
                            item_ty: None,
                        });
                    }
                }
            }
        }
    }

    /// A name defined twice; `what` is the message of its kind (`kind--policy`).
    fn dup(&mut self, what: &'static str, id: &ast::Ident, _prev: Span) {
        self.error(
            code::DUPLICATE_ID,
            id.span,
            msg!(
                "duplicate-id--global",
                what = Message::new(what),
                name = &id.name
            ),
            msg!("duplicate-id--global-hint", what = Message::new(what)),
        );
    }

    /// Whether `name` is already a parameter or a scale (they share one namespace: both
    /// are dated values named in rules); reports the duplicate if so. `what` is the
    /// message of its kind (`kind--parameter`, `kind--scale`).
    fn dated_name_taken(&mut self, what: &'static str, name: &ast::Ident) -> bool {
        let other = if self.param_index.contains_key(&name.name) {
            "kind--parameter"
        } else if self.scale_index.contains_key(&name.name) {
            "kind--scale"
        } else {
            return false;
        };
        if other == what {
            self.dup(what, name, name.span);
        } else {
            self.error(
                code::DUPLICATE_ID,
                name.span,
                msg!(
                    "duplicate-id--dated-name",
                    what = Message::new(what),
                    name = &name.name,
                    other = Message::new(other)
                ),
                msg!("duplicate-id--dated-name-hint"),
            );
        }
        true
    }

    fn collect_param(&mut self, p: &ast::Parameter) {
        if self.dated_name_taken("kind--parameter", &p.name) {
            return;
        }
        let ty = self.resolve_type(&p.ty);
        let mut steps: Vec<ir::Dated<Value>> = vec![];
        for step in &p.steps {
            let v = match (&ty, &step.value) {
                (_, None) => None,
                (Ty::Decimal, Some(Literal::Decimal(d))) => Some(Value::Decimal(*d)),
                (Ty::Decimal, Some(Literal::Int(i))) => Some(Value::Decimal((*i).into())),
                (Ty::Int, Some(Literal::Int(i))) => Some(Value::Int(*i)),
                (Ty::Bool, Some(Literal::Bool(b))) => Some(Value::Bool(*b)),
                (Ty::Str, Some(Literal::Str(s))) => Some(Value::Str(Arc::from(s.as_str()))),
                (Ty::Date, Some(Literal::Date(d))) => Some(Value::Date(*d)),
                (Ty::NoneLit, _) => continue,
                _ => {
                    let tn = self.ty_name(&ty);
                    self.error(
                        code::TYPE_MISMATCH,
                        step.span,
                        msg!("type-mismatch--parameter-value", ty = tn.clone()),
                        msg!("type-mismatch--parameter-value-hint", ty = tn),
                    );
                    continue;
                }
            };
            steps.push(ir::Dated {
                from: step.from,
                to: step.to,
                value: v,
                source: step.source.clone(),
            });
        }
        steps.sort_by_key(|s| s.from);
        let spans = p.steps.iter().map(|s| (s.from, s.to, s.span)).collect();
        self.check_overlaps("kind--parameter", &p.name.name, spans);
        self.param_index
            .insert(p.name.name.clone(), self.params.len());
        self.params.push(ParamEntry {
            def: ir::ParamDef {
                name: p.name.name.clone(),
                label: p.label.clone(),
                steps,
            },
            ty,
        });
    }

    /// Two steps of a parameter or a scale in force on the same day (a value or a
    /// declared absence alike) are an error.
    fn check_overlaps(
        &mut self,
        what: &'static str,
        name: &str,
        mut steps: Vec<(NaiveDate, Option<NaiveDate>, Span)>,
    ) {
        steps.sort_by_key(|s| s.0);
        for pair in steps.windows(2) {
            let [(_, prev_end, _), (from, _, span)] = pair else {
                continue;
            };
            if prev_end.is_none_or(|e| e >= *from) {
                self.error(
                    code::OVERLAPPING_STEPS,
                    *span,
                    msg!(
                        "overlapping-steps",
                        what = Message::new(what),
                        name = name,
                        from = from.to_string()
                    ),
                    msg!("overlapping-steps--hint"),
                );
            }
        }
    }

    fn collect_scale(&mut self, sc: &ast::Scale) {
        if self.dated_name_taken("kind--scale", &sc.name) {
            return;
        }
        let name = &sc.name.name;
        let mut steps: Vec<ir::Dated<Arc<ir::Brackets>>> = vec![];
        for step in &sc.steps {
            let value = match &step.brackets {
                None => None,
                Some(list) => match self.scale_brackets(name, step, list) {
                    Some(b) => Some(Arc::new(b)),
                    None => continue,
                },
            };
            steps.push(ir::Dated {
                from: step.from,
                to: step.to,
                value,
                source: step.source.clone(),
            });
        }
        steps.sort_by_key(|s| s.from);
        let spans = sc.steps.iter().map(|s| (s.from, s.to, s.span)).collect();
        self.check_overlaps("kind--scale", name, spans);
        self.scale_index.insert(name.clone(), self.scales.len());
        self.scales.push(ScaleEntry {
            def: ir::ScaleDef {
                name: name.clone(),
                label: sc.label.clone(),
                steps,
            },
        });
    }

    /// The brackets of one step of a scale: at least one, each two numbers, thresholds
    /// strictly ascending; `None` after reporting what is wrong.
    fn scale_brackets(
        &mut self,
        name: &str,
        step: &ast::ScaleStep,
        list: &[ast::BracketDef],
    ) -> Option<ir::Brackets> {
        if list.is_empty() {
            self.error(
                code::EMPTY_SCALE,
                step.span,
                msg!("empty-scale", name = name),
                msg!("empty-scale--hint"),
            );
            return None;
        }
        let number = |l: &Literal| match l {
            Literal::Int(i) => Some(rust_decimal::Decimal::from(*i)),
            Literal::Decimal(d) => Some(*d),
            _ => None,
        };
        let mut pairs = vec![];
        let mut ok = true;
        for b in list {
            match (number(&b.threshold), number(&b.value)) {
                (Some(t), Some(v)) => pairs.push((t, v)),
                _ => {
                    ok = false;
                    self.error(
                        code::TYPE_MISMATCH,
                        b.span,
                        msg!("type-mismatch--bracket", name = name),
                        msg!("type-mismatch--bracket-hint"),
                    );
                }
            }
        }
        if !ok {
            return None;
        }
        for (pair, b) in pairs.windows(2).zip(list.iter().skip(1)) {
            if let [(lower, _), (t, _)] = pair {
                if t <= lower {
                    ok = false;
                    self.error(
                        code::UNORDERED_THRESHOLDS,
                        b.span,
                        msg!(
                            "unordered-thresholds",
                            name = name,
                            threshold = t.to_string(),
                            lower = lower.to_string()
                        ),
                        msg!("unordered-thresholds--hint"),
                    );
                }
            }
        }
        if !ok {
            return None;
        }
        ir::Brackets::new(pairs).ok()
    }

    // ------------------------------------------------------------ functions

    fn check_functions(&mut self) {
        for i in 0..self.functions.len() {
            if self.too_deep.functions.get(i) == Some(&true) {
                continue;
            }
            let Some(entry) = self.functions.get(i) else {
                continue;
            };
            let (func, param_tys, result) = (entry.ast, entry.params.clone(), entry.result.clone());
            let mut body = Body::new(None, &func.lets);
            let mut seen = HashSet::new();
            // `param_tys` are the types of `func.params`, in order (see `collect`).
            for ((name, _), ty) in func.params.iter().zip(param_tys) {
                if !seen.insert(name.name.clone()) {
                    self.error(
                        code::DUPLICATE_ID,
                        name.span,
                        msg!("duplicate-id--function-parameter", name = &name.name),
                        msg!("duplicate-id--function-parameter-hint"),
                    );
                }
                body.bind(&name.name, ty);
            }
            body.base_locals = body.locals.len();
            self.index_lets(&mut body, &func.lets);
            let (expr, ty) = self.expr(&mut body, &func.body, Some(&result));
            self.expect_ty(&ty, &result, func.body.span, "what--function-result");
            self.finish_lets(&mut body);
            let lets = self.take_lets(&mut body);
            let Some(entry) = self.functions.get_mut(i) else {
                continue;
            };
            entry.calls = body.calls.clone();
            entry.params_used = body.params_used.clone();
            entry.scales_used = body.scales_used.clone();
            entry.def = Some(ir::FunctionDef {
                name: func.name.name.clone(),
                params: func.params.len(),
                locals: body.next_local,
                lets,
                body: expr,
            });
        }
    }

    fn index_lets(&mut self, body: &mut Body, lets: &[ast::Let]) {
        for (i, l) in lets.iter().enumerate() {
            if body.let_names.contains_key(&l.name.name)
                || body.locals.iter().any(|(n, _, _)| n == &l.name.name)
            {
                self.error(
                    code::DUPLICATE_ID,
                    l.name.span,
                    msg!("duplicate-id--definition", name = &l.name.name),
                    msg!("duplicate-id--definition-hint"),
                );
                continue;
            }
            body.let_names.insert(l.name.name.clone(), i);
        }
    }

    /// Types definitions that were never used, so their errors are reported too.
    fn finish_lets(&mut self, body: &mut Body) {
        for i in 0..body.let_asts.len() {
            if let (Some(LetState::Unchecked), Some(l)) =
                (body.let_state.get(i), body.let_asts.get(i))
            {
                self.check_let(body, i, l.name.span);
            }
        }
    }

    fn take_lets(&mut self, body: &mut Body) -> Vec<ir::LetDef> {
        body.let_asts
            .iter()
            .zip(body.let_exprs.iter_mut())
            .map(|(l, e)| ir::LetDef {
                name: l.name.name.clone(),
                value: e.take().unwrap_or(ir::Expr::Const(None)),
            })
            .collect()
    }

    fn check_let(&mut self, body: &mut Body, i: usize, use_span: Span) -> Ty {
        // `i` comes from `let_names`, an index of `let_asts`; any other is no definition.
        let (Some(state), Some(&ast_let)) = (body.let_state.get(i).cloned(), body.let_asts.get(i))
        else {
            return Ty::NoneLit;
        };
        match state {
            LetState::Done(t) => t,
            LetState::InProgress => {
                self.error(
                    code::CYCLE,
                    use_span,
                    msg!("cycle--definition", name = &ast_let.name.name),
                    msg!("cycle--definition-hint"),
                );
                Ty::NoneLit
            }
            LetState::Unchecked => {
                body.set_let(i, LetState::InProgress, None);
                // A definition sees only the body's outer scope, not the quantifier
                // variables around the place where it is used.
                let base = body.base_locals.min(body.locals.len());
                let saved: Vec<_> = body.locals.drain(base..).collect();
                let (e, t) = self.expr(body, &ast_let.value, None);
                body.locals.extend(saved);
                body.set_let(i, LetState::Done(t.clone()), Some(e));
                t
            }
        }
    }

    // ------------------------------------------------------------ policies

    fn check_policies(&mut self) -> Vec<ir::PolicyDef> {
        let mut out = vec![];
        for i in 0..self.policies.len() {
            if self.too_deep.policies.get(i) == Some(&true) {
                continue;
            }
            if let Some(def) = self.check_policy(i) {
                out.push(def);
            }
        }
        out
    }

    /// The schema's subject kind named by `subject kind`, or a diagnostic.
    fn resolve_subject(
        &mut self,
        subject: Option<&ast::Ident>,
        owner: &ast::Ident,
        what: &'static str,
    ) -> Option<usize> {
        let Some(s) = subject else {
            self.error(
                code::MISSING_ENTRY,
                owner.span,
                msg!(
                    "missing-entry--subject",
                    what = Message::new(what),
                    name = &owner.name
                ),
                msg!("missing-entry--subject-hint"),
            );
            return None;
        };
        let found = self.schema.subjects.iter().position(|d| d.name == s.name);
        if found.is_none() {
            let names: Vec<&str> = self
                .schema
                .subjects
                .iter()
                .map(|d| d.name.as_str())
                .collect();
            self.error(
                code::UNKNOWN_SUBJECT,
                s.span,
                msg!("unknown-subject", name = &s.name),
                msg!("unknown-subject--hint", names = names.join(", ")),
            );
        }
        found
    }

    fn check_policy(&mut self, index: usize) -> Option<ir::PolicyDef> {
        let entry = self.policies.get(index)?;
        let (p, source) = (entry.ast, entry.source.clone());
        let subject = self.resolve_subject(p.subject.as_ref(), &p.id, "kind--policy");
        if let Some(entry) = self.policies.get_mut(index) {
            entry.subject = subject;
        }
        let mode = self.policy_mode(p);
        let Some(effective) = &p.effective else {
            self.error(
                code::MISSING_ENTRY,
                p.id.span,
                msg!("missing-entry--effective", name = &p.id.name),
                msg!("missing-entry--effective-hint"),
            );
            return None;
        };
        let root = subject
            .and_then(|s| self.schema.subjects.get(s))
            .map(|d| d.root);
        let mut body = Body::new(root, &p.lets);
        // Per-item evaluation binds the item variable for the whole policy; its `where`
        // may use the policy's definitions, so it is checked once they are known.
        let per_item = p
            .per_item
            .as_ref()
            .map(|pi| self.check_per_item(&mut body, pi));
        if let (Some(def), Some(entry)) = (&per_item, self.policies.get_mut(index)) {
            entry.item_ty = body
                .locals
                .iter()
                .find(|(_, slot, _)| *slot == def.var)
                .map(|(_, _, t)| t.clone());
        }
        body.base_locals = body.locals.len();
        self.index_lets(&mut body, &p.lets);
        let per_item = per_item.map(|mut def| {
            def.filter = p
                .per_item
                .as_ref()
                .and_then(|pi| self.check_per_item_filter(&mut body, pi));
            def
        });

        let clauses = self.check_clauses(&mut body, &p.clauses);
        let amounts = self.check_amounts(&mut body, &p.amounts);
        let total = p.total.as_ref().map(|t| self.check_total(p, t));
        let mut reports = vec![];
        for r in &p.reports {
            let (e, _) = self.expr(&mut body, &r.value, None);
            reports.push((r.name.name.clone(), e));
        }
        for x in &p.excludes {
            if !self.policy_index.contains_key(&x.name) {
                self.unknown_policy(x);
            }
        }
        self.finish_lets(&mut body);
        let lets = self.take_lets(&mut body);
        self.check_parameter_gaps(p, effective, &body);
        if let Some(entry) = self.policies.get_mut(index) {
            entry.refs = body.policy_refs.clone();
        }
        let properties = self.check_properties(p, subject);
        Some(ir::PolicyDef {
            properties,
            id: p.id.name.clone(),
            title: p.title.clone(),
            subject: subject?,
            mode,
            authority: p.authority.clone(),
            basis: p.basis.clone(),
            from: effective.from,
            to: effective.to,
            per_item,
            lets,
            locals: body.next_local,
            clauses,
            amounts,
            total,
            reports,
            excludes: p.excludes.iter().map(|x| x.name.clone()).collect(),
            source,
        })
    }

    /// The policy's `mode`, or a diagnostic (and `apply`) when it is missing or unknown.
    fn policy_mode(&mut self, p: &ast::Policy) -> Mode {
        match p.mode.as_ref().map(|m| m.name.as_str()) {
            Some("no_application") => Mode::NoApplication,
            Some("push_and_confirm") => Mode::PushAndConfirm,
            Some("apply") => Mode::Apply,
            Some(other) => {
                let span = p.mode.as_ref().map_or(p.id.span, |m| m.span);
                self.error(
                    code::UNKNOWN_MODE,
                    span,
                    msg!("unknown-mode", name = other),
                    msg!("unknown-mode--hint"),
                );
                Mode::Apply
            }
            None => {
                self.error(
                    code::MISSING_ENTRY,
                    p.id.span,
                    msg!("missing-entry--mode", name = &p.id.name),
                    msg!("missing-entry--mode-hint"),
                );
                Mode::Apply
            }
        }
    }

    /// `for each <kind> <var> in <list> [where <filter>]`: the list must be a list; binds
    /// the item variable in `body`.
    /// The list of a `for each` and its item variable (the `where` is checked apart).
    fn check_per_item(&mut self, body: &mut Body, pi: &ast::PerItem) -> ir::PerItemDef {
        let (list, lty) = self.expr(body, &pi.list, None);
        let item_ty = match lty {
            Ty::List(t) => *t,
            Ty::NoneLit => Ty::NoneLit,
            other => {
                let tn = self.ty_name(&other);
                self.error(
                    code::TYPE_MISMATCH,
                    pi.list.span,
                    msg!("type-mismatch--for-each", ty = tn),
                    msg!("type-mismatch--for-each-hint"),
                );
                Ty::NoneLit
            }
        };
        let var = body.bind(&pi.var.name, item_ty);
        ir::PerItemDef {
            key: format!("per_{}", pi.kind.name),
            var,
            list,
            filter: None,
        }
    }

    /// The `where` of a `for each`, which sees the item and the policy's definitions.
    fn check_per_item_filter(&mut self, body: &mut Body, pi: &ast::PerItem) -> Option<ir::Expr> {
        pi.filter.as_ref().map(|f| {
            let (e, t) = self.expr(body, f, Some(&Ty::Bool));
            self.expect_ty(&t, &Ty::Bool, f.span, "what--where-filter");
            e
        })
    }

    /// The numbered clauses, C0 refused and duplicates reported, sorted by number.
    fn check_clauses(&mut self, body: &mut Body, clauses: &[ast::Clause]) -> Vec<ir::ClauseDef> {
        let mut out = vec![];
        let mut seen = HashSet::new();
        for c in clauses {
            if c.id.name == "C0" {
                self.error(
                    code::RESERVED_CLAUSE,
                    c.id.span,
                    msg!("reserved-clause"),
                    msg!("reserved-clause--hint"),
                );
                continue;
            }
            if !seen.insert(c.id.name.clone()) {
                self.error(
                    code::DUPLICATE_ID,
                    c.id.span,
                    msg!("duplicate-id--clause", name = &c.id.name),
                    msg!("duplicate-id--clause-hint"),
                );
            }
            let (e, t) = self.expr(body, &c.condition, Some(&Ty::Bool));
            self.expect_ty(&t, &Ty::Bool, c.condition.span, "what--clause");
            out.push(ir::ClauseDef {
                id: c.id.name.clone(),
                label: c.label.clone(),
                basis: c.basis.clone(),
                condition: e,
            });
        }
        out.sort_by_key(|c| {
            c.id.trim_start_matches('C')
                .parse::<u64>()
                .unwrap_or(u64::MAX)
        });
        out
    }

    /// The amount rules, in order: known periods, guards in their place, numeric values.
    fn check_amounts(
        &mut self,
        body: &mut Body,
        amounts: &[ast::AmountRule],
    ) -> Vec<ir::AmountDef> {
        let mut out = vec![];
        for (k, a) in amounts.iter().enumerate() {
            self.check_period(&a.period);
            let last = k + 1 == amounts.len();
            let guard = self.amount_guard(body, a, last);
            let (value, vt) = self.expr(body, &a.value, Some(&Ty::Decimal));
            if !vt.is_numeric() && vt != Ty::NoneLit {
                let tn = self.ty_name(&vt);
                self.error(
                    code::TYPE_MISMATCH,
                    a.value.span,
                    msg!("type-mismatch--amount", ty = tn),
                    msg!("type-mismatch--amount-hint"),
                );
            }
            let mut extras = vec![];
            for x in &a.extras {
                let (e, _) = self.expr(body, &x.value, None);
                extras.push((x.name.name.clone(), e));
            }
            out.push(ir::AmountDef {
                period: a.period.name.clone(),
                unit: a
                    .unit
                    .as_ref()
                    .map_or_else(|| "CNY".to_string(), |u| u.name.clone()),
                guard,
                value,
                extras,
            });
        }
        out
    }

    /// An `unknown-period` diagnostic unless `period` is one of [`PERIODS`].
    fn check_period(&mut self, period: &ast::Ident) {
        if !PERIODS.contains(&period.name.as_str()) {
            self.error(
                code::UNKNOWN_PERIOD,
                period.span,
                msg!("unknown-period", name = &period.name),
                msg!("unknown-period--hint", periods = PERIODS.join(", ")),
            );
        }
    }

    /// An amount rule's guard: a rule without `when`, or with `otherwise`, must be the
    /// `last`; a `when` condition is a truth value.
    fn amount_guard(
        &mut self,
        body: &mut Body,
        a: &ast::AmountRule,
        last: bool,
    ) -> ir::AmountGuard {
        match &a.guard {
            ast::Guard::Always if !last => {
                self.error(
                    code::AMOUNT_GUARD,
                    a.span,
                    msg!("amount-guard--without-when"),
                    msg!("amount-guard--without-when-hint"),
                );
                ir::AmountGuard::Always
            }
            ast::Guard::Always => ir::AmountGuard::Always,
            ast::Guard::Otherwise => {
                if !last {
                    self.error(
                        code::AMOUNT_GUARD,
                        a.span,
                        msg!("amount-guard--otherwise"),
                        msg!("amount-guard--otherwise-hint"),
                    );
                }
                ir::AmountGuard::Always
            }
            ast::Guard::When(c) => {
                let (e, t) = self.expr(body, c, Some(&Ty::Bool));
                self.expect_ty(&t, &Ty::Bool, c.span, "what--amount-when");
                ir::AmountGuard::When(e)
            }
        }
    }

    /// `total <period>: sum of <value|extra>`: only with `for each`, summing `value` or
    /// an extra every amount rule states.
    fn check_total(&mut self, p: &ast::Policy, t: &ast::Total) -> (String, String) {
        self.check_period(&t.period);
        if p.per_item.is_none() {
            self.error(
                code::TOTAL_WITHOUT_ITEMS,
                t.period.span,
                msg!("total-without-items"),
                msg!("total-without-items--hint"),
            );
        }
        if t.of.name != "value"
            && !p
                .amounts
                .iter()
                .all(|a| a.extras.iter().any(|x| x.name.name == t.of.name))
        {
            self.error(
                code::UNKNOWN_EXTRA,
                t.of.span,
                msg!("unknown-extra", name = &t.of.name),
                msg!("unknown-extra--hint"),
            );
        }
        (t.period.name.clone(), t.of.name.clone())
    }

    /// Parameters and scales read on `ref` (by the policy or the functions it calls)
    /// must have a step on every day of the effective period, unless the policy
    /// accepts the gap; an accepted gap must name a parameter or a scale. A step
    /// declared `absent` is not a gap, but a value abolished inside the period is worth
    /// a warning: every decision on those days is an evaluation error.
    fn check_parameter_gaps(&mut self, p: &ast::Policy, effective: &ast::Effective, body: &Body) {
        let (from, to) = (effective.from, effective.to);
        for (kind, name, gap, absent) in self.dated_reads(body, from, to) {
            if p.accepted_gaps.iter().any(|(g, _)| g.name == name) {
                continue;
            }
            if let Some(gap) = gap {
                self.error(
                    code::PARAMETER_GAP,
                    effective.span,
                    msg!(
                        "parameter-gap",
                        what = Message::new(kind),
                        name = &name,
                        gap = gap.to_string(),
                        policy = &p.id.name
                    ),
                    msg!("parameter-gap--hint", name = &name, gap = gap.to_string()),
                );
            }
            if let Some((day, until)) = absent {
                self.warn_abolished(p, effective, kind, &name, day, until);
            }
        }
        for (g, _) in &p.accepted_gaps {
            if !self.param_index.contains_key(&g.name) && !self.scale_index.contains_key(&g.name) {
                self.unknown_param(g);
            }
        }
    }

    /// The parameters and scales a body reads, directly or through the functions it
    /// calls, each with the first day of `from..=to` no step covers and the first step
    /// declared absent there.
    fn dated_reads(&self, body: &Body, from: NaiveDate, to: Option<NaiveDate>) -> Vec<DatedRead> {
        let mut params: HashSet<usize> = body.params_used.clone();
        let mut scales: HashSet<usize> = body.scales_used.clone();
        let mut seen_fns = HashSet::new();
        let mut stack: Vec<usize> = body.calls.iter().copied().collect();
        while let Some(f) = stack.pop() {
            if let Some(func) = self.functions.get(f).filter(|_| seen_fns.insert(f)) {
                params.extend(func.params_used.iter().copied());
                scales.extend(func.scales_used.iter().copied());
                stack.extend(func.calls.iter().copied());
            }
        }
        let mut found: Vec<DatedRead> = vec![];
        let mut params: Vec<usize> = params.into_iter().collect();
        params.sort_unstable();
        for def in params
            .iter()
            .filter_map(|&i| self.params.get(i))
            .map(|e| &e.def)
        {
            let absent = ir::first_absent(&def.steps, from, to).map(|s| (s.from, s.to));
            let gap = ir::first_uncovered(&def.steps, from, to);
            found.push(("kind--parameter", def.name.clone(), gap, absent));
        }
        let mut scales: Vec<usize> = scales.into_iter().collect();
        scales.sort_unstable();
        for def in scales
            .iter()
            .filter_map(|&i| self.scales.get(i))
            .map(|e| &e.def)
        {
            let absent = ir::first_absent(&def.steps, from, to).map(|s| (s.from, s.to));
            let gap = ir::first_uncovered(&def.steps, from, to);
            found.push(("kind--scale", def.name.clone(), gap, absent));
        }
        found
    }

    /// `parameter-abolished`: a policy's period reaches into a step declared absent.
    fn warn_abolished(
        &mut self,
        p: &ast::Policy,
        effective: &ast::Effective,
        kind: &'static str,
        name: &str,
        day: NaiveDate,
        until: Option<NaiveDate>,
    ) {
        let from = effective.from;
        let accept = msg!("parameter-abolished--accept", name = name);
        let (message, hint) = if day > from {
            let to: Arg = match day.pred_opt() {
                Some(d) => msg!("parameter-abolished--to", day = d.to_string()).into(),
                None => "".into(),
            };
            (
                "parameter-abolished--inside",
                msg!(
                    "parameter-abolished--end-hint",
                    day = day.to_string(),
                    to = to,
                    accept = accept
                ),
            )
        } else {
            let hint = match until {
                Some(t) => msg!(
                    "parameter-abolished--start-hint",
                    after = t.to_string(),
                    accept = accept
                ),
                None => {
                    let at = if kind == "kind--scale" {
                        format!("marginal({name}, x, date)")
                    } else {
                        format!("{name}(date)")
                    };
                    msg!(
                        "parameter-abolished--read-at-hint",
                        name = name,
                        day = day.to_string(),
                        at = at,
                        accept = accept
                    )
                }
            };
            ("parameter-abolished--before", hint)
        };
        self.diags.push(
            Diagnostic::warning(
                code::PARAMETER_ABOLISHED,
                effective.span,
                msg!(
                    message,
                    what = Message::new(kind),
                    name = name,
                    day = day.to_string(),
                    policy = &p.id.name
                ),
            )
            .with_hint(hint),
        );
    }

    // ------------------------------------------------------------ bundles

    fn check_bundles(&mut self, files: &[CheckedFile<'a>]) -> Vec<ir::BundleDef> {
        let mut out = vec![];
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut index = 0;
        for f in files {
            for item in &f.file.items {
                let ast::Item::Bundle(b) = item else { continue };
                let too_deep = self.too_deep.bundles.get(index) == Some(&true);
                index += 1;
                if too_deep {
                    continue;
                }
                if seen.contains_key(&b.id.name) || self.policy_index.contains_key(&b.id.name) {
                    self.dup("kind--bundle", &b.id, b.id.span);
                    continue;
                }
                seen.insert(b.id.name.clone(), b.id.span);
                if let Some(def) = self.check_bundle(b) {
                    out.push(def);
                }
            }
        }
        out
    }

    fn check_bundle(&mut self, b: &ast::Bundle) -> Option<ir::BundleDef> {
        let subject = self.resolve_subject(b.subject.as_ref(), &b.id, "kind--bundle");
        let root = subject
            .and_then(|s| self.schema.subjects.get(s))
            .map(|d| d.root);
        let mut body = Body::new(root, &b.lets);
        self.index_lets(&mut body, &b.lets);
        let mut members = vec![];
        for m in &b.members {
            if body.members.iter().any(|(k, _)| k == &m.key.name) {
                self.error(
                    code::DUPLICATE_ID,
                    m.key.span,
                    msg!("duplicate-id--member", name = &m.key.name),
                    msg!("duplicate-id--member-hint"),
                );
                continue;
            }
            let kind = match &m.kind {
                ast::MemberKind::Available(c) => {
                    let (e, t) = self.expr(&mut body, c, Some(&Ty::Bool));
                    self.expect_ty(&t, &Ty::Bool, c.span, "what--member-condition");
                    ir::MemberKind::Procedural(e)
                }
                ast::MemberKind::Policy {
                    policy,
                    item,
                    overrides,
                } => {
                    let Some(kind) =
                        self.policy_member(&mut body, b, policy, item.as_ref(), overrides)
                    else {
                        continue;
                    };
                    kind
                }
            };
            body.members.push((
                m.key.name.clone(),
                matches!(kind, ir::MemberKind::Policy { .. }),
            ));
            members.push(ir::MemberDef {
                key: m.key.name.clone(),
                label: m.label.clone().unwrap_or_else(|| match &m.kind {
                    ast::MemberKind::Policy { policy, .. } => self
                        .policy_index
                        .get(&policy.name)
                        .and_then(|&i| self.policies.get(i))
                        .map_or_else(String::new, |e| e.ast.title.clone()),
                    ast::MemberKind::Available(_) => m.key.name.clone(),
                }),
                kind,
            });
        }
        let fields = self.bundle_fields(&mut body, &b.fields);
        let materials = self.bundle_materials(&mut body, &b.materials);
        self.finish_lets(&mut body);
        let lets = self.take_lets(&mut body);
        Some(ir::BundleDef {
            id: b.id.name.clone(),
            title: b.title.clone(),
            subject: subject?,
            basis: b.basis.clone(),
            lets,
            locals: body.next_local,
            members,
            fields,
            materials,
        })
    }

    /// `member KEY: policy P [for x] [with C2 = …]`: P about the bundle's subject, the
    /// overridden clauses P's own, the item one of P's (checked with the others).
    fn policy_member(
        &mut self,
        body: &mut Body,
        b: &ast::Bundle,
        policy: &ast::Ident,
        item: Option<&ast::Expr>,
        overrides: &[(ast::Ident, ast::Expr)],
    ) -> Option<ir::MemberKind> {
        let found = self.policy_index.get(&policy.name).and_then(|&pi| {
            let entry = self.policies.get(pi)?;
            Some((pi, entry.ast))
        });
        let Some((pi, p)) = found else {
            self.unknown_policy(policy);
            return None;
        };
        if p.subject.as_ref().map(|s| s.name.as_str())
            != b.subject.as_ref().map(|s| s.name.as_str())
        {
            self.error(
                code::SUBJECT_MISMATCH,
                policy.span,
                msg!("subject-mismatch--bundle", name = &policy.name),
                msg!("subject-mismatch--bundle-hint"),
            );
        }
        let mut outs = vec![];
        for (clause, value) in overrides {
            if !p.clauses.iter().any(|c| c.id.name == clause.name) {
                let ids: Vec<&str> = p.clauses.iter().map(|c| c.id.name.as_str()).collect();
                self.error(
                    code::UNKNOWN_CLAUSE,
                    clause.span,
                    msg!(
                        "unknown-clause",
                        policy = &policy.name,
                        clause = &clause.name
                    ),
                    msg!("unknown-clause--hint", clauses = ids.join(", ")),
                );
            }
            let (e, t) = self.expr(body, value, Some(&Ty::Bool));
            self.expect_ty(&t, &Ty::Bool, value.span, "what--clause-value");
            outs.push((clause.name.clone(), e));
        }
        let item = item.map(|x| self.item_choice(body, pi, x));
        Some(ir::MemberKind::Policy {
            policy: pi,
            item,
            overrides: outs,
        })
    }

    /// A bundle's form fields, each key once.
    fn bundle_fields(&mut self, body: &mut Body, defs: &[ast::FormField]) -> Vec<ir::FormFieldDef> {
        let mut fields = vec![];
        let mut keys = HashSet::new();
        for f in defs {
            if !keys.insert(f.key.name.clone()) {
                self.error(
                    code::DUPLICATE_ID,
                    f.key.span,
                    msg!("duplicate-id--form-field", name = &f.key.name),
                    msg!("duplicate-id--form-field-hint"),
                );
            }
            let value = f.value.as_ref().map(|v| self.expr(body, v, None).0);
            let when = f.when.as_ref().map(|w| {
                let (e, t) = self.expr(body, w, Some(&Ty::Bool));
                self.expect_ty(&t, &Ty::Bool, w.span, "what--field-when");
                e
            });
            fields.push(ir::FormFieldDef {
                key: f.key.name.clone(),
                label: f.label.clone(),
                value,
                when,
            });
        }
        fields
    }

    /// A bundle's materials, each naming members of the bundle.
    fn bundle_materials(
        &mut self,
        body: &mut Body,
        defs: &[ast::Material],
    ) -> Vec<ir::MaterialDef> {
        let mut materials = vec![];
        for m in defs {
            let mut idx = vec![];
            for k in &m.members {
                match body.members.iter().position(|(n, _)| n == &k.name) {
                    Some(i) => idx.push(i),
                    None => {
                        let hint = match did_you_mean(
                            &k.name,
                            body.members.iter().map(|(n, _)| n.as_str()),
                        ) {
                            Some(s) => msg!("hint--did-you-mean", name = s),
                            None => msg!("unknown-member--material-hint"),
                        };
                        self.error(
                            code::UNKNOWN_MEMBER,
                            k.span,
                            msg!("unknown-member--material", name = &k.name),
                            hint,
                        );
                    }
                }
            }
            let held = m.held.as_ref().map(|h| {
                h.as_ref().map(|c| {
                    let (e, t) = self.expr(body, c, Some(&Ty::Bool));
                    self.expect_ty(&t, &Ty::Bool, c.span, "what--material-held-when");
                    e
                })
            });
            materials.push(ir::MaterialDef {
                key: m.key.name.clone(),
                label: m.label.clone(),
                members: idx,
                held,
            });
        }
        materials
    }

    fn check_properties(
        &mut self,
        p: &ast::Policy,
        subject: Option<usize>,
    ) -> Vec<ir::PropertyDef> {
        let mut out = vec![];
        for prop in &p.properties {
            let kind = match &prop.kind {
                ast::PropertyKind::AmountBound(op, lit, span) => {
                    let bound = match lit {
                        Literal::Int(i) => rust_decimal::Decimal::from(*i),
                        Literal::Decimal(d) => *d,
                        _ => {
                            self.error(
                                code::TYPE_MISMATCH,
                                *span,
                                msg!("type-mismatch--amount-bound"),
                                msg!("type-mismatch--amount-bound-hint"),
                            );
                            continue;
                        }
                    };
                    if p.amounts.is_empty() {
                        self.error(
                            code::NO_AMOUNT,
                            *span,
                            msg!("no-amount", name = &p.id.name),
                            msg!("no-amount--hint"),
                        );
                    }
                    ir::PropertyKind::AmountBound(*op, bound)
                }
                ast::PropertyKind::Monotone {
                    increasing,
                    path,
                    span,
                } => {
                    let Some(segments) = self.monotone_path(subject, path, *span) else {
                        continue;
                    };
                    ir::PropertyKind::Monotone {
                        increasing: *increasing,
                        path: segments,
                    }
                }
            };
            out.push(ir::PropertyDef {
                name: prop.name.name.clone(),
                label: prop.label.clone().unwrap_or_else(|| prop.name.name.clone()),
                kind,
            });
        }
        out
    }

    /// The path of a `monotone` property, as segments, when it leads from the subject
    /// through records (and lists of records, `[]`) to a number or a date; a diagnostic
    /// otherwise.
    fn monotone_path(
        &mut self,
        subject: Option<usize>,
        path: &str,
        span: Span,
    ) -> Option<Vec<String>> {
        let mut rec = subject
            .and_then(|s| self.schema.subjects.get(s))
            .map(|d| d.root)?;
        let segments: Vec<String> = path.split('.').map(str::to_string).collect();
        let mut ok = true;
        for (i, seg) in segments.iter().enumerate() {
            let (name, list) = match seg.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (seg.as_str(), false),
            };
            let def = self.schema.record(rec);
            let Some((_, field)) = def.and_then(|d| d.field_named(name)) else {
                let hint = match did_you_mean(
                    name,
                    def.into_iter()
                        .flat_map(|d| d.fields.iter())
                        .map(|f| f.name.as_str()),
                ) {
                    Some(s) => msg!("hint--did-you-mean", name = s),
                    None => msg!("unknown-field--property-path-hint"),
                };
                self.error(
                    code::UNKNOWN_FIELD,
                    span,
                    msg!("unknown-field--property-path", name = name),
                    hint,
                );
                ok = false;
                break;
            };
            let last = i + 1 == segments.len();
            match (&field.ty, list, last) {
                (FieldType::Record(r), false, false) => rec = *r,
                (FieldType::List(t), true, false) => match &**t {
                    FieldType::Record(r) => rec = *r,
                    _ => ok = false,
                },
                (FieldType::Int | FieldType::Decimal | FieldType::Date, false, true) => {}
                (FieldType::List(t), true, true)
                    if matches!(**t, FieldType::Int | FieldType::Decimal | FieldType::Date) => {}
                _ => ok = false,
            }
            if !ok {
                self.error(
                    code::TYPE_MISMATCH,
                    span,
                    msg!("type-mismatch--monotone-path", path = path),
                    msg!("type-mismatch--monotone-path-hint"),
                );
                break;
            }
        }
        ok.then_some(segments)
    }

    fn unknown_policy(&mut self, id: &ast::Ident) {
        let hint = match did_you_mean(&id.name, self.policy_index.keys().map(|s| s.as_str())) {
            Some(s) => msg!("hint--did-you-mean", name = s),
            None => msg!("unknown-policy--hint"),
        };
        self.error(
            code::UNKNOWN_POLICY,
            id.span,
            msg!("unknown-policy", name = &id.name),
            hint,
        );
    }

    fn unknown_param(&mut self, id: &ast::Ident) {
        let names = self.param_index.keys().chain(self.scale_index.keys());
        let hint = match did_you_mean(&id.name, names.map(|s| s.as_str())) {
            Some(s) => msg!("hint--did-you-mean", name = s),
            None => msg!("unknown-parameter--hint"),
        };
        self.error(
            code::UNKNOWN_PARAMETER,
            id.span,
            msg!("unknown-parameter", name = &id.name),
            hint,
        );
    }

    /// The shortest circle of references from policy `start` back to it, as the
    /// policies on the way (`[a, b, a]`), or `None`.
    fn policy_circle(&self, start: usize) -> Option<Vec<usize>> {
        let entry = self.policies.get(start)?;
        // Breadth first from the policy's references, each policy reached noted with
        // the one it was reached from, until the path comes back to the start.
        let mut from: HashMap<usize, usize> = HashMap::new();
        let mut queue: std::collections::VecDeque<usize> = entry.refs.iter().map(|r| r.0).collect();
        for r in &entry.refs {
            from.entry(r.0).or_insert(start);
        }
        let mut back = false;
        while let Some(p) = queue.pop_front() {
            if p == start {
                back = true;
                break;
            }
            let Some(other) = self.policies.get(p) else {
                continue;
            };
            for r in &other.refs {
                if let std::collections::hash_map::Entry::Vacant(v) = from.entry(r.0) {
                    v.insert(p);
                    queue.push_back(r.0);
                } else if r.0 == start {
                    queue.push_back(r.0);
                    from.insert(start, p);
                }
            }
        }
        if !back {
            return None;
        }
        // The path, from the start round to it again.
        let mut path = vec![start];
        let mut at = from.get(&start).copied().unwrap_or(start);
        while at != start && path.len() <= self.policies.len() {
            path.push(at);
            at = from.get(&at).copied().unwrap_or(start);
        }
        path.push(start);
        path.reverse();
        Some(path)
    }

    fn check_cycles(&mut self) {
        let mut cycles = vec![];
        // Functions calling themselves, directly or not.
        for (start, entry) in self.functions.iter().enumerate() {
            let mut stack: Vec<usize> = entry.calls.iter().copied().collect();
            let mut seen = HashSet::new();
            while let Some(f) = stack.pop() {
                if f == start {
                    let id = &entry.ast.name;
                    cycles.push(
                        Diagnostic::error(
                            code::CYCLE,
                            id.span,
                            msg!("cycle--function", name = &id.name),
                        )
                        .with_hint(msg!("cycle--function-hint")),
                    );
                    break;
                }
                if let Some(callee) = self.functions.get(f).filter(|_| seen.insert(f)) {
                    stack.extend(callee.calls.iter().copied());
                }
            }
        }
        // Policies referring to each other's decision in a circle, named by its path.
        for (start, entry) in self.policies.iter().enumerate() {
            let Some(path) = self.policy_circle(start) else {
                continue;
            };
            let names: Vec<String> = path
                .iter()
                .filter_map(|&i| self.policies.get(i).map(|e| e.ast.id.name.clone()))
                .collect();
            let span = entry.refs.first().map_or(entry.ast.id.span, |r| r.1);
            let id = &entry.ast.id.name;
            cycles.push(
                Diagnostic::error(
                    code::CYCLE,
                    span,
                    msg!("cycle--policy", name = id, path = names.join(" → ")),
                )
                .with_hint(msg!("cycle--policy-hint")),
            );
        }
        // A policy may refer only to policies of the same subject kind.
        for entry in &self.policies {
            for &(r, span) in &entry.refs {
                let Some(other) = self.policies.get(r) else {
                    continue;
                };
                if entry.subject.is_some()
                    && other.subject.is_some()
                    && entry.subject != other.subject
                {
                    cycles.push(
                        Diagnostic::error(
                            code::SUBJECT_MISMATCH,
                            span,
                            msg!("subject-mismatch--reference", name = &other.ast.id.name),
                        )
                        .with_hint(msg!("subject-mismatch--reference-hint")),
                    );
                }
            }
        }
        self.diags.extend(cycles);
    }

    // ------------------------------------------------------------ expressions

    /// A value of type `got` where `want` is needed; `what` is the message naming the
    /// place (`what--clause`).
    fn expect_ty(&mut self, got: &Ty, want: &Ty, span: Span, what: &'static str) {
        if unify(got, want).is_none() {
            let (g, w) = (self.ty_name(got), self.ty_name(want));
            self.error(
                code::TYPE_MISMATCH,
                span,
                msg!(
                    "type-mismatch--expected",
                    what = Message::new(what),
                    want = w.clone(),
                    got = g
                ),
                match want {
                    Ty::Bool => msg!("type-mismatch--expected-condition-hint"),
                    _ => msg!("type-mismatch--expected-hint", want = w),
                },
            );
        }
    }

    fn expr(&mut self, body: &mut Body, e: &ast::Expr, expected: Option<&Ty>) -> Typed {
        // Checking recurses as deep as the rules nest (bounded by the depth limit); on a
        // host's thread with little stack left it continues on the heap.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            self.expr_node(body, e, expected)
        })
    }

    fn expr_node(&mut self, body: &mut Body, e: &ast::Expr, expected: Option<&Ty>) -> Typed {
        let span = e.span;
        match &e.kind {
            ExprKind::Literal(l) => literal(l),
            ExprKind::Ref => (ir::Expr::Ref, Ty::Date),
            ExprKind::Name(id) => self.name(body, id, expected),
            ExprKind::Field(base, field) => self.field(body, base, field),
            ExprKind::Call(name, args) => self.call(body, name, args, span),
            ExprKind::PolicyRef(id, None) => self.status_ref(body, id, false),
            ExprKind::PolicyRef(id, Some(item)) => {
                self.policy_item_ref(body, id, item, ir::DecisionRead::Eligible)
            }
            ExprKind::PolicyAmount(id, None) => match self.policy_index.get(&id.name) {
                Some(&i) => {
                    body.policy_refs.push((i, id.span));
                    (ir::Expr::PolicyAmount(i), Ty::Decimal)
                }
                None => {
                    self.unknown_policy(id);
                    poison()
                }
            },
            ExprKind::PolicyAmount(id, Some(item)) => {
                self.policy_item_ref(body, id, item, ir::DecisionRead::Amount)
            }
            ExprKind::AvailableRef(id) => self.status_ref(body, id, true),
            ExprKind::Neg(x) => {
                let (x, t) = self.expr(body, x, expected);
                if !t.is_numeric() && t != Ty::NoneLit {
                    self.expect_ty(&t, &Ty::Decimal, span, "what--operand-minus");
                }
                (ir::Expr::Neg(Box::new(x)), t)
            }
            ExprKind::Arith(op, a, b) => self.arith(body, *op, a, b, span),
            ExprKind::Not(x) => {
                let (x, t) = self.expr(body, x, Some(&Ty::Bool));
                self.expect_ty(&t, &Ty::Bool, span, "what--operand-not");
                (ir::Expr::Not(Box::new(x)), Ty::Bool)
            }
            ExprKind::And(xs) => (ir::Expr::And(self.operands(body, xs)), Ty::Bool),
            ExprKind::Or(xs) => (ir::Expr::Or(self.operands(body, xs)), Ty::Bool),
            ExprKind::Compare(op, a, b) => self.compare(body, *op, a, b, span),
            ExprKind::In {
                value,
                target,
                negated,
            } => self.in_expr(body, value, target, *negated, span),
            ExprKind::IsNone { value, negated } => {
                let (v, _) = self.expr(body, value, None);
                (ir::Expr::IsNone(Box::new(v), *negated), Ty::Bool)
            }
            ExprKind::Otherwise(a, b) => {
                let (a, b, ty) = self.pair(body, a, b);
                (
                    ir::Expr::Otherwise(Box::new(a), Box::new(b)),
                    ty.unwrap_or(Ty::NoneLit),
                )
            }
            ExprKind::If(c, a, b) => {
                let (c, ct) = self.expr(body, c, Some(&Ty::Bool));
                self.expect_ty(&ct, &Ty::Bool, span, "what--if-condition");
                let (a_e, at) = self.expr(body, a, expected);
                let (b_e, bt) = self.expr(body, b, Some(&at));
                let ty = self.join(&at, &bt, b.span, "what--if-branches");
                (ir::Expr::If(Box::new(c), Box::new(a_e), Box::new(b_e)), ty)
            }
            ExprKind::Quantified {
                quantifier,
                var,
                list,
                filter,
                body: qbody,
            } => self.quantified(
                body,
                *quantifier,
                var,
                list,
                filter.as_deref(),
                qbody.as_deref(),
                span,
            ),
            ExprKind::Match(scrutinee, arms) => self.match_expr(body, scrutinee, arms, expected),
            ExprKind::Cases(arms, default) => self.cases(body, arms, default.as_deref(), expected),
        }
    }

    /// `base.field`: a field of a record, with "did you mean" when it has no such field.
    fn field(&mut self, body: &mut Body, base: &ast::Expr, field: &ast::Ident) -> Typed {
        let (b, bt) = self.expr(body, base, None);
        match bt {
            Ty::Record(r) => {
                let Some(rec) = self.schema.record(r) else {
                    return poison();
                };
                match rec.field_named(&field.name) {
                    Some((i, f)) => (
                        ir::Expr::Field {
                            base: Box::new(b),
                            record: r,
                            index: i,
                            name: Arc::from(f.name.as_str()),
                            sensitive: f.sensitive,
                        },
                        Self::field_ty(&f.ty),
                    ),
                    None => {
                        let hint = match did_you_mean(
                            &field.name,
                            rec.fields.iter().map(|f| f.name.as_str()),
                        ) {
                            Some(s) => msg!("hint--did-you-mean", name = s),
                            None => msg!(
                                "unknown-field--hint",
                                fields = rec
                                    .fields
                                    .iter()
                                    .map(|f| f.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        let what = self.ty_name(&Ty::Record(r));
                        self.error(
                            code::UNKNOWN_FIELD,
                            field.span,
                            msg!("unknown-field", record = what, name = &field.name),
                            hint,
                        );
                        poison()
                    }
                }
            }
            Ty::NoneLit => poison(),
            Ty::List(_) => {
                self.error(
                    code::TYPE_MISMATCH,
                    field.span,
                    msg!("type-mismatch--field-of-list", name = &field.name),
                    msg!("type-mismatch--field-of-list-hint"),
                );
                poison()
            }
            other => {
                let tn = self.ty_name(&other);
                self.error(
                    code::TYPE_MISMATCH,
                    field.span,
                    msg!("type-mismatch--field-of-value", name = &field.name, ty = tn),
                    msg!("type-mismatch--field-of-value-hint"),
                );
                poison()
            }
        }
    }

    /// `eligible(id)` / `available(key)` (`available` when `available` is set): an
    /// earlier member of the bundle when one has that key, else for `eligible` a policy.
    fn status_ref(&mut self, body: &mut Body, id: &ast::Ident, available: bool) -> Typed {
        if let Some(i) = body.members.iter().position(|(k, _)| k == &id.name) {
            return (ir::Expr::MemberRef(i), Ty::Bool);
        }
        if available {
            let hint = match did_you_mean(&id.name, body.members.iter().map(|(k, _)| k.as_str())) {
                Some(s) => msg!("hint--did-you-mean", name = s),
                None if body.root.is_some() && body.members.is_empty() => {
                    msg!("unknown-member--available-first-hint")
                }
                None => msg!("unknown-member--available-hint"),
            };
            self.error(
                code::UNKNOWN_MEMBER,
                id.span,
                msg!("unknown-member--available", name = &id.name),
                hint,
            );
            return poison();
        }
        match self.policy_index.get(&id.name) {
            Some(&i) => {
                body.policy_refs.push((i, id.span));
                (ir::Expr::PolicyRef(i), Ty::Bool)
            }
            None => {
                self.unknown_policy(id);
                poison()
            }
        }
    }

    /// `eligible(P for x)` / `amount(P for x)`: one item's decision of a per-item policy.
    fn policy_item_ref(
        &mut self,
        body: &mut Body,
        id: &ast::Ident,
        item: &ast::Expr,
        read: ir::DecisionRead,
    ) -> Typed {
        let Some(&policy) = self.policy_index.get(&id.name) else {
            self.unknown_policy(id);
            return poison();
        };
        body.policy_refs.push((policy, id.span));
        let item = Box::new(self.item_choice(body, policy, item));
        let ty = match read {
            ir::DecisionRead::Eligible => Ty::Bool,
            ir::DecisionRead::Amount => Ty::Decimal,
        };
        (ir::Expr::PolicyItem { policy, item, read }, ty)
    }

    /// The `x` of `P for x`, typed here and held to P's item kind once P is checked.
    fn item_choice(&mut self, body: &mut Body, policy: usize, x: &ast::Expr) -> ir::Expr {
        let (e, ty) = self.expr(body, x, None);
        self.item_choices.push(ItemChoice {
            policy,
            ty,
            span: x.span,
        });
        e
    }

    /// Every `P for x`: P decides per item, and x is one of its items.
    fn check_item_choices(&mut self) {
        for choice in std::mem::take(&mut self.item_choices) {
            let Some(entry) = self.policies.get(choice.policy) else {
                continue;
            };
            let id = entry.ast.id.name.clone();
            let Some(item_ty) = entry.item_ty.clone() else {
                if entry.ast.per_item.is_none() {
                    self.error(
                        code::ITEM_CHOICE,
                        choice.span,
                        msg!("item-choice--not-per-item", name = &id),
                        msg!("item-choice--not-per-item-hint", name = &id),
                    );
                }
                continue;
            };
            let poisoned = choice.ty == Ty::NoneLit || item_ty == Ty::NoneLit;
            if choice.ty != item_ty && !poisoned {
                let (want, got) = (self.ty_name(&item_ty), self.ty_name(&choice.ty));
                self.error(
                    code::ITEM_CHOICE,
                    choice.span,
                    msg!("item-choice--type", name = &id, want = want, got = got),
                    msg!("item-choice--type-hint"),
                );
            }
        }
    }

    /// The operands of `and` / `or`, each a truth value.
    fn operands(&mut self, body: &mut Body, xs: &[ast::Expr]) -> Vec<ir::Expr> {
        let mut out = vec![];
        for x in xs {
            let (e, t) = self.expr(body, x, Some(&Ty::Bool));
            self.expect_ty(&t, &Ty::Bool, x.span, "what--and-or-operand");
            out.push(e);
        }
        out
    }

    /// `a <op> b`: both sides of one type; only numbers and dates are ordered; lists and
    /// records are not compared.
    fn compare(
        &mut self,
        body: &mut Body,
        op: CmpOp,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
    ) -> Typed {
        let (a, b, ty) = self.pair(body, a, b);
        if let Some(t) = ty {
            let ordered = matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge);
            if ordered && !(t.is_numeric() || t == Ty::Date || t == Ty::NoneLit) {
                let tn = self.ty_name(&t);
                self.error(
                    code::TYPE_MISMATCH,
                    span,
                    msg!("type-mismatch--unordered", ty = tn),
                    msg!("type-mismatch--unordered-hint"),
                );
            }
            if matches!(t, Ty::List(_) | Ty::Record(_)) {
                self.error(
                    code::TYPE_MISMATCH,
                    span,
                    msg!("type-mismatch--compare-list"),
                    msg!("type-mismatch--compare-list-hint"),
                );
            }
        }
        (ir::Expr::Compare(op, Box::new(a), Box::new(b)), Ty::Bool)
    }

    /// `match scrutinee { patterns => value, ... }`: patterns of the scrutinee's type,
    /// arms of one type.
    fn match_expr(
        &mut self,
        body: &mut Body,
        scrutinee: &ast::Expr,
        arms: &[(Vec<ast::Pattern>, ast::Expr)],
        expected: Option<&Ty>,
    ) -> Typed {
        let (s, st) = self.expr(body, scrutinee, None);
        let mut out_arms = vec![];
        let mut result: Option<Ty> = None;
        for (pats, value) in arms {
            let mut out_pats = vec![];
            for p in pats {
                out_pats.push(self.pattern(body, p, &st));
            }
            let (ve, vt) = self.expr(body, value, result.as_ref().or(expected));
            result = Some(match &result {
                Some(r) => self.join(r, &vt, value.span, "what--match-arms"),
                None => vt,
            });
            out_arms.push((out_pats, ve));
        }
        (
            ir::Expr::Match(Box::new(s), out_arms),
            result.unwrap_or(Ty::NoneLit),
        )
    }

    /// One `match` pattern, of the matched value's type `st`.
    fn pattern(&mut self, body: &mut Body, p: &ast::Pattern, st: &Ty) -> Pat {
        match p {
            ast::Pattern::Wildcard => Pat::Any,
            ast::Pattern::Value(v) => {
                let (ve, vt) = self.expr(body, v, Some(st));
                self.join(st, &vt, v.span, "what--match-pattern");
                Pat::Eq(ve)
            }
            ast::Pattern::Range(lo, hi) => {
                let (l, lt) = self.expr(body, lo, Some(st));
                let (h, ht) = self.expr(body, hi, Some(st));
                self.join(st, &lt, lo.span, "what--match-range");
                self.join(st, &ht, hi.span, "what--match-range");
                Pat::Range(l, h)
            }
        }
    }

    /// `cases { condition => value, ..., else => default }`: truth-valued conditions,
    /// values of one type.
    fn cases(
        &mut self,
        body: &mut Body,
        arms: &[(ast::Expr, ast::Expr)],
        default: Option<&ast::Expr>,
        expected: Option<&Ty>,
    ) -> Typed {
        let mut out = vec![];
        let mut result: Option<Ty> = None;
        for (c, v) in arms {
            let (ce, ct) = self.expr(body, c, Some(&Ty::Bool));
            self.expect_ty(&ct, &Ty::Bool, c.span, "what--cases-condition");
            let (ve, vt) = self.expr(body, v, result.as_ref().or(expected));
            result = Some(match &result {
                Some(r) => self.join(r, &vt, v.span, "what--cases-values"),
                None => vt,
            });
            out.push((ce, ve));
        }
        let d = default.map(|d| {
            let (de, dt) = self.expr(body, d, result.as_ref().or(expected));
            result = Some(match &result {
                Some(r) => self.join(r, &dt, d.span, "what--cases-values"),
                None => dt,
            });
            Box::new(de)
        });
        (ir::Expr::Cases(out, d), result.unwrap_or(Ty::NoneLit))
    }

    /// Types two operands that must agree, letting a bare enum value on either side
    /// take the other side's type.
    fn pair(
        &mut self,
        body: &mut Body,
        a: &ast::Expr,
        b: &ast::Expr,
    ) -> (ir::Expr, ir::Expr, Option<Ty>) {
        let (ae, at, be, bt) = if self.is_unbound_name(body, a) && !self.is_unbound_name(body, b) {
            let (be, bt) = self.expr(body, b, None);
            let (ae, at) = self.expr(body, a, Some(&bt));
            (ae, at, be, bt)
        } else {
            let (ae, at) = self.expr(body, a, None);
            let (be, bt) = self.expr(body, b, Some(&at));
            (ae, at, be, bt)
        };
        let ty = unify(&at, &bt);
        if ty.is_none() {
            let (x, y) = (self.ty_name(&at), self.ty_name(&bt));
            self.error(
                code::TYPE_MISMATCH,
                Span {
                    file: a.span.file,
                    start: a.span.start,
                    end: b.span.end,
                },
                msg!("type-mismatch--compare", left = x, right = y),
                msg!("type-mismatch--compare-hint"),
            );
        }
        (ae, be, ty)
    }

    fn is_unbound_name(&self, body: &Body, e: &ast::Expr) -> bool {
        let ExprKind::Name(id) = &e.kind else {
            return false;
        };
        !(body.locals.iter().any(|(n, _, _)| n == &id.name)
            || body.let_names.contains_key(&id.name)
            || body
                .root
                .and_then(|r| self.schema.record(r))
                .is_some_and(|r| r.field_index(&id.name).is_some())
            || self.param_index.contains_key(&id.name)
            || self.scale_index.contains_key(&id.name))
    }

    /// The one type of two values that must agree; `what` is the message naming them
    /// (`what--if-branches`).
    fn join(&mut self, a: &Ty, b: &Ty, span: Span, what: &'static str) -> Ty {
        match unify(a, b) {
            Some(t) => t,
            None => {
                let (x, y) = (self.ty_name(a), self.ty_name(b));
                self.error(
                    code::TYPE_MISMATCH,
                    span,
                    msg!(
                        "type-mismatch--join",
                        what = Message::new(what),
                        left = x,
                        right = y
                    ),
                    msg!("type-mismatch--join-hint"),
                );
                a.clone()
            }
        }
    }

    fn name(&mut self, body: &mut Body, id: &ast::Ident, expected: Option<&Ty>) -> Typed {
        if let Some((_, slot, ty)) = body.locals.iter().rev().find(|(n, _, _)| n == &id.name) {
            return (ir::Expr::Local(*slot), ty.clone());
        }
        if let Some(&i) = body.let_names.get(&id.name) {
            let ty = self.check_let(body, i, id.span);
            return (ir::Expr::Let(i), ty);
        }
        // Where an enum value is expected, a name that is one of its values means that
        // value (`entity_type == enterprise` although `enterprise` is also a section).
        if let Some(Ty::Enum(e)) = expected {
            if let Some(ix) = self.schema.enum_def(*e).and_then(|d| d.index(&id.name)) {
                return (ir::Expr::Const(Some(Value::Enum(*e, ix))), Ty::Enum(*e));
            }
        }
        if let Some(root) = body.root {
            let field = self
                .schema
                .record(root)
                .and_then(|r| r.field_named(&id.name));
            if let Some((i, f)) = field {
                return (
                    ir::Expr::Field {
                        base: Box::new(ir::Expr::Root),
                        record: root,
                        index: i,
                        name: Arc::from(f.name.as_str()),
                        sensitive: f.sensitive,
                    },
                    Self::field_ty(&f.ty),
                );
            }
        }
        if let Some(&p) = self.param_index.get(&id.name) {
            body.params_used.insert(p);
            let ty = self.params.get(p).map_or(Ty::NoneLit, |q| q.ty.clone());
            return (ir::Expr::Param(p, None), ty);
        }
        if self.scale_index.contains_key(&id.name) {
            self.scale_as_value(id, false);
            return poison();
        }
        if let Some((e, def)) = expected.and_then(|t| match t {
            Ty::Enum(e) => Some((e, self.schema.enum_def(*e)?)),
            _ => None,
        }) {
            if let Some(ix) = def.index(&id.name) {
                return (ir::Expr::Const(Some(Value::Enum(*e, ix))), Ty::Enum(*e));
            }
            let hint = match did_you_mean(&id.name, def.values.iter().map(|s| s.as_str())) {
                Some(s) => msg!("hint--did-you-mean", name = s),
                None => msg!(
                    "unknown-enum-value--hint",
                    enum = &def.name,
                    values = def.values.join(", ")
                ),
            };
            self.error(
                code::UNKNOWN_ENUM_VALUE,
                id.span,
                msg!("unknown-enum-value", name = &id.name, enum = &def.name),
                hint,
            );
            return poison();
        }
        let mut candidates: Vec<&str> = body.locals.iter().map(|(n, _, _)| n.as_str()).collect();
        candidates.extend(body.let_names.keys().map(|s| s.as_str()));
        if let Some(root) = body.root {
            candidates.extend(
                self.schema
                    .record(root)
                    .into_iter()
                    .flat_map(|r| r.fields.iter())
                    .map(|f| f.name.as_str()),
            );
        }
        candidates.extend(self.param_index.keys().map(|s| s.as_str()));
        let hint = match did_you_mean(&id.name, candidates) {
            Some(s) => msg!("hint--did-you-mean", name = s),
            None if body.root.is_none() => msg!("unknown-name--function-hint"),
            None => msg!("unknown-name--hint"),
        };
        self.error(
            code::UNKNOWN_NAME,
            id.span,
            msg!("unknown-name", name = &id.name),
            hint,
        );
        poison()
    }

    /// A scale named where a value is expected (`SSC`, `SSC(d)`).
    fn scale_as_value(&mut self, id: &ast::Ident, called: bool) {
        let at = if called { ", d" } else { "" };
        self.error(
            code::TYPE_MISMATCH,
            id.span,
            msg!("type-mismatch--scale-as-value", name = &id.name),
            msg!(
                "type-mismatch--scale-as-value-hint",
                name = &id.name,
                at = at
            ),
        );
    }

    /// `marginal(S, x [, d])` / `bracket(S, x [, d])`: `S` names a scale, `x` is a
    /// number, `d` a date (`ref` when not given); the result is a decimal.
    fn scale_call(
        &mut self,
        body: &mut Body,
        op: ir::ScaleOp,
        args: &[ast::Expr],
        span: Span,
    ) -> Typed {
        let name = op.name();
        let (s, x, at) = match args {
            [s, x] => (s, x, None),
            [s, x, d] => (s, x, Some(d)),
            _ => {
                self.error(
                    code::ARITY,
                    span,
                    msg!("arity--scale", name = name, given = args.len()),
                    msg!("arity--scale-hint", name = name),
                );
                return poison();
            }
        };
        let scale = match &s.kind {
            ExprKind::Name(id) => match self.scale_index.get(&id.name) {
                Some(&i) => Some(i),
                None => {
                    self.unknown_scale(id, name);
                    None
                }
            },
            _ => {
                self.error(
                    code::TYPE_MISMATCH,
                    s.span,
                    msg!("type-mismatch--scale-argument", name = name),
                    msg!("type-mismatch--scale-argument-hint", name = name),
                );
                None
            }
        };
        let (x_e, xt) = self.expr(body, x, None);
        let mut ok = scale.is_some();
        if !(xt.is_numeric() || xt == Ty::NoneLit) {
            ok = false;
            let tn = self.ty_name(&xt);
            self.error(
                code::TYPE_MISMATCH,
                x.span,
                msg!("type-mismatch--scale-amount", ty = tn),
                msg!("type-mismatch--scale-amount-hint", name = name),
            );
        }
        let at = at.map(|d| {
            let (d_e, dt) = self.expr(body, d, Some(&Ty::Date));
            self.expect_ty(&dt, &Ty::Date, d.span, "what--scale-date");
            Box::new(d_e)
        });
        let Some(scale) = scale.filter(|_| ok) else {
            return poison();
        };
        if at.is_none() {
            body.scales_used.insert(scale);
        }
        (
            ir::Expr::Scale {
                op,
                scale,
                x: Box::new(x_e),
                at,
            },
            Ty::Decimal,
        )
    }

    /// The first argument of `marginal` / `bracket` that names no scale.
    fn unknown_scale(&mut self, id: &ast::Ident, op: &str) {
        if self.param_index.contains_key(&id.name) {
            self.error(
                code::TYPE_MISMATCH,
                id.span,
                msg!("type-mismatch--parameter-as-scale", name = &id.name),
                msg!("type-mismatch--parameter-as-scale-hint", op = op),
            );
            return;
        }
        let hint = match did_you_mean(&id.name, self.scale_index.keys().map(|s| s.as_str())) {
            Some(s) => msg!("hint--did-you-mean", name = s),
            None => msg!("unknown-scale--hint"),
        };
        self.error(
            code::UNKNOWN_SCALE,
            id.span,
            msg!("unknown-scale", name = &id.name),
            hint,
        );
    }

    fn arith(
        &mut self,
        body: &mut Body,
        op: ArithOp,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
    ) -> Typed {
        let (ae, at) = self.expr(body, a, None);
        let (be, bt) = self.expr(body, b, None);
        if at == Ty::Date
            && matches!(op, ArithOp::Add | ArithOp::Sub)
            && matches!(bt, Ty::Duration | Ty::NoneLit)
        {
            if !matches!(be, ir::Expr::Duration(..)) {
                self.error(
                    code::DURATION_LITERAL,
                    b.span,
                    msg!("duration-literal"),
                    msg!("duration-literal--hint"),
                );
                return poison();
            }
            return (
                ir::Expr::DateShift(Box::new(ae), Box::new(be), op == ArithOp::Sub),
                Ty::Date,
            );
        }
        let numeric = |t: &Ty| t.is_numeric() || *t == Ty::NoneLit;
        if !numeric(&at) || !numeric(&bt) {
            let (x, y) = (self.ty_name(&at), self.ty_name(&bt));
            self.error(
                code::TYPE_MISMATCH,
                span,
                msg!("type-mismatch--arithmetic", left = x, right = y),
                msg!("type-mismatch--arithmetic-hint"),
            );
            return poison();
        }
        let ty = if op == ArithOp::Div || at == Ty::Decimal || bt == Ty::Decimal {
            Ty::Decimal
        } else {
            Ty::Int
        };
        (
            ir::Expr::Arith(op, Box::new(ae), Box::new(be), ty.clone()),
            ty,
        )
    }

    fn in_expr(
        &mut self,
        body: &mut Body,
        value: &ast::Expr,
        target: &ast::InTarget,
        negated: bool,
        span: Span,
    ) -> Typed {
        let (v, vt) = match target {
            // `emigrated in person.status_flags`: the list tells the value's type.
            ast::InTarget::List(list) if self.is_unbound_name(body, value) => {
                let (_, lt) = self.expr(body, list, None);
                let want = match lt {
                    Ty::List(t) => Some(*t),
                    _ => None,
                };
                self.expr(body, value, want.as_ref())
            }
            _ => self.expr(body, value, None),
        };
        let e = match target {
            ast::InTarget::Set(items) if vt == Ty::NoneLit => {
                // The value itself is in error (reported): do not report each member.
                let mut out = vec![];
                for it in items {
                    if !self.is_unbound_name(body, it) {
                        out.push(self.expr(body, it, None).0);
                    }
                }
                ir::Expr::InSet(Box::new(v), out, negated)
            }
            ast::InTarget::Set(items) => {
                let mut out = vec![];
                for it in items {
                    let (ie, it_ty) = self.expr(body, it, Some(&vt));
                    self.join(&vt, &it_ty, it.span, "what--set-members");
                    out.push(ie);
                }
                ir::Expr::InSet(Box::new(v), out, negated)
            }
            ast::InTarget::Range(lo, hi) => {
                let (l, lt) = self.expr(body, lo, Some(&vt));
                let (h, ht) = self.expr(body, hi, Some(&vt));
                self.join(&vt, &lt, lo.span, "what--range");
                self.join(&vt, &ht, hi.span, "what--range");
                if !(vt.is_numeric() || vt == Ty::Date || vt == Ty::NoneLit) {
                    self.error(
                        code::TYPE_MISMATCH,
                        span,
                        msg!("type-mismatch--range"),
                        msg!("type-mismatch--range-hint"),
                    );
                }
                ir::Expr::InRange(Box::new(v), Box::new(l), Box::new(h), negated)
            }
            ast::InTarget::List(list) => {
                let (l, lt) = self.expr(body, list, None);
                match &lt {
                    Ty::List(elem) => {
                        self.join(&vt, elem, span, "what--list-items");
                    }
                    Ty::NoneLit => {}
                    other => {
                        let tn = self.ty_name(other);
                        self.error(
                            code::TYPE_MISMATCH,
                            list.span,
                            msg!("type-mismatch--in", ty = tn),
                            msg!("type-mismatch--in-hint"),
                        );
                    }
                }
                ir::Expr::InList(Box::new(v), Box::new(l), negated)
            }
        };
        (e, Ty::Bool)
    }

    #[allow(clippy::too_many_arguments)]
    fn quantified(
        &mut self,
        body: &mut Body,
        q: Quantifier,
        var: &ast::Ident,
        list: &ast::Expr,
        filter: Option<&ast::Expr>,
        qbody: Option<&ast::Expr>,
        span: Span,
    ) -> Typed {
        let (l, lt) = self.expr(body, list, None);
        let item_ty = match lt {
            Ty::List(t) => *t,
            Ty::NoneLit => Ty::NoneLit,
            other => {
                let tn = self.ty_name(&other);
                self.error(
                    code::TYPE_MISMATCH,
                    list.span,
                    msg!("type-mismatch--quantifier-list", ty = tn),
                    msg!("type-mismatch--quantifier-list-hint"),
                );
                Ty::NoneLit
            }
        };
        let slot = body.bind(&var.name, item_ty.clone());
        let f = filter.map(|f| {
            let (fe, ft) = self.expr(body, f, Some(&Ty::Bool));
            self.expect_ty(&ft, &Ty::Bool, f.span, "what--where-filter");
            Box::new(fe)
        });
        let b = qbody.map(|b| {
            let want = match q {
                Quantifier::Any | Quantifier::All | Quantifier::No | Quantifier::Count => {
                    Some(Ty::Bool)
                }
                _ => None,
            };
            let (be, bt) = self.expr(body, b, want.as_ref());
            (be, bt, b.span)
        });
        body.locals.pop();
        let typed_body = b.as_ref().map(|(_, bt, bspan)| (bt, *bspan));
        let result = self.quantified_type(q, &item_ty, typed_body, f.is_some(), span);
        (
            ir::Expr::Quant {
                quantifier: q,
                var: slot,
                list: Box::new(l),
                filter: f,
                body: b.map(|(be, _, _)| Box::new(be)),
                span,
            },
            result,
        )
    }

    /// The type of a quantifier or aggregate over items of `item_ty`, with its body's
    /// type and span when it has one; a body of the wrong type, or a missing one where
    /// the form needs it, is reported.
    fn quantified_type(
        &mut self,
        q: Quantifier,
        item_ty: &Ty,
        b: Option<(&Ty, Span)>,
        has_filter: bool,
        span: Span,
    ) -> Ty {
        match q {
            Quantifier::Any | Quantifier::All | Quantifier::No | Quantifier::Count => {
                if let Some((bt, bspan)) = b {
                    self.expect_ty(bt, &Ty::Bool, bspan, "what--quantifier-condition");
                } else if !has_filter && q != Quantifier::Count {
                    self.error(
                        code::MISSING_CONDITION,
                        span,
                        msg!("missing-condition--quantifier"),
                        msg!("missing-condition--quantifier-hint"),
                    );
                }
                if q == Quantifier::Count {
                    Ty::Int
                } else {
                    Ty::Bool
                }
            }
            Quantifier::Sum | Quantifier::Min | Quantifier::Max => match b {
                Some((bt, bspan)) => {
                    let ok = bt.is_numeric()
                        || *bt == Ty::NoneLit
                        || (q != Quantifier::Sum && *bt == Ty::Date);
                    if !ok {
                        let tn = self.ty_name(bt);
                        self.error(
                            code::TYPE_MISMATCH,
                            bspan,
                            msg!("type-mismatch--aggregate", ty = tn),
                            msg!("type-mismatch--aggregate-hint"),
                        );
                    }
                    bt.clone()
                }
                None if item_ty.is_numeric() || (q != Quantifier::Sum && *item_ty == Ty::Date) => {
                    item_ty.clone()
                }
                None => {
                    self.error(
                        code::MISSING_CONDITION,
                        span,
                        msg!("missing-condition--sum"),
                        msg!("missing-condition--sum-hint"),
                    );
                    Ty::NoneLit
                }
            },
            Quantifier::The => match b {
                Some((bt, _)) => bt.clone(),
                None => item_ty.clone(),
            },
            Quantifier::Latest | Quantifier::Earliest => {
                match b {
                    Some((bt, bspan)) => {
                        if !(bt.is_numeric() || *bt == Ty::Date || *bt == Ty::NoneLit) {
                            let tn = self.ty_name(bt);
                            self.error(
                                code::TYPE_MISMATCH,
                                bspan,
                                msg!("type-mismatch--ordering", ty = tn),
                                msg!("type-mismatch--ordering-hint"),
                            );
                        }
                    }
                    None => self.error(
                        code::MISSING_CONDITION,
                        span,
                        msg!("missing-condition--ordering"),
                        msg!("missing-condition--ordering-hint"),
                    ),
                }
                item_ty.clone()
            }
        }
    }

    fn call(
        &mut self,
        body: &mut Body,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> Typed {
        if let Some(&p) = self.param_index.get(&name.name) {
            return self.parameter_at(body, p, name, args, span);
        }
        if self.scale_index.contains_key(&name.name) {
            self.scale_as_value(name, true);
            return poison();
        }
        let function = self.function_index.get(&name.name).and_then(|&f| {
            let entry = self.functions.get(f)?;
            Some((f, entry.ast, entry.params.clone(), entry.result.clone()))
        });
        if let Some((f, func, want, result)) = function {
            return self.function_call(body, (f, func, &want, result), name, args, span);
        }
        if let Some(op) = ir::ScaleOp::named(&name.name) {
            return self.scale_call(body, op, args, span);
        }
        let Some(b) = builtin(&name.name) else {
            let mut names: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
            names.extend(["marginal", "bracket"]);
            names.extend(self.function_index.keys().map(|s| s.as_str()));
            names.extend(self.param_index.keys().map(|s| s.as_str()));
            let hint = match did_you_mean(&name.name, names) {
                Some(s) => msg!("hint--did-you-mean", name = s),
                None => msg!("unknown-function--hint"),
            };
            self.error(
                code::UNKNOWN_FUNCTION,
                name.span,
                msg!("unknown-function", name = &name.name),
                hint,
            );
            return poison();
        };
        self.builtin_call(body, b, name, args, span)
    }

    /// A built-in function: its arguments typed, then held to its signature.
    fn builtin_call(
        &mut self,
        body: &mut Body,
        b: Builtin,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> Typed {
        let mut typed = vec![];
        for a in args {
            let want = match b {
                Builtin::Age
                | Builtin::AddDays
                | Builtin::AddMonths
                | Builtin::AddYears
                | Builtin::MonthDiff
                | Builtin::Year
                | Builtin::Month
                | Builtin::Day
                | Builtin::WithinLast
                    if typed.is_empty() =>
                {
                    Some(Ty::Date)
                }
                _ => None,
            };
            typed.push(self.expr(body, a, want.as_ref()));
        }
        let sig = builtin_signature(b, &name.name, &typed);
        match sig {
            Ok(t) => (
                ir::Expr::Call(b, typed.into_iter().map(|(e, _)| e).collect()),
                t,
            ),
            Err(usage) => {
                let got: Vec<Arg> = typed.iter().map(|(_, t)| self.ty_name(t)).collect();
                self.error(
                    code::TYPE_MISMATCH,
                    span,
                    msg!(
                        "type-mismatch--builtin",
                        name = &name.name,
                        got = Arg::List(got, "sep--comma")
                    ),
                    msg!("type-mismatch--builtin-hint", usage = usage),
                );
                poison()
            }
        }
    }

    /// `P(date)`: a parameter read at a date.
    fn parameter_at(
        &mut self,
        body: &mut Body,
        p: usize,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> Typed {
        let [arg] = args else {
            self.error(
                code::ARITY,
                span,
                msg!("arity--parameter", name = &name.name),
                msg!("arity--parameter-hint"),
            );
            return poison();
        };
        let (d, dt) = self.expr(body, arg, Some(&Ty::Date));
        self.expect_ty(&dt, &Ty::Date, arg.span, "what--parameter-date");
        let ty = self.params.get(p).map_or(Ty::NoneLit, |q| q.ty.clone());
        (ir::Expr::Param(p, Some(Box::new(d))), ty)
    }

    /// A call of a rule-set `function`: as many arguments as parameters, each of its
    /// parameter's type.
    fn function_call(
        &mut self,
        body: &mut Body,
        (f, func, want, result): (usize, &ast::Function, &[Ty], Ty),
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> Typed {
        if want.len() != args.len() {
            self.error(
                code::ARITY,
                span,
                msg!(
                    "arity--function",
                    name = &name.name,
                    takes = want.len(),
                    given = args.len()
                ),
                msg!(
                    "arity--function-hint",
                    params = func
                        .params
                        .iter()
                        .map(|(n, _)| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return poison();
        }
        let mut out = vec![];
        for (a, t) in args.iter().zip(want) {
            let (e, at) = self.expr(body, a, Some(t));
            self.expect_ty(&at, t, a.span, "what--argument");
            out.push(e);
        }
        body.calls.insert(f);
        (ir::Expr::Function(f, out), result)
    }
}

/// The type a built-in gives for its typed arguments, or how it is called (for the
/// diagnostic) when they do not fit.
fn builtin_signature(b: Builtin, name: &str, typed: &[Typed]) -> Result<Ty, Arg> {
    let tys: Vec<&Ty> = typed.iter().map(|(_, t)| t).collect();
    let is = |t: &Ty, want: &Ty| unify(t, want).is_some();
    let num = |t: &Ty| t.is_numeric() || *t == Ty::NoneLit;
    match b {
        Builtin::Age => match tys.as_slice() {
            [d] if is(d, &Ty::Date) => Ok(Ty::Int),
            [d, on] if is(d, &Ty::Date) && is(on, &Ty::Date) => Ok(Ty::Int),
            _ => Err(msg!("usage--age").into()),
        },
        Builtin::AddDays | Builtin::AddMonths | Builtin::AddYears => match tys.as_slice() {
            [d, n] if is(d, &Ty::Date) && is(n, &Ty::Int) && **n != Ty::Decimal => Ok(Ty::Date),
            _ => Err(msg!("usage--add", name = name).into()),
        },
        Builtin::MonthDiff => match tys.as_slice() {
            [a, c] if is(a, &Ty::Date) && is(c, &Ty::Date) => Ok(Ty::Int),
            _ => Err("month_diff(from_date, to_date)".into()),
        },
        Builtin::Year | Builtin::Month | Builtin::Day => match tys.as_slice() {
            [d] if is(d, &Ty::Date) => Ok(Ty::Int),
            _ => Err(format!("{}(date)", name).into()),
        },
        Builtin::MakeDate => match tys.as_slice() {
            [y, m, d]
                if [y, m, d]
                    .iter()
                    .all(|t| is(t, &Ty::Int) && ***t != Ty::Decimal) =>
            {
                Ok(Ty::Date)
            }
            _ => Err("date(year, month, day)".into()),
        },
        Builtin::WithinLast => match tys.as_slice() {
            [d, k]
                if is(d, &Ty::Date)
                    && is(k, &Ty::Duration)
                    && matches!(typed.get(1), Some((ir::Expr::Duration(..), _))) =>
            {
                Ok(Ty::Bool)
            }
            _ => Err("within_last(date, 24 months)".into()),
        },
        Builtin::Min | Builtin::Max => {
            if tys.is_empty() {
                Err(format!("{}(a, b, ...)", name).into())
            } else if tys.iter().all(|t| num(t)) {
                Ok(if tys.iter().any(|t| **t == Ty::Decimal) {
                    Ty::Decimal
                } else {
                    Ty::Int
                })
            } else if tys.iter().all(|t| is(t, &Ty::Date)) {
                Ok(Ty::Date)
            } else {
                Err(msg!("usage--min-max", name = name).into())
            }
        }
        Builtin::Round | Builtin::RoundHalfEven => match tys.as_slice() {
            [x] if num(x) => Ok(Ty::Decimal),
            [x, p] if num(x) && is(p, &Ty::Int) && **p != Ty::Decimal => Ok(Ty::Decimal),
            _ => Err(format!("{}(number, decimal_places)", name).into()),
        },
        Builtin::Floor | Builtin::Ceil => match tys.as_slice() {
            [x] if num(x) => Ok(Ty::Int),
            _ => Err(format!("{}(number)", name).into()),
        },
        Builtin::Abs => match tys.as_slice() {
            [x] if num(x) => Ok((*x).clone()),
            _ => Err("abs(number)".into()),
        },
        Builtin::Len => match tys.as_slice() {
            [Ty::List(_)] | [Ty::NoneLit] => Ok(Ty::Int),
            _ => Err("len(list)".into()),
        },
    }
}

const BUILTINS: &[(&str, Builtin)] = &[
    ("age", Builtin::Age),
    ("add_days", Builtin::AddDays),
    ("add_months", Builtin::AddMonths),
    ("add_years", Builtin::AddYears),
    ("anniversary", Builtin::AddYears),
    ("month_diff", Builtin::MonthDiff),
    ("year", Builtin::Year),
    ("month", Builtin::Month),
    ("day", Builtin::Day),
    ("date", Builtin::MakeDate),
    ("within_last", Builtin::WithinLast),
    ("min", Builtin::Min),
    ("max", Builtin::Max),
    ("round", Builtin::Round),
    ("round_half_even", Builtin::RoundHalfEven),
    ("floor", Builtin::Floor),
    ("ceil", Builtin::Ceil),
    ("abs", Builtin::Abs),
    ("len", Builtin::Len),
];

fn builtin(name: &str) -> Option<Builtin> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

fn literal(l: &Literal) -> Typed {
    match l {
        Literal::Bool(b) => (ir::Expr::Const(Some(Value::Bool(*b))), Ty::Bool),
        Literal::Int(i) => (ir::Expr::Const(Some(Value::Int(*i))), Ty::Int),
        Literal::Decimal(d) => (ir::Expr::Const(Some(Value::Decimal(*d))), Ty::Decimal),
        Literal::Str(s) => (
            ir::Expr::Const(Some(Value::Str(Arc::from(s.as_str())))),
            Ty::Str,
        ),
        Literal::Date(d) => (ir::Expr::Const(Some(Value::Date(*d))), Ty::Date),
        Literal::Duration(n, u) => (
            ir::Expr::Duration(
                *n,
                match u {
                    ast::DurationUnit::Days => DateUnit::Days,
                    ast::DurationUnit::Months => DateUnit::Months,
                    ast::DurationUnit::Years => DateUnit::Years,
                },
            ),
            Ty::Duration,
        ),
        Literal::None => (ir::Expr::Const(None), Ty::NoneLit),
    }
}

/// The common type of two types, if they are compatible.
fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        (Ty::NoneLit, t) | (t, Ty::NoneLit) => Some(t.clone()),
        (Ty::Int, Ty::Decimal) | (Ty::Decimal, Ty::Int) => Some(Ty::Decimal),
        (Ty::List(x), Ty::List(y)) => unify(x, y).map(|t| Ty::List(Box::new(t))),
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}
