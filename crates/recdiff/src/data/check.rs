//! `recdiff data check <preset> <dir>`: expected files vs found, with sizes and SHA-256.

use anyhow::{Result, bail};
use recdiff_data::Schema;
use recdiff_data::check::{self, Verdict};
use std::path::{Path, PathBuf};

/// A preset name (`configs/datasets/<name>.toml`) or a schema path.
fn preset_path(preset: &str) -> Result<PathBuf> {
    let as_path = Path::new(preset);
    if as_path.extension().is_some_and(|e| e == "toml") || as_path.components().count() > 1 {
        return Ok(as_path.to_path_buf());
    }
    let named = Path::new("configs/datasets").join(format!("{preset}.toml"));
    if !named.exists() {
        let mut known: Vec<String> = std::fs::read_dir("configs/datasets")
            .map(|d| d.filter_map(|e| e.ok()?.path().file_stem().map(|s| s.to_string_lossy().into_owned())).collect())
            .unwrap_or_default();
        known.sort();
        bail!("no preset {preset:?} (configs/datasets holds: {})", known.join(", "));
    }
    Ok(named)
}

pub fn run(preset: &str, dir: &Path) -> Result<()> {
    let path = preset_path(preset)?;
    let schema = Schema::load(&path)?;
    let Some(spec) = &schema.files else {
        bail!("{}: the preset lists no [files] to check", path.display());
    };
    let checks = check::check(spec, dir)?;
    println!("recdiff data check: {} in {}", schema.name, dir.display());
    println!("{:<14} {:<9} {:>14}  {:<64}  verdict", "file", "", "bytes", "sha256");
    for c in &checks {
        let verdict = match &c.verdict {
            Verdict::Verified => "matches the published SHA-256".to_string(),
            Verdict::Mismatch { published } => format!("MISMATCH: published {published}"),
            Verdict::Unpublished => "no published SHA-256".to_string(),
            Verdict::Missing => "MISSING".to_string(),
            Verdict::Absent => "absent (optional)".to_string(),
        };
        println!(
            "{:<14} {:<9} {:>14}  {:<64}  {verdict}",
            c.file,
            if c.required { "expected" } else { "optional" },
            c.size.map_or("-".into(), |s| s.to_string()),
            c.sha256.as_deref().unwrap_or("-"),
        );
    }
    if let Some(note) = &spec.published {
        println!("published checksums: {note}");
    }
    if !check::passed(&checks) {
        bail!("{}: files missing or not matching the published checksums", dir.display());
    }
    Ok(())
}
