//! `recdiff data ...`: stats, synth, encode.

mod check;
mod fetch;
mod synth_like;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use recdiff_data::rows::skipped_summary;
use recdiff_data::split::NAMES;
use recdiff_data::stats::DatasetStats;
use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_data::{EncodedMeta, Schema, SplitSpec};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Rows, fields, cardinalities, missing rate per field and label balance of a schema's data.
    Stats {
        /// Dataset schema (TOML).
        schema: PathBuf,
        /// Read at most this many rows (0 = all).
        #[arg(long, default_value_t = 0)]
        max_rows: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Generate the synthetic impression log (data file, schema.toml, planted.json).
    Synth(SynthArgs),
    /// Encode a schema's data into train/valid/test files in recdiff's memory-mapped format.
    Encode(EncodeArgs),
    /// The files a dataset preset expects in a directory: found or missing, size, SHA-256, and
    /// the checksum upstream publishes where it publishes one. Downloads nothing.
    Check {
        /// A preset name in configs/datasets (e.g. `movielens-1m`) or a schema file with `[files]`.
        preset: String,
        /// The directory holding the dataset's files.
        dir: PathBuf,
    },
    /// Download a public dataset (MovieLens 100K-32M), check it against the published checksum and
    /// unpack it where its preset reads it; resumable.
    Fetch(fetch::FetchArgs),
}

#[derive(Args)]
pub struct SynthArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/synth")]
    pub out: PathBuf,
    /// Generator settings as TOML (keys as in `SynthConfig`); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Impressions to generate.
    #[arg(long)]
    pub rows: Option<u64>,
    /// Feature fields (at least 24).
    #[arg(long)]
    pub fields: Option<usize>,
    /// Distinct users.
    #[arg(long)]
    pub users: Option<u32>,
    /// Distinct items.
    #[arg(long)]
    pub items: Option<u32>,
    /// Seed of the generator (the planted model and every draw).
    #[arg(long)]
    pub seed: Option<u64>,
    /// File format of the log.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Share of impressions whose user profile is lost, in [0, 1).
    #[arg(long)]
    pub cold_start_rate: Option<f64>,
    /// Share of users who are cold-start users (profile missing from every impression), in [0, 1).
    #[arg(long)]
    pub cold_user_rate: Option<f64>,
    /// Scale of the effects only the ids carry (user/item biases, user-item latent), >= 0.
    #[arg(long)]
    pub id_effects: Option<f64>,
    /// Share of impressions whose item metadata is missing, in [0, 1).
    #[arg(long)]
    pub item_meta_missing_rate: Option<f64>,
    /// Largest per-field missing-at-random rate, in [0, 1).
    #[arg(long)]
    pub max_field_missing_rate: Option<f64>,
    /// Print the process's peak resident memory when done (used by `recdiff bench encode`).
    #[arg(long, hide = true)]
    pub report_peak_memory: bool,
    /// Write the log in a public dataset's upstream layout (files + schema.toml from its preset)
    /// instead of recdiff's own impression log.
    #[arg(long, value_enum)]
    pub like: Option<synth_like::LikeArg>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SplitKind {
    Random,
    Temporal,
    LeaveOneOut,
}

#[derive(Args)]
pub struct EncodeArgs {
    /// Dataset schema (TOML).
    pub schema: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// How rows are split into train, valid and test.
    #[arg(long, value_enum, default_value = "random")]
    pub split: SplitKind,
    /// Train, valid, test shares (random and temporal splits).
    #[arg(long, value_delimiter = ',', default_values_t = [0.8, 0.1, 0.1])]
    pub ratios: Vec<f64>,
    /// Seed of the random split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the process's peak resident memory when done (used by `recdiff bench encode`).
    #[arg(long, hide = true)]
    pub report_peak_memory: bool,
    /// Write the log in a public dataset's upstream layout (files + schema.toml from its preset)
    /// instead of recdiff's own impression log.
    #[arg(long, value_enum)]
    pub like: Option<synth_like::LikeArg>,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Stats { schema, max_rows, json } => {
            let schema = Schema::load(&schema)?;
            let stats = recdiff_data::stats::compute(&schema, max_rows)
                .with_context(|| format!("reading the data of schema '{}'", schema.name))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print_stats(&schema, &stats);
            }
            Ok(())
        }
        DataCommand::Synth(args) => {
            let config = synth_config(&args)?;
            if let Some(like) = args.like {
                synth_like::run(like, &config, &args.out)?;
                if args.report_peak_memory {
                    println!("peak_rss_bytes={}", peak_rss_bytes().unwrap_or(0));
                }
                return Ok(());
            }
            let started = Instant::now();
            let planted = synth::generate(&config, &args.out)?;
            println!(
                "wrote {} rows x {} fields to {} in {:.1}s",
                config.rows,
                config.fields,
                planted.data_file.display(),
                started.elapsed().as_secs_f64()
            );
            println!("schema: {}", planted.schema_file.display());
            println!(
                "positive rate {:.2}%, oracle AUC {:.4} with every feature, {:.4} from the features as logged",
                planted.positive_rate * 100.0,
                planted.oracle_auc,
                planted.as_logged_oracle_auc
            );
            if args.report_peak_memory {
                println!("peak_rss_bytes={}", peak_rss_bytes().unwrap_or(0));
            }
            Ok(())
        }
        DataCommand::Encode(args) => encode(&args),
        DataCommand::Check { preset, dir } => check::run(&preset, &dir),
        DataCommand::Fetch(args) => fetch::fetch(args),
    }
}

pub fn synth_config(args: &SynthArgs) -> Result<SynthConfig> {
    let mut c = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            SynthConfig::parse(&text).with_context(|| format!("synth config {}", p.display()))?
        }
        None => SynthConfig::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = args.$f { c.$f = v; })* };
    }
    set!(
        rows,
        fields,
        users,
        items,
        seed,
        cold_start_rate,
        cold_user_rate,
        id_effects,
        item_meta_missing_rate,
        max_field_missing_rate
    );
    if let Some(f) = args.format {
        c.format = match f {
            Format::Parquet => OutputFormat::Parquet,
            Format::Csv => OutputFormat::Csv,
        };
    }
    Ok(c)
}

pub fn split_spec(kind: SplitKind, ratios: &[f64], seed: u64) -> Result<SplitSpec> {
    let ratios: [f64; 3] = match ratios {
        [a, b, c] => [*a, *b, *c],
        other => bail!("--ratios needs three values (train,valid,test), got {}", other.len()),
    };
    Ok(match kind {
        SplitKind::Random => SplitSpec::Random { ratios, seed },
        SplitKind::Temporal => SplitSpec::Temporal { ratios },
        SplitKind::LeaveOneOut => SplitSpec::LeaveOneOut,
    })
}

fn encode(args: &EncodeArgs) -> Result<()> {
    let schema = Schema::load(&args.schema)?;
    let split = split_spec(args.split, &args.ratios, args.seed)?;
    let started = Instant::now();
    let made = !args.out.exists();
    let encoded = recdiff_data::encode(&schema, &split, &args.out, args.seed);
    if encoded.is_err() && made {
        // A failed encoding leaves no empty directory behind.
        recdiff_run::layout::remove_empty_dirs(&args.out);
    }
    let meta = encoded.with_context(|| format!("encoding '{}' into {}", schema.name, args.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    print_encoded(&meta, &args.out, secs);
    if args.report_peak_memory {
        println!("peak_rss_bytes={}", peak_rss_bytes().unwrap_or(0));
    }
    Ok(())
}

pub fn print_encoded(meta: &EncodedMeta, out: &Path, secs: f64) {
    let total: u64 = meta.rows.iter().sum();
    println!(
        "encoded {total} rows x {} fields into {} in {secs:.1}s ({:.0} rows/s)",
        meta.fields.len(),
        out.display(),
        total as f64 / secs.max(1e-9)
    );
    for (s, name) in NAMES.iter().enumerate() {
        let rate = meta.positives[s] as f64 / meta.rows[s].max(1) as f64;
        println!("  {name:<5} {:>10} rows, positive rate {:.2}%", meta.rows[s], rate * 100.0);
    }
    if let Some(line) = skipped_summary(meta.skipped_rows, &meta.skipped_examples) {
        println!("  {line}");
    }
    if meta.truncated_tokens > 0 {
        println!("  dropped {} multi-hot tokens past max_len", meta.truncated_tokens);
    }
}

fn kind_name(kind: recdiff_data::schema::FieldKind) -> &'static str {
    use recdiff_data::schema::FieldKind::*;
    match kind {
        Categorical => "categorical",
        Numeric => "numeric",
        MultiHot => "multi_hot",
    }
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn print_stats(schema: &Schema, s: &DatasetStats) {
    println!("dataset   {}", schema.name);
    println!("rows      {}", s.rows);
    println!("fields    {}", s.fields.len());
    if let Some(u) = s.users {
        println!("users     {u}");
    }
    if let Some(i) = s.items {
        println!("items     {i}");
    }
    println!(
        "label     {} positive / {} negative, positive rate {:.1}%",
        s.positives,
        s.rows - s.positives,
        s.positive_rate * 100.0
    );
    if let Some(line) = skipped_summary(s.skipped_rows, &s.skipped_examples) {
        println!("{line}");
    }
    println!();
    println!(
        "{:<20} {:<12} {:<8} {:>11} {:>9}  numeric min / mean / max",
        "field", "kind", "group", "cardinality", "missing"
    );
    for f in &s.fields {
        let numeric = f.numeric.map(|(lo, mean, hi)| format!("{lo:.4} / {mean:.4} / {hi:.4}")).unwrap_or_default();
        println!(
            "{:<20} {:<12} {:<8} {:>11} {:>8.2}%  {numeric}",
            f.name,
            kind_name(f.kind),
            f.group.as_deref().unwrap_or("-"),
            f.distinct,
            f.missing_rate * 100.0
        );
    }
}
