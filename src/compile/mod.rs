//! Checked program → [`RuleSet`], the compact form the evaluator runs.
//!
//! Fields are already slot indexes (the checker resolved them); here the rule set is
//! assembled with its schema and lookup tables, small constant sub-expressions are
//! folded, and a content hash identifies the rule-set version in every output.

use crate::ir::{self, Expr, Program};
use crate::schema::Schema;
use std::collections::HashMap;

/// A compiled rule set: load once, evaluate many records.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The record schema.
    pub(crate) schema: Schema,
    /// The program.
    pub(crate) program: Program,
    /// Policy id → index.
    pub(crate) policy_index: HashMap<String, usize>,
    /// Content hash of the rule files and schema (hex), the rule-set version.
    pub(crate) version: String,
    /// Per record type, per field: whether the rules read it (a batch reader may skip
    /// the others).
    pub(crate) used_fields: Vec<Vec<bool>>,
    /// Which outputs derive from sensitive fields, to be masked.
    pub(crate) taint: crate::check::taint::Taint,
}

// The public methods of a rule set (loading, reading, deciding, listing) are in
// `crate::api`; these are the crate's own, and the hidden door's.
impl RuleSet {
    /// The checked policy with this id.
    pub(crate) fn policy_def(&self, id: &str) -> Option<&ir::PolicyDef> {
        self.policy_index
            .get(id)
            .and_then(|&i| self.program.policies.get(i))
    }

    /// Not part of the API: the record schema (for the project's own tools and tests).
    #[doc(hidden)]
    #[cfg(not(mianshen_api_only))]
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Not part of the API: the checked program.
    #[doc(hidden)]
    #[cfg(not(mianshen_api_only))]
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Not part of the API: per record type, per field, whether the rules read it.
    #[doc(hidden)]
    #[cfg(not(mianshen_api_only))]
    pub fn used_fields(&self) -> &[Vec<bool>] {
        &self.used_fields
    }

    /// Not part of the API: the index of the policy with this id in the program.
    #[doc(hidden)]
    #[cfg(not(mianshen_api_only))]
    pub fn policy_number(&self, id: &str) -> Option<usize> {
        self.policy_index.get(id).copied()
    }
}

/// Assembles the rule set. `sources` are the texts the version hash is taken over.
pub fn compile(mut program: Program, schema: Schema, sources: &[&str]) -> RuleSet {
    for p in &mut program.policies {
        for c in &mut p.clauses {
            fold(&mut c.condition);
        }
        for l in &mut p.lets {
            fold(&mut l.value);
        }
        for a in &mut p.amounts {
            fold(&mut a.value);
            if let ir::AmountGuard::When(g) = &mut a.guard {
                fold(g);
            }
            for (_, x) in &mut a.extras {
                fold(x);
            }
        }
    }
    for f in &mut program.functions {
        fold(&mut f.body);
        for l in &mut f.lets {
            fold(&mut l.value);
        }
    }
    let policy_index = program
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), i))
        .collect();
    let used_fields = used_fields(&program, &schema);
    let taint = crate::check::taint::Taint::of(&program);
    RuleSet {
        schema,
        program,
        policy_index,
        version: content_hash(sources),
        used_fields,
        taint,
    }
}

/// The fields any expression reads, plus those that identify subjects and list items.
fn used_fields(program: &Program, schema: &Schema) -> Vec<Vec<bool>> {
    let mut used: Vec<Vec<bool>> = schema
        .records
        .iter()
        .map(|r| vec![false; r.fields.len()])
        .collect();
    for e in program.expressions() {
        e.walk(&mut |x| {
            if let Expr::Field { record, index, .. } = x {
                if let Some(slot) = used.get_mut(*record).and_then(|r| r.get_mut(*index)) {
                    *slot = true;
                }
            }
        });
    }
    let mut mark = |record: usize, field: usize| {
        if let Some(slot) = used.get_mut(record).and_then(|r| r.get_mut(field)) {
            *slot = true;
        }
    };
    for s in &schema.subjects {
        let mut rec = s.root;
        for &i in &s.id_path {
            mark(rec, i);
            if let Some(crate::schema::FieldType::Record(r)) =
                schema.record(rec).and_then(|d| d.field(i)).map(|f| &f.ty)
            {
                rec = *r;
            }
        }
    }
    for (r, def) in schema.records.iter().enumerate() {
        if let Some(k) = def.key {
            mark(r, k);
        }
    }
    // A record is read when any field below it is.
    loop {
        let mut changed = false;
        for (r, def) in schema.records.iter().enumerate() {
            for (i, f) in def.fields.iter().enumerate() {
                let child = match &f.ty {
                    crate::schema::FieldType::Record(c) => Some(*c),
                    crate::schema::FieldType::List(t) => match &**t {
                        crate::schema::FieldType::Record(c) => Some(*c),
                        _ => None,
                    },
                    _ => None,
                };
                let child_read = child
                    .and_then(|c| used.get(c))
                    .is_some_and(|u| u.iter().any(|&u| u));
                if let Some(slot) = used.get_mut(r).and_then(|u| u.get_mut(i)) {
                    if child_read && !*slot {
                        *slot = true;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    used
}

/// FNV-1a over the sources: stable across platforms and runs.
fn content_hash(sources: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in sources {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Folds arithmetic on constants (e.g. `0.5 * 0.30`) so it is not redone per record.
fn fold(e: &mut Expr) {
    match e {
        Expr::Arith(op, a, b, ty) => {
            fold(a);
            fold(b);
            // Folded with the evaluator's arithmetic; an error (overflow, division by
            // zero) is left for evaluation to report where it happens.
            if let (Expr::Const(Some(x)), Expr::Const(Some(y))) = (&**a, &**b) {
                if let Ok(v) = crate::semantics::number::value_arith(*op, x, y, ty) {
                    *e = Expr::Const(Some(v));
                }
            }
        }
        Expr::And(xs) | Expr::Or(xs) => xs.iter_mut().for_each(fold),
        Expr::Not(x) | Expr::Neg(x) => fold(x),
        Expr::Compare(_, a, b) | Expr::Otherwise(a, b) => {
            fold(a);
            fold(b);
        }
        Expr::If(c, a, b) => {
            fold(c);
            fold(a);
            fold(b);
        }
        Expr::Call(_, args) | Expr::Function(_, args) => args.iter_mut().for_each(fold),
        Expr::Scale { x, at, .. } => {
            fold(x);
            if let Some(a) = at {
                fold(a);
            }
        }
        _ => {}
    }
}
