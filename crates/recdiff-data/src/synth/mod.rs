//! Synthetic impression log: recdiff's embedded default dataset.
//!
//! An industrial-style CTR log with many fields (default 1M impressions x 40 fields, any field
//! count from 24 up): Zipf-distributed users and items; user profile fields (gender, age band,
//! city, ...) and item meta fields (genre, mood, language, ...) that are fixed per user/item;
//! per-impression context (scene, hour, network, position). Labels come from a planted logistic
//! click model with feature interactions (genre x age band, mood x scene, gender x genre, language
//! x city tier, a user-item latent dot product, a favourite-genre match, position and popularity
//! effects, weak effects of filler fields), with its intercept calibrated to a target click rate.
//!
//! Missingness is planted the way production logs show it: a *cold-start user* (`cold_user_rate`
//! of users) has every profile field missing from every impression; any other impression loses the
//! whole profile at `cold_start_rate`; an item without metadata has every item meta field missing
//! together; and each other field is also missing at random at its own rate. The click model sees
//! the true values of fields that are later hidden, so hidden fields cost accuracy — the setting
//! AsymDiffRec addresses. `planted.json` records each field's expected missing rate and two
//! oracles (see `click`): the AUC of the true probabilities with every feature, and the AUC of the
//! best prediction from the features as logged. The gap between them is what completion can win.
//!
//! Generation is deterministic for a seed and streams: memory does not grow with the row count.

mod click;
#[cfg(test)]
mod click_tests;
pub mod like;
mod plan;
mod writer;

pub use plan::{Group, SynthField, SynthKind, field_plan};
pub use writer::OutputFormat;

use crate::error::{DataError, Result};
use click::ClickModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    pub rows: u64,
    /// Feature fields (the label and timestamp are extra columns). At least 24.
    pub fields: usize,
    pub users: u32,
    pub items: u32,
    /// Zipf exponents of user and item frequency.
    pub user_zipf: f64,
    pub item_zipf: f64,
    /// Share of impressions whose user profile is lost (all user fields but the id), per impression.
    pub cold_start_rate: f64,
    /// Share of users who are cold-start users: their profile is missing from every impression.
    pub cold_user_rate: f64,
    /// Share of impressions whose item metadata is missing (all item fields but the id).
    pub item_meta_missing_rate: f64,
    /// Largest per-field missing-at-random rate; fields get rates spread over [0, this].
    pub max_field_missing_rate: f64,
    /// Click rate the model's intercept is calibrated to.
    pub target_ctr: f64,
    /// Scale of the effects carried by the ids alone (per-user and per-item biases, the user-item
    /// latent dot product). They can only be learned by memorising ids, so they need many rows per
    /// id; 1.0 is the original planted model.
    pub id_effects: f64,
    pub seed: u64,
    pub format: OutputFormat,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            // 1M rows over 5,000 users and 2,000 items: enough rows per id and per feature cell for
            // DCN-V2 to come within 0.03 AUC of the as-logged oracle (docs/results.md). At 200k
            // rows over 20,000 users it stopped 0.12 short, overfitting the ids after one epoch.
            rows: 1_000_000,
            fields: 40,
            users: 5_000,
            items: 2_000,
            user_zipf: 0.9,
            item_zipf: 1.0,
            cold_start_rate: 0.10,
            cold_user_rate: 0.10,
            item_meta_missing_rate: 0.05,
            max_field_missing_rate: 0.30,
            target_ctr: 0.25,
            id_effects: 0.7,
            seed: 2025,
            format: OutputFormat::Parquet,
        }
    }
}

impl SynthConfig {
    /// Reads a synth config (TOML, unknown keys rejected, numbers finite and non-negative) and
    /// validates it.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |m: String| DataError::Invalid(format!("synth config: {m}"));
        let c: SynthConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        crate::numbers::check_numbers(&table, &[]).map_err(invalid)?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        let rate_ok = |r: f64| (0.0..1.0).contains(&r);
        let problem = if self.fields < plan::CORE_FIELDS {
            Some(format!("fields must be at least {}", plan::CORE_FIELDS))
        } else if self.rows == 0 || self.users == 0 || self.items == 0 {
            Some("rows, users and items must be positive".to_string())
        } else if !(rate_ok(self.cold_start_rate)
            && rate_ok(self.cold_user_rate)
            && rate_ok(self.item_meta_missing_rate)
            && rate_ok(self.max_field_missing_rate))
        {
            Some("missing rates must be in [0, 1)".to_string())
        } else if !(self.target_ctr > 0.0 && self.target_ctr < 1.0) {
            Some("target_ctr must be in (0, 1)".to_string())
        } else if !(self.user_zipf > 0.0
            && self.user_zipf.is_finite()
            && self.item_zipf > 0.0
            && self.item_zipf.is_finite())
        {
            Some(format!(
                "zipf exponents must be positive and finite, got user_zipf = {}, item_zipf = {}",
                self.user_zipf, self.item_zipf
            ))
        } else if !(self.id_effects >= 0.0 && self.id_effects.is_finite()) {
            Some(format!("id_effects must be finite and non-negative, got {}", self.id_effects))
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(DataError::Invalid(format!("synth config: {p}"))))
    }
}

/// What `generate` wrote and planted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planted {
    pub config: SynthConfig,
    pub data_file: PathBuf,
    pub schema_file: PathBuf,
    /// Expected missing rate per field name.
    pub missing_rates: Vec<(String, f64)>,
    /// Calibrated intercept of the click model.
    pub intercept: f64,
    /// Share of positive labels generated.
    pub positive_rate: f64,
    /// AUC of the true click probabilities (every feature, before any is hidden) on the first rows
    /// (up to 200,000).
    pub oracle_auc: f64,
    /// AUC, on the same rows, of the best prediction from the features as logged: the true
    /// probability with the hidden values marginalised out. The gap to `oracle_auc` is what
    /// completing the missing features can win.
    pub as_logged_oracle_auc: f64,
}

pub const PLANTED_FILE: &str = "planted.json";
pub const SCHEMA_FILE: &str = "schema.toml";

/// Generates the log into `out_dir`: the data file, `schema.toml` describing it, `planted.json`.
pub fn generate(config: &SynthConfig, out_dir: &Path) -> Result<Planted> {
    config.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    let fields = field_plan(config);
    let model = ClickModel::calibrated(config, &fields);
    let data_name = format!("impressions.{}", config.format.extension());
    let data_file = out_dir.join(&data_name);
    let summary = writer::write_rows(config, &fields, &model, &data_file)?;
    let cold_share = model.cold_user_share();
    let schema_file = out_dir.join(SCHEMA_FILE);
    crate::write_atomic(&schema_file, plan::schema_toml(config, &fields, &data_name).as_bytes())?;
    let planted = Planted {
        config: config.clone(),
        data_file,
        schema_file,
        missing_rates: fields.iter().map(|f| (f.name.clone(), f.planted_missing_rate(config, cold_share))).collect(),
        intercept: model.intercept,
        positive_rate: summary.positives as f64 / config.rows as f64,
        oracle_auc: summary.oracle_auc,
        as_logged_oracle_auc: summary.as_logged_oracle_auc,
    };
    let json = serde_json::to_string_pretty(&planted).map_err(|e| DataError::Invalid(e.to_string()))?;
    crate::write_atomic(&out_dir.join(PLANTED_FILE), json.as_bytes())?;
    Ok(planted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_zipf_exponent_is_an_error_naming_the_key_not_a_panic() {
        let e = SynthConfig::parse("user_zipf = nan").unwrap_err().to_string();
        assert!(e.contains("user_zipf = NaN: must be a finite number"), "{e}");
        let c = SynthConfig { item_zipf: f64::NAN, ..SynthConfig::default() };
        assert!(c.validate().unwrap_err().to_string().contains("zipf exponents must be positive and finite"));
    }
}
