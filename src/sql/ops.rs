//! The operators in SQL: each states over the cells' parts the rule the evaluator
//! (`crate::eval`) follows, operand by operand: strictness, the first error in
//! evaluation order, the union of missing fields, and a known "none".

use super::cell::{Cell, Kind, Part, ERROR, KNOWN, NO_PATHS, UNKNOWN};
use super::compile::{Compiled, Compiler};
use crate::syntax::ast::CmpOp;

/// The state of a strict operator over its operands: the first error, else unknown
/// (the union of the unknown operands' missing fields), else none, else known.
pub(crate) struct Strict {
    /// The state code.
    pub s: Part,
    /// The missing paths.
    pub m: Part,
    /// The error kind.
    pub e: Part,
}

impl<'r> Compiler<'r> {
    /// The strict state of `ops`, in evaluation order.
    pub(crate) fn strict(&self, ops: &[&Cell]) -> Strict {
        let dynamic: Vec<&&Cell> = ops.iter().filter(|c| !c.always_known()).collect();
        if dynamic.is_empty() {
            return Strict {
                s: Part::lit(KNOWN),
                m: Part::lit(NO_PATHS),
                e: Part::lit("NULL"),
            };
        }
        let codes: Vec<u8> = dynamic
            .iter()
            .filter_map(|c| match c.s.sql.as_str() {
                s if !c.s.is_lit() => s.parse().ok().filter(|_| false),
                s => s.parse().ok(),
            })
            .collect();
        let s = if codes.len() == dynamic.len() {
            // Every state known when compiling: the strict combination is the greatest.
            Part::lit(codes.iter().max().copied().unwrap_or(0).to_string())
        } else if let [one] = dynamic.as_slice() {
            one.s.clone()
        } else {
            let sqls: Vec<String> = dynamic.iter().map(|c| c.s.sql.clone()).collect();
            let parts: Vec<&Part> = dynamic.iter().map(|c| &c.s).collect();
            Part::of(format!("GREATEST({})", sqls.join(", ")), &parts)
        };
        Strict {
            e: self.first_error(ops),
            m: self.missing_union(ops),
            s,
        }
    }

    /// The error of the first operand in error (evaluation order).
    pub(crate) fn first_error(&self, ops: &[&Cell]) -> Part {
        let erring: Vec<&&Cell> = ops.iter().filter(|c| c.may_err()).collect();
        if erring.is_empty() {
            return Part::lit("NULL");
        }
        let mut parts = vec![];
        let arms: Vec<String> = erring
            .iter()
            .map(|c| {
                parts.push(&c.s);
                parts.push(&c.e);
                format!("WHEN {} THEN {}", c.state_is(ERROR), c.e.sql)
            })
            .collect();
        Part::of(format!("CASE {} END", arms.join(" ")), &parts)
    }

    /// The union of the missing fields of the unknown operands.
    pub(crate) fn missing_union(&self, ops: &[&Cell]) -> Part {
        let unknown: Vec<&&Cell> = ops.iter().filter(|c| c.may_be_unknown()).collect();
        match unknown.as_slice() {
            [] => Part::lit(NO_PATHS),
            [one] => Part::of(
                format!("CASE WHEN {} THEN {} END", one.state_is(UNKNOWN), one.m.sql),
                &[&one.s, &one.m],
            ),
            many => {
                let mut parts = vec![];
                let arrays: Vec<String> = many
                    .iter()
                    .map(|c| {
                        parts.push(&c.s);
                        parts.push(&c.m);
                        format!("CASE WHEN {} THEN {} END", c.state_is(UNKNOWN), c.m.sql)
                    })
                    .collect();
                Part::of(self.dialect.union(&arrays), &parts)
            }
        }
    }

    /// A strict operator's cell: `value` (SQL over the known operands) when all are
    /// known and `fault` (if any) does not hold; the error `code` when it does.
    pub(crate) fn strict_node(
        &mut self,
        scope: usize,
        ops: &[&Cell],
        kind: Kind,
        value: Part,
        fault: Option<(String, &str)>,
    ) -> Compiled<Cell> {
        let st = self.strict(ops);
        let d = self.dialect;
        let (s, e, v) = match &fault {
            None => (
                st.s.clone(),
                st.e.clone(),
                if st.s.is(KNOWN) {
                    value.clone()
                } else {
                    Part::of(
                        format!("CASE WHEN {} = 0 THEN {} END", st.s.sql, value.sql),
                        &[&st.s, &value],
                    )
                },
            ),
            Some((cond, code)) => (
                Part::of(
                    format!(
                        "CASE WHEN {s} > 0 THEN {s} WHEN {cond} THEN 3 ELSE 0 END",
                        s = st.s.sql
                    ),
                    &[&st.s, &value],
                ),
                Part::of(
                    format!(
                        "CASE WHEN {s} = 3 THEN {e} WHEN {s} = 0 AND {cond} THEN {code} END",
                        s = st.s.sql,
                        e = st.e.sql,
                        code = d.text(code)
                    ),
                    &[&st.s, &st.e, &value],
                ),
                Part::of(
                    format!(
                        "CASE WHEN {} = 0 AND NOT ({cond}) THEN {} END",
                        st.s.sql, value.sql
                    ),
                    &[&st.s, &value],
                ),
            ),
        };
        self.node(scope, ops, kind, [v, s, st.m, e])
    }
}

/// The operands' common numeric kind: decimal if any is.
pub(crate) fn numeric_kind(a: &Kind, b: &Kind) -> Kind {
    if *a == Kind::Dec || *b == Kind::Dec {
        Kind::Dec
    } else {
        Kind::Int
    }
}

/// The comparison operator in SQL.
pub(crate) fn cmp_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}
