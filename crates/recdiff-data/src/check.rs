//! `recdiff data check`: the files a dataset preset expects in a directory, each with its size and
//! SHA-256, compared with the checksum upstream publishes where it publishes one. Nothing is
//! downloaded. A preset lists its files under `[files]`:
//!
//! ```toml
//! [files]
//! expected = ["ratings.dat", "movies.dat", "users.dat"]
//! optional = ["README"]
//! sha256 = { "ratings.dat" = "…" }   # only where upstream publishes one
//! published = "GroupLens publishes an MD5 of ml-1m.zip, not of the files inside"
//! ```

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// What a preset expects to find.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Files that must be there (relative to the data directory).
    pub expected: Vec<String>,
    /// Files read when present.
    #[serde(default)]
    pub optional: Vec<String>,
    /// Published SHA-256 checksums by file, lowercase hex.
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
    /// What upstream publishes, when it is not a SHA-256 of the files (shown by `data check`).
    #[serde(default)]
    pub published: Option<String>,
}

/// How one file compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Verdict {
    /// Matches the published SHA-256.
    Verified,
    /// Differs from the published SHA-256.
    Mismatch { published: String },
    /// Present; upstream publishes no SHA-256 for it.
    Unpublished,
    /// An expected file that is absent.
    Missing,
    /// An optional file that is absent.
    Absent,
}

/// One expected or optional file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCheck {
    pub file: String,
    pub required: bool,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub verdict: Verdict,
}

/// SHA-256 of a file, streamed, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks every file `spec` names inside `dir`.
pub fn check(spec: &FileSpec, dir: &Path) -> Result<Vec<FileCheck>> {
    if !dir.is_dir() {
        return Err(DataError::BadFile { path: dir.into(), message: "not a directory".into() });
    }
    let names = spec.expected.iter().map(|f| (f, true)).chain(spec.optional.iter().map(|f| (f, false)));
    let mut out = Vec::new();
    for (file, required) in names {
        let path = dir.join(file);
        let Ok(meta) = std::fs::metadata(&path) else {
            let verdict = if required { Verdict::Missing } else { Verdict::Absent };
            out.push(FileCheck { file: file.clone(), required, size: None, sha256: None, verdict });
            continue;
        };
        let sha = sha256_file(&path)?;
        let verdict = match spec.sha256.get(file) {
            Some(p) if p.eq_ignore_ascii_case(&sha) => Verdict::Verified,
            Some(p) => Verdict::Mismatch { published: p.clone() },
            None => Verdict::Unpublished,
        };
        out.push(FileCheck { file: file.clone(), required, size: Some(meta.len()), sha256: Some(sha), verdict });
    }
    Ok(out)
}

/// Whether the directory passes: every expected file present and no checksum mismatch.
pub fn passed(checks: &[FileCheck]) -> bool {
    checks.iter().all(|c| !matches!(c.verdict, Verdict::Missing | Verdict::Mismatch { .. }))
}
