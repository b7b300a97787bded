//! Property tests: no input makes the decoder panic, and what it accepts serialises to JSON.

use ewoda_collector::wmbus::{crc16, decode, parse_key};
use proptest::prelude::*;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wmbus/vectors.jsonl"
));

fn corpus() -> Vec<(Vec<u8>, Option<[u8; 16]>)> {
    VECTORS
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let frame = hex::decode(v["telegram_hex"].as_str().expect("hex")).expect("hex");
            (frame, v["key_hex"].as_str().and_then(parse_key))
        })
        .collect()
}

fn check(frame: &[u8], key: &Option<[u8; 16]>) {
    if let Ok(t) = decode(frame, key) {
        let line: serde_json::Value = serde_json::from_str(&t.to_json_line()).expect("valid JSON");
        assert_eq!(line["id"].as_str(), Some(t.id.as_str()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes, &None);
        check(&bytes, &Some([0; 16]));
    }

    #[test]
    fn arbitrary_bytes_with_consistent_length_never_panic(
        body in proptest::collection::vec(any::<u8>(), 10..255),
        ci in prop_oneof![Just(0x72u8), Just(0x7A), Just(0x78), Just(0x8C), Just(0x8D), Just(0x90), Just(0xA0), Just(0xA2), Just(0x79)],
    ) {
        let mut f = body.clone();
        f[0] = (f.len() - 1) as u8;
        let last = f.len() - 1;
        f[10.min(last)] = ci;
        check(&f, &None);
        check(&f, &Some([0x11; 16]));
    }

    #[test]
    fn mutated_vectors_never_panic(
        which in 0usize..117,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
        reframe in any::<bool>(),
    ) {
        let corpus = corpus();
        let (frame, key) = &corpus[which];
        let mut f = frame.clone();
        for (at, b) in &edits {
            let i = at % f.len();
            f[i] = *b;
        }
        check(&f, key);
        let n = cut % (f.len() + 1);
        check(&f[..n], key);
        if reframe && !f.is_empty() {
            // Keep the L-field consistent so the mutation reaches the upper layers.
            f[0] = (f.len() - 1) as u8;
            check(&f, key);
            let crc = crc16(&f);
            let mut b = f.clone();
            b[0] = b[0].wrapping_add(2);
            b.extend_from_slice(&crc.to_be_bytes());
            check(&b, key);
        }
    }
}
