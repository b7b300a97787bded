//! iM871A HCI framing and raw hex lines: table tests and chunking/garbage properties.

use ewoda_collector::im871a::{
    crc16_x25, encode, Event, FrameError, HexLineDecoder, Im871aDecoder, LineError, RxFrame,
    ENDPOINT_RADIOLINK, MSG_WMBUS_RX_IND,
};
use ewoda_collector::wmbus::decode;
use proptest::prelude::*;

/// Annex N mode 5 telegram; the dongle sends it from the C-field on.
const TELEGRAM: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";

fn telegram() -> Vec<u8> {
    hex::decode(TELEGRAM).expect("hex")
}

fn rx(telegram: &[u8], ts: Option<u32>, rssi: Option<u8>, crc: bool) -> Vec<u8> {
    encode(
        ENDPOINT_RADIOLINK,
        MSG_WMBUS_RX_IND,
        &telegram[1..],
        ts,
        rssi,
        crc,
    )
}

#[test]
fn crc_x25_check_value() {
    assert_eq!(crc16_x25(b"123456789"), 0x906E);
}

#[test]
fn table_of_frames() {
    let t = telegram();
    let cases: Vec<(Vec<u8>, Vec<Event>)> = vec![
        (
            rx(&t, None, None, false),
            vec![Event::Frame(RxFrame {
                frame: t.clone(),
                rssi: None,
                timestamp: None,
            })],
        ),
        (
            rx(&t, Some(0x0102_0304), Some(0xB0), true),
            vec![Event::Frame(RxFrame {
                frame: t.clone(),
                rssi: Some(0xB0),
                timestamp: Some(0x0102_0304),
            })],
        ),
        (
            // Device management ping response.
            encode(0x01, 0x02, &[], None, None, true),
            vec![Event::Message {
                endpoint: 1,
                msg_id: 2,
                payload: vec![],
            }],
        ),
        (
            [vec![0x00, 0x13, 0x37], rx(&t, None, Some(0x40), true)].concat(),
            vec![
                Event::Dropped(FrameError::Garbage(3)),
                Event::Frame(RxFrame {
                    frame: t.clone(),
                    rssi: Some(0x40),
                    timestamp: None,
                }),
            ],
        ),
    ];
    for (i, (bytes, want)) in cases.into_iter().enumerate() {
        let mut d = Im871aDecoder::new();
        assert_eq!(d.push(&bytes), want, "case {i}");
    }
}

#[test]
fn received_frame_decodes() {
    let mut d = Im871aDecoder::new();
    let events = d.push(&rx(&telegram(), None, Some(0x50), true));
    let Event::Frame(f) = &events[0] else {
        panic!("{events:?}")
    };
    let key: Option<[u8; 16]> =
        Some(*b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F\x11");
    let t = decode(&f.frame, &key).expect("decode");
    assert_eq!(t.id, "12345678");
}

#[test]
fn bad_crc_is_reported_and_the_next_frame_still_arrives() {
    let t = telegram();
    let mut bad = rx(&t, None, None, true);
    let n = bad.len();
    bad[n - 5] ^= 0x01;
    let good = rx(&t, None, None, true);
    let mut d = Im871aDecoder::new();
    let events = d.push(&[bad.clone(), good].concat());
    assert!(matches!(
        events[0],
        Event::Dropped(FrameError::BadCrc {
            endpoint: 2,
            msg_id: 3,
            ..
        })
    ));
    assert_eq!(
        events.last(),
        Some(&Event::Frame(RxFrame {
            frame: t,
            rssi: None,
            timestamp: None
        }))
    );
    // Everything between the bad start byte and the good frame is reported, nothing is lost.
    assert!(events[1..events.len() - 1]
        .iter()
        .all(|e| matches!(e, Event::Dropped(_))));
}

#[test]
fn partial_frames_wait_for_more_bytes() {
    let bytes = rx(&telegram(), Some(7), Some(1), true);
    let mut d = Im871aDecoder::new();
    assert_eq!(d.push(&bytes[..1]), vec![]);
    assert_eq!(d.push(&bytes[1..10]), vec![]);
    let events = d.push(&bytes[10..]);
    assert_eq!(events.len(), 1);
}

#[test]
fn unknown_endpoint_is_dropped() {
    let mut d = Im871aDecoder::new();
    let events = d.push(&[0xA5, 0x0F, 0x01, 0x00]);
    assert_eq!(events[0], Event::Dropped(FrameError::BadEndpoint(0x0F)));
}

#[test]
fn hex_lines() {
    let mut d = HexLineDecoder::new();
    let input = format!("{TELEGRAM}\r\n\n  0x0a0b  \nzz\n123\n");
    let out = d.push(input.as_bytes());
    assert_eq!(
        out,
        vec![
            Ok(telegram()),
            Ok(vec![0x0A, 0x0B]),
            Err(LineError::NotHex {
                line: 4,
                reason: "non-hex character"
            }),
            Err(LineError::NotHex {
                line: 5,
                reason: "odd number of digits"
            }),
        ]
    );
    let long = "0".repeat(5000);
    let out = d.push(format!("{long}\n{TELEGRAM}\n").as_bytes());
    assert_eq!(
        out,
        vec![
            Err(LineError::TooLong { line: 6, max: 1200 }),
            Ok(telegram())
        ]
    );
}

#[test]
fn hex_lines_split_anywhere() {
    let input = format!("{TELEGRAM}\n{TELEGRAM}\n");
    for split in 0..input.len() {
        let mut d = HexLineDecoder::new();
        let mut out = d.push(&input.as_bytes()[..split]);
        out.extend(d.push(&input.as_bytes()[split..]));
        assert_eq!(out, vec![Ok(telegram()), Ok(telegram())], "split {split}");
    }
}

fn frames_of(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(f) => Some(f.frame.clone()),
            _ => None,
        })
        .collect()
}

proptest! {
    #[test]
    fn any_chunking_yields_the_same_frames(
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        n in 1usize..4,
    ) {
        let t = telegram();
        let stream: Vec<u8> = (0..n).flat_map(|i| rx(&t, Some(i as u32), Some(0x33), i % 2 == 0)).collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        let mut d = Im871aDecoder::new();
        let mut events = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain([stream.len()]) {
            events.extend(d.push(&stream[last..p]));
            last = p;
        }
        prop_assert_eq!(frames_of(&events), vec![t; n]);
    }

    #[test]
    fn frames_survive_garbage_without_start_bytes(
        garbage in proptest::collection::vec(any::<u8>().prop_filter("no SOF", |b| *b != 0xA5), 0..300),
        chunk in 1usize..64,
    ) {
        let t = telegram();
        let good = rx(&t, None, None, true);
        let stream = [garbage.clone(), good.clone(), garbage.clone(), good].concat();
        let mut d = Im871aDecoder::new();
        let mut events = Vec::new();
        for c in stream.chunks(chunk) {
            events.extend(d.push(c));
        }
        prop_assert_eq!(frames_of(&events), vec![t.clone(), t]);
        let dropped: usize = events
            .iter()
            .map(|e| match e {
                Event::Dropped(FrameError::Garbage(n)) => *n,
                _ => 0,
            })
            .sum();
        prop_assert_eq!(dropped, 2 * garbage.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..3000),
        chunk in 1usize..100,
    ) {
        let mut d = Im871aDecoder::new();
        for c in bytes.chunks(chunk) {
            for e in d.push(c) {
                if let Event::Frame(f) = e {
                    prop_assert!(!f.frame.is_empty());
                }
            }
        }
    }

    #[test]
    fn hex_line_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut d = HexLineDecoder::new();
        let _ = d.push(&bytes);
    }
}
