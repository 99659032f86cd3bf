//! Smoke versions of the fuzz targets for the schema parser and the CSV row reader: arbitrary or
//! mutated input gets `Ok` or an error, never a panic.

use proptest::prelude::*;
use recdiff_data::{Schema, stats};

const SCHEMA: &str = r#"
name = "t"
[source]
format = "csv"
path = "data.csv"
[label]
column = "click"
[[fields]]
name = "user"
kind = "categorical"
[[fields]]
name = "price"
kind = "numeric"
transform = "bucketize"
buckets = 4
[[fields]]
name = "tags"
kind = "multi_hot"
separator = ";"
"#;

/// `text` with the bytes at `edits` replaced (positions taken modulo its length).
fn mutate(text: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, b) in edits {
        let n = bytes.len();
        bytes[at % n] = b;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_schema_parser_never_panics(text in "\\PC{0,400}", edits in prop::collection::vec((0usize..4096, any::<u8>()), 0..8)) {
        let _ = Schema::parse(&text);
        let mutated = String::from_utf8_lossy(&mutate(SCHEMA, &edits)).into_owned();
        let _ = Schema::parse(&mutated);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_csv_reader_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..600),
        edits in prop::collection::vec((0usize..4096, any::<u8>()), 0..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema.toml");
        std::fs::write(&path, SCHEMA).unwrap();
        let schema = Schema::load(&path).unwrap();
        let valid = "click,user,price,tags\n1,u1,3.5,a;b\n0,u2,,c\n1,\"u,3\",2,\n0,u4,1e3,a\n";
        for csv in [body, mutate(valid, &edits)] {
            std::fs::write(dir.path().join("data.csv"), csv).unwrap();
            let _ = stats::compute(&schema, 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The smoke version of the `codec` fuzz target: any statistics give a checked codec or an
    /// error, and a checked codec scales any finite value, however large, to a finite f32.
    #[test]
    fn a_checked_scale_codec_gives_a_finite_value_for_any_finite_input(
        mean in prop::num::f64::ANY,
        std in prop::num::f64::ANY,
        v in prop::num::f64::NORMAL | prop::num::f64::ZERO,
        t in 0usize..4,
    ) {
        use recdiff_data::codec::Codec;
        use recdiff_data::schema::NumericTransform;
        let transform =
            [NumericTransform::None, NumericTransform::Standard, NumericTransform::Log, NumericTransform::LogStandard][t];
        let codec = Codec::Scale { transform, mean, std };
        if codec.check().is_ok() {
            prop_assert!(codec.scale(v).is_finite(), "{codec:?} scaled {v}");
        }
        let _ = recdiff_data::codec::log_squared_id(v);
    }
}
