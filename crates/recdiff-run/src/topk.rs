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
use burn::tensor::{Device, Int, Tensor, TensorData};
use recdiff_data::DataError;
use recdiff_data::histories::Interactions;
use recdiff_data::user_item::UserItemSplit;
use recdiff_model::topk::{Shape, TopKModel};
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
    device: Device,
    /// User index by key.
    users: std::collections::HashMap<String, usize>,
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
        let groups = match cfg.model.item_clusters() {
            Some(_) => Some(item_groups(&read(GROUPS_FILE)?, split.n_items, &run.join(GROUPS_FILE))?),
            None => None,
        };
        let shape = Shape { users: split.train.rows(), items: split.n_items, item_groups: groups.as_deref() };
        let model =
            cfg.model.init(&shape, cfg.seed, device).map_err(|e| RunError::at(&cfg_path, format!("model.{e}")))?;
        let model = crate::checkpoint::load_weights(model, read(WEIGHTS_FILE)?, &run.join(WEIGHTS_FILE))?;
        let users = data.users.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect();
        Ok(Self { dir: run.to_path_buf(), cfg, data, split, items, model, device: device.clone(), users })
    }

    /// The user index of `key`, `None` for a user the run does not know.
    pub fn user(&self, key: &str) -> Option<usize> {
        self.users.get(key).copied()
    }

    /// The top-`k` items (ids, scores) for user index `user`, with every item the user is known to
    /// have (train, valid and test) left out. The input is the user's training row, as in
    /// evaluation; a model that samples draws from a stream of the run's seed, so the answer is
    /// the same each time. Ties go to the lower id. A non-finite score is an error, never ranked.
    pub fn recommend(&self, user: usize, k: usize) -> Result<Vec<(u32, f32)>, String> {
        use rand::SeedableRng;
        let x = train_rows(&self.split, &[user], self.cfg.model.recency(), &self.device);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.cfg.seed ^ 0xE7A1);
        let scores = self.model.scores(x, user_ids(&[user], &self.device), &mut rng);
        let scores = scores.into_data().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
        let s = &self.split;
        let known: std::collections::HashSet<u32> =
            s.train.row(user).iter().chain(s.valid.row(user)).chain(s.test.row(user)).copied().collect();
        if let Some(i) = scores.iter().position(|v| !v.is_finite()) {
            return Err(format!("the model produced a non-finite score for item {}", self.items[i]));
        }
        let mut ranked: Vec<(u32, f32)> =
            (0..scores.len() as u32).filter(|i| !known.contains(i)).map(|i| (i, scores[i as usize])).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        Ok(ranked)
    }
}

/// The training vectors of `users`, `[B, n]`: 1 per training item, or `w_min + (w_max - w_min) r`
/// for an item of recency `r` when `recency` is set (T-DiffRec).
pub fn train_rows(split: &UserItemSplit, users: &[usize], recency: Option<(f32, f32)>, device: &Device) -> Tensor<2> {
    let n = split.n_items;
    let mut v = vec![0f32; users.len() * n];
    for (row, &u) in users.iter().enumerate() {
        let (start, end) = (split.train.indptr[u], split.train.indptr[u + 1]);
        for e in start..end {
            let item = split.train.indices[e] as usize;
            v[row * n + item] = match recency {
                Some((lo, hi)) => lo + (hi - lo) * split.train_recency[e],
                None => 1.0,
            };
        }
    }
    Tensor::from_data(TensorData::new(v, [users.len(), n]), device)
}

/// User ids as an int tensor `[B]`.
pub fn user_ids(users: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = users.iter().map(|&u| u as i64).collect();
    Tensor::from_data(TensorData::new(v, [users.len()]), device)
}

/// The group of every item from a run's `groups.json` (the items of each group, as L-DiffRec
/// trained with them): each of the `n_items` items in exactly one group, or an error naming `path`.
fn item_groups(bytes: &[u8], n_items: usize, path: &Path) -> Result<Vec<usize>, RunError> {
    let groups: Vec<Vec<i64>> = serde_json::from_slice(bytes).map_err(|e| RunError::at(path, e))?;
    let mut of_item = vec![usize::MAX; n_items];
    for (g, items) in groups.iter().enumerate() {
        for &i in items {
            let slot = usize::try_from(i).ok().and_then(|i| of_item.get_mut(i));
            match slot {
                Some(s) if *s == usize::MAX => *s = g,
                Some(_) => return Err(RunError::at(path, format!("item {i} is in two groups"))),
                None => return Err(RunError::at(path, format!("item {i} is not one of the {n_items} items"))),
            }
        }
    }
    if let Some(i) = of_item.iter().position(|&g| g == usize::MAX) {
        return Err(RunError::at(path, format!("item {i} is in no group")));
    }
    Ok(of_item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use recdiff_data::user_item::Csr;

    #[test]
    fn rows_hold_ones_or_recency_weights_at_the_training_items_only() {
        let split = UserItemSplit {
            n_users: 2,
            n_items: 4,
            train: Csr::from_rows(&[vec![1, 3], vec![0]]),
            valid: Csr::from_rows(&[vec![2], vec![]]),
            test: Csr::from_rows(&[vec![0], vec![1]]),
            train_recency: vec![0.0, 1.0, 1.0],
        };
        let d = Device::flex();
        let x = train_rows(&split, &[1, 0], None, &d).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(x, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        let w = train_rows(&split, &[0], Some((0.5, 1.0)), &d).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(w, vec![0.0, 0.5, 0.0, 1.0]);
    }

    #[test]
    fn a_runs_item_groups_read_back_as_the_group_of_each_item_and_bad_files_are_named_errors() {
        let path = Path::new("run/groups.json");
        assert_eq!(item_groups(b"[[0, 2], [1, 3]]", 4, path).unwrap(), [0, 1, 0, 1]);
        for (bad, why) in [
            (&b"[[0, 2], [1]]"[..], "item 3 is in no group"),
            (b"[[0, 1], [1, 2, 3]]", "item 1 is in two groups"),
            (b"[[0, 1, 2, 3, 9]]", "item 9 is not one of the 4 items"),
            (b"[[0, 1, -1, 2, 3]]", "item -1 is not one of the 4 items"),
            (b"{\"x\": 1}", "groups.json"),
        ] {
            let e = item_groups(bad, 4, path).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("run/groups.json"), "{e}");
        }
    }
}
