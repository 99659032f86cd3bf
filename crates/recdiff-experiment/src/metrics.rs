//! Named, possibly absent metric values, and the registry of what a family reports.
//!
//! Every family reports its evaluation as [`Metrics`]: metric name -> `Option<f64>`. A metric that
//! does not apply (UAUC on a log without a user key, intra-list distance without item attributes)
//! is `None`, written as JSON `null` and read back as `None`, never NaN. Early stopping, compare
//! tables and the minimum detectable effect read metrics by name, so they need no family code.
//! A metric has one name ([`recdiff_metrics::names`]): files that used a former name (`hit@10`)
//! read back under today's (`hr@10`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One evaluation's metrics by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, Option<f64>>")]
pub struct Metrics(BTreeMap<String, Option<f64>>);

impl From<BTreeMap<String, Option<f64>>> for Metrics {
    /// Reads former metric names as today's.
    fn from(map: BTreeMap<String, Option<f64>>) -> Self {
        Self(map.into_iter().map(|(k, v)| (recdiff_metrics::names::canonical(&k).into_owned(), v)).collect())
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name`; a non-finite value is stored as absent (and logged): NaN never travels.
    pub fn set(&mut self, name: impl Into<String>, value: Option<f64>) -> &mut Self {
        let name = name.into();
        let value = value.filter(|v| {
            let finite = v.is_finite();
            if !finite {
                tracing::warn!("metric {name} is {v}; recorded as absent");
            }
            finite
        });
        self.0.insert(name, value);
        self
    }

    /// The value of `name`: `None` when absent or not reported.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied().flatten()
    }

    /// Whether `name` is reported at all (possibly as absent).
    pub fn reports(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A metric a family can report: its name and which direction is better.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: String,
    pub higher_is_better: bool,
}

impl MetricSpec {
    pub fn higher(name: impl Into<String>) -> Self {
        Self { name: name.into(), higher_is_better: true }
    }

    pub fn lower(name: impl Into<String>) -> Self {
        Self { name: name.into(), higher_is_better: false }
    }
}

/// Looks `name` up in a family's registry, with an error listing what it does report.
pub fn find<'a>(registry: &'a [MetricSpec], name: &str) -> Result<&'a MetricSpec, String> {
    registry.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = registry.iter().map(|m| m.name.as_str()).collect();
        format!("metric {name:?} is not reported here; known: {}", known.join(", "))
    })
}

/// Formats a value for a table: 4 decimals, or "—" when absent.
pub fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_metric_is_written_as_null_and_read_back_as_absent() {
        let mut m = Metrics::new();
        m.set("auc", Some(0.75)).set("uauc", None).set("broken", Some(f64::NAN));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"auc":0.75,"broken":null,"uauc":null}"#);
        let back: Metrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            (back.get("auc"), back.get("uauc"), back.reports("uauc"), back.reports("x")),
            (Some(0.75), None, true, false)
        );
    }

    #[test]
    fn a_record_written_with_the_former_hit_name_reads_back_as_hr() {
        let back: Metrics = serde_json::from_str(r#"{"hit@10":0.5,"ndcg@10":0.25}"#).unwrap();
        assert_eq!((back.get("hr@10"), back.reports("hit@10"), back.get("ndcg@10")), (Some(0.5), false, Some(0.25)));
        assert_eq!(serde_json::to_string(&back).unwrap(), r#"{"hr@10":0.5,"ndcg@10":0.25}"#);
    }

    #[test]
    fn an_unknown_metric_name_lists_the_known_ones() {
        let reg = [MetricSpec::higher("auc"), MetricSpec::lower("logloss")];
        assert!(!find(&reg, "logloss").unwrap().higher_is_better);
        assert_eq!(find(&reg, "ndcg@10").unwrap_err(), "metric \"ndcg@10\" is not reported here; known: auc, logloss");
    }
}
