//! `mianshen serve`: the decision service, an HTTP JSON API over one rule set (docs/serve.md).
//!
//! A host of the library like any other: the rule set is loaded once through the facade
//! ([`RuleSet::load_dir`]), held behind an atomic pointer, and swapped whole on a reload
//! (SIGHUP or `POST /v1/admin/reload`); a request takes the rule set once when it starts
//! and finishes on it. Answers are the bytes `eval --json` and `prefill --json` print
//! ([`super::output`]).

mod handlers;
mod metrics;
mod openapi;
mod page;
mod schema;

use arc_swap::ArcSwap;
use mianshen::internals::escape;
use mianshen::{LoadError, RuleSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The options of `mianshen serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The rules directory (loaded once; checked again and swapped on a reload).
    rules: PathBuf,
    /// The address to listen on. Loopback by default: to serve other machines, give
    /// their interface (`0.0.0.0:8080`) on purpose. Port 0 takes a free port; the
    /// address bound is printed on the first line of standard output.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The largest request body, in bytes (past it: 413).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// The most records in one `POST /v1/decisions` (past it: 413).
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_records: usize,
    /// The longest a request may take, in milliseconds (past it: 408).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// The token that enables `POST /v1/admin/reload` (sent as `Authorization: Bearer
    /// TOKEN`); also read from the environment variable MIANSHEN_ADMIN_TOKEN. Without
    /// one, reloading over HTTP is disabled (SIGHUP still reloads).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Log lines as JSON objects instead of text (on standard error; the level is set
    /// by MIANSHEN_LOG, `info` by default).
    #[arg(long)]
    log_json: bool,
    #[command(flatten)]
    records: super::RecordArgs,
}

/// The limits of every request, fixed when the service starts.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_records: usize,
    pub read: mianshen::ReadOptions,
    pub budget: u64,
}

/// A loaded rule set with the answers that depend on it alone, made once per load.
pub struct Loaded {
    pub rules: RuleSet,
    pub version: String,
    /// `GET /v1/policies`, `GET /v1/bundles`, `GET /v1/schema`, as JSON text.
    pub policies: String,
    pub bundles: String,
    pub schema: String,
    /// `GET /v1/examples`: for each policy and bundle, the first example case of the
    /// rules directory that expects something of it (the staff page starts from it).
    pub examples: String,
}

impl Loaded {
    fn new(rules: RuleSet, dir: &std::path::Path) -> Loaded {
        let version = rules.version().to_string();
        let examples = examples_json(&version, dir);
        let policies = handlers::policies_json(&rules);
        let bundles = handlers::bundles_json(&rules);
        let schema = schema::json_schema(&rules);
        Loaded {
            rules,
            version,
            policies,
            bundles,
            schema,
            examples,
        }
    }
}

/// The first example case of each policy and bundle, from the case files of the rules
/// directory (none when it has none, or they cannot be read: the page does without).
fn examples_json(version: &str, dir: &std::path::Path) -> String {
    let mut examples = serde_json::Map::new();
    for file in mianshen::case_files(dir).unwrap_or_default() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(doc) = serde_yaml::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(cases) = doc.get("cases").and_then(|c| c.as_array()) else {
            continue;
        };
        for case in cases {
            let (Some(record), Some(date), Some(expected)) = (
                case.get("record"),
                case.get("reference_date").and_then(|d| d.as_str()),
                case.get("expected").and_then(|e| e.as_object()),
            ) else {
                continue;
            };
            for id in expected.keys() {
                if !examples.contains_key(id) {
                    examples.insert(
                        id.clone(),
                        serde_json::json!({
                            "case": case.get("id"),
                            "date": date,
                            "record": record,
                        }),
                    );
                }
            }
        }
    }
    let doc = serde_json::json!({"version": version, "examples": examples});
    escape::json(&serde_json::to_string_pretty(&doc).unwrap_or_default()).into_owned() + "\n"
}

/// The service's state: the rule set in use, and what a reload needs.
pub struct App {
    pub current: ArcSwap<Loaded>,
    pub dir: PathBuf,
    pub limits: Limits,
    pub admin_token: Option<String>,
    /// One reload at a time.
    pub reloading: tokio::sync::Mutex<()>,
    pub metrics: metrics::Metrics,
}

/// What a reload did.
pub enum Reload {
    /// The rule set was loaded and is now served.
    Swapped { previous: String, version: String },
    /// The rule set has errors (or cannot be read): the old one keeps serving.
    Refused {
        message: String,
        diagnostics: Vec<String>,
    },
}

impl App {
    /// Checks the rules directory again and swaps it in when it loads without errors.
    pub async fn reload(self: &Arc<Self>) -> Reload {
        let _one = self.reloading.lock().await;
        let dir = self.dir.clone();
        let loaded = tokio::task::spawn_blocking(move || RuleSet::load_dir(&dir)).await;
        let outcome = match loaded {
            Ok(Ok(rules)) => {
                let fresh = Arc::new(Loaded::new(rules, &self.dir));
                let version = fresh.version.clone();
                let previous = self.current.swap(fresh);
                Reload::Swapped {
                    previous: previous.version.clone(),
                    version,
                }
            }
            Ok(Err(e)) => Reload::Refused {
                message: format!("{}: {e}", self.dir.display()),
                diagnostics: diagnostics(&e),
            },
            Err(e) => Reload::Refused {
                message: format!("{}: the load failed: {e}", self.dir.display()),
                diagnostics: vec![],
            },
        };
        match &outcome {
            Reload::Swapped { previous, version } => {
                self.metrics.reloads.with_label_values(&["swapped"]).inc();
                tracing::info!(%previous, %version, "rule set reloaded")
            }
            Reload::Refused { message, .. } => {
                self.metrics.reloads.with_label_values(&["refused"]).inc();
                tracing::warn!(
                    error = %message,
                    version = %self.current.load().version,
                    "reload refused: the rule set has errors; the old one keeps serving"
                )
            }
        }
        outcome
    }
}

/// The diagnostics of a rule set that does not load, as `mianshen check` prints them.
fn diagnostics(e: &LoadError) -> Vec<String> {
    match e {
        LoadError::Diagnostics {
            diagnostics,
            sources,
        } => diagnostics
            .iter()
            .map(|d| escape::lines(&d.render(sources)).into_owned())
            .collect(),
        _ => vec![],
    }
}

/// Runs the service until SIGTERM or Ctrl-C; exit code 1 when the rule set does not
/// load or the address cannot be bound.
pub fn main(args: ServeArgs) -> ExitCode {
    init_logs(args.log_json);
    let rules = match super::load_rules(&args.rules) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let admin_token = args
        .admin_token
        .clone()
        .or_else(|| std::env::var("MIANSHEN_ADMIN_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let metrics = match metrics::Metrics::new() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: metrics: {e}");
            return ExitCode::from(1);
        }
    };
    let app = Arc::new(App {
        current: ArcSwap::from_pointee(Loaded::new(rules, &args.rules)),
        dir: args.rules.clone(),
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_records: args.max_records.max(1),
            read: args.records.read(),
            budget: args.records.budget,
        },
        admin_token,
        reloading: tokio::sync::Mutex::new(()),
        metrics,
    });
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime
        .enable_all()
        // Evaluation recurses as deep as the rules nest: the stack the CLI gives it.
        .thread_stack_size(mianshen::internals::check::EVAL_STACK)
        .thread_name("mianshen-serve");
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    runtime.block_on(serve(app, args.addr, timeout))
}

async fn serve(app: Arc<App>, addr: SocketAddr, timeout: Duration) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    {
        use std::io::Write;
        let version = app.current.load().version.clone();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "mianshen serve: listening on http://{bound} (rule set version {version})"
        );
        let _ = out.flush();
    }
    tracing::info!(%bound, dir = %app.dir.display(), version = %app.current.load().version, "serving");
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(Arc::clone(&app)));
    let router = handlers::router(Arc::clone(&app), timeout);
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGHUP reloads the rule set.
#[cfg(unix)]
async fn reload_on_hangup(app: Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reload over HTTP only");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading");
        app.reload().await;
    }
}

/// Resolves on SIGTERM or Ctrl-C: the server stops accepting, finishes the requests in
/// flight and returns.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

fn init_logs(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MIANSHEN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}
