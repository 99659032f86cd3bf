//! The top-K family's [`EpochTask`] (a `Task`) for the experiment layer's loop: the [`Trainer`] (model, fused
//! Adam, timestep sampler, shuffling stream) and the best weights on the inference backend.
//!
//! Its `last/` state: `model.safetensors` (the training weights), `param_ids.json` (what the
//! optimiser's moments are keyed by), `optimizer.safetensors` (the moments), `trainer.json` (the
//! step count, the shuffling stream's position and the timestep sampler's loss history) and
//! `best.safetensors`.

use crate::eval::evaluate;
use crate::train::{GROUPS_FILE, ITEMS_FILE, TopKError, Trainer, WEIGHTS_FILE};
use burn::tensor::Device;
use recdiff_experiment::fit::{Best, EpochTask, NamedFile};
use recdiff_experiment::{BoxError, Metrics};
use recdiff_model::topk::TopKModel;
use recdiff_model::topk::timesteps::StepSampler;
use recdiff_run::checkpoint::{self, Checkpoint};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MODEL_FILE: &str = "model.safetensors";
const IDS_FILE: &str = "param_ids.json";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const TRAINER_FILE: &str = "trainer.json";

/// The trainer's counters and streams.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    step: u64,
    /// The shuffling stream's word position (a `u128`, as text).
    rng: String,
    sampler: StepSampler,
}

/// One top-K training run.
pub struct TopKTask<'a> {
    trainer: Trainer<'a>,
    inner: Device,
    /// The weights last validated, and the best ones (inference backend).
    best: Best<TopKModel>,
    /// `items.json` and L-DiffRec's `groups.json`, saved with the run.
    items_json: Vec<u8>,
    groups_json: Option<Vec<u8>>,
}

impl<'a> TopKTask<'a> {
    pub fn new(trainer: Trainer<'a>, items_json: Vec<u8>, groups_json: Option<Vec<u8>>) -> Self {
        Self { trainer, inner: Device::flex(), best: Best::default(), items_json, groups_json }
    }

    /// The architecture fingerprint of the run's checkpoints.
    pub fn fingerprint(&self) -> String {
        let (cfg, split) = (self.trainer.cfg, self.trainer.split);
        recdiff_run::topk::fingerprint(cfg, split.n_users, split.n_items)
    }

    fn model(&self) -> Result<&TopKModel, BoxError> {
        Ok(self.trainer.model.as_ref().ok_or(TopKError::ModelMissing)?)
    }
}

impl EpochTask for TopKTask<'_> {
    type Weights = TopKModel;

    fn steps_per_epoch(&self) -> u64 {
        self.trainer.split.train_users().len().div_ceil(self.trainer.cfg.train.batch_size) as u64
    }

    fn train_epoch(&mut self) -> Result<f64, BoxError> {
        Ok(self.trainer.epoch()?)
    }

    fn validate_current(&mut self) -> Result<(Self::Weights, Metrics), BoxError> {
        let current = self.trainer.current()?;
        let m = evaluate(&current, self.trainer.split, false, self.trainer.cfg, &self.inner)?;
        Ok((current, m.to_metrics()))
    }

    fn best(&mut self) -> &mut Best<Self::Weights> {
        &mut self.best
    }

    /// The task's state for `last/`: the training weights, their ids, the optimiser, the random
    /// streams and the best weights.
    fn files(&self) -> Result<Vec<NamedFile>, BoxError> {
        let model = self.model()?;
        let best = self.best.get()?;
        let t = &self.trainer;
        let state = TrainerState { step: t.step, rng: t.rng.get_word_pos().to_string(), sampler: t.sampler.clone() };
        Ok(vec![
            (MODEL_FILE.into(), checkpoint::weights_bytes(model)?),
            (IDS_FILE.into(), serde_json::to_vec(&checkpoint::param_ids(model))?),
            (OPTIMIZER_FILE.into(), t.optim.to_bytes()?),
            (TRAINER_FILE.into(), serde_json::to_vec(&state)?),
            (WEIGHTS_FILE.into(), checkpoint::weights_bytes(best)?),
        ])
    }

    fn restore(&mut self, c: &Checkpoint) -> Result<(), BoxError> {
        let at = |name: &str| c.dir().join(name);
        let t = &mut self.trainer;
        let model = t.model.take().ok_or(TopKError::ModelMissing)?;
        let model = checkpoint::load_weights(model, c.read(MODEL_FILE)?, &at(MODEL_FILE))?;
        let ids: Vec<u64> = serde_json::from_slice(&c.read(IDS_FILE)?)?;
        t.model = Some(checkpoint::assign_param_ids(model, ids));
        t.optim.load_bytes(&c.read(OPTIMIZER_FILE)?).map_err(|e| format!("{}: {e}", at(OPTIMIZER_FILE).display()))?;
        let state: TrainerState = serde_json::from_slice(&c.read(TRAINER_FILE)?)
            .map_err(|e| format!("{}: {e}", at(TRAINER_FILE).display()))?;
        t.step = state.step;
        t.rng.set_word_pos(state.rng.parse()?);
        t.sampler = state.sampler;
        let best = t.current()?;
        self.best.restore(checkpoint::load_weights(best, c.read(WEIGHTS_FILE)?, &at(WEIGHTS_FILE))?);
        Ok(())
    }

    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError> {
        let best = self.best.get()?;
        if let Some(out) = out {
            let weights = recdiff_run::manifest::save_weights(best, &out.join(WEIGHTS_FILE))?;
            let mut files: Vec<(&str, &[u8])> = vec![(WEIGHTS_FILE, &weights), (ITEMS_FILE, &self.items_json)];
            if let Some(groups) = &self.groups_json {
                files.push((GROUPS_FILE, groups));
            }
            recdiff_run::manifest::Manifest::new(self.fingerprint(), &files).save(out)?;
        }
        let (split, cfg) = (self.trainer.split, self.trainer.cfg);
        let valid = evaluate(best, split, false, cfg, &self.inner)?;
        let test = evaluate(best, split, true, cfg, &self.inner)?;
        Ok((valid.to_metrics(), test.to_metrics()))
    }
}
