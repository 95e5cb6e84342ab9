//! Reading a JSON record straight into the slot layout, without building a JSON tree:
//! keys are matched against the schema's fields, fields the rule set never reads are
//! skipped, and numbers keep their exact decimal text.
//!
//! It does not check the fields it skips: the batch uses it only for records the row
//! reader (`crate::fast`) has read, which checks every field as the reference reader
//! does. Anything else is read by [`super::parse_json`] and [`super::read_record_with`].

use super::Record;
use crate::schema::{FieldType, Presence, RecordId, Schema, SubjectDef};
use crate::value::{RecordNode, Slot, Value};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// What the fast reader needs to know, prepared once per rule set.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    used: Vec<Vec<bool>>,
    /// Per record type, per field: the static path of the child record, when any.
    child_paths: Vec<Vec<Option<Arc<str>>>>,
}

impl ReadPlan {
    /// A plan that reads the fields marked in `used` (per record type, per field).
    pub fn new(schema: &Schema, used: Vec<Vec<bool>>) -> Self {
        let mut child_paths: Vec<Vec<Option<Arc<str>>>> = schema
            .records
            .iter()
            .map(|r| vec![None; r.fields.len()])
            .collect();
        for s in &schema.subjects {
            let mut stack = vec![(s.root, String::new(), true)];
            while let Some((rec, path, is_root)) = stack.pop() {
                let Some(def) = schema.record(rec) else {
                    continue;
                };
                for (i, f) in def.fields.iter().enumerate() {
                    if let FieldType::Record(c) = f.ty {
                        let child = if is_root && s.paths_from == Some(i) {
                            String::new()
                        } else if path.is_empty() {
                            f.name.clone()
                        } else {
                            format!("{path}.{}", f.name)
                        };
                        if let Some(p) = child_paths.get_mut(rec).and_then(|p| p.get_mut(i)) {
                            *p = Some(Arc::from(child.as_str()));
                        }
                        stack.push((c, child, false));
                    }
                }
            }
        }
        ReadPlan { used, child_paths }
    }
}

/// Reads one JSON object as a record of `subject` (or of the subject whose root has the
/// object's first key). `None` on any problem: the caller then reads the record the
/// slow way, which names the record and the path in its error.
pub fn read_json(
    schema: &Schema,
    plan: &ReadPlan,
    subject: Option<usize>,
    text: &str,
) -> Option<Record> {
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = RootSeed {
        schema,
        plan,
        subject,
    };
    let rec = seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(rec)
}

/// Reads a key and resolves it against the fields of candidate record types, without
/// copying it: the field's (candidate, index), or `None` for a key no candidate has.
struct KeySeed<'a> {
    schema: &'a Schema,
    recs: &'a [RecordId],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<(usize, usize)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<(usize, usize)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self
            .recs
            .iter()
            .enumerate()
            .find_map(|(k, &r)| Some((k, self.schema.record(r)?.field_index(v)?))))
    }
}

struct RootSeed<'a> {
    schema: &'a Schema,
    plan: &'a ReadPlan,
    subject: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = Record;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Record, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = Record;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut subject = self.subject;
        let mut fields: Option<Vec<Option<Slot>>> = None;
        let mut reader: Option<NodeReader> = None;
        let roots: Vec<RecordId> = match subject {
            Some(s) => vec![subject_def(self.schema, s)?.root],
            None => self.schema.subjects.iter().map(|s| s.root).collect(),
        };
        let mut candidates: &[RecordId] = &roots;
        let mut chosen_root = [0usize; 1];
        while let Some(key) = map.next_key_seed(KeySeed {
            schema: self.schema,
            recs: candidates,
        })? {
            if reader.is_none() {
                let s = match (subject, key) {
                    (Some(s), _) => s,
                    (None, Some((k, _))) => k,
                    (None, None) => return Err(de::Error::custom("unknown subject")),
                };
                subject = Some(s);
                let def = subject_def(self.schema, s)?;
                let r = NodeReader {
                    schema: self.schema,
                    plan: self.plan,
                    rec: def.root,
                    path: Arc::from(""),
                    dynamic: false,
                };
                fields = Some(empty_slots(self.schema, def.root)?);
                reader = Some(r);
                chosen_root[0] = def.root;
            }
            let (Some(r), Some(slots)) = (&reader, &mut fields) else {
                return Err(de::Error::custom("internal"));
            };
            r.read_field(key.map(|(_, i)| i), &mut map, slots)?;
            candidates = &chosen_root;
        }
        let subject = subject.or(if self.schema.subjects.len() == 1 {
            Some(0)
        } else {
            None
        });
        let Some(subject) = subject else {
            return Err(de::Error::custom(
                "cannot tell the subject kind of an empty record",
            ));
        };
        let def = subject_def(self.schema, subject)?;
        let reader = reader.unwrap_or(NodeReader {
            schema: self.schema,
            plan: self.plan,
            rec: def.root,
            path: Arc::from(""),
            dynamic: false,
        });
        let slots = match fields {
            Some(f) => f,
            None => empty_slots(self.schema, def.root)?,
        };
        let root = reader.finish(slots);
        // The subject's id.
        let mut node = &root;
        let mut id = None;
        for (k, &i) in def.id_path.iter().enumerate() {
            match node.fields.get(i) {
                Some(Slot::Value(Value::Record(n))) if k + 1 < def.id_path.len() => node = n,
                Some(Slot::Value(Value::Str(s))) => id = Some(s.to_string()),
                _ => break,
            }
        }
        Ok(Record { subject, id, root })
    }
}

/// Subject kind `s`, or an error (the slow reader explains it).
fn subject_def<E: de::Error>(schema: &Schema, s: usize) -> Result<&SubjectDef, E> {
    schema
        .subjects
        .get(s)
        .ok_or_else(|| E::custom("unknown subject"))
}

/// The slots of a record of type `rec`, none read yet.
fn empty_slots<E: de::Error>(schema: &Schema, rec: RecordId) -> Result<Vec<Option<Slot>>, E> {
    match schema.record(rec) {
        Some(def) => Ok(vec![None; def.fields.len()]),
        None => Err(E::custom("unknown record type")),
    }
}

/// Reads the fields of one record type.
struct NodeReader<'a> {
    schema: &'a Schema,
    plan: &'a ReadPlan,
    rec: RecordId,
    path: Arc<str>,
    /// Below a list item: paths are built, not taken from the plan.
    dynamic: bool,
}

impl<'a> NodeReader<'a> {
    /// The key seed for this record's fields.
    fn keys<'k>(&'k self, rec: &'k [RecordId; 1]) -> KeySeed<'k> {
        KeySeed {
            schema: self.schema,
            recs: rec,
        }
    }

    fn read_field<'de, A: MapAccess<'de>>(
        &self,
        field: Option<usize>,
        map: &mut A,
        slots: &mut [Option<Slot>],
    ) -> Result<(), A::Error> {
        // An undeclared key: the reference reader reports (or counts) it.
        let Some(i) = field else {
            return Err(de::Error::custom("a key the schema does not declare"));
        };
        match self.plan.used.get(self.rec).and_then(|u| u.get(i)) {
            Some(true) => {}
            Some(false) => {
                map.next_value::<IgnoredAny>()?;
                return Ok(());
            }
            None => return Err(de::Error::custom("unknown field")),
        }
        let Some(f) = self.schema.record(self.rec).and_then(|d| d.field(i)) else {
            return Err(de::Error::custom("unknown field"));
        };
        let child_path = || -> Arc<str> {
            if !self.dynamic {
                if let Some(p) = self.child_path(i) {
                    return p.clone();
                }
            }
            Arc::from(join(&self.path, &f.name))
        };
        let slot = map.next_value_seed(ValueSeed {
            schema: self.schema,
            plan: self.plan,
            ty: &f.ty,
            path: &child_path,
            dynamic: self.dynamic,
        })?;
        if let (Some((lo, hi)), Some(x)) = (f.range, slot.as_ref().and_then(Value::as_decimal)) {
            if x < lo || x > hi {
                // The slow reader explains the error.
                return Err(de::Error::custom("out of range"));
            }
        }
        let Some(at) = slots.get_mut(i) else {
            return Err(de::Error::custom("unknown field"));
        };
        *at = Some(match slot {
            Some(v) => Slot::Value(v),
            None => self.absent(i),
        });
        Ok(())
    }

    /// The plan's path of the child record in field `i`, when it has one.
    fn child_path(&self, i: usize) -> Option<&Arc<str>> {
        self.plan.child_paths.get(self.rec)?.get(i)?.as_ref()
    }

    fn absent(&self, i: usize) -> Slot {
        let Some(f) = self.schema.record(self.rec).and_then(|d| d.field(i)) else {
            return Slot::Missing;
        };
        match (&f.presence, &f.ty) {
            (Presence::Default(v), _) => Slot::Value(v.clone()),
            (Presence::Required, FieldType::Record(r)) => {
                let child = NodeReader {
                    schema: self.schema,
                    plan: self.plan,
                    rec: *r,
                    path: if self.dynamic {
                        Arc::from(join(&self.path, &f.name))
                    } else {
                        self.child_path(i)
                            .cloned()
                            .unwrap_or_else(|| Arc::from(join(&self.path, &f.name)))
                    },
                    dynamic: self.dynamic,
                };
                let n = self.schema.record(*r).map_or(0, |d| d.fields.len());
                Slot::Value(Value::Record(child.finish(vec![None; n])))
            }
            (Presence::Required, _) => Slot::Missing,
            (Presence::Optional, _) => Slot::None,
        }
    }

    fn finish(&self, slots: Vec<Option<Slot>>) -> Arc<RecordNode> {
        let used = self.plan.used.get(self.rec);
        let fields: Vec<Slot> = slots
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Some(s) => s,
                None if used.and_then(|u| u.get(i)) == Some(&true) => self.absent(i),
                // Never read: its value does not matter.
                None => Slot::None,
            })
            .collect();
        Arc::new(RecordNode {
            path: self.path.clone(),
            fields: fields.into_boxed_slice(),
        })
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

/// Reads a value of a field type; `None` for null.
struct ValueSeed<'a, 'p> {
    schema: &'a Schema,
    plan: &'a ReadPlan,
    ty: &'a FieldType,
    path: &'p dyn Fn() -> Arc<str>,
    dynamic: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value of the schema's type")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        match self.ty {
            FieldType::Bool => Ok(Some(Value::Bool(v))),
            _ => Err(E::custom("type")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        match self.ty {
            FieldType::Int => Ok(Some(Value::Int(v))),
            FieldType::Decimal => Ok(Some(Value::Decimal(Decimal::from(v)))),
            FieldType::String => Ok(Some(Value::Str(Arc::from(v.to_string().as_str())))),
            _ => Err(E::custom("type")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) => Err(E::custom("number too large")),
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<Value>, E> {
        Err(E::custom("binary floating point is not read"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        match self.ty {
            FieldType::Decimal => Decimal::from_str(v)
                .map(|d| Some(Value::Decimal(d)))
                .map_err(|_| E::custom("decimal")),
            FieldType::String | FieldType::Date | FieldType::Enum(_) => {
                crate::schema::scalar_from_text(self.schema, self.ty, v)
                    .map(Some)
                    .map_err(E::custom)
            }
            _ => Err(E::custom("type")),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let FieldType::List(elem) = self.ty else {
            return Err(de::Error::custom("type"));
        };
        let mut out = vec![];
        let base = (self.path)();
        while let Some(item) = match &**elem {
            FieldType::Record(r) => seq.next_element_seed(ItemSeed {
                schema: self.schema,
                plan: self.plan,
                rec: *r,
                list_path: &base,
                index: out.len(),
            })?,
            scalar => seq
                .next_element_seed(ValueSeed {
                    schema: self.schema,
                    plan: self.plan,
                    ty: scalar,
                    path: self.path,
                    dynamic: self.dynamic,
                })?
                .map(|v| v.ok_or_else(|| de::Error::custom("null list item")))
                .transpose()?,
        } {
            out.push(item);
        }
        Ok(Some(Value::List(Arc::from(out))))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        match self.ty {
            FieldType::Record(r) => {
                let reader = NodeReader {
                    schema: self.schema,
                    plan: self.plan,
                    rec: *r,
                    path: (self.path)(),
                    dynamic: self.dynamic,
                };
                let mut slots = empty_slots(self.schema, *r)?;
                let rec = [*r];
                while let Some(key) = map.next_key_seed(reader.keys(&rec))? {
                    reader.read_field(key.map(|(_, i)| i), &mut map, &mut slots)?;
                }
                Ok(Some(Value::Record(reader.finish(slots))))
            }
            FieldType::Decimal | FieldType::Int => {
                // serde_json's exact number: {"$serde_json::private::Number": "12.50"}
                let _key: Option<IgnoredAny> = map.next_key()?;
                let text: String = map.next_value()?;
                match self.ty {
                    FieldType::Int => text
                        .parse()
                        .map(|i| Some(Value::Int(i)))
                        .map_err(|_| de::Error::custom("int")),
                    _ => Decimal::from_str(&text)
                        .or_else(|_| Decimal::from_scientific(&text))
                        .map(|d| Some(Value::Decimal(d)))
                        .map_err(|_| de::Error::custom("decimal")),
                }
            }
            _ => Err(de::Error::custom("type")),
        }
    }
}

/// Reads one item of a list of records; its path names it by its key.
struct ItemSeed<'a, 'b> {
    schema: &'a Schema,
    plan: &'a ReadPlan,
    rec: RecordId,
    list_path: &'b str,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, '_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list item")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // The path needs the key, which may come after other fields: read into a
        // reader with a provisional path, then fix the paths once the key is known.
        let Some(def) = self.schema.record(self.rec) else {
            return Err(de::Error::custom("unknown record type"));
        };
        let mut reader = NodeReader {
            schema: self.schema,
            plan: self.plan,
            rec: self.rec,
            path: Arc::from(format!("{}[{}]", self.list_path, self.index).as_str()),
            dynamic: true,
        };
        let mut slots = vec![None; def.fields.len()];
        let mut keyed = def.key.is_none();
        let rec = [self.rec];
        while let Some(key) = map.next_key_seed(KeySeed {
            schema: self.schema,
            recs: &rec,
        })? {
            reader.read_field(key.map(|(_, i)| i), &mut map, &mut slots)?;
            if !keyed {
                if let Some(k) = def.key {
                    let name = match slots.get(k) {
                        Some(Some(Slot::Value(Value::Str(s)))) => Some(s.to_string()),
                        Some(Some(Slot::Value(Value::Int(i)))) => Some(i.to_string()),
                        _ => None,
                    };
                    if let Some(name) = name {
                        reader.path = Arc::from(format!("{}[{}]", self.list_path, name).as_str());
                        keyed = true;
                        // Records read before the key carry the provisional path.
                        if slots.iter().enumerate().any(|(i, s)| {
                            i != k
                                && matches!(
                                    s,
                                    Some(
                                        Slot::Value(Value::Record(_)) | Slot::Value(Value::List(_))
                                    )
                                )
                        }) {
                            return Err(de::Error::custom("nested record before the item key"));
                        }
                    }
                }
            }
        }
        Ok(Value::Record(reader.finish(slots)))
    }
}
