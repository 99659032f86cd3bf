//! Checkpoints: a directory with the dense weights (`dense.safetensors`), the dense optimiser state
//! (`optimizer.bin`), the embedding tables with their optimiser state (`embeddings.safetensors`,
//! or one file per shard of row-wise sharded tables), the engine's position (`state.json`) and the
//! files its caller adds (the training loop's `loop.json` in `last/`), plus `manifest.json` (their
//! checksums and the architecture fingerprint). It is written under `<name>.tmp`, fsynced and switched into place through
//! [`recdiff_run::manifest`], so a crash at any point leaves one complete checkpoint to recover.

use burn::optim::ModuleOptimizer;
use burn::store::ModuleSnapshot;
use recdiff_dist::Collective;
use recdiff_model::{CtrModel, EmbeddingStore, Shard};
use recdiff_run::ctr::{DENSE_FILE, EMBEDDINGS_FILE};
use recdiff_run::manifest::{self, KillPoint, Manifest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where training stood when the checkpoint was written (early stopping and the log are the
/// training loop's, in its own file: `recdiff_experiment::fit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epochs finished.
    pub epoch: usize,
    pub step: u64,
}

/// What a checkpoint holds: the engine's state, where it stood and files the caller adds.
pub struct Contents<'a> {
    pub model: &'a CtrModel,
    pub optim: &'a ModuleOptimizer,
    pub store: &'a EmbeddingStore,
    pub state: LoopState,
    pub extra: &'a [(String, Vec<u8>)],
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

thread_local! {
    /// A test's fault: (checkpoint name, saves of it to let through, where to stop the next).
    static FAULT: std::cell::RefCell<Option<(String, usize, KillPoint)>> = const { std::cell::RefCell::new(None) };
}

/// Test hook: the save of checkpoint `name` after `skip` successful ones stops at `at`, on this
/// thread, as a crash there would leave it.
pub fn inject_fault(name: &str, skip: usize, at: KillPoint) {
    FAULT.with(|f| *f.borrow_mut() = Some((name.to_string(), skip, at)));
}

fn fault_for(dir: &Path) -> Option<KillPoint> {
    let name = dir.file_name()?.to_str()?;
    FAULT.with(|f| {
        let mut f = f.borrow_mut();
        let (target, skip, at) = f.as_mut()?;
        if target != name {
            return None;
        }
        if *skip > 0 {
            *skip -= 1;
            return None;
        }
        let at = *at;
        *f = None;
        Some(at)
    })
}

fn run_err(e: recdiff_run::RunError) -> CheckpointError {
    CheckpointError::Format { path: e.path, message: e.message }
}

/// Writes the checkpoint `dir` of one rank of `c` holding the rows `shard` of every table: with
/// whole tables the state is the same on every rank and rank 0 writes it all; with row-wise
/// sharded tables every rank writes its shard (`save_row_wise`). Files go into `<dir>.tmp`,
/// fsynced, with the manifest last, and are then switched into place ([`recdiff_run::manifest`]).
pub fn save(
    c: &dyn Collective,
    shard: Shard,
    dir: &Path,
    fingerprint: &str,
    contents: &Contents<'_>,
) -> Result<(), CheckpointError> {
    if shard != Shard::WHOLE {
        return save_row_wise(c, shard, dir, fingerprint, contents);
    }
    if c.rank() != 0 {
        return Ok(());
    }
    let stop = fault_for(dir);
    let tmp = manifest::sibling(dir, ".tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let [dense, optimizer, ids, loop_state] = replicated_files(contents, &tmp)?;
    let embeddings = (EMBEDDINGS_FILE.to_string(), contents.store.to_safetensors(true).map_err(|e| fmt_err(&tmp, e))?);
    let mut files = vec![dense, optimizer, embeddings, ids, loop_state];
    files.extend(contents.extra.iter().cloned());
    for (i, (name, bytes)) in files.iter().enumerate() {
        if i == 2 && stop == Some(KillPoint::MidWrite) {
            return Err(run_err(manifest::killed(dir, KillPoint::MidWrite)));
        }
        write_file(&tmp.join(name), bytes)?;
    }
    let listed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    Manifest::new(fingerprint.to_string(), &listed).save(&tmp).map_err(run_err)?;
    manifest::switch_into_place(dir, stop).map_err(run_err)
}

/// [`save`] with row-wise sharded tables, on every rank together: each rank writes its shard's
/// tables (`embeddings.rank-<r>-of-<N>.safetensors`) into `<dir>.tmp` and sends rank 0 its
/// checksum; rank 0 writes the replicated state and the manifest listing every file, and switches
/// the checkpoint into place.
fn save_row_wise(
    c: &dyn Collective,
    shard: Shard,
    dir: &Path,
    fingerprint: &str,
    contents: &Contents<'_>,
) -> Result<(), CheckpointError> {
    let tmp = manifest::sibling(dir, ".tmp");
    let dist = |e: recdiff_dist::DistError| fmt_err(dir, e.to_string());
    if c.rank() == 0 {
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    }
    recdiff_experiment::data_parallel::barrier(c).map_err(dist)?;
    let name = shard.file_name();
    let bytes = contents.store.to_safetensors(true).map_err(|e| fmt_err(&tmp, e))?;
    write_file(&tmp.join(&name), &bytes)?;
    let all = c.all_gather(format!("{name}\t{}", manifest::checksum(&bytes)).as_bytes()).map_err(dist)?;
    if c.rank() == 0 {
        let mut files = replicated_files(contents, &tmp)?.to_vec();
        files.extend(contents.extra.iter().cloned());
        for (name, bytes) in &files {
            write_file(&tmp.join(name), bytes)?;
        }
        let listed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        let mut m = Manifest::new(fingerprint.to_string(), &listed);
        for entry in &all {
            let text = String::from_utf8_lossy(entry);
            let (name, sum) = text.split_once('\t').ok_or_else(|| fmt_err(&tmp, "a rank sent a malformed checksum"))?;
            m.files.insert(name.to_string(), sum.to_string());
        }
        m.save(&tmp).map_err(run_err)?;
        manifest::switch_into_place(dir, None).map_err(run_err)?;
    }
    recdiff_experiment::data_parallel::barrier(c).map_err(dist)?;
    Ok(())
}

/// The files of the state every rank holds alike: dense weights, optimiser, parameter ids, position.
fn replicated_files(c: &Contents<'_>, tmp: &Path) -> Result<[(String, Vec<u8>); 4], CheckpointError> {
    let ids = recdiff_run::checkpoint::param_ids(c.model);
    Ok([
        (DENSE_FILE.into(), recdiff_run::checkpoint::weights_bytes(c.model).map_err(|e| fmt_err(tmp, e))?),
        ("optimizer.bin".into(), c.optim.into_bytes().map_err(|e| fmt_err(tmp, e))?.to_vec()),
        ("param_ids.json".into(), serde_json::to_vec(&ids).map_err(|e| fmt_err(tmp, e))?),
        ("state.json".into(), serde_json::to_vec_pretty(&c.state).map_err(|e| fmt_err(tmp, e))?),
    ])
}

/// Loads the checkpoint in `dir` (verified against its manifest and `fingerprint`, weights
/// checked finite) into freshly initialised `model`, `optim` and `store` of the same shapes;
/// `store` holds the rows of `shard` (every row: [`Shard::WHOLE`]), taken from the checkpoint's
/// tables however they were sharded when it was written.
pub fn load(
    dir: &Path,
    fingerprint: &str,
    mut model: CtrModel,
    optim: ModuleOptimizer,
    store: &mut EmbeddingStore,
    shard: Shard,
) -> Result<(CtrModel, ModuleOptimizer, LoopState), CheckpointError> {
    let manifest = Manifest::load(dir).map_err(run_err)?;
    manifest.check_fingerprint(dir, fingerprint).map_err(run_err)?;
    let read = |name: &str| -> Result<Vec<u8>, CheckpointError> {
        let p = dir.join(name);
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        manifest.check(dir, name, &bytes).map_err(run_err)?;
        Ok(bytes)
    };
    let dense_bytes = read(DENSE_FILE)?;
    manifest::check_finite(&dir.join(DENSE_FILE), &dense_bytes).map_err(run_err)?;
    let mut dense = recdiff_model::legacy::reader(dense_bytes, &recdiff_model::base::LEGACY_KEYS);
    let applied = model.load_from(&mut dense).map_err(|e| fmt_err(dir, e))?;
    if !applied.missing.is_empty() {
        return Err(fmt_err(dir, format!("dense weights missing tensors: {:?}", applied.missing)));
    }
    let optim =
        optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(read("optimizer.bin")?)).map_err(|e| fmt_err(dir, e))?;
    let shards: Vec<Shard> = manifest.files.keys().filter_map(|n| Shard::of_file_name(n)).collect();
    if shards == [Shard::WHOLE] && shard == Shard::WHOLE {
        store.load_safetensors(&read(EMBEDDINGS_FILE)?).map_err(|e| fmt_err(dir, e))?;
    } else {
        let files =
            shards.iter().map(|s| Ok((*s, read(&s.file_name())?))).collect::<Result<Vec<_>, CheckpointError>>()?;
        let parts: Vec<(Shard, &[u8])> = files.iter().map(|(s, b)| (*s, b.as_slice())).collect();
        store.load_resharded(shard, &parts).map_err(|e| fmt_err(dir, e))?;
    }
    let ids: Vec<u64> = serde_json::from_slice(&read("param_ids.json")?).map_err(|e| fmt_err(dir, e))?;
    let model = recdiff_run::checkpoint::assign_param_ids(model, ids);
    let state = serde_json::from_slice(&read("state.json")?).map_err(|e| fmt_err(dir, e))?;
    Ok((model, optim, state))
}

/// Whether `dir` holds a complete checkpoint (a manifest whose every file matches).
pub fn exists(dir: &Path) -> bool {
    manifest::is_complete(dir)
}
