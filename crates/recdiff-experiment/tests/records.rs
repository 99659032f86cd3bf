//! Every committed record under `records/` reads back as today's `results.json`, and under today's
//! metric names: top-K records written with `hit@K` report `hr@K`.

use recdiff_experiment::record::{RESULTS_FILE, RunRecord};
use std::path::{Path, PathBuf};

fn results_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            results_files(&path, out);
        } else if path.file_name().is_some_and(|n| n == RESULTS_FILE) {
            out.push(path);
        }
    }
}

#[test]
fn every_committed_record_reads_back_under_todays_metric_names() {
    let mut files = Vec::new();
    results_files(&recdiff_testkit::repo_root().join("records"), &mut files);
    assert!(files.len() >= 100, "only {} records found", files.len());
    let mut topk = 0;
    for file in &files {
        let record = RunRecord::load(file.parent().unwrap()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!record.test.reports("hit@10"), "{}: a former name survived reading", file.display());
        if record.family == "topk" {
            topk += 1;
            let raw = std::fs::read_to_string(file).unwrap();
            assert!(raw.contains("\"hit@10\""), "{}: this record was written with hit@10", file.display());
            assert!(record.test.get("hr@10").is_some(), "{}: hit@10 reads as hr@10", file.display());
        }
    }
    assert!(topk > 0, "no top-K record among {} files", files.len());
}
