//! `GET /openapi.json`: the API described in OpenAPI 3.1, generated from the handlers'
//! `#[utoipa::path]` annotations and the types below (utoipa), and `GET /docs`, a page
//! that reads it.
//!
//! The listings, the error body and the reload answer are built from these types, so
//! the document cannot drift from them; the bodies that are the engine's own JSON
//! (`eval --json`, `prefill --json`) are described as objects pointing to the language
//! reference (§11.2).

use super::handlers::{self, respond};
use super::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::sync::{Arc, LazyLock};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The OpenAPI document of the service.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mianshen decision service",
        version = "1",
        description = "Decisions, pre-filled bundles and policy listings of one rule set. \
            Every answer carries the rule-set version in the header x-mianshen-version; \
            every error is {\"error\": {\"code\", \"message\", \"path\"}}. Messages are in \
            English whatever the language the service was started with; codes never change."
    ),
    paths(
        handlers::decisions,
        handlers::prefill,
        handlers::policies,
        handlers::policy,
        handlers::bundles,
        handlers::bundle,
        handlers::schema,
        handlers::examples,
        handlers::reload,
        handlers::healthz,
        handlers::readyz,
        handlers::metrics,
        handlers::page,
        openapi,
        docs,
    ),
    components(schemas(Decision, Decisions, BatchDecisions, DecisionsAnswer)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// The bearer token of `POST /v1/admin/reload`.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served, made once.
pub fn document() -> &'static str {
    static DOC: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .map(|s| s + "\n")
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
    });
    &DOC
}

/// The body of `POST /v1/decisions` and `POST /v1/bundles/{id}/prefill`: the envelope.
/// A body without `record` or `records` is taken as the record itself.
// Read field by field by `parse_ask` (which keeps the record's text for the record
// reader's own checks); this type describes it.
#[allow(dead_code)]
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// The reference date, YYYY-MM-DD (required here or in the query).
    #[schema(format = Date)]
    date: Option<String>,
    /// One record (GET /v1/schema describes it).
    #[schema(value_type = Option<Object>)]
    record: Option<serde_json::Value>,
    /// Several records, up to --max-records (not for a bundle).
    #[schema(value_type = Option<Vec<Object>>)]
    records: Option<Vec<serde_json::Value>>,
    /// Only these policies, in this order (not for a bundle).
    policies: Option<Vec<String>>,
    /// Only this policy.
    policy: Option<String>,
    /// The subject kind; recognised from the record when absent.
    subject: Option<String>,
    /// The trace of every clause (true by default).
    #[schema(default = true)]
    trace: Option<bool>,
}

/// The query string of `POST /v1/decisions`: options for a body that is the record
/// itself, defaults for an envelope.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionQuery {
    /// The reference date, YYYY-MM-DD.
    #[param(format = Date)]
    date: Option<String>,
    /// Comma-separated policy ids.
    policy: Option<String>,
    /// The subject kind.
    subject: Option<String>,
    /// The trace of every clause (true by default).
    trace: Option<bool>,
}

/// The query string of `POST /v1/bundles/{id}/prefill`.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrefillQuery {
    /// The reference date, YYYY-MM-DD.
    #[param(format = Date)]
    date: Option<String>,
    /// The subject kind.
    subject: Option<String>,
}

/// One decision as `mianshen eval --json` prints it: policy, outcome, amount, failed,
/// missing, error, trace. Its fields are specified in the language reference, §11.2
/// (docs/language.md).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct Decision(serde_json::Value);

/// The decisions of one record: the JSON array `mianshen eval --json` prints, byte for
/// byte.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Decisions(Vec<Decision>);

/// The decisions of several records, one array per record in the order given.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct BatchDecisions {
    /// The rule-set version.
    version: String,
    results: Vec<Decisions>,
}

/// The answer of `POST /v1/decisions`: for `record` (or a bare record), the decisions;
/// for `records`, the batch.
#[allow(dead_code)]
#[derive(ToSchema)]
#[serde(untagged)]
pub enum DecisionsAnswer {
    One(Decisions),
    Many(BatchDecisions),
}

/// A pre-filled bundle as `mianshen prefill --json` prints it (the members' decisions,
/// §11.2 of the language reference, and the form's fields).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct Prefilled(serde_json::Value);

/// Every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, and where.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code: syntax, too-large, too-deep, duplicate-key, unknown-field,
    /// subject-kind, wrong-type, invalid-value, out-of-range, missing-date, invalid-date,
    /// unknown-parameter, unknown-policy, unknown-bundle, unknown-subject, wrong-subject,
    /// too-many-records, not-found, method-not-allowed, timeout, unauthorized, disabled,
    /// rules-rejected, bad-request, internal.
    pub code: String,
    /// The message, in English (the message `eval` gives for a record).
    pub message: String,
    /// Where in the request: a record's schema path (`person.birth_date`), a request
    /// field (`date`, `records[2].person.id`), or null.
    pub path: Option<String>,
    /// The diagnostics of a rule set a reload refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<String>>,
}

/// `GET /v1/policies`.
#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    /// The rule-set version.
    pub version: String,
    pub policies: Vec<Policy>,
}

/// A policy as the listing shows it.
#[derive(Serialize, ToSchema)]
pub struct Policy {
    pub id: String,
    pub title: String,
    pub subject: String,
    /// no_application, push_and_confirm or apply.
    pub mode: String,
    pub authority: Option<String>,
    pub basis: Option<String>,
    pub effective: Effective,
    pub clauses: Vec<Labelled>,
    /// The first of `amounts`.
    pub amount: Option<AmountUnit>,
    pub amounts: Vec<AmountUnit>,
    /// The item list an amount is given per item of.
    pub per_item: Option<String>,
    pub excludes: Vec<String>,
    /// The rules file.
    pub source: String,
}

/// The effective period of a policy.
#[derive(Serialize, ToSchema)]
pub struct Effective {
    #[schema(format = Date)]
    pub from: String,
    #[schema(format = Date)]
    pub to: Option<String>,
}

/// A clause or a bundle's member: its id and label.
#[derive(Serialize, ToSchema)]
pub struct Labelled {
    pub id: String,
    pub label: String,
}

/// The unit and period of an amount.
#[derive(Serialize, ToSchema, PartialEq)]
pub struct AmountUnit {
    pub unit: String,
    pub period: String,
}

/// `GET /v1/bundles`.
#[derive(Serialize, ToSchema)]
pub struct BundleList {
    /// The rule-set version.
    pub version: String,
    pub bundles: Vec<Bundle>,
}

/// A bundle (一件事): its members and form fields.
#[derive(Serialize, ToSchema)]
pub struct Bundle {
    pub id: String,
    pub title: String,
    pub subject: String,
    pub basis: Option<String>,
    pub members: Vec<Labelled>,
    pub form_fields: Vec<FormField>,
}

/// A field of a bundle's form.
#[derive(Serialize, ToSchema)]
pub struct FormField {
    pub key: String,
    pub label: String,
}

/// The answer of `POST /v1/admin/reload` when the rule set was swapped.
#[derive(Serialize, ToSchema)]
pub struct Reloaded {
    /// Always `reloaded`.
    pub status: String,
    /// The version now served.
    pub version: String,
    /// The version served before.
    pub previous: String,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: String,
    /// The rule-set version.
    pub version: String,
    /// How many policies.
    pub policies: usize,
    /// How many bundles.
    pub bundles: usize,
}

/// `GET /v1/examples`: for each policy and bundle id, the first example case of the
/// rules directory, `{case, date, record}`.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Examples {
    version: String,
    #[schema(value_type = Object)]
    examples: serde_json::Value,
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, description = "The document", body = Object))
)]
pub async fn openapi(State(app): State<Arc<App>>) -> Response {
    respond(
        StatusCode::OK,
        &app.current.load().version,
        "application/json",
        document().to_string(),
    )
}

#[utoipa::path(
    get,
    path = "/docs",
    tag = "service",
    summary = "This documentation, readable",
    responses((status = 200, description = "HTML", body = String, content_type = "text/html"))
)]
pub async fn docs(State(app): State<Arc<App>>) -> Response {
    respond(
        StatusCode::OK,
        &app.current.load().version,
        "text/html; charset=utf-8",
        include_str!("docs.html").to_string(),
    )
}
