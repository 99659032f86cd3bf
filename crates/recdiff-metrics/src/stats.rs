//! Mean and 95% confidence interval over repeated runs (seeds), the paired t-test between two
//! methods run on the same seeds, and the minimum detectable effect of such a test. Quantiles of
//! Student's t come from `statrs`.

use crate::MetricError;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A sample mean with the half-width of its two-sided 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    pub mean: f64,
    /// Half-width: the interval is `mean ± half_width`. 0 for a single run.
    pub half_width: f64,
    pub n: usize,
    pub std: f64,
}

/// The two-sided paired t-test of two methods over the same seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTest {
    /// Mean of the paired differences `a - b`.
    pub diff: f64,
    /// Two-sided p-value; `None` with a single pair (no variance to test against).
    pub p: Option<f64>,
}

fn students_t(df: usize) -> Result<StudentsT, MetricError> {
    StudentsT::new(0.0, 1.0, df as f64).map_err(|_| MetricError::Empty)
}

/// The `q` quantile of Student's t with `df` degrees of freedom (`df >= 1`).
pub fn t_quantile(q: f64, df: usize) -> Result<f64, MetricError> {
    if df == 0 {
        return Err(MetricError::Empty);
    }
    Ok(students_t(df)?.inverse_cdf(q))
}

fn check_finite(values: &[f64]) -> Result<(), MetricError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NotFinite { what: "value", index, value: values[index] }),
        None => Ok(()),
    }
}

/// Mean ± 95% CI of `values` (sample standard deviation, n - 1; t quantile with n - 1 df).
pub fn mean_ci95(values: &[f64]) -> Result<MeanCi, MetricError> {
    if values.is_empty() {
        return Err(MetricError::Empty);
    }
    check_finite(values)?;
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Ok(MeanCi { mean, half_width: 0.0, n, std: 0.0 });
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let std = var.sqrt();
    Ok(MeanCi { mean, half_width: t_quantile(0.975, n - 1)? * std / (n as f64).sqrt(), n, std })
}

/// Paired two-sided t-test of `a` against `b` (same length, paired by index, e.g. by seed).
///
/// Differences with no spread are decided exactly: all zero gives p = 1, and equal non-zero
/// differences (the strongest evidence a paired design can give) give p = 0.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<PairedTest, MetricError> {
    if a.len() != b.len() {
        return Err(MetricError::LengthMismatch { what: "paired values", got: b.len(), expected: a.len() });
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let ci = mean_ci95(&d)?;
    if d.len() < 2 {
        return Ok(PairedTest { diff: ci.mean, p: None });
    }
    if ci.std == 0.0 {
        return Ok(PairedTest { diff: ci.mean, p: Some(if ci.mean == 0.0 { 1.0 } else { 0.0 }) });
    }
    let t = ci.mean / (ci.std / (d.len() as f64).sqrt());
    let p = 2.0 * (1.0 - students_t(d.len() - 1)?.cdf(t.abs()));
    Ok(PairedTest { diff: ci.mean, p: Some(p) })
}

/// Minimum detectable effect of a two-sided paired t-test at level `alpha` with power `power`:
/// the true mean difference it would detect, given `n` pairs whose differences have standard
/// deviation `sd`: `(t_{1-α/2, n-1} + t_{power, n-1}) · sd / √n`. `None` below two pairs.
pub fn minimum_detectable_effect(sd: f64, n: usize, alpha: f64, power: f64) -> Result<Option<f64>, MetricError> {
    if !sd.is_finite() || sd < 0.0 {
        return Err(MetricError::NotFinite { what: "standard deviation", index: 0, value: sd });
    }
    if n < 2 {
        return Ok(None);
    }
    let df = n - 1;
    let t = t_quantile(1.0 - alpha / 2.0, df)? + t_quantile(power, df)?;
    Ok(Some(t * sd / (n as f64).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_seed_interval_uses_t_with_four_degrees_of_freedom() {
        let ci = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(ci.mean, 3.0);
        // std = sqrt(2.5); half width = t(0.975, 4) * sqrt(2.5) / sqrt(5), t = 2.7764451
        assert!((ci.half_width - 2.776_445_1 * (2.5f64).sqrt() / 5f64.sqrt()).abs() < 1e-6);
        assert_eq!(mean_ci95(&[0.7]).unwrap().half_width, 0.0);
        assert!(mean_ci95(&[]).is_err());
    }

    #[test]
    fn t_quantiles_match_published_tables_beyond_thirty_degrees_of_freedom() {
        // Published two-sided 95% values: df 1 -> 12.706, df 40 -> 2.021, df 120 -> 1.980.
        assert!((t_quantile(0.975, 1).unwrap() - 12.706).abs() < 1e-3);
        assert!((t_quantile(0.975, 40).unwrap() - 2.021).abs() < 1e-3);
        assert!((t_quantile(0.975, 120).unwrap() - 1.980).abs() < 1e-3);
    }

    #[test]
    fn paired_t_test_matches_a_hand_computed_case() {
        // differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, df 2 -> p = 0.0742
        let r = paired_t_test(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(r.diff, 2.0);
        assert!((r.p.unwrap() - 0.0742).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn equal_nonzero_paired_differences_are_significant_and_zero_differences_are_not() {
        // Every seed improves by exactly 1: the old code answered p = 1.
        assert_eq!(paired_t_test(&[1.0, 2.0, 3.0], &[0.0, 1.0, 2.0]).unwrap().p, Some(0.0));
        assert_eq!(paired_t_test(&[1.0, 2.0], &[1.0, 2.0]).unwrap().p, Some(1.0));
        assert_eq!(paired_t_test(&[1.0], &[0.5]).unwrap().p, None);
    }

    #[test]
    fn minimum_detectable_effect_matches_the_power_formula() {
        // n = 5, sd = 0.002: (t(0.975, 4) + t(0.8, 4)) * 0.002 / sqrt 5 = (2.7764 + 0.9410) * 0.000894
        let mde = minimum_detectable_effect(0.002, 5, 0.05, 0.8).unwrap().unwrap();
        assert!((mde - (2.776_445 + 0.940_965) * 0.002 / 5f64.sqrt()).abs() < 1e-7, "{mde}");
        assert_eq!(minimum_detectable_effect(0.002, 1, 0.05, 0.8).unwrap(), None);
        // More seeds detect smaller effects.
        let more = minimum_detectable_effect(0.002, 20, 0.05, 0.8).unwrap().unwrap();
        assert!(more < mde / 2.0);
    }
}
