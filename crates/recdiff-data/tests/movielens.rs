//! MovieLens-100K from `../shared/data/ml-100k`: statistics and encoding of the real files.

use recdiff_data::{Schema, SplitSpec, encode, stats};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared schema. Without the data the tests fail; they never pass by skipping.
fn movielens_schema() -> Option<Schema> {
    let dir = repo_root().join("../shared/data/ml-100k");
    assert!(
        dir.join("u.data").exists(),
        "MovieLens-100K is missing: {} (these tests need it; see README)",
        dir.display()
    );
    Some(Schema::load(&repo_root().join("configs/ml-100k.schema.toml")).unwrap())
}

#[test]
fn stats_report_rows_users_items_and_positive_rate() {
    let Some(schema) = movielens_schema() else {
        return;
    };
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
fn random_split_encodes_every_rating_with_vocab_from_train() {
    let Some(schema) = movielens_schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let meta = encode::encode(&schema, &SplitSpec::default(), dir.path(), 1).unwrap();
    assert_eq!(meta.rows, [80_000, 10_000, 10_000]);
    assert_eq!(meta.users, 943);
    let items = meta.fields.iter().find(|f| f.name == "item_id").unwrap();
    // Items only seen in valid/test map to the OOV row, so the vocabulary is below 1,682 + 1.
    assert!(items.cardinality() > 1500 && items.cardinality() <= 1683);
    let train = recdiff_data::SplitFile::open(&dir.path().join("train.bin")).unwrap();
    assert_eq!(train.len(), 80_000);
    let genres = meta.fields.iter().position(|f| f.name == "genres").unwrap();
    let row = train.row(0);
    assert!(row.value(genres) >= 1.0 || row.is_missing(genres));
    let pos: u64 = meta.positives.iter().sum();
    assert_eq!(pos, 55_375);
}

#[test]
fn leave_one_out_holds_out_two_ratings_per_user() {
    let Some(schema) = movielens_schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let meta = encode::encode(&schema, &SplitSpec::LeaveOneOut, dir.path(), 1).unwrap();
    assert_eq!(meta.rows, [100_000 - 2 * 943, 943, 943]);
}
