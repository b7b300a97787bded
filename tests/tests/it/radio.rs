//! The radio path across the two independent implementations: the simulator's meters encrypt
//! telegrams (OMS mode 5) and its emulated iM871A dongle frames them onto a real pty; the
//! collector's iM871A codec and wM-Bus decoder read them back. Every value must equal the
//! simulator's ground truth, and every injected status must come out as the right alarm.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ewoda_collector::im871a::{Event, Im871aDecoder};
use ewoda_collector::wmbus::status_map::WATER_FLAGS;
use ewoda_collector::wmbus::{self, Alarm};
use ewoda_sim::im871a::{DeviceInfo, Dongle, RxOptions};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::{Fault, FaultKind, Fleet};
use rust_decimal::Decimal;
use std::collections::HashMap;
use tokio::io::AsyncReadExt;
use tokio_serial::SerialStream;

fn keys_of(fleet: &Fleet, at: DateTime<Utc>) -> HashMap<String, [u8; 16]> {
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

/// Reads from the collector's end of the pty until `n` telegrams have been decoded.
async fn receive(host: &mut SerialStream, n: usize) -> Vec<Vec<u8>> {
    let mut codec = Im871aDecoder::default();
    let mut frames = Vec::new();
    let mut buf = [0u8; 512];
    while frames.len() < n {
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), host.read(&mut buf))
            .await
            .expect("telegrams arrive in time")
            .expect("pty read");
        for event in codec.push(&buf[..got]) {
            match event {
                Event::Frame(f) => frames.push(f.frame),
                Event::Dropped(e) => panic!("the collector dropped a dongle frame: {e}"),
                Event::Message { .. } => {}
            }
        }
    }
    frames
}

#[tokio::test]
async fn every_simulated_telegram_decodes_to_the_ground_truth() {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut fleet = Fleet::generate(7, 120);
    let at = start + Duration::days(40) + Duration::minutes(17);
    fleet
        .inject(
            3,
            Fault::new(
                FaultKind::Leak {
                    litres_per_hour: 20,
                },
                at - Duration::days(2),
            ),
        )
        .unwrap();
    fleet
        .inject(
            4,
            Fault::new(
                FaultKind::Backflow { litres_per_hour: 5 },
                at - Duration::hours(5),
            ),
        )
        .unwrap();
    fleet
        .inject(5, Fault::new(FaultKind::LowBattery, at - Duration::days(1)))
        .unwrap();
    fleet
        .inject(
            6,
            Fault::new(
                FaultKind::Burst {
                    litres_per_hour: 900,
                },
                at - Duration::hours(3),
            ),
        )
        .unwrap();
    fleet
        .inject(
            7,
            Fault::new(FaultKind::MagneticTamper, at - Duration::days(3)),
        )
        .unwrap();
    fleet
        .inject(8, Fault::new(FaultKind::DryPipe, at - Duration::days(1)))
        .unwrap();
    let keys = keys_of(&fleet, at);

    let (sim_end, mut host) = SerialStream::pair().expect("pty pair");
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let opts = RxOptions {
        timestamp: true,
        rssi: true,
        crc: true,
        include_l_field: false,
    };
    for i in 0..fleet.len() {
        let frame = fleet.telegram(i, at, FrameFormat::NoCrc).unwrap();
        dongle
            .send_frame(&frame, opts, at.timestamp() as u32, 0x40)
            .await
            .unwrap();
    }
    let frames = receive(&mut host, fleet.len()).await;
    dongle.close().await.unwrap();

    let expected_alarm = |i: usize| match i {
        3 => Some(Alarm::Leak),
        4 => Some(Alarm::Backflow),
        5 => Some(Alarm::BatteryLow),
        6 => Some(Alarm::Burst),
        7 => Some(Alarm::Tamper),
        8 => Some(Alarm::Dry),
        _ => None,
    };
    for (i, frame) in frames.iter().enumerate() {
        let mut t = wmbus::decode(frame, &keys).unwrap_or_else(|e| panic!("meter {i}: {e}"));
        WATER_FLAGS.apply(&mut t);
        let g = fleet.generation_at(i, at).unwrap();
        assert_eq!(t.id, g.address.id.as_str(), "meter {i} id");
        assert_eq!(t.manufacturer, g.address.manufacturer.to_string());
        // Registers are sent in whole litres.
        let truth_l = fleet.register_at(i, at).unwrap().ml() / 1000;
        assert_eq!(
            t.total_m3,
            Some(Decimal::new(truth_l, 3)),
            "meter {i} volume"
        );
        match expected_alarm(i) {
            Some(a) => assert!(
                t.alarms.contains(&a),
                "meter {i}: expected {a:?} in {:?}",
                t.alarms
            ),
            None => assert!(
                t.alarms.is_empty(),
                "meter {i}: unexpected alarms {:?}",
                t.alarms
            ),
        }
    }
}

#[tokio::test]
async fn a_wrong_key_is_an_error_not_a_value() {
    let fleet = Fleet::generate(9, 30);
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let frame = fleet.telegram(2, at, FrameFormat::A).unwrap();
    let g = fleet.generation_at(2, at).unwrap();
    let mut wrong = g.key;
    wrong[0] ^= 0xFF;
    let keys: HashMap<String, [u8; 16]> = [(
        format!("{}:{}", g.address.manufacturer, g.address.id.as_str()),
        wrong,
    )]
    .into();
    let err = wmbus::decode(&frame, &keys).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("key"), "{err}");
    // Format A (with link CRCs) decodes with the right key.
    let right: HashMap<String, [u8; 16]> = [(
        format!("{}:{}", g.address.manufacturer, g.address.id.as_str()),
        g.key,
    )]
    .into();
    let t = wmbus::decode(&frame, &right).unwrap();
    assert_eq!(
        t.total_m3,
        Some(Decimal::new(
            fleet.register_at(2, at).unwrap().ml() / 1000,
            3
        ))
    );
}
