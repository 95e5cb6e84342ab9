//! `/metrics`: requests, latencies, decisions by outcome and reloads, in the Prometheus
//! text format (the `prometheus` crate).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The service's counters.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: IntCounterVec,
    /// Request latency by route, in seconds.
    pub latency: HistogramVec,
    /// Decisions by outcome.
    pub decisions: IntCounterVec,
    /// Reloads by result (`swapped`, `refused`).
    pub reloads: IntCounterVec,
    /// Requests being served now.
    pub in_flight: IntGauge,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new_custom(Some("mianshen".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route, in seconds",
            )
            .buckets(vec![
                0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        let decisions = IntCounterVec::new(
            Opts::new("decisions_total", "Policy decisions made, by outcome"),
            &["outcome"],
        )?;
        let reloads = IntCounterVec::new(
            Opts::new("reloads_total", "Rule-set reloads, by result"),
            &["result"],
        )?;
        let in_flight = IntGauge::new("http_requests_in_flight", "Requests being served now")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            decisions,
            reloads,
            in_flight,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = vec![];
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
