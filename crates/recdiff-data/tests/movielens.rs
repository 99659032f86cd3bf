//! MovieLens-100K from `../shared/data/ml-100k`: statistics and encoding of the real files.

use recdiff_data::{Schema, SplitSpec, encode, stats};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared schema. Without the data the tests fail (they are ignored unless asked for); they
/// never pass by skipping.
fn movielens_schema() -> Schema {
    recdiff_testkit::require_ml100k();
    Schema::load(&repo_root().join("configs/ml-100k.schema.toml")).unwrap()
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn movielens_stats_report_the_reference_rows_users_items_and_positive_rate() {
    let schema = movielens_schema();
    let s = stats::compute(&schema, 0).unwrap();
    assert_eq!(s.rows, 100_000);
    assert_eq!(s.users, Some(943));
    assert_eq!(s.items, Some(1682));
    assert_eq!(format!("{:.1}", s.positive_rate * 100.0), "55.4");
    let genres = s.fields.iter().find(|f| f.name == "genres").unwrap();
    assert_eq!(genres.distinct, 19);
    let year = s.fields.iter().find(|f| f.name == "release_year").unwrap();
    assert!(year.missing > 0 && year.missing < 100, "a few ratings have an item without date");
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn random_split_encodes_every_rating_with_vocab_from_train() {
    let schema = movielens_schema();
    let dir = tempfile::tempdir().unwrap();
    let meta = encode::encode(&schema, &SplitSpec::default(), dir.path(), 1).unwrap();
    assert_eq!(meta.rows, [80_000, 10_000, 10_000]);
    assert_eq!(meta.users, 943);
    let items = meta.fields.iter().find(|f| f.name == "item_id").unwrap();
    let train = recdiff_data::SplitFile::open(&dir.path().join("train.bin")).unwrap();
    assert_eq!(train.len(), 80_000);
    // The vocabulary is exactly the items of the training rows (1..=V, every one seen there), and
    // valid/test items absent from them map to the OOV row 0. A vocabulary fitted on every row
    // would hold all 1,682 items and leave no OOV row in valid/test.
    let ids_of = |split: &str| {
        let f = recdiff_data::SplitFile::open(&dir.path().join(format!("{split}.bin"))).unwrap();
        (0..f.len()).map(|i| f.row(i).ids()[items.id_offset]).collect::<Vec<u32>>()
    };
    let train_items: std::collections::HashSet<u32> = ids_of("train").into_iter().collect();
    assert!(!train_items.contains(&0), "a training item mapped to OOV");
    assert_eq!(items.cardinality() as usize, train_items.len() + 1);
    let held_out_oov = ["valid", "test"].iter().flat_map(|s| ids_of(s)).filter(|&id| id == 0).count();
    assert!(held_out_oov > 0 && items.cardinality() < 1683, "every held-out item was in the vocabulary");
    let genres = meta.fields.iter().position(|f| f.name == "genres").unwrap();
    let row = train.row(0);
    assert!(row.value(genres) >= 1.0 || row.is_missing(genres));
    let pos: u64 = meta.positives.iter().sum();
    assert_eq!(pos, 55_375);
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn leave_one_out_holds_out_two_ratings_per_user() {
    let schema = movielens_schema();
    let dir = tempfile::tempdir().unwrap();
    let meta = encode::encode(&schema, &SplitSpec::LeaveOneOut, dir.path(), 1).unwrap();
    assert_eq!(meta.rows, [100_000 - 2 * 943, 943, 943]);
}
