//! Reading checkpoints written by earlier versions: burn names a tensor by its module path, so a
//! model that became an enum module (`base.dcn.…` → `base.DcnV2.…`) renames its tensors. Loaders
//! read through [`reader`], which rewrites old names to current ones; current names match no
//! pattern and pass unchanged.

use burn::store::SafetensorsStore;

/// A safetensors store over `bytes` that rewrites tensor names by `(regex, replacement)` pairs,
/// applied in order (e.g. [`crate::base::LEGACY_KEYS`], [`crate::seq::LEGACY_KEYS`]).
pub fn reader(bytes: Vec<u8>, renames: &[(&str, &str)]) -> SafetensorsStore {
    renames.iter().fold(SafetensorsStore::from_bytes(Some(bytes)), |s, (from, to)| s.with_key_remapping(from, *to))
}
