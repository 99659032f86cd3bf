//! `recdiff serve <run>` and `recdiff bench serve`.

use anyhow::{Context, Result, bail};
use clap::Args;
use recdiff_data::synth::{self, SynthConfig};
use recdiff_serve::loadgen;
use recdiff_serve::{RunningServer, ServeConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// A trained CTR run directory (holds config.resolved.toml, meta.json and best/).
    run: Option<PathBuf>,
    /// A sequential or top-K run served on /v1/recommend (a history or a user of its data).
    #[arg(long)]
    retrieval: Option<PathBuf>,
    /// Address to listen on (loopback by default; expose it deliberately).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Most candidates in one /v1/score request.
    #[arg(long, default_value_t = 2_000, value_parser = positive)]
    max_candidates: usize,
    /// Most rows in one /v1/score:batch request.
    #[arg(long, default_value_t = 10_000, value_parser = positive)]
    max_batch_rows: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 16 << 20, value_parser = positive)]
    max_body_bytes: usize,
    /// Time limit of one request in milliseconds (reading the body and waiting for a slot included).
    #[arg(long, default_value_t = 5_000, value_parser = positive_ms)]
    timeout_ms: u64,
    /// Requests scored at once; more wait for a slot.
    #[arg(long, default_value_t = 16, value_parser = positive)]
    max_in_flight: usize,
    /// A request head must arrive within this many milliseconds of the connection opening or of
    /// the previous answer (so it is the idle keep-alive timeout too).
    #[arg(long, default_value_t = 10_000, value_parser = positive_ms)]
    header_timeout_ms: u64,
    /// Most open connections; past it the longest-idle one is closed to make room.
    #[arg(long, default_value_t = 1024, value_parser = positive)]
    max_connections: usize,
    /// On SIGTERM/SIGINT, milliseconds that requests in flight get to finish.
    #[arg(long, default_value_t = 10_000, value_parser = positive_ms)]
    shutdown_timeout_ms: u64,
    /// Turns on POST /admin/reload, guarded by the token in this file (or in the
    /// RECDIFF_ADMIN_TOKEN environment variable); without either the admin routes are off.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// The directory /admin/reload names runs in (default: the directory holding the served run).
    #[arg(long)]
    runs_dir: Option<PathBuf>,
}

/// The environment variable an admin token may come from.
pub const ADMIN_TOKEN_ENV: &str = "RECDIFF_ADMIN_TOKEN";

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn positive_ms(s: &str) -> Result<u64, String> {
    positive(s).map(|n| n as u64)
}

/// The admin settings from the flags and the environment: off without a token.
fn admin_config(a: &ServeArgs) -> Result<Option<recdiff_serve::admin::AdminConfig>> {
    let token = match (&a.admin_token_file, std::env::var(ADMIN_TOKEN_ENV).ok()) {
        (Some(file), _) => {
            std::fs::read_to_string(file).with_context(|| format!("reading the admin token file {}", file.display()))?
        }
        (None, Some(token)) => token,
        (None, None) => {
            if a.runs_dir.is_some() {
                bail!("--runs-dir is for /admin/reload, which needs --admin-token-file or {ADMIN_TOKEN_ENV}");
            }
            return Ok(None);
        }
    };
    let served = a.run.as_ref().or(a.retrieval.as_ref());
    let runs_dir = match (&a.runs_dir, served) {
        (Some(dir), _) => dir.clone(),
        (None, Some(run)) => std::path::absolute(run)?.parent().map(Path::to_path_buf).unwrap_or_default(),
        (None, None) => bail!("give --runs-dir for /admin/reload"),
    };
    Ok(Some(recdiff_serve::admin::AdminConfig::new(&token, &runs_dir)?))
}

/// Serving keeps freed memory mapped for a while: each request allocates and frees megabytes of
/// tensors, and with mimalloc's default 10 ms purge delay those pages went back to the OS between
/// requests and were faulted in again, which showed in the latency tail (AsymDiffRec's extra
/// tensors most). The delay was once `-1` (never purge); that kept every page any thread ever
/// freed, so RSS grew with reloads and traffic without bound (`recdiff bench reload`: +38 MiB
/// over the last 150 of 200 rounds, 336 MiB at the end, against a flat ~215 MiB at 250 ms, with
/// no measurable latency cost in `recdiff bench serve`; docs/reliability.md). mimalloc reads its
/// options at process start, so the process re-executes itself once with
/// `MIMALLOC_PURGE_DELAY=250` unless the variable is already set.
/// How long (ms) serving keeps freed pages before returning them to the OS.
pub const PURGE_DELAY_MS: &str = "250";

pub fn keep_freed_memory() -> Result<()> {
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_some() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().context("locating the recdiff binary")?;
        let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env(VAR, PURGE_DELAY_MS).exec();
        Err(err).context("re-executing with MIMALLOC_PURGE_DELAY set")
    }
    #[cfg(not(unix))]
    Ok(())
}

pub fn serve(a: ServeArgs) -> Result<()> {
    keep_freed_memory()?;
    if a.run.is_none() && a.retrieval.is_none() {
        bail!("give a CTR run, --retrieval RUN, or both");
    }
    for run in a.run.iter().chain(&a.retrieval) {
        if !run.is_dir() {
            bail!("{}: no such run directory", run.display());
        }
    }
    let admin = admin_config(&a)?;
    let limits = recdiff_serve::conn::ConnLimits {
        header_timeout: Duration::from_millis(a.header_timeout_ms),
        max_connections: recdiff_serve::conn::fit_connection_cap(a.max_connections),
        shutdown_timeout: Duration::from_millis(a.shutdown_timeout_ms),
    };
    if limits.max_connections < a.max_connections {
        eprintln!(
            "recdiff serve: --max-connections lowered to {} to fit the file-descriptor limit",
            limits.max_connections
        );
    }
    let admin_on = admin.is_some();
    let cfg = ServeConfig {
        addr: a.addr,
        max_candidates: a.max_candidates,
        max_batch_rows: a.max_batch_rows,
        max_body_bytes: a.max_body_bytes,
        request_timeout: Duration::from_millis(a.timeout_ms),
        max_in_flight: a.max_in_flight,
        limits,
        admin,
        run: a.run,
        retrieval: a.retrieval,
    };
    recdiff_serve::run(cfg, |addr| {
        let admin = if admin_on { "on, token-guarded" } else { "off" };
        eprintln!("recdiff serve: listening on http://{addr} (admin routes {admin}; Ctrl-C to stop, SIGHUP to reload)");
    })?;
    Ok(())
}

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
    keep_freed_memory()?;
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
