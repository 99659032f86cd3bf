//! The hash that keys a run directory: what a resolved config computes, independent of where
//! its output goes. Two cells of a comparison with different configs never share a directory, and
//! a changed config never reads back runs trained under the old one.

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

/// Keys that do not change what a run computes: its label, where it writes, which seed (the seed
/// loop's own key), whether a progress bar shows, how often `last/` is written, and where encoded
/// data is cached.
pub const IGNORED_KEYS: [&str; 6] =
    ["name", "output", "seed", "train.progress", "train.checkpoint_seconds", "data.encoded"];

#[derive(Debug, thiserror::Error)]
#[error("config hash: {0}")]
pub struct HashError(String);

fn remove_key(table: &mut toml::Table, dotted: &str) {
    match dotted.split_once('.') {
        None => {
            table.remove(dotted);
        }
        Some((head, rest)) => {
            if let Some(toml::Value::Table(inner)) = table.get_mut(head) {
                remove_key(inner, rest);
            }
        }
    }
}

/// The config as a TOML table, without [`IGNORED_KEYS`].
pub fn computed_part<T: Serialize>(cfg: &T) -> Result<toml::Table, HashError> {
    let mut table = toml::Table::try_from(cfg).map_err(|e| HashError(e.to_string()))?;
    for key in IGNORED_KEYS {
        remove_key(&mut table, key);
    }
    Ok(table)
}

/// 16 hex digits of xxh3-64 over the canonical TOML (keys sorted) of [`computed_part`].
pub fn config_hash<T: Serialize>(cfg: &T) -> Result<String, HashError> {
    let text = toml::to_string(&computed_part(cfg)?).map_err(|e| HashError(e.to_string()))?;
    Ok(format!("{:016x}", xxh3_64(text.as_bytes())))
}

/// What a checkpoint must have been written under for a run to resume from it: the config hash
/// less `train.epochs`, so a run can be continued for more epochs but not under another config.
pub fn resume_key<T: Serialize>(cfg: &T) -> Result<String, HashError> {
    let mut table = computed_part(cfg)?;
    remove_key(&mut table, "train.epochs");
    let text = toml::to_string(&table).map_err(|e| HashError(e.to_string()))?;
    Ok(format!("{:016x}", xxh3_64(text.as_bytes())))
}

/// `(dotted key, value)` for every leaf of `table`, values as TOML text.
pub fn flatten(table: &toml::Table) -> Vec<(String, String)> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
        for (k, v) in table {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                v => out.push((key, v.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    walk("", table, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn one_changed_hyper_parameter_changes_the_hash_and_name_seed_output_do_not() {
        let a = cfg(
            "name = \"a\"\nseed = 1\n[model.enhancer]\nkind = \"ssl\"\nmasking = \"random\"\n[train]\nprogress = true",
        );
        let b = cfg(
            "name = \"b\"\nseed = 7\noutput = \"x\"\n[model.enhancer]\nkind = \"ssl\"\nmasking = \"random\"\n[train]\nprogress = false",
        );
        let c = cfg(
            "name = \"a\"\nseed = 1\n[model.enhancer]\nkind = \"ssl\"\nmasking = \"correlated\"\n[train]\nprogress = true",
        );
        assert_eq!(config_hash(&a).unwrap(), config_hash(&b).unwrap());
        assert_ne!(config_hash(&a).unwrap(), config_hash(&c).unwrap());
        assert_eq!(config_hash(&a).unwrap().len(), 16);
    }

    #[test]
    fn the_checkpoint_cadence_is_not_hashed_and_the_resume_key_ignores_only_epochs() {
        let a = cfg("name = \"a\"\n[train]\nepochs = 5\nlr = 0.01");
        let b = cfg("name = \"a\"\n[train]\nepochs = 5\nlr = 0.01\ncheckpoint_seconds = 0.0");
        let longer = cfg("name = \"a\"\n[train]\nepochs = 9\nlr = 0.01");
        let other = cfg("name = \"a\"\n[train]\nepochs = 5\nlr = 0.02");
        assert_eq!(config_hash(&a).unwrap(), config_hash(&b).unwrap());
        assert_ne!(config_hash(&a).unwrap(), config_hash(&longer).unwrap());
        assert_eq!(resume_key(&a).unwrap(), resume_key(&longer).unwrap());
        assert_ne!(resume_key(&a).unwrap(), resume_key(&other).unwrap());
    }
}
