//! Data-parallel training end to end on in-process ranks (`LocalWorld`): N ranks at batch B/N
//! each train the run one process trains at batch B (same logged losses and metrics within float
//! reassociation), rank 0 alone writes it, resume works across world sizes, and a bad world is
//! refused. The same runs under real `mpirun` are checked by `.ci/mpi`.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_dist::Collective;
use recdiff_dist::local::LocalWorld;
use recdiff_train::ExperimentConfig;
use recdiff_train::train::LogLine;
use std::path::Path;

/// A small log (its row count not a multiple of the batch, so the last batch is short) and an
/// experiment on it.
fn experiment(dir: &Path, asym: bool, eval_every: usize) -> ExperimentConfig {
    let data = dir.join("data");
    if !data.join("schema.toml").exists() {
        let s = SynthConfig {
            rows: 20_011,
            users: 400,
            items: 200,
            fields: 24,
            format: OutputFormat::Csv,
            ..Default::default()
        };
        synth::generate(&s, &data).unwrap();
    }
    let asym = if asym { "[model.enhancer]\nkind = \"asymdiffrec\"\nhidden = 32\n" } else { "" };
    let text = format!(
        r#"
name = "dp"
seed = 5
[data]
schema = "data/schema.toml"
encoded = "encoded"
[model]
kind = "ctr"
embedding_dim = 8
[model.base]
kind = "dcnv2"
cross_layers = 2
deep = [32]
latent_dim = 16
{asym}
[train]
batch_size = 256
epochs = 3
lr = 5e-3
patience = 100
eval_every_steps = {eval_every}
progress = false
[distributed]
checksum_every_steps = 5
"#
    );
    let path = dir.join(format!("exp-{asym}.toml", asym = !asym.is_empty()));
    std::fs::write(&path, text).unwrap();
    let mut cfg = ExperimentConfig::load(&path).unwrap();
    cfg.data.encoded = Some(dir.join("encoded"));
    cfg
}

fn into(cfg: &ExperimentConfig, out: &Path) -> ExperimentConfig {
    ExperimentConfig { output: Some(out.to_path_buf()), ..cfg.clone() }
}

fn log(out: &Path) -> Vec<LogLine> {
    let text = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(1.0)
}

/// Trains `cfg` on `n` in-process ranks; returns each rank's test AUC.
fn train_on(n: usize, cfg: &ExperimentConfig) -> Vec<f64> {
    LocalWorld::run(n, |c| recdiff_train::run_in(cfg, false, c).map(|s| s.test.auc).map_err(|e| e.to_string()))
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect()
}

#[test]
fn two_and_three_ranks_train_the_run_one_rank_trains_at_the_full_batch() {
    let dir = tempfile::tempdir().unwrap();
    for asym in [false, true] {
        let cfg = experiment(dir.path(), asym, 0);
        let one = recdiff_train::run(&into(&cfg, &dir.path().join(format!("one-{asym}"))), false).unwrap();
        let one_log = log(&dir.path().join(format!("one-{asym}")));
        assert!(one.test.auc > 0.6, "the single process learns: test AUC {}", one.test.auc);
        for n in [2, 3] {
            let out = dir.path().join(format!("n{n}-{asym}"));
            let aucs = train_on(n, &into(&cfg, &out));
            assert!(aucs.iter().all(|a| *a == aucs[0]), "every rank reports the same metrics: {aucs:?}");
            assert!(close(aucs[0], one.test.auc, 1e-3), "{n} ranks: test AUC {} vs {}", aucs[0], one.test.auc);
            let got = log(&out);
            assert_eq!(got.len(), one_log.len(), "{n} ranks log every validation once");
            for (a, b) in one_log.iter().zip(&got) {
                assert_eq!(a.step, b.step);
                assert!(
                    close(a.train_loss, b.train_loss, 1e-4),
                    "{n} ranks step {}: {} vs {}",
                    a.step,
                    a.train_loss,
                    b.train_loss
                );
                assert!(
                    close(a.valid.get("auc").unwrap(), b.valid.get("auc").unwrap(), 1e-3),
                    "{n} ranks valid AUC {} vs {}",
                    a.valid.get("auc").unwrap(),
                    b.valid.get("auc").unwrap()
                );
                assert_eq!(a.valid_rows, b.valid_rows, "the metric is over every valid row");
                assert!(a.valid_rows.is_some_and(|r| r > 0));
            }
        }
    }
}

#[test]
fn only_rank_zero_writes_and_a_run_resumes_on_another_world_size() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = experiment(dir.path(), false, 10);
    let whole = dir.path().join("whole");
    let want = recdiff_train::run(&into(&cfg, &whole), false).unwrap().test.auc;
    // One epoch on 3 ranks, then the second on 2 ranks from the checkpoint the first left.
    let out = dir.path().join("split");
    let first = ExperimentConfig {
        train: recdiff_train::config::TrainConfig { epochs: 1, ..cfg.train.clone() },
        ..into(&cfg, &out)
    };
    train_on(3, &first);
    assert!(out.join("last").is_dir() && out.join("results.json").is_file());
    let resumed = LocalWorld::run(2, |c| {
        recdiff_train::run_in(&into(&cfg, &out), true, c).map(|s| s.test.auc).map_err(|e| e.to_string())
    });
    let got = resumed[0].as_ref().unwrap().as_ref().unwrap();
    assert!(close(*got, want, 1e-3), "3 then 2 ranks: test AUC {got} vs one process {want}");
    let lines = log(&out);
    let steps: Vec<u64> = lines.iter().map(|r| r.step).collect();
    let mut sorted = steps.clone();
    sorted.dedup();
    assert_eq!(steps, sorted, "no validation logged twice: {steps:?}");
}

#[test]
fn a_world_of_ranks_with_different_seeds_is_refused_naming_the_rank() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = experiment(dir.path(), false, 0);
    let out = dir.path().join("bad");
    let errs = LocalWorld::run(2, |c| {
        let mine = ExperimentConfig { seed: 5 + c.rank() as u64, ..into(&cfg, &out) };
        recdiff_train::run_in(&mine, false, c).map(|_| ()).map_err(|e| e.to_string())
    });
    for e in errs {
        let e = e.unwrap().unwrap_err();
        assert!(e.contains("rank 1 runs config"), "{e}");
    }
    assert!(!out.join("log.jsonl").exists(), "nothing trained");
    let too_many = ExperimentConfig {
        train: recdiff_train::config::TrainConfig { batch_size: 2, ..cfg.train.clone() },
        ..into(&cfg, &out)
    };
    let errs =
        LocalWorld::run(3, |c| recdiff_train::run_in(&too_many, false, c).map(|_| ()).map_err(|e| e.to_string()));
    assert!(errs[0].as_ref().unwrap().as_ref().unwrap_err().contains("3 ranks but 2 training shards"));
}

#[test]
fn diverged_replicas_stop_every_rank_with_an_error_naming_the_rank() {
    let out = LocalWorld::run(3, |c| {
        let sum = if c.rank() == 2 { 7 } else { 9 };
        recdiff_train::world::check_replicas(c.as_ref(), sum, 40).map_err(|e| e.to_string())
    });
    for r in out {
        let e = r.unwrap().unwrap_err();
        assert!(e.starts_with("step 40: rank 2's replicated state"), "{e}");
    }
}

fn row_wise(cfg: &ExperimentConfig) -> ExperimentConfig {
    let mut c = cfg.clone();
    c.distributed.tables = recdiff_train::config::TablePlacement::RowWise;
    c
}

#[test]
fn row_wise_sharded_tables_train_the_run_replicated_tables_train_and_reshard_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    for asym in [false, true] {
        let cfg = experiment(dir.path(), asym, 25);
        let replicated = dir.path().join(format!("replicated-{asym}"));
        let want = train_on(2, &into(&cfg, &replicated))[0];
        let want_log = log(&replicated);
        for n in [2, 3] {
            let out = dir.path().join(format!("rows-{n}-{asym}"));
            let got = train_on(n, &row_wise(&into(&cfg, &out)));
            assert!(close(got[0], want, 1e-3), "row-wise on {n} ranks: test AUC {} vs {want}", got[0]);
            for (a, b) in want_log.iter().zip(&log(&out)) {
                assert!(
                    close(a.train_loss, b.train_loss, 1e-4),
                    "row-wise {n}, step {}: {} vs {}",
                    a.step,
                    a.train_loss,
                    b.train_loss
                );
            }
            let best =
                std::fs::read_dir(out.join("best")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap());
            let shards = best.filter(|n| n.starts_with("embeddings.rank-")).count();
            assert_eq!(shards, n, "each rank wrote its shard of the tables");
            // A single process assembles the shards to score the run read-only.
            let run = recdiff_run::CtrRun::open(&out).unwrap();
            let m = recdiff_train::eval::evaluate_run(
                &run,
                &run.split(recdiff_data::split::TEST).unwrap(),
                &recdiff_train::batch::Probe::NONE,
            )
            .unwrap();
            assert!(
                close(m.auc, got[0], 1e-5),
                "the assembled tables score as the shards did: {} vs {}",
                m.auc,
                got[0]
            );
        }
    }
    // One epoch on 3 sharded ranks, the rest on 2 sharded ranks: re-sharded on load.
    let cfg = experiment(dir.path(), true, 25);
    let whole = train_on(1, &into(&cfg, &dir.path().join("whole-run")))[0];
    let out = dir.path().join("reshard");
    let first = ExperimentConfig {
        train: recdiff_train::config::TrainConfig { epochs: 1, ..cfg.train.clone() },
        ..into(&cfg, &out)
    };
    train_on(3, &row_wise(&first));
    let resumed = LocalWorld::run(2, |c| {
        recdiff_train::run_in(&row_wise(&into(&cfg, &out)), true, c).map(|s| s.test.auc).map_err(|e| e.to_string())
    });
    let got = *resumed[0].as_ref().unwrap().as_ref().unwrap();
    assert!(close(got, whole, 1e-3), "3 then 2 sharded ranks: {got} vs one process {whole}");
}
