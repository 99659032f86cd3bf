//! The one table writer of every comparison: Markdown for reading, CSV (`csv::Writer`) for tools.
//!
//! Each row: mean ± 95% CI (Student t) of every column metric on the test split; against its
//! reference row, the relative difference of the key metric's means, the paired t-test by seed and
//! the minimum detectable effect (MDE): the paired difference a test with 80% power at α = 0.05
//! would detect given the spread of this row's paired differences. A "no difference" whose MDE is
//! larger than the effect in question says nothing.

use crate::compare::Row;
use crate::family::BoxError;
use crate::metrics::cell;
use crate::record::RunRecord;
use recdiff_metrics::{MeanCi, mean_ci95, minimum_detectable_effect, paired_t_test};
use std::fmt::Write as _;
use std::path::Path;

/// Significance level and power of the MDE column.
pub const ALPHA: f64 = 0.05;
pub const POWER: f64 = 0.8;

/// Mean ± CI of a test metric over runs; `None` when any run lacks it.
pub fn stat(runs: &[RunRecord], metric: &str) -> Option<MeanCi> {
    let v: Option<Vec<f64>> = runs.iter().map(|r| r.test.get(metric)).collect();
    mean_ci95(&v?).ok()
}

/// A row against its reference on `metric`, paired by seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Versus {
    /// `mean / reference mean - 1` (AsymDiffRec's RelaImpr for AUC).
    pub relative: Option<f64>,
    /// Mean paired difference and two-sided p.
    pub diff: f64,
    pub p: Option<f64>,
    pub mde: Option<f64>,
}

/// Compares `runs` with `reference` on `metric` over the seeds both have.
pub fn versus(runs: &[RunRecord], reference: &[RunRecord], metric: &str) -> Option<Versus> {
    let pairs: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| {
            let other = reference.iter().find(|x| x.seed == r.seed)?;
            Some((r.test.get(metric)?, other.test.get(metric)?))
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    let t = paired_t_test(&a, &b).ok()?;
    let mb = b.iter().sum::<f64>() / b.len() as f64;
    let ma = a.iter().sum::<f64>() / a.len() as f64;
    let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    let sd = mean_ci95(&diffs).ok()?.std;
    let mde = minimum_detectable_effect(sd, diffs.len(), ALPHA, POWER).ok().flatten();
    Some(Versus { relative: (mb != 0.0).then(|| ma / mb - 1.0), diff: t.diff, p: t.p, mde })
}

fn pm(m: Option<MeanCi>) -> String {
    match m {
        Some(m) if m.n > 1 => format!("{:.5} ± {:.5}", m.mean, m.half_width),
        Some(m) => format!("{:.5}", m.mean),
        None => "—".into(),
    }
}

/// The Markdown table; `intro` is the paragraph under the title.
pub fn markdown(title: &str, intro: &str, rows: &[Row], columns: &[String], metric: &str) -> String {
    let mut s = format!(
        "# {title}\n\n{intro}\n\nTest split, mean ± 95% CI (Student t) over seeds. Against the reference row: Δ = relative \
         difference of mean {metric}, paired t-test by seed, and the MDE, the paired difference in {metric} a test with \
         {:.0}% power at α = {ALPHA} would detect.\n\n",
        POWER * 100.0
    );
    let _ = writeln!(
        s,
        "| row | model | {} | Δ {metric} | paired diff (p) | MDE | reference | best epochs |",
        columns.join(" | ")
    );
    let _ = writeln!(s, "|---|---|{}---|---|---|---|---|", "---|".repeat(columns.len()));
    for r in rows {
        let cells: Vec<String> = columns.iter().map(|m| pm(stat(&r.runs, m))).collect();
        let v = r.reference.and_then(|i| versus(&r.runs, &rows[i].runs, metric));
        let relative = v.and_then(|v| v.relative).map_or("—".into(), |x| format!("{:+.3}%", x * 100.0));
        let paired =
            v.map_or("—".into(), |v| format!("{:+.5} (p={})", v.diff, v.p.map_or("—".into(), |p| format!("{p:.3}"))));
        let mde = cell(v.and_then(|v| v.mde), 5);
        let reference = r.reference.map_or("—".to_string(), |i| rows[i].label.clone());
        let epochs: Vec<String> = r.runs.iter().map(|x| x.best_epoch.to_string()).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {relative} | {paired} | {mde} | {reference} | {} |",
            r.label,
            r.model,
            cells.join(" | "),
            epochs.join(",")
        );
    }
    s.push_str(&underpowered(rows, metric));
    s
}

/// The rows whose difference from their reference is not significant, each with the smallest
/// paired effect its seeds could have detected: what that "no difference" cannot rule out.
fn underpowered(rows: &[Row], metric: &str) -> String {
    let lines: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let reference = &rows[r.reference?];
            let v = versus(&r.runs, &reference.runs, metric)?;
            let mde = v.mde?;
            v.p.is_none_or(|p| p >= ALPHA).then(|| {
                format!(
                    "- {} vs {}: no difference at α = {ALPHA}; paired effects on {metric} smaller than {mde:.5} \
                     (either sign) would likely go unseen, so none of them is ruled out.",
                    r.label, reference.label
                )
            })
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\nWhat a \"no difference\" here cannot rule out ({:.0}% power):\n\n{}\n", POWER * 100.0, lines.join("\n"))
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// `table.csv`: one line per row (absent values are empty cells).
pub fn table_csv(rows: &[Row], columns: &[String], metric: &str) -> Result<Vec<u8>, BoxError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "model".into(), "seeds".into()];
    for m in columns {
        header.push(format!("{m}_mean"));
        header.push(format!("{m}_ci95"));
    }
    for x in ["relative", "paired_diff", "paired_p", "mde"] {
        header.push(format!("{metric}_{x}"));
    }
    header.push("reference".into());
    w.write_record(&header)?;
    for r in rows {
        let mut line = vec![r.label.clone(), r.model.clone(), r.runs.len().to_string()];
        for m in columns {
            let st = stat(&r.runs, m);
            line.push(opt(st.map(|s| s.mean)));
            line.push(opt(st.map(|s| s.half_width)));
        }
        let v = r.reference.and_then(|i| versus(&r.runs, &rows[i].runs, metric));
        line.extend(
            [v.and_then(|v| v.relative), v.map(|v| v.diff), v.and_then(|v| v.p), v.and_then(|v| v.mde)].map(opt),
        );
        line.push(r.reference.map_or_else(String::new, |i| rows[i].label.clone()));
        w.write_record(&line)?;
    }
    Ok(w.into_inner().map_err(|e| e.to_string())?)
}

/// `runs.csv`: one line per run, every column metric on test and the key metric on valid.
pub fn runs_csv(rows: &[Row], columns: &[String], metric: &str) -> Result<Vec<u8>, BoxError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> =
        ["row", "model", "seed", "config_hash", "epochs", "best_epoch", "seconds"].map(String::from).to_vec();
    header.extend(columns.iter().map(|m| format!("test_{m}")));
    header.push(format!("valid_{metric}"));
    w.write_record(&header)?;
    for r in rows {
        for x in &r.runs {
            let mut line = vec![
                r.label.clone(),
                r.model.clone(),
                x.seed.to_string(),
                x.config_hash.clone(),
                x.epochs.to_string(),
                x.best_epoch.to_string(),
                format!("{:.1}", x.seconds),
            ];
            line.extend(columns.iter().map(|m| opt(x.test.get(m))));
            line.push(opt(x.valid.get(metric)));
            w.write_record(&line)?;
        }
    }
    Ok(w.into_inner().map_err(|e| e.to_string())?)
}

/// Writes `table.md`, `table.csv` and `runs.csv` into `out`; returns the Markdown.
pub fn write_tables(
    out: &Path,
    title: &str,
    intro: &str,
    rows: &[Row],
    columns: &[String],
    metric: &str,
) -> Result<String, BoxError> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let md = markdown(title, intro, rows, columns, metric);
    recdiff_data::write_atomic(&out.join("table.md"), md.as_bytes())?;
    recdiff_data::write_atomic(&out.join("table.csv"), &table_csv(rows, columns, metric)?)?;
    recdiff_data::write_atomic(&out.join("runs.csv"), &runs_csv(rows, columns, metric)?)?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    fn run(seed: u64, auc: f64, uauc: Option<f64>) -> RunRecord {
        let mut m = Metrics::new();
        m.set("auc", Some(auc)).set("uauc", uauc);
        RunRecord {
            name: "x".into(),
            family: "ctr".into(),
            model: "dcnv2".into(),
            seed,
            config_hash: "h".into(),
            epochs: 3,
            steps: 30,
            best_epoch: 2,
            best_step: 20,
            seconds: 1.0,
            seconds_per_epoch: 0.3,
            valid: m.clone(),
            test: m,
        }
    }

    fn rows() -> Vec<Row> {
        let base = vec![run(1, 0.70, None), run(2, 0.71, None), run(3, 0.72, None)];
        let better = vec![run(3, 0.73, None), run(1, 0.71, None), run(2, 0.72, None)];
        vec![
            Row { label: "base".into(), model: "dcnv2".into(), reference: None, runs: base },
            Row { label: "better".into(), model: "dcnv2+x".into(), reference: Some(0), runs: better },
        ]
    }

    #[test]
    fn rows_are_paired_with_their_reference_by_seed_not_by_position() {
        // Every seed improves by exactly 0.01: p = 0, zero spread so MDE 0.
        let v = versus(&rows()[1].runs, &rows()[0].runs, "auc").unwrap();
        assert!((v.diff - 0.01).abs() < 1e-12 && v.p == Some(0.0), "{v:?}");
        assert!((v.relative.unwrap() - (0.72 / 0.71 - 1.0)).abs() < 1e-12);
        assert!(v.mde.unwrap().abs() < 1e-9);
    }

    #[test]
    fn a_non_significant_row_is_listed_with_the_effects_it_cannot_rule_out() {
        let mut rs = rows();
        // Paired differences +0.01, -0.01, +0.02: mean 0.00667, not significant with 3 seeds.
        rs[1].runs = vec![run(1, 0.71, None), run(2, 0.70, None), run(3, 0.74, None)];
        let md = markdown("t", "i", &rs, &["auc".to_string()], "auc");
        let v = versus(&rs[1].runs, &rs[0].runs, "auc").unwrap();
        assert!(v.p.unwrap() > 0.05, "{v:?}");
        assert!(
            md.contains(&format!(
                "- better vs base: no difference at α = 0.05; paired effects on auc smaller than {:.5}",
                v.mde.unwrap()
            )),
            "{md}"
        );
        // A significant row is not listed.
        assert!(!markdown("t", "i", &rows(), &["auc".to_string()], "auc").contains("cannot rule out"));
    }

    #[test]
    fn an_absent_metric_shows_as_a_dash_and_an_empty_csv_cell() {
        let cols = vec!["auc".to_string(), "uauc".to_string()];
        let md = markdown("t", "i", &rows(), &cols, "auc");
        assert!(md.contains("| base | dcnv2 | 0.71000 ± 0.02484 | — | — |"), "{md}");
        assert!(md.contains("| better | dcnv2+x | 0.72000 ± 0.02484 | — | +1.408% | +0.01000 (p=0.000) |"), "{md}");
        let csv = String::from_utf8(table_csv(&rows(), &cols, "auc").unwrap()).unwrap();
        assert!(csv.lines().nth(1).unwrap().starts_with("base,dcnv2,3,0.71,0.024"), "{csv}");
        assert!(csv.lines().nth(1).unwrap().contains(",,,"), "{csv}");
    }
}
