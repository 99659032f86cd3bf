//! A closed-loop HTTP load generator for `recdiff bench serve`, and request bodies built from a
//! run's own data so the benchmark scores realistic rows (real vocabularies, real missingness).

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_data::rows::RowParser;
use recdiff_data::source::Cell;
use recdiff_data::{DataError, Schema};
use recdiff_serve::request::Features;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Rows of `schema`'s source as feature objects keyed by column (missing cells left out), split
/// by the fields' `group`: (user, context, item); fields without a group count as context.
pub fn sample_rows(schema: &Schema, limit: usize) -> Result<Vec<[Features; 3]>, DataError> {
    let parser = RowParser::features_only(schema);
    let part_of: Vec<usize> = parser
        .columns
        .iter()
        .map(|c| {
            let group = schema.fields.iter().find(|f| f.column() == c).and_then(|f| f.group.as_deref());
            match group {
                Some("user") => 0,
                Some("item") => 2,
                _ => 1,
            }
        })
        .collect();
    let mut rows = Vec::new();
    let mut source = parser.open(schema)?;
    let result = source.for_each_batch(
        &mut |b| {
            for r in 0..b.len() {
                let mut parts: [Features; 3] = Default::default();
                for (c, name) in parser.columns.iter().enumerate() {
                    let v = match b.cell(r, c) {
                        Cell::Null => continue,
                        Cell::Text(s) => json!(s),
                        Cell::Int(i) => json!(i),
                        Cell::Float(f) if f.is_finite() => json!(f),
                        Cell::Float(_) => continue,
                    };
                    parts[part_of[c]].insert(name.clone(), v);
                }
                rows.push(parts);
                if rows.len() >= limit {
                    return Err(DataError::Invalid("enough rows".into()));
                }
            }
            Ok(())
        },
        &mut |e| Err(e),
    );
    match result {
        Err(DataError::Invalid(m)) if m == "enough rows" => {}
        other => other?,
    }
    Ok(rows)
}

/// `count` bodies for `/v1/score`: one row's user and context, `candidates` other rows' items.
pub fn score_bodies(rows: &[[Features; 3]], candidates: usize, count: usize, seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let anchor = &rows[rng.random_range(0..rows.len())];
            let items: Vec<&Features> = (0..candidates).map(|_| &rows.choose(&mut rng).unwrap_or(anchor)[2]).collect();
            json!({ "user": anchor[0], "context": anchor[1], "candidates": items }).to_string()
        })
        .collect()
}

/// Latencies of one target in a load run.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub latencies: Vec<Duration>,
    pub errors: usize,
}

impl LoadReport {
    /// The `q` quantile of the latencies (nearest rank), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let mut v: Vec<f64> = self.latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    pub fn mean_ms(&self) -> f64 {
        self.latencies.iter().map(Duration::as_secs_f64).sum::<f64>() / self.latencies.len().max(1) as f64 * 1e3
    }

    /// Throughput of `concurrency` closed-loop clients at this mean latency (Little's law).
    pub fn requests_per_s(&self, concurrency: usize) -> f64 {
        concurrency as f64 / (self.mean_ms() / 1e3)
    }
}

/// Sends every body to every target from `concurrency` threads, each waiting for its answer
/// before the next request (closed loop). Targets alternate request by request, so noise on a
/// shared machine falls on all of them alike. A non-200 answer counts as an error.
pub fn run_load(targets: &[String], bodies: &[String], concurrency: usize) -> Vec<LoadReport> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let jobs = bodies.len() * targets.len();
    let per_worker: Vec<Vec<LoadReport>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                s.spawn(|| {
                    let agent = agent();
                    let mut reports = vec![LoadReport::default(); targets.len()];
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if j >= jobs {
                            break;
                        }
                        let (body, target) = (&bodies[j / targets.len()], j % targets.len());
                        let t = Instant::now();
                        let ok = post(&agent, &targets[target], body).is_ok_and(|(status, _)| status == 200);
                        reports[target].latencies.push(t.elapsed());
                        reports[target].errors += usize::from(!ok);
                    }
                    reports
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let mut total = vec![LoadReport::default(); targets.len()];
    for reports in per_worker {
        for (t, r) in total.iter_mut().zip(reports) {
            t.latencies.extend(r.latencies);
            t.errors += r.errors;
        }
    }
    total
}

/// An HTTP client that returns 4xx/5xx answers as responses, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs `body` as JSON; returns the status and the answer's body.
pub fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(u16, String), ureq::Error> {
    post_with(agent, url, body, &[("content-type", "application/json")])
}

/// POSTs `body` with exactly these headers (e.g. an admin token, another content type).
pub fn post_with(
    agent: &ureq::Agent,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), ureq::Error> {
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body)?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(64 << 20).read_to_string()?;
    Ok((status, text))
}

/// GETs `url`; returns the status and the body.
pub fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), ureq::Error> {
    let mut resp = agent.get(url).call()?;
    let status = resp.status().as_u16();
    Ok((status, resp.body_mut().read_to_string()?))
}

/// The scores of a successful answer.
pub fn scores_of(answer: &str) -> Option<Vec<f64>> {
    let v: Value = serde_json::from_str(answer).ok()?;
    v["scores"].as_array()?.iter().map(Value::as_f64).collect()
}
