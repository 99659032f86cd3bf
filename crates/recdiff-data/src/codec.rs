//! Field codecs: how one schema field becomes embedding-table row ids and a value.
//!
//! Codecs that need statistics (exact vocabularies, standard scaling, equal-frequency buckets) are
//! fitted on the training split only by a [`Fitter`], then frozen into a [`Codec`] that is saved with
//! the encoded data and reused at prediction and serving time.
//!
//! Ids per kind: hash -> `xxh3(value) % buckets`; vocab -> 1..=V by descending training count, 0
//! for out-of-vocabulary and rare values; bucketize -> 0..=boundaries.len(); scaled numeric -> id 0
//! with the scaled number as its value. A missing field's ids are 0 and its missing bit is set.
//!
//! **Clamping.** A scaled numeric value is clamped, after its transform, to within
//! [`SCALE_CLAMP_STD`] training standard deviations of the training mean, alike in training,
//! evaluation, prediction and serving: a client's `1e30` reaches the network as the largest value
//! the rule allows, not as a number that overflows the forward pass into a NaN score. Training data
//! is unaffected in practice (Chebyshev: at most one value in a million lies that far out).

use crate::KeyMap;
use crate::schema::{CategoricalEncoding, FieldKind, FieldSpec, NumericTransform};
use crate::value::Key;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Values kept to place equal-frequency boundaries; exact when the training split is smaller.
pub const RESERVOIR_SIZE: usize = 200_000;

/// How many training standard deviations from the training mean a scaled value may lie; further
/// values are clamped to this distance (module docs).
pub const SCALE_CLAMP_STD: f64 = 1_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Codec {
    Hash {
        buckets: u32,
        seed: u64,
    },
    Vocab {
        tokens: Vec<String>,
    },
    Scale {
        transform: NumericTransform,
        mean: f64,
        std: f64,
    },
    Bucketize {
        boundaries: Vec<f64>,
    },
    /// See [`NumericTransform::LogSquared`]; ids from [`log_squared_id`].
    LogSquared,
}

/// Integers `LOG_SQUARED_LOW..=2` keep their own id; lower values share id 0.
pub const LOG_SQUARED_LOW: i64 = -16;
/// Largest `floor(ln(v)²)` with its own id (`v ≈ e^31`); larger values share the last id.
pub const LOG_SQUARED_MAX: u32 = 999;
const LOG_SQUARED_BASE: u32 = (2 - LOG_SQUARED_LOW) as u32 + 2;

/// The table row of `v` under [`NumericTransform::LogSquared`]: `1..` for the integers
/// `LOG_SQUARED_LOW..=2` (fractions floored), then one row per value of `floor(ln(v)²)`.
pub fn log_squared_id(v: f64) -> u32 {
    if v <= 2.0 {
        let i = v.floor() as i64;
        return if i < LOG_SQUARED_LOW { 0 } else { (i - LOG_SQUARED_LOW + 1) as u32 };
    }
    let b = v.ln().powi(2).floor().min(LOG_SQUARED_MAX as f64) as u32;
    LOG_SQUARED_BASE + b
}

impl Codec {
    /// Rows the field's embedding table needs.
    pub fn cardinality(&self) -> u32 {
        match self {
            Codec::Hash { buckets, .. } => *buckets,
            Codec::Vocab { tokens } => tokens.len() as u32 + 1,
            Codec::Scale { .. } => 1,
            Codec::Bucketize { boundaries } => boundaries.len() as u32 + 1,
            Codec::LogSquared => LOG_SQUARED_BASE + LOG_SQUARED_MAX + 1,
        }
    }

    /// Whether the field carries a number (scaled) rather than a categorical id.
    pub fn is_scalar(&self) -> bool {
        matches!(self, Codec::Scale { .. })
    }

    /// The value a scaled numeric field gives the network: transformed, clamped to within
    /// [`SCALE_CLAMP_STD`] standard deviations of the mean, and standardised where the transform
    /// says so.
    pub fn scale(&self, v: f64) -> f32 {
        match self {
            Codec::Scale { transform, mean, std } => {
                let v = match transform {
                    NumericTransform::Log | NumericTransform::LogStandard => signed_log(v),
                    _ => v,
                };
                let reach = SCALE_CLAMP_STD * std;
                let v = v.clamp(mean - reach, mean + reach);
                match transform {
                    NumericTransform::Standard | NumericTransform::LogStandard => ((v - mean) / std) as f32,
                    _ => v as f32,
                }
            }
            _ => 1.0,
        }
    }

    /// Checks a codec read back from a file: a positive standard deviation and a clamped range
    /// within f32 (so finite statistics),
    /// at least one hash bucket, finite ascending boundaries. A hand-edited `meta.json` (a `std`
    /// of 0, a `mean` of 1e308) would otherwise score every row as NaN or as one constant.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Codec::Scale { mean, std, .. } => {
                // The clamped range must hold f32 values: the network reads them as f32.
                let ok = std.is_finite() && *std > 0.0 && (mean.abs() + SCALE_CLAMP_STD * std) < f32::MAX as f64;
                if !ok {
                    return Err(format!(
                        "scale codec with mean {mean} and std {std}: std must be positive and the clamped range \
                         (mean ± {SCALE_CLAMP_STD} std) within f32"
                    ));
                }
            }
            Codec::Hash { buckets: 0, .. } => return Err("hash codec with 0 buckets".into()),
            Codec::Bucketize { boundaries }
                if boundaries.iter().any(|b| !b.is_finite()) || boundaries.windows(2).any(|w| w[0] >= w[1]) =>
            {
                return Err("bucketize codec whose boundaries are not finite and ascending".into());
            }
            _ => {}
        }
        Ok(())
    }

    pub fn bucket(&self, v: f64) -> u32 {
        match self {
            Codec::Bucketize { boundaries } => boundaries.partition_point(|b| *b <= v) as u32,
            Codec::LogSquared => log_squared_id(v),
            _ => 0,
        }
    }
}

fn signed_log(v: f64) -> f64 {
    v.signum() * v.abs().ln_1p()
}

/// A frozen codec with a fast lookup for vocabularies.
#[derive(Debug, Clone)]
pub struct FieldCodec {
    pub codec: Codec,
    lookup: KeyMap<u32>,
}

impl FieldCodec {
    pub fn new(codec: Codec) -> Self {
        let lookup = match &codec {
            Codec::Vocab { tokens } => tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32 + 1)).collect(),
            _ => KeyMap::default(),
        };
        Self { codec, lookup }
    }

    /// The table row of a categorical key.
    pub fn id(&self, key: Key<'_>) -> u32 {
        match &self.codec {
            Codec::Hash { buckets, seed } => (key.hash(*seed) % *buckets as u64) as u32,
            Codec::Vocab { .. } => key.with_str(|s| self.lookup.get(s).copied().unwrap_or(0)),
            _ => 0,
        }
    }
}

/// Accumulates training statistics for one field.
#[derive(Debug)]
pub enum Fitter {
    Fixed(Codec),
    Vocab { counts: KeyMap<u64>, min_count: u64 },
    Moments { transform: NumericTransform, n: u64, mean: f64, m2: f64 },
    Reservoir { buckets: u32, values: Vec<f64>, seen: u64, rng: Box<ChaCha8Rng> },
}

/// A per-table hash seed, so equal values in two unshared fields land in unrelated buckets.
fn field_seed(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

impl Fitter {
    pub fn new(spec: &FieldSpec, seed: u64) -> Self {
        let categorical = matches!(spec.kind, FieldKind::Categorical | FieldKind::MultiHot);
        match (categorical, spec.encoding(), spec.transform()) {
            (true, CategoricalEncoding::Hash, _) => {
                Fitter::Fixed(Codec::Hash { buckets: spec.buckets.unwrap_or(1), seed: field_seed(spec.table()) })
            }
            (true, CategoricalEncoding::Vocab, _) => {
                Fitter::Vocab { counts: KeyMap::default(), min_count: spec.min_count.unwrap_or(1) }
            }
            (false, _, NumericTransform::LogSquared) => Fitter::Fixed(Codec::LogSquared),
            (false, _, NumericTransform::Bucketize) => Fitter::Reservoir {
                buckets: spec.buckets.unwrap_or(1),
                values: Vec::new(),
                seen: 0,
                rng: Box::new(ChaCha8Rng::seed_from_u64(seed ^ field_seed(&spec.name))),
            },
            (false, _, transform) => Fitter::Moments { transform, n: 0, mean: 0.0, m2: 0.0 },
        }
    }

    pub fn observe_key(&mut self, key: Key<'_>) {
        if let Fitter::Vocab { counts, .. } = self {
            key.with_str(|s| match counts.get_mut(s) {
                Some(c) => *c += 1,
                None => {
                    counts.insert(s.to_string(), 1);
                }
            });
        }
    }

    pub fn observe_number(&mut self, v: f64) {
        match self {
            Fitter::Moments { transform, n, mean, m2 } => {
                let x = match transform {
                    NumericTransform::Log | NumericTransform::LogStandard => signed_log(v),
                    _ => v,
                };
                *n += 1;
                let d = x - *mean;
                *mean += d / *n as f64;
                *m2 += d * (x - *mean);
            }
            Fitter::Reservoir { values, seen, rng, .. } => {
                *seen += 1;
                if values.len() < RESERVOIR_SIZE {
                    values.push(v);
                } else {
                    let j = rng.random_range(0..*seen);
                    if (j as usize) < RESERVOIR_SIZE {
                        values[j as usize] = v;
                    }
                }
            }
            _ => {}
        }
    }

    pub fn finish(self) -> Codec {
        match self {
            Fitter::Fixed(c) => c,
            Fitter::Vocab { counts, min_count } => {
                let mut kept: Vec<(String, u64)> = counts.into_iter().filter(|(_, c)| *c >= min_count).collect();
                kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                Codec::Vocab { tokens: kept.into_iter().map(|(t, _)| t).collect() }
            }
            Fitter::Moments { transform, n, mean, m2 } => {
                let std = if n > 1 { (m2 / (n - 1) as f64).sqrt() } else { 0.0 };
                Codec::Scale { transform, mean, std: if std > 0.0 { std } else { 1.0 } }
            }
            Fitter::Reservoir { buckets, mut values, .. } => {
                values.sort_unstable_by(f64::total_cmp);
                Codec::Bucketize { boundaries: equal_frequency_boundaries(&values, buckets) }
            }
        }
    }
}

/// Boundaries `b` such that `partition_point(b <= v)` splits sorted `values` into about `buckets`
/// groups of equal size; repeated values never produce empty buckets.
pub fn equal_frequency_boundaries(sorted: &[f64], buckets: u32) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    if sorted.is_empty() {
        return out;
    }
    for q in 1..buckets as usize {
        let b = sorted[(q * sorted.len() / buckets as usize).min(sorted.len() - 1)];
        if out.last().is_none_or(|l| *l < b) && b > sorted[0] {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_values_are_clamped_to_a_thousand_deviations_and_bad_statistics_are_refused() {
        let standard = Codec::Scale { transform: NumericTransform::Standard, mean: 10.0, std: 2.0 };
        assert_eq!(standard.scale(14.0), 2.0, "inside the range: (14 - 10) / 2");
        assert_eq!((standard.scale(1e30), standard.scale(-1e300)), (1_000.0, -1_000.0));
        let raw = Codec::Scale { transform: NumericTransform::None, mean: 10.0, std: 2.0 };
        assert_eq!((raw.scale(7.5), raw.scale(1e30), raw.scale(f64::MAX)), (7.5, 2_010.0, 2_010.0));
        assert!(standard.check().is_ok());
        for (mean, std) in [(0.0, 0.0), (1e308, 1.0), (0.0, f64::INFINITY), (f64::NAN, 1.0), (0.0, -1.0)] {
            let c = Codec::Scale { transform: NumericTransform::Standard, mean, std };
            assert!(c.check().is_err(), "mean {mean} std {std}");
        }
        assert!(Codec::Bucketize { boundaries: vec![1.0, 1.0] }.check().is_err());
        assert!(Codec::Hash { buckets: 0, seed: 1 }.check().is_err());
    }

    #[test]
    fn vocab_orders_by_count_and_maps_rare_values_to_oov() {
        let mut f = Fitter::Vocab { counts: KeyMap::default(), min_count: 2 };
        for k in ["b", "a", "b", "c", "a", "b"] {
            f.observe_key(Key::Str(k));
        }
        let codec = FieldCodec::new(f.finish());
        assert_eq!(codec.codec, Codec::Vocab { tokens: vec!["b".into(), "a".into()] });
        assert_eq!((codec.id(Key::Str("b")), codec.id(Key::Str("a")), codec.id(Key::Str("c"))), (1, 2, 0));
        assert_eq!(codec.codec.cardinality(), 3);
    }

    #[test]
    fn log_squared_keeps_small_integers_and_buckets_by_squared_log_above_two() {
        // -16..=2 -> 1..=19; then floor(ln(v)^2) + 20: 3 -> 1, 7 -> 3 (ln 7 = 1.946), 100 -> 21.
        let ids: Vec<u32> = [-17.0, -16.0, -1.0, 0.0, 1.5, 2.0, 2.5, 3.0, 7.0, 100.0, 1e300]
            .iter()
            .map(|&v| log_squared_id(v))
            .collect();
        assert_eq!(ids, vec![0, 1, 16, 17, 18, 19, 20, 21, 23, 41, 1019]);
        assert_eq!(Codec::LogSquared.cardinality(), 1020);
    }

    #[test]
    fn integer_and_text_keys_hash_alike() {
        let c = FieldCodec::new(Codec::Hash { buckets: 1000, seed: 7 });
        assert_eq!(c.id(Key::Int(42)), c.id(Key::Str("42")));
    }

    #[test]
    fn standard_scaling_uses_training_moments() {
        let mut f = Fitter::Moments { transform: NumericTransform::Standard, n: 0, mean: 0.0, m2: 0.0 };
        for v in [1.0, 2.0, 3.0] {
            f.observe_number(v);
        }
        let c = f.finish();
        assert!((c.scale(3.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn equal_frequency_buckets_hold_equal_shares() {
        let values: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let b = equal_frequency_boundaries(&values, 4);
        assert_eq!(b, vec![250.0, 500.0, 750.0]);
        let codec = Codec::Bucketize { boundaries: b };
        let mut counts = [0; 4];
        for v in &values {
            counts[codec.bucket(*v) as usize] += 1;
        }
        assert_eq!(counts, [250; 4]);
        assert_eq!(equal_frequency_boundaries(&[5.0; 10], 4), Vec::<f64>::new());
    }
}
