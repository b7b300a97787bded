//! Wired M-Bus slaves over a real pty: SND_NKE → E5, REQ_UD2 → RSP_UD, other addresses silent.

use chrono::{TimeZone, Utc};
use ewoda_sim::mbus::{serve, Slave, TimeSource};
use ewoda_sim::Fleet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_serial::SerialStream;

fn short(c: u8, a: u8) -> [u8; 5] {
    [0x10, c, a, c.wrapping_add(a), 0x16]
}

async fn read_exact(host: &mut SerialStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    timeout(Duration::from_secs(10), host.read_exact(&mut buf))
        .await
        .expect("reply in time")
        .expect("read");
    buf
}

#[tokio::test]
async fn slaves_answer_their_own_address_only() {
    let fleet = Arc::new(Fleet::generate(31, 50));
    let t = Utc.with_ymd_and_hms(2026, 4, 2, 10, 0, 0).unwrap();
    let (sim_end, mut host) = SerialStream::pair().expect("pty pair");
    let slaves = vec![
        Slave {
            primary_address: 5,
            meter: 7,
        },
        Slave {
            primary_address: 6,
            meter: 8,
        },
    ];
    let task = tokio::spawn(serve(sim_end, fleet.clone(), slaves, TimeSource::Fixed(t)));

    // Nobody at address 9: silence. Then address 5 acknowledges.
    host.write_all(&short(0x40, 9)).await.unwrap();
    host.write_all(&short(0x40, 5)).await.unwrap();
    assert_eq!(read_exact(&mut host, 1).await, vec![0xE5]);
    // A frame with a bad checksum is ignored too.
    host.write_all(&[0x10, 0x40, 0x05, 0x00, 0x16])
        .await
        .unwrap();

    host.write_all(&short(0x7B, 6)).await.unwrap();
    let head = read_exact(&mut host, 4).await;
    assert_eq!((head[0], head[3]), (0x68, 0x68));
    assert_eq!(head[1], head[2]);
    let rest = read_exact(&mut host, usize::from(head[1]) + 2).await;
    let (body, tail) = rest.split_at(rest.len() - 2);
    let sum = body.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    assert_eq!(tail, &[sum, 0x16]);
    assert_eq!(&body[..3], &[0x08, 6, 0x72]);
    let meter = fleet.meter(8).unwrap();
    assert_eq!(&body[3..7], &meter.address().id.bcd_le());
    assert_eq!(
        u16::from_le_bytes([body[7], body[8]]),
        meter.address().manufacturer.code()
    );
    assert_eq!(body[10], 0x07);
    assert_eq!(&body[13..15], &[0x00, 0x00], "no encryption on the wire");
    assert_eq!(&body[15..17], &[0x04, 0x13]);
    let litres = u32::from_le_bytes(body[17..21].try_into().unwrap());
    assert_eq!(
        i64::from(litres),
        fleet.register_at(8, t).unwrap().ml() / 1000
    );

    drop(host);
    timeout(Duration::from_secs(10), task)
        .await
        .expect("slave stops when the master goes")
        .unwrap()
        .unwrap();
}
