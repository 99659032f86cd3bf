//! Relative improvement of a metric over a base model.
//!
//! AsymDiffRec (Zhu et al., CIKM 2025) reports `RelaImpr = metric / base - 1`; DIN (Zhou et al.,
//! KDD 2018) defined it relative to a random guesser's AUC of 0.5: `(metric - 0.5)/(base - 0.5) - 1`.
//! recdiff reports the AsymDiffRec form as "RelaImpr" and the DIN form beside it, labelled.

use crate::MetricError;

/// `metric / base - 1`, the AsymDiffRec definition.
pub fn rela_impr(metric: f64, base: f64) -> Result<f64, MetricError> {
    if base == 0.0 || !base.is_finite() || !metric.is_finite() {
        return Err(MetricError::BadBase { base });
    }
    Ok(metric / base - 1.0)
}

/// `(metric - 0.5) / (base - 0.5) - 1`, the DIN definition for AUC-like metrics.
pub fn rela_impr_din(metric: f64, base: f64) -> Result<f64, MetricError> {
    if base == 0.5 || !base.is_finite() || !metric.is_finite() {
        return Err(MetricError::BadBase { base });
    }
    Ok((metric - 0.5) / (base - 0.5) - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_asymdiffrec_table_figures() {
        // AsymDiffRec Table 2: AUC 0.92359 vs base 0.92267 -> +0.100%; UAUC 0.62614 vs 0.61578 -> +1.682%.
        let auc = rela_impr(0.92359, 0.92267).unwrap() * 100.0;
        let uauc = rela_impr(0.62614, 0.61578).unwrap() * 100.0;
        assert_eq!(format!("{auc:.3}"), "0.100");
        assert_eq!(format!("{uauc:.3}"), "1.682");
    }

    #[test]
    fn din_variant_measures_lift_over_random_guessing() {
        let v = rela_impr_din(0.75, 0.70).unwrap();
        assert!((v - 0.25).abs() < 1e-12);
        assert!(rela_impr_din(0.7, 0.5).is_err());
        assert!(rela_impr(0.7, 0.0).is_err());
    }
}
