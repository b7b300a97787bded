//! Fuzz target: the iM871A and hex-line stream decoders must never panic on any chunking.
#![no_main]

use ewoda_collector::im871a::{HexLineDecoder, Im871aDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let chunk = usize::from(chunk.max(1));
    let mut hci = Im871aDecoder::new();
    let mut lines = HexLineDecoder::new();
    for c in bytes.chunks(chunk) {
        let _ = hci.push(c);
        let _ = lines.push(c);
    }
});
