//! A load generator for `mianshen serve`: decisions per second and latency percentiles
//! for one record per request (docs/performance.md, "The decision service").
//!
//! ```text
//! mianshen serve rules/ --addr 127.0.0.1:8080 &
//! cargo run --release --example serve_load -- http://127.0.0.1:8080 [requests] [clients] [trace]
//! ```
//!
//! Each client is a thread with one kept-alive connection, sending the records of the
//! shipped example cases in turn (`{"date", "record", "trace"}`); the count and time
//! are bounded, and only the given loopback address is contacted.

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let requests: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let clients: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    let trace = args.get(4).is_some_and(|s| s == "trace");
    let bodies = bodies(trace);
    assert!(!bodies.is_empty(), "no example records in rules/cases");
    let url = format!("{base}/v1/decisions");
    // Warm up: one pass over the bodies.
    let agent = ureq::agent();
    for b in &bodies {
        agent
            .post(&url)
            .send_string(b)
            .expect("the service answers");
    }
    let started = Instant::now();
    let per_client = requests / clients.max(1);
    let threads: Vec<_> = (0..clients.max(1))
        .map(|c| {
            let url = url.clone();
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let agent = ureq::agent();
                let mut latencies = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let body = &bodies[(c + i) % bodies.len()];
                    let t = Instant::now();
                    let r = agent.post(&url).send_string(body).expect("200");
                    let _ = r.into_string().expect("a body");
                    latencies.push(t.elapsed());
                    if started.elapsed() > Duration::from_secs(300) {
                        break;
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client"))
        .collect();
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| {
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all.get(i).copied().unwrap_or_default()
    };
    println!(
        "{} requests ({} records, traces {}), {clients} clients: {:.0} requests/s, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        all.len(),
        bodies.len(),
        if trace { "on" } else { "off" },
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
    );
}

/// One request body per example case of the shipped rules.
fn bodies(trace: bool) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/cases");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("rules/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut out = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a case file");
        let doc: serde_json::Value = serde_yaml::from_str(&text).expect("YAML");
        for c in doc["cases"].as_array().into_iter().flatten() {
            let body = serde_json::json!({
                "date": c["reference_date"],
                "record": c["record"],
                "trace": trace,
            });
            out.push(body.to_string());
        }
    }
    out
}
