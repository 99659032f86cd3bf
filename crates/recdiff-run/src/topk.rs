//! A trained top-K run opened read-only: its resolved config, the interactions and per-user split
//! it was trained on (read again from the config's schema; a changed dataset is refused by the
//! fingerprint), item keys and the best weights on burn's flex backend without autodiff.
//! Evaluation and recommendation serving load runs through here; opening writes nothing.
//!
//! A run directory written by `recdiff train` (top-K family):
//! ```text
//! config.resolved.toml   the experiment config, paths resolved
//! items.json             item keys by id (0-based)
//! groups.json            L-DiffRec only: the item ids of each group, which its weights are laid out by
//! best.safetensors       the best epoch's weights
//! manifest.json          checksums of the files above and the architecture fingerprint
//! last/                  the checkpoint a run resumes from
//! log.jsonl, results.json
//! ```

use crate::RunError;
use crate::ctr::CONFIG_FILE;
use crate::manifest::Manifest;
use crate::topk_config::{Positives, SplitOrder, TopKExperimentConfig};
use burn::tensor::Device;
use recdiff_data::DataError;
use recdiff_data::histories::Interactions;
use recdiff_data::user_item::UserItemSplit;
use recdiff_model::topk::TopKModel;
use std::path::{Path, PathBuf};

/// The best weights.
pub const WEIGHTS_FILE: &str = "best.safetensors";
/// Item keys by id (0-based).
pub const ITEMS_FILE: &str = "items.json";
/// L-DiffRec's item groups (item ids per group), which its weights are laid out by.
pub const GROUPS_FILE: &str = "groups.json";

/// The architecture fingerprint of a top-K run: its model config and the matrix's shape.
pub fn fingerprint(cfg: &TopKExperimentConfig, n_users: usize, n_items: usize) -> String {
    crate::manifest::fingerprint(&(&cfg.model, n_users, n_items))
}

/// The data a config names: the interactions (all, or the label-positive ones; time order where
/// the schema has a timestamp) and their per-user split (random, or by time).
pub fn load_data(cfg: &TopKExperimentConfig) -> Result<(Interactions, UserItemSplit), DataError> {
    let schema = recdiff_data::Schema::load(&cfg.data.schema)?;
    if cfg.data.order == SplitOrder::Time && schema.keys.timestamp.is_none() {
        return Err(DataError::BadFile {
            path: cfg.data.schema.clone(),
            message: format!("data.order = \"time\": schema '{}' has no timestamp key", schema.name),
        });
    }
    let data = Interactions::load_filtered(&schema, None, false, cfg.data.positives == Positives::Label)?;
    let split = match cfg.data.order {
        SplitOrder::Random => UserItemSplit::new(&data, cfg.data.ratios, cfg.data.split_seed),
        SplitOrder::Time => UserItemSplit::by_time(&data, cfg.data.ratios),
    };
    Ok((data, split))
}

/// A finished top-K run, ready to rank.
pub struct TopKRun {
    pub dir: PathBuf,
    pub cfg: TopKExperimentConfig,
    pub data: Interactions,
    pub split: UserItemSplit,
    /// Item keys by id (0-based).
    pub items: Vec<String>,
    pub model: TopKModel,
}

impl TopKRun {
    /// Opens `run` on `device`, verifying its files against `manifest.json` and the data it reads
    /// against the fingerprint.
    pub fn open(run: &Path, device: &Device) -> Result<Self, RunError> {
        let cfg_path = run.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| RunError::at(&cfg_path, e))?;
        let cfg: TopKExperimentConfig = toml::from_str(&text).map_err(|e| RunError::at(&cfg_path, e))?;
        cfg.validate().map_err(|e| RunError::at(&cfg_path, e))?;
        let manifest = Manifest::load(run)?;
        let read = |name: &str| -> Result<Vec<u8>, RunError> {
            let path = run.join(name);
            let bytes = std::fs::read(&path).map_err(|e| RunError::at(&path, e))?;
            manifest.check(run, name, &bytes)?;
            Ok(bytes)
        };
        let items_path = run.join(ITEMS_FILE);
        let items: Vec<String> =
            serde_json::from_slice(&read(ITEMS_FILE)?).map_err(|e| RunError::at(&items_path, e))?;
        let (data, split) = load_data(&cfg).map_err(|e| RunError::at(&cfg.data.schema, e))?;
        manifest.check_fingerprint(run, &fingerprint(&cfg, split.n_users, split.n_items))?;
        if items.len() != split.n_items || items[..] != data.items[1..] {
            return Err(RunError::at(&items_path, "the dataset's items are not the ones the run was trained on"));
        }
        let model = cfg
            .model
            .init(&split.train, split.n_items, cfg.seed, device)
            .map_err(|e| RunError::at(&cfg_path, format!("model.{e}")))?;
        if let TopKModel::Ldiffrec(m) = &model {
            let groups = serde_json::to_vec(&m.groups().items).map_err(|e| RunError::at(run, e))?;
            if read(GROUPS_FILE)? != groups {
                return Err(RunError::at(&run.join(GROUPS_FILE), "item groups differ from the run's clustering"));
            }
        }
        let model = crate::checkpoint::load_weights(model, read(WEIGHTS_FILE)?, &run.join(WEIGHTS_FILE))?;
        Ok(Self { dir: run.to_path_buf(), cfg, data, split, items, model })
    }

    /// The user index of `key`, `None` for a user the run does not know.
    pub fn user(&self, key: &str) -> Option<usize> {
        self.data.users.iter().position(|u| u == key)
    }
}
