//! The emulated iM871A over a real pty pair: requests answered, telegrams arrive intact.

use chrono::{TimeZone, Utc};
use ewoda_sim::im871a::{rx_message, DeviceInfo, Dongle, RxOptions, WalkBy};
use ewoda_sim::Fleet;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_serial::SerialStream;

/// CRC-16/X-25 from the CCITT definition: MSB-first CRC over bit-reversed bytes, result
/// reversed and complemented.
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

async fn read_exact(host: &mut SerialStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    timeout(Duration::from_secs(10), host.read_exact(&mut buf))
        .await
        .expect("bytes arrive in time")
        .expect("read");
    buf
}

#[tokio::test]
async fn dongle_answers_and_delivers_a_walk_by_session() {
    let (sim_end, mut host) = SerialStream::pair().expect("pty pair");
    let dongle = Dongle::spawn(
        sim_end,
        DeviceInfo {
            firmware: 0x15,
            hci_version: 0x02,
            device_id: 0x0102_0304,
        },
    );

    // Ping without CRC, then with garbage before it.
    host.write_all(&[0x00, 0x55, 0xA5, 0x01, 0x01, 0x00])
        .await
        .unwrap();
    assert_eq!(read_exact(&mut host, 4).await, vec![0xA5, 0x01, 0x02, 0x00]);

    // Device info with a CRC: the answer carries one too.
    let mut req = vec![0xA5, 0x81, 0x03, 0x00];
    let crc = x25(&req[1..]);
    req.extend_from_slice(&crc.to_le_bytes());
    host.write_all(&req).await.unwrap();
    let rsp = read_exact(&mut host, 4 + 8 + 2).await;
    assert_eq!(&rsp[..4], &[0xA5, 0x81, 0x04, 0x08]);
    assert_eq!(
        &rsp[4..12],
        &[0x33, 0x00, 0x15, 0x02, 0x04, 0x03, 0x02, 0x01]
    );
    assert_eq!(u16::from_le_bytes([rsp[12], rsp[13]]), x25(&rsp[1..12]));

    // A walk-by session: three meters, each heard twice.
    let fleet = Fleet::generate(17, 40);
    let walk = WalkBy {
        route: vec![5, 2, 9],
        start: Utc.with_ymd_and_hms(2026, 2, 14, 9, 0, 0).unwrap(),
        seconds_per_meter: 25,
        repeats: 2,
    };
    let receptions = walk.receptions(&fleet).unwrap();
    assert_eq!(receptions.len(), 6);
    assert_eq!(
        receptions.iter().map(|r| r.meter).collect::<Vec<_>>(),
        vec![5, 5, 2, 2, 9, 9]
    );
    assert_eq!(receptions[0].frame, receptions[1].frame);
    let sent = walk
        .run(&fleet, &dongle, RxOptions::default(), None)
        .await
        .unwrap();
    assert_eq!(sent, 6);

    for r in &receptions {
        let len = r.frame.len() - 1;
        let msg = read_exact(&mut host, 4 + len + 4 + 1 + 2).await;
        assert_eq!(&msg[..4], &[0xA5, 0xE2, 0x03, len as u8]);
        // The payload is the frame from the C-field on (the L-field is the HCI length).
        assert_eq!(&msg[4..4 + len], &r.frame[1..]);
        assert_eq!(msg[4], 0x44);
        assert_eq!(
            u32::from_le_bytes(msg[4 + len..8 + len].try_into().unwrap()),
            r.at.timestamp() as u32
        );
        assert_eq!(msg[8 + len], r.rssi);
        let crc = u16::from_le_bytes([msg[9 + len], msg[10 + len]]);
        assert_eq!(crc, x25(&msg[1..9 + len]));
        // The telegram in it is this meter's.
        let id = fleet.meter(r.meter).unwrap().address().id.bcd_le();
        assert_eq!(&r.frame[4..8], &id);
    }
    dongle.close().await.unwrap();
}

#[tokio::test]
async fn include_l_field_option_keeps_the_length_byte() {
    let fleet = Fleet::generate(17, 40);
    let t = Utc.with_ymd_and_hms(2026, 2, 14, 9, 0, 0).unwrap();
    let frame = fleet
        .telegram(3, t, ewoda_sim::wmbus::FrameFormat::NoCrc)
        .unwrap();
    let opts = RxOptions {
        timestamp: false,
        rssi: false,
        crc: false,
        include_l_field: true,
    };
    let m = rx_message(&frame, opts, 0, 0).unwrap().encode().unwrap();
    assert_eq!(&m[..4], &[0xA5, 0x02, 0x03, frame.len() as u8]);
    assert_eq!(&m[4..], &frame[..]);
}
