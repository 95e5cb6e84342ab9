//! A population as Parquet, in the nested layout of Spark's tables (`mianshen sql
//! --ddl --dialect spark`): one file per subject kind, `_id` then the subject table's
//! columns, each list a column of its own whose items are structs of the child table's
//! columns (or scalars). Types: booleans, 64-bit integers, `Decimal128(38, 18)`,
//! UTF-8 text (enum values by name), `Date32`. The subject kind is kept in the file's
//! metadata (`mianshen.subject`).
//!
//! [`ParquetRecords`] reads such a file back into records as JSON values (a NULL is an
//! absent field), for `mianshen run --input FILE.parquet`.

use super::ddl::{nested_columns, Nested};
use super::export::{each_record, value_json, ExportError, ExportOptions, ExportSummary, Row};
use super::layout::{Column, ColumnKind, Layout};
use crate::record::Record;
use crate::schema::{FieldType, RecordId, Schema};
use crate::value::Value;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array,
    LargeStringArray, ListArray, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use rust_decimal::Decimal;
use std::io::{BufRead, Write};
use std::sync::Arc;

/// The metadata key naming the subject kind of a file.
const SUBJECT_KEY: &str = "mianshen.subject";
/// Decimals are written with this scale (and precision 38), as Spark's `DECIMAL(38,18)`.
const SCALE: u32 = 18;
/// Records per batch written.
const BATCH: usize = 4096;
/// The name of a list's item field (the Parquet format's own).
const ITEM: &str = "element";

/// The Parquet file of a subject kind: `<subject>.parquet`, path separators replaced.
pub fn parquet_file_name(subject: &str) -> String {
    let safe: String = subject
        .chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            c => c,
        })
        .collect();
    format!("{safe}.parquet")
}

/// The subject kinds of `schema`, in the order of the writers [`export_parquet`] takes.
pub fn subject_names(schema: &Schema) -> Vec<String> {
    schema.subjects.iter().map(|s| s.name.clone()).collect()
}

/// Reads the population and writes it as Parquet: `files` has one writer per subject
/// kind, in the order of [`subject_names`]; a record the reader refuses is a line of
/// `rejected`, as for [`super::export::export_csv`]. A decimal that
/// `Decimal128(38, 18)` cannot hold exactly stops the export.
pub fn export_parquet<R: BufRead, W: Write + Send>(
    schema: &Schema,
    input: R,
    options: &ExportOptions,
    files: Vec<W>,
    rejected: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let mut out = ParquetTables::new(schema, files)?;
    let summary = each_record(schema, input, options, rejected, |line, record| {
        out.push(line, record)
    })?;
    out.close()?;
    Ok(summary)
}

fn parquet_error(e: impl std::fmt::Display) -> ExportError {
    ExportError::Parquet(e.to_string())
}

/// The writers of a population, one per subject kind, and the records waiting for a
/// batch.
struct ParquetTables<'s, W: Write + Send> {
    schema: &'s Schema,
    layout: Layout,
    writers: Vec<ArrowWriter<W>>,
    arrow: Vec<SchemaRef>,
    pending: Vec<Vec<Record>>,
    /// Per subject kind: the last `_id` given.
    last_id: Vec<i64>,
}

impl<'s, W: Write + Send> ParquetTables<'s, W> {
    fn new(schema: &'s Schema, files: Vec<W>) -> Result<Self, ExportError> {
        let layout = Layout::of(schema);
        let n = schema.subjects.len();
        if files.len() != n {
            return Err(ExportError::Outputs {
                given: files.len(),
                tables: n,
            });
        }
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let mut writers = vec![];
        let mut arrow = vec![];
        for (s, file) in files.into_iter().enumerate() {
            let sch = Arc::new(arrow_schema(schema, &layout, s));
            writers.push(
                ArrowWriter::try_new(file, sch.clone(), Some(props.clone()))
                    .map_err(parquet_error)?,
            );
            arrow.push(sch);
        }
        Ok(ParquetTables {
            schema,
            layout,
            writers,
            arrow,
            pending: vec![vec![]; n],
            last_id: vec![0; n],
        })
    }

    /// Takes one record (checked for values the file cannot hold), writing a batch when
    /// enough wait.
    fn push(&mut self, line: u64, record: &Record) -> Result<(), ExportError> {
        let s = record.subject;
        if let Some(t) = self.layout.subject_table(s) {
            let path = self.schema.subjects.get(s).map_or("", |d| d.name.as_str());
            check_decimals(&self.layout, t, Row::Node(&record.root), path).map_err(
                |(path, message)| ExportError::Value {
                    line,
                    record: record.id.clone().unwrap_or_else(|| "(no id)".into()),
                    path,
                    message,
                },
            )?;
        }
        let full = match self.pending.get_mut(s) {
            Some(p) => {
                p.push(record.clone());
                p.len() >= BATCH
            }
            None => false,
        };
        if full {
            self.flush(s)?;
        }
        Ok(())
    }

    /// Writes the records waiting for subject kind `s` as one batch.
    fn flush(&mut self, s: usize) -> Result<(), ExportError> {
        let records = self
            .pending
            .get_mut(s)
            .map(std::mem::take)
            .unwrap_or_default();
        let (Some(t), Some(sch), Some(last)) = (
            self.layout.subject_table(s),
            self.arrow.get(s),
            self.last_id.get_mut(s),
        ) else {
            return Ok(());
        };
        if records.is_empty() {
            return Ok(());
        }
        let first = *last + 1;
        let count = i64::try_from(records.len()).map_err(parquet_error)?;
        *last += count;
        let rows: Vec<Row<'_>> = records.iter().map(|r| Row::Node(&r.root)).collect();
        let build = Build {
            schema: self.schema,
            layout: &self.layout,
        };
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(Int64Array::from_iter_values(first..first + count))];
        columns.extend(build.columns(t, &rows)?);
        let batch = RecordBatch::try_new(sch.clone(), columns).map_err(parquet_error)?;
        if let Some(w) = self.writers.get_mut(s) {
            w.write(&batch).map_err(parquet_error)?;
        }
        Ok(())
    }

    /// Writes what waits and closes every file.
    fn close(mut self) -> Result<(), ExportError> {
        for s in 0..self.writers.len() {
            self.flush(s)?;
        }
        for w in self.writers {
            let mut inner = w.into_inner().map_err(parquet_error)?;
            inner.flush().map_err(|source| ExportError::Output {
                what: "a Parquet file".into(),
                source,
            })?;
        }
        Ok(())
    }
}

/// The Arrow schema of subject kind `s`'s file.
fn arrow_schema(schema: &Schema, layout: &Layout, s: usize) -> arrow_schema::Schema {
    let mut fields = vec![Field::new("_id", DataType::Int64, false)];
    if let Some(t) = layout.subject_table(s) {
        fields.extend(arrow_fields(layout, t).iter().map(|f| f.as_ref().clone()));
    }
    let name = schema.subjects.get(s).map_or("", |d| d.name.as_str());
    arrow_schema::Schema::new_with_metadata(fields, [(SUBJECT_KEY, name)])
}

/// The Arrow fields of table `t`'s columns, lists nested.
fn arrow_fields(layout: &Layout, t: usize) -> Fields {
    nested_columns(layout, t)
        .into_iter()
        .map(|n| Field::new(n.column().name.clone(), arrow_type(layout, n), true))
        .collect()
}

/// The Arrow type of a column in the nested layout.
fn arrow_type(layout: &Layout, n: Nested<'_>) -> DataType {
    match n {
        Nested::Plain(c) => match &c.kind {
            ColumnKind::Presence => DataType::Boolean,
            ColumnKind::Scalar(ty) => scalar_type(ty),
        },
        Nested::List(_, child) => {
            DataType::List(Arc::new(Field::new(ITEM, item_type(layout, child), true)))
        }
    }
}

/// The Arrow type of the items of child table `child`.
fn item_type(layout: &Layout, child: usize) -> DataType {
    match layout.tables.get(child).and_then(|t| t.scalar.as_ref()) {
        Some(ty) => scalar_type(ty),
        None => DataType::Struct(arrow_fields(layout, child)),
    }
}

/// The Arrow type of a scalar field.
fn scalar_type(ty: &FieldType) -> DataType {
    match ty {
        FieldType::Bool => DataType::Boolean,
        FieldType::Int => DataType::Int64,
        FieldType::Decimal => DataType::Decimal128(38, SCALE as i8),
        FieldType::Date => DataType::Date32,
        // Enum values by name; a list of lists of scalars as JSON text.
        FieldType::String | FieldType::Enum(_) | FieldType::List(_) | FieldType::Record(_) => {
            DataType::Utf8
        }
    }
}

/// A decimal as a `Decimal128(38, 18)` integer, when it fits exactly.
fn decimal_units(d: Decimal) -> Option<i128> {
    const LIMIT: u128 = 100_000_000_000_000_000_000_000_000_000_000_000_000;
    let d = d.normalize();
    let shift = SCALE.checked_sub(d.scale())?;
    let units = d.mantissa().checked_mul(10i128.checked_pow(shift)?)?;
    (units.unsigned_abs() < LIMIT).then_some(units)
}

/// The first decimal of a row (and its lists) that `Decimal128(38, 18)` cannot hold:
/// its path and why.
fn check_decimals(
    layout: &Layout,
    t: usize,
    row: Row<'_>,
    path: &str,
) -> Result<(), (String, String)> {
    for n in nested_columns(layout, t) {
        let c = n.column();
        let here = if c.path.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{}", c.path)
        };
        match n {
            Nested::Plain(_) => {
                if let Some(Value::Decimal(d)) = row.value_at(&c.fields) {
                    if decimal_units(*d).is_none() {
                        return Err((here, format!("{d} does not fit DECIMAL(38,18): at most 20 digits before the point and 18 after")));
                    }
                }
            }
            Nested::List(c, child) => {
                for item in row.list_at(&c.fields).unwrap_or_default() {
                    check_decimals(layout, child, Row::of_item(item), &format!("{here}[]"))?;
                }
            }
        }
    }
    Ok(())
}

/// Builds the Arrow arrays of rows.
struct Build<'a> {
    schema: &'a Schema,
    layout: &'a Layout,
}

impl Build<'_> {
    /// The arrays of table `t`'s columns for `rows`.
    fn columns(&self, t: usize, rows: &[Row<'_>]) -> Result<Vec<ArrayRef>, ExportError> {
        nested_columns(self.layout, t)
            .into_iter()
            .map(|n| match n {
                Nested::Plain(c) => self.plain(c, rows.iter().map(|r| r.value_at(&c.fields))),
                Nested::List(c, child) => self.list(c, child, rows),
            })
            .collect()
    }

    /// A list column: per row its items (NULL when the list is absent).
    fn list(&self, c: &Column, child: usize, rows: &[Row<'_>]) -> Result<ArrayRef, ExportError> {
        let mut lengths = Vec::with_capacity(rows.len());
        let mut present = Vec::with_capacity(rows.len());
        let mut items = vec![];
        for r in rows {
            let list = r.list_at(&c.fields);
            present.push(list.is_some());
            let list = list.unwrap_or_default();
            lengths.push(list.len());
            items.extend(list.iter().map(Row::of_item));
        }
        let Some(table) = self.layout.tables.get(child) else {
            return Err(parquet_error("a list without its table"));
        };
        let values: ArrayRef = match table.columns.first().filter(|_| table.scalar.is_some()) {
            Some(value) => self.plain(value, items.iter().map(|r| r.value_at(&[])))?,
            None => Arc::new(
                StructArray::try_new_with_length(
                    arrow_fields(self.layout, child),
                    self.columns(child, &items)?,
                    None,
                    items.len(),
                )
                .map_err(parquet_error)?,
            ),
        };
        let offsets = OffsetBuffer::<i32>::try_from_lengths(lengths).map_err(parquet_error)?;
        let item = Arc::new(Field::new(ITEM, item_type(self.layout, child), true));
        let array = ListArray::try_new(item, offsets, values, Some(NullBuffer::from(present)))
            .map_err(parquet_error)?;
        Ok(Arc::new(array))
    }

    /// A plain column from its values (`None`: NULL).
    fn plain<'v>(
        &self,
        c: &Column,
        values: impl Iterator<Item = Option<&'v Value>>,
    ) -> Result<ArrayRef, ExportError> {
        let ty = match &c.kind {
            ColumnKind::Presence => {
                return Ok(Arc::new(
                    values.map(|v| v.map(|_| true)).collect::<BooleanArray>(),
                ))
            }
            ColumnKind::Scalar(ty) => ty,
        };
        Ok(match ty {
            FieldType::Bool => Arc::new(
                values
                    .map(|v| match v {
                        Some(Value::Bool(b)) => Some(*b),
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
            FieldType::Int => Arc::new(
                values
                    .map(|v| match v {
                        Some(Value::Int(i)) => Some(*i),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
            ),
            FieldType::Decimal => Arc::new(
                values
                    .map(|v| match v {
                        Some(Value::Decimal(d)) => decimal_units(*d),
                        _ => None,
                    })
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(38, SCALE as i8)
                    .map_err(parquet_error)?,
            ),
            FieldType::Date => Arc::new(
                values
                    .map(|v| match v {
                        Some(Value::Date(d)) => Some(days_since_epoch(*d)),
                        _ => None,
                    })
                    .collect::<Date32Array>(),
            ),
            FieldType::String | FieldType::Enum(_) | FieldType::List(_) | FieldType::Record(_) => {
                Arc::new(
                    values
                        .map(|v| v.map(|v| text(self.schema, v)))
                        .collect::<StringArray>(),
                )
            }
        })
    }
}

/// A text column's value: a text, an enum value's name, a list as JSON.
fn text(schema: &Schema, v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Enum(e, i) => schema.enum_value_name(*e, *i).to_string(),
        other => value_json(schema, other).to_string(),
    }
}

/// The epoch of `Date32`.
fn epoch() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// A date as `Date32`: days since 1970-01-01 (record dates are years 0 to 9999, well
/// within `i32`).
fn days_since_epoch(d: chrono::NaiveDate) -> i32 {
    i32::try_from((d - epoch()).num_days()).unwrap_or(i32::MIN)
}

/// What a column of the nested layout is, to read it back.
#[derive(Debug, Clone)]
enum Plan {
    /// An optional record's presence: true makes the record, even an empty one.
    Presence,
    /// A scalar field.
    Scalar(FieldType),
    /// A list whose items are the rows of this child table.
    List(usize),
}

/// One column to read back: its name in the file, the field names that lead to it
/// from the row, what it is.
#[derive(Debug, Clone)]
struct ColumnPlan {
    name: String,
    path: Vec<String>,
    plan: Plan,
}

/// The records of a Parquet file in the nested layout ([`export_parquet`]'s), as JSON
/// values to read as any record: a NULL is an absent field, a list's NULL an absent
/// list. Rows that do not have the layout's columns and types are errors, each its own;
/// a file that cannot be read past some row ends with one error.
pub struct ParquetRecords {
    /// Per table: its columns, lists nested.
    plans: Vec<Vec<ColumnPlan>>,
    /// Per table: the item type of a list of scalars.
    scalars: Vec<Option<FieldType>>,
    table: usize,
    subject: usize,
    reader: ParquetRecordBatchReader,
    batch: Option<StructArray>,
    row: usize,
    failed: bool,
}

impl ParquetRecords {
    /// Opens `file`; its subject kind is `subject` when given, else the one its
    /// metadata names, else the schema's only one.
    pub fn open(
        schema: &Schema,
        file: std::fs::File,
        subject: Option<&str>,
    ) -> Result<Self, ExportError> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
        let named = subject
            .map(str::to_string)
            .or_else(|| builder.schema().metadata().get(SUBJECT_KEY).cloned());
        let subject = match named {
            Some(n) => schema
                .subjects
                .iter()
                .position(|s| s.name == n)
                .ok_or(ExportError::UnknownSubject(n))?,
            None if schema.subjects.len() == 1 => 0,
            None => {
                return Err(ExportError::Parquet(
                    "the file does not say its subject kind: give it with --subject".into(),
                ))
            }
        };
        let layout = Layout::of(schema);
        let table = layout
            .subject_table(subject)
            .ok_or_else(|| parquet_error("no table for the subject kind"))?;
        let plans = (0..layout.tables.len())
            .map(|t| column_plans(schema, &layout, t))
            .collect();
        let scalars = layout.tables.iter().map(|t| t.scalar.clone()).collect();
        let reader = builder
            .with_batch_size(1024)
            .build()
            .map_err(parquet_error)?;
        Ok(ParquetRecords {
            plans,
            scalars,
            table,
            subject,
            reader,
            batch: None,
            row: 0,
            failed: false,
        })
    }

    /// The subject kind of the records (index in the schema).
    pub fn subject(&self) -> usize {
        self.subject
    }

    /// Row `i` of `rows`, a struct of table `t`'s columns, as a JSON object.
    fn object(
        &self,
        t: usize,
        rows: &StructArray,
        i: usize,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ExportError> {
        let mut out = serde_json::Map::new();
        for c in self.plans.get(t).map_or(&[][..], Vec::as_slice) {
            let array = rows
                .column_by_name(&c.name)
                .ok_or_else(|| ExportError::Parquet(format!("no column `{}`", c.name)))?;
            if array.is_null(i) {
                continue;
            }
            let value = match &c.plan {
                Plan::Presence => None,
                Plan::Scalar(ty) => Some(self.scalar(array, i, ty, &c.name)?),
                Plan::List(child) => Some(self.list(array, i, *child, &c.name)?),
            };
            insert(&mut out, &c.path, value, &c.name)?;
        }
        Ok(out)
    }

    /// The items of the list in row `i` of a list column.
    fn list(
        &self,
        array: &ArrayRef,
        i: usize,
        child: usize,
        name: &str,
    ) -> Result<serde_json::Value, ExportError> {
        let list = array
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| wrong_type(name, "a list", array))?;
        let items = list.value(i);
        let out: Result<Vec<serde_json::Value>, ExportError> =
            match self.scalars.get(child).cloned().flatten() {
                Some(ty) => (0..items.len())
                    .map(|j| self.scalar(&items, j, &ty, name))
                    .collect(),
                None => {
                    let rows = items
                        .as_any()
                        .downcast_ref::<StructArray>()
                        .ok_or_else(|| wrong_type(name, "a list of structs", &items))?;
                    (0..rows.len())
                        .map(|j| self.object(child, rows, j).map(serde_json::Value::Object))
                        .collect()
                }
            };
        out.map(serde_json::Value::Array)
    }

    /// The scalar in row `i` of a column, as a record gives it in JSON.
    fn scalar(
        &self,
        array: &ArrayRef,
        i: usize,
        ty: &FieldType,
        name: &str,
    ) -> Result<serde_json::Value, ExportError> {
        use serde_json::Value as J;
        if array.is_null(i) {
            return Ok(J::Null);
        }
        let any = array.as_any();
        let wrong = |what: &str| wrong_type(name, what, array);
        Ok(match ty {
            FieldType::Bool => J::Bool(
                any.downcast_ref::<BooleanArray>()
                    .ok_or_else(|| wrong("booleans"))?
                    .value(i),
            ),
            FieldType::Int => match (
                any.downcast_ref::<Int64Array>(),
                any.downcast_ref::<Int32Array>(),
            ) {
                (Some(a), _) => J::from(a.value(i)),
                (_, Some(a)) => J::from(a.value(i)),
                _ => return Err(wrong("whole numbers")),
            },
            FieldType::Decimal => {
                let a = any
                    .downcast_ref::<Decimal128Array>()
                    .ok_or_else(|| wrong("decimals"))?;
                let text = decimal_text(a.value(i), a.scale());
                serde_json::from_str::<serde_json::Number>(&text).map_or(J::String(text), J::Number)
            }
            FieldType::Date => {
                let days = any
                    .downcast_ref::<Date32Array>()
                    .ok_or_else(|| wrong("dates"))?
                    .value(i);
                let date = epoch()
                    .checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
                    .ok_or_else(|| wrong("dates"))?;
                J::String(date.format("%Y-%m-%d").to_string())
            }
            FieldType::String | FieldType::Enum(_) | FieldType::List(_) | FieldType::Record(_) => {
                let text = match (
                    any.downcast_ref::<StringArray>(),
                    any.downcast_ref::<LargeStringArray>(),
                ) {
                    (Some(a), _) => a.value(i),
                    (_, Some(a)) => a.value(i),
                    _ => return Err(wrong("text")),
                };
                match ty {
                    FieldType::List(_) | FieldType::Record(_) => serde_json::from_str(text)
                        .map_err(|e| ExportError::Parquet(format!("column `{name}`: {e}")))?,
                    _ => J::String(text.to_string()),
                }
            }
        })
    }
}

impl Iterator for ParquetRecords {
    type Item = Result<serde_json::Value, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            let i = self.row;
            if let Some(rows) = self.batch.as_ref().filter(|b| i < b.len()) {
                self.row += 1;
                return Some(
                    self.object(self.table, rows, i)
                        .map(serde_json::Value::Object),
                );
            }
            match self.reader.next()? {
                Ok(batch) => {
                    self.batch = Some(StructArray::from(batch));
                    self.row = 0;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(parquet_error(e)));
                }
            }
        }
    }
}

/// The columns of table `t` to read back, in the nested layout.
fn column_plans(schema: &Schema, layout: &Layout, t: usize) -> Vec<ColumnPlan> {
    let record = layout.tables.get(t).and_then(|table| table.record);
    nested_columns(layout, t)
        .into_iter()
        .map(|n| {
            let c = n.column();
            let plan = match (n, &c.kind) {
                (Nested::List(_, child), _) => Plan::List(child),
                (Nested::Plain(_), ColumnKind::Presence) => Plan::Presence,
                (Nested::Plain(_), ColumnKind::Scalar(ty)) => Plan::Scalar(ty.clone()),
            };
            ColumnPlan {
                name: c.name.clone(),
                path: record.map_or_else(Vec::new, |r| field_names(schema, r, &c.fields)),
                plan,
            }
        })
        .collect()
}

/// The names of the fields `fields` leads through from record type `record`.
fn field_names(schema: &Schema, mut record: RecordId, fields: &[usize]) -> Vec<String> {
    let mut names = vec![];
    for &f in fields {
        let Some(def) = schema.record(record).and_then(|d| d.field(f)) else {
            break;
        };
        names.push(def.name.clone());
        if let FieldType::Record(inner) = def.ty {
            record = inner;
        }
    }
    names
}

/// Puts `value` at `path` in `out`, making the records on the way; `None` makes the
/// record at `path` itself (a presence).
fn insert(
    out: &mut serde_json::Map<String, serde_json::Value>,
    path: &[String],
    value: Option<serde_json::Value>,
    column: &str,
) -> Result<(), ExportError> {
    let Some((last, on_the_way)) = path.split_last() else {
        return Ok(());
    };
    let mut map = out;
    for name in on_the_way {
        let entry = map
            .entry(name.clone())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        let serde_json::Value::Object(inner) = entry else {
            return Err(ExportError::Parquet(format!(
                "column `{column}`: `{name}` is both a value and a record"
            )));
        };
        map = inner;
    }
    match value {
        Some(v) => {
            map.insert(last.clone(), v);
        }
        None => {
            map.entry(last.clone())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        }
    }
    Ok(())
}

/// The error of a column of another type than the layout's.
fn wrong_type(column: &str, expected: &str, found: &ArrayRef) -> ExportError {
    ExportError::Parquet(format!(
        "column `{column}`: expected {expected}, found {}",
        found.data_type()
    ))
}

/// A `Decimal128` value of `scale` as exact decimal text, without trailing zeros.
fn decimal_text(units: i128, scale: i8) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let digits = units.unsigned_abs().to_string();
    if units == 0 {
        return "0".into();
    }
    let Ok(scale) = usize::try_from(scale) else {
        let zeros = "0".repeat(usize::from(scale.unsigned_abs()));
        return format!("{sign}{digits}{zeros}");
    };
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let Some((whole, fraction)) = padded.split_at_checked(padded.len() - scale) else {
        return format!("{sign}{digits}");
    };
    match fraction.trim_end_matches('0') {
        "" => format!("{sign}{whole}"),
        f => format!("{sign}{whole}.{f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_fit_or_say_not() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(decimal_units(d("1.50")), Some(1_500_000_000_000_000_000));
        assert_eq!(decimal_units(d("-0.000000000000000001")), Some(-1));
        assert_eq!(decimal_units(d("0.0000000000000000001")), None);
        assert!(decimal_units(d("99999999999999999999")).is_some());
        assert_eq!(decimal_units(d("100000000000000000000")), None);
        assert_eq!(decimal_text(1_500_000_000_000_000_000, 18), "1.5");
        assert_eq!(decimal_text(-1, 18), "-0.000000000000000001");
        assert_eq!(decimal_text(0, 18), "0");
        assert_eq!(decimal_text(12, -2), "1200");
        assert_eq!(decimal_text(695_868_000_000_000_000_000_000, 18), "695868");
    }
}
