//! `GET /v1/schema`: the record schema of the rule set as a JSON Schema (2020-12).
//!
//! Every field may be absent or null (the rules read that as missing or none, never as
//! an error), so no field is `required`; a key the schema does not declare is refused
//! (`additionalProperties: false`), as a strict read refuses it.

use mianshen::internals::schema::{FieldType, Presence, Schema};
use mianshen::RuleSet;
use serde_json::{json, Map, Value};

/// The JSON Schema of the rule set's records, as JSON text.
pub fn json_schema(rules: &RuleSet) -> String {
    let schema = rules.schema();
    let mut defs = Map::new();
    for (i, r) in schema.records.iter().enumerate() {
        let mut properties = Map::new();
        for f in &r.fields {
            let mut field = field_type(schema, &f.ty);
            if let Value::Object(m) = &mut field {
                if let Some(doc) = &f.doc {
                    m.insert("description".into(), json!(doc));
                }
                if let Some((lo, hi)) = &f.range {
                    m.insert("minimum".into(), json!(lo.to_string().parse::<f64>().ok()));
                    m.insert("maximum".into(), json!(hi.to_string().parse::<f64>().ok()));
                }
                let presence = match f.presence {
                    Presence::Required => "required",
                    Presence::Optional => "optional",
                    Presence::Default(_) => "default",
                };
                m.insert("x-presence".into(), json!(presence));
                if f.sensitive {
                    m.insert("x-sensitive".into(), json!(true));
                }
            }
            properties.insert(f.name.clone(), field);
        }
        let mut def = Map::new();
        def.insert("title".into(), json!(r.path));
        def.insert("type".into(), json!(["object", "null"]));
        def.insert("properties".into(), Value::Object(properties));
        def.insert("additionalProperties".into(), json!(false));
        defs.insert(format!("r{i}"), Value::Object(def));
    }
    let subjects: Vec<Value> = schema
        .subjects
        .iter()
        .map(|s| json!({"title": s.name, "$ref": format!("#/$defs/r{}", s.root)}))
        .collect();
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("mianshen records (rule set version {})", rules.version()),
        "description": "A record of one subject kind. Absent or null fields are missing (required), none (optional) or their default; dates are YYYY-MM-DD; decimals may be written as numbers or strings.",
        "anyOf": subjects,
        "$defs": defs,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn field_type(schema: &Schema, ty: &FieldType) -> Value {
    match ty {
        FieldType::Bool => json!({"type": ["boolean", "null"]}),
        FieldType::Int => json!({"type": ["integer", "null"]}),
        FieldType::Decimal => json!({"type": ["number", "string", "null"]}),
        FieldType::String => json!({"type": ["string", "null"]}),
        FieldType::Date => json!({"type": ["string", "null"], "format": "date"}),
        FieldType::Enum(e) => {
            let values: Vec<Value> = schema
                .enums
                .get(usize::from(*e))
                .map(|d| d.values.iter().map(|v| json!(v)).collect())
                .unwrap_or_default();
            let mut values = values;
            values.push(Value::Null);
            json!({"enum": values})
        }
        FieldType::List(item) => {
            json!({"type": ["array", "null"], "items": field_type(schema, item)})
        }
        FieldType::Record(r) => json!({"$ref": format!("#/$defs/r{r}")}),
    }
}
