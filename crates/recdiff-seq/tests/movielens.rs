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

#[test]
fn seq_compare_tables_every_experiment_by_seed_and_resumes_finished_runs() {
    let Some((sasrec, dir)) = config("seq-ml100k-sasrec.toml") else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs").canonicalize().unwrap();
    let text = format!(
        "name = \"t\"\nexperiments = [{:?}, {:?}]\nseeds = [1, 2]\nepochs = 1\noutput = {:?}\n",
        root.join("seq-ml100k-sasrec.toml"),
        root.join("seq-ml100k-dimerec.toml"),
        dir.path().join("compare"),
    );
    let path = dir.path().join("compare.toml");
    std::fs::write(&path, text).unwrap();
    let (c, experiments) = recdiff_seq::compare::SeqCompareConfig::load(&path).unwrap();
    assert_eq!(experiments[0].name, sasrec.name);
    let rows = recdiff_seq::compare::run(&c, &experiments).unwrap();
    recdiff_seq::compare::write_tables(&c, &rows).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].versus_reference.is_none() && rows[1].versus_reference.is_some());
    assert!(rows.iter().all(|r| r.runs.iter().map(|x| x.seed).collect::<Vec<_>>() == [1, 2]));
    let runs_csv = std::fs::read_to_string(dir.path().join("compare/runs.csv")).unwrap();
    assert_eq!(runs_csv.lines().count(), 1 + 4, "{runs_csv}");
    let table = std::fs::read_to_string(dir.path().join("compare/table.md")).unwrap();
    assert!(table.contains("| seq-ml100k-dimerec | dimerec | 0.") && table.contains("(p="), "{table}");

    // A second pass reads every finished run back instead of training it again.
    let results = dir.path().join("compare/seq-ml100k-sasrec/seed-2/results.json");
    let written = std::fs::metadata(&results).unwrap().modified().unwrap();
    let again = recdiff_seq::compare::run(&c, &experiments).unwrap();
    assert_eq!(std::fs::metadata(&results).unwrap().modified().unwrap(), written);
    assert_eq!(again[1].runs[1].test, rows[1].runs[1].test);
}
