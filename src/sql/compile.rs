//! The compiler from the checked program to SQL cells: scopes, frames and the
//! dispatch over expressions. The operators' rules are in [`super::ops`], the
//! quantifiers' in [`super::quantify`], a policy's decision in [`super::decision`].

use super::cell::{sql_type, Cell, Kind, Part, Record, NO_PATHS};
use super::layout::Layout;
use super::relation::{Computed, Scope};
use super::Dialect;
use crate::compile::RuleSet;
use crate::ir::{Expr, LetDef};
use crate::schema::{FieldType, Presence};
use crate::value::Value;
use chrono::NaiveDate;

/// Why a construct has no SQL form (the policy is left out, with the reason).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unsupported(pub String);

/// What compiling gives or why not.
pub(crate) type Compiled<T> = Result<T, Unsupported>;

/// A scope's link to its parent: the columns it reads from the parent's layer
/// `level` (`o.<name>` in its first relation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Imports {
    /// (column in the parent, name in this scope)
    pub columns: Vec<(String, String)>,
    /// The parent's layer they are read from.
    pub level: usize,
}

/// The item rows of a scope over a list.
#[derive(Debug, Clone)]
pub(crate) struct Items {
    /// The list's table.
    pub table: usize,
    /// The column of the parent that the items' `_parent` matches.
    pub owner: String,
}

/// An inner scope aggregated and joined into its parent.
#[derive(Debug, Clone)]
pub(crate) struct InnerJoin {
    /// The parent's layer it is joined in.
    pub level: usize,
    /// The inner scope.
    pub scope: usize,
    /// The aggregate's common table expression.
    pub cte: String,
    /// The aggregate's SQL.
    pub sql: String,
    /// The inner columns the aggregate reads.
    pub outputs: Vec<String>,
    /// The inner layer the aggregate reads.
    pub upto: usize,
    /// The parent's layer the inner scope's rows are joined to: the first that has
    /// what they read (layer 0 when they read only the owner's id), so that Spark,
    /// which copies a plan for every reference, copies little.
    pub base_level: usize,
}

/// The frame of a policy body or a function call: its locals and definitions.
pub(crate) struct Frame<'r> {
    /// The scope definitions are computed in.
    pub scope: usize,
    /// Local slots (parameters, item variables).
    pub locals: Vec<Option<Cell>>,
    /// The definitions.
    pub lets: &'r [LetDef],
    /// Definitions computed so far.
    pub memo: Vec<Option<Cell>>,
}

impl<'r> Frame<'r> {
    /// A frame of `locals` slots and `lets` definitions, computed in `scope`.
    pub fn new(scope: usize, locals: usize, lets: &'r [LetDef]) -> Frame<'r> {
        Frame {
            scope,
            locals: vec![None; locals],
            lets,
            memo: vec![None; lets.len()],
        }
    }
}

/// The compiler of one subject kind's policies.
#[derive(Clone)]
pub(crate) struct Compiler<'r> {
    pub rules: &'r RuleSet,
    pub layout: &'r Layout,
    pub dialect: Dialect,
    pub date: NaiveDate,
    pub scopes: Vec<Scope>,
    /// Per scope: its items (none for the subject's scope) and its imports.
    pub items: Vec<Option<Items>>,
    pub imports: Vec<Imports>,
    /// Per scope: the inner scopes joined into it.
    pub inner: Vec<Vec<InnerJoin>>,
    /// Per scope: its base columns (table column index, name) of its own row.
    pub base: Vec<Vec<(usize, String)>>,
    /// The tables whose rows are read (`r<table>` common table expressions).
    pub tables_read: Vec<usize>,
    /// Lookup joins of chosen rows: (scope, layer, alias, table, id column).
    pub lookups: Vec<(usize, usize, String, usize, String)>,
    counter: usize,
    /// Function calls under way (their depth bounds inlining).
    pub depth: usize,
    /// The decisions computed, by policy index.
    pub decided: Vec<Option<super::decision::DecisionCols>>,
    /// The policies being decided (a guard against cycles).
    pub deciding: Vec<usize>,
}

impl<'r> Compiler<'r> {
    /// A compiler for the subject kind of layout table `subject_table`.
    pub fn new(
        rules: &'r RuleSet,
        layout: &'r Layout,
        dialect: Dialect,
        date: NaiveDate,
        subject_table: usize,
    ) -> Compiler<'r> {
        let mut c = Compiler {
            rules,
            layout,
            dialect,
            date,
            scopes: vec![],
            items: vec![],
            imports: vec![],
            inner: vec![],
            base: vec![],
            tables_read: vec![subject_table],
            lookups: vec![],
            counter: 0,
            depth: 0,
            decided: vec![None; rules.program.policies.len()],
            deciding: vec![],
        };
        c.new_scope(None, 0);
        c
    }

    /// The state to go back to when a policy cannot be compiled.
    pub fn snapshot(&self) -> Compiler<'r> {
        self.clone()
    }

    /// Goes back to a snapshot (the counter keeps going, so names stay unique).
    pub fn restore(&mut self, before: Compiler<'r>) {
        let counter = self.counter;
        *self = before;
        self.counter = counter;
    }

    /// A fresh name.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    /// Opens a scope under `parent`.
    pub fn new_scope(&mut self, parent: Option<usize>, depth: usize) -> usize {
        let id = self.scopes.len();
        self.scopes
            .push(Scope::new(id, parent, depth, String::new()));
        self.items.push(None);
        self.imports.push(Imports::default());
        self.inner.push(vec![]);
        self.base.push(vec![]);
        id
    }

    /// The scope `s`.
    pub fn scope(&self, s: usize) -> Compiled<&Scope> {
        self.scopes
            .get(s)
            .ok_or_else(|| Unsupported("internal: no such scope".into()))
    }

    fn scope_mut(&mut self, s: usize) -> Compiled<&mut Scope> {
        self.scopes
            .get_mut(s)
            .ok_or_else(|| Unsupported("internal: no such scope".into()))
    }

    /// Materialises a cell's parts as columns of its scope at `level` (a part that is
    /// a literal or already a column stays as it is).
    pub fn put(&mut self, mut cell: Cell, level: usize) -> Compiled<Cell> {
        let mut top = cell.level;
        let name = self.fresh("n");
        for (suffix, part) in [
            ("v", &mut cell.v),
            ("s", &mut cell.s),
            ("m", &mut cell.m),
            ("e", &mut cell.e),
        ] {
            if is_small_literal(part) || is_column(part) {
                continue;
            }
            let col = format!("{name}{suffix}");
            // A column of nulls must still have the value's type.
            let sql = match (suffix, &cell.kind) {
                (
                    "v",
                    Kind::Bool | Kind::Int | Kind::Dec | Kind::Str | Kind::Date | Kind::Enum(_),
                ) => {
                    format!(
                        "CAST({} AS {})",
                        part.sql,
                        sql_type(&cell.kind, self.dialect)
                    )
                }
                _ => part.sql.clone(),
            };
            self.scope_mut(cell.scope)?.add(
                level,
                Computed {
                    name: col.clone(),
                    sql,
                    deps: part.deps.clone(),
                },
            );
            *part = Part::col(col);
            top = level;
        }
        cell.level = top.max(level);
        Ok(cell)
    }

    /// A new cell computed from `parts` over operand cells (all of scope `scope`): put
    /// in the layer after the operands'.
    pub fn node(
        &mut self,
        scope: usize,
        operands: &[&Cell],
        kind: Kind,
        [v, s, m, e]: [Part; 4],
    ) -> Compiled<Cell> {
        let level = operands.iter().map(|c| c.level).max().unwrap_or(0) + 1;
        let cell = Cell {
            scope,
            level: 0,
            v,
            s,
            m,
            e,
            kind,
        };
        if cell.parts().iter().all(|p| is_small_literal(p)) {
            return Ok(cell);
        }
        self.put(cell, level)
    }

    /// The cell `cell` read from scope `to` (an inner scope of the cell's own).
    pub fn import(&mut self, cell: Cell, to: usize) -> Compiled<Cell> {
        // A scope's own row stays where it is: its fields are read there, then
        // imported.
        if cell.scope == to || matches!(&cell.kind, Kind::Record(r) if r.row_of.is_some()) {
            return Ok(cell);
        }
        let parent = self.scope(to)?.parent.ok_or_else(|| {
            Unsupported("internal: a value of an inner scope read outside it".into())
        })?;
        let cell = self.import(cell, parent)?;
        // Only plain columns travel: an expression is computed in its own scope first.
        let cell = if cell.parts().iter().all(|p| p.is_lit() || is_column(p)) {
            cell
        } else {
            let level = cell.level + 1;
            self.put(cell, level)?
        };
        let parent_depth = self.scope(parent)?.depth;
        let mut out = cell.clone();
        out.scope = to;
        out.level = 0;
        for part in [&mut out.v, &mut out.s, &mut out.m, &mut out.e] {
            let Some(col) = part.deps.first().cloned() else {
                continue;
            };
            let here = if col == "_id" {
                format!("_sc{parent_depth}")
            } else if col.starts_with("_sc") {
                col.clone()
            } else {
                let imports = self
                    .imports
                    .get_mut(to)
                    .ok_or_else(|| Unsupported("internal: imports".into()))?;
                if !imports.columns.iter().any(|(c, _)| *c == col) {
                    imports.columns.push((col.clone(), col.clone()));
                }
                imports.level = imports.level.max(cell.level);
                col.clone()
            };
            *part = Part::col(here);
        }
        Ok(out)
    }

    /// A base column of scope `s`'s own row: the column `index` of its table.
    pub fn base_column(&mut self, s: usize, index: usize) -> Compiled<Part> {
        let list = self
            .base
            .get_mut(s)
            .ok_or_else(|| Unsupported("internal: base".into()))?;
        if let Some((_, name)) = list.iter().find(|(i, _)| *i == index) {
            return Ok(Part::col(name.clone()));
        }
        let name = format!("b{s}_{index}");
        list.push((index, name.clone()));
        Ok(Part::col(name))
    }

    /// The value of `e` in scope `scope`, with `frame`'s locals and definitions.
    pub fn expr(&mut self, e: &'r Expr, frame: &mut Frame<'r>, scope: usize) -> Compiled<Cell> {
        let d = self.dialect;
        match e {
            Expr::Const(Some(v)) => self.constant(v, scope),
            Expr::Const(None) => Ok(Cell::none(scope, Kind::NoneLit)),
            Expr::Duration(..) => Err(Unsupported("a duration on its own".into())),
            Expr::Ref => Ok(Cell::known(scope, Kind::Date, Part::lit(d.date(self.date)))),
            Expr::Root => {
                let table = self.subject_table()?;
                let row = Record {
                    table,
                    prefix: vec![],
                    row_of: Some(0),
                };
                Ok(Cell::known(0, Kind::Record(row), Part::lit("NULL")))
            }
            Expr::Local(i) => {
                let cell = frame
                    .locals
                    .get(*i)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| Unsupported("internal: an unbound local".into()))?;
                self.import(cell, scope)
            }
            Expr::Let(i) => self.definition(*i, frame, scope),
            Expr::Field { base, index, .. } => {
                let base = self.expr(base, frame, scope)?;
                self.field(base, *index, scope)
            }
            Expr::Call(b, args) => self.builtin(*b, args, frame, scope),
            Expr::Function(f, args) => self.call(*f, args, frame, scope),
            Expr::Param(p, at) => self.parameter(*p, at.as_deref(), frame, scope),
            Expr::Scale { op, scale, x, at } => {
                self.scale(*op, *scale, x, at.as_deref(), frame, scope)
            }
            Expr::PolicyRef(p) => self.policy_read(*p, false, scope),
            Expr::PolicyAmount(p) => self.policy_read(*p, true, scope),
            Expr::PolicyItem { .. } => Err(Unsupported(
                "`eligible(P for x)` / `amount(P for x)` (one item's decision)".into(),
            )),
            Expr::MemberRef(_) => Err(Unsupported("a bundle member".into())),
            Expr::Quant {
                quantifier,
                var,
                list,
                filter,
                body,
                ..
            } => self.quantified(
                *quantifier,
                *var,
                list,
                filter.as_deref(),
                body.as_deref(),
                frame,
                scope,
            ),
            other => self.operator(other, frame, scope),
        }
    }

    /// A definition: computed once in its frame's scope, then read where asked.
    fn definition(&mut self, i: usize, frame: &mut Frame<'r>, scope: usize) -> Compiled<Cell> {
        let cell = match frame.memo.get(i).cloned().flatten() {
            Some(c) => c,
            None => {
                let def = frame
                    .lets
                    .get(i)
                    .ok_or_else(|| Unsupported("internal: no such definition".into()))?;
                let at = frame.scope;
                let c = self.expr(&def.value, frame, at)?;
                if let Some(slot) = frame.memo.get_mut(i) {
                    *slot = Some(c.clone());
                }
                c
            }
        };
        self.import(cell, scope)
    }

    /// A user function, inlined: its parameters bound to the arguments' cells.
    fn call(
        &mut self,
        f: usize,
        args: &'r [Expr],
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        if self.depth > crate::check::MAX_EVAL_DEPTH {
            return Err(Unsupported("functions nest too deeply".into()));
        }
        let rules = self.rules;
        let def = rules
            .program
            .functions
            .get(f)
            .ok_or_else(|| Unsupported("internal: no such function".into()))?;
        let mut callee = Frame::new(scope, def.locals, &def.lets);
        let mut arguments = vec![];
        for (i, a) in args.iter().enumerate() {
            let v = self.expr(a, frame, scope)?;
            arguments.push(v.clone());
            if let Some(slot) = callee.locals.get_mut(i) {
                *slot = Some(v);
            }
        }
        self.depth += 1;
        let body = self.expr(&def.body, &mut callee, scope);
        self.depth -= 1;
        let body = body?;
        // The arguments are evaluated before the body: an argument's error is the
        // call's, even when the body does not read it.
        let erring: Vec<&Cell> = arguments.iter().filter(|c| c.may_err()).collect();
        if erring.is_empty() {
            return Ok(body);
        }
        let any_error = super::operators::any_state(&erring, super::cell::ERROR);
        let first = self.first_error(&erring);
        let mut deps: Vec<&Part> = body.parts().to_vec();
        for c in &erring {
            deps.extend([&c.s, &c.e]);
        }
        let pick = |on_error: &str, otherwise: &str| {
            Part::of(
                format!("CASE WHEN {any_error} THEN {on_error} ELSE {otherwise} END"),
                &deps,
            )
        };
        let parts = [
            pick("NULL", &body.v.sql),
            pick("3", &body.s.sql),
            pick(NO_PATHS, &body.m.sql),
            pick(&first.sql, &body.e.sql),
        ];
        let mut operands = erring.clone();
        operands.push(&body);
        let kind = body.kind.clone();
        self.node(scope, &operands, kind, parts)
    }

    /// The subject's layout table.
    pub fn subject_table(&self) -> Compiled<usize> {
        self.tables_read
            .first()
            .copied()
            .ok_or_else(|| Unsupported("internal: no subject table".into()))
    }

    /// A constant.
    pub fn constant(&self, v: &Value, scope: usize) -> Compiled<Cell> {
        let d = self.dialect;
        let (kind, sql) = match v {
            Value::Bool(b) => (Kind::Bool, if *b { "TRUE" } else { "FALSE" }.to_string()),
            Value::Int(i) => (Kind::Int, d.int(*i)),
            Value::Decimal(x) => (Kind::Dec, d.decimal(*x)),
            Value::Str(s) => (Kind::Str, d.text(s)),
            Value::Date(x) => (Kind::Date, d.date(*x)),
            Value::Enum(e, i) => (Kind::Enum(*e), d.int(i64::from(*i))),
            Value::List(items) => {
                let mut sqls = vec![];
                for it in items.iter() {
                    sqls.push(self.constant(it, scope)?.v.sql);
                }
                return Ok(Cell::known(scope, Kind::ConstList(sqls), Part::lit("NULL")));
            }
            Value::Record(_) => return Err(Unsupported("a record constant".into())),
        };
        Ok(Cell::known(scope, kind, Part::lit(sql)))
    }

    /// A field of a record cell, read in `scope`.
    fn field(&mut self, base: Cell, index: usize, scope: usize) -> Compiled<Cell> {
        let Kind::Record(rec) = base.kind.clone() else {
            return Err(Unsupported("internal: a field of a non-record".into()));
        };
        let mut fields = rec.prefix.clone();
        fields.push(index);
        let table = self
            .layout
            .tables
            .get(rec.table)
            .ok_or_else(|| Unsupported("internal: no such table".into()))?;
        let record_ty = self.field_type(rec.table, &fields)?;
        // Read in the scope whose row it is (or where the chosen row is looked up).
        let home = rec.row_of.unwrap_or(base.scope);
        let column_of = match rec.row_of {
            Some(s) => ColumnSource::Row(s),
            None => ColumnSource::Chosen(Box::new(self.import(base.clone(), home)?)),
        };
        let path_prefix = match (&column_of, rec.row_of) {
            (_, Some(0)) => Part::lit(String::new()),
            (ColumnSource::Row(_), _) => Part::col("_path"),
            (ColumnSource::Chosen(_), _) => self.read_column(&column_of, None, home)?,
        };
        let path = self.field_path_of(rec.table, &fields)?;
        match record_ty {
            FieldType::Record(_) => {
                let presence = table.column(&fields).map(|(i, c)| (i, c.presence.clone()));
                let mut cell = base.clone();
                cell.kind = Kind::Record(Record {
                    table: rec.table,
                    prefix: fields.clone(),
                    row_of: rec.row_of,
                });
                if let Some((i, Presence::Optional)) = presence {
                    let col = self.read_column(&column_of, Some(i), home)?;
                    let cell_home = self.import(cell, home)?;
                    let s = Part::of(
                        format!(
                            "CASE WHEN {} > 0 THEN {} WHEN {} IS NULL THEN 1 ELSE 0 END",
                            cell_home.s.sql, cell_home.s.sql, col.sql
                        ),
                        &[&cell_home.s, &col],
                    );
                    let out = Cell { s, ..cell_home };
                    let level = out.level.max(col_level(&column_of, self)) + 1;
                    let out = self.put(out, level)?;
                    return self.import(out, scope);
                }
                self.import(cell, scope)
            }
            FieldType::List(_) => {
                let (i, col) = table
                    .column(&fields)
                    .map(|(i, c)| (i, c.clone()))
                    .ok_or_else(|| Unsupported("internal: no list column".into()))?;
                let list_table = self
                    .layout
                    .list_table(rec.table, &fields)
                    .ok_or_else(|| Unsupported("internal: no list table".into()))?;
                let presence = self.read_column(&column_of, Some(i), home)?;
                let owner = match &column_of {
                    ColumnSource::Row(_) => Part::col("_id"),
                    ColumnSource::Chosen(c) => c.v.clone(),
                };
                let cell = Cell {
                    scope: home,
                    level: 0,
                    v: owner,
                    s: Part::lit("0"),
                    m: Part::lit(NO_PATHS),
                    e: Part::lit("NULL"),
                    kind: Kind::List { table: list_table },
                };
                let cell =
                    self.absent_rule(cell, &base, &presence, &col.presence, &path_prefix, &path)?;
                self.import(cell, scope)
            }
            scalar => {
                let (i, col) = table
                    .column(&fields)
                    .map(|(i, c)| (i, c.clone()))
                    .ok_or_else(|| Unsupported("internal: no column".into()))?;
                let value = self.read_column(&column_of, Some(i), home)?;
                let kind = kind_of(&scalar);
                let v = self.decode(&scalar, &value, &col.presence)?;
                let cell = Cell {
                    scope: home,
                    level: 0,
                    v,
                    s: Part::lit("0"),
                    m: Part::lit(NO_PATHS),
                    e: Part::lit("NULL"),
                    kind,
                };
                let cell =
                    self.absent_rule(cell, &base, &value, &col.presence, &path_prefix, &path)?;
                self.import(cell, scope)
            }
        }
    }

    /// What a null column means: missing data (required), none (optional) or the
    /// default; under a record that is not known, the record's state.
    fn absent_rule(
        &mut self,
        mut cell: Cell,
        base: &Cell,
        column: &Part,
        presence: &Presence,
        prefix: &Part,
        path: &str,
    ) -> Compiled<Cell> {
        let d = self.dialect;
        let home = cell.scope;
        let base = self.import(base.clone(), home)?;
        let path_sql = if prefix.is_lit() {
            d.text(path)
        } else {
            let dot = if path.is_empty() { "" } else { "." };
            format!(
                "CASE WHEN {} = '' THEN {} ELSE {} END",
                prefix.sql,
                d.text(path),
                d.concat(&[prefix.sql.clone(), d.text(&format!("{dot}{path}"))])
            )
        };
        let (s_null, m_null) = match presence {
            Presence::Required => ("2", String::new()),
            Presence::Optional => ("1", NO_PATHS.to_string()),
            Presence::Default(_) => ("0", NO_PATHS.to_string()),
        };
        let m_null = match (presence, d) {
            (Presence::Required, Dialect::Postgres) => format!("ARRAY[{path_sql}]::text[]"),
            (Presence::Required, Dialect::Spark) => format!("array({path_sql})"),
            _ => m_null,
        };
        let base_known = base.always_known();
        cell.s = if base_known {
            Part::of(
                format!("CASE WHEN {} IS NULL THEN {s_null} ELSE 0 END", column.sql),
                &[column],
            )
        } else {
            Part::of(
                format!(
                    "CASE WHEN {} > 0 THEN {} WHEN {} IS NULL THEN {s_null} ELSE 0 END",
                    base.s.sql, base.s.sql, column.sql
                ),
                &[&base.s, column],
            )
        };
        cell.m = if base_known {
            Part::of(
                format!("CASE WHEN {} IS NULL THEN {m_null} END", column.sql),
                &[column, prefix],
            )
        } else {
            Part::of(
                format!(
                    "CASE WHEN {} = 2 THEN {} WHEN {} = 0 AND {} IS NULL THEN {m_null} END",
                    base.s.sql, base.m.sql, base.s.sql, column.sql
                ),
                &[&base.s, &base.m, column, prefix],
            )
        };
        if !base_known {
            cell.e = Part::of(
                format!("CASE WHEN {} = 3 THEN {} END", base.s.sql, base.e.sql),
                &[&base.s, &base.e],
            );
            cell.v = Part::of(
                format!("CASE WHEN {} = 0 THEN {} END", base.s.sql, cell.v.sql),
                &[&base.s, &cell.v],
            );
        }
        if matches!(presence, Presence::Required | Presence::Optional) && base_known {
            // Cheap enough to read in place.
            return Ok(cell);
        }
        let level = base.level.max(cell.level) + 1;
        self.put(cell, level)
    }

    /// Reads column `index` of a row: the scope's own row, or a chosen row looked up
    /// by its `_id` (joined in the layer after the choice).
    fn read_column(
        &mut self,
        source: &ColumnSource,
        index: Option<usize>,
        home: usize,
    ) -> Compiled<Part> {
        match source {
            ColumnSource::Row(s) => match index {
                Some(index) => self.base_column(*s, index),
                None => Ok(Part::col("_path")),
            },
            ColumnSource::Chosen(choice) => {
                let table = match &choice.kind {
                    Kind::Record(r) => r.table,
                    _ => return Err(Unsupported("internal: a lookup of a non-record".into())),
                };
                let id =
                    choice.v.deps.first().cloned().ok_or_else(|| {
                        Unsupported("internal: a chosen row without an id".into())
                    })?;
                let level = choice.level + 1;
                let existing = self
                    .lookups
                    .iter()
                    .find(|(s, l, _, t, c)| *s == home && *l == level && *t == table && *c == id)
                    .map(|(_, _, a, _, _)| a.clone());
                let id_col = id.clone();
                let alias = match existing {
                    Some(a) => a,
                    None => {
                        let alias = self.fresh("j");
                        self.lookups
                            .push((home, level, alias.clone(), table, id.clone()));
                        if !self.tables_read.contains(&table) {
                            self.tables_read.push(table);
                        }
                        self.scope_mut(home)?.join(
                            level,
                            super::relation::Join {
                                cte: format!("r{table}"),
                                alias: alias.clone(),
                                on: id,
                            },
                        );
                        alias
                    }
                };
                // Readable only in that layer: the caller materialises it there.
                let column = match index {
                    Some(i) => format!("c{i}"),
                    None => "_path".to_string(),
                };
                Ok(Part {
                    sql: format!("{alias}.{column}"),
                    deps: vec![id_col],
                })
            }
        }
    }

    /// The schema type of the field reached by `fields` from table `table`'s row.
    fn field_type(&self, table: usize, fields: &[usize]) -> Compiled<FieldType> {
        let t = self
            .layout
            .tables
            .get(table)
            .ok_or_else(|| Unsupported("internal: table".into()))?;
        let mut rec = t
            .record
            .ok_or_else(|| Unsupported("a field of a list of scalars".into()))?;
        let mut ty = None;
        for &i in fields {
            let f = self
                .rules
                .schema
                .record(rec)
                .and_then(|r| r.field(i))
                .ok_or_else(|| Unsupported("internal: field".into()))?;
            if let FieldType::Record(r) = f.ty {
                rec = r;
            }
            ty = Some(f.ty.clone());
        }
        ty.ok_or_else(|| Unsupported("internal: an empty field path".into()))
    }

    /// The reported path of a field relative to its row (the subject's paths start
    /// below `paths_from`, as the record reader reports them).
    pub(crate) fn field_path_of(&self, table: usize, fields: &[usize]) -> Compiled<String> {
        let t = self
            .layout
            .tables
            .get(table)
            .ok_or_else(|| Unsupported("internal: table".into()))?;
        let mut rec = t
            .record
            .ok_or_else(|| Unsupported("a field of a list of scalars".into()))?;
        let paths_from = if t.parent.is_none() {
            self.rules
                .schema
                .subjects
                .get(t.subject)
                .and_then(|s| s.paths_from)
        } else {
            None
        };
        let mut names = vec![];
        for (depth, &i) in fields.iter().enumerate() {
            let f = self
                .rules
                .schema
                .record(rec)
                .and_then(|r| r.field(i))
                .ok_or_else(|| Unsupported("internal: field".into()))?;
            if !(depth == 0 && paths_from == Some(i)) {
                names.push(f.name.clone());
            }
            if let FieldType::Record(r) = f.ty {
                rec = r;
            }
        }
        Ok(names.join("."))
    }

    /// A column's value as the cells hold it (enums as their index; a default for
    /// null).
    fn decode(&self, ty: &FieldType, col: &Part, presence: &Presence) -> Compiled<Part> {
        let d = self.dialect;
        let raw = match ty {
            FieldType::Enum(e) => {
                let def = self
                    .rules
                    .schema
                    .enum_def(*e)
                    .ok_or_else(|| Unsupported("internal: enum".into()))?;
                let arms: Vec<String> = def
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("WHEN {} THEN {i}", d.text(v)))
                    .collect();
                format!("CAST(CASE {} {} END AS BIGINT)", col.sql, arms.join(" "))
            }
            _ => col.sql.clone(),
        };
        let sql = match presence {
            Presence::Default(v) => {
                let lit = self.constant(v, 0)?.v.sql;
                format!("COALESCE({raw}, {lit})")
            }
            _ => raw,
        };
        Ok(Part::of(sql, &[col]))
    }
}

/// Where a record's columns are read from.
enum ColumnSource {
    /// A scope's own row.
    Row(usize),
    /// A chosen row (looked up by the cell's `_id`).
    Chosen(Box<Cell>),
}

fn col_level(source: &ColumnSource, _c: &Compiler<'_>) -> usize {
    match source {
        ColumnSource::Row(_) => 0,
        ColumnSource::Chosen(c) => c.level,
    }
}

/// Whether a part is a literal short enough to copy wherever it is read. A longer
/// one (a constant expression) is computed once in a column like any other, or
/// nested constants would copy each other into text exponentially long.
pub(crate) fn is_small_literal(p: &Part) -> bool {
    p.is_lit() && p.sql.len() <= 64
}

/// Whether a part is exactly one column.
pub(crate) fn is_column(p: &Part) -> bool {
    p.deps.len() == 1 && p.deps.first().is_some_and(|c| p.sql == format!("p.{c}"))
}

/// The cell kind of a scalar field type.
pub(crate) fn kind_of(ty: &FieldType) -> Kind {
    match ty {
        FieldType::Bool => Kind::Bool,
        FieldType::Int => Kind::Int,
        FieldType::Decimal => Kind::Dec,
        FieldType::String => Kind::Str,
        FieldType::Date => Kind::Date,
        FieldType::Enum(e) => Kind::Enum(*e),
        FieldType::List(_) | FieldType::Record(_) => Kind::Str,
    }
}
