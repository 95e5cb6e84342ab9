//! A population written in the tables of its [layout](super::layout)
//! (`mianshen export`): CSV files, one a table, and `load.psql`, the psql script that
//! loads them into the tables of `mianshen sql --ddl`.
//!
//! Each record is read as `mianshen run` reads it (the same reader, the same
//! judgment: a record it refuses is skipped, with a line in `rejected`) and written
//! from what was read, so that the tables say what the engine sees:
//!
//! - a value is its text (a decimal exactly as given, a date `YYYY-MM-DD`, an enum
//!   value its name, `true`/`false`); a text value is always quoted, so an empty text
//!   (`""`) stays apart from NULL;
//! - a missing field and a known "none" are NULL (an empty field): the column's
//!   schema says which ([`super::layout`]);
//! - a presence column is `true` when the nested record or list is there, NULL when
//!   it is absent;
//! - `_id` counts from 1 in each table, in input order; a list item's row has its
//!   owner's `_id` as `_parent` and its position (from 0) as `_pos`.

use super::layout::{Column, ColumnKind, Layout};
use super::Dialect;
use crate::record::{self, ReadOptions, Record, RecordError, RecordErrorKind};
use crate::schema::Schema;
use crate::value::{RecordNode, Slot, Value};
use std::io::{BufRead, Write};

/// How the population is read.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The subject kind of every record (recognised from each record's keys when
    /// `None`).
    pub subject: Option<String>,
    /// Strict or lenient about undeclared keys, and the limits of a record's text.
    pub read: ReadOptions,
}

/// What an export did: every input record is written or rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Records read from the input (written + rejected).
    pub read: u64,
    /// Records written.
    pub written: u64,
    /// Records the reader refused (each a line of `rejected`).
    pub rejected: u64,
    /// Lines with nothing but white space (not records).
    pub blank_lines: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The input could not be read.
    #[error("cannot read the input: {0}")]
    Input(std::io::Error),
    /// An output could not be written.
    #[error("cannot write {what}: {source}")]
    Output {
        /// Which output (a table's name, `rejected`).
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// `--subject` names no subject kind of the schema.
    #[error("unknown subject kind `{0}`")]
    UnknownSubject(String),
    /// A value that the output format cannot hold exactly.
    #[error("record {record} (line {line}): {path}: {message}")]
    Value {
        /// The input line of the record.
        line: u64,
        /// The record's id (or `(no id)`).
        record: String,
        /// The field's path.
        path: String,
        /// What does not fit.
        message: String,
    },
    /// The number of output writers is not the number of tables.
    #[error("{given} outputs given for {tables} tables")]
    Outputs {
        /// Writers given.
        given: usize,
        /// Tables of the layout.
        tables: usize,
    },
    /// The Parquet writer or reader failed.
    #[error("parquet: {0}")]
    Parquet(String),
}

/// A row of a table: a record (subject or list item), or an item of a list of scalars.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row<'a> {
    /// A record's fields.
    Node(&'a RecordNode),
    /// One scalar item.
    Scalar(&'a Value),
}

impl<'a> Row<'a> {
    /// The row of a list item.
    pub(crate) fn of_item(item: &'a Value) -> Row<'a> {
        match item {
            Value::Record(node) => Row::Node(node),
            other => Row::Scalar(other),
        }
    }

    /// The value reached by `fields` from the row: `None` when a field on the way, or
    /// the field itself, is missing or none.
    pub(crate) fn value_at(self, fields: &[usize]) -> Option<&'a Value> {
        let mut node = match self {
            Row::Scalar(v) => return fields.is_empty().then_some(v),
            Row::Node(n) => n,
        };
        let (last, on_the_way) = fields.split_last()?;
        for &f in on_the_way {
            match node.fields.get(f) {
                Some(Slot::Value(Value::Record(inner))) => node = inner,
                _ => return None,
            }
        }
        match node.fields.get(*last) {
            Some(Slot::Value(v)) => Some(v),
            _ => None,
        }
    }

    /// The items of the list reached by `fields` (`None` when absent).
    pub(crate) fn list_at(self, fields: &[usize]) -> Option<&'a [Value]> {
        match self.value_at(fields)? {
            Value::List(items) => Some(items),
            _ => None,
        }
    }
}

/// The names of the tables of `schema`'s layout, in the order of the writers
/// [`export_csv`] takes (owners before their lists).
pub fn table_names(schema: &Schema) -> Vec<String> {
    Layout::of(schema)
        .tables
        .into_iter()
        .map(|t| t.name)
        .collect()
}

/// The CSV file of a table: `<table>.csv`, path separators replaced by `_`.
pub fn csv_file_name(table: &str) -> String {
    let safe: String = table
        .chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            c => c,
        })
        .collect();
    format!("{safe}.csv")
}

/// `load.psql`: loads the CSV files into the tables of `mianshen sql --ddl`, owners
/// before their lists, in one transaction; run from the files' directory
/// (`psql -f load.psql`).
pub fn load_script(schema: &Schema) -> String {
    let layout = Layout::of(schema);
    let q = |s: &str| Dialect::Postgres.quote(s);
    let mut out = String::from(
        "-- Loads the CSV files of `mianshen export --format csv` into the tables of\n\
         -- `mianshen sql --ddl`. Run it from this directory: psql -f load.psql\n\
         \\set ON_ERROR_STOP on\nBEGIN;\n",
    );
    for t in &layout.tables {
        let columns: Vec<String> = header(t.parent.is_some(), &t.columns)
            .iter()
            .map(|c| q(c))
            .collect();
        out.push_str(&format!(
            "\\copy {} ({}) FROM {} WITH (FORMAT csv, HEADER true)\n",
            q(&t.name),
            columns.join(", "),
            Dialect::Postgres.text(&csv_file_name(&t.name))
        ));
    }
    out.push_str("COMMIT;\n");
    for t in &layout.tables {
        out.push_str(&format!("ANALYZE {};\n", q(&t.name)));
    }
    out
}

/// A table's column names, its own (`_id`, `_parent`, `_pos`) first.
fn header(child: bool, columns: &[Column]) -> Vec<&str> {
    let own: &[&str] = if child {
        &["_id", "_parent", "_pos"]
    } else {
        &["_id"]
    };
    own.iter()
        .copied()
        .chain(columns.iter().map(|c| c.name.as_str()))
        .collect()
}

/// Reads the population and writes it as CSV: `tables` has one writer per table, in
/// the order of [`table_names`]; a record the reader refuses is a line of `rejected`
/// (`{"line", "subject", "code", "reason"}`, as `mianshen run` writes
/// `rejected.jsonl`).
pub fn export_csv<R: BufRead, W: Write>(
    schema: &Schema,
    input: R,
    options: &ExportOptions,
    tables: &mut [W],
    rejected: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let mut csv = CsvTables::new(schema);
    if tables.len() != csv.layout.tables.len() {
        return Err(ExportError::Outputs {
            given: tables.len(),
            tables: csv.layout.tables.len(),
        });
    }
    csv.headers(tables)?;
    let summary = each_record(schema, input, options, rejected, |_, record| {
        csv.write_record(record, tables)
    })?;
    for (t, w) in tables.iter_mut().enumerate() {
        w.flush().map_err(|e| csv.output_error(t, e))?;
    }
    Ok(summary)
}

/// Reads each record of a JSON Lines population as `mianshen run` reads it, giving
/// `write` the records read (with their line) and `rejected` a line for each refused.
pub(crate) fn each_record<R: BufRead>(
    schema: &Schema,
    mut input: R,
    options: &ExportOptions,
    rejected: &mut dyn Write,
    mut write: impl FnMut(u64, &Record) -> Result<(), ExportError>,
) -> Result<ExportSummary, ExportError> {
    let subject = match &options.subject {
        Some(name) => Some(
            schema
                .subjects
                .iter()
                .position(|s| &s.name == name)
                .ok_or_else(|| ExportError::UnknownSubject(name.clone()))?,
        ),
        None => None,
    };
    let mut summary = ExportSummary::default();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        if input
            .read_until(b'\n', &mut buf)
            .map_err(ExportError::Input)?
            == 0
        {
            break;
        }
        line += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            summary.blank_lines += 1;
            continue;
        }
        summary.read += 1;
        match read_line(schema, &buf, subject, &options.read) {
            Ok(record) => {
                write(line, &record)?;
                summary.written += 1;
            }
            Err(e) => {
                summary.rejected += 1;
                reject(rejected, line, &e)?;
            }
        }
    }
    Ok(summary)
}

/// One line of the population read as a record.
fn read_line(
    schema: &Schema,
    text: &[u8],
    subject: Option<usize>,
    options: &ReadOptions,
) -> Result<Record, RecordError> {
    if text.len() > options.max_bytes {
        return Err(record::too_long(text.len(), options));
    }
    let text = std::str::from_utf8(text).map_err(|e| {
        RecordError::whole(RecordErrorKind::Syntax, format!("not valid UTF-8: {e}"))
    })?;
    let value = record::parse_json(text, options)?;
    let subject = match subject {
        Some(s) => s,
        None => record::detect_subject(schema, &value, None)
            .map_err(|m| RecordError::whole(RecordErrorKind::SubjectKind, m))?,
    };
    record::read_record_with(schema, subject, &value, *options).map(|(r, _)| r)
}

/// Writes the line of a rejected record, as `mianshen run` does.
fn reject(to: &mut dyn Write, line: u64, e: &RecordError) -> Result<(), ExportError> {
    let id = (!e.record.starts_with('(')).then_some(e.record.as_str());
    let text = serde_json::json!({
        "line": line,
        "subject": id,
        "code": e.kind.code(),
        "reason": e.reason(),
    })
    .to_string();
    writeln!(to, "{}", crate::escape::json(&text)).map_err(|source| ExportError::Output {
        what: "rejected".into(),
        source,
    })
}

/// The CSV rows of records, table by table.
struct CsvTables<'s> {
    schema: &'s Schema,
    layout: Layout,
    /// Per table: the tables of its lists.
    children: Vec<Vec<usize>>,
    /// Per table: the last `_id` given.
    last_id: Vec<u64>,
    /// The row being written.
    line: String,
}

impl<'s> CsvTables<'s> {
    fn new(schema: &'s Schema) -> Self {
        let layout = Layout::of(schema);
        let n = layout.tables.len();
        let children = (0..n)
            .map(|t| {
                (0..n)
                    .filter(|&c| layout.tables.get(c).and_then(|c| c.parent) == Some(t))
                    .collect()
            })
            .collect();
        CsvTables {
            schema,
            layout,
            children,
            last_id: vec![0; n],
            line: String::new(),
        }
    }

    fn output_error(&self, t: usize, source: std::io::Error) -> ExportError {
        let what = self
            .layout
            .tables
            .get(t)
            .map_or_else(|| format!("table {t}"), |t| csv_file_name(&t.name));
        ExportError::Output { what, source }
    }

    /// The header row of every table.
    fn headers<W: Write>(&self, out: &mut [W]) -> Result<(), ExportError> {
        for (t, (table, w)) in self.layout.tables.iter().zip(out.iter_mut()).enumerate() {
            let names: Vec<String> = header(table.parent.is_some(), &table.columns)
                .into_iter()
                .map(header_cell)
                .collect();
            writeln!(w, "{}", names.join(",")).map_err(|e| self.output_error(t, e))?;
        }
        Ok(())
    }

    /// Writes a record's row in its subject table and its lists' rows.
    fn write_record<W: Write>(
        &mut self,
        record: &Record,
        out: &mut [W],
    ) -> Result<(), ExportError> {
        let Some(t) = self.layout.subject_table(record.subject) else {
            return Ok(());
        };
        self.write_row(t, Row::Node(&record.root), None, out)
    }

    /// Writes one row of table `t` (a list item's with its owner's id and its position),
    /// then the rows of its lists.
    fn write_row<W: Write>(
        &mut self,
        t: usize,
        row: Row<'_>,
        owner: Option<(u64, usize)>,
        out: &mut [W],
    ) -> Result<(), ExportError> {
        let Some(last) = self.last_id.get_mut(t) else {
            return Ok(());
        };
        *last += 1;
        let id = *last;
        self.line.clear();
        self.line.push_str(&id.to_string());
        if let Some((parent, pos)) = owner {
            self.line.push_str(&format!(",{parent},{pos}"));
        }
        if let Some(table) = self.layout.tables.get(t) {
            for c in &table.columns {
                self.line.push(',');
                csv_cell(self.schema, c, row.value_at(&c.fields), &mut self.line);
            }
        }
        self.line.push('\n');
        if let Some(w) = out.get_mut(t) {
            w.write_all(self.line.as_bytes())
                .map_err(|e| self.output_error(t, e))?;
        }
        let children = self.children.get(t).cloned().unwrap_or_default();
        for c in children {
            let fields = match self.layout.tables.get(c) {
                Some(child) => child.list_fields.clone(),
                None => continue,
            };
            for (pos, item) in row.list_at(&fields).unwrap_or_default().iter().enumerate() {
                self.write_row(c, Row::of_item(item), Some((id, pos)), out)?;
            }
        }
        Ok(())
    }
}

/// A column name in the header row, quoted when it must be.
fn header_cell(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        quoted(name)
    } else {
        name.to_string()
    }
}

/// A CSV field in double quotes.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// One cell of a row: nothing for NULL, `true` for a presence, a value's text (quoted
/// when it is text).
fn csv_cell(schema: &Schema, c: &Column, v: Option<&Value>, out: &mut String) {
    let Some(v) = v else { return };
    if c.kind == ColumnKind::Presence {
        out.push_str("true");
        return;
    }
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Decimal(d) => out.push_str(&d.to_string()),
        Value::Date(d) => out.push_str(&d.format("%Y-%m-%d").to_string()),
        Value::Str(s) => out.push_str(&quoted(s)),
        Value::Enum(e, i) => out.push_str(&quoted(schema.enum_value_name(*e, *i))),
        Value::List(_) | Value::Record(_) => {
            out.push_str(&quoted(&value_json(schema, v).to_string()))
        }
    }
}

/// A value as the JSON a record gives it in (a list of lists of scalars is kept as
/// JSON text in its column).
pub(crate) fn value_json(schema: &Schema, v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Decimal(d) => serde_json::from_str::<serde_json::Number>(&d.to_string())
            .map_or_else(|_| J::String(d.to_string()), J::Number),
        Value::Str(s) => J::String(s.to_string()),
        Value::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
        Value::Enum(e, i) => J::String(schema.enum_value_name(*e, *i).to_string()),
        Value::List(items) => J::Array(items.iter().map(|x| value_json(schema, x)).collect()),
        // Records have tables of their own: never a column's value.
        Value::Record(_) => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "\
enums:
  color: [red, blue]
subjects:
  person:
    id: id
    fields:
      id: string
      name: {type: string, optional: true}
      age: {type: int, default: 7}
      money: decimal
      born: date
      color: color
      flags: {type: \"list<color>\", default: []}
      home:
        optional: true
        fields:
          city: string
      job:
        fields:
          title: string
      kids:
        items:
          fields:
            name: string
            toys:
              items:
                fields:
                  n: int
";

    fn export(lines: &str) -> (Vec<String>, ExportSummary, String) {
        let schema = Schema::from_yaml(SCHEMA).unwrap();
        let n = table_names(&schema).len();
        let mut out: Vec<Vec<u8>> = vec![vec![]; n];
        let mut rejected = vec![];
        let summary = export_csv(
            &schema,
            lines.as_bytes(),
            &ExportOptions::default(),
            &mut out,
            &mut rejected,
        )
        .unwrap();
        let texts = out
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        (texts, summary, String::from_utf8(rejected).unwrap())
    }

    #[test]
    fn nulls_presence_and_parents() {
        let (t, summary, rejected) = export(concat!(
            r#"{"id":"A","name":"","money":"1.50","born":"2000-02-29","color":"red","home":{},"kids":[{"name":"x","toys":[{"n":1},{"n":2}]},{"name":"y","toys":[]}]}"#,
            "\n\n",
            r#"{"id":"B","flags":["blue","red"],"kids":[{"name":"z"}]}"#,
            "\n{\"id\":\"C\",\"nope\":1}\n",
        ));
        assert_eq!(summary.written, 2);
        assert_eq!(summary.rejected, 1);
        assert_eq!(summary.blank_lines, 1);
        assert!(
            rejected.contains("\"code\":\"unknown-field\""),
            "{rejected}"
        );
        assert!(rejected.contains("\"line\":4"), "{rejected}");
        let names = table_names(&Schema::from_yaml(SCHEMA).unwrap());
        assert_eq!(
            names,
            [
                "person",
                "person__flags",
                "person__kids",
                "person__kids__toys"
            ]
        );
        assert_eq!(
            t[0],
            "_id,id,name,age,money,born,color,flags,home,home__city,job__title,kids\n\
             1,\"A\",\"\",7,1.50,2000-02-29,\"red\",true,true,,,true\n\
             2,\"B\",,7,,,,true,,,,true\n"
        );
        assert_eq!(
            t[1],
            "_id,_parent,_pos,value\n1,2,0,\"blue\"\n2,2,1,\"red\"\n"
        );
        assert_eq!(
            t[2],
            "_id,_parent,_pos,name,toys\n1,1,0,\"x\",true\n2,1,1,\"y\",true\n3,2,0,\"z\",\n"
        );
        assert_eq!(t[3], "_id,_parent,_pos,n\n1,1,0,1\n2,1,1,2\n");
    }

    #[test]
    fn load_script_loads_owners_first_in_one_transaction() {
        let schema = Schema::from_yaml(SCHEMA).unwrap();
        let s = load_script(&schema);
        let person = s.find("\\copy \"person\" (").unwrap();
        let kids = s.find("\\copy \"person__kids\" (").unwrap();
        let toys = s.find("\\copy \"person__kids__toys\" (").unwrap();
        assert!(s.find("BEGIN;").unwrap() < person && person < kids && kids < toys);
        assert!(toys < s.find("COMMIT;").unwrap());
        assert!(s.contains(
            "\\copy \"person__kids__toys\" (\"_id\", \"_parent\", \"_pos\", \"n\") FROM 'person__kids__toys.csv' WITH (FORMAT csv, HEADER true)"
        ));
    }
}
