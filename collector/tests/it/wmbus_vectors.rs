//! Table tests over every shared wM-Bus vector (../shared/testdata/wmbus): id, total volume
//! and status/alarms as the reference decoder read them (every vector decodes; two carry a
//! warning for a check the reference does not make).

use ewoda_collector::wmbus::{
    crc16, decode, decode_hex, hex_to_bytes, parse_key, Alarm, DecodeError, LinkFormat, Quantity,
    Telegram, Value, Warning,
};
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::str::FromStr;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wmbus/vectors.jsonl"
));
const ANNEX_N: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wmbus/oms_annexN_vectors.jsonl"
));

fn vectors() -> Vec<serde_json::Value> {
    VECTORS
        .lines()
        .map(|l| serde_json::from_str(l).expect("vector JSON"))
        .collect()
}

fn annex_n() -> Vec<serde_json::Value> {
    ANNEX_N
        .lines()
        .map(|l| serde_json::from_str(l).expect("vector JSON"))
        .collect()
}

fn key_of(v: &serde_json::Value) -> Option<[u8; 16]> {
    v["key_hex"].as_str().and_then(parse_key)
}

fn bytes_of(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v["telegram_hex"].as_str().expect("telegram_hex")).expect("hex")
}

/// Vectors whose telegram fails a check the reference decoder does not make; they decode with
/// the values the reference reads and carry this warning.
fn expected_warning(index: usize) -> Option<Warning> {
    match index {
        // The compact frame's data CRC (0x8054) is that of the same meter's full frame in
        // vector 60, whose flow is 0; this frame's flow bytes say 0.035 m³/h.
        61 => Some(Warning::CompactDataCrc {
            expected: 0x8054,
            computed: 0x335D,
        }),
        // L-field 0x47 announces 72 bytes; 76 arrived (the last block's CRC was left on), and
        // the L-field's frame ends in the middle of the date-time record.
        114 => Some(Warning::LengthField {
            declared: 72,
            received: 76,
            decoded: 76,
        }),
        _ => None,
    }
}

fn decimal(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(&v.to_string()).expect("decimal")
}

/// Our alarms for a reference status string. `P_*` tokens are the meter's error-flag bits;
/// their count must equal the number of bits set in our `ErrorFlags`.
fn expected_alarms(status: &str) -> (BTreeSet<Alarm>, usize) {
    let mut set = BTreeSet::new();
    let mut p_flags = 0;
    for token in status.split_whitespace() {
        match token {
            "OK" => {}
            "DRY" => drop(set.insert(Alarm::Dry)),
            "TAMPER" => drop(set.insert(Alarm::Tamper)),
            "POWER_LOW" => drop(set.insert(Alarm::BatteryLow)),
            "LEAKAGE_OR_NO_USAGE" => drop(set.insert(Alarm::Leak)),
            "PERMANENT_ERROR" => drop(set.insert(Alarm::PermanentError)),
            "TEMPORARY_ERROR" => drop(set.insert(Alarm::TemporaryError)),
            "ERROR" => drop(set.insert(Alarm::ApplicationError)),
            "METER_BLOCKED" => drop(set.insert(Alarm::MeterBlocked)),
            "UNDERFLOW" => drop(set.insert(Alarm::Underflow)),
            "PREV_LEAKAGE" => drop(set.insert(Alarm::LeakPrevious)),
            t if t.starts_with("ERROR_FLAGS_") => {
                let v = u32::from_str_radix(&t[12..], 16).expect("hex flags");
                set.insert(Alarm::ErrorFlags(v));
            }
            t if t.starts_with("STATUS_") => {
                let v = u32::from_str_radix(&t[7..], 16).expect("hex status");
                set.insert(Alarm::ManufacturerStatus(v));
            }
            t if t.starts_with("UNKNOWN_") => {
                let v = u32::from_str_radix(&t[8..], 16).expect("hex status");
                set.insert(Alarm::ManufacturerStatus(v));
            }
            t if t.starts_with("P_") => p_flags += 1,
            other => panic!("status token {other} has no mapping"),
        }
    }
    (set, p_flags)
}

fn check_alarms(index: usize, t: &Telegram, status: &str) {
    let (mut want, p_flags) = expected_alarms(status);
    let got: BTreeSet<Alarm> = t.alarms.iter().copied().collect();
    if p_flags > 0 {
        let flags = got.iter().find_map(|a| match a {
            Alarm::ErrorFlags(f) => Some(*f),
            _ => None,
        });
        let flags = flags.unwrap_or_else(|| panic!("vector {index}: no error flags for P_ tokens"));
        assert_eq!(
            flags.count_ones() as usize,
            p_flags,
            "vector {index}: P_ flag count"
        );
        want.insert(Alarm::ErrorFlags(flags));
    }
    assert_eq!(got, want, "vector {index}: alarms for status {status:?}");
}

#[test]
fn all_117_vectors() {
    let vs = vectors();
    assert_eq!(vs.len(), 117);
    let mut decoded = 0;
    for (i, v) in vs.iter().enumerate() {
        let e = &v["expected"];
        let result = decode(&bytes_of(v), &key_of(v));
        let t = result.unwrap_or_else(|err| panic!("vector {i} ({}): {err}", v["driver"]));
        decoded += 1;
        assert_eq!(
            t.warnings,
            expected_warning(i).into_iter().collect::<Vec<_>>(),
            "vector {i} warnings"
        );
        assert_eq!(
            t.id,
            e["id"].as_str().expect("id").to_lowercase(),
            "vector {i} id"
        );
        match e.get("total_m3") {
            Some(total) => assert_eq!(t.total_m3, Some(decimal(total)), "vector {i} total"),
            None => assert_eq!(t.total_m3, None, "vector {i} has no total in the reference"),
        }
        if let Some(status) = e.get("status").and_then(|s| s.as_str()) {
            check_alarms(i, &t, status);
        }
        // current_status is the reference driver's own field; where the vector has no
        // `status`, it must agree with our alarms too. Exception: vector 99 (Apator Ultrimis)
        // sends TPL status 0x03 (EN 13757-3: "abnormal condition"), which its reference
        // driver does not report.
        if let Some(cs) = e.get("current_status").and_then(|s| s.as_str()) {
            if e.get("status").is_none() && i != 99 {
                check_alarms(i, &t, cs);
            }
        }
        // The JSON line must be valid JSON with the same id and total.
        let line: serde_json::Value = serde_json::from_str(&t.to_json_line()).expect("json line");
        assert_eq!(line["id"], t.id.as_str());
        assert!(line["error"].is_null());
        assert_eq!(line.get("warnings").is_some(), !t.warnings.is_empty());
    }
    assert_eq!(decoded, 117);
}

#[test]
fn des_mode_2_needs_the_right_key() {
    let v = &vectors()[0];
    let t = decode(&bytes_of(v), &key_of(v)).expect("DES vector");
    assert_eq!(t.security_mode, 2);
    assert_eq!(t.total_m3, Some(Decimal::ONE));
    let wrong = parse_key("0807060504030201");
    assert!(matches!(
        decode(&bytes_of(v), &wrong),
        Err(DecodeError::WrongKey {
            check: "2F2F marker",
            ..
        })
    ));
}

#[test]
fn ultrimis_abnormal_status_is_reported() {
    let t = decode(&bytes_of(&vectors()[99]), &None).expect("decode");
    assert_eq!(t.status, 0x03);
    assert_eq!(t.alarms, vec![Alarm::Abnormal]);
}

#[test]
fn annex_n_vectors() {
    let vs = annex_n();
    assert_eq!(vs.len(), 4);
    for (i, v) in vs.iter().enumerate() {
        let e = &v["expected"];
        let t = decode(&bytes_of(v), &key_of(v)).unwrap_or_else(|err| panic!("annex N {i}: {err}"));
        assert_eq!(
            t.manufacturer,
            e["manufacturer"].as_str().expect("manufacturer")
        );
        if let Some(total) = e.get("total_m3") {
            assert_eq!(t.total_m3, Some(decimal(total)), "annex N {i}");
            assert_eq!(t.id, e["id"].as_str().expect("id"));
            assert_eq!(
                u64::from(t.device_type),
                e["device_type"].as_u64().expect("type")
            );
        }
    }
    // Mode 5: the datetime and error flags records.
    let t = decode(&bytes_of(&vs[0]), &key_of(&vs[0])).expect("mode 5");
    assert_eq!(t.security_mode, 5);
    assert_eq!(t.access_number, 0x2A);
    assert_eq!(t.records.len(), 3);
    assert_eq!(
        t.records[1].value,
        Value::DateTime {
            year: 2008,
            month: 5,
            day: 31,
            hour: 23,
            minute: 50,
            second: None
        }
    );
    assert_eq!(t.records[2].quantity, Quantity::ErrorFlags);
    assert_eq!(t.records[2].value, Value::Number(Decimal::ZERO));
    // The wired frame carries the same records as the decrypted radio one.
    let wired = decode(&bytes_of(&vs[1]), &None).expect("wired");
    assert_eq!(wired.link, LinkFormat::WiredLong);
    assert_eq!(wired.records, t.records);
    // Mode 7 with ELL + AFL.
    let t = decode(&bytes_of(&vs[2]), &key_of(&vs[2])).expect("mode 7");
    assert_eq!(t.security_mode, 7);
    assert_eq!(t.records, wired.records);
    // Partial encryption: TPL id is the meter, the DLL id the radio; HCA records.
    let t = decode(&bytes_of(&vs[3]), &key_of(&vs[3])).expect("partial");
    assert_eq!(t.id, "55667788");
    assert_eq!(t.radio_id.as_deref(), Some("11223344"));
    let hca: Vec<(u64, Value)> = t
        .records
        .iter()
        .filter(|r| r.quantity == Quantity::HcaUnits)
        .map(|r| (r.storage, r.value))
        .collect();
    assert_eq!(
        hca,
        vec![
            (0, Value::Number(Decimal::from(1234))),
            (1, Value::Number(Decimal::from(23456)))
        ]
    );
    let location = t
        .records
        .iter()
        .find(|r| r.quantity == Quantity::Identifier)
        .expect("FD10");
    match location.value {
        Value::Bytes { data, len } => {
            assert_eq!(&data[..usize::from(len)], &[0x78, 0x56, 0x34, 0x12])
        }
        other => panic!("customer location {other:?}"),
    }
}

#[test]
fn wrong_key_is_a_typed_error() {
    let bad = Some([0x55u8; 16]);
    let vs = annex_n();
    let mode5 = decode(&bytes_of(&vs[0]), &bad).expect_err("mode 5 wrong key");
    assert!(
        matches!(
            mode5,
            DecodeError::WrongKey {
                check: "2F2F marker",
                offset: 15,
                ..
            }
        ),
        "{mode5:?}"
    );
    let mode7 = decode(&bytes_of(&vs[2]), &bad).expect_err("mode 7 wrong key");
    assert!(
        matches!(
            mode7,
            DecodeError::WrongKey {
                check: "AFL MAC",
                ..
            }
        ),
        "{mode7:?}"
    );
    let all = vectors();
    let ell = decode(&bytes_of(&all[116]), &bad).expect_err("ELL wrong key");
    assert!(
        matches!(
            ell,
            DecodeError::WrongKey {
                check: "ELL payload CRC",
                ..
            }
        ),
        "{ell:?}"
    );
    let na1 = decode(&bytes_of(&all[23]), &bad).expect_err("NA-1 wrong key");
    assert!(matches!(na1, DecodeError::WrongKey { .. }), "{na1:?}");
    let none = decode(&bytes_of(&vs[0]), &None).expect_err("no key");
    assert!(
        matches!(none, DecodeError::MissingKey { mode: 5, .. }),
        "{none:?}"
    );
}

#[test]
fn truncated_and_corrupt_frames_are_typed_errors() {
    let vs = annex_n();
    let frame = bytes_of(&vs[0]);
    for cut in [0, 1, 5, 10, 11, 20, frame.len() - 1] {
        let err = decode(&frame[..cut], &key_of(&vs[0])).expect_err("truncated");
        assert!(
            matches!(
                err,
                DecodeError::Truncated { .. } | DecodeError::LengthMismatch { .. }
            ),
            "cut {cut}: {err:?}"
        );
    }
    let mut wired = bytes_of(&vs[1]);
    let n = wired.len();
    wired[n - 2] ^= 0xFF;
    assert!(matches!(
        decode(&wired, &None),
        Err(DecodeError::Checksum { .. })
    ));
    // The L-field of a radio frame says more than arrived.
    let mut short = frame.clone();
    short.truncate(frame.len() - 3);
    assert!(matches!(
        decode(&short, &None),
        Err(DecodeError::Truncated {
            what: "frame announced by L-field",
            ..
        })
    ));
    assert!(matches!(
        decode_hex("2E44ZZ", &None),
        Err(DecodeError::InvalidHex { position: 4 })
    ));
    assert!(matches!(
        decode_hex("2E4", &None),
        Err(DecodeError::InvalidHex { .. })
    ));
}

/// Adds EN 13757-4 format A CRC blocks to a CRC-less frame.
fn with_format_a(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < plain.len() {
        let n = if pos == 0 {
            10
        } else {
            (plain.len() - pos).min(16)
        };
        out.extend_from_slice(&plain[pos..pos + n]);
        out.extend_from_slice(&crc16(&plain[pos..pos + n]).to_be_bytes());
        pos += n;
    }
    out
}

/// Re-frames a CRC-less frame as format B (L counts the CRCs).
fn with_format_b(plain: &[u8]) -> Vec<u8> {
    let mut f = plain.to_vec();
    if f.len() + 2 <= 128 {
        f[0] += 2;
        let c = crc16(&f);
        f.extend_from_slice(&c.to_be_bytes());
        f
    } else {
        f[0] = f[0].wrapping_add(4);
        let mut out = f[..126].to_vec();
        out.extend_from_slice(&crc16(&f[..126]).to_be_bytes());
        out.extend_from_slice(&f[126..]);
        out.extend_from_slice(&crc16(&f[126..]).to_be_bytes());
        out
    }
}

#[test]
fn link_crcs_present_or_stripped_decode_alike() {
    let mut checked = 0;
    for (i, v) in vectors().iter().enumerate() {
        let plain = bytes_of(v);
        if plain[0] == 0x68 || usize::from(plain[0]) + 1 != plain.len() || plain.len() > 250 {
            continue;
        }
        let key = key_of(v);
        let base = decode(&plain, &key);
        let a = decode(&with_format_a(&plain), &key);
        let b = decode(&with_format_b(&plain), &key);
        match (&base, &a, &b) {
            (Ok(x), Ok(y), Ok(z)) => {
                assert_eq!(
                    (x.total_m3, &x.records, &x.id),
                    (y.total_m3, &y.records, &y.id),
                    "A {i}"
                );
                assert_eq!(
                    (x.total_m3, &x.records, &x.id),
                    (z.total_m3, &z.records, &z.id),
                    "B {i}"
                );
                assert_eq!(y.link, LinkFormat::WirelessFormatA);
                assert_eq!(z.link, LinkFormat::WirelessFormatB);
            }
            (Err(x), Err(y), Err(_)) => assert_eq!(x, y, "vector {i}"),
            other => panic!("vector {i}: {other:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 110, "{checked}");
}

#[test]
fn format_a_crc_error_names_the_block() {
    let v = &annex_n()[0];
    let mut framed = with_format_a(&bytes_of(v));
    framed[20] ^= 0x01;
    assert_eq!(
        decode(&framed, &key_of(v)),
        Err(DecodeError::Crc {
            block: 1,
            offset: 12
        })
    );
}

#[test]
fn pre_decrypted_payload_is_accepted_without_key() {
    // Vector 3 says mode 5 in its header but carries plaintext (2F2F), as receivers deliver.
    let t = decode(&bytes_of(&vectors()[3]), &None).expect("decode");
    assert_eq!(t.security_mode, 5);
    assert_eq!(t.total_m3, Some(Decimal::new(3843, 3)));
}

#[test]
fn hex_helper_rejects_overlong_input() {
    let mut buf = [0u8; 2];
    assert!(hex_to_bytes("000000", &mut buf).is_err());
    assert_eq!(hex_to_bytes("0aFF", &mut buf), Ok(&[0x0A, 0xFF][..]));
}

#[test]
fn bmt_rfmtx1_volume_is_deobfuscated_and_checked() {
    let vs = vectors();
    let frame = bytes_of(&vs[95]);
    let t = decode(&frame, &None).expect("RFM-TX1");
    assert_eq!(t.security_mode, 16);
    assert_eq!(t.total_m3, Some(Decimal::from_str("188.56").expect("dec")));
    assert_eq!(
        t.records[0].value,
        Value::DateTime {
            year: 2020,
            month: 3,
            day: 31,
            hour: 10,
            minute: 4,
            second: Some(59)
        }
    );
    // A corrupted volume byte no longer gives decimal digits: a typed error, not a value.
    let mut bad = frame.clone();
    bad[17] ^= 0x80;
    let err = decode(&bad, &None).expect_err("corrupt volume");
    assert!(
        matches!(
            err,
            DecodeError::UnsupportedPayload {
                reason: "RFM-TX1 volume is not BCD",
                offset: 17,
                ..
            }
        ),
        "{err:?}"
    );
    // Mode 16 from any other manufacturer stays unsupported.
    let mut other = frame.clone();
    other[2] = 0x01;
    assert!(matches!(
        decode(&other, &None),
        Err(DecodeError::UnsupportedSecurity { mode: 16, .. })
    ));
}

#[test]
fn techem_mkradio3a_register_and_date() {
    let vs = vectors();
    let frame = bytes_of(&vs[72]);
    let t = decode(&frame, &None).expect("MK Radio 3a");
    assert_eq!(t.total_m3, Some(Decimal::from_str("948.8").expect("dec")));
    assert_eq!(
        t.records[0].value,
        Value::Date {
            year: 2024,
            month: 11,
            day: 28
        }
    );
    let mut short = frame[..frame.len() - 1].to_vec();
    short[0] -= 1;
    assert!(matches!(
        decode(&short, &None),
        Err(DecodeError::Truncated {
            what: "MK Radio 3a payload",
            ..
        })
    ));
}

/// Recomputes the ELL (CI 0x8D at offset 10) payload CRC after a test edited the payload.
fn reseal_ell(frame: &mut [u8]) {
    assert_eq!(frame[10], 0x8D);
    let crc = crc16(&frame[19..]);
    frame[17..19].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn compact_frame_needs_a_known_signature() {
    let vs = vectors();
    // Vector 62 with its signature bytes changed names a format nobody defined.
    let mut frame = bytes_of(&vs[62]);
    let at = 20;
    assert_eq!(frame[at - 1], 0x79);
    frame[at] ^= 0x01;
    reseal_ell(&mut frame);
    let err = decode(&frame, &None).expect_err("unknown format");
    assert!(
        matches!(err, DecodeError::UnknownFormat { offset, .. } if offset == at),
        "{err:?}"
    );
    // The right signature with data that does not fill the format is an error too.
    let full = bytes_of(&vs[62]);
    let mut short = full[..full.len() - 2].to_vec();
    short[0] -= 2;
    reseal_ell(&mut short);
    let err = decode(&short, &None).expect_err("short compact data");
    assert!(matches!(err, DecodeError::Truncated { .. }), "{err:?}");
}

#[test]
fn bytes_beyond_the_l_field() {
    let vs = annex_n();
    let key = key_of(&vs[0]);
    let frame = bytes_of(&vs[0]);
    let plain = decode(&frame, &key).expect("annex N");
    // A receiver appended RSSI and LQI: the L-field's frame decodes, with a warning.
    let mut trailer = frame.clone();
    trailer.extend_from_slice(&[0xC4, 0x80]);
    let t = decode(&trailer, &key).expect("trailer");
    assert_eq!(t.total_m3, plain.total_m3);
    assert_eq!(
        t.warnings,
        vec![Warning::LengthField {
            declared: frame.len(),
            received: frame.len() + 2,
            decoded: frame.len()
        }]
    );
    // An L-field too small by 3 cuts the encrypted payload: only the bytes received decode.
    let mut low = frame.clone();
    low[0] -= 3;
    let t = decode(&low, &key).expect("low L-field");
    assert_eq!(t.total_m3, plain.total_m3);
    assert_eq!(
        t.warnings,
        vec![Warning::LengthField {
            declared: frame.len() - 3,
            received: frame.len(),
            decoded: frame.len()
        }]
    );
    // Extra bytes that make neither reading decode: the length mismatch is the error.
    let mut garbage = frame.clone();
    garbage[0] -= 16;
    garbage.extend_from_slice(&[0xFF; 3]);
    assert_eq!(
        decode(&garbage, &key).expect_err("garbage"),
        DecodeError::LengthMismatch {
            declared: frame.len() - 16,
            actual: frame.len() + 3
        }
    );
}
