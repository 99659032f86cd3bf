//! `recdiff seq eval` (a finished run again, with DreamRec's sampler settings swept), and
//! `seq train` / `seq compare` kept as aliases.

use anyhow::Result;
use clap::{Args, Subcommand};
use recdiff_model::seq::SeqModel;
use recdiff_run::SeqRun;
use std::path::PathBuf;

/// Kept one release as aliases: `recdiff train`, `recdiff compare` and `recdiff eval` take
/// sequential configs and runs directly.
#[derive(Subcommand)]
pub enum SeqCommand {
    /// Alias of `recdiff train` (sequential configs).
    Train(crate::train::TrainArgs),
    /// Alias of `recdiff compare`.
    Compare(crate::compare::CompareArgs),
    /// Re-evaluate a finished run's best weights on valid and test, optionally sweeping DreamRec's
    /// guidance weight and sampler steps (choose them on valid, report test).
    Eval(SeqEvalArgs),
}

#[derive(Args)]
pub struct SeqEvalArgs {
    /// A run directory written by `recdiff train` / `recdiff compare`.
    run: PathBuf,
    /// DreamRec guidance weights w to evaluate (default: the run's).
    #[arg(long, value_delimiter = ',')]
    guidance: Vec<f64>,
    /// DreamRec sampler steps to evaluate (default: the run's).
    #[arg(long, value_delimiter = ',')]
    sample_steps: Vec<usize>,
}

pub fn run(cmd: SeqCommand) -> Result<()> {
    match cmd {
        SeqCommand::Train(a) => crate::train::train(a),
        SeqCommand::Compare(a) => crate::compare::compare(a),
        SeqCommand::Eval(a) => eval_run(&a.run, &a.guidance, &a.sample_steps),
    }
}

/// The models to evaluate, labelled `(w, steps)`: the run's, or its DDIM sampler's settings swept
/// (DreamRec and PreferDiff, which share the sampler).
fn sampler_variants(
    model: SeqModel,
    guidance: &[f64],
    sample_steps: &[usize],
) -> Result<Vec<(String, String, SeqModel)>> {
    type Sweep = Box<dyn Fn(f64, usize) -> Result<SeqModel, String>>;
    let (cfg, sweep): (_, Sweep) = match model {
        SeqModel::Dreamrec(d) => {
            (d.config().clone(), Box::new(move |w, s| d.clone().with_sampler(w, s).map(SeqModel::Dreamrec)))
        }
        SeqModel::Preferdiff(p) => {
            (p.config().dreamrec.clone(), Box::new(move |w, s| p.clone().with_sampler(w, s).map(SeqModel::Preferdiff)))
        }
        other if guidance.is_empty() && sample_steps.is_empty() => return Ok(vec![("-".into(), "-".into(), other)]),
        _ => anyhow::bail!("--guidance and --sample-steps apply to DreamRec and PreferDiff runs only"),
    };
    let ws = if guidance.is_empty() { vec![cfg.guidance] } else { guidance.to_vec() };
    let steps = if sample_steps.is_empty() { vec![cfg.sample_steps] } else { sample_steps.to_vec() };
    if let Some(s) = steps.iter().find(|&&s| s == 0 || s > cfg.steps) {
        anyhow::bail!("--sample-steps {s}: must be 1..={}", cfg.steps);
    }
    if let Some(w) = ws.iter().find(|w| !w.is_finite()) {
        anyhow::bail!("--guidance {w}: must be finite");
    }
    let mut out = Vec::new();
    for &w in &ws {
        for &s in &steps {
            let swept = sweep(w, s).map_err(anyhow::Error::msg)?;
            out.push((w.to_string(), s.to_string(), swept));
        }
    }
    Ok(out)
}

/// Evaluates a sequential run's best weights on valid and test (read-only).
pub fn eval_run(run_dir: &std::path::Path, guidance: &[f64], sample_steps: &[usize]) -> Result<()> {
    use recdiff_seq::eval::{EvalSpec, evaluate};
    let device = burn::tensor::Device::flex();
    let run = SeqRun::open(run_dir, &device)?;
    let cfg = &run.cfg;
    let (data, split) = recdiff_run::seq::load_data(cfg)?;
    let spec = EvalSpec::of(cfg);
    println!("{} ({}), {}", run_dir.display(), cfg.model.name(), cfg.train.metric);
    println!("{:>6} {:>6} {:>12} {:>12} {:>10} {:>10}", "w", "steps", "valid", "test", "test hr@10", "test hr@50");
    for (w, s, model) in &sampler_variants(run.model, guidance, sample_steps)? {
        let valid = evaluate(model, &data, &split, false, &spec, &device)?;
        let test = evaluate(model, &data, &split, true, &spec, &device)?;
        let get = |m: &recdiff_seq::eval::SeqMetrics, k: &str| recdiff_experiment::metrics::cell(m.get(k), 4);
        println!(
            "{w:>6} {s:>6} {:>12} {:>12} {:>10} {:>10}",
            get(&valid, &cfg.train.metric),
            get(&test, &cfg.train.metric),
            get(&test, "hr@10"),
            get(&test, "hr@50")
        );
    }
    Ok(())
}
