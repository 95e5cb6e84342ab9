//! "One thing" bundles: each member's status, the pre-filled form with the provenance
//! of every value, what the citizen still enters, and one list of materials.

use super::{truth, Decision, EvalOptions, Evaluator, Failure, Frame, Outcome, Val};
use crate::compile::RuleSet;
use crate::ir::{BundleDef, Expr, FormFieldDef, MemberKind};
use crate::record::Record;
use crate::value::{format_decimal, Value};
use chrono::NaiveDate;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// A bundle member's status for the subject: a procedural matter's availability, or a
/// policy member's full decision.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberStatus {
    /// A procedural matter: available / not_available / undetermined, with the missing
    /// fields when undetermined.
    Procedural {
        /// Available (eligible), not available (not eligible) or undetermined.
        status: Outcome,
        /// The fields to ask for, when undetermined.
        missing: Vec<String>,
    },
    /// A policy member: its full decision for the bundle's subject, or, for a member
    /// `policy P for x`, the decision for that one item.
    Policy {
        /// The decision.
        decision: Box<Decision>,
        /// The id of the chosen item (`H1`), for a member deciding one item.
        item: Option<String>,
    },
}

impl MemberStatus {
    /// The member's outcome: available matters read as eligible.
    pub fn outcome(&self) -> Outcome {
        match self {
            MemberStatus::Procedural { status, .. } => *status,
            MemberStatus::Policy { decision, .. } => decision.outcome,
        }
    }

    /// A policy member's decision.
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            MemberStatus::Procedural { .. } => None,
            MemberStatus::Policy { decision, .. } => Some(decision),
        }
    }

    /// Whether the member can be done now.
    pub fn is_available(&self) -> bool {
        self.outcome() == Outcome::Eligible
    }

    /// Whether the member is certainly not available.
    pub fn is_not_available(&self) -> bool {
        self.outcome() == Outcome::NotEligible
    }
}

impl Serialize for MemberStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MemberStatus::Procedural { status, .. } => s.serialize_str(match status {
                Outcome::Eligible => "available",
                Outcome::NotEligible => "not_available",
                Outcome::Undetermined => "undetermined",
            }),
            MemberStatus::Policy {
                decision,
                item: None,
            } => decision.serialize(s),
            MemberStatus::Policy {
                decision,
                item: Some(item),
            } => {
                let mut m = s.serialize_map(None)?;
                decision.write_entries(&mut m, Some(item))?;
                m.end()
            }
        }
    }
}

/// A field of the bundle's form that the government already knows, with where its
/// value came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefilledField {
    /// The field's key in the form (`bank_account`).
    pub key: String,
    /// The field's label as the form shows it (`姓名`).
    pub label: String,
    /// The value, as the form shows it (sensitive values included: the form needs them).
    pub value: serde_json::Value,
    /// Where it came from: a record path, or `rule` for a computed value.
    pub source: String,
    /// The value as a person reads it, where it differs (an enum value's label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A material the citizen may have to provide, listed once with every member that
/// needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaterialLine {
    /// The material's key (`id_card`).
    pub key: String,
    /// The material's label as the form shows it.
    pub label: String,
    /// Held by the government: not to be submitted.
    pub held: bool,
    /// The keys of the members that need it.
    pub members: Vec<String>,
}

/// A "one thing" bundle pre-filled for one subject on one date: each member's status,
/// the form's known fields with their sources, the fields left to enter, and the
/// materials to provide. Serialises to the JSON `mianshen prefill --json` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleResult {
    /// The bundle's id.
    pub bundle: String,
    /// The bundle's title, as the form shows it.
    pub title: String,
    /// Each member: key, label, status.
    pub members: Vec<(String, String, MemberStatus)>,
    /// Pre-filled fields, in form order.
    pub prefilled: Vec<PrefilledField>,
    /// Fields to enter: key and label, in form order.
    pub to_enter: Vec<(String, String)>,
    /// Materials of the members that are (or may be) available.
    pub materials: Vec<MaterialLine>,
    /// Evaluation errors (cases the text leaves undefined), by member or field.
    pub errors: Vec<super::EvalError>,
}

impl BundleResult {
    /// Whether at least one member is available.
    pub fn any_available(&self) -> bool {
        self.members.iter().any(|(_, _, m)| m.is_available())
    }
}

impl Serialize for BundleResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("bundle", &self.bundle)?;
        let members: indexmap::IndexMap<&str, &MemberStatus> = self
            .members
            .iter()
            .map(|(k, _, v)| (k.as_str(), v))
            .collect();
        m.serialize_entry("members", &members)?;
        m.serialize_entry("prefilled", &self.prefilled)?;
        let to_enter: Vec<serde_json::Value> = self
            .to_enter
            .iter()
            .map(|(k, l)| serde_json::json!({"key": k, "label": l}))
            .collect();
        m.serialize_entry("to_enter", &to_enter)?;
        m.serialize_entry("materials", &self.materials)?;
        if !self.errors.is_empty() {
            m.serialize_entry("errors", &self.errors)?;
        }
        m.end()
    }
}

/// Pre-fills bundle `bundle` (index) for a record on `ref_date`. A panic inside (a bug of
/// the engine) gives a form with nothing available, nothing pre-filled and an
/// internal error, instead of unwinding into the caller.
pub fn prefill(
    rules: &RuleSet,
    bundle: usize,
    record: &Record,
    ref_date: NaiveDate,
    opts: EvalOptions,
) -> BundleResult {
    let filled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prefill_unguarded(rules, bundle, record, ref_date, opts)
    }));
    filled.unwrap_or_else(|payload| failed_form(rules, bundle, super::internal_error(&*payload)))
}

/// The form of a bundle that could not be pre-filled: nothing available, nothing
/// pre-filled, every field to enter, and the error.
fn failed_form(rules: &RuleSet, bundle: usize, error: super::EvalError) -> BundleResult {
    let def = rules.program.bundles.get(bundle);
    BundleResult {
        bundle: def.map_or_else(|| format!("#{bundle}"), |d| d.id.clone()),
        title: def.map(|d| d.title.clone()).unwrap_or_default(),
        members: vec![],
        prefilled: vec![],
        to_enter: def
            .map(|d| {
                d.fields
                    .iter()
                    .map(|f| (f.key.clone(), f.label.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        materials: vec![],
        errors: vec![error],
    }
}

fn prefill_unguarded(
    rules: &RuleSet,
    bundle: usize,
    record: &Record,
    ref_date: NaiveDate,
    opts: EvalOptions,
) -> BundleResult {
    let Some(def) = rules.program.bundles.get(bundle) else {
        let error = Failure::from("internal error: no such bundle").at(super::INTERNAL_AT);
        return failed_form(rules, bundle, error);
    };
    let mut form = Filler {
        ev: Evaluator::new(rules, record, ref_date, opts),
        frame: Frame::new(def.locals, &def.lets),
        errors: vec![],
    };
    // Members in order (a member may read earlier ones), then the form and materials.
    let members: Vec<_> = def
        .members
        .iter()
        .map(|m| {
            let status = match &m.kind {
                MemberKind::Procedural(cond) => form.procedural(&m.key, cond),
                MemberKind::Policy {
                    policy,
                    item,
                    overrides,
                } => form.policy(&m.key, *policy, item.as_ref(), overrides),
            };
            (m.key.clone(), m.label.clone(), status)
        })
        .collect();
    let (prefilled, to_enter) = form.fields(&def.fields);
    let materials = form.materials(def, &members);
    let mut errors = form.errors;
    if let Some(t) = rules.taint.bundles.get(bundle) {
        crate::check::taint::mask_bundle_errors(t, &mut errors);
    }
    BundleResult {
        bundle: def.id.clone(),
        title: def.title.clone(),
        members,
        prefilled,
        to_enter,
        materials,
        errors,
    }
}

/// One bundle being pre-filled: the evaluator and the bundle's scope, and the errors
/// met so far.
struct Filler<'r> {
    ev: Evaluator<'r>,
    frame: Frame<'r>,
    errors: Vec<super::EvalError>,
}

impl<'r> Filler<'r> {
    /// A procedural member: available / not available / undetermined as its condition.
    fn procedural(&mut self, key: &str, cond: &'r Expr) -> MemberStatus {
        match self.ev.eval(cond, &mut self.frame) {
            Ok(v) => {
                let (status, missing) = match truth(v.clone()) {
                    Some(true) => (Outcome::Eligible, vec![]),
                    Some(false) => (Outcome::NotEligible, vec![]),
                    None => (
                        Outcome::Undetermined,
                        super::missing_of(&v)
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                    ),
                };
                self.ev.members.push(v);
                MemberStatus::Procedural { status, missing }
            }
            Err(message) => {
                self.errors.push(message.at(key.to_string()));
                self.ev.members.push(Val::Unknown(vec![]));
                MemberStatus::Procedural {
                    status: Outcome::Undetermined,
                    missing: vec![],
                }
            }
        }
    }

    /// A policy member: the policy's decision with the bundle's clause values, for the
    /// subject or for the one item chosen (`policy P for x`).
    fn policy(
        &mut self,
        key: &str,
        policy: usize,
        item: Option<&'r Expr>,
        overrides: &'r [(String, Expr)],
    ) -> MemberStatus {
        // The chosen item, in the bundle's scope (as the overrides are).
        let chosen = item.map(|x| self.ev.eval(x, &mut self.frame));
        if let Some(Err(message)) = &chosen {
            self.errors.push(message.clone().at(format!("{key} for")));
        }
        let item_id = match &chosen {
            Some(Ok(Val::Known(Value::Record(r)))) => Some(super::item_id(&r.path)),
            _ => None,
        };
        let mut forced = vec![];
        for (clause, e) in overrides {
            let v = self.ev.eval(e, &mut self.frame);
            if let Err(message) = &v {
                self.errors
                    .push(message.clone().at(format!("{key} {clause}")));
            }
            forced.push((policy, clause.clone(), v));
        }
        let ev = &mut self.ev;
        let saved = std::mem::replace(&mut ev.overrides, forced);
        // The member's decision stands on its own (its own cache of referenced
        // policies, since forced clauses change outcomes).
        let saved_cache = std::mem::replace(
            &mut ev.policy_cache,
            vec![None; ev.rules.program.policies.len()],
        );
        let d = ev.decide_for(policy, chosen);
        ev.overrides = saved;
        ev.policy_cache = saved_cache;
        ev.members.push(super::outcome_truth(&d));
        MemberStatus::Policy {
            decision: Box::new(d),
            item: item_id,
        }
    }

    /// The form's fields: pre-filled where the value is known (and usable), the rest
    /// to be entered.
    fn fields(&mut self, defs: &'r [FormFieldDef]) -> (Vec<PrefilledField>, Vec<(String, String)>) {
        let rules = self.ev.rules;
        let mut prefilled = vec![];
        let mut to_enter = vec![];
        for f in defs {
            let usable = match &f.when {
                Some(w) => self.holds(w),
                None => true,
            };
            let known = match (&f.value, usable) {
                (Some(e), true) => match self.ev.eval(e, &mut self.frame) {
                    Ok(Val::Known(v)) => Some((e, v)),
                    _ => None,
                },
                _ => None,
            };
            let Some((e, v)) = known else {
                to_enter.push((f.key.clone(), f.label.clone()));
                continue;
            };
            let display = match &v {
                Value::Enum(t, i) => Some(rules.schema.enum_value_label(*t, *i).to_string())
                    .filter(|l| l != rules.schema.enum_value_name(*t, *i)),
                _ => None,
            };
            prefilled.push(PrefilledField {
                key: f.key.clone(),
                label: f.label.clone(),
                value: render(rules, &v),
                source: source(&mut self.ev, e, &mut self.frame),
                display,
            });
        }
        (prefilled, to_enter)
    }

    /// The materials of the members that are (or may be) available, each listed once.
    fn materials(
        &mut self,
        def: &'r BundleDef,
        members: &[(String, String, MemberStatus)],
    ) -> Vec<MaterialLine> {
        let mut materials: Vec<MaterialLine> = vec![];
        for mat in &def.materials {
            let needed: Vec<String> = mat
                .members
                .iter()
                .filter(|&&i| {
                    members
                        .get(i)
                        .is_some_and(|(_, _, s)| !s.is_not_available())
                })
                .filter_map(|&i| def.members.get(i).map(|m| m.key.clone()))
                .collect();
            if needed.is_empty() {
                continue;
            }
            let held = match &mat.held {
                None => false,
                Some(None) => true,
                Some(Some(c)) => self.holds(c),
            };
            // One line per material, whichever members need it.
            match materials.iter_mut().find(|l| l.key == mat.key) {
                Some(line) => {
                    line.held |= held;
                    for n in needed {
                        if !line.members.contains(&n) {
                            line.members.push(n);
                        }
                    }
                }
                None => materials.push(MaterialLine {
                    key: mat.key.clone(),
                    label: mat.label.clone(),
                    held,
                    members: needed,
                }),
            }
        }
        materials
    }

    /// Whether a condition is certainly true (unknown and errors are not).
    fn holds(&mut self, cond: &'r Expr) -> bool {
        matches!(
            self.ev.eval(cond, &mut self.frame).map(truth),
            Ok(Some(true))
        )
    }
}

/// Where a field's value came from: the record path when it is read straight from the
/// record, `rule` when computed.
fn source<'r>(ev: &mut Evaluator<'r>, e: &'r Expr, frame: &mut Frame<'r>) -> String {
    if let Expr::Field { base, name, .. } = e {
        if let Ok(Val::Known(Value::Record(node))) = ev.eval(base, frame) {
            return node.field_path(name);
        }
    }
    "rule".to_string()
}

fn render(rules: &RuleSet, v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Decimal(d) => serde_json::Value::String(format_decimal(*d)),
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::Date(d) => serde_json::Value::String(d.to_string()),
        Value::Enum(e, i) => {
            serde_json::Value::String(rules.schema.enum_value_name(*e, *i).to_string())
        }
        Value::List(l) => serde_json::Value::Array(l.iter().map(|x| render(rules, x)).collect()),
        Value::Record(_) => serde_json::Value::String("{…}".into()),
    }
}
