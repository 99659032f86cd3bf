//! `recdiff robustness`: how the trained models of a comparison hold up as features go missing.
//! For every row of the comparison and every seed's best checkpoint (opened read-only), the test split is scored with
//! an increasing share of each sample's present fields hidden at random (0%, 10%, ..., 60%) and
//! with a cold-start pattern that hides every user-profile field (schema group `user`, all but
//! the user id). AUC and UAUC are averaged over seeds (± 95% CI) and plotted against the hidden
//! share, one line per model (`robustness.svg` / `.png`), with the table behind it
//! (`robustness.md` / `.csv`).

use crate::TrainError;
use crate::batch::Probe;
use crate::eval::{EvalMetrics, evaluate_run};
use crate::plot::{PALETTE, Series, XAxis, two_panels, write_png};
use recdiff_experiment::compare::{Plan, slug};
use recdiff_metrics::{MeanCi, mean_ci95};
use recdiff_run::CtrRun;
use std::fmt::Write as _;

/// Shares of present fields hidden at random.
pub const SHARES: [f64; 7] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

/// One model's results: AUC and UAUC per share, then the cold-start pattern. UAUC is `None`
/// where the data has no user key.
#[derive(Debug, Clone)]
pub struct ModelCurve {
    pub model: String,
    pub auc: Vec<MeanCi>,
    pub uauc: Vec<Option<MeanCi>>,
    pub cold_auc: Option<MeanCi>,
    pub cold_uauc: Option<MeanCi>,
    /// Fields the cold-start pattern hides.
    pub cold_fields: Vec<String>,
}

fn ci(values: &[f64]) -> Result<MeanCi, TrainError> {
    Ok(mean_ci95(values).map_err(crate::eval::EvalError::from)?)
}

/// Mean ± CI of values every run has; `None` when any run lacks it (or none ran).
fn ci_all(values: &[Option<f64>]) -> Result<Option<MeanCi>, TrainError> {
    match values.iter().copied().collect::<Option<Vec<f64>>>() {
        Some(v) if !v.is_empty() => ci(&v).map(Some),
        _ => Ok(None),
    }
}

/// User-profile fields: group `user`, excluding the user key's own field.
fn profile_fields(run: &CtrRun) -> (Vec<usize>, Vec<String>) {
    let key = run.meta.schema.keys.user.as_deref();
    let picked: Vec<(usize, String)> = run
        .meta
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.group.as_deref() == Some("user") && Some(f.name.as_str()) != key)
        .map(|(i, f)| (i, f.name.clone()))
        .collect();
    picked.into_iter().unzip()
}

fn open(run: &std::path::Path) -> Result<CtrRun, TrainError> {
    CtrRun::open(run).map_err(|source| TrainError::NotCompared { source })
}

/// Probes every seed's best model of one row (read-only: nothing in the runs is written).
fn probe_row(dir: &std::path::Path, seeds: &[u64], model: String) -> Result<ModelCurve, TrainError> {
    let mut per_share: Vec<Vec<EvalMetrics>> = vec![Vec::new(); SHARES.len()];
    let (mut cold, mut cold_fields) = (Vec::new(), Vec::new());
    for seed in seeds {
        let run = open(&dir.join(format!("seed-{seed}")))?;
        let test = run.split(recdiff_data::split::TEST)?;
        for (i, &share) in SHARES.iter().enumerate() {
            per_share[i].push(evaluate_run(&run, &test, &Probe::Random(share))?);
        }
        let (fields, names) = profile_fields(&run);
        if !fields.is_empty() {
            cold.push(evaluate_run(&run, &test, &Probe::Fields(fields))?);
            cold_fields = names;
        }
    }
    let auc = |ms: &[EvalMetrics]| ms.iter().map(|m| Some(m.auc)).collect::<Vec<_>>();
    let uauc = |ms: &[EvalMetrics]| ms.iter().map(|m| m.uauc).collect::<Vec<_>>();
    Ok(ModelCurve {
        model,
        auc: per_share
            .iter()
            .map(|ms| ci_all(&auc(ms))?.ok_or_else(|| TrainError::Other("no runs".into())))
            .collect::<Result<_, _>>()?,
        uauc: per_share.iter().map(|ms| ci_all(&uauc(ms))).collect::<Result<_, _>>()?,
        cold_auc: ci_all(&auc(&cold))?,
        cold_uauc: ci_all(&uauc(&cold))?,
        cold_fields,
    })
}

/// Probes every row of a comparison whose runs exist (run `recdiff compare` first). Every row
/// must be of the CTR family.
pub fn run(plan: &Plan) -> Result<Vec<ModelCurve>, TrainError> {
    let mut curves = Vec::new();
    let bar = recdiff_experiment::progress::bar(true, "robustness", plan.rows.len() as u64);
    for row in &plan.rows {
        let exp = row.experiment.as_ref();
        if exp.family() != crate::family::FAMILY {
            return Err(TrainError::Other(format!(
                "row {:?} is a {} model; robustness probes CTR models",
                row.label,
                exp.family()
            )));
        }
        let root = plan.output_dir().join(slug(&row.label));
        let (dir, _) = recdiff_experiment::seeds::runs_dir(exp, &root).map_err(TrainError::Experiment)?;
        curves.push(probe_row(&dir, &plan.config.seeds, row.label.clone())?);
        bar.inc(1);
    }
    Ok(curves)
}

fn pm(m: &MeanCi) -> String {
    format!("{:.4} ± {:.4}", m.mean, m.half_width)
}

/// Writes the plot (SVG + PNG) and the tables; returns the Markdown table.
pub fn write(plan: &Plan, curves: &[ModelCurve]) -> Result<String, TrainError> {
    let out = plan.output_dir();
    std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
    let series = |pick: &dyn Fn(&ModelCurve) -> Vec<Option<MeanCi>>| -> Vec<Series<'_>> {
        curves
            .iter()
            .enumerate()
            .map(|(i, m)| Series {
                name: &m.model,
                colour: PALETTE[i % PALETTE.len()],
                points: SHARES.iter().zip(pick(m)).filter_map(|(s, v)| Some((*s, v?.mean))).collect(),
            })
            .collect()
    };
    let axis = XAxis { label: "share of present fields removed", tick: |x| format!("{:.0}%", x * 100.0) };
    let auc = series(&|m| m.auc.iter().copied().map(Some).collect());
    let svg = two_panels(["test AUC", "test UAUC"], &axis, &auc, &series(&|m| m.uauc.clone()));
    recdiff_data::write_atomic(&out.join("robustness.svg"), svg.as_bytes())?;
    write_png(&svg, &out.join("robustness.png"))?;
    let mut md = format!(
        "# {} — robustness\n\nTest AUC / UAUC (mean ± 95% CI over {} seeds) with a share of each sample's present fields removed at random",
        plan.config.name,
        plan.config.seeds.len()
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
        let auc: Vec<Option<MeanCi>> = m.auc.iter().copied().map(Some).collect();
        for (metric, values, cold) in [("AUC", &auc, &m.cold_auc), ("UAUC", &m.uauc, &m.cold_uauc)] {
            let _ = write!(md, "| {} | {metric} |", m.model);
            for (s, v) in SHARES.iter().zip(values) {
                let _ = write!(md, " {} |", v.as_ref().map_or("—".into(), pm));
                let (mean, half) =
                    v.map_or((String::new(), String::new()), |v| (v.mean.to_string(), v.half_width.to_string()));
                let _ = writeln!(csv, "{},{metric},random-{s},{mean},{half}", m.model);
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
