//! Smoke version of the request-parser fuzz target: any body, valid JSON of the wrong shape or
//! mutated valid requests, parses to a request or an error, never a panic.

use proptest::prelude::*;
use recdiff_serve::request::{BatchRequest, ScoreRequest};

const VALID: &str = r#"{"user": {"user_id": "u1", "age": 30}, "context": {"hour": 21},
 "candidates": [{"item_id": 204, "tags": ["1", "2"]}, {"item_id": null}], "explain": true}"#;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("(user|context|candidates|rows|explain|\\PC{0,6})", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_request_parser_never_panics(
        raw in prop::collection::vec(any::<u8>(), 0..300),
        value in json_value(),
        edits in prop::collection::vec((0usize..4096, any::<u8>()), 0..6),
    ) {
        let mut mutated = VALID.as_bytes().to_vec();
        for (at, b) in edits {
            let n = mutated.len();
            mutated[at % n] = b;
        }
        for body in [raw, value.to_string().into_bytes(), mutated] {
            let _ = serde_json::from_slice::<ScoreRequest>(&body);
            let _ = serde_json::from_slice::<BatchRequest>(&body);
        }
    }
}
