//! A checkpoint directory of any family: named files and `manifest.json` (their checksums and the
//! architecture fingerprint), written under `<dir>.tmp`, fsynced and switched into place through
//! [`crate::manifest`], and read back with every file verified against the manifest.
//!
//! Also the pieces every family's checkpoint holds: dense weights as safetensors bytes
//! ([`weights_bytes`], [`load_weights`]) and the parameter ids an optimiser's state is keyed by
//! ([`param_ids`], [`assign_param_ids`]): burn gives a freshly built model new ids, so a resumed
//! model must carry the ids it was saved with for its optimiser moments to find their weights.

use crate::RunError;
use crate::manifest::{self, Manifest};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Tensor;
use std::path::{Path, PathBuf};

/// Writes `files` and their manifest into `<dir>.tmp` (each fsynced), then switches it into place.
pub fn write(dir: &Path, fingerprint: &str, files: &[(String, Vec<u8>)]) -> Result<(), RunError> {
    let tmp = manifest::sibling(dir, ".tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| RunError::at(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| RunError::at(&tmp, e))?;
    for (name, bytes) in files {
        recdiff_data::write_atomic(&tmp.join(name), bytes).map_err(|e| RunError::at(&tmp.join(name), e))?;
    }
    let listed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    Manifest::new(fingerprint.to_string(), &listed).save(&tmp)?;
    manifest::switch_into_place(dir, None)
}

/// A checkpoint opened for reading: its manifest checked against the expected fingerprint.
#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    manifest: Manifest,
}

impl Checkpoint {
    /// Opens `dir`, refusing a checkpoint without a manifest or written for another architecture.
    pub fn open(dir: &Path, fingerprint: &str) -> Result<Self, RunError> {
        let manifest = Manifest::load(dir)?;
        manifest.check_fingerprint(dir, fingerprint)?;
        Ok(Self { dir: dir.to_path_buf(), manifest })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bytes of `name`, verified against the manifest's checksum.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, RunError> {
        let path = self.dir.join(name);
        if !self.manifest.files.contains_key(name) {
            return Err(RunError::at(&path, "not listed in the checkpoint's manifest"));
        }
        let bytes = std::fs::read(&path).map_err(|e| RunError::at(&path, e))?;
        self.manifest.check(&self.dir, name, &bytes)?;
        Ok(bytes)
    }
}

/// `module`'s weights as safetensors bytes.
pub fn weights_bytes<M: Module>(module: &M) -> Result<Vec<u8>, String> {
    let mut store = SafetensorsStore::from_bytes(None);
    module.save_into(&mut store).map_err(|e| format!("{e:?}"))?;
    store.get_bytes().map_err(|e| format!("{e:?}"))
}

/// `module` with the weights in `bytes` (read from `path`, named in errors): every tensor must be
/// there and finite.
pub fn load_weights<M: Module>(mut module: M, bytes: Vec<u8>, path: &Path) -> Result<M, RunError> {
    manifest::check_finite(path, &bytes)?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let applied = module.load_from(&mut store).map_err(|e| RunError::at(path, format!("{e:?}")))?;
    if !applied.missing.is_empty() {
        return Err(RunError::at(path, format!("missing tensors {:?}", applied.missing)));
    }
    Ok(module)
}

/// The ids of `module`'s float parameters, in visit order.
pub fn param_ids<M: Module>(module: &M) -> Vec<u64> {
    let mut ids = IdCollector(Vec::new());
    module.visit(&mut ids);
    ids.0
}

/// `module` with its float parameters' ids set to `ids`, in visit order.
pub fn assign_param_ids<M: Module>(module: M, ids: Vec<u64>) -> M {
    module.map(&mut IdAssigner { ids, next: 0 })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_its_files_and_refuses_a_changed_one_or_another_fingerprint() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("last");
        let files = vec![("a.bin".to_string(), vec![1u8, 2, 3]), ("b.json".to_string(), b"{}".to_vec())];
        write(&dir, "fp1", &files).unwrap();
        let c = Checkpoint::open(&dir, "fp1").unwrap();
        assert_eq!(c.read("a.bin").unwrap(), vec![1, 2, 3]);
        assert_eq!(c.read("b.json").unwrap(), b"{}");
        std::fs::write(dir.join("a.bin"), [1u8, 2, 4]).unwrap();
        let e = c.read("a.bin").unwrap_err().to_string();
        assert!(e.contains("a.bin") && e.contains("checksum mismatch"), "{e}");
        let e = Checkpoint::open(&dir, "fp2").unwrap_err().to_string();
        assert!(e.contains("another architecture"), "{e}");
        // A second write replaces the first whole.
        write(&dir, "fp2", &files[1..]).unwrap();
        let c = Checkpoint::open(&dir, "fp2").unwrap();
        assert!(c.read("a.bin").unwrap_err().to_string().contains("not listed"));
    }
}
