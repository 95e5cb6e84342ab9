//! Reading records (JSON or YAML) into the schema's slot layout.
//!
//! Every field is normalised here once: a default applied, an optional field's
//! absence turned into a known "none", a required field's absence into "missing".
//! Values of the wrong type and unknown enum values are errors that name the record
//! and the path. Keys the schema does not declare are ignored: records come from
//! registers that hold more than a rule set reads.

pub mod fast;

use crate::schema::{scalar_from_text, FieldType, Presence, RecordId, Schema};
use crate::value::{RecordNode, Slot, Value};
use std::sync::Arc;

/// A record read against the schema, ready for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Index of its subject kind in the schema.
    pub subject: usize,
    /// The subject's id, when the record has one.
    pub id: Option<String>,
    /// The root record.
    pub root: Arc<RecordNode>,
}

/// A record that does not fit the schema.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("record {record}: {path}: {message}")]
pub struct RecordError {
    /// The record's id, or a description of where it came from.
    pub record: String,
    /// The schema path of the offending value (empty for the whole record).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Which subject kind a record is: the given one, or the one whose top-level keys it
/// uses (an enterprise record has the key `enterprise`).
pub fn detect_subject(
    schema: &Schema,
    value: &serde_json::Value,
    given: Option<&str>,
) -> Result<usize, String> {
    if let Some(name) = given {
        return schema
            .subjects
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| {
                let known: Vec<_> = schema.subjects.iter().map(|s| s.name.as_str()).collect();
                format!("unknown subject kind `{name}`: one of {}", known.join(", "))
            });
    }
    let serde_json::Value::Object(map) = value else {
        return Err("a record is a mapping of field names to values".into());
    };
    let mut best = None;
    let mut best_hits = 0;
    for (i, s) in schema.subjects.iter().enumerate() {
        let root = &schema.records[s.root];
        let hits = map.keys().filter(|k| root.field_index(k).is_some()).count();
        if hits > best_hits {
            best_hits = hits;
            best = Some(i);
        }
    }
    best.ok_or_else(|| {
        "cannot tell the subject kind from the record's keys: give it with --subject".into()
    })
}

/// Reads a JSON value as a record of subject kind `subject`.
pub fn read_record(
    schema: &Schema,
    subject: usize,
    value: &serde_json::Value,
) -> Result<Record, RecordError> {
    let def = &schema.subjects[subject];
    let mut reader = Reader {
        schema,
        record: String::from("(no id)"),
    };
    // Find the id first so every error can name the record.
    let mut id = None;
    let mut cursor = value;
    let mut rec = def.root;
    for &idx in &def.id_path {
        let field = &schema.records[rec].fields[idx];
        match cursor.get(&field.name) {
            Some(v) => cursor = v,
            None => {
                cursor = &serde_json::Value::Null;
                break;
            }
        }
        if let FieldType::Record(r) = field.ty {
            rec = r;
        }
    }
    let id_text = match cursor {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(s) = id_text {
        id = Some(s.clone());
        reader.record = s;
    }
    let root = reader.record_node(def.root, value, Arc::from(""), "", def.paths_from)?;
    Ok(Record { subject, id, root })
}

struct Reader<'a> {
    schema: &'a Schema,
    record: String,
}

impl Reader<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> RecordError {
        RecordError {
            record: self.record.clone(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// `path` is the reported path of this record; `full` the full path for errors.
    fn record_node(
        &self,
        rec: RecordId,
        value: &serde_json::Value,
        path: Arc<str>,
        full: &str,
        paths_from: Option<usize>,
    ) -> Result<Arc<RecordNode>, RecordError> {
        let def = &self.schema.records[rec];
        let map = match value {
            serde_json::Value::Object(m) => Some(m),
            serde_json::Value::Null => None,
            _ => {
                return Err(self.err(
                    full,
                    format!("expected a mapping of fields, found {}", json_kind(value)),
                ))
            }
        };
        let mut fields = Vec::with_capacity(def.fields.len());
        for (i, f) in def.fields.iter().enumerate() {
            let fpath_full = join(full, &f.name);
            let child_path: Arc<str> = if paths_from == Some(i) {
                Arc::from("")
            } else {
                Arc::from(join(&path, &f.name))
            };
            let raw = map
                .and_then(|m| m.get(&f.name))
                .unwrap_or(&serde_json::Value::Null);
            let slot = if raw.is_null() {
                match (&f.presence, &f.ty) {
                    (Presence::Default(v), _) => Slot::Value(v.clone()),
                    // An absent plain record is read as an empty one, so that each of
                    // its fields takes its own default or is missing on its own.
                    (Presence::Required, FieldType::Record(r)) => Slot::Value(Value::Record(
                        self.record_node(*r, raw, child_path, &fpath_full, None)?,
                    )),
                    (Presence::Required, _) => Slot::Missing,
                    (Presence::Optional, _) => Slot::None,
                }
            } else {
                let v = self.value(&f.ty, raw, child_path, &fpath_full);
                Slot::Value(match v {
                    // A sensitive value is never repeated in a message.
                    Err(e) if f.sensitive => {
                        return Err(self.err(
                            &e.path,
                            format!(
                                "not a valid {} (value withheld: the field is sensitive)",
                                self.schema.type_name(&f.ty)
                            ),
                        ))
                    }
                    other => {
                        let v = other?;
                        if let (Some((lo, hi)), Some(x)) = (f.range, v.as_decimal()) {
                            if x < lo || x > hi {
                                let shown = if f.sensitive {
                                    "the value".to_string()
                                } else {
                                    x.to_string()
                                };
                                return Err(self.err(
                                    &fpath_full,
                                    format!("{shown} is outside the declared range {lo} ..= {hi}"),
                                ));
                            }
                        }
                        v
                    }
                })
            };
            fields.push(slot);
        }
        Ok(Arc::new(RecordNode {
            path,
            fields: fields.into_boxed_slice(),
        }))
    }

    fn value(
        &self,
        ty: &FieldType,
        raw: &serde_json::Value,
        path: Arc<str>,
        full: &str,
    ) -> Result<Value, RecordError> {
        match ty {
            FieldType::Record(r) => Ok(Value::Record(self.record_node(*r, raw, path, full, None)?)),
            FieldType::List(elem) => {
                let serde_json::Value::Array(items) = raw else {
                    return Err(
                        self.err(full, format!("expected a list, found {}", json_kind(raw)))
                    );
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ifull = format!("{full}[{i}]");
                    if item.is_null() {
                        return Err(self.err(&ifull, "a list item cannot be null"));
                    }
                    let v = match &**elem {
                        FieldType::Record(r) => {
                            let def = &self.schema.records[*r];
                            let name = def
                                .key
                                .and_then(|k| item.get(&def.fields[k].name))
                                .and_then(|k| match k {
                                    serde_json::Value::String(s) => Some(s.clone()),
                                    serde_json::Value::Number(n) => Some(n.to_string()),
                                    _ => None,
                                })
                                .unwrap_or_else(|| i.to_string());
                            let ipath: Arc<str> = Arc::from(format!("{path}[{name}]"));
                            Value::Record(self.record_node(*r, item, ipath, &ifull, None)?)
                        }
                        other => self.value(other, item, path.clone(), &ifull)?,
                    };
                    out.push(v);
                }
                Ok(Value::List(Arc::from(out)))
            }
            scalar => {
                let text = match (scalar, raw) {
                    (FieldType::Bool, serde_json::Value::Bool(b)) => b.to_string(),
                    (FieldType::Int | FieldType::Decimal, serde_json::Value::Number(n)) => {
                        n.to_string()
                    }
                    // Money often travels as a string to keep it exact.
                    (FieldType::Decimal, serde_json::Value::String(s)) => s.clone(),
                    (
                        FieldType::String | FieldType::Date | FieldType::Enum(_),
                        serde_json::Value::String(s),
                    ) => s.clone(),
                    // Identifiers written as numbers in YAML are still text.
                    (FieldType::String, serde_json::Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(self.err(
                            full,
                            format!(
                                "expected {}, found {}",
                                self.schema.type_name(scalar),
                                json_kind(raw)
                            ),
                        ))
                    }
                };
                scalar_from_text(self.schema, scalar, &text).map_err(|m| self.err(full, m))
            }
        }
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "true/false",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "text",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// Converts a YAML value into JSON, keeping numbers exact (their text is reused).
pub fn yaml_to_json(v: &serde_yaml::Value) -> serde_json::Value {
    match v {
        serde_yaml::Value::Null => serde_json::Value::Null,
        serde_yaml::Value::Bool(b) => serde_json::Value::Bool(*b),
        serde_yaml::Value::Number(n) => serde_json::from_str::<serde_json::Number>(&n.to_string())
            .map(serde_json::Value::Number)
            .unwrap_or_else(|_| serde_json::Value::String(n.to_string())),
        serde_yaml::Value::String(s) => serde_json::Value::String(s.clone()),
        serde_yaml::Value::Sequence(s) => {
            serde_json::Value::Array(s.iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .filter_map(|(k, v)| {
                    crate::schema::yaml_scalar_text(k).map(|k| (k, yaml_to_json(v)))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(t) => yaml_to_json(&t.value),
    }
}

/// Builds a record from flat `(dotted.path, text)` pairs (a CSV row), converting each
/// text to the field's type. Empty cells are absent. A cell of a list field holds the
/// list as JSON. Columns the schema does not know are kept as text (and ignored).
pub fn from_flat(
    schema: &Schema,
    subject: usize,
    cells: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let root = schema.subjects[subject].root;
    let mut out = serde_json::Map::new();
    for (path, text) in cells {
        if text.is_empty() {
            continue;
        }
        let parts: Vec<&str> = path.split('.').collect();
        // Find the field's type along the path.
        let mut rec = Some(root);
        let mut ty = None;
        for (i, p) in parts.iter().enumerate() {
            let Some(r) = rec else { break };
            let def = &schema.records[r];
            match def.field_index(p) {
                Some(fi) => {
                    let f = &def.fields[fi];
                    if i + 1 == parts.len() {
                        ty = Some(f.ty.clone());
                    }
                    rec = match &f.ty {
                        FieldType::Record(r) => Some(*r),
                        _ => None,
                    };
                }
                None => rec = None,
            }
        }
        let value = match ty {
            Some(FieldType::Bool) => match *text {
                "true" | "1" => serde_json::Value::Bool(true),
                "false" | "0" => serde_json::Value::Bool(false),
                other => return Err(format!("{path}: `{other}` is not true or false")),
            },
            Some(FieldType::Int) => serde_json::from_str::<serde_json::Number>(text)
                .map(serde_json::Value::Number)
                .map_err(|_| format!("{path}: `{text}` is not a whole number"))?,
            Some(FieldType::List(_)) | Some(FieldType::Record(_)) => serde_json::from_str(text)
                .map_err(|e| format!("{path}: a list or record cell holds JSON: {e}"))?,
            _ => serde_json::Value::String(text.to_string()),
        };
        let mut map = &mut out;
        for p in &parts[..parts.len() - 1] {
            let entry = map
                .entry(p.to_string())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                return Err(format!("{path}: `{p}` is both a value and a record"));
            }
            let serde_json::Value::Object(m) = entry else {
                return Err(format!("{path}: `{p}` is both a value and a record"));
            };
            map = m;
        }
        map.insert(parts[parts.len() - 1].to_string(), value);
    }
    Ok(serde_json::Value::Object(out))
}
