//! Mean and 95% confidence interval over repeated runs (seeds), using Student's t distribution.

use crate::MetricError;

/// A sample mean with the half-width of its two-sided 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    pub mean: f64,
    /// Half-width: the interval is `mean ± half_width`. 0 for a single run.
    pub half_width: f64,
    pub n: usize,
    pub std: f64,
}

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The t quantile for `df` degrees of freedom (normal approximation beyond 30).
pub fn t_quantile_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df - 1],
        _ => 1.959_964 + 2.4 / df as f64,
    }
}

/// Mean ± 95% CI of `values` (sample standard deviation, n - 1).
pub fn mean_ci95(values: &[f64]) -> Result<MeanCi, MetricError> {
    if values.is_empty() {
        return Err(MetricError::Empty);
    }
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(MetricError::NotFinite { what: "value", index, value: values[index] });
    }
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Ok(MeanCi { mean, half_width: 0.0, n, std: 0.0 });
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let std = var.sqrt();
    Ok(MeanCi { mean, half_width: t_quantile_975(n - 1) * std / (n as f64).sqrt(), n, std })
}

/// Paired two-sided t-test of `a` against `b` (same length, paired by index, e.g. by seed).
/// Returns (mean difference a - b, p-value); p is 1 when all differences are equal (no spread).
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<(f64, f64), MetricError> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if a.len() != b.len() {
        return Err(MetricError::LengthMismatch { what: "paired values", got: b.len(), expected: a.len() });
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let ci = mean_ci95(&d)?;
    if d.len() < 2 || ci.std == 0.0 {
        return Ok((ci.mean, 1.0));
    }
    let t = ci.mean / (ci.std / (d.len() as f64).sqrt());
    let dist = StudentsT::new(0.0, 1.0, (d.len() - 1) as f64).map_err(|_| MetricError::Empty)?;
    Ok((ci.mean, 2.0 * (1.0 - dist.cdf(t.abs()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_seed_interval_uses_t_with_four_degrees_of_freedom() {
        let ci = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(ci.mean, 3.0);
        // std = sqrt(2.5); half width = 2.776 * sqrt(2.5) / sqrt(5)
        assert!((ci.half_width - 2.776 * (2.5f64).sqrt() / 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_ci95(&[0.7]).unwrap().half_width, 0.0);
        assert!(mean_ci95(&[]).is_err());
    }

    #[test]
    fn paired_t_test_matches_a_hand_computed_case() {
        // differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, df 2 -> p = 0.0742
        let (diff, p) = paired_t_test(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(diff, 2.0);
        assert!((p - 0.0742).abs() < 1e-3, "{p}");
        assert_eq!(paired_t_test(&[1.0, 2.0], &[0.0, 1.0]).unwrap().1, 1.0);
    }
}
