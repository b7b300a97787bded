//! The runner as another process sees it: the printed pty paths open like serial ports and
//! carry the devices, `duration` ends the run, and the truth file is written.

use chrono::{Duration, TimeZone, Utc};
use ewoda_sim::runner::{self, DevicePaths, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn x25(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b.reverse_bits()) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    !crc.reverse_bits()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_paths_open_as_serial_ports_and_the_duration_ends_the_run() {
    let dir = std::env::temp_dir().join(format!(
        "ewoda-test-paths-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let start = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
    let cfg = SimConfig {
        seed: 77,
        meters: 30,
        start,
        speed: 3600,
        dongle_rate: 300,
        walkby: false,
        mbus_slaves: 2,
        modbus_tcp: None,
        truth: Some(dir.join("truth.jsonl")),
        duration: Some(std::time::Duration::from_millis(2500)),
        ..SimConfig::default()
    };
    let fleet = ewoda_sim::Fleet::generate_at(77, 30, start);
    let (tx, rx) = tokio::sync::oneshot::channel::<DevicePaths>();
    let running = tokio::spawn(runner::run_reporting(
        cfg,
        std::future::pending::<()>(),
        move |paths| {
            let _ = tx.send(paths.clone());
        },
    ));
    let paths = rx.await.expect("paths reported");
    assert!(paths.walkby.is_none() && paths.modbus_tcp.is_none() && paths.mqtt_url.is_none());
    let text = paths.to_string();
    let dongle_path = paths.dongle.clone().expect("a dongle pty");
    let mbus_path = paths.mbus.clone().expect("an M-Bus pty");
    assert!(text.contains(&format!("dongle: {dongle_path}\n")), "{text}");
    assert!(text.contains(&format!("mbus: {mbus_path}\n")), "{text}");
    assert!(dongle_path.starts_with("/dev/pts/"), "{dongle_path}");

    // The collector opens the paths as serial ports.
    let mut dongle = tokio_serial::SerialStream::open(&tokio_serial::new(&dongle_path, 115_200))
        .expect("the dongle path opens");
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    let until = tokio::time::Instant::now() + std::time::Duration::from_millis(800);
    while tokio::time::Instant::now() < until {
        if let Ok(Ok(n)) = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            dongle.read(&mut chunk),
        )
        .await
        {
            bytes.extend_from_slice(&chunk[..n]);
        }
    }
    let mut frames = 0;
    let mut rest = bytes.as_slice();
    while rest.len() >= 4 {
        let total = 4 + usize::from(rest[3]) + 7;
        let Some(m) = rest.get(..total) else {
            break; // the last message may be cut by our stopping to read
        };
        assert_eq!(&m[..3], &[0xA5, 0xE2, 0x03]);
        assert_eq!(
            u16::from_le_bytes([m[total - 2], m[total - 1]]),
            x25(&m[1..total - 2])
        );
        let id: String = m[7..11].iter().rev().map(|b| format!("{b:02x}")).collect();
        assert!(
            fleet
                .meters()
                .iter()
                .any(|x| x.address().id.to_string() == id),
            "{id}"
        );
        frames += 1;
        rest = &rest[total..];
    }
    assert!(frames > 10, "{frames} telegrams");

    let mut mbus = tokio_serial::SerialStream::open(&tokio_serial::new(&mbus_path, 2400))
        .expect("the M-Bus path opens");
    mbus.write_all(&[0x10, 0x40, 0x02, 0x42, 0x16])
        .await
        .unwrap();
    let mut ack = [0u8; 1];
    tokio::time::timeout(std::time::Duration::from_secs(5), mbus.read_exact(&mut ack))
        .await
        .expect("SND_NKE acknowledged")
        .unwrap();
    assert_eq!(ack, [0xE5]);

    let report = tokio::time::timeout(std::time::Duration::from_secs(20), running)
        .await
        .expect("the duration ends the run")
        .unwrap()
        .unwrap();
    assert!(report.telegrams >= frames);
    assert!(
        report.end >= start + Duration::seconds(3600 * 2),
        "{}",
        report.end
    );
    let truth = std::fs::read_to_string(dir.join("truth.jsonl")).unwrap();
    assert_eq!(truth.lines().count(), 30);
    let _ = std::fs::remove_dir_all(&dir);
}
