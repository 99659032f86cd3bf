//! `recdiff seq eval` (a finished run again, with DreamRec's sampler settings swept),
//! `recdiff bench seq` (epoch time), and `seq train` / `seq compare` kept as aliases.

use anyhow::Result;
use clap::{Args, Subcommand};
use recdiff_model::seq::SeqModel;
use recdiff_run::SeqRun;
use recdiff_seq::SeqExperimentConfig;
use std::path::PathBuf;
use std::time::Instant;

/// Kept one release as aliases: `recdiff train`, `recdiff compare` and `recdiff eval` take
/// sequential configs and runs directly.
#[derive(Subcommand)]
pub enum SeqCommand {
    /// Alias of `recdiff train` (sequential configs).
    Train(crate::experiment::TrainArgs),
    /// Alias of `recdiff compare`.
    Compare(crate::experiment::CompareArgs),
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
        SeqCommand::Train(a) => crate::experiment::train(a),
        SeqCommand::Compare(a) => crate::experiment::compare(a),
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

#[derive(Args)]
pub struct SeqBenchArgs {
    /// Experiment configs to time (default: the shipped MovieLens-100K SASRec, DreamRec, PreferDiff, DimeRec).
    configs: Vec<PathBuf>,
    /// Timed epochs per model (after one warm-up epoch).
    #[arg(long, default_value_t = 2)]
    epochs: usize,
}

/// Training epoch time per model over the config's leave-one-out windows.
pub fn bench(a: SeqBenchArgs) -> Result<()> {
    use rand::SeedableRng;
    let configs = if a.configs.is_empty() {
        ["sasrec", "dreamrec", "preferdiff", "dimerec"]
            .iter()
            .map(|m| PathBuf::from(format!("configs/seq-ml100k-{m}.toml")))
            .collect()
    } else {
        a.configs.clone()
    };
    println!("recdiff bench seq: training epochs (1 warm-up, then {} timed)", a.epochs);
    println!(
        "{:<24} {:>10} {:>8} {:>7} {:>10} {:>14} {:>10}",
        "experiment", "positions", "batch", "max_len", "s/epoch", "positions/s", "params"
    );
    for path in &configs {
        let cfg = SeqExperimentConfig::load(path)?;
        let (data, split) = recdiff_run::seq::load_data(&cfg)?;
        let windows = split.windows(cfg.data.max_len);
        let positions: usize = windows.iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
        let device = burn::tensor::Device::flex().autodiff();
        let mut model = Some(recdiff_run::seq::init_model(&cfg, &data.items, &device)?);
        let params = model.as_ref().map_or(0, burn::module::Module::num_params);
        let mut optim = recdiff_experiment::optim::adam(cfg.train.weight_decay);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
        recdiff_seq::train::train_epoch(&mut model, &mut optim, &cfg, &windows, &mut rng, &device)?;
        let started = Instant::now();
        for _ in 0..a.epochs {
            recdiff_seq::train::train_epoch(&mut model, &mut optim, &cfg, &windows, &mut rng, &device)?;
        }
        let per_epoch = started.elapsed().as_secs_f64() / a.epochs.max(1) as f64;
        println!(
            "{:<24} {:>10} {:>8} {:>7} {:>10.2} {:>14.0} {:>10}",
            cfg.name,
            positions,
            cfg.train.batch_size,
            cfg.data.max_len,
            per_epoch,
            positions as f64 / per_epoch,
            params
        );
    }
    Ok(())
}
