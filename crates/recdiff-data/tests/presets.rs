//! Each dataset preset in `configs/datasets/` reads its hand-written fixture (upstream layout, one
//! malformed row) with exact counts under `on_bad_row = "skip"`, and names the malformed row
//! under the default policy.

use recdiff_data::Schema;
use recdiff_data::schema::BadRowPolicy;
use recdiff_data::stats::{DatasetStats, compute};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The preset `name` pointed at its fixture directory.
fn preset(name: &str) -> Schema {
    let mut s = Schema::load(&root().join(format!("configs/datasets/{name}.toml"))).unwrap();
    s.source.path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    s
}

fn skipping(name: &str) -> DatasetStats {
    let mut s = preset(name);
    s.source.on_bad_row = BadRowPolicy::Skip;
    compute(&s, 0).unwrap()
}

fn field<'a>(s: &'a DatasetStats, name: &str) -> &'a recdiff_data::stats::FieldStats {
    s.fields.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no field {name}"))
}

#[test]
fn movielens_1m_reads_dat_files_with_users_and_latin1_titles() {
    let s = skipping("movielens-1m");
    assert_eq!((s.rows, s.positives, s.users, s.items, s.skipped_rows), (16, 9, Some(5), Some(6), 1));
    assert_eq!(field(&s, "genres").distinct, 10);
    assert_eq!(field(&s, "gender").distinct, 2);
    assert!(s.fields.iter().all(|f| f.missing == 0), "{:?}", s.fields);
    let e = compute(&preset("movielens-1m"), 0).unwrap_err().to_string();
    assert!(e.contains("ratings.dat, line 16") && e.contains("expected 4 '::'-separated fields, found 2"), "{e}");
}

#[test]
fn movielens_1m_titles_decode_from_latin1_and_years_come_from_titles() {
    let schema = preset("movielens-1m");
    let mut src = recdiff_data::source::open(&schema, &["title".into(), "year".into()]).unwrap();
    let mut titles = Vec::new();
    src.for_each_batch(
        &mut |b| {
            for r in 0..b.len() {
                if let (recdiff_data::source::Cell::Text(t), recdiff_data::source::Cell::Text(y)) =
                    (b.cell(r, 0), b.cell(r, 1))
                {
                    titles.push(format!("{t} / {y}"));
                }
            }
            Ok(())
        },
        &mut |_| Ok(()),
    )
    .unwrap();
    assert!(titles.contains(&"Misérables, Les (1995) / 1995".to_string()), "{titles:?}");
}

#[test]
fn movielens_10m_reads_half_stars_without_users_and_names_an_unknown_movie() {
    let s = skipping("movielens-10m");
    assert_eq!((s.rows, s.positives, s.users, s.items, s.skipped_rows), (9, 4, Some(4), Some(5), 1));
    let genres = field(&s, "genres");
    assert_eq!((genres.missing, genres.distinct), (1, 5), "(no genres listed) is missing");
    let e = compute(&preset("movielens-10m"), 0).unwrap_err().to_string();
    assert!(
        e.contains("ratings.dat, line 8, column 'item_id'") && e.contains("movie 9999 is not in movies.dat"),
        "{e}"
    );
    let mut with_users = preset("movielens-10m");
    with_users.fields.push(preset("movielens-1m").fields.into_iter().find(|f| f.name == "gender").unwrap());
    let e = compute(&with_users, 0).unwrap_err().to_string();
    assert!(e.contains("users.dat") && e.contains("absent"), "{e}");
}

#[test]
fn criteo_reads_headerless_tsv_with_empty_cells_as_missing() {
    let s = skipping("criteo");
    assert_eq!((s.rows, s.positives, s.users, s.items, s.skipped_rows), (23, 8, None, None, 1));
    let missing = |name: &str| field(&s, name).missing;
    assert_eq!((missing("I1"), missing("I2"), missing("C1"), missing("C26")), (0, 8, 7, 4));
    assert_eq!(field(&s, "C1").distinct, 4);
    let e = compute(&preset("criteo"), 0).unwrap_err().to_string();
    assert!(e.contains("train.txt, line 13") && e.contains("expected 40 columns, found 39"), "{e}");
}

#[test]
fn criteo_day_files_read_in_day_order_plain_or_gzipped() {
    use std::io::Write;
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criteo/train.txt")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.split('\t').count() == 40).collect();
    let dir = tempfile::tempdir().unwrap();
    // day_2 before day_10: natural order. day_10 is gzipped; a stray README is not a part.
    let parts = [("day_2", &lines[..10]), ("day_10.gz", &lines[10..])];
    for (name, rows) in parts {
        let body = rows.join("\n") + "\n";
        let file = std::fs::File::create(dir.path().join(name)).unwrap();
        if name.ends_with(".gz") {
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            gz.write_all(body.as_bytes()).unwrap();
            gz.finish().unwrap();
        } else {
            let mut file = file;
            file.write_all(body.as_bytes()).unwrap();
        }
    }
    std::fs::write(dir.path().join("README"), "not data").unwrap();
    let mut schema = Schema::load(&root().join("configs/datasets/criteo-1tb.toml")).unwrap();
    schema.source.path = dir.path().to_path_buf();
    let s = compute(&schema, 0).unwrap();
    assert_eq!((s.rows, s.positives), (23, 8));
    let mut first = Vec::new();
    let mut src = recdiff_data::source::open(&schema, &["I2".into()]).unwrap();
    src.for_each_batch(
        &mut |b| {
            first.extend((0..b.len()).map(|r| b.location(r, None).to_string()));
            Ok(())
        },
        &mut |_| Ok(()),
    )
    .unwrap();
    assert!(first[0].contains("day_2, line 1") && first[10].contains("day_10.gz, line 1"), "{first:?}");
}

#[test]
fn avazu_reads_csv_and_derives_hour_of_day_and_weekday_from_yymmddhh() {
    let s = skipping("avazu");
    assert_eq!((s.rows, s.positives, s.users, s.skipped_rows), (21, 9, Some(5), 1));
    assert_eq!((field(&s, "hour_of_day").distinct, field(&s, "weekday").distinct), (5, 4));
    assert!(s.fields.iter().all(|f| f.missing == 0), "{:?}", s.fields);
    let e = compute(&preset("avazu"), 0).unwrap_err().to_string();
    assert!(
        e.contains("train.csv, line 11, column 'hour'")
            && e.contains("expected a YYMMDDHH timestamp, found \"1410xx00\""),
        "{e}"
    );
}

/// `preset` with its metadata file pointed at the fixture too.
fn with_metadata(name: &str, meta: &str) -> Schema {
    let mut s = preset(name);
    s.source.path = s.source.path.join(if name == "amazon-2018" { "Books.json" } else { "All_Beauty.jsonl" });
    s.source.metadata = Some(s.source.path.with_file_name(meta));
    s
}

#[test]
fn amazon_2014_reads_json_lines_joins_python_literal_metadata_and_names_a_truncated_line() {
    let mut s = preset("amazon-2014");
    s.source.metadata = Some(s.source.path.join("meta_Books.json"));
    s.source.path = s.source.path.join("reviews_Books_5.json");
    let mut skip = s.clone();
    skip.source.on_bad_row = BadRowPolicy::Skip;
    let st = compute(&skip, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.users, st.items, st.skipped_rows), (10, 6, Some(4), Some(3), 1));
    // Item 0005119367 has no metadata (3 rows); 0000013714 no brand (3), 0005019281 no price (4).
    let missing = |n: &str| field(&st, n).missing;
    assert_eq!((missing("category"), missing("brand"), missing("price")), (3, 6, 7));
    assert_eq!(field(&st, "category").distinct, 4, "category paths flattened");
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("reviews_Books_5.json, line 7") && e.contains("bad JSON"), "{e}");
}

#[test]
fn amazon_2018_joins_metadata_on_asin_and_reads_dollar_prices() {
    let mut s = with_metadata("amazon-2018", "meta_Books.json");
    s.source.on_bad_row = BadRowPolicy::Skip;
    let st = compute(&s, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.users, st.items, st.skipped_rows), (6, 4, Some(3), Some(3), 1));
    let missing = |n: &str| field(&st, n).missing;
    // B00005QDPX: no category, no brand, a price range; B00000J1V5: empty price.
    assert_eq!((missing("category"), missing("brand"), missing("price")), (2, 2, 4));
    assert_eq!(field(&st, "category").distinct, 2);
    assert_eq!(field(&st, "price").numeric.map(|(min, _, _)| min), Some(12.99));
    s.source.on_bad_row = BadRowPolicy::Error;
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("Books.json, line 7") && e.contains("bad JSON"), "{e}");
}

#[test]
fn amazon_2023_keys_items_by_parent_asin_and_reads_millisecond_timestamps() {
    let mut s = with_metadata("amazon-2023", "meta_All_Beauty.jsonl");
    s.source.on_bad_row = BadRowPolicy::Skip;
    let st = compute(&s, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.users, st.items, st.skipped_rows), (7, 5, Some(3), Some(4), 1));
    let missing = |n: &str| field(&st, n).missing;
    assert_eq!((missing("category"), missing("brand"), missing("price")), (3, 1, 5));
    s.source.on_bad_row = BadRowPolicy::Error;
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("All_Beauty.jsonl, line 4, column 'user_id'") && e.contains("no reviewerID or user_id"), "{e}");
    let mut src = recdiff_data::source::open(&s, &["timestamp".into()]).unwrap();
    let mut first = String::new();
    src.for_each_batch(
        &mut |b| {
            if let recdiff_data::source::Cell::Text(t) = b.cell(0, 0) {
                first = t.to_string();
            }
            Ok(())
        },
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!(first, "1588687728", "milliseconds become seconds");
}

#[test]
fn kuairand_joins_user_and_video_tables_and_names_a_text_click() {
    let mut s = preset("kuairand-pure");
    let dir = s.source.path.clone();
    s.source.path = dir.join("log_standard_4_08_to_4_21_pure.csv");
    s.source.join[0].path = dir.join("user_features_pure.csv");
    s.source.join[1].path = dir.join("video_features_basic_pure.csv");
    let mut skip = s.clone();
    skip.source.on_bad_row = BadRowPolicy::Skip;
    let st = compute(&skip, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.users, st.items, st.skipped_rows), (18, 6, Some(4), Some(5), 1));
    let missing = |n: &str| field(&st, n).missing;
    // Video 5510 is not in the video table (3 rows); 4105 has no duration (4), 1029 no tag (3).
    assert_eq!((missing("author_id"), missing("video_duration"), missing("tag")), (3, 7, 6));
    assert_eq!((missing("user_active_degree"), missing("follow_user_num_range")), (0, 0));
    assert_eq!((field(&st, "tag").distinct, field(&st, "user_active_degree").distinct), (5, 4));
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("pure.csv, line 14, column 'is_click'") && e.contains("\"yes\""), "{e}");
}

#[test]
fn kuairec_labels_by_watch_ratio_and_names_a_missing_one() {
    let mut s = preset("kuairec");
    let dir = s.source.path.clone();
    s.source.path = dir.join("big_matrix.csv");
    s.source.join[0].path = dir.join("user_features.csv");
    let mut skip = s.clone();
    skip.source.on_bad_row = BadRowPolicy::Skip;
    let st = compute(&skip, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.users, st.items, st.skipped_rows), (14, 6, Some(3), Some(4), 1));
    assert_eq!(field(&st, "fans_user_num_range").missing, 0);
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("big_matrix.csv, line 7, column 'watch_ratio'") && e.contains("the label is missing"), "{e}");
}

#[test]
fn a_join_table_with_a_duplicate_key_names_its_line() {
    let mut s = preset("kuairec");
    let dir = tempfile::tempdir().unwrap();
    let fixture = s.source.path.clone();
    let text = std::fs::read_to_string(fixture.join("user_features.csv")).unwrap();
    let dup = format!("{text}{}\n", text.lines().nth(1).unwrap());
    std::fs::write(dir.path().join("users.csv"), dup).unwrap();
    s.source.path = fixture.join("big_matrix.csv");
    s.source.join[0].path = dir.path().join("users.csv");
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("users.csv, line 5") && e.contains("'user_id' value \"14\" appears twice"), "{e}");
}

#[test]
fn movielens_25m_joins_quoted_movie_titles_and_reads_years_from_them() {
    let mut s = preset("movielens-25m");
    let dir = s.source.path.clone();
    s.source.path = dir.join("ratings.csv");
    s.source.join[0].path = dir.join("movies.csv");
    let mut skip = s.clone();
    skip.source.on_bad_row = BadRowPolicy::Skip;
    let st = compute(&skip, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.users, st.items, st.skipped_rows), (11, 6, Some(4), Some(5), 1));
    let (year, genres) = (field(&st, "year"), field(&st, "genres"));
    // Years 1995, 1994, 2018; "(2006–2007)" is no year. "(no genres listed)" is missing.
    assert_eq!((year.distinct, year.missing, genres.missing, genres.distinct), (3, 2, 2, 10));
    let e = compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("ratings.csv, line 10, column 'rating'") && e.contains("\"five\""), "{e}");
}

#[test]
fn every_synth_stand_in_reads_back_through_its_preset_without_a_bad_row() {
    use recdiff_data::synth::SynthConfig;
    use recdiff_data::synth::like::{Like, generate_like};
    let config = SynthConfig { rows: 3000, users: 300, items: 120, ..SynthConfig::default() };
    for (like, name, main, meta) in [
        (Like::Criteo, "criteo", "train.txt", None),
        (Like::Avazu, "avazu", "train.csv", None),
        (Like::Movielens1m, "movielens-1m", "", None),
        (Like::Amazon, "amazon-2018", "Books.json", Some("meta_Books.json")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let written = generate_like(like, &config, dir.path()).unwrap();
        let mut s = Schema::load(&root().join(format!("configs/datasets/{name}.toml"))).unwrap();
        s.source.path = dir.path().join(main);
        s.source.metadata = meta.map(|m| dir.path().join(m));
        let st = compute(&s, 0).unwrap();
        assert_eq!((st.rows, st.positives, st.skipped_rows), (3000, written.positives, 0), "{name}");
        assert!(st.positives > 300 && st.positives < 2700, "{name}: {}", st.positives);
        if let Some(users) = st.users {
            assert!(users > 100 && users <= 300, "{name}: {users} users");
        }
    }
}
