//! recdiff's data layer.
//!
//! * [`schema`]: the dataset schema (TOML) — label, keys, fields and their encodings.
//! * [`source`]: streaming readers for CSV/TSV, Parquet and the MovieLens-100K files.
//! * [`stats`]: one-pass dataset statistics (`recdiff data stats`).
//! * [`mod@encode`]: splits, fitted codecs, and the compact memory-mapped [`mod@format`].
//! * [`histories`]: per-user chronological histories, the leave-one-out split and training windows
//!   (the sequential family's data).
//! * [`check`]: the files a dataset preset expects, their sizes and SHA-256 (`recdiff data check`).
//! * [`synth`]: the synthetic impression-log generator, recdiff's embedded default dataset.

pub mod check;
pub mod codec;
pub mod encode;
pub mod error;
pub mod extract;
pub mod format;
pub mod histories;
pub mod keymap;
pub mod numbers;
pub mod rows;
pub mod schema;
pub mod source;
pub mod split;
pub mod stats;
pub mod synth;
pub mod user_item;
pub mod value;
pub mod vectors;

pub use encode::{EncodedMeta, FieldMeta, RowEncoder, encode};
pub use error::{DataError, Location, Result};
pub use format::{Row, RowLayout, SplitFile};
pub use keymap::KeyMap;
pub use schema::Schema;
pub use split::SplitSpec;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so readers
/// never see a half-written file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let mut f = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| DataError::io(&tmp, e))?;
    f.sync_all().map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))?;
    // The rename is durable only once the directory holding it is synced.
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| DataError::io(dir, e))
}
