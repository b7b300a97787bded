//! The radio source's pure path against the simulator: frames of a fleet with injected faults
//! → readings with exact volumes, the status profile's alarm flags and trusted meter clocks;
//! decode failures as dead-letter classes; the start-up requests as the sim dongle parses them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ewoda_collector::alarms::AlarmKind;
use ewoda_collector::pipeline::{MeterRef, StatusFlag};
use ewoda_collector::radio::{self, RadioSerialConfig, TelegramMapper};
use ewoda_collector::store::Source;
use ewoda_sim::im871a::{HciMessage, Parsed, EP_DEVMGMT, MSG_GET_DEVICEINFO_REQ, MSG_PING_REQ};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::{Fault, FaultKind, Fleet};
use std::collections::HashMap;

fn keys(fleet: &Fleet, at: DateTime<Utc>) -> HashMap<String, [u8; 16]> {
    (0..fleet.len())
        .map(|i| {
            let g = fleet.generation_at(i, at).unwrap();
            (
                format!("{}:{}", g.address.manufacturer, g.address.id.as_str()),
                g.key,
            )
        })
        .collect()
}

fn flags(active: &[AlarmKind]) -> Vec<StatusFlag> {
    [
        AlarmKind::BatteryLow,
        AlarmKind::Leak,
        AlarmKind::Backflow,
        AlarmKind::Burst,
        AlarmKind::Tamper,
        AlarmKind::Dry,
    ]
    .into_iter()
    .map(|kind| StatusFlag {
        kind,
        active: active.contains(&kind),
    })
    .collect()
}

#[test]
fn telegrams_become_exact_readings_with_alarm_flags() {
    let at = Utc.with_ymd_and_hms(2026, 2, 10, 8, 30, 0).unwrap();
    let mut fleet = Fleet::generate(3, 12);
    let injected = [
        (
            1,
            FaultKind::Leak {
                litres_per_hour: 30,
            },
            AlarmKind::Leak,
        ),
        (
            2,
            FaultKind::Burst {
                litres_per_hour: 800,
            },
            AlarmKind::Burst,
        ),
        (
            3,
            FaultKind::Backflow { litres_per_hour: 4 },
            AlarmKind::Backflow,
        ),
        (4, FaultKind::MagneticTamper, AlarmKind::Tamper),
        (5, FaultKind::DryPipe, AlarmKind::Dry),
        (6, FaultKind::LowBattery, AlarmKind::BatteryLow),
    ];
    for (i, kind, _) in injected {
        fleet
            .inject(i, Fault::new(kind, at - Duration::hours(3)))
            .unwrap();
    }
    let keys = keys(&fleet, at);
    let mapper = TelegramMapper::from_config(&RadioSerialConfig::new("x")).unwrap();
    let received = at + Duration::seconds(20);
    for i in 0..fleet.len() {
        let frame = fleet.telegram(i, at, FrameFormat::NoCrc).unwrap();
        let r = radio::frame_to_reading(&mapper, &keys, &frame, received).unwrap();
        let g = fleet.generation_at(i, at).unwrap();
        assert_eq!(
            r.meter,
            MeterRef::Radio {
                manufacturer: g.address.manufacturer.to_string(),
                id: g.address.id.as_str().to_ascii_uppercase()
            }
        );
        assert_eq!(
            r.volume.ml(),
            fleet.register_at(i, at).unwrap().ml() / 1000 * 1000
        );
        assert_eq!(r.source, Source::Wmbus);
        // The meter clock (local time, minutes) agrees with the reception: it is used.
        assert_eq!(r.read_at, at, "meter {i}");
        let active: Vec<AlarmKind> = injected
            .iter()
            .filter(|(m, _, _)| *m == i)
            .map(|(_, _, k)| *k)
            .collect();
        assert_eq!(r.status, flags(&active), "meter {i}");
    }
}

#[test]
fn a_far_off_meter_clock_is_not_trusted_and_handheld_is_the_source() {
    let at = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    let fleet = Fleet::generate(4, 3);
    let mut cfg = RadioSerialConfig::new("x");
    cfg.handheld = true;
    let mapper = TelegramMapper::from_config(&cfg).unwrap();
    let frame = fleet.telegram(0, at, FrameFormat::A).unwrap();
    let later = at + Duration::hours(2);
    let r = radio::frame_to_reading(&mapper, &keys(&fleet, at), &frame, later).unwrap();
    assert_eq!(r.read_at, later);
    assert_eq!(r.source, Source::Handheld);
    cfg.meter_clock_tolerance_secs = 0;
    let never = TelegramMapper::from_config(&cfg).unwrap();
    let soon = at + Duration::seconds(5);
    let r = radio::frame_to_reading(&never, &keys(&fleet, at), &frame, soon).unwrap();
    assert_eq!(r.read_at, soon);
}

#[test]
fn decode_failures_have_classes_and_the_decoders_reason() {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let fleet = Fleet::generate(5, 2);
    let mapper = TelegramMapper::from_config(&RadioSerialConfig::new("x")).unwrap();
    let frame = fleet.telegram(1, at, FrameFormat::NoCrc).unwrap();
    let none: HashMap<String, [u8; 16]> = HashMap::new();
    let e = radio::frame_to_reading(&mapper, &none, &frame, at).unwrap_err();
    assert_eq!(e.class, "unknown_meter");
    assert!(e.reason.contains("no key is known"), "{}", e.reason);
    // The first encrypted byte (after the 15-byte short header): the 2F2F check fails. (A
    // flip in a later CBC block cannot be noticed once the radio CRCs are stripped; the
    // dongle checks those.)
    let mut bad = frame.clone();
    bad[15] ^= 0x80;
    let e = radio::frame_to_reading(&mapper, &keys(&fleet, at), &bad, at).unwrap_err();
    assert_eq!(e.class, "wrong_key");
    let e = radio::frame_to_reading(&mapper, &none, &frame[..5], at).unwrap_err();
    assert_eq!(e.class, "undecodable");
}

#[test]
fn unknown_profiles_are_refused_by_name() {
    let mut cfg = RadioSerialConfig::new("x");
    cfg.status_profile = "apator-xx".into();
    let e = TelegramMapper::from_config(&cfg).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config status_profile: unknown profile \"apator-xx\" (known: water-flags, none)"
    );
    cfg.status_profile = "none".into();
    let m = TelegramMapper::from_config(&cfg).unwrap();
    assert!(m.profile.is_none());
}

#[test]
fn startup_requests_are_ping_and_device_info_the_sim_understands() {
    let bytes = radio::startup_requests();
    let Parsed::Message(ping, used) = HciMessage::parse(&bytes) else {
        panic!("ping not parsed")
    };
    assert_eq!(
        (ping.endpoint, ping.msg_id, ping.crc),
        (EP_DEVMGMT, MSG_PING_REQ, true)
    );
    let Parsed::Message(info, used2) = HciMessage::parse(&bytes[used..]) else {
        panic!("device info not parsed")
    };
    assert_eq!(
        (info.endpoint, info.msg_id),
        (EP_DEVMGMT, MSG_GET_DEVICEINFO_REQ)
    );
    assert_eq!(used + used2, bytes.len());
}
