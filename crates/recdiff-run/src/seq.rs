//! A trained sequential run opened read-only: its resolved config, item keys by id and best weights
//! on burn's flex backend without autodiff. Evaluation and retrieval serving load runs through
//! here; opening writes nothing.
//!
//! A run directory written by `recdiff train` (sequential family):
//! ```text
//! config.resolved.toml   the experiment config, paths resolved
//! items.json             item keys by id (items[0] is the padding placeholder)
//! best.safetensors       the best epoch's weights
//! manifest.json          checksums of the two files above and the architecture fingerprint
//! log.jsonl, results.json
//! ```

use crate::RunError;
use crate::ctr::CONFIG_FILE;
use crate::manifest::Manifest;
use crate::seq_config::SeqExperimentConfig;
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor, TensorData};
use recdiff_data::DataError;
use recdiff_data::histories::{Interactions, LeaveOneOut};
use recdiff_model::seq::{LEGACY_KEYS, SeqModel};
use std::path::{Path, PathBuf};

/// Item keys by id (`items[0]` is padding), saved in every run.
pub const ITEMS_FILE: &str = "items.json";

/// The best weights.
pub const WEIGHTS_FILE: &str = "best.safetensors";

/// The architecture fingerprint of a sequential run: its model config, window length and
/// catalogue size (`items` counts the padding slot).
pub fn fingerprint(cfg: &SeqExperimentConfig, items: usize) -> String {
    crate::manifest::fingerprint(&(&cfg.model, cfg.data.max_len, items))
}

/// Loads the data a config names: interactions and the leave-one-out split.
pub fn load_data(cfg: &SeqExperimentConfig) -> Result<(Interactions, LeaveOneOut), recdiff_data::DataError> {
    let schema = recdiff_data::Schema::load(&cfg.data.schema)?;
    let data = Interactions::load(&schema, cfg.data.attribute.as_deref())?;
    let split = LeaveOneOut::new(&data.histories);
    Ok((data, split))
}

/// The model `cfg` trains, for the catalogue `items` (`items[0]` padding), its weights drawn from
/// the seed; when `data.item_vectors` names a file, its vectors fill the item table, frozen.
pub fn init_model(cfg: &SeqExperimentConfig, items: &[String], device: &Device) -> Result<SeqModel, DataError> {
    let model = cfg.model.init(items.len() - 1, cfg.data.max_len, cfg.seed, device);
    let Some(path) = &cfg.data.item_vectors else { return Ok(model) };
    let dim = model.item_table().dims()[1];
    let values = recdiff_data::vectors::read_item_vectors(path, items, dim)?;
    let table = Tensor::from_data(TensorData::new(values, [items.len(), dim]), device);
    model.with_fixed_items(table).map_err(|message| DataError::BadFile { path: path.clone(), message })
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
    /// Opens `run` on `device`, verifying its weights and item keys against `manifest.json`.
    pub fn open(run: &Path, device: &Device) -> Result<Self, RunError> {
        let cfg_path = run.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| RunError::at(&cfg_path, e))?;
        let cfg: SeqExperimentConfig = toml::from_str(&text).map_err(|e| RunError::at(&cfg_path, e))?;
        cfg.validate().map_err(|e| RunError::at(&cfg_path, e))?;
        let manifest = Manifest::load(run)?;
        let items_path = run.join(ITEMS_FILE);
        let items_bytes = std::fs::read(&items_path).map_err(|e| RunError::at(&items_path, e))?;
        manifest.check(run, ITEMS_FILE, &items_bytes)?;
        let items: Vec<String> = serde_json::from_slice(&items_bytes).map_err(|e| RunError::at(&items_path, e))?;
        if items.len() < 2 {
            return Err(RunError::at(&items_path, "no items"));
        }
        manifest.check_fingerprint(run, &fingerprint(&cfg, items.len()))?;
        let mut model = cfg.model.init(items.len() - 1, cfg.data.max_len, cfg.seed, device);
        let weights = run.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights).map_err(|e| RunError::at(&weights, e))?;
        manifest.check(run, WEIGHTS_FILE, &bytes)?;
        crate::manifest::check_finite(&weights, &bytes)?;
        let mut store = recdiff_model::legacy::reader(bytes, &LEGACY_KEYS);
        let applied = model.load_from(&mut store).map_err(|e| RunError::at(&weights, format!("{e:?}")))?;
        if !applied.missing.is_empty() {
            return Err(RunError::at(&weights, format!("missing tensors {:?}", applied.missing)));
        }
        Ok(Self { dir: run.to_path_buf(), cfg, items, model })
    }
}
