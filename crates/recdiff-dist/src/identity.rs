//! What every rank must agree on before the first step: the resolved config, the binary, and a
//! world no larger than the data's shards.
//!
//! Each rank all-gathers its [`Identity`]; every rank compares all of them with rank 0's and
//! fails with the same error (the first rank that differs, and in what), so no rank trains in a
//! world that would silently diverge.

use crate::{Collective, DistError};

/// A rank's identity: the hash of its resolved config, the hash of its executable's bytes and
/// its version string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub config_hash: String,
    pub binary_hash: String,
    pub version: String,
}

impl Identity {
    /// This process's identity for a resolved config hash: the running executable hashed with
    /// xxh3 (so two builds of one version still differ) and `version`.
    pub fn of_this_process(config_hash: &str, version: &str) -> std::io::Result<Self> {
        let exe = std::fs::read(std::env::current_exe()?)?;
        let binary_hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&exe));
        Ok(Self { config_hash: config_hash.into(), binary_hash, version: version.into() })
    }

    fn encode(&self) -> Vec<u8> {
        [&self.config_hash, &self.binary_hash, &self.version].map(|s| s.replace('\n', " ")).join("\n").into_bytes()
    }

    fn decode(bytes: &[u8], rank: usize) -> Result<Self, DistError> {
        let text = String::from_utf8_lossy(bytes);
        let parts: Vec<&str> = text.split('\n').collect();
        match parts.as_slice() {
            [c, b, v] => Ok(Self { config_hash: c.to_string(), binary_hash: b.to_string(), version: v.to_string() }),
            _ => Err(DistError::Peer { rank, message: "sent a malformed identity".into() }),
        }
    }
}

/// Refuses a world with more ranks than `shards`, or whose ranks differ from rank 0 in config,
/// binary or version. The same result on every rank.
pub fn check_world(c: &dyn Collective, me: &Identity, shards: usize) -> Result<(), DistError> {
    let all = c.all_gather(&me.encode())?;
    if c.size() > shards {
        return Err(DistError::TooManyRanks { ranks: c.size(), shards });
    }
    let ids = all.iter().enumerate().map(|(r, b)| Identity::decode(b, r)).collect::<Result<Vec<_>, _>>()?;
    let root = &ids[0];
    for (rank, id) in ids.iter().enumerate().skip(1) {
        let fields = [
            ("version", &root.version, &id.version),
            ("binary (xxh3 of the executable)", &root.binary_hash, &id.binary_hash),
            ("config (hash of the resolved config)", &root.config_hash, &id.config_hash),
        ];
        if let Some((what, ours, theirs)) = fields.into_iter().find(|(_, a, b)| a != b) {
            return Err(DistError::Mismatch { rank, what, ours: ours.clone(), theirs: theirs.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalWorld;

    fn id(config: &str) -> Identity {
        Identity { config_hash: config.into(), binary_hash: "b1".into(), version: "0.1.0".into() }
    }

    #[test]
    fn a_world_of_identical_ranks_passes() {
        let out = LocalWorld::run(3, |c| check_world(c.as_ref(), &id("c1"), 8).map_err(|e| e.to_string()));
        assert!(out.into_iter().all(|r| r.unwrap().is_ok()));
    }

    #[test]
    fn a_rank_with_another_config_is_refused_on_every_rank_naming_it() {
        let out = LocalWorld::run(3, |c| {
            let me = if c.rank() == 2 { id("c2") } else { id("c1") };
            check_world(c.as_ref(), &me, 8).map_err(|e| e.to_string())
        });
        for r in out {
            let err = r.unwrap().unwrap_err();
            assert!(err.contains("rank 2 runs config") && err.contains("c2") && err.contains("c1"), "{err}");
        }
    }

    #[test]
    fn a_rank_with_another_binary_is_refused_before_its_config_is_compared() {
        let out = LocalWorld::run(2, |c| {
            let mut me = id(if c.rank() == 1 { "other" } else { "c1" });
            if c.rank() == 1 {
                me.binary_hash = "b2".into();
            }
            check_world(c.as_ref(), &me, 8).map_err(|e| e.to_string())
        });
        let err = out[0].as_ref().unwrap().as_ref().unwrap_err();
        assert!(err.contains("rank 1 runs binary") && err.contains("b2"), "{err}");
    }

    #[test]
    fn more_ranks_than_shards_is_refused() {
        let out = LocalWorld::run(3, |c| check_world(c.as_ref(), &id("c1"), 2).map_err(|e| e.to_string()));
        for r in out {
            assert_eq!(r.unwrap().unwrap_err(), "3 ranks but 2 training shards: at most one rank per shard");
        }
    }

    #[test]
    fn this_process_has_a_binary_hash() {
        let me = Identity::of_this_process("c", "v").unwrap();
        assert_eq!(me.binary_hash.len(), 16);
    }
}
