//! The server's request parser: any body parses to a request or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use recdiff_serve::request::{BatchRequest, ScoreRequest};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<ScoreRequest>(data);
    let _ = serde_json::from_slice::<BatchRequest>(data);
});
