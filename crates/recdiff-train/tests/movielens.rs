//! The shipped MovieLens-100K experiment: the DCN-V2 base reaches test AUC >= 0.78.

use recdiff_train::ExperimentConfig;
use std::path::Path;

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn dcnv2_base_reaches_auc_0_78_on_movielens_100k() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    recdiff_testkit::require_ml100k();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ExperimentConfig::load(&root.join("configs/ml100k-dcnv2.toml")).unwrap();
    cfg.output = Some(dir.path().join("run"));
    cfg.data.encoded = Some(dir.path().join("data"));
    cfg.train.progress = false;
    let s = recdiff_train::run(&cfg, false).unwrap();
    assert!(s.test.auc >= 0.78, "test AUC {}", s.test.auc);
    assert!(s.test.uauc.is_some_and(|u| u > 0.70) && s.test.uauc_users > 600, "{:?}", s.test);
}
