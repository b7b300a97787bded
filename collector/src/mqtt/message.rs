//! The telemetry schema of docs/mqtt-telemetry.md: one message (topic + JSON payload) becomes
//! a reading, an alarm event or a dead letter that names what is wrong. Values are plain
//! decimal strings and times RFC 3339 with an offset, checked here with messages that say so.

use crate::alarms::AlarmKind;
use crate::pipeline::{AlarmEvent, DeadLetter, Item, MeterReading, MeterRef, StatusFlag};
use crate::store::Source;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ewoda_common::Volume;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingMsg {
    serial: String,
    read_at: String,
    volume_m3: String,
    #[serde(default)]
    flow_m3h: Option<String>,
    #[serde(default)]
    status: BTreeMap<AlarmKind, bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmMsg {
    serial: String,
    kind: AlarmKind,
    active: bool,
    at: String,
    #[serde(default)]
    details: serde_json::Value,
}

fn json<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    // The plain parser first; the path-tracking one (same outcome, slower) names what failed.
    if let Ok(v) = T::deserialize(&mut serde_json::Deserializer::from_slice(payload)) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path == "?" {
            format!("invalid JSON: {}", e.inner())
        } else {
            format!("invalid JSON at {path}: {}", e.inner())
        }
    })
}

/// A plain decimal: optional `-`, digits, optionally `.` and digits. Exponents (`1e1`),
/// `+`, `_` separators and bare points, which `Decimal`'s parser would take, are refused: the
/// schema promises register values exactly as printed.
fn decimal(field: &str, s: &str) -> Result<Decimal, String> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let plain = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !plain(int) || !plain(frac) {
        return Err(format!(
            "{field} {s:?} is not a plain decimal number (digits with an optional '.', e.g. \"123.456\")"
        ));
    }
    s.parse::<Decimal>()
        .map_err(|_| format!("{field} {s:?} has too many digits"))
}

/// An RFC 3339 date-time with its UTC offset; a local time or a bare date is refused with a
/// message that names the missing part (a reading's instant must not depend on where the
/// collector runs).
fn instant(field: &str, s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .any(|f| NaiveDateTime::parse_from_str(s, f).is_ok());
    if local {
        return Err(format!(
            "{field} {s:?} has no UTC offset: add Z or e.g. +02:00 (RFC 3339)"
        ));
    }
    if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        return Err(format!(
            "{field} {s:?} is a date without time and UTC offset, e.g. \"{s}T10:15:00+02:00\" (RFC 3339)"
        ));
    }
    Err(format!(
        "{field} {s:?} is not an RFC 3339 date-time such as \"2026-05-04T10:15:00+02:00\""
    ))
}

/// Turns one MQTT message into a pipeline item; anything unusable becomes a dead letter
/// naming the reason.
pub fn parse_message(topic: &str, payload: &[u8]) -> Item {
    match parse_inner(topic, payload) {
        Ok(item) => item,
        Err((class, reason)) => Item::DeadLetter(DeadLetter {
            source: Source::Mqtt,
            payload: payload.to_vec(),
            class,
            reason: format!("topic {topic}: {reason}"),
        }),
    }
}

fn parse_inner(topic: &str, payload: &[u8]) -> Result<Item, (&'static str, String)> {
    let parts: Vec<&str> = topic.split('/').collect();
    let [.., meters, serial, kind] = parts.as_slice() else {
        return Err((
            "bad_topic",
            "expected …/meters/<serial>/reading|alarm".into(),
        ));
    };
    if *meters != "meters" || serial.is_empty() {
        return Err((
            "bad_topic",
            "expected …/meters/<serial>/reading|alarm".into(),
        ));
    }
    let mismatch = |p: &str| {
        (
            "malformed",
            format!("payload serial {p:?} differs from the topic's {serial:?}"),
        )
    };
    match *kind {
        "reading" => {
            let m: ReadingMsg = json(payload).map_err(|e| ("malformed", e))?;
            if m.serial != *serial {
                return Err(mismatch(&m.serial));
            }
            let read_at = instant("read_at", &m.read_at).map_err(|e| ("malformed", e))?;
            let v = decimal("volume_m3", &m.volume_m3).map_err(|e| ("malformed", e))?;
            if v.is_sign_negative() {
                return Err((
                    "malformed",
                    format!("volume_m3 {:?} is negative", m.volume_m3),
                ));
            }
            let volume = Volume::from_m3(v).ok_or_else(|| {
                (
                    "malformed",
                    format!(
                        "volume_m3 {:?} has more than 6 decimals or is too large",
                        m.volume_m3
                    ),
                )
            })?;
            if let Some(f) = &m.flow_m3h {
                decimal("flow_m3h", f).map_err(|e| ("malformed", e))?;
            }
            Ok(Item::Reading(MeterReading {
                meter: MeterRef::Serial(m.serial),
                read_at,
                volume,
                status: m
                    .status
                    .into_iter()
                    .map(|(kind, active)| StatusFlag { kind, active })
                    .collect(),
                source: Source::Mqtt,
            }))
        }
        "alarm" => {
            let m: AlarmMsg = json(payload).map_err(|e| ("malformed", e))?;
            if m.serial != *serial {
                return Err(mismatch(&m.serial));
            }
            let details = match m.details {
                serde_json::Value::Null => serde_json::json!({}),
                d @ serde_json::Value::Object(_) => d,
                other => serde_json::json!({ "details": other }),
            };
            Ok(Item::Alarm(AlarmEvent {
                meter: MeterRef::Serial(m.serial),
                kind: m.kind,
                active: m.active,
                at: instant("at", &m.at).map_err(|e| ("malformed", e))?,
                details,
                source: Source::Mqtt,
            }))
        }
        other => Err((
            "bad_topic",
            format!("unknown message type {other:?} (reading or alarm)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_readings_and_alarms() {
        let item = parse_message(
            "ewoda/v1/meters/0012345/reading",
            br#"{"serial":"0012345","read_at":"2026-05-04T10:15:00+02:00","volume_m3":"123.456","flow_m3h":"0.012","status":{"leak":true,"battery_low":false}}"#,
        );
        let Item::Reading(r) = item else {
            panic!("{item:?}")
        };
        assert_eq!(r.meter, MeterRef::Serial("0012345".into()));
        assert_eq!(r.read_at.to_rfc3339(), "2026-05-04T08:15:00+00:00");
        assert_eq!(r.volume.ml(), 123_456_000);
        assert_eq!(
            r.status,
            vec![
                StatusFlag {
                    kind: AlarmKind::Leak,
                    active: true
                },
                StatusFlag {
                    kind: AlarmKind::BatteryLow,
                    active: false
                }
            ]
        );
        let item = parse_message(
            "x/meters/7/alarm",
            br#"{"serial":"7","kind":"burst","active":false,"at":"2026-05-04T10:15:00Z","details":{"flow_m3h":"9.1"}}"#,
        );
        let Item::Alarm(a) = item else {
            panic!("{item:?}")
        };
        assert_eq!((a.kind, a.active), (AlarmKind::Burst, false));
    }

    #[test]
    fn bad_messages_become_dead_letters_with_reasons() {
        let cases: [(&str, &[u8], &str, &str); 11] = [
            ("ewoda/v1/meters/1/reading", b"{not json", "malformed", "topic ewoda/v1/meters/1/reading: invalid JSON: key must be a string at line 1 column 2"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04T10:15:00Z","volume_m3":1.5}"#, "malformed", "topic ewoda/v1/meters/1/reading: invalid JSON at volume_m3: invalid type: floating point `1.5`, expected a string at line 1 column 62"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"2","read_at":"2026-05-04T10:15:00Z","volume_m3":"1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: payload serial \"2\" differs from the topic's \"1\""),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04T10:15:00Z","volume_m3":"1,5"}"#, "malformed", "topic ewoda/v1/meters/1/reading: volume_m3 \"1,5\" is not a plain decimal number (digits with an optional '.', e.g. \"123.456\")"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04","volume_m3":"1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: read_at \"2026-05-04\" is a date without time and UTC offset, e.g. \"2026-05-04T10:15:00+02:00\" (RFC 3339)"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04T10:15:00","volume_m3":"1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: read_at \"2026-05-04T10:15:00\" has no UTC offset: add Z or e.g. +02:00 (RFC 3339)"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"04.05.2026","volume_m3":"1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: read_at \"04.05.2026\" is not an RFC 3339 date-time such as \"2026-05-04T10:15:00+02:00\""),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04T10:15:00Z","volume_m3":"1e1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: volume_m3 \"1e1\" is not a plain decimal number (digits with an optional '.', e.g. \"123.456\")"),
            ("ewoda/v1/meters/1/alarm", br#"{"serial":"1","kind":"leak","active":true,"at":"2026-05-04 10:15:00"}"#, "malformed", "topic ewoda/v1/meters/1/alarm: at \"2026-05-04 10:15:00\" has no UTC offset: add Z or e.g. +02:00 (RFC 3339)"),
            ("ewoda/v1/meters/1/alarm", br#"{"serial":"1","kind":"fire","active":true,"at":"2026-05-04T10:15:00Z"}"#, "malformed", ""),
            ("ewoda/v1/other", b"{}", "bad_topic", "topic ewoda/v1/other: expected …/meters/<serial>/reading|alarm"),
        ];
        for (topic, payload, class, reason) in cases {
            let Item::DeadLetter(d) = parse_message(topic, payload) else {
                panic!("{topic}")
            };
            assert_eq!(d.class, class, "{reason}");
            if !reason.is_empty() {
                assert_eq!(d.reason, reason);
            }
            assert_eq!(d.payload, payload);
        }
    }

    #[test]
    fn only_plain_decimals_are_values() {
        for ok in ["0", "123.456", "-0.5", "1234567.123456"] {
            assert!(decimal("v", ok).is_ok(), "{ok}");
        }
        for bad in [
            "1e1", "1E-3", "+1", "1_000", ".5", "5.", "", "-", "1.2.3", " 1", "0x10", "NaN",
        ] {
            let e = decimal("v", bad).unwrap_err();
            assert!(e.contains("plain decimal"), "{bad}: {e}");
        }
        let item = parse_message(
            "ewoda/v1/meters/1/reading",
            br#"{"serial":"1","read_at":"2026-05-04T10:15:00Z","volume_m3":"1","flow_m3h":"1e-2"}"#,
        );
        assert!(matches!(item, Item::DeadLetter(d) if d.reason.contains("flow_m3h \"1e-2\"")));
    }

    proptest::proptest! {
        #[test]
        fn any_message_parses_or_dead_letters(topic in "[a-z/+0-9]{0,30}", payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_message(&topic, &payload);
        }
    }
}
