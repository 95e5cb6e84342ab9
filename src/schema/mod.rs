//! The record schema: every field a rule set may read, with its type, whether it is
//! required, optional or defaulted, its enum values and whether it is sensitive.
//!
//! Read from YAML (`schema.yaml` in a rules directory). YAML reading is confined to
//! [`Schema::from_yaml`] so the format library can be swapped.

use crate::value::{EnumId, Value};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// Index of a record type in the schema.
pub type RecordId = usize;

/// The type of a field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// true / false
    Bool,
    /// whole number
    Int,
    /// exact decimal
    Decimal,
    /// text
    String,
    /// calendar date
    Date,
    /// one of an enum's values
    Enum(EnumId),
    /// a list
    List(Box<FieldType>),
    /// a nested record
    Record(RecordId),
}

/// What an absent or null field means.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    /// Every subject has it: absent is missing data (unknown).
    Required,
    /// It may legitimately not exist: absent is a known "none".
    Optional,
    /// Absent takes this value.
    Default(Value),
}

/// One field of a record type.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// Its key in the record.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
    /// Required, optional or defaulted.
    pub presence: Presence,
    /// Masked in traces, logs and errors.
    pub sensitive: bool,
    /// Used only by bundle forms.
    pub display: bool,
    /// No one can change it (a date of birth, a place of birth): a near miss on a
    /// clause that reads only such fields is reported as not changeable
    /// (`mianshen run --near-miss`). `fixed: true` in the schema.
    pub fixed: bool,
    /// Shown unmasked on visit lists (`mianshen run --visits-by`): what a grid worker
    /// needs to find the person (a name, an address), even when `sensitive`.
    /// `contact: true` in the schema.
    pub contact: bool,
    /// Declared bounds for numbers.
    pub range: Option<(Decimal, Decimal)>,
    /// The schema's `doc:` text for the field (`姓名`), if written.
    pub doc: Option<String>,
}

/// A record type: a fixed list of fields.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDef {
    /// Schema path of the record (`social_insurance.unemployment`, `enterprise.hires[]`).
    pub path: String,
    /// Its fields, in declaration order (the slot layout of records).
    pub fields: Vec<FieldDef>,
    /// For list items: the field whose value names the item in paths.
    pub key: Option<usize>,
    by_name: HashMap<String, usize>,
}

impl RecordDef {
    /// The index of a field.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        // Records are small: a scan beats hashing the key.
        if self.fields.len() <= 24 {
            return self.fields.iter().position(|f| f.name == name);
        }
        self.by_name.get(name).copied()
    }

    /// The field with this index.
    pub fn field(&self, index: usize) -> Option<&FieldDef> {
        self.fields.get(index)
    }

    /// The field with this name, and its index.
    pub fn field_named(&self, name: &str) -> Option<(usize, &FieldDef)> {
        let index = self.field_index(name)?;
        Some((index, self.fields.get(index)?))
    }
}

/// An enum type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    /// The enum type's name, as field types name it (`gender`).
    pub name: String,
    /// Its values, in order.
    pub values: Vec<String>,
    /// Display labels of the values (for forms), where the schema gives them.
    pub labels: Vec<Option<String>>,
}

impl EnumDef {
    /// The index of a value.
    pub fn index(&self, value: &str) -> Option<u16> {
        self.values
            .iter()
            .position(|v| v == value)
            .and_then(|i| u16::try_from(i).ok())
    }
}

/// A subject kind (person, enterprise): the root record of its records.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectDef {
    /// The subject kind's name, as `subject` names it (`person`).
    pub name: String,
    /// The record type of the subject's whole record.
    pub root: RecordId,
    /// Field indexes leading to the subject's id.
    pub id_path: Vec<usize>,
    /// A top-level key that reported paths are relative to (`enterprise`), if any.
    pub paths_from: Option<usize>,
}

/// The record schema of a rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Enum types, indexed by [`crate::value::EnumId`].
    pub enums: Vec<EnumDef>,
    /// Record types; subjects' roots among them.
    pub records: Vec<RecordDef>,
    /// Subject kinds, in schema order; a policy's `subject` indexes them.
    pub subjects: Vec<SubjectDef>,
    /// The plausible dates (inclusive): a record's date outside them is an error.
    /// Set by the schema's top-level `dates: {min: …, max: …}`; by default
    /// 1900-01-01 to 2100-12-31.
    pub dates: (chrono::NaiveDate, chrono::NaiveDate),
}

/// The default plausible range of record dates.
pub fn default_dates() -> (chrono::NaiveDate, chrono::NaiveDate) {
    (
        chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default(),
        chrono::NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or_default(),
    )
}

/// A schema file that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("schema: {message} (at `{path}`)")]
pub struct SchemaError {
    /// Where in the schema (a dotted path of its keys).
    pub path: String,
    /// What is wrong, in words for the author of the schema.
    pub message: String,
}

/// An enum value: `value`, or `value: 显示名` to give the label forms show.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawEnumValue {
    Plain(String),
    Labeled(IndexMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default)]
    enums: IndexMap<String, Vec<RawEnumValue>>,
    subjects: IndexMap<String, RawSubject>,
    #[serde(default)]
    dates: Option<RawDates>,
}

/// `dates: {min: 1900-01-01, max: 2100-12-31}`: the plausible dates of records.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDates {
    min: Option<String>,
    max: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubject {
    id: String,
    #[serde(default)]
    paths_from: Option<String>,
    #[serde(default)]
    doc: Option<String>,
    fields: IndexMap<String, RawField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawField {
    Short(String),
    Full(Box<RawFieldFull>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFieldFull {
    #[serde(rename = "type")]
    ty: Option<String>,
    fields: Option<IndexMap<String, RawField>>,
    items: Option<RawItems>,
    default: Option<serde_yaml::Value>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    display: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    fixed: bool,
    #[serde(default)]
    contact: bool,
    range: Option<(serde_yaml::Value, serde_yaml::Value)>,
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItems {
    key: Option<String>,
    fields: IndexMap<String, RawField>,
    #[serde(default)]
    doc: Option<String>,
}

impl Schema {
    /// Reads a schema from YAML text.
    pub fn from_yaml(text: &str) -> Result<Schema, SchemaError> {
        let raw: RawSchema = serde_yaml::from_str(text).map_err(|e| SchemaError {
            path: e.location().map_or_else(String::new, |l| {
                format!("line {}, column {}", l.line(), l.column())
            }),
            message: e.to_string(),
        })?;
        let mut schema = Schema {
            enums: raw
                .enums
                .into_iter()
                .map(|(name, raw_values)| {
                    let mut values = vec![];
                    let mut labels = vec![];
                    for v in raw_values {
                        match v {
                            RawEnumValue::Plain(s) => {
                                values.push(s);
                                labels.push(None);
                            }
                            RawEnumValue::Labeled(m) => {
                                for (k, l) in m {
                                    values.push(k);
                                    labels.push(Some(l));
                                }
                            }
                        }
                    }
                    EnumDef {
                        name,
                        values,
                        labels,
                    }
                })
                .collect(),
            records: vec![],
            subjects: vec![],
            dates: default_dates(),
        };
        if let Some(d) = &raw.dates {
            let bound = |name: &str, text: &Option<String>, default| match text {
                None => Ok(default),
                Some(t) => parse_date(t).ok_or_else(|| SchemaError {
                    path: format!("dates.{name}"),
                    message: format!("`{t}` is not a date (YYYY-MM-DD)"),
                }),
            };
            let (lo, hi) = default_dates();
            schema.dates = (bound("min", &d.min, lo)?, bound("max", &d.max, hi)?);
            if schema.dates.0 > schema.dates.1 {
                return Err(SchemaError {
                    path: "dates".into(),
                    message: "`min` is after `max`".into(),
                });
            }
        }
        for (name, subject) in raw.subjects {
            let _ = subject.doc;
            let root = schema.add_record(&name, String::new(), &subject.fields, None)?;
            let mut id_path = vec![];
            let mut rec = root;
            for (i, part) in subject.id.split('.').enumerate() {
                let err = || SchemaError {
                    path: format!("subjects.{name}.id"),
                    message: format!("`{}` is not a field path of this subject", subject.id),
                };
                let def = schema.record(rec).ok_or_else(err)?;
                let idx = def.field_index(part).ok_or_else(err)?;
                id_path.push(idx);
                match &def.field(idx).ok_or_else(err)?.ty {
                    FieldType::Record(r) => rec = *r,
                    FieldType::String if i + 1 == subject.id.split('.').count() => {}
                    _ => return Err(err()),
                }
            }
            let paths_from = match subject.paths_from {
                Some(key) => Some(
                    schema
                        .record(root)
                        .and_then(|r| r.field_index(&key))
                        .ok_or_else(|| SchemaError {
                            path: format!("subjects.{name}.paths_from"),
                            message: format!("`{key}` is not a top-level field of this subject"),
                        })?,
                ),
                None => None,
            };
            schema.subjects.push(SubjectDef {
                name,
                root,
                id_path,
                paths_from,
            });
        }
        Ok(schema)
    }

    fn add_record(
        &mut self,
        subject: &str,
        path: String,
        fields: &IndexMap<String, RawField>,
        key: Option<&str>,
    ) -> Result<RecordId, SchemaError> {
        let id = self.records.len();
        self.records.push(RecordDef {
            path: path.clone(),
            fields: vec![],
            key: None,
            by_name: HashMap::new(),
        });
        let mut defs = vec![];
        for (name, raw) in fields {
            let fpath = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            defs.push(self.field(subject, fpath, name, raw)?);
        }
        let by_name = defs
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect::<HashMap<_, _>>();
        let key = match key {
            Some(k) => Some(*by_name.get(k).ok_or_else(|| SchemaError {
                path: path.clone(),
                message: format!("item key `{k}` is not a field of the item"),
            })?),
            None => None,
        };
        let rec = self.records.get_mut(id).ok_or_else(|| SchemaError {
            path: path.clone(),
            message: "internal error: a record type was lost while reading the schema".into(),
        })?;
        rec.fields = defs;
        rec.by_name = by_name;
        rec.key = key;
        Ok(id)
    }

    fn field(
        &mut self,
        subject: &str,
        path: String,
        name: &str,
        raw: &RawField,
    ) -> Result<FieldDef, SchemaError> {
        let short;
        let full: &RawFieldFull = match raw {
            RawField::Short(t) => {
                short = RawFieldFull {
                    ty: Some(t.clone()),
                    ..RawFieldFull::default()
                };
                &short
            }
            RawField::Full(f) => f,
        };
        let err = |message: String| SchemaError {
            path: path.clone(),
            message,
        };
        let ty = match (&full.ty, &full.fields, &full.items) {
            (Some(t), None, None) => self.parse_type(t).map_err(err)?,
            (None, Some(fields), None) => {
                FieldType::Record(self.add_record(subject, path.clone(), fields, None)?)
            }
            (None, None, Some(items)) => {
                let _ = &items.doc;
                let rec =
                    self.add_record(subject, format!("{path}[]"), &items.fields, items.key.as_deref())?;
                FieldType::List(Box::new(FieldType::Record(rec)))
            }
            _ => {
                return Err(err(
                    "a field has exactly one of `type`, `fields` (a record) or `items` (a list of records)"
                        .into(),
                ))
            }
        };
        let presence = match (&full.default, full.optional || full.display) {
            (Some(d), _) => Presence::Default(
                self.default_value(&ty, d)
                    .map_err(|m| err(format!("default: {m}")))?,
            ),
            (None, true) => Presence::Optional,
            (None, false) => Presence::Required,
        };
        let range = match &full.range {
            Some((lo, hi)) => {
                let num = |v: &serde_yaml::Value| {
                    yaml_scalar_text(v).and_then(|s| Decimal::from_str(&s).ok())
                };
                match (num(lo), num(hi)) {
                    (Some(a), Some(b)) if a <= b => Some((a, b)),
                    _ => return Err(err("range is written [min, max] with min <= max".into())),
                }
            }
            None => None,
        };
        Ok(FieldDef {
            name: name.to_string(),
            ty,
            presence,
            sensitive: full.sensitive,
            display: full.display,
            fixed: full.fixed,
            contact: full.contact,
            range,
            doc: full.doc.clone(),
        })
    }

    fn parse_type(&self, t: &str) -> Result<FieldType, String> {
        let t = t.trim();
        if let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            return Ok(FieldType::List(Box::new(self.parse_type(inner)?)));
        }
        Ok(match t {
            "bool" => FieldType::Bool,
            "int" => FieldType::Int,
            "decimal" => FieldType::Decimal,
            "string" => FieldType::String,
            "date" => FieldType::Date,
            other => FieldType::Enum(self.enum_id(other).ok_or_else(|| {
                format!("unknown type `{other}`: use bool, int, decimal, string, date, list<T> or an enum declared under `enums`")
            })?),
        })
    }

    fn default_value(&self, ty: &FieldType, v: &serde_yaml::Value) -> Result<Value, String> {
        if let (FieldType::List(_), serde_yaml::Value::Sequence(s)) = (ty, v) {
            if s.is_empty() {
                return Ok(Value::List(Arc::from(Vec::new())));
            }
            return Err("only an empty list can be a list default".into());
        }
        let text = yaml_scalar_text(v).ok_or("a default is a plain value")?;
        scalar_from_text(self, ty, &text).map_err(|e| e.to_string())
    }

    /// The id of an enum type.
    pub fn enum_id(&self, name: &str) -> Option<EnumId> {
        self.enums
            .iter()
            .position(|e| e.name == name)
            .and_then(|i| EnumId::try_from(i).ok())
    }

    /// The record type with this id.
    pub fn record(&self, id: RecordId) -> Option<&RecordDef> {
        self.records.get(id)
    }

    /// The enum type with this id.
    pub fn enum_def(&self, id: EnumId) -> Option<&EnumDef> {
        self.enums.get(usize::from(id))
    }

    /// The subject kind with this name.
    pub fn subject(&self, name: &str) -> Option<&SubjectDef> {
        self.subjects.iter().find(|s| s.name == name)
    }

    /// The name of an enum value.
    pub fn enum_value_name(&self, ty: EnumId, index: u16) -> &str {
        self.enums
            .get(usize::from(ty))
            .and_then(|e| e.values.get(usize::from(index)))
            .map_or("?", |s| s.as_str())
    }

    /// The display label of an enum value (its name when the schema gives none).
    pub fn enum_value_label(&self, ty: EnumId, index: u16) -> &str {
        self.enums
            .get(usize::from(ty))
            .and_then(|e| e.labels.get(usize::from(index)))
            .and_then(|l| l.as_deref())
            .unwrap_or_else(|| self.enum_value_name(ty, index))
    }

    /// Describes a type for messages.
    pub fn type_name(&self, ty: &FieldType) -> String {
        match ty {
            FieldType::Bool => "bool".into(),
            FieldType::Int => "int".into(),
            FieldType::Decimal => "decimal".into(),
            FieldType::String => "string".into(),
            FieldType::Date => "date".into(),
            FieldType::Enum(e) => self
                .enums
                .get(usize::from(*e))
                .map_or("enum".into(), |d| d.name.clone()),
            FieldType::List(t) => format!("list<{}>", self.type_name(t)),
            FieldType::Record(r) => {
                let p = self.record(*r).map_or("", |d| d.path.as_str());
                if p.is_empty() {
                    "record".into()
                } else {
                    format!("record `{p}`")
                }
            }
        }
    }
}

/// The text of a YAML scalar.
pub(crate) fn yaml_scalar_text(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Why a text is not a value of a field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScalarError {
    /// Not a value of the type at all (`1990-02-30`, `m` for an enum of `male, female`).
    #[error("{0}")]
    Invalid(String),
    /// A date outside the schema's plausible dates.
    #[error("{0}")]
    Implausible(String),
}

/// Reads a scalar of a field type from its text.
pub(crate) fn scalar_from_text(
    schema: &Schema,
    ty: &FieldType,
    text: &str,
) -> Result<Value, ScalarError> {
    let invalid = ScalarError::Invalid;
    Ok(match ty {
        FieldType::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid(format!("`{text}` is not true or false"))),
        },
        FieldType::Int => Value::Int(
            text.parse()
                .map_err(|_| invalid(format!("`{text}` is not a whole number")))?,
        ),
        FieldType::Decimal => Value::Decimal(
            Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .map_err(|_| invalid(format!("`{text}` is not a decimal number")))?,
        ),
        FieldType::String => Value::Str(Arc::from(text)),
        FieldType::Date => {
            let d = parse_date(text)
                .ok_or_else(|| invalid(format!("`{text}` is not a date (YYYY-MM-DD)")))?;
            let (lo, hi) = schema.dates;
            if d < lo || d > hi {
                return Err(ScalarError::Implausible(date_out_of_range(text, schema)));
            }
            Value::Date(d)
        }
        FieldType::Enum(e) => {
            let def = schema.enum_def(*e).ok_or_else(|| {
                invalid(format!(
                    "`{text}` is not a value of an enum the schema declares"
                ))
            })?;
            Value::Enum(
                *e,
                def.index(text).ok_or_else(|| {
                    invalid(format!(
                        "`{text}` is not a value of {}: one of {}",
                        def.name,
                        def.values.join(", ")
                    ))
                })?,
            )
        }
        FieldType::List(_) | FieldType::Record(_) => {
            return Err(invalid(
                "expected a list or a record, not a plain value".into(),
            ))
        }
    })
}

/// The error of a date outside the schema's plausible range.
pub(crate) fn date_out_of_range(text: &str, schema: &Schema) -> String {
    let (lo, hi) = schema.dates;
    format!("`{text}` is outside the plausible dates {lo} ..= {hi} (the schema's `dates`)")
}

/// Parses `YYYY-MM-DD` (exactly that shape) into a calendar date.
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    let (y, m, d) = date_digits(text)?;
    chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// The year, month and day digits of `YYYY-MM-DD` (not checked against the calendar).
pub fn date_digits(text: &str) -> Option<(u32, u32, u32)> {
    let b = text.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    // At most four digits: no overflow.
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    Some((num(0..4)?, num(5..7)?, num(8..10)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_digits_take_exactly_the_iso_shape() {
        assert_eq!(date_digits("2025-02-28"), Some((2025, 2, 28)));
        for bad in [
            "",
            "2025-2-28",
            "2025/02/28",
            "20250-2-28",
            "2025-02-2é",
            "年年-02-28",
        ] {
            assert_eq!(date_digits(bad), None, "{bad}");
        }
    }
}
