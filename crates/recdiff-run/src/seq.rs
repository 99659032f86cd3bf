//! A trained sequential run opened read-only: its resolved config, item keys by id and best weights
//! on burn's flex backend without autodiff. Evaluation and retrieval serving load runs through
//! here; opening writes nothing.
//!
//! A run directory written by `recdiff train` (sequential family):
//! ```text
//! config.resolved.toml   the experiment config, paths resolved
//! items.json             item keys by id (items[0] is the padding placeholder)
//! best.safetensors       the best epoch's weights
//! log.jsonl, results.json
//! ```

use crate::RunError;
use crate::ctr::CONFIG_FILE;
use crate::seq_config::SeqExperimentConfig;
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use recdiff_data::histories::{Interactions, LeaveOneOut};
use recdiff_model::seq::{LEGACY_KEYS, SeqModel};
use std::path::{Path, PathBuf};

/// Item keys by id (`items[0]` is padding), saved in every run.
pub const ITEMS_FILE: &str = "items.json";

/// The best weights.
pub const WEIGHTS_FILE: &str = "best.safetensors";

/// Loads the data a config names: interactions and the leave-one-out split.
pub fn load_data(cfg: &SeqExperimentConfig) -> Result<(Interactions, LeaveOneOut), recdiff_data::DataError> {
    let schema = recdiff_data::Schema::load(&cfg.data.schema)?;
    let data = Interactions::load(&schema, cfg.data.attribute.as_deref())?;
    let split = LeaveOneOut::new(&data.histories);
    Ok((data, split))
}

/// A finished sequential run, ready to rank.
pub struct SeqRun {
    pub dir: PathBuf,
    pub cfg: SeqExperimentConfig,
    /// Item keys by id; `items[0]` is padding.
    pub items: Vec<String>,
    pub model: SeqModel,
}

impl SeqRun {
    /// Opens `run` on `device`. Runs from before `items.json` was written get the item keys from
    /// the training data the config names.
    pub fn open(run: &Path, device: &Device) -> Result<Self, RunError> {
        let cfg_path = run.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| RunError::at(&cfg_path, e))?;
        let cfg: SeqExperimentConfig = toml::from_str(&text).map_err(|e| RunError::at(&cfg_path, e))?;
        cfg.validate().map_err(|e| RunError::at(&cfg_path, e))?;
        let items_path = run.join(ITEMS_FILE);
        let items: Vec<String> = match std::fs::read(&items_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RunError::at(&items_path, e))?,
            Err(_) => load_data(&cfg).map_err(|e| RunError::at(&items_path, format!("absent, and {e}")))?.0.items,
        };
        if items.len() < 2 {
            return Err(RunError::at(&items_path, "no items"));
        }
        let mut model = cfg.model.init(items.len() - 1, cfg.data.max_len, cfg.seed, device);
        let weights = run.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights).map_err(|e| RunError::at(&weights, e))?;
        let mut store = recdiff_model::legacy::reader(bytes, &LEGACY_KEYS);
        let applied = model.load_from(&mut store).map_err(|e| RunError::at(&weights, format!("{e:?}")))?;
        if !applied.missing.is_empty() {
            return Err(RunError::at(&weights, format!("missing tensors {:?}", applied.missing)));
        }
        Ok(Self { dir: run.to_path_buf(), cfg, items, model })
    }
}
