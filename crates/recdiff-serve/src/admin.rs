//! The admin routes' guard: off unless a token is configured, and then
//!
//! * `Authorization: Bearer <token>`, compared in constant time (both sides hashed first, so not
//!   even the length leaks through timing) — 401 otherwise;
//! * no `Origin` header: browsers send one with every cross-site (and same-site) POST, so a web page
//!   cannot drive the route from a victim's browser, DNS rebinding included — 403 otherwise;
//! * `Content-Type: application/json`, which a page cannot send cross-site without a CORS
//!   preflight the server never answers — 415 otherwise;
//! * runs named relative to the configured runs directory (plain components, no `..`, no absolute
//!   paths), resolved and required to stay inside it, with no symlink in the run leading out.
//!
//! Error bodies name what failed without host paths or file contents; the details go to the log.

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};
use subtle::ConstantTimeEq;

/// Shortest accepted token: 16 characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// The admin token and the directory reloads may name runs in.
#[derive(Clone)]
pub struct AdminConfig {
    token_hash: [u8; 32],
    /// Canonical path of the runs directory.
    pub runs_dir: PathBuf,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig").field("token", &"<redacted>").field("runs_dir", &self.runs_dir).finish()
    }
}

/// Why the admin settings were refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the admin token is {0} characters; use at least {MIN_TOKEN_LEN} (e.g. `openssl rand -hex 32`)")]
    ShortToken(usize),
    #[error("the runs directory {path}: {source}")]
    RunsDir { path: PathBuf, source: std::io::Error },
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl AdminConfig {
    /// `token` is trimmed of surrounding whitespace (a token file's newline).
    pub fn new(token: &str, runs_dir: &Path) -> Result<Self, AdminError> {
        let token = token.trim();
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(AdminError::ShortToken(token.chars().count()));
        }
        let runs_dir =
            runs_dir.canonicalize().map_err(|source| AdminError::RunsDir { path: runs_dir.to_path_buf(), source })?;
        Ok(Self { token_hash: digest(token.as_bytes()), runs_dir })
    }

    /// Checks the request's token, origin and content type.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| digest(t.trim().as_bytes()));
        let ok = given.is_some_and(|g| bool::from(g.ct_eq(&self.token_hash)));
        if !ok {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "admin routes need `Authorization: Bearer <token>` with the server's admin token",
            ));
        }
        if headers.contains_key(header::ORIGIN) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "admin routes do not accept browser requests (an Origin header was sent)",
            ));
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "admin routes take `Content-Type: application/json`",
            ));
        }
        Ok(())
    }

    /// The run directory a reload names, checked to lie inside the runs directory.
    pub fn resolve(&self, name: &str, field: &str) -> Result<PathBuf, ApiError> {
        let bad = |why: &str| ApiError::bad_request("invalid_run_name", format!("{field}: {why}")).with_field(field);
        let rel = Path::new(name);
        if name.is_empty() || name.len() > 512 {
            return Err(bad("give a run's name (1 to 512 characters) relative to the runs directory"));
        }
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(bad("a run is named relative to the runs directory: no absolute path, `.` or `..`"));
        }
        let unknown = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_run",
                format!("{field}: no run {name:?} in the runs directory"),
            )
            .with_field(field)
        };
        let dir = self.runs_dir.join(rel).canonicalize().map_err(|_| unknown())?;
        if !dir.starts_with(&self.runs_dir) || !dir.is_dir() {
            return Err(unknown());
        }
        if let Some(link) = escaping_symlink(&dir, &self.runs_dir, 3) {
            tracing::warn!("refusing {}: {} leads out of the runs directory", dir.display(), link.display());
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "symlink_outside_runs",
                format!("{field}: run {name:?} holds a symlink that leads out of the runs directory"),
            )
            .with_field(field));
        }
        Ok(dir)
    }

    /// How a run is named in answers: relative to the runs directory.
    pub fn label(&self, run: &Path) -> Option<String> {
        run.strip_prefix(&self.runs_dir).ok().map(|p| p.display().to_string())
    }
}

/// The first symlink under `dir` (down to `depth` levels) whose target is outside `root` or
/// cannot be resolved.
fn escaping_symlink(dir: &Path, root: &Path, depth: usize) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten().take(10_000) {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(root) => {}
                _ => return Some(path),
            }
        } else if kind.is_dir()
            && depth > 0
            && let Some(found) = escaping_symlink(&path, root, depth - 1)
        {
            return Some(found);
        }
    }
    None
}
