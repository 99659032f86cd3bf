//! Test support shared by recdiff's test suites (a dev-dependency only).
//!
//! Tests that need MovieLens-100K are marked
//! `#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]`, so `cargo test` on a fresh
//! clone reports them as ignored with that reason, and call [`require_ml100k`] first: run with
//! `-- --include-ignored` (as `.ci/run` does) they fail naming the missing directory, and never
//! pass by returning early.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|e| {
        panic!("the repository root above {}: {e}", env!("CARGO_MANIFEST_DIR"));
    })
}

/// Where MovieLens-100K is expected: `../shared/data/ml-100k` beside the repository.
pub fn ml100k_dir() -> PathBuf {
    repo_root().join("../shared/data/ml-100k")
}

/// The MovieLens-100K directory; panics naming it when its `u.data` is absent.
pub fn require_ml100k() -> PathBuf {
    let dir = ml100k_dir();
    let data = dir.join("u.data");
    assert!(
        data.is_file(),
        "MovieLens-100K is missing: {} (this test needs the upstream ml-100k files: from the repository root, \
         `recdiff data fetch movielens-100k` puts them in ../shared/data/ml-100k)",
        data.display()
    );
    dir
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_repository_root_holds_the_workspace_manifest_and_the_configs() {
        let root = super::repo_root();
        assert!(root.join("Cargo.toml").is_file() && root.join("configs").is_dir(), "{}", root.display());
        assert!(super::ml100k_dir().ends_with("shared/data/ml-100k"));
    }
}
