//! `recdiff recommend`: the top-K items of a sequential or top-K run for a user of its data (or,
//! for a sequential run, a history), read-only; the same answer `/v1/recommend` gives.

use anyhow::{Context, Result};
use clap::Args;
use recdiff_serve::recommender::Recommender;
use recdiff_serve::retrieval::RecommendRequest;
use std::path::PathBuf;

#[derive(Args)]
pub struct RecommendArgs {
    /// A sequential or top-K run directory.
    pub run: PathBuf,
    /// A user key of the run's data.
    #[arg(long, required_unless_present = "history", conflicts_with = "history")]
    pub user: Option<String>,
    /// Sequential runs: item keys, oldest first, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub history: Vec<String>,
    /// How many items.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
}

pub fn recommend(args: RecommendArgs) -> Result<()> {
    crate::families::require(
        &args.run,
        &[recdiff_seq::family::FAMILY, recdiff_topk::family::FAMILY],
        "recommend",
        "a CTR run scores rows: recdiff predict RUN rows.csv -o scores.csv",
    )?;
    let model = Recommender::load(&args.run).with_context(|| format!("opening {}", args.run.display()))?;
    let req = RecommendRequest {
        history: args.history.iter().map(|h| serde_json::Value::String(h.clone())).collect(),
        user: args.user.clone().map(serde_json::Value::String),
        k: args.k,
        exact: true,
        exclude_history: true,
        ef: None,
    };
    let (items, _) = model.recommend(&req).map_err(|e| anyhow::anyhow!(e))?;
    println!("{:>4}  {:<16} {:>12}", "rank", "item", "score");
    for (rank, r) in items.iter().enumerate() {
        println!("{:>4}  {:<16} {:>12.6}", rank + 1, r.item, r.score);
    }
    Ok(())
}
