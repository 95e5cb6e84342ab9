//! `GET /openapi.json`: the API described in OpenAPI 3.1, and `GET /docs`, a page that
//! reads it.

use super::handlers::respond;
use super::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

pub async fn openapi(State(app): State<Arc<App>>) -> Response {
    respond(
        StatusCode::OK,
        &app.current.load().version,
        "application/json",
        include_str!("openapi.json").to_string(),
    )
}

pub async fn docs(State(app): State<Arc<App>>) -> Response {
    respond(
        StatusCode::OK,
        &app.current.load().version,
        "text/html; charset=utf-8",
        include_str!("docs.html").to_string(),
    )
}
