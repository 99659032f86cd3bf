//! The one seed loop: each seed of an experiment trains into `<root>/<config-hash>/seed-<k>`, and a
//! seed whose `results.json` was written under the same config hash is read back instead of trained
//! again. A changed config hashes elsewhere, so it never reads back runs of the old one.

use crate::family::{BoxError, Experiment, RunPlan};
use crate::hash::config_hash;
use crate::record::RunRecord;
use std::path::{Path, PathBuf};

/// The directory of `exp`'s runs under `root`, and the hash that names it.
pub fn runs_dir(exp: &dyn Experiment, root: &Path) -> Result<(PathBuf, String), BoxError> {
    let hash = config_hash(&exp.resolved()?)?;
    Ok((root.join(&hash), hash))
}

/// Trains (or reads back) every seed of `exp`; `on_run` hears each record as it arrives.
pub fn seed_runs(
    exp: &dyn Experiment,
    root: &Path,
    seeds: &[u64],
    cache: Option<&Path>,
    mut on_run: impl FnMut(&RunRecord, bool),
) -> Result<Vec<RunRecord>, BoxError> {
    let (dir, hash) = runs_dir(exp, root)?;
    let mut runs = Vec::with_capacity(seeds.len());
    let bar = crate::progress::bar(true, &format!("{} seeds", exp.name()), seeds.len() as u64);
    for &seed in seeds {
        let out = dir.join(format!("seed-{seed}"));
        let (record, reused) = match RunRecord::finished(&out, &hash) {
            Some(r) => (r, true),
            None => {
                tracing::info!("training {} seed {seed} in {}", exp.name(), out.display());
                (exp.run(&RunPlan { seed, out: &out, cache, resume: true, world: None })?, false)
            }
        };
        if record.config_hash != hash {
            return Err(
                format!("{}: the run recorded config {}, expected {hash}", out.display(), record.config_hash).into()
            );
        }
        on_run(&record, reused);
        runs.push(record);
        bar.inc(1);
    }
    Ok(runs)
}
