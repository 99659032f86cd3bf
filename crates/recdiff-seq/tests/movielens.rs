//! Sequential models on MovieLens-100K (leave-one-out, full ranking over 1,682 items): histories
//! have the upstream shape, and a few epochs of SASRec, DreamRec and DimeRec already rank the held-out item
//! far above chance (HR@10 of a random ranking is about 10/1,650 = 0.006).

use recdiff_seq::SeqExperimentConfig;
use recdiff_seq::data::LeaveOneOut;
use std::path::{Path, PathBuf};

fn config(name: &str) -> Option<(SeqExperimentConfig, tempfile::TempDir)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !root.join("../shared/data/ml-100k/u.data").exists() {
        assert!(std::env::var("CI").is_err(), "CI needs MovieLens-100K at ../shared/data/ml-100k");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SeqExperimentConfig::load(&root.join("configs").join(name)).unwrap();
    cfg.output = Some(PathBuf::from(dir.path()));
    cfg.train.progress = false;
    Some((cfg, dir))
}

#[test]
fn movielens_histories_give_97k_training_positions() {
    let Some((cfg, _dir)) = config("seq-ml100k-sasrec.toml") else { return };
    let (data, split) = recdiff_seq::train::load_data(&cfg).unwrap();
    assert_eq!((data.users.len(), data.n_items()), (943, 1682));
    let positions: usize = split.windows(50).iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
    assert_eq!(positions, 100_000 - 3 * 943);
    assert_eq!(split.test.iter().flatten().count(), 943);
    let genres = data.attributes.iter().filter(|a| !a.is_empty()).count();
    assert!(genres > 1_600, "{genres} items with genres");
    let _ = LeaveOneOut::new(&data.histories);
}

#[test]
fn sasrec_dreamrec_and_dimerec_rank_the_held_out_item_far_above_chance_after_three_epochs() {
    for (name, floor) in
        [("seq-ml100k-sasrec.toml", 0.06), ("seq-ml100k-dreamrec.toml", 0.03), ("seq-ml100k-dimerec.toml", 0.04)]
    {
        let Some((mut cfg, _dir)) = config(name) else { return };
        cfg.train.epochs = 3;
        let s = recdiff_seq::run(&cfg).unwrap();
        let hr = s.test.get("hr@10").unwrap();
        assert!(
            hr > floor,
            "{name}: test HR@10 {hr} (measured ~0.10 SASRec, ~0.07 DreamRec and DimeRec; chance 0.006)"
        );
        assert!(s.test.get("coverage@10").unwrap() > 0.02, "{:?}", s.test);
    }
}
