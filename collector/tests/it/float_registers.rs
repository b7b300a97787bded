//! Meters that send their volume as an IEEE-754 real (DIF data field 0x05): the reading is
//! stored at the meter's own digits, rounded to the millilitre, instead of being refused as a
//! dead letter for its number format — over radio and over wired M-Bus, and `ewoda decode`
//! keeps its line shape.

use chrono::{DateTime, TimeZone, Utc};
use ewoda_collector::mbus_master;
use ewoda_collector::pipeline::{Item, MeterRef};
use ewoda_collector::radio::{self, RadioSerialConfig, TelegramMapper};
use ewoda_collector::wmbus::{self, NoKeys};

fn t() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 2, 6, 0, 0).unwrap()
}

/// The two-byte FLAG code of a three-letter manufacturer.
fn flag(m: &str) -> [u8; 2] {
    let b = m.as_bytes();
    let code = (u16::from(b[0] - 64) << 10) | (u16::from(b[1] - 64) << 5) | u16::from(b[2] - 64);
    code.to_le_bytes()
}

/// Records: a real volume in `vif`'s unit and a real flow.
fn real_records(vif: u8, volume: f32) -> Vec<u8> {
    let mut r = vec![0x05, vif];
    r.extend(volume.to_le_bytes());
    r.extend([0x05, 0x3B]);
    r.extend(0.012f32.to_le_bytes());
    r
}

/// A CRC-stripped, unencrypted wM-Bus frame (short TPL header 0x7A) of water meter 12345678.
pub(crate) fn wmbus_frame(records: &[u8]) -> Vec<u8> {
    let mut f = vec![0x00, 0x44];
    f.extend(flag("ZRI"));
    f.extend([0x78, 0x56, 0x34, 0x12, 0x01, 0x07]);
    f.extend([0x7A, 0x21, 0x00, 0x00, 0x00]);
    f.extend(records);
    f[0] = (f.len() - 1) as u8;
    f
}

/// A wired M-Bus RSP_UD long frame (CI 0x72) of meter 87654321 at primary address 5.
fn rsp_ud(records: &[u8]) -> Vec<u8> {
    let mut body = vec![0x08, 0x05, 0x72, 0x21, 0x43, 0x65, 0x87];
    body.extend(flag("ZRI"));
    body.extend([0x01, 0x07, 0x10, 0x00, 0x00, 0x00]);
    body.extend(records);
    let sum = body.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    let l = body.len() as u8;
    let mut f = vec![0x68, l, l, 0x68];
    f.extend(body);
    f.extend([sum, 0x16]);
    f
}

#[test]
fn a_radio_meter_with_a_real_register_gives_a_reading() {
    let mapper = TelegramMapper::from_config(&RadioSerialConfig::new("pty")).unwrap();
    // 28504.27 m³ as an f32 is 28504.26953125 exactly: not a whole number of millilitres,
    // the meter meant 28504.27.
    let frame = wmbus_frame(&real_records(0x16, 28504.27));
    let r = radio::frame_to_reading(&mapper, &NoKeys, &frame, t()).unwrap();
    assert_eq!(
        r.meter,
        MeterRef::Radio {
            manufacturer: "ZRI".into(),
            id: "12345678".into()
        }
    );
    assert_eq!(r.volume.ml(), 28_504_270_000);
    // In litres (VIF 0x13): 1234567.8 l is 1234567.75 as an f32.
    let frame = wmbus_frame(&real_records(0x13, 1_234_567.8));
    let r = radio::frame_to_reading(&mapper, &NoKeys, &frame, t()).unwrap();
    assert_eq!(r.volume.ml(), 1_234_567_800);
    // A register that is not a number at all is still refused, with its reason.
    let frame = wmbus_frame(&real_records(0x13, f32::NAN));
    let e = radio::frame_to_reading(&mapper, &NoKeys, &frame, t()).unwrap_err();
    assert_eq!(e.class, "no_volume");
}

#[test]
fn a_wired_meter_with_a_real_register_gives_a_reading() {
    let frame = rsp_ud(&real_records(0x16, 123.456));
    let item = mbus_master::frame_to_item(&frame, &NoKeys, t());
    let Item::Reading(r) = item else {
        panic!("{item:?}")
    };
    assert_eq!(r.volume.ml(), 123_456_000);
    let frame = rsp_ud(&real_records(0x13, -5.0));
    let Item::DeadLetter(d) = mbus_master::frame_to_item(&frame, &NoKeys, t()) else {
        panic!("a negative register must not give a reading")
    };
    assert_eq!(d.class, "malformed");
    assert!(d.reason.contains("negative"), "{}", d.reason);
}

#[test]
fn decode_prints_the_meters_digits_in_the_usual_shape() {
    let frame = wmbus_frame(&real_records(0x16, 28504.27));
    let line = wmbus::decode(&frame, &NoKeys).unwrap().to_json_line();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["id"], "12345678");
    assert_eq!(v["total_m3"], serde_json::json!(28504.27));
    assert_eq!(v["records"][0]["value"], "28504.27");
    assert_eq!(v["records"][0]["quantity"], "volume");
    assert!(v["error"].is_null());
    // The SPEC §5 fields, in its order, and nothing else.
    assert!(line.starts_with(r#"{"id":"12345678","manufacturer":"ZRI","version":1,"device_type":"water","total_m3":28504.27,"records":["#), "{line}");
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alarms",
            "device_type",
            "error",
            "id",
            "manufacturer",
            "records",
            "total_m3",
            "version"
        ]
    );
}
