//! The wM-Bus encoder against the OMS Annex N example telegrams, with CRCs and AES checked by
//! code written here from the standards' definitions.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use ewoda_sim::mbus;
use ewoda_sim::wmbus::{
    crc16_en13757, Address, ConfigFlags, Ell, FrameFormat, Manufacturer, MeterNumber, Security,
    Telegram, Transport,
};
use serde_json::Value;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wmbus/oms_annexN_vectors.jsonl"
));

fn vector(name_part: &str) -> Value {
    VECTORS
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["name"].as_str().unwrap().contains(name_part))
        .unwrap_or_else(|| panic!("no vector {name_part}"))
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn key(v: &Value) -> [u8; 16] {
    hex(v["key_hex"].as_str().unwrap()).try_into().unwrap()
}

fn addr(m: &str, id: &str, version: u8, device_type: u8) -> Address {
    Address {
        manufacturer: Manufacturer::new(m).unwrap(),
        id: MeterNumber::new(id).unwrap(),
        version,
        device_type,
    }
}

/// CRC from the definition: the message times x^16, divided by the generator
/// x^16+x^13+x^12+x^11+x^10+x^8+x^6+x^5+x^2+1, remainder complemented.
fn crc_by_division(data: &[u8]) -> u16 {
    const GEN: u32 = 0x1_3D65;
    let mut bits: Vec<u8> = data
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    bits.extend_from_slice(&[0; 16]);
    let mut rem: u32 = 0;
    for bit in bits {
        rem = (rem << 1) | u32::from(bit);
        if rem & 0x1_0000 != 0 {
            rem ^= GEN;
        }
    }
    !(rem as u16)
}

/// Removes format A CRCs, checking each against the definition.
fn strip_format_a(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = frame;
    let mut first = true;
    while !rest.is_empty() {
        let n = if first { 10 } else { 16.min(rest.len() - 2) };
        let (block, tail) = rest.split_at(n);
        let (crc, tail) = tail.split_at(2);
        assert_eq!(
            u16::from_be_bytes([crc[0], crc[1]]),
            crc_by_division(block),
            "block CRC at offset {}",
            frame.len() - rest.len()
        );
        out.extend_from_slice(block);
        rest = tail;
        first = false;
    }
    out
}

fn els_mode5() -> (Telegram, Value) {
    let v = vector("Security profile A (mode 5)");
    let t = Telegram {
        c_field: 0x44,
        link: addr("ELS", "12345678", 0x33, 0x03),
        ell: None,
        transport: Transport::Short,
        access_number: 0x2A,
        status: 0x00,
        flags: ConfigFlags {
            synchronous: true,
            ..Default::default()
        },
        security: Security::Mode5 { key: key(&v) },
        records: hex("0C1427048502046D32371F1502FD170000"),
        clear_tail: vec![],
    };
    (t, v)
}

#[test]
fn crc_matches_definition_and_check_value() {
    assert_eq!(crc16_en13757(b"123456789"), crc_by_division(b"123456789"));
    for len in 0..40u8 {
        let data: Vec<u8> = (0..len)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        assert_eq!(crc16_en13757(&data), crc_by_division(&data), "len {len}");
    }
}

#[test]
fn oms_mode5_telegram_byte_for_byte() {
    let (t, v) = els_mode5();
    let frame = t.encode(FrameFormat::NoCrc).unwrap();
    assert_eq!(
        hex::encode_upper(&frame),
        v["telegram_hex"].as_str().unwrap()
    );
}

#[test]
fn oms_mode5_format_a_crcs_are_right() {
    let (t, _) = els_mode5();
    let a = t.encode(FrameFormat::A).unwrap();
    let plain = t.encode(FrameFormat::NoCrc).unwrap();
    // 47 bytes: 10 + 16 + 16 + 5, each followed by 2 CRC bytes.
    assert_eq!(a.len(), plain.len() + 2 * 4);
    assert_eq!(strip_format_a(&a), plain);
}

#[test]
fn format_b_crcs_cover_blocks_one_and_two() {
    let (t, _) = els_mode5();
    let plain = t.encode(FrameFormat::NoCrc).unwrap();
    let b = t.encode(FrameFormat::B).unwrap();
    assert_eq!(b.len(), plain.len() + 2);
    assert_eq!(
        usize::from(b[0]),
        b.len() - 1,
        "L counts CRC bytes in format B"
    );
    let (body, crc) = b.split_at(b.len() - 2);
    assert_eq!(u16::from_be_bytes([crc[0], crc[1]]), crc_by_division(body));
    assert_eq!(&body[1..], &plain[1..]);
}

#[test]
fn format_b_long_frame_has_a_third_block() {
    let (mut t, _) = els_mode5();
    t.security = Security::None;
    t.records = (0..140u8).collect();
    let plain = t.encode(FrameFormat::NoCrc).unwrap();
    let b = t.encode(FrameFormat::B).unwrap();
    assert_eq!(b.len(), plain.len() + 4);
    assert_eq!(usize::from(b[0]), b.len() - 1);
    // Block 1 + block 2 = L + 125 bytes, then CRC; block 3 = the rest, then CRC.
    let (b12, rest) = b.split_at(126);
    assert_eq!(u16::from_be_bytes([rest[0], rest[1]]), crc_by_division(b12));
    let b3 = &rest[2..rest.len() - 2];
    let c3 = &rest[rest.len() - 2..];
    assert_eq!(u16::from_be_bytes([c3[0], c3[1]]), crc_by_division(b3));
}

#[test]
fn mode5_round_trips_with_the_cbc_crate() {
    let (t, v) = els_mode5();
    let frame = t.encode(FrameFormat::NoCrc).unwrap();
    // IV = M-field ‖ A-field ‖ access number × 8, built here from the frame bytes.
    let mut iv = [0x2Au8; 16];
    iv[..8].copy_from_slice(&frame[2..10]);
    let mut buf = frame[15..].to_vec();
    let plain = cbc::Decryptor::<aes::Aes128>::new(&key(&v).into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .unwrap()
        .to_vec();
    assert_eq!(
        hex::encode_upper(plain),
        v["expected"]["plaintext_after_decrypt"].as_str().unwrap()
    );
    // The configuration word says mode 5, two encrypted blocks.
    assert_eq!(u16::from_le_bytes([frame[13], frame[14]]) & 0x1FF0, 0x0520);
}

#[test]
fn oms_wired_unencrypted_long_frame_byte_for_byte() {
    let v = vector("no encryption");
    let t = Telegram {
        c_field: 0x44,
        link: addr("ELS", "12345678", 0x33, 0x03),
        ell: None,
        transport: Transport::Long(addr("ELS", "12345678", 0x33, 0x03)),
        access_number: 0x2A,
        status: 0x00,
        flags: ConfigFlags::default(),
        security: Security::None,
        records: hex("0C1427048502046D32371F1502FD170000"),
        clear_tail: vec![],
    };
    let frame = mbus::long_frame(0x08, 0xFD, &t.apdu().unwrap()).unwrap();
    assert_eq!(
        hex::encode_upper(frame),
        v["telegram_hex"].as_str().unwrap()
    );
}

#[test]
fn oms_partial_encryption_with_ell_byte_for_byte() {
    let v = vector("partial encryption");
    let t = Telegram {
        c_field: 0x44,
        link: addr("QDS", "11223344", 0x55, 0x37),
        ell: Some(Ell {
            cc: 0x00,
            acc: 0x75,
        }),
        transport: Transport::Long(addr("QDS", "55667788", 0x55, 0x08)),
        access_number: 0x00,
        status: 0x04,
        flags: ConfigFlags::default(),
        security: Security::Mode5 { key: key(&v) },
        records: hex("0B6E341200426CFE044B6E563402"),
        clear_tail: hex("0CFD1078563412"),
    };
    assert_eq!(
        hex::encode_upper(t.encode(FrameFormat::NoCrc).unwrap()),
        v["telegram_hex"].as_str().unwrap()
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn format_a_is_the_plain_frame_plus_right_crcs(
            records in proptest::collection::vec(any::<u8>(), 0..200),
            acc in any::<u8>(),
        ) {
            let (mut t, _) = els_mode5();
            t.security = Security::None;
            t.records = records;
            t.access_number = acc;
            let plain = t.encode(FrameFormat::NoCrc).unwrap();
            let a = t.encode(FrameFormat::A).unwrap();
            prop_assert_eq!(strip_format_a(&a), plain);
        }

        #[test]
        fn mode5_always_decrypts_to_marker_records_and_fill(
            records in proptest::collection::vec(any::<u8>(), 0..100),
            key in any::<[u8; 16]>(),
            acc in any::<u8>(),
        ) {
            let (mut t, _) = els_mode5();
            t.security = Security::Mode5 { key };
            t.records = records.clone();
            t.access_number = acc;
            let frame = t.encode(FrameFormat::NoCrc).unwrap();
            let mut iv = [acc; 16];
            iv[..8].copy_from_slice(&frame[2..10]);
            let mut buf = frame[15..].to_vec();
            let p = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into())
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .unwrap()
                .to_vec();
            prop_assert_eq!(&p[..2], &[0x2F, 0x2F]);
            prop_assert_eq!(&p[2..2 + records.len()], &records[..]);
            prop_assert!(p[2 + records.len()..].iter().all(|&b| b == 0x2F));
            prop_assert_eq!(usize::from((frame[13] >> 4) & 0x0F), p.len() / 16);
        }
    }
}
