//! `recdiff robustness`: how the trained models of a comparison hold up as features go missing.
//! For every (base, enhancer) cell and every seed's best checkpoint, the test split is scored with
//! an increasing share of each sample's present fields hidden at random (0%, 10%, ..., 60%) and
//! with a cold-start pattern that hides every user-profile field (schema group `user`, all but
//! the user id). AUC and UAUC are averaged over seeds (± 95% CI) and plotted against the hidden
//! share, one line per model (`robustness.svg` / `.png`), with the table behind it
//! (`robustness.md` / `.csv`).

use crate::batch::Probe;
use crate::compare::CompareConfig;
use crate::plot::{PALETTE, Series, XAxis, two_panels, write_png};
use crate::train::load_run_config;
use crate::{ExperimentConfig, Session, TrainError};
use recdiff_metrics::{MeanCi, mean_ci95};
use std::fmt::Write as _;

/// Shares of present fields hidden at random.
pub const SHARES: [f64; 7] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

/// One model's results: AUC and UAUC per share, then the cold-start pattern.
#[derive(Debug, Clone)]
pub struct ModelCurve {
    pub model: String,
    pub auc: Vec<MeanCi>,
    pub uauc: Vec<MeanCi>,
    pub cold_auc: Option<MeanCi>,
    pub cold_uauc: Option<MeanCi>,
    /// Fields the cold-start pattern hides.
    pub cold_fields: Vec<String>,
}

fn ci(values: &[f64]) -> Result<MeanCi, TrainError> {
    Ok(mean_ci95(values).map_err(crate::eval::EvalError::from)?)
}

/// User-profile fields: group `user`, excluding the user key's own field.
fn profile_fields(session: &Session) -> (Vec<usize>, Vec<String>) {
    let key = session.meta.schema.keys.user.as_deref();
    let picked: Vec<(usize, String)> = session
        .meta
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.group.as_deref() == Some("user") && Some(f.name.as_str()) != key)
        .map(|(i, f)| (i, f.name.clone()))
        .collect();
    picked.into_iter().unzip()
}

/// Probes every seed's best model of one cell.
fn probe_cell(dir: &std::path::Path, seeds: &[u64], model: String) -> Result<ModelCurve, TrainError> {
    let mut per_share = vec![(Vec::new(), Vec::new()); SHARES.len()];
    let (mut cold_a, mut cold_u, mut cold_fields) = (Vec::new(), Vec::new(), Vec::new());
    for seed in seeds {
        let run = dir.join(format!("seed-{seed}"));
        let cfg = ExperimentConfig { output: Some(run.clone()), ..load_run_config(&run)? };
        let mut session = Session::new(&cfg, true)?;
        session.load_best()?;
        let test = session.split(recdiff_data::split::TEST)?;
        for (i, &share) in SHARES.iter().enumerate() {
            let m = session.evaluate(&test, &Probe::Random(share))?;
            per_share[i].0.push(m.auc);
            per_share[i].1.push(m.uauc);
        }
        let (fields, names) = profile_fields(&session);
        if !fields.is_empty() {
            let m = session.evaluate(&test, &Probe::Fields(fields))?;
            cold_a.push(m.auc);
            cold_u.push(m.uauc);
            cold_fields = names;
        }
    }
    let opt = |v: &[f64]| if v.is_empty() { Ok(None) } else { ci(v).map(Some) };
    Ok(ModelCurve {
        model,
        auc: per_share.iter().map(|(a, _)| ci(a)).collect::<Result<_, _>>()?,
        uauc: per_share.iter().map(|(_, u)| ci(u)).collect::<Result<_, _>>()?,
        cold_auc: opt(&cold_a)?,
        cold_uauc: opt(&cold_u)?,
        cold_fields,
    })
}

/// Probes every cell of a comparison whose runs exist (run `recdiff compare` first).
pub fn run(c: &CompareConfig) -> Result<Vec<ModelCurve>, TrainError> {
    let mut curves = Vec::new();
    for base in &c.bases {
        for enh in &c.enhancers {
            let dir = c.output_dir().join(base.name()).join(enh.name());
            if !dir.join(format!("seed-{}", c.seeds[0])).join("best").exists() {
                return Err(TrainError::Other(format!(
                    "{}: no trained run; run `recdiff compare` first",
                    dir.display()
                )));
            }
            let model = match enh {
                recdiff_model::EnhancerConfig::None => base.name().to_string(),
                e => format!("{}+{}", base.name(), e.name()),
            };
            curves.push(probe_cell(&dir, &c.seeds, model)?);
        }
    }
    Ok(curves)
}

fn pm(m: &MeanCi) -> String {
    format!("{:.4} ± {:.4}", m.mean, m.half_width)
}

/// Writes the plot (SVG + PNG) and the tables; returns the Markdown table.
pub fn write(c: &CompareConfig, curves: &[ModelCurve]) -> Result<String, TrainError> {
    let out = c.output_dir();
    let series = |pick: fn(&ModelCurve) -> &Vec<MeanCi>| -> Vec<Series<'_>> {
        curves
            .iter()
            .enumerate()
            .map(|(i, m)| Series {
                name: &m.model,
                colour: PALETTE[i % PALETTE.len()],
                points: SHARES.iter().zip(pick(m)).map(|(s, v)| (*s, v.mean)).collect(),
            })
            .collect()
    };
    let axis = XAxis { label: "share of present fields removed", tick: |x| format!("{:.0}%", x * 100.0) };
    let svg = two_panels(["test AUC", "test UAUC"], &axis, &series(|m| &m.auc), &series(|m| &m.uauc));
    recdiff_data::write_atomic(&out.join("robustness.svg"), svg.as_bytes())?;
    write_png(&svg, &out.join("robustness.png"))?;
    let mut md = format!(
        "# {} — robustness\n\nTest AUC / UAUC (mean ± 95% CI over {} seeds) with a share of each sample's present fields removed at random",
        c.name,
        c.seeds.len()
    );
    if let Some(m) = curves.first().filter(|m| !m.cold_fields.is_empty()) {
        let _ = write!(md, ", and with every user-profile field removed (cold start: {})", m.cold_fields.join(", "));
    }
    md.push_str(".\n\n| model | metric |");
    let mut csv = String::from("model,metric,probe,mean,ci95\n");
    for s in SHARES {
        let _ = write!(md, " {:.0}% |", s * 100.0);
    }
    md.push_str(" cold start |\n|---|---|");
    md.push_str(&"---|".repeat(SHARES.len() + 1));
    md.push('\n');
    for m in curves {
        for (metric, values, cold) in [("AUC", &m.auc, &m.cold_auc), ("UAUC", &m.uauc, &m.cold_uauc)] {
            let _ = write!(md, "| {} | {metric} |", m.model);
            for (s, v) in SHARES.iter().zip(values) {
                let _ = write!(md, " {} |", pm(v));
                let _ = writeln!(csv, "{},{metric},random-{s},{},{}", m.model, v.mean, v.half_width);
            }
            let _ = writeln!(md, " {} |", cold.as_ref().map_or("—".into(), pm));
            if let Some(v) = cold {
                let _ = writeln!(csv, "{},{metric},cold-start,{},{}", m.model, v.mean, v.half_width);
            }
        }
    }
    recdiff_data::write_atomic(&out.join("robustness.md"), md.as_bytes())?;
    recdiff_data::write_atomic(&out.join("robustness.csv"), csv.as_bytes())?;
    Ok(md)
}
