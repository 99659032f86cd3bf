//! `recdiff bench ...`: benchmarks that print a table. Each phase runs as a child process of this
//! binary so its peak resident memory (Linux VmHWM) is its own.

mod dist;
mod reload;
mod seq;
mod serve;
mod topk;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Generate a synthetic log, then encode it: throughput (rows/s) and peak memory per phase.
    Encode(EncodeBench),
    /// Training steps/s for DCN-V2 and DCN-V2 + AsymDiffRec at 50k and 1M rows per table.
    Train(TrainBenchArgs),
    /// Sequential models: training epoch time on MovieLens-100K (SASRec, DreamRec, DimeRec).
    Seq(seq::SeqBenchArgs),
    /// Top-K models: epoch time on MovieLens-100K, and a DiffRec epoch and peak memory on a
    /// synthetic 100k-user x 50k-item matrix.
    Topk(topk::TopKBenchArgs),
    /// Retrieval: recall of the HNSW index against exact search, and query latency.
    Recommend(serve::RecommendBenchArgs),
    /// Load test of `recdiff serve`: p50/p99 latency and candidates/s, base vs AsymDiffRec.
    Serve(serve::ServeBenchArgs),
    /// Resident memory of `recdiff serve` over rounds of a reload plus concurrent traffic.
    Reload(reload::ReloadBenchArgs),
    /// Data-parallel training under `mpirun -np N` (build `--features mpi`): step time split into
    /// compute and communication, and the bytes each rank sends per step.
    Dist(dist::DistBenchArgs),
}

/// The training step a benchmark times (`bench train`, `bench dist`).
#[derive(Args)]
pub struct StepShape {
    /// Samples per (global) training step.
    #[arg(long, default_value_t = 2048)]
    pub batch: usize,
    /// Embedded fields per sample.
    #[arg(long, default_value_t = 20)]
    pub fields: usize,
    /// Embedding width per field.
    #[arg(long, default_value_t = 16)]
    pub dim: usize,
    /// Timed training steps per configuration.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Untimed steps before the timed ones.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
}

#[derive(Args)]
pub struct TrainBenchArgs {
    #[command(flatten)]
    shape: StepShape,
    /// Rows per embedding table, one configuration each.
    #[arg(long, value_delimiter = ',', default_values_t = [50_000u32, 1_000_000])]
    rows: Vec<u32>,
    /// Run one configuration in this process and print it (used internally).
    #[arg(long, hide = true)]
    single: Option<String>,
}

#[derive(Args)]
pub struct EncodeBench {
    /// Rows of the synthetic log to generate and encode.
    #[arg(long, default_value_t = 10_000_000)]
    rows: u64,
    /// Feature fields of the synthetic log.
    #[arg(long, default_value_t = 40)]
    fields: usize,
    /// Distinct users of the synthetic log.
    #[arg(long, default_value_t = 1_000_000)]
    users: u32,
    /// Distinct items of the synthetic log.
    #[arg(long, default_value_t = 200_000)]
    items: u32,
    /// Working directory (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also time these upstream layouts (`synth --like`, encoded through their presets) against
    /// the same log written as CSV, e.g. `--like criteo,avazu,movielens-1m,amazon`.
    #[arg(long, value_delimiter = ',')]
    like: Vec<String>,
}

struct Phase {
    name: &'static str,
    seconds: f64,
    peak_rss: u64,
}

/// Runs this binary with `args`, returning wall time and the peak memory it reported.
fn run_phase(name: &'static str, args: &[&str]) -> Result<Phase> {
    let exe = std::env::current_exe().context("locating the recdiff binary")?;
    let started = Instant::now();
    let out = Command::new(exe).args(args).output().with_context(|| format!("running phase {name}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("phase {name} failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    }
    let peak_rss =
        stdout.lines().find_map(|l| l.strip_prefix("peak_rss_bytes=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    Ok(Phase { name, seconds, peak_rss })
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    let b = match cmd {
        BenchCommand::Encode(b) => b,
        BenchCommand::Train(t) => return bench_train(t),
        BenchCommand::Dist(d) => return dist::run(d),
        BenchCommand::Serve(s) => return serve::bench_serve(s),
        BenchCommand::Reload(r) => return reload::bench_reload(r),
        BenchCommand::Seq(s) => return seq::bench(s),
        BenchCommand::Topk(a) => return topk::run(a),
        BenchCommand::Recommend(r) => return serve::bench_recommend(r),
    };
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = b.dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let data = dir.join("synth");
    let enc = dir.join("encoded");
    let (rows, fields, users, items) =
        (b.rows.to_string(), b.fields.to_string(), b.users.to_string(), b.items.to_string());
    let data_s = data.to_string_lossy().to_string();
    let synth = run_phase(
        "synth (write parquet)",
        &[
            "data",
            "synth",
            "--out",
            &data_s,
            "--rows",
            &rows,
            "--fields",
            &fields,
            "--users",
            &users,
            "--items",
            &items,
            "--report-peak-memory",
        ],
    )?;
    let schema = data.join("schema.toml").to_string_lossy().to_string();
    let encode = run_phase(
        "encode (3 passes)",
        &["data", "encode", &schema, "--out", &enc.to_string_lossy(), "--report-peak-memory"],
    )?;
    println!("recdiff bench encode: {} rows x {} fields ({} users, {} items)", b.rows, b.fields, b.users, b.items);
    println!("{:<24} {:>10} {:>14} {:>14}", "phase", "seconds", "rows/s", "peak RSS MiB");
    for p in [&synth, &encode] {
        println!(
            "{:<24} {:>10.1} {:>14.0} {:>14.1}",
            p.name,
            p.seconds,
            b.rows as f64 / p.seconds,
            p.peak_rss as f64 / (1 << 20) as f64
        );
    }
    println!(
        "on disk: parquet {:.1} MiB, encoded {:.1} MiB",
        dir_size(&data) as f64 / (1 << 20) as f64,
        dir_size(&enc) as f64 / (1 << 20) as f64
    );
    if !b.like.is_empty() {
        bench_layouts(&b, &dir)?;
    }
    Ok(())
}

/// Encode throughput of the same planted log in recdiff's CSV and in each upstream layout.
fn bench_layouts(b: &EncodeBench, dir: &Path) -> Result<()> {
    let (rows, users, items) = (b.rows.to_string(), b.users.to_string(), b.items.to_string());
    let mut layouts = vec![("csv".to_string(), vec!["--format".to_string(), "csv".into()])];
    layouts.extend(b.like.iter().map(|l| (l.clone(), vec!["--like".to_string(), l.clone()])));
    println!("\nlayouts: the same {} planted rows, encoded through each layout's reader and schema", b.rows);
    println!(
        "{:<14} {:>7} {:>10} {:>12} {:>16} {:>14}",
        "layout", "fields", "encode s", "rows/s", "field values/s", "peak RSS MiB"
    );
    for (name, flags) in layouts {
        let data = dir.join(format!("like-{name}"));
        let data_s = data.to_string_lossy().to_string();
        let mut args: Vec<&str> =
            vec!["data", "synth", "--out", &data_s, "--rows", &rows, "--users", &users, "--items", &items];
        args.extend(flags.iter().map(String::as_str));
        run_phase("synth", &args)?;
        let schema_path = data.join("schema.toml");
        let fields = recdiff_data::Schema::load(&schema_path)?.fields.len();
        let enc = dir.join(format!("enc-{name}")).to_string_lossy().to_string();
        let schema = schema_path.to_string_lossy().to_string();
        let p = run_phase("encode", &["data", "encode", &schema, "--out", &enc, "--report-peak-memory"])?;
        let per_s = b.rows as f64 / p.seconds;
        println!(
            "{name:<14} {fields:>7} {:>10.1} {per_s:>12.0} {:>16.0} {:>14.1}",
            p.seconds,
            per_s * fields as f64,
            p.peak_rss as f64 / (1 << 20) as f64
        );
        let _ = std::fs::remove_dir_all(dir.join(format!("enc-{name}")));
        if name == "criteo" {
            // The same bytes as a CSV with a header: what reading Criteo's layout itself costs.
            let schema = criteo_as_csv(&data)?.to_string_lossy().to_string();
            let enc = dir.join("enc-criteo-csv").to_string_lossy().to_string();
            let p = run_phase("encode", &["data", "encode", &schema, "--out", &enc, "--report-peak-memory"])?;
            let per_s = b.rows as f64 / p.seconds;
            let rss = p.peak_rss as f64 / (1 << 20) as f64;
            println!(
                "{:<14} {fields:>7} {:>10.1} {per_s:>12.0} {:>16.0} {rss:>14.1}",
                "criteo as CSV",
                p.seconds,
                per_s * fields as f64
            );
            let _ = std::fs::remove_dir_all(&enc);
        }
        let _ = std::fs::remove_dir_all(&data);
    }
    Ok(())
}

/// Rewrites the Criteo stand-in in `dir` (`train.txt`, TSV without a header) as `train.csv` with a
/// header and a schema reading it; returns that schema's path.
fn criteo_as_csv(dir: &Path) -> Result<PathBuf> {
    use std::io::{BufRead, Write};
    let mut schema = recdiff_data::Schema::load(&dir.join("schema.toml"))?;
    let columns = schema.source.columns.take().context("the Criteo preset names its columns")?;
    let input = std::io::BufReader::new(std::fs::File::open(&schema.source.path)?);
    let csv_path = dir.join("train.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    writeln!(out, "{}", columns.join(","))?;
    for line in input.split(b'\n') {
        let mut line = line?;
        line.iter_mut().filter(|b| **b == b'\t').for_each(|b| *b = b',');
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    (schema.source.path, schema.source.delimiter, schema.source.header) = (csv_path, None, Some(true));
    let path = dir.join("schema-csv.toml");
    std::fs::write(&path, toml::to_string(&schema)?)?;
    Ok(path)
}

fn bench_train(t: TrainBenchArgs) -> Result<()> {
    if let Some(single) = &t.single {
        let (model, rows) = single.split_once(':').context("--single model:rows")?;
        let cfg = recdiff_bench::train_step::TrainBench {
            rows_per_table: rows.parse()?,
            fields: t.shape.fields,
            dim: t.shape.dim,
            batch: t.shape.batch,
            steps: t.shape.steps,
            warmup: t.shape.warmup,
            asymdiffrec: model == "asymdiffrec",
        };
        let r = recdiff_bench::train_step::run(&cfg)?;
        println!("params dense {} embedding {}", r.dense_params, r.embedding_params);
        println!("result {} {} {}", r.steps_per_s, r.samples_per_s, r.median_step_s);
        println!("peak_rss_bytes={}", crate::data::peak_rss_bytes().unwrap_or(0));
        return Ok(());
    }
    println!(
        "recdiff bench train: batch {}, {} fields x {} dims, DCN-V2 (3 cross layers, deep 512-256, z 128), {} timed steps after {} warm-up",
        t.shape.batch, t.shape.fields, t.shape.dim, t.shape.steps, t.shape.warmup
    );
    println!(
        "{:<22} {:>12} {:>10} {:>12} {:>10} {:>14} {:>13}",
        "model", "rows/table", "steps/s", "samples/s", "ms/step", "peak RSS MiB", "dense params"
    );
    let common = [
        "--batch".to_string(),
        t.shape.batch.to_string(),
        "--fields".into(),
        t.shape.fields.to_string(),
        "--dim".into(),
        t.shape.dim.to_string(),
        "--steps".into(),
        t.shape.steps.to_string(),
        "--warmup".into(),
        t.shape.warmup.to_string(),
    ];
    for model in ["base", "asymdiffrec"] {
        for rows in &t.rows {
            let single = format!("{model}:{rows}");
            let mut args: Vec<&str> = vec!["bench", "train", "--single", &single];
            args.extend(common.iter().map(String::as_str));
            let exe = std::env::current_exe()?;
            let out = Command::new(exe).args(&args).output()?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                bail!("{single} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
            }
            let nums: Vec<f64> = stdout
                .lines()
                .find_map(|l| l.strip_prefix("result "))
                .context("no result line")?
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect();
            let peak: f64 = stdout
                .lines()
                .find_map(|l| l.strip_prefix("peak_rss_bytes="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            let params = stdout.lines().find_map(|l| l.strip_prefix("params dense ")).unwrap_or("?");
            let dense = params.split_whitespace().next().unwrap_or("?");
            let name = if model == "base" { "dcnv2" } else { "dcnv2+asymdiffrec" };
            println!(
                "{:<22} {:>12} {:>10.2} {:>12.0} {:>10.1} {:>14.1} {:>13}",
                name,
                rows,
                nums[0],
                nums[1],
                nums[2] * 1e3,
                peak / (1u64 << 20) as f64,
                dense
            );
        }
    }
    Ok(())
}
