//! The one list of the families this program trains, evaluates and serves, and the family of a
//! run directory.

use anyhow::{Context, Result};
use recdiff_experiment::Family;
use std::path::Path;

/// The families this program trains.
pub fn families() -> [&'static dyn Family; 3] {
    [&recdiff_train::family::Ctr, &recdiff_seq::family::Seq, &recdiff_topk::family::TopK]
}

/// The family of the run in `run`, from its resolved config's `[model] kind`.
pub fn family_of_run(run: &Path) -> Result<&'static str> {
    let path = run.join(recdiff_run::ctr::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: not a run directory", run.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("parsing {}", path.display()))?;
    // Runs written before `[model] kind` existed are CTR runs.
    if table.get("model").and_then(|m| m.get("kind")).is_none() {
        return Ok(recdiff_train::family::FAMILY);
    }
    Ok(recdiff_experiment::family::family_of(&families(), &table)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .name())
}

/// Refuses `run` unless it belongs to one of `families`, naming its family and, in `instead`,
/// the command that does apply to it: `recdiff predict` on a sequential run, `recommend` on a
/// CTR run and the like get that answer, not a config parse error.
pub fn require(run: &Path, families: &[&str], command: &str, instead: &str) -> Result<()> {
    let family = family_of_run(run)?;
    if families.contains(&family) {
        return Ok(());
    }
    anyhow::bail!(
        "{}: a {} run; `recdiff {command}` applies to {} runs ({instead})",
        run.display(),
        describe(family),
        families.iter().map(|f| describe(f)).collect::<Vec<_>>().join(" and ")
    )
}

fn describe(family: &str) -> &str {
    match family {
        "ctr" => "CTR",
        "seq" => "sequential",
        "topk" => "top-K",
        other => other,
    }
}
