//! The `CREATE TABLE` statements of a schema's [layout](super::layout), per dialect
//! (`mianshen sql --ddl`).
//!
//! - PostgreSQL: the layout as it is, one table per subject kind and one per list,
//!   each child row pointing at its owner's `_id` (a foreign key, indexed); enums are
//!   text held to their values by a `CHECK`; the schema's docs become comments. The
//!   script starts by dropping the tables (children first), so it can be run again.
//! - Spark: one table per subject kind, stored as Parquet, in which each list's
//!   presence column is the list itself, an `ARRAY` of `STRUCT`s whose fields are the
//!   child table's columns (an `ARRAY` of a scalar type for a list of scalars); the
//!   position is the array index, so `_id`, `_parent` and `_pos` are not there.

use super::layout::{Column, ColumnKind, Layout, Table};
use super::Dialect;
use crate::schema::{FieldType, Schema};
use std::fmt::Write as _;

/// The statements that create the tables a population of `schema` is laid out in.
pub fn ddl(schema: &Schema, dialect: Dialect) -> String {
    let layout = Layout::of(schema);
    match dialect {
        Dialect::Postgres => postgres(schema, &layout),
        Dialect::Spark => spark(schema, &layout),
    }
}

/// What a column of a table is in the nested (Spark, Parquet) layout: a plain column,
/// or a list whose items are the rows of a child table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Nested<'l> {
    /// A scalar or a presence column of an optional record, as in the flat layout.
    Plain(&'l Column),
    /// A list: the column names it, the child table (index in the layout) holds its
    /// items.
    List(&'l Column, usize),
}

impl<'l> Nested<'l> {
    /// The column this stands for.
    pub(crate) fn column(&self) -> &'l Column {
        match self {
            Nested::Plain(c) | Nested::List(c, _) => c,
        }
    }
}

/// The columns of table `t` in the nested layout: each list's presence column becomes
/// the list.
pub(crate) fn nested_columns(layout: &Layout, t: usize) -> Vec<Nested<'_>> {
    let Some(table) = layout.tables.get(t) else {
        return vec![];
    };
    table
        .columns
        .iter()
        .map(|c| match (&c.kind, layout.list_table(t, &c.fields)) {
            (ColumnKind::Presence, Some(child)) => Nested::List(c, child),
            _ => Nested::Plain(c),
        })
        .collect()
}

/// A column's comment: its path, and the schema's doc when it has one; a list's
/// presence column says what its values mean, unless it stands for the list itself
/// (`list`: Spark).
fn comment(c: &Column, list: bool) -> String {
    let what = match c.kind {
        ColumnKind::Presence if list => format!("{} (null: absent)", c.path),
        ColumnKind::Presence => format!("{} (true: present; null: absent)", c.path),
        ColumnKind::Scalar(_) => c.path.clone(),
    };
    match &c.doc {
        Some(doc) => format!("{what}: {doc}"),
        None => what,
    }
}

/// A table's comment: what its rows are.
fn table_comment(t: &Table) -> String {
    match (&t.parent, &t.doc) {
        (None, _) => format!("{} records, one row each", t.path),
        (Some(_), Some(doc)) => format!("{}: {doc}", t.path),
        (Some(_), None) => t.path.clone(),
    }
}

/// The PostgreSQL script: drops, tables, indexes on `_parent`, comments.
fn postgres(schema: &Schema, layout: &Layout) -> String {
    let q = |s: &str| Dialect::Postgres.quote(s);
    let lit = |s: &str| Dialect::Postgres.text(s);
    let mut out = String::from(
        "-- The tables of the population (mianshen sql --ddl): one per subject kind,\n\
         -- one per list. Rerunnable: the tables are dropped first.\n\n\
         SET client_min_messages = warning;\n",
    );
    for t in layout.tables.iter().rev() {
        let _ = writeln!(out, "DROP TABLE IF EXISTS {} CASCADE;", q(&t.name));
    }
    for t in &layout.tables {
        out.push('\n');
        out.push_str(&postgres_table(schema, layout, t));
    }
    out.push('\n');
    for t in &layout.tables {
        let _ = writeln!(
            out,
            "COMMENT ON TABLE {} IS {};",
            q(&t.name),
            lit(&table_comment(t))
        );
        for c in &t.columns {
            let _ = writeln!(
                out,
                "COMMENT ON COLUMN {}.{} IS {};",
                q(&t.name),
                q(&c.name),
                lit(&comment(c, false))
            );
        }
    }
    out
}

/// One table's `CREATE TABLE` (and, for a child table, the index on `_parent`).
fn postgres_table(schema: &Schema, layout: &Layout, t: &Table) -> String {
    let q = |s: &str| Dialect::Postgres.quote(s);
    let mut lines = vec![format!("  {} bigint PRIMARY KEY", q("_id"))];
    let owner = t.parent.and_then(|p| layout.tables.get(p));
    if let Some(owner) = owner {
        lines.push(format!(
            "  {} bigint NOT NULL REFERENCES {} ({})",
            q("_parent"),
            q(&owner.name),
            q("_id")
        ));
        lines.push(format!("  {} integer NOT NULL", q("_pos")));
    }
    for c in &t.columns {
        lines.push(format!("  {} {}", q(&c.name), postgres_type(schema, c)));
    }
    let mut out = format!("CREATE TABLE {} (\n{}\n);\n", q(&t.name), lines.join(",\n"));
    if owner.is_some() {
        // Unnamed: PostgreSQL names it, never clashing with a table's name.
        let _ = writeln!(out, "CREATE INDEX ON {} ({});", q(&t.name), q("_parent"));
    }
    out
}

/// A column's PostgreSQL type, with the `CHECK` of an enum's values.
fn postgres_type(schema: &Schema, c: &Column) -> String {
    let ty = match &c.kind {
        ColumnKind::Presence => return "boolean".into(),
        ColumnKind::Scalar(ty) => ty,
    };
    match ty {
        FieldType::Bool => "boolean".into(),
        FieldType::Int => "bigint".into(),
        FieldType::Decimal => "numeric".into(),
        FieldType::String => "text".into(),
        FieldType::Date => "date".into(),
        FieldType::Enum(e) => {
            let values: Vec<String> = schema
                .enum_def(*e)
                .map(|d| d.values.iter().map(|v| Dialect::Postgres.text(v)).collect())
                .unwrap_or_default();
            format!(
                "text CHECK ({} IN ({}))",
                Dialect::Postgres.quote(&c.name),
                values.join(", ")
            )
        }
        // A list of lists of scalars: its items are kept as JSON text.
        FieldType::List(_) | FieldType::Record(_) => "jsonb".into(),
    }
}

/// The Spark script: one Parquet table per subject kind, lists nested.
fn spark(schema: &Schema, layout: &Layout) -> String {
    let q = |s: &str| Dialect::Spark.quote(s);
    let lit = |s: &str| Dialect::Spark.text(s);
    let mut out = String::from(
        "-- The tables of the population (mianshen sql --ddl --dialect spark): one per\n\
         -- subject kind, lists as arrays of structs. Rerunnable: the tables are dropped first.\n",
    );
    for s in 0..schema.subjects.len() {
        let Some(t) = layout.subject_table(s) else {
            continue;
        };
        let Some(table) = layout.tables.get(t) else {
            continue;
        };
        let mut lines = vec![format!("  {} BIGINT", q("_id"))];
        for n in nested_columns(layout, t) {
            let c = n.column();
            lines.push(format!(
                "  {} {} COMMENT {}",
                q(&c.name),
                spark_type(layout, n),
                lit(&comment(c, matches!(n, Nested::List(..))))
            ));
        }
        let _ = write!(
            out,
            "\nDROP TABLE IF EXISTS {name};\nCREATE TABLE {name} (\n{}\n) USING parquet\nCOMMENT {};\n",
            lines.join(",\n"),
            lit(&table_comment(table)),
            name = q(&table.name),
        );
    }
    out
}

/// A column's Spark type: a list as an `ARRAY` of its items' struct (or scalar type).
fn spark_type(layout: &Layout, n: Nested<'_>) -> String {
    let child = match n {
        Nested::Plain(c) => {
            return match &c.kind {
                ColumnKind::Presence => "BOOLEAN".into(),
                ColumnKind::Scalar(ty) => spark_scalar(ty).into(),
            }
        }
        Nested::List(_, child) => child,
    };
    let Some(table) = layout.tables.get(child) else {
        return "STRING".into();
    };
    if let Some(ty) = &table.scalar {
        return format!("ARRAY<{}>", spark_scalar(ty));
    }
    let fields: Vec<String> = nested_columns(layout, child)
        .into_iter()
        .map(|f| {
            let c = f.column();
            format!(
                "{}: {} COMMENT {}",
                Dialect::Spark.quote(&c.name),
                spark_type(layout, f),
                Dialect::Spark.text(&comment(c, matches!(f, Nested::List(..))))
            )
        })
        .collect();
    format!("ARRAY<STRUCT<{}>>", fields.join(", "))
}

/// A scalar type in Spark.
fn spark_scalar(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::Bool => "BOOLEAN",
        FieldType::Int => "BIGINT",
        FieldType::Decimal => "DECIMAL(38,18)",
        FieldType::Date => "DATE",
        // Enums are their values' names; a list of lists of scalars is JSON text.
        FieldType::String | FieldType::Enum(_) | FieldType::List(_) | FieldType::Record(_) => {
            "STRING"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::from_yaml(
            "enums:\n  color: [red, \"it's\"]\nsubjects:\n  person:\n    id: id\n    fields:\n      id: {type: string, doc: the id}\n      tags: {type: \"list<color>\", default: []}\n      kids:\n        items:\n          fields:\n            name: string\n            toys:\n              items:\n                fields:\n                  n: int\n",
        )
        .unwrap()
    }

    #[test]
    fn postgres_links_children_to_owners() {
        let sql = ddl(&schema(), Dialect::Postgres);
        assert!(sql.contains("DROP TABLE IF EXISTS \"person__kids__toys\" CASCADE;\nDROP TABLE IF EXISTS \"person__kids\" CASCADE;"), "{sql}");
        assert!(
            sql.contains("\"_parent\" bigint NOT NULL REFERENCES \"person__kids\" (\"_id\")"),
            "{sql}"
        );
        assert!(
            sql.contains("\"value\" text CHECK (\"value\" IN ('red', 'it''s'))"),
            "{sql}"
        );
        assert!(
            sql.contains("CREATE INDEX ON \"person__tags\" (\"_parent\");"),
            "{sql}"
        );
        assert!(
            sql.contains("COMMENT ON COLUMN \"person\".\"id\" IS 'id: the id';"),
            "{sql}"
        );
    }

    #[test]
    fn spark_nests_lists() {
        let sql = ddl(&schema(), Dialect::Spark);
        assert!(sql.contains("`tags` ARRAY<STRING>"), "{sql}");
        assert!(
            sql.contains("`kids` ARRAY<STRUCT<`name`: STRING COMMENT 'name', `toys`: ARRAY<STRUCT<`n`: BIGINT COMMENT 'n'>> COMMENT"),
            "{sql}"
        );
        assert_eq!(sql.matches("CREATE TABLE").count(), 1, "{sql}");
    }
}
