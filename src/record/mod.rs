//! Reading records (JSON or YAML) into the schema's slot layout.
//!
//! Every field is normalised here once: a default applied, an optional field's
//! absence turned into a known "none", a required field's absence into "missing".
//! Values of the wrong type and unknown enum values are errors that name the record
//! and the path. The reading is strict by default: a key the schema does not declare
//! is an error (with a "did you mean"), so is a key given twice ([`parse_json`]), a
//! record of another subject kind than the one asked for, and a date outside the
//! schema's plausible range. [`ReadOptions::lenient`] accepts undeclared keys and
//! reports their paths instead.
//!
//! This reader is the one judgment of what a record is: the batch's fast readers
//! accept only records this reader accepts, and refuse anything else back to it.

pub mod fast;

use crate::schema::{scalar_from_text, FieldType, Presence, RecordId, ScalarError, Schema};
use crate::value::{RecordNode, Slot, Value};
use serde::de::DeserializeSeed;
use std::sync::Arc;

/// A record read against a rule set's schema, ready to be decided: every field
/// normalised once (defaults applied, an optional field's absence a known "none", a
/// required field's absence "missing").
///
/// Read one with [`RuleSet::read_json`](crate::RuleSet::read_json) (or `read_yaml`,
/// `read_value`); its subject kind is [`RuleSet::subject_of`](crate::RuleSet::subject_of).
/// A record belongs to the rule set that read it: decide it with that rule set only.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Index of its subject kind in the schema.
    pub(crate) subject: usize,
    /// The subject's id (the field the schema names as the subject's `id`), when the
    /// record has one.
    pub id: Option<String>,
    /// The root record.
    pub(crate) root: Arc<RecordNode>,
}

impl Record {
    /// Not part of the API: the index of the record's subject kind in the schema.
    #[doc(hidden)]
    #[cfg(not(mianshen_api_only))]
    pub fn subject_index(&self) -> usize {
        self.subject
    }
}

/// How records are read: strict or lenient about undeclared keys, and the limits of a
/// record's text. The default is strict, 16 MiB and 64 levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Accept keys the schema does not declare: they are not read, and their paths are
    /// reported ([`RuleSet::read_json_with`](crate::RuleSet::read_json_with)). Strict
    /// (`false`) by default.
    pub lenient: bool,
    /// The longest record text, in bytes (a JSON line, a record file).
    pub max_bytes: usize,
    /// The deepest nesting of mappings and lists in a record's text.
    pub max_depth: usize,
}

/// Default of [`ReadOptions::max_bytes`]: 16 MiB.
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;
/// Default of [`ReadOptions::max_depth`]: 64 (and never more than 127, the most
/// `serde_json` reads).
pub const DEFAULT_MAX_DEPTH: usize = 64;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            lenient: false,
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// The error of a record text longer than [`ReadOptions::max_bytes`].
pub fn too_long(len: usize, options: &ReadOptions) -> RecordError {
    RecordError::whole(
        RecordErrorKind::TooLarge,
        format!(
            "the record is {len} bytes long, over the limit of {} bytes (raise it with --max-record-bytes)",
            options.max_bytes
        ),
    )
}

/// Parses a record's JSON text: a key given twice is an error (a JSON object with a
/// repeated key would otherwise keep the last value silently), so is nesting deeper
/// than [`ReadOptions::max_depth`] and text longer than [`ReadOptions::max_bytes`].
pub fn parse_json(text: &str, options: &ReadOptions) -> Result<serde_json::Value, RecordError> {
    if text.len() > options.max_bytes {
        return Err(too_long(text.len(), options));
    }
    let found = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let checked = Shape {
        path: String::new(),
        depth: 0,
        max_depth: options.max_depth.min(127),
        found: &found,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Err(e) = checked {
        return Err(match found.into_inner() {
            Some((path, kind, message)) => RecordError {
                kind,
                record: "(no id)".into(),
                path,
                message: format!("{message} (line {}, column {})", e.line(), e.column()),
            },
            None => RecordError::whole(RecordErrorKind::Syntax, format!("not valid JSON: {e}")),
        });
    }
    serde_json::from_str(text)
        .map_err(|e| RecordError::whole(RecordErrorKind::Syntax, format!("not valid JSON: {e}")))
}

/// Parses a record's YAML text (a key given twice is an error of the YAML reader), with
/// the limits of [`ReadOptions`].
pub fn parse_yaml(text: &str, options: &ReadOptions) -> Result<serde_json::Value, RecordError> {
    if text.len() > options.max_bytes {
        return Err(too_long(text.len(), options));
    }
    // Parsing deeply nested flow collections is slow: a text whose brackets nest past
    // a generous bound (they may be text inside strings, hence not the limit itself)
    // is rejected before it is parsed; the limit is checked on the value read.
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > options.max_depth.max(1024) {
        return Err(RecordError::whole(
            RecordErrorKind::TooDeep,
            format!(
                "the record nests deeper than {} levels (raise it with --max-record-depth)",
                options.max_depth
            ),
        ));
    }
    let v: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| RecordError::whole(RecordErrorKind::Syntax, format!("not valid YAML: {e}")))?;
    let json = yaml_to_json(&v);
    if nesting(&json) > options.max_depth {
        return Err(RecordError::whole(
            RecordErrorKind::TooDeep,
            format!(
                "the record nests deeper than {} levels (raise it with --max-record-depth)",
                options.max_depth
            ),
        ));
    }
    Ok(json)
}

/// How deep mappings and lists nest in a value.
fn nesting(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(nesting).max().unwrap_or(0),
        serde_json::Value::Object(m) => 1 + m.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// Walks a JSON text checking its shape: no key twice in an object, no nesting past the
/// limit. What it finds is kept in `found` as (path, message).
struct Shape<'f> {
    path: String,
    depth: usize,
    max_depth: usize,
    found: &'f std::cell::RefCell<Option<(String, RecordErrorKind, String)>>,
}

impl Shape<'_> {
    fn deeper(&self, path: String) -> Shape<'_> {
        Shape {
            path,
            depth: self.depth + 1,
            max_depth: self.max_depth,
            found: self.found,
        }
    }

    /// The error of a mapping or list one level past the depth limit.
    fn too_deep<E: serde::de::Error>(&self) -> E {
        self.fail(
            self.path.clone(),
            RecordErrorKind::TooDeep,
            format!(
                "the record nests deeper than {} levels (raise it with --max-record-depth)",
                self.max_depth
            ),
        )
    }

    fn fail<E: serde::de::Error>(&self, path: String, kind: RecordErrorKind, message: String) -> E {
        *self.found.borrow_mut() = Some((path, kind, message.clone()));
        E::custom(message)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Shape<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Shape<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= self.max_depth {
            return Err(self.too_deep());
        }
        let mut i = 0usize;
        while seq
            .next_element_seed(self.deeper(format!("{}[{i}]", self.path)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(first) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
            return Ok(());
        };
        // An exact number (serde_json's arbitrary precision) comes as a mapping.
        if first == "$serde_json::private::Number" {
            map.next_value::<serde::de::IgnoredAny>()?;
            return Ok(());
        }
        if self.depth >= self.max_depth {
            return Err(self.too_deep());
        }
        let mut seen = std::collections::HashSet::new();
        let mut next = Some(first);
        while let Some(key) = match next.take() {
            Some(k) => Some(k),
            None => map.next_key::<std::borrow::Cow<'de, str>>()?,
        } {
            let path = join(&self.path, &key);
            if !seen.insert(key) {
                return Err(self.fail(
                    path,
                    RecordErrorKind::DuplicateKey,
                    "the key is given twice".into(),
                ));
            }
            map.next_value_seed(self.deeper(path))?;
        }
        Ok(())
    }
}

/// What kind of problem a record has, as a host matches on it; [`code`](Self::code) is
/// its stable name (the `code` of a line of `rejected.jsonl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// Not JSON (or not YAML) at all.
    Syntax,
    /// Longer than the size limit.
    TooLarge,
    /// Nested deeper than the depth limit.
    TooDeep,
    /// A key given twice.
    DuplicateKey,
    /// A key the schema does not declare (a strict read).
    UnknownField,
    /// Of another subject kind than the one asked for, or of none that can be told.
    SubjectKind,
    /// A value of the wrong type (a number for a date, a null list item, …).
    WrongType,
    /// A value of the right type that is not valid (a date that is not a day, an
    /// unknown enumeration value).
    InvalidValue,
    /// A value outside its declared range or the schema's plausible dates.
    OutOfRange,
    /// An error of the engine itself (a bug): please report it.
    Internal,
}

impl RecordErrorKind {
    /// The stable code: `syntax`, `too-large`, `too-deep`, `duplicate-key`,
    /// `unknown-field`, `subject-kind`, `wrong-type`, `invalid-value`, `out-of-range`,
    /// `internal`.
    pub fn code(self) -> &'static str {
        match self {
            RecordErrorKind::Syntax => "syntax",
            RecordErrorKind::TooLarge => "too-large",
            RecordErrorKind::TooDeep => "too-deep",
            RecordErrorKind::DuplicateKey => "duplicate-key",
            RecordErrorKind::UnknownField => "unknown-field",
            RecordErrorKind::SubjectKind => "subject-kind",
            RecordErrorKind::WrongType => "wrong-type",
            RecordErrorKind::InvalidValue => "invalid-value",
            RecordErrorKind::OutOfRange => "out-of-range",
            RecordErrorKind::Internal => "internal",
        }
    }
}

/// A record that cannot be read against the schema: not JSON or YAML, too large or
/// too deep, or a value that does not fit its field. Match on [`kind`](Self::kind).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("record {record}: {}", self.reason())]
pub struct RecordError {
    /// What kind of problem: the value to match on.
    pub kind: RecordErrorKind,
    /// The record's id, or a description of where it came from.
    pub record: String,
    /// The schema path of the offending value (empty for the whole record).
    pub path: String,
    /// What is wrong, in words for a person.
    pub message: String,
}

impl RecordError {
    /// The reason without the record: `path: message` (or the message alone for the
    /// whole record). `eval` and the batch's rejected.jsonl give the same reason.
    pub fn reason(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.path, self.message)
        }
    }

    /// An error of this kind about the whole record (no path).
    pub fn whole(kind: RecordErrorKind, message: impl Into<String>) -> Self {
        RecordError {
            kind,
            record: "(no id)".into(),
            path: String::new(),
            message: message.into(),
        }
    }
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
        let Some(root) = schema.record(s.root) else {
            continue;
        };
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

/// Reads a JSON value as a record of subject kind `subject`, strictly
/// ([`ReadOptions::default`]).
pub fn read_record(
    schema: &Schema,
    subject: usize,
    value: &serde_json::Value,
) -> Result<Record, RecordError> {
    read_record_with(schema, subject, value, ReadOptions::default()).map(|(r, _)| r)
}

/// Reads a JSON value as a record of subject kind `subject`; with it, the schema paths
/// of the keys the schema does not declare (list items as `[]`), which only a lenient
/// reading accepts (a strict one rejects the record at the first).
pub fn read_record_with(
    schema: &Schema,
    subject: usize,
    value: &serde_json::Value,
    options: ReadOptions,
) -> Result<(Record, Vec<String>), RecordError> {
    let Some(def) = schema.subjects.get(subject) else {
        return Err(RecordError::whole(
            RecordErrorKind::Internal,
            format!("no subject kind number {subject} in the schema"),
        ));
    };
    let mut reader = Reader {
        schema,
        record: String::from("(no id)"),
        lenient: options.lenient,
        unknown: std::cell::RefCell::new(vec![]),
    };
    // Find the id first so every error can name the record.
    let mut id = None;
    let mut cursor = value;
    let mut rec = def.root;
    for &idx in &def.id_path {
        let Some(field) = schema.record(rec).and_then(|r| r.field(idx)) else {
            cursor = &serde_json::Value::Null;
            break;
        };
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
    // A record of another subject kind is not read as this one, even leniently.
    if let serde_json::Value::Object(map) = value {
        let declares = |rec: RecordId, k: &str| {
            schema
                .record(rec)
                .is_some_and(|r| r.field_index(k).is_some())
        };
        if !map.is_empty() && !map.keys().any(|k| declares(def.root, k)) {
            if let Some(other) = schema
                .subjects
                .iter()
                .find(|s| map.keys().any(|k| declares(s.root, k)))
            {
                return Err(reader.err(
                    "",
                    RecordErrorKind::SubjectKind,
                    format!(
                        "the record is of subject kind `{}`, not `{}`",
                        other.name, def.name
                    ),
                ));
            }
        }
    }
    let root = reader.record_node(def.root, value, Arc::from(""), "", def.paths_from)?;
    Ok((Record { subject, id, root }, reader.unknown.into_inner()))
}

struct Reader<'a> {
    schema: &'a Schema,
    record: String,
    lenient: bool,
    /// Undeclared keys met (lenient reading).
    unknown: std::cell::RefCell<Vec<String>>,
}

impl Reader<'_> {
    fn err(&self, path: &str, kind: RecordErrorKind, message: impl Into<String>) -> RecordError {
        RecordError {
            kind,
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
        let Some(def) = self.schema.record(rec) else {
            return Err(self.err(
                full,
                RecordErrorKind::Internal,
                format!("no record type number {rec} in the schema"),
            ));
        };
        let map = match value {
            serde_json::Value::Object(m) => Some(m),
            serde_json::Value::Null => None,
            _ => {
                return Err(self.err(
                    full,
                    RecordErrorKind::WrongType,
                    format!("expected a mapping of fields, found {}", json_kind(value)),
                ))
            }
        };
        if let Some(m) = map {
            self.unknown_keys(def, m, full)?;
        }
        let mut fields = Vec::with_capacity(def.fields.len());
        for (i, f) in def.fields.iter().enumerate() {
            let child_path: Arc<str> = if paths_from == Some(i) {
                Arc::from("")
            } else {
                Arc::from(join(&path, &f.name))
            };
            let raw = map
                .and_then(|m| m.get(&f.name))
                .unwrap_or(&serde_json::Value::Null);
            fields.push(self.field_slot(f, raw, child_path, &join(full, &f.name))?);
        }
        Ok(Arc::new(RecordNode {
            path,
            fields: fields.into_boxed_slice(),
        }))
    }

    /// A key of the record that its schema type does not have: refused, or (lenient)
    /// noted and skipped.
    fn unknown_keys(
        &self,
        def: &crate::schema::RecordDef,
        m: &serde_json::Map<String, serde_json::Value>,
        full: &str,
    ) -> Result<(), RecordError> {
        for k in m.keys() {
            if def.field_index(k).is_none() {
                let at = join(full, k);
                if !self.lenient {
                    let hint =
                        crate::check::did_you_mean(k, def.fields.iter().map(|f| f.name.as_str()))
                            .map_or(String::new(), |s| format!("; did you mean {s}?"));
                    return Err(self.err(
                        &at,
                        RecordErrorKind::UnknownField,
                        format!("unknown field{hint}"),
                    ));
                }
                self.unknown.borrow_mut().push(schema_path(&at));
            }
        }
        Ok(())
    }

    /// One field's slot: its value read and checked against its declared range, or,
    /// when absent or null, what its presence says (default, empty record, missing,
    /// none).
    fn field_slot(
        &self,
        f: &crate::schema::FieldDef,
        raw: &serde_json::Value,
        child_path: Arc<str>,
        fpath_full: &str,
    ) -> Result<Slot, RecordError> {
        let slot = if raw.is_null() {
            match (&f.presence, &f.ty) {
                (Presence::Default(v), _) => Slot::Value(v.clone()),
                // An absent plain record is read as an empty one, so that each of
                // its fields takes its own default or is missing on its own.
                (Presence::Required, FieldType::Record(r)) => Slot::Value(Value::Record(
                    self.record_node(*r, raw, child_path, fpath_full, None)?,
                )),
                (Presence::Required, _) => Slot::Missing,
                (Presence::Optional, _) => Slot::None,
            }
        } else {
            let v = self.value(&f.ty, raw, child_path, fpath_full);
            Slot::Value(match v {
                // A sensitive value is never repeated in a message.
                Err(e) if f.sensitive => {
                    return Err(self.err(
                        &e.path,
                        e.kind,
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
                                fpath_full,
                                RecordErrorKind::OutOfRange,
                                format!("{shown} is outside the declared range {lo} ..= {hi}"),
                            ));
                        }
                    }
                    v
                }
            })
        };
        Ok(slot)
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
                    return Err(self.err(
                        full,
                        RecordErrorKind::WrongType,
                        format!("expected a list, found {}", json_kind(raw)),
                    ));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ifull = format!("{full}[{i}]");
                    if item.is_null() {
                        return Err(self.err(
                            &ifull,
                            RecordErrorKind::WrongType,
                            "a list item cannot be null",
                        ));
                    }
                    let v = match &**elem {
                        FieldType::Record(r) => {
                            let name = self
                                .schema
                                .record(*r)
                                .and_then(|def| def.field(def.key?))
                                .and_then(|f| item.get(&f.name))
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
                            RecordErrorKind::WrongType,
                            format!(
                                "expected {}, found {}",
                                self.schema.type_name(scalar),
                                json_kind(raw)
                            ),
                        ))
                    }
                };
                scalar_from_text(self.schema, scalar, &text).map_err(|e| match e {
                    ScalarError::Implausible(m) => self.err(full, RecordErrorKind::OutOfRange, m),
                    ScalarError::Invalid(m) => self.err(full, RecordErrorKind::InvalidValue, m),
                })
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

/// A path with its list indexes dropped: `children[2].name` → `children[].name`.
fn schema_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
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
        // A key that is not a plain value (a list or a mapping as a key) is kept under
        // its YAML text, so that the reader reports it as the unknown field it is
        // rather than the record silently losing it.
        serde_yaml::Value::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = crate::schema::yaml_scalar_text(k)
                        .unwrap_or_else(|| yaml_to_json(k).to_string());
                    (key, yaml_to_json(v))
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
    let root = schema
        .subjects
        .get(subject)
        .ok_or_else(|| format!("no subject kind number {subject} in the schema"))?
        .root;
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
            match schema.record(r).and_then(|def| def.field_named(p)) {
                Some((_, f)) => {
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
        // `split` gives at least one part.
        let Some((last, parents)) = parts.split_last() else {
            continue;
        };
        let mut map = &mut out;
        for p in parents {
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
        map.insert(last.to_string(), value);
    }
    Ok(serde_json::Value::Object(out))
}
