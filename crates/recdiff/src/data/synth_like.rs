//! `recdiff data synth --like <dataset>`: the planted log in a public dataset's upstream layout,
//! with `schema.toml` beside it: the dataset's preset (embedded in the binary) pointed at the files.

use anyhow::{Context, Result};
use clap::ValueEnum;
use recdiff_data::synth::SynthConfig;
use recdiff_data::synth::like::{Like, generate_like};
use std::path::Path;

#[derive(Clone, Copy, ValueEnum)]
pub enum LikeArg {
    Criteo,
    Avazu,
    #[value(name = "movielens-1m")]
    Movielens1m,
    Amazon,
}

impl LikeArg {
    fn like(self) -> Like {
        match self {
            LikeArg::Criteo => Like::Criteo,
            LikeArg::Avazu => Like::Avazu,
            LikeArg::Movielens1m => Like::Movielens1m,
            LikeArg::Amazon => Like::Amazon,
        }
    }

    /// The preset text and how its paths point into the output directory.
    fn preset(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            LikeArg::Criteo => (include_str!("../../../../configs/datasets/criteo.toml"), "train.txt", None),
            LikeArg::Avazu => (include_str!("../../../../configs/datasets/avazu.toml"), "train.csv", None),
            LikeArg::Movielens1m => (include_str!("../../../../configs/datasets/movielens-1m.toml"), ".", None),
            LikeArg::Amazon => {
                (include_str!("../../../../configs/datasets/amazon-2018.toml"), "Books.json", Some("meta_Books.json"))
            }
        }
    }
}

/// Writes the stand-in and its schema into `out`.
pub fn run(like: LikeArg, config: &SynthConfig, out: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let summary = generate_like(like.like(), config, out)?;
    let (preset, path, metadata) = like.preset();
    let mut table: toml::Table = preset.parse().context("embedded preset")?;
    let source = table.get_mut("source").and_then(|s| s.as_table_mut()).context("preset without [source]")?;
    source.insert("path".into(), toml::Value::String(path.into()));
    if let Some(m) = metadata {
        source.insert("metadata".into(), toml::Value::String(m.into()));
    }
    let schema = out.join("schema.toml");
    recdiff_data::write_atomic(&schema, toml::to_string_pretty(&table)?.as_bytes())?;
    println!(
        "wrote {} rows ({:.2}% positive) in {:.1}s: {}",
        summary.rows,
        100.0 * summary.positives as f64 / summary.rows.max(1) as f64,
        started.elapsed().as_secs_f64(),
        summary.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    println!("schema: {}", schema.display());
    Ok(())
}
