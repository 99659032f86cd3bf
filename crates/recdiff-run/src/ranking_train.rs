//! The `[train]` table of the ranking families (sequential, top-K): one set of keys, each family
//! with its own defaults ([`TrainDefaults`]). The stopping metric is read under CTR's key too
//! (`early_stopping_metric`) and by its former names (`hit@10` as `hr@10`): one `[train]`
//! vocabulary for every family.

use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// A family's defaults for [`RankingTrainConfig`].
pub trait TrainDefaults {
    const SIZES: Sizes;
}

/// The defaults that differ between the families.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizes {
    pub batch_size: usize,
    pub epochs: usize,
    pub patience: usize,
    pub eval_batch_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, bound = "D: TrainDefaults")]
pub struct RankingTrainConfig<D> {
    pub batch_size: usize,
    pub epochs: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Validation metric for early stopping and the best weights, e.g. `ndcg@10`.
    #[serde(alias = "early_stopping_metric", deserialize_with = "crate::config::metric_name")]
    pub metric: String,
    /// Validations without improvement before stopping.
    pub patience: usize,
    /// Validate every this many epochs (and after the last).
    pub eval_every_epochs: usize,
    pub eval_batch_size: usize,
    pub ks: Vec<usize>,
    pub progress: bool,
    /// Least seconds between two `last/` checkpoints a run resumes from (0: after every
    /// validation); the last validation is always checkpointed.
    #[serde(skip_serializing_if = "is_default_checkpoint")]
    pub checkpoint_seconds: f64,
    /// Whose defaults these are.
    #[serde(skip)]
    pub family: PhantomData<D>,
}

fn is_default_checkpoint(s: &f64) -> bool {
    *s == crate::config::DEFAULT_CHECKPOINT_SECONDS
}

impl<D: TrainDefaults> Default for RankingTrainConfig<D> {
    fn default() -> Self {
        Self {
            batch_size: D::SIZES.batch_size,
            epochs: D::SIZES.epochs,
            lr: 1e-3,
            weight_decay: 0.0,
            metric: "ndcg@10".into(),
            patience: D::SIZES.patience,
            eval_every_epochs: 1,
            eval_batch_size: D::SIZES.eval_batch_size,
            ks: vec![10, 20, 50],
            progress: true,
            checkpoint_seconds: crate::config::DEFAULT_CHECKPOINT_SECONDS,
            family: PhantomData,
        }
    }
}

impl<D> RankingTrainConfig<D> {
    /// Checks the schedule's numbers: positive sizes, a positive finite lr, positive cut-offs, a
    /// valid checkpoint interval.
    pub fn check(&self) -> Result<(), String> {
        crate::config::check_checkpoint_seconds(self.checkpoint_seconds)?;
        crate::config::check_ranking_train(
            [self.batch_size, self.epochs, self.eval_batch_size, self.eval_every_epochs],
            self.lr,
            &self.ks,
        )
    }
}

/// The sequential family's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqDefaults;

impl TrainDefaults for SeqDefaults {
    const SIZES: Sizes = Sizes { batch_size: 128, epochs: 200, patience: 10, eval_batch_size: 512 };
}

/// The top-K family's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopKDefaults;

impl TrainDefaults for TopKDefaults {
    const SIZES: Sizes = Sizes { batch_size: 400, epochs: 300, patience: 20, eval_batch_size: 1024 };
}
