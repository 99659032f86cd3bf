//! [`KeyMap`]: the hash map keyed by text that the data layer builds per value it reads
//! (vocabulary counts and lookups, user indices, side tables).
//!
//! Keys are hashed in one shot with xxh3. std's SipHash cost a tenth of the encode time on
//! Criteo-like rows, and xxh3's streaming `Hasher` (`Xxh3Default`) another 6%: a `str` key reaches
//! the hasher as a single `write` of its bytes plus a terminator byte, which one-shot hashing
//! handles without buffering. The seed is fixed: maps are built from training files, not from
//! requests, so there is no adversary choosing keys.

use std::hash::{BuildHasher, Hasher};

/// A hash map keyed by text, hashed with [`OneShotXxh3`].
pub type KeyMap<V> = std::collections::HashMap<String, V, OneShotXxh3>;

/// Builds [`OneShotHasher`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneShotXxh3;

impl BuildHasher for OneShotXxh3 {
    type Hasher = OneShotHasher;

    fn build_hasher(&self) -> OneShotHasher {
        OneShotHasher(0)
    }
}

/// Hashes each `write` with xxh3, seeded by the state so far.
#[derive(Debug, Clone, Copy)]
pub struct OneShotHasher(u64);

impl Hasher for OneShotHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, byte: u8) {
        // The `str` terminator (0xff) and other single bytes: one multiply keeps the bits mixed.
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_neighbouring_keys_do_not() {
        let h = |s: &str| OneShotXxh3.hash_one(s);
        assert_eq!(h("30c6d620"), h(&String::from("30c6d620")));
        let distinct: std::collections::HashSet<u64> = (0..10_000).map(|i| h(&i.to_string())).collect();
        assert_eq!(distinct.len(), 10_000);
        let mut m: KeyMap<u32> = KeyMap::default();
        m.insert("a".into(), 1);
        m.insert("ab".into(), 2);
        assert_eq!((m.get("a"), m.get("ab"), m.get("b")), (Some(&1), Some(&2), None));
    }
}
