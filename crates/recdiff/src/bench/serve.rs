//! `recdiff bench serve` (latency and throughput of /v1/score under a closed-loop load, over HTTP
//! and in process) and `recdiff bench recommend` (HNSW against exact retrieval).

use anyhow::{Context, Result, bail};
use clap::Args;
use recdiff_bench::loadgen;
use recdiff_data::synth::{self, SynthConfig};
use recdiff_serve::{RunningServer, ServeConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ServeBenchArgs {
    /// Trained runs, in pairs (base, base + enhancer); default: DCN-V2 and DCN-Mix, each without
    /// and with AsymDiffRec, trained on a synthetic log.
    runs: Vec<PathBuf>,
    /// Candidates per /v1/score request.
    #[arg(long, default_value_t = 500)]
    candidates: usize,
    /// Timed requests per model and concurrency level.
    #[arg(long, default_value_t = 2_000)]
    requests: usize,
    /// Untimed requests per model before the timed ones.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Concurrent closed-loop clients; one table row per level.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    concurrency: Vec<usize>,
    /// Rows of the synthetic log trained on when no runs are given.
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Keep the generated data and default runs here (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The default benchmark models: the quickstart's DCN-V2 (three full-rank 640x640 cross layers)
/// and DCN-Mix (low-rank mixture, rank 64, 2 experts: the DCN-V2 paper's cost-efficient variant),
/// each without and with AsymDiffRec. One epoch each: latency does not depend on training quality.
fn default_runs(dir: &Path, rows: u64) -> Result<Vec<PathBuf>> {
    use recdiff_model::base::BaseConfig;
    use recdiff_model::base::dcn::CrossKind;
    let data = dir.join("data");
    synth::generate(&SynthConfig { rows, ..SynthConfig::default() }, &data).context("generating the synthetic log")?;
    let mut runs = Vec::new();
    for (name, low_rank, asym) in [
        ("dcnv2", false, false),
        ("dcnv2-asymdiffrec", false, true),
        ("dcnmix", true, false),
        ("dcnmix-asymdiffrec", true, true),
    ] {
        let mut cfg = crate::quickstart::experiment(name, &data, dir, 7, 1, asym);
        cfg.train.progress = false;
        if let (true, BaseConfig::DcnV2(c)) = (low_rank, &mut cfg.model.base) {
            c.cross = CrossKind::LowRankMixture { rank: 64, experts: 2 };
        }
        eprintln!("training {name} (1 epoch on {rows} rows) for the benchmark");
        recdiff_train::run(&cfg, false).with_context(|| format!("training {name}"))?;
        runs.push(dir.join(name));
    }
    Ok(runs)
}

pub fn bench_serve(a: ServeBenchArgs) -> Result<()> {
    crate::serve::keep_freed_memory()?;
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = a.dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let runs = if a.runs.is_empty() { default_runs(&dir, a.rows)? } else { a.runs.clone() };
    let mut servers = Vec::new();
    for run in &runs {
        let cfg = ServeConfig { addr: SocketAddr::from(([127, 0, 0, 1], 0)), ..ServeConfig::new(run.clone()) };
        servers.push(RunningServer::start(cfg, axum_router()).with_context(|| format!("serving {}", run.display()))?);
    }
    let model = servers[0].state.current().map_err(|e| anyhow::anyhow!(e.message))?;
    let meta = recdiff_data::EncodedMeta::load(&model.run).context("reading the run's meta.json")?;
    let rows = loadgen::sample_rows(&meta.schema, 20_000)?;
    if rows.is_empty() {
        bail!("the run's data has no rows to build requests from");
    }
    let total = a.requests + a.warmup;
    let bodies = loadgen::score_bodies(&rows, a.candidates, total, 11);
    println!(
        "recdiff bench serve: POST /v1/score, 1 user x {} candidates, {} timed requests per cell ({} warm-up), \
         loopback, closed loop, models alternating request by request",
        a.candidates, a.requests, a.warmup
    );
    println!(
        "{:<22} {:>5} {:>9} {:>9} {:>9} {:>9} {:>14} {:>7}",
        "model", "conc", "p50 ms", "p99 ms", "mean ms", "req/s", "candidates/s", "errors"
    );
    let targets: Vec<String> = servers.iter().map(|s| s.url("/v1/score")).collect();
    for &conc in &a.concurrency {
        loadgen::run_load(&targets, &bodies[..a.warmup], conc);
        let reports = loadgen::run_load(&targets, &bodies[a.warmup..], conc);
        for (i, (s, r)) in servers.iter().zip(&reports).enumerate() {
            let name = s.state.current().map(|m| m.run.file_name().unwrap_or_default().to_string_lossy().into_owned());
            println!(
                "{:<22} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>14.0} {:>7}",
                name.unwrap_or_default(),
                conc,
                r.quantile_ms(0.5),
                r.quantile_ms(0.99),
                r.mean_ms(),
                r.requests_per_s(conc),
                r.requests_per_s(conc) * a.candidates as f64,
                r.errors
            );
            if i % 2 == 1 {
                let b = &reports[i - 1];
                let cost = |q: f64| (r.quantile_ms(q) / b.quantile_ms(q) - 1.0) * 100.0;
                println!("{:<22} {:>5} enhancer cost: p50 {:+.1}%, p99 {:+.1}%", "", conc, cost(0.5), cost(0.99));
            }
        }
    }
    in_process(&servers, &bodies, a.warmup)
}

/// The same requests scored in this process, one at a time, without HTTP or JSON text: the figure
/// to hold against a framework's forward alone (`bench/reference/ctr.py serve`).
fn in_process(servers: &[RunningServer], bodies: &[String], warmup: usize) -> Result<()> {
    let requests: Vec<recdiff_serve::request::ScoreRequest> =
        bodies.iter().map(|b| serde_json::from_str(b).context("parsing a generated request")).collect::<Result<_>>()?;
    println!("in process (request parsed once, then features, gather and forward per request):");
    println!("{:<22} {:>9} {:>9} {:>9} {:>13}", "model", "p50 ms", "p99 ms", "mean ms", "dense params");
    for s in servers {
        let model = s.state.current().map_err(|e| anyhow::anyhow!(e.message))?;
        let mut report = loadgen::LoadReport { latencies: Vec::new(), errors: 0 };
        for (i, req) in requests.iter().enumerate() {
            let started = std::time::Instant::now();
            let scored = model.score(req);
            if i >= warmup {
                report.latencies.push(started.elapsed());
                report.errors += usize::from(scored.is_err());
            }
        }
        if report.errors > 0 {
            bail!("{}: {} of the in-process requests failed", model.run.display(), report.errors);
        }
        let name = model.run.file_name().unwrap_or_default().to_string_lossy().into_owned();
        println!(
            "{:<22} {:>9.2} {:>9.2} {:>9.2} {:>13}",
            name,
            report.quantile_ms(0.5),
            report.quantile_ms(0.99),
            report.mean_ms(),
            model.dense_parameters()
        );
    }
    Ok(())
}

fn axum_router() -> recdiff_serve::server::ExtraRoutes {
    recdiff_serve::server::ExtraRoutes::new()
}

#[derive(Args)]
pub struct RecommendBenchArgs {
    /// A sequential run (`recdiff seq train`).
    run: PathBuf,
    /// Queries (users' full histories, in data order).
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Also index a synthetic catalogue of this many items (the run's item vectors, each copied
    /// with Gaussian jitter) and time the same queries on it: where ANN pays off (0 = skip).
    #[arg(long, default_value_t = 100_000)]
    catalogue: usize,
}

/// Recall of the HNSW index against exact search, and per-query latency of both.
pub fn bench_recommend(a: RecommendBenchArgs) -> Result<()> {
    use recdiff_serve::retrieval::{RetrievalModel, Search};
    use std::time::Instant;
    let model = RetrievalModel::load(&a.run)?;
    let (_, split) = recdiff_run::seq::load_data(model.config())?;
    let histories: Vec<Vec<u32>> = (0..split.train.len().min(a.queries)).map(|u| split.history(u, true)).collect();
    let queries: Vec<Vec<f32>> = histories.iter().map(|h| model.query(h)).collect();
    println!(
        "recdiff bench recommend: {} ({}), {} items, {} queries",
        a.run.display(),
        model.name,
        model.items(),
        histories.len()
    );
    println!("{:>4} {:>14} {:>14} {:>14}", "k", "ANN recall@k", "exact ms/q", "ANN ms/q");
    let ann = Search::Hnsw { ef: None };
    for k in [10, 50] {
        let recall = model.index().recall(&queries, &histories, k, ann);
        let time = |search: Search| {
            let t = Instant::now();
            for (q, h) in queries.iter().zip(&histories) {
                std::hint::black_box(model.top_k(q, k, h, search));
            }
            t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
        };
        println!("{k:>4} {recall:>14.4} {:>14.3} {:>14.3}", time(Search::Exact), time(ann));
    }
    if a.catalogue > 0 {
        synthetic_catalogue(model.index(), &queries, a.catalogue);
    }
    Ok(())
}

/// The queries against `n` items drawn around the trained ones: recall and ms/query of HNSW
/// against exact search, and the index's build time.
fn synthetic_catalogue(trained: &recdiff_serve::retrieval::ItemIndex, queries: &[Vec<f32>], n: usize) {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};
    use recdiff_serve::retrieval::{ItemIndex, Search};
    use std::time::Instant;
    let (vectors, dim) = trained.vectors();
    let rows = trained.len();
    let rms = (vectors[dim..].iter().map(|v| v * v).sum::<f32>() / (rows * dim).max(1) as f32).sqrt();
    let jitter = Normal::new(0.0f32, 0.5 * rms).expect("finite scale");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut synthetic = vec![0.0f32; dim];
    for _ in 0..n {
        let src = rng.random_range(1..=rows);
        synthetic.extend(vectors[src * dim..(src + 1) * dim].iter().map(|v| v + jitter.sample(&mut rng)));
    }
    let started = Instant::now();
    let index = ItemIndex::new(synthetic, dim);
    println!(
        "\nsynthetic catalogue: {n} items (trained vectors + N(0, (0.5 rms)^2) jitter), HNSW built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("{:>4} {:>6} {:>14} {:>14}", "k", "ef", "recall@k", "ms/query");
    let time = |k: usize, search: Search| {
        let t = Instant::now();
        for q in queries {
            std::hint::black_box(index.top_k(q, k, &[], search));
        }
        t.elapsed().as_secs_f64() * 1e3 / queries.len().max(1) as f64
    };
    for k in [10, 50] {
        println!("{k:>4} {:>6} {:>14.4} {:>14.3}", "exact", 1.0, time(k, Search::Exact));
        for ef in [64, 256, 1024] {
            let search = Search::Hnsw { ef: Some(ef) };
            println!("{k:>4} {ef:>6} {:>14.4} {:>14.3}", index.recall(queries, &[], k, search), time(k, search));
        }
    }
}
