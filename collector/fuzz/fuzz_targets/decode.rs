//! Fuzz target: `wmbus::decode` must never panic; accepted telegrams must serialise.
//! Run with `cargo fuzz run decode` from collector/ (the first byte picks the key).
#![no_main]

use ewoda_collector::wmbus::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else { return };
    let key: Option<[u8; 16]> = match selector % 3 {
        0 => None,
        1 => Some([0; 16]),
        _ => Some(*b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F\x11"),
    };
    if let Ok(t) = decode(frame, &key) {
        let line = t.to_json_line();
        assert!(line.starts_with("{\"id\":"));
    }
});
