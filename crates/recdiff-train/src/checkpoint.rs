//! Checkpoints: a directory with the dense weights (`dense.safetensors`), the dense optimiser state
//! (`optimizer.bin`), the embedding tables with their optimiser state (`embeddings.safetensors`)
//! and the loop state (`state.json`). It is written under a temporary name and renamed into place,
//! so an interrupted write never leaves a half-written checkpoint under the final name.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Tensor;
use recdiff_model::{CtrModel, EmbeddingStore};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the loop stood when the checkpoint was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    pub epoch: usize,
    pub step: u64,
    /// Early stopping: best value, its step, validations since.
    pub stop: recdiff_experiment::StopState,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io { path: path.into(), source }
}

fn fmt_err(path: &Path, e: impl std::fmt::Debug) -> CheckpointError {
    CheckpointError::Format { path: path.into(), message: format!("{e:?}") }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// The dense optimiser's state is keyed by parameter id, so a resumed model must carry the ids
/// it was saved with: they are stored in visit order and put back on load.
struct IdCollector(Vec<u64>);

impl ModuleVisitor for IdCollector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id.val());
    }
}

struct IdAssigner {
    ids: Vec<u64>,
    next: usize,
}

impl ModuleMapper for IdAssigner {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(&id) = self.ids.get(self.next) {
            param.id = ParamId::from(id);
        }
        self.next += 1;
        param
    }
}

/// Writes a checkpoint to `dir` atomically (any previous checkpoint there is replaced).
pub fn save(
    dir: &Path,
    model: &CtrModel,
    optim: &ModuleOptimizer,
    store: &EmbeddingStore,
    state: &LoopState,
) -> Result<(), CheckpointError> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut dense = SafetensorsStore::from_bytes(None);
    model.save_into(&mut dense).map_err(|e| fmt_err(&tmp, e))?;
    write_file(&tmp.join("dense.safetensors"), &dense.get_bytes().map_err(|e| fmt_err(&tmp, e))?)?;
    let optim_bytes = optim.into_bytes().map_err(|e| fmt_err(&tmp, e))?;
    write_file(&tmp.join("optimizer.bin"), &optim_bytes)?;
    let emb = store.to_safetensors(true).map_err(|e| fmt_err(&tmp, e))?;
    write_file(&tmp.join("embeddings.safetensors"), &emb)?;
    let mut ids = IdCollector(Vec::new());
    model.visit(&mut ids);
    write_file(&tmp.join("param_ids.json"), &serde_json::to_vec(&ids.0).map_err(|e| fmt_err(&tmp, e))?)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| fmt_err(&tmp, e))?;
    write_file(&tmp.join("state.json"), &json)?;
    let old = dir.with_extension("old");
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Loads a checkpoint into freshly initialised `model`, `optim` and `store` of the same shapes.
pub fn load(
    dir: &Path,
    mut model: CtrModel,
    optim: ModuleOptimizer,
    store: &mut EmbeddingStore,
) -> Result<(CtrModel, ModuleOptimizer, LoopState), CheckpointError> {
    let read = |name: &str| -> Result<Vec<u8>, CheckpointError> {
        let p = dir.join(name);
        std::fs::read(&p).map_err(io(&p))
    };
    let mut dense = recdiff_model::legacy::reader(read("dense.safetensors")?, &recdiff_model::base::LEGACY_KEYS);
    let applied = model.load_from(&mut dense).map_err(|e| fmt_err(dir, e))?;
    if !applied.missing.is_empty() {
        return Err(fmt_err(dir, format!("dense weights missing tensors: {:?}", applied.missing)));
    }
    let optim =
        optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(read("optimizer.bin")?)).map_err(|e| fmt_err(dir, e))?;
    store.load_safetensors(&read("embeddings.safetensors")?).map_err(|e| fmt_err(dir, e))?;
    let ids: Vec<u64> = serde_json::from_slice(&read("param_ids.json")?).map_err(|e| fmt_err(dir, e))?;
    let model = model.map(&mut IdAssigner { ids, next: 0 });
    let state = serde_json::from_slice(&read("state.json")?).map_err(|e| fmt_err(dir, e))?;
    Ok((model, optim, state))
}

/// Whether `dir` holds a complete checkpoint.
pub fn exists(dir: &Path) -> bool {
    ["dense.safetensors", "optimizer.bin", "embeddings.safetensors", "param_ids.json", "state.json"]
        .iter()
        .all(|f| dir.join(f).is_file())
}
