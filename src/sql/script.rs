//! The whole script: for each subject kind, one query (common table expressions over
//! the subject's table and its lists) deciding every compiled policy; the
//! `decisions` table; the `grants` and `pushes` views.

use super::compile::{Compiler, InnerJoin, Unsupported};
use super::decision::DecisionCols;
use super::layout::Layout;
use super::Dialect;
use crate::compile::RuleSet;
use crate::syntax::ast::Mode;
use chrono::NaiveDate;

/// The compiled script and what it leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The SQL text.
    pub sql: String,
    /// The ids of the policies it decides.
    pub compiled: Vec<String>,
    /// The policies left out, each with the reason.
    pub left_out: Vec<(String, String)>,
}

/// The columns of the `decisions` table, in order.
pub const DECISION_COLUMNS: [&str; 12] = [
    "subject",
    "policy",
    "outcome",
    "amount",
    "unit",
    "period",
    "extras",
    "failed",
    "missing",
    "error_clause",
    "error_kind",
    "version",
];

/// Compiles the rule set's policies (all, or those named in `only`) for `dialect`,
/// deciding on `date`.
pub fn compile_script(
    rules: &RuleSet,
    dialect: Dialect,
    date: NaiveDate,
    only: &[String],
) -> Script {
    let layout = Layout::of(&rules.schema);
    let mut selects = vec![];
    let mut compiled = vec![];
    let mut left_out = vec![];
    for (subject, _) in rules.schema.subjects.iter().enumerate() {
        let wanted: Vec<usize> = rules
            .program
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.subject == subject)
            .filter(|(_, p)| only.is_empty() || only.contains(&p.id))
            .map(|(i, _)| i)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(table) = layout.subject_table(subject) else {
            continue;
        };
        let mut c = Compiler::new(rules, &layout, dialect, date, table);
        let mut decided = vec![];
        for i in wanted {
            let id = rules
                .program
                .policies
                .get(i)
                .map(|p| p.id.clone())
                .unwrap_or_default();
            let before = c.snapshot();
            match c.decide(i) {
                Ok(d) => {
                    compiled.push(id.clone());
                    decided.push((id, d));
                }
                Err(Unsupported(why)) => {
                    c.restore(before);
                    left_out.push((id, why));
                }
            }
        }
        if decided.is_empty() {
            continue;
        }
        match c.subject_query(&decided, &rules.version) {
            Ok(q) => selects.push(q),
            Err(Unsupported(why)) => {
                for (id, _) in decided {
                    compiled.retain(|x| *x != id);
                    left_out.push((id, why.clone()));
                }
            }
        }
    }
    Script {
        sql: dialect.typed_nulls(&statements(
            rules, dialect, date, &selects, &compiled, &left_out,
        )),
        compiled,
        left_out,
    }
}

/// The script's statements around the subject kinds' queries.
fn statements(
    rules: &RuleSet,
    d: Dialect,
    date: NaiveDate,
    selects: &[String],
    compiled: &[String],
    left_out: &[(String, String)],
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "-- mianshen: rule set {} compiled to SQL ({}) for the reference date {date}.\n",
        rules.version,
        match d {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Spark => "Spark SQL",
        }
    ));
    out.push_str(&format!("-- Policies decided: {}.\n", compiled.len()));
    for (id, why) in left_out {
        out.push_str(&format!("-- Left out: {id}: {}\n", why.replace('\n', " ")));
    }
    let union = if selects.is_empty() {
        empty_select(d)
    } else {
        selects.join("\nUNION ALL\n")
    };
    match d {
        Dialect::Postgres => {
            out.push_str("DROP VIEW IF EXISTS grants;\nDROP VIEW IF EXISTS pushes;\n");
            out.push_str("DROP TABLE IF EXISTS decisions;\n");
            out.push_str(
                "CREATE TABLE decisions (subject TEXT, policy TEXT, outcome TEXT, amount NUMERIC, unit TEXT, period TEXT, extras TEXT, failed TEXT[], missing TEXT[], error_clause TEXT, error_kind TEXT, version TEXT);\n",
            );
            out.push_str(&format!(
                "INSERT INTO decisions ({})\n{union};\n",
                DECISION_COLUMNS.join(", ")
            ));
            out.push_str(&views(rules, d, "CREATE OR REPLACE VIEW"));
        }
        Dialect::Spark => {
            // The plan is deep (one projection a layer): more rounds of analysis and
            // optimisation than Spark's default 100.
            out.push_str("SET spark.sql.analyzer.maxIterations = 10000;\n");
            out.push_str("SET spark.sql.optimizer.maxIterations = 10000;\n");
            out.push_str(&format!(
                "CREATE OR REPLACE TEMPORARY VIEW decisions AS\n{union};\n"
            ));
            out.push_str(&views(rules, d, "CREATE OR REPLACE TEMPORARY VIEW"));
        }
    }
    out
}

/// A select of no rows with the decisions' columns (no policy compiled).
fn empty_select(d: Dialect) -> String {
    let text = match d {
        Dialect::Postgres => "TEXT",
        Dialect::Spark => "STRING",
    };
    let dec = match d {
        Dialect::Postgres => "NUMERIC",
        Dialect::Spark => "DECIMAL(38,18)",
    };
    let arr = d.empty_array();
    format!(
        "SELECT CAST(NULL AS {text}) AS subject, CAST(NULL AS {text}) AS policy, CAST(NULL AS {text}) AS outcome, CAST(NULL AS {dec}) AS amount, CAST(NULL AS {text}) AS unit, CAST(NULL AS {text}) AS period, CAST(NULL AS {text}) AS extras, {arr} AS failed, {arr} AS missing, CAST(NULL AS {text}) AS error_clause, CAST(NULL AS {text}) AS error_kind, CAST(NULL AS {text}) AS version WHERE 1 = 0"
    )
}

/// The `grants` and `pushes` views: what `mianshen run` writes to `grants.jsonl` and
/// `pushes.jsonl`.
fn views(rules: &RuleSet, d: Dialect, create: &str) -> String {
    let ids = |mode: Option<Mode>| -> String {
        let list: Vec<String> = rules
            .program
            .policies
            .iter()
            .filter(|p| mode.is_none_or(|m| p.mode == m))
            .map(|p| d.text(&p.id))
            .collect();
        if list.is_empty() {
            "''".to_string()
        } else {
            list.join(", ")
        }
    };
    let bases: Vec<String> = rules
        .program
        .policies
        .iter()
        .filter_map(|p| {
            p.basis
                .as_ref()
                .map(|b| format!("WHEN {} THEN {}", d.text(&p.id), d.text(b)))
        })
        .collect();
    let basis = if bases.is_empty() {
        "NULL".to_string()
    } else {
        format!("CASE policy {} END", bases.join(" "))
    };
    let grant_ids = ids(Some(Mode::NoApplication));
    let confirm_ids = ids(Some(Mode::PushAndConfirm));
    format!(
        "{create} grants AS SELECT subject, policy, amount, unit, period, extras, {basis} AS basis, version FROM decisions WHERE outcome = 'eligible' AND policy IN ({grant_ids});\n\
         {create} pushes AS SELECT subject, policy, CASE WHEN outcome = 'undetermined' THEN 'undetermined' WHEN policy IN ({confirm_ids}) THEN 'eligible_confirm' ELSE 'eligible_apply' END AS reason, amount, unit, period, extras, CASE WHEN outcome = 'undetermined' THEN missing END AS missing, CASE WHEN outcome = 'eligible' THEN {basis} END AS basis, version FROM decisions WHERE outcome = 'undetermined' OR (outcome = 'eligible' AND policy NOT IN ({grant_ids}));\n"
    )
}

impl Compiler<'_> {
    /// The query of this subject kind: its common table expressions and one select
    /// a policy.
    fn subject_query(
        &mut self,
        decided: &[(String, DecisionCols)],
        version: &str,
    ) -> Result<String, Unsupported> {
        let d = self.dialect;
        let id = self.subject_id()?;
        let mut outputs: Vec<String> = vec![];
        for (_, dec) in decided {
            for p in dec.parts() {
                outputs.extend(p.deps.iter().cloned());
            }
        }
        outputs.extend(id.deps.iter().cloned());
        let top = self.scope(0)?.top();
        let mut ctes = self.rows_ctes()?;
        ctes.extend(self.render_scope(0, top, &outputs)?);
        let from = self.scope(0)?.cte(top);
        // One row a subject, turned into one row a policy: the final layer is read
        // once (Spark copies a plan for each reference).
        let (text, dec, arr) = match d {
            Dialect::Postgres => ("TEXT", "NUMERIC", "TEXT[]"),
            Dialect::Spark => ("STRING", "DECIMAL(38,18)", "ARRAY<STRING>"),
        };
        let types = [text, dec, text, text, text, arr, arr, text, text];
        let rows: Vec<Vec<String>> = decided
            .iter()
            .map(|(pid, decision)| {
                let mut row = vec![d.text(pid)];
                row.extend(
                    decision
                        .parts()
                        .iter()
                        .zip(types)
                        .map(|(p, ty)| format!("CAST({} AS {ty})", p.sql)),
                );
                row
            })
            .collect();
        let names = &DECISION_COLUMNS[1..11];
        let subject = format!("{} AS subject", d.to_text(&id.sql));
        let version = format!("{} AS version", d.text(version));
        let select = match d {
            Dialect::Postgres => format!(
                "SELECT {subject}, {}, {version} FROM {from} p CROSS JOIN LATERAL (VALUES {}) AS v({})",
                names.iter().map(|n| format!("v.{n}")).collect::<Vec<_>>().join(", "),
                rows.iter()
                    .map(|r| format!("({})", r.join(", ")))
                    .collect::<Vec<_>>()
                    .join(", "),
                names.join(", ")
            ),
            Dialect::Spark => format!(
                "SELECT {subject}, {}, {version} FROM {from} p LATERAL VIEW inline(array({})) v AS {}",
                names.iter().map(|n| format!("v.{n}")).collect::<Vec<_>>().join(", "),
                rows.iter()
                    .map(|r| format!(
                        "named_struct({})",
                        r.iter()
                            .zip(names)
                            .map(|(v, n)| format!("'{n}', {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                names.join(", ")
            ),
        };
        let with: Vec<String> = ctes
            .iter()
            .map(|(name, sql, inline)| match (d, inline) {
                (Dialect::Postgres, true) => format!("{name} AS NOT MATERIALIZED ({sql})"),
                _ => format!("{name} AS ({sql})"),
            })
            .collect();
        Ok(format!(
            "SELECT * FROM (WITH {}\n{select}) AS decided",
            with.join(",\n")
        ))
    }

    /// The subject's id, as a part of the subject's scope.
    fn subject_id(&mut self) -> Result<super::cell::Part, Unsupported> {
        let rules = self.rules;
        let table = self.subject_table()?;
        let subject = self
            .layout
            .tables
            .get(table)
            .map(|t| t.subject)
            .ok_or_else(|| Unsupported("internal: subject".into()))?;
        let def = rules
            .schema
            .subjects
            .get(subject)
            .ok_or_else(|| Unsupported("internal: subject".into()))?;
        let col = self
            .layout
            .tables
            .get(table)
            .and_then(|t| t.column(&def.id_path))
            .map(|(i, _)| i)
            .ok_or_else(|| Unsupported("the subject's id is not a column".into()))?;
        self.base_column(0, col)
    }

    /// The common table expressions of the tables read (`r<table>`): each row's
    /// `_id`, `_parent`, `_pos`, reported `_path` and columns `c<i>`.
    fn rows_ctes(&mut self) -> Result<Vec<(String, String, bool)>, Unsupported> {
        // Parents first: a nested list's rows read their owner's path.
        let mut tables = self.tables_read.clone();
        let mut i = 0;
        while let Some(&t) = tables.get(i) {
            if let Some(p) = self.layout.tables.get(t).and_then(|x| x.parent) {
                if !tables.contains(&p) {
                    tables.push(p);
                }
            }
            i += 1;
        }
        tables.sort_unstable();
        let mut out = vec![];
        for t in tables {
            out.push((format!("r{t}"), self.rows_sql(t)?, true));
        }
        Ok(out)
    }

    fn rows_sql(&self, t: usize) -> Result<String, Unsupported> {
        let d = self.dialect;
        let table = self
            .layout
            .tables
            .get(t)
            .ok_or_else(|| Unsupported("internal: table".into()))?;
        let Some(parent) = table.parent else {
            let cols: Vec<String> = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} AS c{i}", d.quote(&c.name)))
                .collect();
            let id = match d {
                Dialect::Postgres => "_id".to_string(),
                Dialect::Spark => "CAST(_id AS STRING)".to_string(),
            };
            return Ok(format!(
                "SELECT {id} AS _id, {id} AS _key, '' AS _path, {} FROM {}",
                cols.join(", "),
                d.quote(&table.name)
            ));
        };
        let owner = self
            .layout
            .tables
            .get(parent)
            .ok_or_else(|| Unsupported("internal: table".into()))?;
        let list_path = self.list_path(parent, &table.list_fields)?;
        let key = match table.key {
            Some(k) => format!(
                "COALESCE({}, {})",
                d.to_text(&item_col(d, table, k)),
                d.to_text(&pos_col(d))
            ),
            None => d.to_text(&pos_col(d)),
        };
        let prefix = if owner.parent.is_none() {
            d.text(&format!("{list_path}["))
        } else {
            d.concat(&["p._path".into(), d.text(&format!(".{list_path}["))])
        };
        let path = d.concat(&[prefix, key, "']'".into()]);
        let cols: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, _)| format!("{} AS c{i}", item_col(d, table, i)))
            .collect();
        Ok(match d {
            Dialect::Postgres => format!(
                "SELECT c._id AS _id, c._id AS _key, c._parent AS _parent, c._pos AS _pos, {path} AS _path, {} FROM {} c JOIN r{parent} p ON c._parent = p._id",
                cols.join(", "),
                d.quote(&table.name)
            ),
            Dialect::Spark => {
                let list_col = owner
                    .column(&table.list_fields)
                    .map(|(i, _)| i)
                    .ok_or_else(|| Unsupported("internal: list column".into()))?;
                format!(
                    "SELECT concat(p._id, '.', CAST(pos AS STRING)) AS _id, concat(p._id, '.', CAST(pos AS STRING)) AS _key, p._id AS _parent, pos AS _pos, {path} AS _path, {} FROM r{parent} p LATERAL VIEW posexplode(p.c{list_col}) x AS pos, item",
                    cols.join(", ")
                )
            }
        })
    }

    /// The reported path of a list from its owner's row (`household.members`).
    fn list_path(&self, owner: usize, fields: &[usize]) -> Result<String, Unsupported> {
        self.field_path_of(owner, fields)
    }

    /// The common table expressions of scope `s` up to layer `upto`, with its inner
    /// scopes' (and their aggregates) before the layer that joins them.
    fn render_scope(
        &mut self,
        s: usize,
        upto: usize,
        outputs: &[String],
    ) -> Result<Vec<(String, String, bool)>, Unsupported> {
        self.set_base(s)?;
        let inner: Vec<InnerJoin> = self.inner.get(s).cloned().unwrap_or_default();
        for j in &inner {
            self.pin_imports(s, j)?;
        }
        let layers = self.scope(s)?.render(self.dialect, upto, outputs);
        let mut out = vec![];
        for (level, (name, sql)) in layers.into_iter().enumerate() {
            for j in inner.iter().filter(|j| j.level == level) {
                out.extend(self.render_scope(j.scope, j.upto, &j.outputs)?);
                out.push((j.cte.clone(), j.sql.clone(), false));
            }
            out.push((name, sql, false));
        }
        Ok(out)
    }

    /// Keeps the columns an inner scope reads alive in its parent's layer.
    fn pin_imports(&mut self, parent: usize, j: &InnerJoin) -> Result<(), Unsupported> {
        let (columns, owner) = {
            let imports = self.imports.get(j.scope).cloned().unwrap_or_default();
            let owner = self
                .items
                .get(j.scope)
                .and_then(|i| i.as_ref())
                .map(|i| i.owner.clone())
                .unwrap_or_default();
            (imports.columns, owner)
        };
        let at = j.base_level;
        let scope = self
            .scopes
            .get_mut(parent)
            .ok_or_else(|| Unsupported("internal: scope".into()))?;
        for (c, _) in columns {
            scope.pinned.push((c, at));
        }
        if !owner.starts_with("_") {
            scope.pinned.push((owner, at));
        }
        Ok(())
    }

    /// Sets scope `s`'s first relation: its rows (joined to the parent's layer for an
    /// inner scope) with the base columns and imports it reads.
    fn set_base(&mut self, s: usize) -> Result<(), Unsupported> {
        let base_cols = self.base.get(s).cloned().unwrap_or_default();
        let sql = match self.items.get(s).cloned().flatten() {
            None => {
                let table = self.subject_table()?;
                let mut cols = vec!["r._id AS _id".to_string(), "r._path AS _path".to_string()];
                cols.extend(base_cols.iter().map(|(i, n)| format!("r.c{i} AS {n}")));
                format!("SELECT {} FROM r{table} r", cols.join(", "))
            }
            Some(items) => {
                let scope = self.scope(s)?.clone();
                let parent = scope.parent.ok_or_else(|| {
                    Unsupported("internal: an inner scope without a parent".into())
                })?;
                let level = self
                    .inner
                    .get(parent)
                    .and_then(|v| v.iter().find(|j| j.scope == s))
                    .map(|j| j.base_level)
                    .ok_or_else(|| Unsupported("internal: an inner scope not joined".into()))?;
                let parent_cte = self.scope(parent)?.cte(level);
                let mut cols = vec![
                    "c._id AS _id".to_string(),
                    "c._pos AS _pos".to_string(),
                    "c._path AS _path".to_string(),
                ];
                for k in 0..scope.depth.saturating_sub(1) {
                    cols.push(format!("o._sc{k} AS _sc{k}"));
                }
                cols.push(format!("o._id AS _sc{}", scope.depth - 1));
                cols.extend(base_cols.iter().map(|(i, n)| format!("c.c{i} AS {n}")));
                let imports = self.imports.get(s).cloned().unwrap_or_default();
                cols.extend(imports.columns.iter().map(|(c, n)| format!("o.{c} AS {n}")));
                format!(
                    "SELECT {} FROM r{} c JOIN {parent_cte} o ON c._parent = o.{}",
                    cols.join(", "),
                    items.table,
                    items.owner
                )
            }
        };
        let scope = self
            .scopes
            .get_mut(s)
            .ok_or_else(|| Unsupported("internal: scope".into()))?;
        scope.base = sql;
        Ok(())
    }
}

/// A column of a list's item in its rows' source: the child table's column
/// (PostgreSQL) or the exploded struct's field (Spark).
fn item_col(d: Dialect, table: &super::layout::Table, i: usize) -> String {
    let name = table
        .columns
        .get(i)
        .map(|c| c.name.as_str())
        .unwrap_or("value");
    match (d, table.record.is_some()) {
        (Dialect::Postgres, _) => format!("c.{}", d.quote(name)),
        (Dialect::Spark, true) => format!("item.{}", d.quote(name)),
        (Dialect::Spark, false) => "item".to_string(),
    }
}

fn pos_col(d: Dialect) -> String {
    match d {
        Dialect::Postgres => "c._pos".into(),
        Dialect::Spark => "pos".into(),
    }
}
