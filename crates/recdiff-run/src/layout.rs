//! What a run directory may hold: the files and folders every family's run writes
//! ([`OWN_ENTRIES`]) and their temporary twins. Training refuses an output that is empty or that
//! already holds anything else ([`check_run_dir`]), so a run never overwrites files that are not
//! its own (`output = ""` once trained into the working directory, over its `meta.json`,
//! `log.jsonl` and `curves.svg`).

use crate::RunError;
use std::path::Path;

/// The names a run of any family writes into its directory.
pub const OWN_ENTRIES: &[&str] = &[
    "config.resolved.toml",
    "results.json",
    "log.jsonl",
    "manifest.json",
    // CTR: codecs, the encoded-data cache by default, checkpoints, curves.
    "meta.json",
    "data",
    "best",
    "last",
    "curves.svg",
    "curves.png",
    // Sequential and top-K: the best weights, item keys, L-DiffRec's groups.
    "best.safetensors",
    "items.json",
    "groups.json",
];

/// Whether `name` is one of [`OWN_ENTRIES`] or a temporary twin a write or a checkpoint switch
/// cut short left (`results.json.tmp`, `last.tmp`, `best.old`).
pub fn is_own(name: &str) -> bool {
    let base = name.strip_suffix(".tmp").or_else(|| name.strip_suffix(".old")).unwrap_or(name);
    OWN_ENTRIES.contains(&base)
}

/// Refuses an empty output path, and an existing directory holding an entry that is not a run's.
pub fn check_run_dir(out: &Path) -> Result<(), RunError> {
    if out.as_os_str().is_empty() {
        return Err(RunError::at(out, "the output is empty: name the run's directory (`output`, or --output)"));
    }
    let entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(RunError::at(out, "is a file, not a run directory"));
        }
        Err(e) => return Err(RunError::at(out, e)),
    };
    let mut foreign: Vec<String> = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| RunError::at(out, e))?.file_name().to_string_lossy().into_owned();
        if !is_own(&name) {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let shown: Vec<&str> = foreign.iter().take(3).map(String::as_str).collect();
    let more = if foreign.len() > 3 { format!(" and {} more", foreign.len() - 3) } else { String::new() };
    Err(RunError::at(
        out,
        format!(
            "holds files that are not a run's ({}{more}); a run never writes among them: choose another output",
            shown.join(", ")
        ),
    ))
}

/// Removes the empty directories under `dir`, and `dir` itself when it is left empty: what a
/// failed command leaves of an output it created.
pub fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_directory_with_a_foreign_file_or_an_empty_name_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_run_dir(Path::new("")).unwrap_err().to_string();
        assert!(e.contains("output is empty"), "{e}");
        assert!(check_run_dir(&dir.path().join("new")).is_ok(), "a directory still to be made");
        for own in ["meta.json", "last.tmp", "best.old", "results.json.tmp"] {
            std::fs::write(dir.path().join(own), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("best")).unwrap();
        assert!(check_run_dir(dir.path()).is_ok(), "a run's own files and their temporary twins");
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let e = check_run_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("notes.txt") && e.contains("not a run's"), "{e}");
    }

    #[test]
    fn emptied_directories_are_removed_and_a_file_keeps_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir_all(out.join("data/x")).unwrap();
        remove_empty_dirs(&out);
        assert!(!out.exists());
        std::fs::create_dir_all(out.join("data")).unwrap();
        std::fs::write(out.join("log.jsonl"), "").unwrap();
        remove_empty_dirs(&out);
        assert!(out.join("log.jsonl").exists() && !out.join("data").exists());
    }
}
