//! `mianshen serve`, tested with a real HTTP client over loopback: every endpoint, every
//! error status, reloads with a good and a bad rule set, and concurrent requests that
//! answer with the same bytes as `mianshen eval --json` and `prefill --json`.
//!
//! Each test starts the built binary on port 0 and reads the address it bound from the
//! first line of its standard output; the server is killed when the test ends.

#[path = "support/command.rs"]
mod command;
use command::run_within;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SENIOR: &str = "sh-senior-comprehensive-allowance";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `mianshen serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(rules: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mianshen"))
            // Messages in the default language, whatever the machine's locale.
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANG")
            .arg("serve")
            .arg(rules)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .current_dir(root())
            .env("MIANSHEN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mianshen serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the first line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> Reply {
        reply(ureq::get(&self.url(path)).call())
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        reply(ureq::post(&self.url(path)).send_string(body))
    }

    fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut r = ureq::get(&self.url(path));
        for (k, v) in headers {
            r = r.set(k, v);
        }
        reply(r.call())
    }

    fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut r = ureq::post(&self.url(path));
        for (k, v) in headers {
            r = r.set(k, v);
        }
        reply(r.send_string(body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, rule-set version header, content type and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    version: Option<String>,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a JSON error of this status and code; returns the error object.
    fn error(&self, status: u16, code: &str) -> Json {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        assert!(self.version.is_some(), "no version header: {self:?}");
        let e = self.json()["error"].clone();
        assert_eq!(e["code"], code, "{self:?}");
        assert!(e["message"].is_string(), "{self:?}");
        assert!(e.get("path").is_some(), "{self:?}");
        e
    }
}

fn reply(r: Result<ureq::Response, ureq::Error>) -> Reply {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    Reply {
        status: resp.status(),
        version: resp.header("x-mianshen-version").map(str::to_string),
        content_type: resp.header("content-type").unwrap_or("").to_string(),
        body: resp.into_string().expect("a text body"),
    }
}

/// The first `per_file` cases of each shipped case file: (id, date, record as JSON,
/// the expected keys).
fn cases(per_file: usize) -> Vec<(String, String, Json, Vec<String>)> {
    let mut out = vec![];
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("rules/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let json: Json = serde_json::to_value(&yaml).unwrap();
        for c in json["cases"].as_array().unwrap().iter().take(per_file) {
            let expected = c["expected"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            out.push((
                c["id"].as_str().unwrap().to_string(),
                c["reference_date"].as_str().unwrap().to_string(),
                c["record"].clone(),
                expected,
            ));
        }
    }
    out
}

static SCRATCH: AtomicUsize = AtomicUsize::new(0);

fn scratch(tag: &str) -> PathBuf {
    let n = SCRATCH.fetch_add(1, Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serve-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `mianshen eval --json` (or `prefill --json`) on a record written to a file.
fn cli_json(args: &[&str], record: &Json, dir: &Path, name: &str) -> String {
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_string(record).unwrap()).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    let file = file.to_string_lossy().to_string();
    all.push(&file);
    let run = run_within(&all, Duration::from_secs(120));
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout
}

#[test]
fn decisions_are_the_bytes_of_eval_json() {
    let server = Server::start(Path::new("rules"), &[]);
    let dir = scratch("eval");
    let cases = cases(2);
    assert!(cases.len() >= 20);
    for (id, date, record, _) in &cases {
        let expected = cli_json(
            &["eval", "rules", "--date", date, "--json"],
            record,
            &dir,
            id,
        );
        let body = serde_json::json!({"date": date, "record": record}).to_string();
        let r = server.post("/v1/decisions", &body);
        assert_eq!(r.status, 200, "{id}: {r:?}");
        assert_eq!(
            r.body, expected,
            "{id}: the service differs from eval --json"
        );
        assert!(r.content_type.starts_with("application/json"));
        // The record as the body, the options in the query string: the same bytes.
        let r = server.post(
            &format!("/v1/decisions?date={date}"),
            &serde_json::to_string(record).unwrap(),
        );
        assert_eq!(r.body, expected, "{id} (record as the body)");
    }
    // One policy, as `eval --policy`.
    let (id, date, record, _) = &cases[0];
    let policy = cases[0].3[0].clone();
    let expected = cli_json(
        &[
            "eval", "rules", "--date", date, "--json", "--policy", &policy,
        ],
        record,
        &dir,
        &format!("{id}-policy"),
    );
    let body = serde_json::json!({"date": date, "record": record, "policies": [policy]});
    let r = server.post("/v1/decisions", &body.to_string());
    assert_eq!(r.body, expected);
    // Without traces: the same decisions, without their traces.
    let body = serde_json::json!({"date": date, "record": record, "trace": false});
    let quiet = server.post("/v1/decisions", &body.to_string()).json();
    let mut traced: Json = serde_json::from_str(&cli_json(
        &["eval", "rules", "--date", date, "--json"],
        record,
        &dir,
        &format!("{id}-t"),
    ))
    .unwrap();
    for d in traced.as_array_mut().unwrap() {
        d.as_object_mut().unwrap().remove("trace");
    }
    assert_eq!(quiet, traced);
}

#[test]
fn batches_answer_each_record_as_eval() {
    let server = Server::start(Path::new("rules"), &["--max-records", "5"]);
    let dir = scratch("batch");
    let cases = cases(1);
    let date = &cases[0].1;
    let records: Vec<Json> = cases.iter().take(5).map(|c| c.2.clone()).collect();
    let body = serde_json::json!({"date": date, "records": records});
    let r = server.post("/v1/decisions", &body.to_string());
    assert_eq!(r.status, 200, "{r:?}");
    let answer = r.json();
    assert_eq!(answer["version"].as_str(), r.version.as_deref());
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for (i, rec) in records.iter().enumerate() {
        let expected: Json = serde_json::from_str(&cli_json(
            &["eval", "rules", "--date", date, "--json"],
            rec,
            &dir,
            &format!("b{i}"),
        ))
        .unwrap();
        assert_eq!(results[i], expected, "record {i}");
    }
    // Past the limit of records: 413.
    let six: Vec<Json> = (0..6).map(|_| records[0].clone()).collect();
    let body = serde_json::json!({"date": date, "records": six});
    server
        .post("/v1/decisions", &body.to_string())
        .error(413, "too-many-records");
    // A bad record in a batch names its place.
    let mut bad = records.clone();
    bad[3] = serde_json::json!({"person": {"id": "X", "birth_date": "someday"}});
    let body = serde_json::json!({"date": date, "records": bad});
    let e = server
        .post("/v1/decisions", &body.to_string())
        .error(400, "invalid-value");
    assert_eq!(e["path"], "records[3].person.birth_date");
}

#[test]
fn large_batches_are_decided_off_the_workers_and_timed_out_as_json() {
    let cases = cases(20);
    let date = cases[0].1.clone();
    let records: Vec<Json> = cases.iter().take(100).map(|c| c.2.clone()).collect();
    let body = serde_json::json!({"date": date, "records": records}).to_string();
    assert!(
        body.len() > 8 << 10,
        "the batch is decided on the blocking pool"
    );
    let server = Server::start(Path::new("rules"), &[]);
    let r = server.post("/v1/decisions", &body);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 100);
    // Past the time limit: 408, as JSON; the service keeps serving.
    let slow = Server::start(Path::new("rules"), &["--timeout-ms", "1"]);
    let r = slow.post("/v1/decisions", &body);
    r.error(408, "timeout");
    assert_eq!(slow.get("/healthz").status, 200);
}

#[test]
fn prefill_is_the_bytes_of_prefill_json_and_the_form() {
    let server = Server::start(Path::new("rules"), &[]);
    let dir = scratch("prefill");
    let mut seen = 0;
    for (id, date, record, expected) in cases(3) {
        let Some(bundle) = expected.iter().find(|k| k.starts_with("bundle-")) else {
            continue;
        };
        let want = cli_json(
            &[
                "prefill", "rules", "--bundle", bundle, "--date", &date, "--json",
            ],
            &record,
            &dir,
            &id,
        );
        let body = serde_json::json!({"date": date, "record": record}).to_string();
        let r = server.post(&format!("/v1/bundles/{bundle}/prefill"), &body);
        assert_eq!(r.status, 200, "{id}: {r:?}");
        assert_eq!(
            r.body, want,
            "{id}: the service differs from prefill --json"
        );
        let page = server.post_with(
            &format!("/v1/bundles/{bundle}/prefill"),
            &[("Accept", "text/html")],
            &body,
        );
        assert_eq!(page.status, 200);
        assert!(page.content_type.starts_with("text/html"), "{page:?}");
        assert!(page.body.contains("<html") || page.body.contains("<!DOCTYPE"));
        seen += 1;
    }
    assert!(seen > 0, "no bundle case found");
    // An unknown bundle: 404; a record of the wrong subject kind: 422.
    let body = r#"{"date": "2025-07-01", "record": {"person": {"id": "P"}}}"#;
    server
        .post("/v1/bundles/bundle-unemploymen/prefill", body)
        .error(404, "unknown-bundle");
    let enterprise = r#"{"date": "2025-07-01", "record": {"enterprise": {"id": "E1"}}}"#;
    server
        .post("/v1/bundles/bundle-unemployment/prefill", enterprise)
        .error(422, "wrong-subject");
}

#[test]
fn listings_health_metrics_and_documents() {
    let server = Server::start(Path::new("rules"), &[]);
    let r = server.get("/v1/policies");
    assert_eq!(r.status, 200);
    let version = r.version.clone().expect("version header");
    let list = r.json();
    assert_eq!(list["version"], version.as_str());
    let policies = list["policies"].as_array().unwrap();
    assert!(policies.len() >= 10);
    let senior = policies.iter().find(|p| p["id"] == SENIOR).unwrap();
    for key in [
        "title",
        "subject",
        "mode",
        "authority",
        "basis",
        "effective",
        "clauses",
        "amount",
    ] {
        assert!(senior.get(key).is_some(), "{key} missing: {senior}");
    }
    assert_eq!(senior["subject"], "person");
    assert_eq!(senior["amount"]["period"], "per_month");
    assert!(senior["clauses"][0]["label"].is_string());
    let one = server.get(&format!("/v1/policies/{SENIOR}"));
    assert_eq!(one.json(), *senior);
    let e = server
        .get("/v1/policies/sh-senior-comprehensive-allowanse")
        .error(404, "unknown-policy");
    assert!(e["message"].as_str().unwrap().contains("did you mean"));

    let bundles = server.get("/v1/bundles").json();
    let b = &bundles["bundles"][0];
    assert!(b["members"].as_array().is_some_and(|m| !m.is_empty()));
    let id = b["id"].as_str().unwrap();
    assert_eq!(server.get(&format!("/v1/bundles/{id}")).json(), *b);

    let schema = server.get("/v1/schema").json();
    assert!(schema["$defs"].as_object().is_some_and(|d| !d.is_empty()));
    assert!(schema["anyOf"].as_array().is_some_and(|s| s.len() >= 2));

    let examples = server.get("/v1/examples").json();
    assert!(examples["examples"][SENIOR]["record"].is_object());
    assert_eq!(server.get("/healthz").json()["status"], "ok");
    let ready = server.get("/readyz").json();
    assert_eq!(ready["version"], version.as_str());

    server.post(
        "/v1/decisions",
        r#"{"date": "2025-07-01", "record": {"person": {"id": "P"}}}"#,
    );
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"));
    assert!(metrics.body.contains("mianshen_http_requests_total"));
    assert!(metrics.body.contains("mianshen_decisions_total{outcome="));
    assert!(metrics
        .body
        .contains("mianshen_http_request_duration_seconds_bucket"));

    let openapi = server.get("/openapi.json").json();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    let page = server.get("/");
    assert!(page.content_type.starts_with("text/html"));
    assert!(!page.body.contains("<script src"), "the page loads nothing");
    let docs = server.get("/docs");
    assert!(docs.content_type.starts_with("text/html"));
    for (path, _) in openapi["paths"].as_object().unwrap() {
        assert!(
            server.get(&path.replace("{id}", SENIOR)).status != 404 || path.contains("bundles"),
            "{path} is documented and not served"
        );
    }
}

/// Every route of the router, with its method and the statuses it answers with.
const ROUTES: &[(&str, &str, &[&str])] = &[
    ("/", "get", &["200"]),
    ("/healthz", "get", &["200"]),
    ("/readyz", "get", &["200"]),
    ("/metrics", "get", &["200"]),
    ("/openapi.json", "get", &["200"]),
    ("/docs", "get", &["200"]),
    ("/v1/policies", "get", &["200"]),
    ("/v1/policies/{id}", "get", &["200", "404"]),
    ("/v1/bundles", "get", &["200"]),
    ("/v1/bundles/{id}", "get", &["200", "404"]),
    (
        "/v1/bundles/{id}/prefill",
        "post",
        &["200", "400", "404", "408", "413", "422"],
    ),
    ("/v1/schema", "get", &["200"]),
    ("/v1/examples", "get", &["200"]),
    (
        "/v1/decisions",
        "post",
        &["200", "400", "404", "408", "413", "422"],
    ),
    ("/v1/admin/reload", "post", &["200", "401", "404", "409"]),
];

#[test]
fn the_generated_document_lists_every_route_with_its_methods_and_statuses() {
    let server = Server::start(Path::new("rules"), &[]);
    let doc = server.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), ROUTES.len(), "documented: {:?}", paths.keys());
    for (path, method, statuses) in ROUTES {
        let op = &doc["paths"][path];
        let methods: Vec<&String> = op.as_object().unwrap().keys().collect();
        assert_eq!(methods, [method], "{path}");
        let responses = op[method]["responses"].as_object().unwrap();
        let documented: Vec<&str> = responses.keys().map(String::as_str).collect();
        assert_eq!(documented, *statuses, "{method} {path}");
        for (status, r) in responses {
            assert!(r["description"].is_string(), "{method} {path} {status}");
            if status != "200" {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    // The schemas are the handlers' types: the listings answer with what they describe.
    let schemas = &doc["components"]["schemas"];
    let policy = schemas["Policy"]["properties"].as_object().unwrap();
    let listed = server.get("/v1/policies").json();
    let first = listed["policies"][0].as_object().unwrap();
    assert_eq!(
        policy.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>()
    );
    let error = schemas["ErrorDetail"]["properties"].as_object().unwrap();
    let e = server.get("/v1/policies/nope").error(404, "unknown-policy");
    for key in e.as_object().unwrap().keys() {
        assert!(error.contains_key(key), "{key} is not documented");
    }
    assert!(schemas["Decision"]["description"]
        .as_str()
        .unwrap()
        .contains("§11.2"));
    assert_eq!(
        doc["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/DecisionRequest"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Served whole from the routes: a route not in the list is not answered.
    for (path, method, _) in ROUTES {
        let url = path.replace("{id}", SENIOR);
        let status = if *method == "get" {
            server.get(&url).status
        } else {
            server.post(&url, "{}").status
        };
        assert_ne!(status, 405, "{method} {path}");
        assert!(
            status != 404 || path.contains("{id}") || path.contains("admin"),
            "{method} {path} is documented and not served"
        );
    }
}

#[test]
fn the_staff_page_speaks_the_language_of_the_request_else_the_services_and_json_never_changes() {
    let zh = Server::start(Path::new("rules"), &["--lang", "zh"]);
    let en = Server::start(Path::new("rules"), &["--lang", "en"]);
    let chinese = |r: &Reply| {
        assert_eq!(r.status, 200);
        assert!(r.content_type.starts_with("text/html"));
        assert!(
            r.body.contains("<html lang=\"zh-CN\">"),
            "{}",
            &r.body[..200]
        );
        assert!(r.body.contains("基准日期") && r.body.contains("\"decide\":\"判定\""));
        assert!(!r.body.contains("Reference date"));
    };
    let english = |r: &Reply| {
        assert_eq!(r.status, 200);
        assert!(r.body.contains("<html lang=\"en\">"), "{}", &r.body[..200]);
        assert!(r.body.contains("Reference date") && r.body.contains("\"decide\":\"Decide\""));
        assert!(!r.body.contains("基准日期"));
    };
    // The service's language when the request names none of ours.
    chinese(&zh.get("/"));
    english(&en.get("/"));
    chinese(&zh.get_with("/", &[("Accept-Language", "fr-FR,fr;q=0.9")]));
    // The request's first language when it is Chinese or English.
    english(&zh.get_with("/", &[("Accept-Language", "en-US,en;q=0.9,zh;q=0.8")]));
    chinese(&en.get_with("/", &[("Accept-Language", "zh-CN,zh;q=0.9")]));
    chinese(&en.get_with("/", &[("Accept-Language", "zh")]));
    // No placeholder or message id left.
    for r in [zh.get("/"), en.get("/")] {
        assert!(!r.body.contains("{{") && !r.body.contains("serve-page--"));
        assert!(!r.body.contains("<script src"), "the page loads nothing");
    }
    // JSON answers and error messages are the same in every language.
    let record = r#"{"date": "2025-07-01", "record": {"person": {"id": "P"}}}"#;
    for (path, body) in [
        ("/v1/decisions", Some(record)),
        ("/v1/decisions", Some("{")),
        ("/v1/policies", None),
        ("/v1/bundles", None),
        ("/v1/policies/nope", None),
    ] {
        let [a, b] = [&zh, &en].map(|s| match body {
            Some(b) => s.post_with(path, &[("Accept-Language", "zh-CN")], b),
            None => s.get_with(path, &[("Accept-Language", "zh-CN")]),
        });
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{path}");
    }
    let e = zh.get("/v1/policies/nope").error(404, "unknown-policy");
    assert!(e["message"].as_str().unwrap().starts_with("unknown policy"));
}

#[test]
fn every_error_is_json_with_its_status_and_the_service_keeps_serving() {
    let server = Server::start(Path::new("rules"), &["--max-body-bytes", "4096"]);
    let dir = scratch("errors");
    let post = |body: &str| server.post("/v1/decisions", body);
    // 400: not JSON, not UTF-8, no date, a bad date, an unknown request field, a field
    // of the wrong type, a key the schema does not have, a record too deep.
    post("{").error(400, "syntax");
    post("").error(400, "syntax");
    let r = reply(ureq::post(&server.url("/v1/decisions")).send_bytes(&[0xff, 0xfe, b'{', b'}']));
    r.error(400, "syntax");
    post(r#"{"record": {"person": {"id": "P"}}}"#).error(400, "missing-date");
    post(r#"{"date": "2025-13-01", "record": {"person": {"id": "P"}}}"#).error(400, "invalid-date");
    post(r#"{"date": 20250101, "record": {"person": {"id": "P"}}}"#).error(400, "invalid-date");
    post(r#"{"date": "2025-07-01", "record": {}, "extra": 1}"#).error(400, "unknown-field");
    post(r#"{"date": "2025-07-01", "record": {"person": {"id": "P"}}, "trace": "yes"}"#)
        .error(400, "bad-request");
    post(r#"{"date": "2025-07-01", "record": [1, 2]}"#).error(400, "subject-kind");
    post(r#"{"date": "2025-07-01", "records": {"a": 1}}"#).error(400, "bad-request");
    let deep = format!("{}{}", "[".repeat(1500), "]".repeat(1500));
    assert_eq!(post(&deep).status, 400);
    let deep_record = format!(
        r#"{{"date": "2025-07-01", "record": {{"person": {}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    post(&deep_record).error(400, "too-deep");
    post(r#"{"date": "2025-07-01", "record": {"person": {"id": "P", "id": "Q"}}}"#)
        .error(400, "duplicate-key");
    // The message is the one eval prints.
    let record = serde_json::json!({"person": {"id": "P9", "birth_date": "1950-02-30"}});
    let e = post(&serde_json::json!({"date": "2025-07-01", "record": record}).to_string())
        .error(400, "invalid-value");
    assert_eq!(e["path"], "person.birth_date");
    let file = dir.join("bad.json");
    std::fs::write(&file, record.to_string()).unwrap();
    let run = run_within(
        &[
            "eval",
            "rules",
            &file.to_string_lossy(),
            "--date",
            "2025-07-01",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(e["message"].as_str().unwrap()),
        "eval says {:?}, the service {e}",
        run.stderr
    );
    let e = post(
        r#"{"date": "2025-07-01", "record": {"person": {"id": "P", "birth_dat": "1950-01-01"}}}"#,
    )
    .error(400, "unknown-field");
    assert_eq!(e["path"], "person.birth_dat");
    // 404: an unknown policy, an unknown path; 405 as JSON too.
    let e = post(&format!(
        r#"{{"date": "2025-07-01", "record": {{"person": {{"id": "P"}}}}, "policies": ["{SENIOR}x"]}}"#
    ))
    .error(404, "unknown-policy");
    assert_eq!(e["path"], "policies[0]");
    server.get("/v2/nothing").error(404, "not-found");
    server.get("/v1/decisions").error(405, "method-not-allowed");
    // 413: past the body limit.
    let big = format!(
        r#"{{"date": "2025-07-01", "record": {{"person": {{"id": "{}"}}}}}}"#,
        "x".repeat(5000)
    );
    post(&big).error(413, "too-large");
    // 422: a record of another subject kind than the policy.
    post(&format!(
        r#"{{"date": "2025-07-01", "record": {{"enterprise": {{"id": "E"}}}}, "policies": ["{SENIOR}"]}}"#
    ))
    .error(422, "wrong-subject");
    // Hostile text inside strings comes back escaped, never raw.
    let r = post(r#"{"date": "2025-07-01", "record": {"person": {"id": "P\u202e\u0085"}}}"#);
    assert_eq!(r.status, 200);
    assert!(!r.body.contains('\u{202e}') && !r.body.contains('\u{85}'));
    // Still serving.
    assert_eq!(server.get("/healthz").status, 200);
    let ok = post(r#"{"date": "2025-07-01", "record": {"person": {"id": "P"}}}"#);
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[test]
fn concurrent_requests_give_the_bytes_of_eval() {
    let server = Server::start(Path::new("rules"), &[]);
    let dir = scratch("concurrent");
    let work: Vec<(String, String)> = cases(1)
        .into_iter()
        .take(8)
        .map(|(id, date, record, _)| {
            let expected = cli_json(
                &["eval", "rules", "--date", &date, "--json"],
                &record,
                &dir,
                &id,
            );
            let body = serde_json::json!({"date": date, "record": record}).to_string();
            (body, expected)
        })
        .collect();
    let work = std::sync::Arc::new(work);
    let url = server.url("/v1/decisions");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let work = std::sync::Arc::clone(&work);
            let url = url.clone();
            std::thread::spawn(move || {
                let agent = ureq::agent();
                for i in 0..25 {
                    let (body, expected) = &work[(t + i) % work.len()];
                    let r = reply(agent.post(&url).send_string(body));
                    assert_eq!(r.status, 200);
                    assert_eq!(&r.body, expected);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Polls until `check` holds (a signal is handled asynchronously).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: timed out"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_swaps_a_good_rule_set_and_refuses_a_bad_one() {
    let dir = scratch("reload");
    let rules = dir.join("rules");
    copy_dir(&root().join("rules"), &rules);
    let server = Server::start(&rules, &["--admin-token", "s3cret"]);
    let auth = [("Authorization", "Bearer s3cret")];
    let record = r#"{"date": "2025-06-30", "record": {"person": {"id": "P10A", "hukou_region": "上海", "birth_date": "1955-08-10"}}}"#;
    let before = server.post("/v1/decisions", record);
    let v1 = before.version.clone().unwrap();

    // Without the token, or with another: 401.
    server
        .post("/v1/admin/reload", "")
        .error(401, "unauthorized");
    server
        .post_with("/v1/admin/reload", &[("Authorization", "Bearer s3cre")], "")
        .error(401, "unauthorized");

    // A rule set with errors is refused; the old one keeps serving.
    let common = rules.join("common.rules");
    let good = std::fs::read_to_string(&common).unwrap();
    std::fs::write(&common, format!("{good}\npolicy broken {{\n")).unwrap();
    let e = server
        .post_with("/v1/admin/reload", &auth, "")
        .error(409, "rules-rejected");
    assert!(!e["diagnostics"].as_array().unwrap().is_empty(), "{e}");
    let still = server.post("/v1/decisions", record);
    assert_eq!(still.version.as_deref(), Some(v1.as_str()));
    assert_eq!(still.body, before.body);

    // A good one is swapped in: a new version.
    std::fs::write(&common, format!("{good}\n# reloaded\n")).unwrap();
    let r = server.post_with("/v1/admin/reload", &auth, "");
    assert_eq!(r.status, 200, "{r:?}");
    let v2 = r.json()["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(r.json()["previous"], v1.as_str());
    let after = server.post("/v1/decisions", record);
    assert_eq!(after.version.as_deref(), Some(v2.as_str()));
    assert_eq!(after.body, before.body, "a comment changes no decision");

    // SIGHUP reloads too.
    #[cfg(unix)]
    {
        std::fs::write(&common, format!("{good}\n# reloaded again\n")).unwrap();
        let pid = server.child.id().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
        eventually("SIGHUP reload", || {
            server.get("/readyz").version.as_deref() != Some(v2.as_str())
        });
        // A bad rule set on SIGHUP: refused, the service still answers.
        std::fs::write(&common, format!("{good}\npolicy broken {{\n")).unwrap();
        let v3 = server.get("/readyz").version.unwrap();
        Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        eventually("SIGHUP refused", || {
            server
                .get("/metrics")
                .body
                .contains("mianshen_reloads_total{result=\"refused\"} 2")
        });
        assert_eq!(server.get("/readyz").version.as_deref(), Some(v3.as_str()));
        assert_eq!(server.post("/v1/decisions", record).body, before.body);
    }
}

#[test]
fn reload_over_http_is_disabled_without_a_token() {
    let server = Server::start(Path::new("rules"), &[]);
    server
        .post_with("/v1/admin/reload", &[("Authorization", "Bearer ")], "")
        .error(404, "disabled");
}

#[test]
fn sigterm_stops_the_service() {
    #[cfg(unix)]
    {
        let mut server = Server::start(Path::new("rules"), &[]);
        assert_eq!(server.get("/healthz").status, 200);
        let pid = server.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                assert!(status.success(), "{status:?}");
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The installed headless browser, if any (`.ci/install-browser` installs one).
fn browser() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromium"))
            .find(|c| c.exists())
    })
}

/// Runs the browser headless on `url` with `extra` arguments; its standard output.
fn headless(browser: &Path, url: &str, profile: &Path, extra: &[String]) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1600",
            // Lets the page's requests to the service and its rendering finish.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("the browser runs");
    assert!(
        out.status.success(),
        "the browser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_staff_page_decides_an_example_record_in_a_headless_browser() {
    let Some(chromium) = browser() else {
        println!("skipped: no chromium installed");
        return;
    };
    let server = Server::start(Path::new("rules"), &[]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serve-page-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    // The page loads its policies, picks the first, fills in its example case and
    // shows the decision the service gives for it.
    let dom = headless(
        &chromium,
        &server.url("/"),
        &dir.join("dom"),
        &["--dump-dom".into()],
    );
    assert!(
        dom.contains("<option value=\"policy:"),
        "the policies are listed:\n{dom}"
    );
    assert!(
        dom.contains("class=\"outcome "),
        "a decision is shown for the example record:\n{dom}"
    );
    assert!(dom.contains("C0"), "with its trace:\n{dom}");
    let png = dir.join("page.png");
    headless(
        &chromium,
        &server.url("/"),
        &dir.join("shot"),
        &[format!("--screenshot={}", png.display())],
    );
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real screenshot"
    );
}
