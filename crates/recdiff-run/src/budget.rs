//! The memory a training run will need, estimated from its config (and, for CTR, its schema's
//! tables) before anything is allocated, and refused by the key that drives it when it exceeds
//! the memory available (`MemAvailable`) or the `--max-memory` limit ([`set_max_memory`]).
//!
//! The estimate is an upper-side sketch, not an accounting: dense weights from the widths the
//! model config names (each layer at most `in × out`, a cross layer `W × W` for input width
//! `W`), 16 bytes per dense weight (weight, gradient, Adam's two moments), embedding tables at 4
//! bytes per value plus their optimiser's moments, and the activations of one batch. All in
//! `f64`, so no number a TOML can hold overflows: `embedding_dim = 2^31` is refused by name, not a
//! panic or an abort on a terabyte allocation.

use crate::RunError;
use std::path::Path;
use std::sync::OnceLock;

static MAX_MEMORY: OnceLock<u64> = OnceLock::new();

/// Caps what a run may need at `bytes` (the binary's `--max-memory`); the first call wins.
pub fn set_max_memory(bytes: u64) -> bool {
    MAX_MEMORY.set(bytes).is_ok()
}

/// The bytes a run may use: the `--max-memory` limit, else the memory the kernel reports as
/// available; `None` where neither is known.
pub fn limit() -> Option<f64> {
    if let Some(b) = MAX_MEMORY.get() {
        return Some(*b as f64);
    }
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Dense weights cost this many bytes each while training: the weight, its gradient, Adam's moments.
pub const DENSE_BYTES: f64 = 16.0;

/// What a run's memory is estimated from: `(config key, bytes)` parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    pub parts: Vec<(String, f64)>,
}

impl Estimate {
    pub fn add(&mut self, key: impl Into<String>, bytes: f64) {
        self.parts.push((key.into(), bytes.max(0.0)));
    }

    pub fn total(&self) -> f64 {
        self.parts.iter().map(|(_, b)| b).sum()
    }

    /// Refuses the estimate when it exceeds `limit`, naming the key of its largest part; `at`
    /// (the run) prefixes the error.
    pub fn check(&self, at: &Path, limit: Option<f64>) -> Result<(), RunError> {
        let (Some(limit), total) = (limit, self.total()) else { return Ok(()) };
        if total.is_finite() && total <= limit {
            return Ok(());
        }
        let (key, biggest) =
            self.parts.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(k, b)| (k.as_str(), *b)).unwrap_or(("?", total));
        Err(RunError::at(
            at,
            format!(
                "the run would need about {} ({} of it from `{key}`), more than the {} available; lower `{key}`, \
                 or raise the limit with --max-memory",
                gib(total),
                gib(biggest),
                gib(limit)
            ),
        ))
    }
}

fn gib(bytes: f64) -> String {
    if bytes.is_finite() { format!("{:.1} GiB", bytes / (1u64 << 30) as f64) } else { "an unbounded amount".into() }
}

/// Σ a_i × a_{i+1} + a_{i+1} over a chain of layer widths: the weights and biases of dense layers.
pub fn chain(widths: &[f64]) -> f64 {
    widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

/// The widths a model config's table names (integers and integer lists under `keys`, each with
/// its key prefixed by `at`) and how many times its repeated blocks stack (the largest integer
/// under `repeats`, at least 1, with its key).
pub fn widths(table: &toml::Table, at: &str, keys: &[&str], repeats: &[&str]) -> (Vec<(String, f64)>, (String, f64)) {
    let (mut out, mut times) = (Vec::new(), (String::new(), 1.0f64));
    for (k, v) in table {
        let num = |v: &toml::Value| v.as_integer().map(|i| i.max(0) as f64);
        let key = format!("{at}.{k}");
        if keys.contains(&k.as_str()) {
            match v {
                toml::Value::Array(a) => out.extend(a.iter().filter_map(num).map(|n| (key.clone(), n))),
                v => out.extend(num(v).map(|n| (key, n))),
            }
        } else if repeats.contains(&k.as_str()) && num(v).is_some_and(|n| n > times.1) {
            times = (key, num(v).unwrap_or(1.0));
        }
    }
    (out, times)
}

/// The key of the largest value.
pub fn largest(candidates: &[(String, f64)]) -> String {
    candidates.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(k, _)| k.clone()).unwrap_or_default()
}

/// The memory a ranking run (sequential, top-K) needs while training: its model's widths over
/// `items` (an item table or an item-wide layer at each end), its blocks stacked `layers` /
/// `interests` times, and one batch of `batch` rows of `row` values (a history's positions, or a
/// user's whole item row).
pub fn ranking(model: &toml::Table, items: f64, batch: f64, row: f64) -> Estimate {
    let keys = ["dim", "hidden", "latent", "time_dim", "gem_hidden", "svd_dim"];
    let (named, repeat) = widths(model, "model", &keys, &["layers", "interests"]);
    let mut e = Estimate::default();
    let widest = named.iter().map(|p| p.1).fold(0.0, f64::max);
    let items_key = ("the data's item count".to_string(), items);
    let mut ends = named.clone();
    ends.push(items_key);
    e.add(largest(&ends), 2.0 * items * widest * DENSE_BYTES);
    let mut block: Vec<f64> = named.iter().map(|p| p.1).collect();
    block.push(widest);
    let mut stacked = named.clone();
    stacked.push(repeat.clone());
    e.add(largest(&stacked), repeat.1 * chain(&block) * DENSE_BYTES);
    let key = if batch > 1e6 { "train.batch_size".to_string() } else { largest(&ends) };
    e.add(key, batch * (row + named.iter().map(|p| p.1).sum::<f64>() * row.max(1.0).sqrt()) * 4.0 * 8.0);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_over_the_limit_is_refused_naming_its_largest_key() {
        let mut e = Estimate::default();
        e.add("model.embedding_dim", 3.0 * (1u64 << 30) as f64);
        e.add("model.base.deep", 1.0);
        assert!(e.check(Path::new("exp.toml"), Some(4.0 * (1u64 << 30) as f64)).is_ok());
        let err = e.check(Path::new("exp.toml"), Some(2.0 * (1u64 << 30) as f64)).unwrap_err().to_string();
        assert!(err.contains("exp.toml") && err.contains("`model.embedding_dim`") && err.contains("3.0 GiB"), "{err}");
        e.add("model.base.cross_layers", f64::INFINITY);
        let err = e.check(Path::new("exp.toml"), Some(1e18)).unwrap_err().to_string();
        assert!(err.contains("cross_layers") && err.contains("unbounded"), "{err}");
        assert!(e.check(Path::new("exp.toml"), None).is_ok(), "no limit known: nothing to refuse");
    }

    #[test]
    fn a_ranking_model_of_a_billion_wide_layer_is_named_and_an_ordinary_one_is_small() {
        let t: toml::Table = toml::from_str("kind = \"diffrec\"\nhidden = [1000000000]\ntime_dim = 10").unwrap();
        let e = ranking(&t, 1_682.0, 400.0, 1_682.0);
        let err = e.check(Path::new("run"), Some(64.0 * (1u64 << 30) as f64)).unwrap_err().to_string();
        assert!(err.contains("`model.hidden`"), "{err}");
        let t: toml::Table = toml::from_str("kind = \"diffrec\"\nhidden = [1000]\ntime_dim = 10").unwrap();
        assert!(ranking(&t, 1_682.0, 400.0, 1_682.0).total() < (1u64 << 30) as f64);
    }

    #[test]
    fn widths_and_chains_read_the_config_table() {
        let t: toml::Table =
            toml::from_str("kind = \"dcnv2\"\ncross_layers = 3\ndeep = [256, 128]\nlatent_dim = 64").unwrap();
        let (w, times) = widths(&t, "model.base", &["deep", "latent_dim"], &["cross_layers"]);
        assert_eq!((w.iter().map(|p| p.1).sum::<f64>(), times), (448.0, ("model.base.cross_layers".into(), 3.0)));
        assert_eq!(largest(&w), "model.base.deep");
        assert_eq!(chain(&[10.0, 4.0, 2.0]), 10.0 * 4.0 + 4.0 + 4.0 * 2.0 + 2.0);
    }
}
