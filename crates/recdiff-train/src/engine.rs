//! One training step, shared by the training loop and the benchmark: gather embeddings, forward
//! the losses, backward, burn Adam on the dense weights and a sparse update of touched rows.

use crate::TrainError;
use crate::batch::Batch;
use crate::checkpoint::{self, LoopState};
use burn::optim::AdamConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use recdiff_model::asymdiffrec::AsymDiffRecConfig;
use recdiff_model::{CtrModel, EmbeddingStore};
use std::path::Path;

pub struct Engine {
    pub device: Device,
    /// Always `Some` between steps; taken while the optimiser consumes it.
    model: Option<CtrModel>,
    pub optim: ModuleOptimizer,
    pub store: EmbeddingStore,
    pub asym: Option<AsymDiffRecConfig>,
    /// Base learning rate of the dense weights.
    pub lr: f64,
}

impl Engine {
    pub fn new(
        device: Device,
        model: CtrModel,
        optim: ModuleOptimizer,
        store: EmbeddingStore,
        asym: Option<AsymDiffRecConfig>,
        lr: f64,
    ) -> Self {
        Self { device, model: Some(model), optim, store, asym, lr }
    }

    pub fn model(&self) -> &CtrModel {
        self.model.as_ref().unwrap_or_else(|| unreachable!("the model is only taken inside step()"))
    }

    /// Loads a checkpoint's weights (and, with `restore_optimizer`, its optimiser state).
    pub fn load_checkpoint(&mut self, dir: &Path, restore_optimizer: bool) -> Result<LoopState, TrainError> {
        let model = self.model.take().ok_or_else(|| TrainError::Other("model missing".into()))?;
        let optim = std::mem::replace(&mut self.optim, AdamConfig::new().init());
        let (model, optim, state) = checkpoint::load(dir, model, optim, &mut self.store)?;
        self.model = Some(model);
        if restore_optimizer {
            self.optim = optim;
        }
        Ok(state)
    }

    /// One step with the learning rates scaled by `factor`; returns (total, main, recon, aux).
    pub fn step(&mut self, b: &Batch<'_>, factor: f64, buf: &mut Vec<f32>) -> Result<[f64; 4], TrainError> {
        let (n, width, fields) = (b.rows.len(), self.store.width(), self.store.fields());
        buf.resize(n * width, 0.0);
        self.store.gather(&b.rows, &b.masks, buf);
        let x = Tensor::<2>::from_data(TensorData::new(buf.clone(), [n, width]), &self.device).require_grad();
        let y = Tensor::<2>::from_data(TensorData::new(b.labels.clone(), [b.samples, 1]), &self.device);
        let losses = match (&b.noisy_mask, &self.asym) {
            (Some(s), Some(a)) => {
                let s = Tensor::<2>::from_data(TensorData::new(s.clone(), [b.samples, fields]), &self.device);
                self.model().asym_losses(x.clone(), s, y, a)
            }
            _ => self.model().base_losses(x.clone(), y),
        };
        let scalar = |t: Tensor<1>| -> f64 { t.into_scalar::<f32>() as f64 };
        let parts = [
            scalar(losses.total.clone()),
            scalar(losses.main.clone()),
            losses.recon.clone().map(scalar).unwrap_or(f64::NAN),
            losses.aux.clone().map(scalar).unwrap_or(f64::NAN),
        ];
        if !parts[0].is_finite() {
            return Ok(parts);
        }
        let mut grads = losses.total.backward();
        let gx =
            x.grad_remove(&mut grads).ok_or_else(|| TrainError::Other("no gradient for the embedded input".into()))?;
        let gx: Vec<f32> = gx.into_data().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?;
        let model = self.model.take().ok_or_else(|| TrainError::Other("model missing".into()))?;
        let gp = GradientsParams::from_grads(grads, &model);
        self.model = Some(self.optim.step(self.lr * factor, model, gp));
        self.store.apply_gradients(&b.rows, &b.masks, &gx, factor as f32);
        Ok(parts)
    }
}
