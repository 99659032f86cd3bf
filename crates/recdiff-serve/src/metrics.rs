//! Prometheus metrics of the server, exposed as text on `GET /metrics`.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    /// Requests by route and status code.
    pub requests: IntCounterVec,
    /// Wall time from the first byte read to the response, by route.
    pub latency: HistogramVec,
    pub candidates: IntCounter,
    pub in_flight: IntGauge,
    /// Reloads by result (`ok`, `failed`).
    pub reloads: IntCounterVec,
    /// Open connections.
    pub connections: IntGauge,
    /// Connections closed by the cap, by reason (`evicted_idle`, `refused_all_busy`).
    pub connections_closed: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("recdiff_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let buckets = vec![0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let latency = HistogramVec::new(
            HistogramOpts::new("recdiff_request_duration_seconds", "Request latency by route").buckets(buckets),
            &["route"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let candidates = IntCounter::new("recdiff_candidates_scored_total", "Candidates and rows scored")
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let in_flight = IntGauge::new("recdiff_in_flight_requests", "Requests being served")
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let reloads =
            IntCounterVec::new(Opts::new("recdiff_model_reloads_total", "Model reloads by result"), &["result"])
                .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let connections = IntGauge::new("recdiff_open_connections", "Open client connections")
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let connections_closed = IntCounterVec::new(
            Opts::new("recdiff_connections_closed_total", "Connections closed by the connection cap, by reason"),
            &["reason"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(candidates.clone()),
            Box::new(in_flight.clone()),
            Box::new(reloads.clone()),
            Box::new(connections.clone()),
            Box::new(connections_closed.clone()),
        ] {
            registry.register(c).unwrap_or_else(|e| unreachable!("distinct metric names: {e}"));
        }
        Self { registry, requests, latency, candidates, in_flight, reloads, connections, connections_closed }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
