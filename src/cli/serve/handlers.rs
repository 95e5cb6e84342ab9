//! The routes of the decision service, its JSON errors and the middleware that logs,
//! counts and stamps every answer with the rule-set version.

use super::openapi::{
    AmountUnit, Bundle, BundleList, DecisionQuery, DecisionRequest, DecisionsAnswer, Effective,
    ErrorBody, ErrorDetail, Examples, FormField, Health, Labelled, Policy, PolicyList,
    PrefillQuery, Prefilled, Ready, Reloaded,
};
use super::{App, Limits, Loaded, Reload};
use crate::cli::output;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use mianshen::internals::{check, escape, record};
use mianshen::{
    Decision, EvalOptions, Record, RecordError, RecordErrorKind, RequestError, RuleSet,
};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The header that carries the version of the rule set that answered.
pub const VERSION_HEADER: &str = "x-mianshen-version";

/// Bodies up to this size are decided on the worker that received them; larger ones
/// (batches) on the blocking pool, where the request timeout can answer for them.
const INLINE_BODY: usize = 8 << 10;

/// The service's routes and layers.
pub fn router(app: Arc<App>, timeout: Duration) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(super::openapi::openapi))
        .route("/docs", get(super::openapi::docs))
        .route("/v1/policies", get(policies))
        .route("/v1/policies/{id}", get(policy))
        .route("/v1/bundles", get(bundles))
        .route("/v1/bundles/{id}", get(bundle))
        .route("/v1/bundles/{id}/prefill", post(prefill))
        .route("/v1/schema", get(schema))
        .route("/v1/examples", get(examples))
        .route("/v1/decisions", post(decisions))
        .route("/v1/admin/reload", post(reload))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(app.limits.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), observe))
        .with_state(app)
}

/// An answer of the form `{"error": {"code", "message", "path"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Where in the request: a record's schema path (`person.birth_date`), a request
    /// field (`date`, `records[2].person.id`), or none.
    pub path: Option<String>,
    /// The diagnostics of a rule set a reload refused.
    pub diagnostics: Option<Vec<String>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            path: None,
            diagnostics: None,
        }
    }

    fn at(mut self, path: impl Into<String>) -> ApiError {
        let path = path.into();
        self.path = (!path.is_empty()).then_some(path);
        self
    }

    /// The answer, stamped with the version of the rule set.
    pub fn response(self, version: &str) -> Response {
        let error = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                path: self.path,
                diagnostics: self.diagnostics,
            },
        };
        let body =
            escape::json(&serde_json::to_string_pretty(&error).unwrap_or_default()).into_owned();
        respond(self.status, version, "application/json", body + "\n")
    }
}

/// An answer with a content type and the version header.
pub fn respond(
    status: StatusCode,
    version: &str,
    content_type: &'static str,
    body: String,
) -> Response {
    let mut r = (status, body).into_response();
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(version) {
        headers.insert(VERSION_HEADER, v);
    }
    r
}

fn json_ok(version: &str, body: String) -> Response {
    respond(StatusCode::OK, version, "application/json", body)
}

/// The code of an error answer by its status, for the answers no handler wrote (an
/// unknown method, a timeout).
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "timeout",
        413 => "too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        500 => "internal",
        503 => "unavailable",
        _ => "error",
    }
}

/// Every request: counted, timed and logged (method, route, status, latency and the
/// rule-set version; never the body); every answer stamped with the rule-set version,
/// and every error answer made the JSON error whoever wrote it.
async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    app.metrics.in_flight.inc();
    let mut response = next.run(request).await;
    app.metrics.in_flight.dec();
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let message = match status.as_u16() {
            404 => "no such endpoint (GET /openapi.json lists them)".to_string(),
            405 => format!("{method} is not allowed here"),
            408 => "the request took longer than the time limit".to_string(),
            413 => "the request body is larger than the limit".to_string(),
            _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
        };
        let version = app.current.load().version.clone();
        let mut fixed = ApiError::new(status, code_of(status), message).response(&version);
        if let Some(allow) = response.headers().get(header::ALLOW) {
            fixed.headers_mut().insert(header::ALLOW, allow.clone());
        }
        response = fixed;
    }
    if !response.headers().contains_key(VERSION_HEADER) {
        if let Ok(v) = HeaderValue::from_str(&app.current.load().version) {
            response.headers_mut().insert(VERSION_HEADER, v);
        }
    }
    let elapsed = started.elapsed();
    app.metrics
        .requests
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .inc();
    app.metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(elapsed.as_secs_f64());
    let version = response
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    tracing::info!(
        method = %method,
        route = %route,
        status = status.as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        version = %version,
        "request"
    );
    response
}

#[utoipa::path(
    get,
    path = "/",
    tag = "service",
    summary = "The page for policy staff",
    description = "Its fixed words in the language of the first language of Accept-Language \
        when it is zh or en, else in the language the service was started with (--lang, else \
        the locale). The JSON answers are the same in every language.",
    responses((status = 200, description = "HTML", body = String, content_type = "text/html"))
)]
pub(super) async fn page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let asked = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = super::page::lang_of(asked, crate::cli::lang::lang());
    let mut r = respond(
        StatusCode::OK,
        &app.current.load().version,
        "text/html; charset=utf-8",
        super::page::page(lang).to_string(),
    );
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-language"));
    if let Ok(v) = HeaderValue::from_str(&super::page::content_language(lang)) {
        h.insert(header::CONTENT_LANGUAGE, v);
    }
    r
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    summary = "Alive",
    responses((status = 200, description = "Alive", body = Health))
)]
pub(super) async fn healthz(State(app): State<Arc<App>>) -> Response {
    let body = Health {
        status: "ok".into(),
    };
    json_ok(
        &app.current.load().version,
        serde_json::to_string(&body).unwrap_or_default() + "\n",
    )
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    summary = "Ready, with the rule-set version",
    responses((status = 200, description = "Ready", body = Ready))
)]
pub(super) async fn readyz(State(app): State<Arc<App>>) -> Response {
    let loaded = app.current.load();
    let body = Ready {
        status: "ready".into(),
        version: loaded.version.clone(),
        policies: loaded.rules.policies().len(),
        bundles: loaded.rules.bundles().len(),
    };
    json_ok(&loaded.version, pretty(&body))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    summary = "Prometheus metrics: requests, latencies, decisions by outcome, reloads",
    responses((status = 200, description = "The text exposition format", body = String, content_type = "text/plain"))
)]
pub(super) async fn metrics(State(app): State<Arc<App>>) -> Response {
    respond(
        StatusCode::OK,
        &app.current.load().version,
        "text/plain; version=0.0.4; charset=utf-8",
        app.metrics.render(),
    )
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such endpoint (GET /openapi.json lists them)",
    )
    .response(&app.current.load().version)
}

fn pretty(v: &impl serde::Serialize) -> String {
    escape::json(&serde_json::to_string_pretty(v).unwrap_or_default()).into_owned() + "\n"
}

/// A policy as the listing shows it.
fn policy_value(rules: &RuleSet, id: &str) -> Option<Policy> {
    let p = rules.policy(id)?;
    let def = rules.program().policies.iter().find(|d| d.id == id)?;
    let clauses = p
        .clauses()
        .map(|(id, label)| Labelled {
            id: id.into(),
            label: label.into(),
        })
        .collect();
    let mut amounts: Vec<AmountUnit> = vec![];
    for a in &def.amounts {
        let v = AmountUnit {
            unit: a.unit.to_string(),
            period: a.period.to_string(),
        };
        if !amounts.contains(&v) {
            amounts.push(v);
        }
    }
    Some(Policy {
        id: p.id().into(),
        title: p.title().into(),
        subject: p.subject().into(),
        mode: p.mode().as_str().into(),
        authority: p.authority().map(str::to_string),
        basis: p.basis().map(str::to_string),
        effective: Effective {
            from: p.effective_from().to_string(),
            to: p.effective_to().map(|d| d.to_string()),
        },
        clauses,
        amount: amounts.first().map(|a| AmountUnit {
            unit: a.unit.clone(),
            period: a.period.clone(),
        }),
        amounts,
        per_item: def.per_item.as_ref().map(|i| i.key.to_string()),
        excludes: p.excludes().to_vec(),
        source: p.source().into(),
    })
}

/// `GET /v1/policies`, made once per load.
pub fn policies_json(rules: &RuleSet) -> String {
    let policies = rules
        .policies()
        .filter_map(|p| policy_value(rules, p.id()))
        .collect();
    pretty(&PolicyList {
        version: rules.version().to_string(),
        policies,
    })
}

fn bundle_value(rules: &RuleSet, id: &str) -> Option<Bundle> {
    let b = rules.bundle(id)?;
    let members = b
        .members()
        .map(|(id, label)| Labelled {
            id: id.into(),
            label: label.into(),
        })
        .collect();
    let form_fields = b
        .form_fields()
        .map(|(key, label)| FormField {
            key: key.into(),
            label: label.into(),
        })
        .collect();
    Some(Bundle {
        id: b.id().into(),
        title: b.title().into(),
        subject: b.subject().into(),
        basis: b.basis().map(str::to_string),
        members,
        form_fields,
    })
}

/// `GET /v1/bundles`, made once per load.
pub fn bundles_json(rules: &RuleSet) -> String {
    let bundles = rules
        .bundles()
        .filter_map(|b| bundle_value(rules, b.id()))
        .collect();
    pretty(&BundleList {
        version: rules.version().to_string(),
        bundles,
    })
}

#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "listings",
    summary = "The policies: id, title, subject, mode, authority, basis, effective period, clauses, amount unit and period",
    responses((status = 200, description = "The list", body = PolicyList))
)]
pub(super) async fn policies(State(app): State<Arc<App>>) -> Response {
    let loaded = app.current.load();
    json_ok(&loaded.version, loaded.policies.clone())
}

#[utoipa::path(
    get,
    path = "/v1/bundles",
    tag = "listings",
    summary = "The bundles (一件事): members and form fields",
    responses((status = 200, description = "The list", body = BundleList))
)]
pub(super) async fn bundles(State(app): State<Arc<App>>) -> Response {
    let loaded = app.current.load();
    json_ok(&loaded.version, loaded.bundles.clone())
}

#[utoipa::path(
    get,
    path = "/v1/schema",
    tag = "listings",
    summary = "The record schema as JSON Schema (2020-12)",
    responses((status = 200, description = "The schema", body = Object))
)]
pub(super) async fn schema(State(app): State<Arc<App>>) -> Response {
    let loaded = app.current.load();
    respond(
        StatusCode::OK,
        &loaded.version,
        "application/json",
        loaded.schema.clone() + "\n",
    )
}

#[utoipa::path(
    get,
    path = "/v1/examples",
    tag = "listings",
    summary = "For each policy and bundle, the first example case of the rules directory",
    responses((status = 200, description = "The examples", body = Examples))
)]
pub(super) async fn examples(State(app): State<Arc<App>>) -> Response {
    let loaded = app.current.load();
    json_ok(&loaded.version, loaded.examples.clone())
}

#[utoipa::path(
    get,
    path = "/v1/policies/{id}",
    tag = "listings",
    summary = "One policy",
    params(("id" = String, Path, description = "The policy id")),
    responses(
        (status = 200, description = "The policy", body = Policy),
        (status = 404, description = "An unknown policy (unknown-policy)", body = ErrorBody),
    )
)]
pub(super) async fn policy(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let loaded = app.current.load();
    match policy_value(&loaded.rules, &id) {
        Some(v) => json_ok(&loaded.version, pretty(&v)),
        None => unknown_policy(&loaded.rules, &id).response(&loaded.version),
    }
}

#[utoipa::path(
    get,
    path = "/v1/bundles/{id}",
    tag = "listings",
    summary = "One bundle",
    params(("id" = String, Path, description = "The bundle id")),
    responses(
        (status = 200, description = "The bundle", body = Bundle),
        (status = 404, description = "An unknown bundle (unknown-bundle)", body = ErrorBody),
    )
)]
pub(super) async fn bundle(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let loaded = app.current.load();
    match bundle_value(&loaded.rules, &id) {
        Some(v) => json_ok(&loaded.version, pretty(&v)),
        None => unknown_bundle(&loaded.rules, &id).response(&loaded.version),
    }
}

fn unknown_policy(rules: &RuleSet, id: &str) -> ApiError {
    let hint = check::did_you_mean(id, rules.policies().map(|p| p.id()))
        .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown-policy",
        format!("unknown policy `{id}`{hint}"),
    )
}

fn unknown_bundle(rules: &RuleSet, id: &str) -> ApiError {
    let hint = check::did_you_mean(id, rules.bundles().map(|b| b.id()))
        .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown-bundle",
        format!("unknown bundle `{id}`{hint}"),
    )
}

/// A request the rule set cannot answer: 404 for an unknown id, 422 for a record of
/// another subject kind than the policy or bundle, 400 otherwise.
fn request_error(e: &RequestError, path: String) -> ApiError {
    let (status, code) = match e {
        RequestError::UnknownPolicy { .. } => (StatusCode::NOT_FOUND, "unknown-policy"),
        RequestError::UnknownBundle { .. } => (StatusCode::NOT_FOUND, "unknown-bundle"),
        RequestError::UnknownSubject { .. } => (StatusCode::BAD_REQUEST, "unknown-subject"),
        RequestError::WrongSubject { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong-subject"),
        _ => (StatusCode::BAD_REQUEST, "bad-request"),
    };
    ApiError::new(status, code, e.to_string()).at(path)
}

/// A record that cannot be read: 413 past the record size limit, 400 otherwise, with
/// the message `eval` prints.
fn record_error(e: &RecordError, prefix: &str) -> ApiError {
    let status = match e.kind {
        RecordErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        RecordErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let path = match (prefix.is_empty(), e.path.is_empty()) {
        (true, _) => e.path.clone(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{}", e.path),
    };
    ApiError::new(status, e.kind.code(), e.to_string()).at(path)
}

fn body_error(e: &BytesRejection, limits: &Limits) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the request body is larger than the limit of {} bytes",
                limits.max_body_bytes
            ),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("cannot read the request body: {e}"),
        )
    }
}

/// The records of a request: one, or a list.
enum Records<'a> {
    One(&'a str),
    Many(Vec<&'a str>),
}

/// A decision or pre-fill request: the record(s) and the options, from the body's
/// envelope (`{"date", "record" | "records", "policies", "subject", "trace"}`) or, for
/// a body that is the record itself, from the query string.
struct Ask<'a> {
    date: NaiveDate,
    records: Records<'a>,
    policies: Option<Vec<String>>,
    subject: Option<String>,
    trace: bool,
}

const ENVELOPE_KEYS: &[&str] = &[
    "date", "record", "records", "policies", "policy", "subject", "trace",
];

fn bad(code: &'static str, message: impl Into<String>, path: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message).at(path)
}

fn parse_date(s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        bad(
            "invalid-date",
            format!("`{s}` is not a date: write YYYY-MM-DD"),
            "date",
        )
    })
}

fn parse_bool(s: &str, path: &str) -> Result<bool, ApiError> {
    match s {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad(
            "bad-request",
            format!("`{path}` is true or false"),
            path,
        )),
    }
}

fn parse_ask<'a>(text: &'a str, query: &str, limits: &Limits) -> Result<Ask<'a>, ApiError> {
    // The query string: options for a body that is the record itself, defaults for an
    // envelope.
    let mut date = None;
    let mut policies: Option<Vec<String>> = None;
    let mut subject = None;
    let mut trace = true;
    let pairs: Vec<(String, String)> = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| bad("bad-request", "the query string cannot be read", ""))?,
    )
    .map(|q| q.0)
    .map_err(|e| {
        bad(
            "bad-request",
            format!("the query string cannot be read: {e}"),
            "",
        )
    })?;
    for (k, v) in pairs {
        match k.as_str() {
            "date" => date = Some(v),
            "policy" | "policies" => policies
                .get_or_insert_with(Vec::new)
                .extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string)),
            "subject" => subject = Some(v),
            "trace" => trace = parse_bool(&v, "trace")?,
            other => {
                return Err(bad(
                    "unknown-parameter",
                    format!(
                        "unknown query parameter `{}`: one of date, policy, subject, trace",
                        escape::text(other)
                    ),
                    other,
                ))
            }
        }
    }
    let top: Option<BTreeMap<String, &'a RawValue>> = serde_json::from_str(text).ok();
    let envelope = top.filter(|m| m.contains_key("record") || m.contains_key("records"));
    let records = match envelope {
        None => Records::One(text),
        Some(m) => {
            for k in m.keys() {
                if !ENVELOPE_KEYS.contains(&k.as_str()) {
                    return Err(bad(
                        "unknown-field",
                        format!(
                            "unknown request field `{}`: one of {}",
                            escape::text(k),
                            ENVELOPE_KEYS.join(", ")
                        ),
                        k,
                    ));
                }
            }
            let field = |k: &str| m.get(k).map(|r| r.get());
            if let Some(d) = field("date") {
                date =
                    Some(serde_json::from_str::<String>(d).map_err(|_| {
                        bad("invalid-date", "`date` is a string, YYYY-MM-DD", "date")
                    })?);
            }
            if let Some(s) = field("subject") {
                subject = Some(serde_json::from_str::<String>(s).map_err(|_| {
                    bad(
                        "bad-request",
                        "`subject` is a string (person, enterprise, …)",
                        "subject",
                    )
                })?);
            }
            if let Some(t) = field("trace") {
                trace = serde_json::from_str::<bool>(t)
                    .map_err(|_| bad("bad-request", "`trace` is true or false", "trace"))?;
            }
            if let Some(p) = field("policy") {
                policies = Some(vec![serde_json::from_str::<String>(p)
                    .map_err(|_| bad("bad-request", "`policy` is a policy id", "policy"))?]);
            }
            if let Some(p) = field("policies") {
                policies = Some(serde_json::from_str::<Vec<String>>(p).map_err(|_| {
                    bad(
                        "bad-request",
                        "`policies` is a list of policy ids",
                        "policies",
                    )
                })?);
            }
            match (field("record"), field("records")) {
                (Some(_), Some(_)) => {
                    return Err(bad(
                        "bad-request",
                        "give either `record` or `records`, not both",
                        "records",
                    ))
                }
                (Some(r), None) => Records::One(r),
                (None, Some(rs)) => {
                    let list: Vec<&RawValue> = serde_json::from_str(rs).map_err(|_| {
                        bad("bad-request", "`records` is a list of records", "records")
                    })?;
                    if list.len() > limits.max_records {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too-many-records",
                            format!(
                                "{} records in one request: the limit is {}",
                                list.len(),
                                limits.max_records
                            ),
                        )
                        .at("records"));
                    }
                    Records::Many(list.into_iter().map(RawValue::get).collect())
                }
                (None, None) => Records::Many(vec![]),
            }
        }
    };
    let Some(date) = date else {
        // A body that is not a record at all says so first.
        if let Records::One(text) = records {
            if let Err(e) = record::parse_json(text, &limits.read) {
                return Err(record_error(&e, ""));
            }
        }
        return Err(bad(
            "missing-date",
            "the reference date is required: \"date\": \"YYYY-MM-DD\" in the body, or ?date=YYYY-MM-DD",
            "date",
        ));
    };
    Ok(Ask {
        date: parse_date(&date)?,
        records,
        policies,
        subject,
        trace,
    })
}

/// Reads one record as `eval` reads a record file: the size, depth and duplicate-key
/// checks of the text, then the schema.
fn read_record(
    loaded: &Loaded,
    limits: &Limits,
    text: &str,
    subject: Option<&str>,
    prefix: &str,
) -> Result<Record, ApiError> {
    let value = record::parse_json(text, &limits.read).map_err(|e| record_error(&e, prefix))?;
    loaded
        .rules
        .read_value_with(&value, subject, &limits.read)
        .map(|(r, _unknown)| r)
        .map_err(|e| record_error(&e, prefix))
}

fn decide_one(
    loaded: &Loaded,
    ask: &Ask<'_>,
    record: &Record,
    options: EvalOptions,
) -> Result<Vec<Decision>, ApiError> {
    match &ask.policies {
        None => Ok(loaded.rules.decide_with(record, ask.date, options)),
        Some(ids) => ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                loaded
                    .rules
                    .decide_policy_with(id, record, ask.date, options)
                    .map_err(|e| request_error(&e, format!("policies[{i}]")))
            })
            .collect(),
    }
}

/// The answer to `POST /v1/decisions`, and the outcomes decided.
fn decide_request(
    loaded: &Loaded,
    limits: &Limits,
    query: &str,
    body: &[u8],
) -> Result<(String, Vec<&'static str>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "syntax",
            "the request body is not UTF-8 text",
        )
    })?;
    let ask = parse_ask(text, query, limits)?;
    let options = EvalOptions {
        trace: ask.trace,
        budget: limits.budget,
        ..EvalOptions::default()
    };
    let subject = ask.subject.as_deref();
    match &ask.records {
        Records::One(text) => {
            let record = read_record(loaded, limits, text, subject, "")?;
            let decisions = decide_one(loaded, &ask, &record, options)?;
            let outcomes = decisions.iter().map(|d| d.outcome.as_str()).collect();
            Ok((output::decisions_json(&decisions) + "\n", outcomes))
        }
        Records::Many(texts) => {
            let mut results = Vec::with_capacity(texts.len());
            for (i, text) in texts.iter().enumerate() {
                let prefix = format!("records[{i}]");
                let record = read_record(loaded, limits, text, subject, &prefix)?;
                results.push(decide_one(loaded, &ask, &record, options).map_err(|mut e| {
                    e.path = Some(format!("{prefix}.{}", e.path.unwrap_or_default()));
                    e
                })?);
            }
            let outcomes = results
                .iter()
                .flatten()
                .map(|d| d.outcome.as_str())
                .collect();
            #[derive(serde::Serialize)]
            struct Batch<'a> {
                version: &'a str,
                results: &'a [Vec<Decision>],
            }
            let body = serde_json::to_string_pretty(&Batch {
                version: &loaded.version,
                results: &results,
            })
            .unwrap_or_default();
            Ok((escape::json(&body).into_owned() + "\n", outcomes))
        }
    }
}

/// Runs `work` on this worker for a small body, on the blocking pool for a large one.
async fn run<T: Send + 'static>(
    body_len: usize,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if body_len <= INLINE_BODY {
        return work();
    }
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a decision failed: please report this bug");
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the engine failed on this request (a bug): please report it",
        ))
    })
}

#[utoipa::path(
    post,
    path = "/v1/decisions",
    tag = "decisions",
    summary = "Decide every policy (or the ones named) for one record, or for a list of records",
    description = "The body is either the envelope {date, record | records, policies, subject, trace}, \
        or the record itself with date, policy, subject and trace in the query string. One record: \
        the JSON array that `mianshen eval --json` prints, byte for byte (trace defaults to true, \
        as in eval). Several: {version, results: [array per record]}.",
    params(DecisionQuery),
    request_body(content = DecisionRequest, description = "The envelope, or the record itself", content_type = "application/json"),
    responses(
        (status = 200, description = "The decisions", body = DecisionsAnswer),
        (status = 400, description = "A malformed request or record (the message eval gives)", body = ErrorBody),
        (status = 404, description = "An unknown policy", body = ErrorBody),
        (status = 408, description = "Past the request time limit", body = ErrorBody),
        (status = 413, description = "Past the body limit, the record size limit or the records limit", body = ErrorBody),
        (status = 422, description = "A record of another subject kind than the policy", body = ErrorBody),
    )
)]
pub(super) async fn decisions(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // The rule set this request is decided on, whatever a reload does meanwhile.
    let loaded = app.current.load_full();
    let version = loaded.version.clone();
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&e, &app.limits).response(&version),
    };
    let limits = app.limits.clone();
    let query = query.unwrap_or_default();
    let len = body.len();
    let answer = run(len, move || decide_request(&loaded, &limits, &query, &body)).await;
    match answer {
        Ok((body, outcomes)) => {
            for o in outcomes {
                app.metrics.decisions.with_label_values(&[o]).inc();
            }
            json_ok(&version, body)
        }
        Err(e) => e.response(&version),
    }
}

/// The answer to `POST /v1/bundles/{id}/prefill`: JSON, or the printable form.
fn prefill_request(
    loaded: &Loaded,
    limits: &Limits,
    bundle: &str,
    query: &str,
    body: &[u8],
    html: bool,
) -> Result<String, ApiError> {
    if loaded.rules.bundle(bundle).is_none() {
        return Err(unknown_bundle(&loaded.rules, bundle));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "syntax",
            "the request body is not UTF-8 text",
        )
    })?;
    let ask = parse_ask(text, query, limits)?;
    let Records::One(text) = ask.records else {
        return Err(bad(
            "bad-request",
            "a bundle is pre-filled for one record: give `record`",
            "records",
        ));
    };
    if ask.policies.is_some() {
        return Err(bad(
            "bad-request",
            "a bundle decides its own members: no `policies`",
            "policies",
        ));
    }
    let record = read_record(loaded, limits, text, ask.subject.as_deref(), "")?;
    let options = EvalOptions {
        trace: true,
        budget: limits.budget,
        ..EvalOptions::default()
    };
    let result = loaded
        .rules
        .prefill_with(bundle, &record, ask.date, options)
        .map_err(|e| request_error(&e, String::new()))?;
    if html {
        let who = record.id.clone().unwrap_or_else(|| "(no id)".into());
        Ok(mianshen::internals::bundle::render_html(
            &result, &who, ask.date,
        ))
    } else {
        Ok(output::prefill_json(&result) + "\n")
    }
}

#[utoipa::path(
    post,
    path = "/v1/bundles/{id}/prefill",
    tag = "decisions",
    summary = "Pre-fill a bundle (一件事) for one record",
    description = "The JSON that `mianshen prefill --json` prints, byte for byte; with \
        Accept: text/html, the printable form.",
    params(("id" = String, Path, description = "The bundle id"), PrefillQuery),
    request_body(content = DecisionRequest, description = "The envelope (one `record`), or the record itself", content_type = "application/json"),
    responses(
        (status = 200, description = "The pre-filled bundle", content(
            (Prefilled = "application/json"),
            (String = "text/html"),
        )),
        (status = 400, description = "A malformed request or record (the message eval gives)", body = ErrorBody),
        (status = 404, description = "An unknown bundle", body = ErrorBody),
        (status = 408, description = "Past the request time limit", body = ErrorBody),
        (status = 413, description = "Past the body limit or the record size limit", body = ErrorBody),
        (status = 422, description = "A record of another subject kind than the bundle", body = ErrorBody),
    )
)]
pub(super) async fn prefill(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let loaded = app.current.load_full();
    let version = loaded.version.clone();
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&e, &app.limits).response(&version),
    };
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let limits = app.limits.clone();
    let query = query.unwrap_or_default();
    let len = body.len();
    let answer = run(len, move || {
        prefill_request(&loaded, &limits, &id, &query, &body, html)
    })
    .await;
    match answer {
        Ok(page) if html => respond(StatusCode::OK, &version, "text/html; charset=utf-8", page),
        Ok(body) => json_ok(&version, body),
        Err(e) => e.response(&version),
    }
}

/// Compares without stopping at the first difference.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

#[utoipa::path(
    post,
    path = "/v1/admin/reload",
    tag = "admin",
    summary = "Check the rules directory again and swap it in (needs the admin token)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Swapped", body = Reloaded),
        (status = 401, description = "The admin token is missing or wrong (unauthorized)", body = ErrorBody),
        (status = 404, description = "Reloading over HTTP is disabled (disabled)", body = ErrorBody),
        (status = 409, description = "The rule set has errors; the old one keeps serving (rules-rejected; error.diagnostics lists them)", body = ErrorBody),
    )
)]
pub(super) async fn reload(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let version = app.current.load().version.clone();
    let Some(token) = &app.admin_token else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "disabled",
            "reloading over HTTP is disabled: start the service with --admin-token (or MIANSHEN_ADMIN_TOKEN); SIGHUP reloads too",
        )
        .response(&version);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_token(given.as_bytes(), token.as_bytes()) {
        let mut r = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin token is missing or wrong: send Authorization: Bearer TOKEN",
        )
        .response(&version);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    match app.reload().await {
        Reload::Swapped { previous, version } => json_ok(
            &version,
            pretty(&Reloaded {
                status: "reloaded".into(),
                version: version.clone(),
                previous,
            }),
        ),
        Reload::Refused {
            message,
            diagnostics,
        } => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "rules-rejected",
                format!("the rule set was not loaded; version {version} keeps serving: {message}"),
            );
            e.diagnostics = Some(diagnostics);
            e.response(&version)
        }
    }
}
