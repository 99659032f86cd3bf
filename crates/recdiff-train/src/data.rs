//! Preparing an experiment's data: encode the schema's source with the configured split, or reuse
//! an encoded cache whose recorded schema and split equal the config's.

use crate::TrainError;
use crate::config::ExperimentConfig;
use recdiff_data::{EncodedMeta, Schema};
use std::path::{Path, PathBuf};

pub fn prepare(cfg: &ExperimentConfig, out: &Path) -> Result<(EncodedMeta, PathBuf), TrainError> {
    let schema = Schema::load(&cfg.data.schema)?;
    let dir = cfg.data.encoded.clone().unwrap_or_else(|| out.join("data"));
    if let Ok(meta) = EncodedMeta::load(&dir) {
        if meta.schema == schema && meta.split == cfg.data.split {
            return Ok((meta, dir));
        }
        tracing::info!("encoded data in {} is for another schema or split; re-encoding", dir.display());
    }
    let meta = recdiff_data::encode(&schema, &cfg.data.split, &dir, cfg.seed)?;
    Ok((meta, dir))
}
