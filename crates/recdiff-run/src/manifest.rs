//! Checkpoint manifests: what makes a silently corrupted or mismatched checkpoint fail to load.
//!
//! Every checkpoint (a CTR run's `best/` and `last/`, a sequential run's weights) carries a
//! `manifest.json`, written last, holding
//! * the xxh3-128 checksum of each of its files, computed from the bytes as written, and
//! * the **architecture fingerprint**: a hash of the model config and the shape of its embedding
//!   tables (or catalogue), so a file from another run's checkpoint, or a run whose config was
//!   edited, is refused even when it is intact.
//!
//! Loading verifies the bytes actually read against the manifest, then refuses any NaN or
//! infinite weight ([`check_finite`]). A checkpoint without a manifest (written before they
//! existed) is refused with the reason.
//!
//! Checkpoint directories are switched atomically and recoverably ([`switch_into_place`],
//! [`recover`], [`resolve`]): the new one is written and fsynced under `<name>.tmp`, the old one
//! renamed to `<name>.old`, the new one renamed to `<name>`, the parent fsynced, then `.old`
//! removed. Whichever point a crash stops at, one complete, verified checkpoint remains findable.

use crate::RunError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest's file name inside a checkpoint directory (or a sequential run).
pub const MANIFEST_FILE: &str = "manifest.json";

/// A checkpoint's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Bumped when the manifest's meaning changes.
    pub format: u32,
    /// The architecture fingerprint ([`fingerprint`]).
    pub fingerprint: String,
    /// xxh3-128 of each file, hex, by file name.
    pub files: BTreeMap<String, String>,
}

/// The checksum stored for `bytes`.
pub fn checksum(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The architecture fingerprint of a model: a hash of anything serialisable that fixes the
/// shapes of its weights (its config, field names, table sizes).
pub fn fingerprint(parts: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(parts).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

impl Manifest {
    pub fn new(fingerprint: String, files: &[(&str, &[u8])]) -> Self {
        let files = files.iter().map(|(name, bytes)| (name.to_string(), checksum(bytes))).collect();
        Self { format: 1, fingerprint, files }
    }

    /// Reads `<dir>/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self, RunError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "absent: the checkpoint was written before checksums were recorded, or its write was cut \
                 short; train the run again"
                    .to_string()
            } else {
                e.to_string()
            };
            RunError::at(&path, why)
        })?;
        serde_json::from_slice(&bytes).map_err(|e| RunError::at(&path, format!("unreadable manifest: {e}")))
    }

    /// Refuses a checkpoint built for another architecture.
    pub fn check_fingerprint(&self, dir: &Path, expected: &str) -> Result<(), RunError> {
        if self.fingerprint != expected {
            return Err(RunError::at(
                &dir.join(MANIFEST_FILE),
                format!(
                    "the checkpoint was written for another architecture (fingerprint {}, this config {expected}): \
                     its weights do not belong to this run's config",
                    self.fingerprint
                ),
            ));
        }
        Ok(())
    }

    /// Checks `bytes`, read from `<dir>/<name>`, against the recorded checksum.
    pub fn check(&self, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        let path = dir.join(name);
        match self.files.get(name) {
            None => Err(RunError::at(&path, "not listed in the checkpoint's manifest")),
            Some(want) if *want != checksum(bytes) => Err(RunError::at(
                &path,
                "checksum mismatch: the file was corrupted or replaced since the checkpoint was written",
            )),
            Some(_) => Ok(()),
        }
    }

    /// Whether every listed file in `dir` matches (a complete checkpoint).
    pub fn verify_all(&self, dir: &Path) -> Result<(), RunError> {
        for name in self.files.keys() {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| RunError::at(&path, e))?;
            self.check(dir, name, &bytes)?;
        }
        Ok(())
    }

    /// Writes the manifest into `dir` (fsynced, atomically).
    pub fn save(&self, dir: &Path) -> Result<(), RunError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| RunError::at(dir, e))?;
        recdiff_data::write_atomic(&dir.join(MANIFEST_FILE), &json).map_err(|e| RunError::at(dir, e))
    }
}

/// Refuses safetensors bytes holding a NaN or infinite float, naming the tensor.
pub fn check_finite(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use safetensors::tensor::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| RunError::at(path, e))?;
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            continue;
        }
        let bad = view.data().chunks_exact(4).position(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite());
        if let Some(i) = bad {
            return Err(RunError::at(path, format!("tensor '{name}' holds a non-finite value at index {i}")));
        }
    }
    Ok(())
}

/// `<dir>` with `.tmp` / `.old` appended to its name.
pub fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Whether `dir` holds a complete checkpoint: a manifest whose every file matches.
pub fn is_complete(dir: &Path) -> bool {
    Manifest::load(dir).and_then(|m| m.verify_all(dir)).is_ok()
}

/// Where a reader finds the checkpoint `dir` without writing anything: `dir` itself, or when a
/// crash interrupted its switch, the complete `.tmp` written to replace it, or the `.old` it was
/// replacing.
pub fn resolve(dir: &Path) -> PathBuf {
    if dir.is_dir() {
        return dir.to_path_buf();
    }
    let tmp = sibling(dir, ".tmp");
    if tmp.is_dir() && is_complete(&tmp) {
        return tmp;
    }
    let old = sibling(dir, ".old");
    if old.is_dir() { old } else { dir.to_path_buf() }
}

/// Puts a crashed switch right before training touches `dir`: a complete `.tmp` replaces a
/// missing `dir`, else `.old` goes back; leftovers are removed.
pub fn recover(dir: &Path) -> Result<(), RunError> {
    let (tmp, old) = (sibling(dir, ".tmp"), sibling(dir, ".old"));
    if !dir.exists() {
        if tmp.is_dir() && is_complete(&tmp) {
            rename(&tmp, dir)?;
        } else if old.is_dir() {
            rename(&old, dir)?;
        }
    }
    for leftover in [tmp, old] {
        if leftover.exists() {
            std::fs::remove_dir_all(&leftover).map_err(|e| RunError::at(&leftover, e))?;
        }
    }
    sync_parent(dir)
}

fn rename(from: &Path, to: &Path) -> Result<(), RunError> {
    std::fs::rename(from, to).map_err(|e| RunError::at(to, e))
}

/// fsyncs the directory holding `path`, so renames in it survive a power cut.
pub fn sync_parent(path: &Path) -> Result<(), RunError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    sync_dir(parent)
}

/// fsyncs a directory.
pub fn sync_dir(dir: &Path) -> Result<(), RunError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| RunError::at(dir, e))
}

/// Points a test can stop a checkpoint switch at, to check recovery from each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// `.tmp` half-written: some files there, no manifest.
    MidWrite,
    /// `.tmp` complete, `dir` not yet moved aside.
    BeforeSwap,
    /// `dir` moved to `.old`, `.tmp` not yet renamed into place.
    MidSwap,
    /// `.tmp` in place, `.old` not yet removed.
    BeforeCleanup,
}

/// The kill point reached: the error a fault-injected switch stops with.
pub fn killed(dir: &Path, at: KillPoint) -> RunError {
    RunError::at(dir, format!("fault injected at {at:?}"))
}

/// The second half of a switch, once `<dir>.tmp` is complete and fsynced: moves `dir` aside,
/// renames `.tmp` into place, fsyncs the parent and removes `.old`. `stop` (tests) ends it early.
pub fn switch_into_place(dir: &Path, stop: Option<KillPoint>) -> Result<(), RunError> {
    let (tmp, old) = (sibling(dir, ".tmp"), sibling(dir, ".old"));
    sync_dir(&tmp)?;
    if stop == Some(KillPoint::BeforeSwap) {
        return Err(killed(dir, KillPoint::BeforeSwap));
    }
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| RunError::at(&old, e))?;
        }
        rename(dir, &old)?;
    }
    if stop == Some(KillPoint::MidSwap) {
        return Err(killed(dir, KillPoint::MidSwap));
    }
    rename(&tmp, dir)?;
    sync_parent(dir)?;
    if stop == Some(KillPoint::BeforeCleanup) {
        return Err(killed(dir, KillPoint::BeforeCleanup));
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| RunError::at(&old, e))?;
    }
    Ok(())
}

/// A module's weights as safetensors at `path` (written to a temporary file, fsynced, renamed);
/// returns the bytes written, for the run's manifest.
pub fn save_weights<M: burn::module::Module>(module: &M, path: &Path) -> Result<Vec<u8>, RunError> {
    let bytes = crate::checkpoint::weights_bytes(module).map_err(|e| RunError::at(path, e))?;
    recdiff_data::write_atomic(path, &bytes).map_err(|e| RunError::at(path, e))?;
    Ok(bytes)
}
