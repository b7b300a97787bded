//! firmware-sim's Modbus servers byte by byte: MBAP framing over loopback TCP (split and
//! pipelined frames, foreign protocol ids, exceptions 01/02/03) and RTU framing over a real
//! pty (CRC, noise before a request, silence-framed unsupported functions, silent units).
//! Expected frames are spelled out by hand here, not built with the code under test.

use chrono::{DateTime, TimeZone, Utc};
use ewoda_sim::mbus::TimeSource;
use ewoda_sim::modbus::{BulkModel, BulkUnit, ModbusSim};
use ewoda_sim::Fleet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_serial::SerialStream;

fn t() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap()
}

fn sim() -> (Arc<Fleet>, usize, ModbusSim) {
    let fleet = Arc::new(Fleet::generate(3, 300));
    let bulk = fleet.districts()[0].bulk_meter;
    let units = vec![
        BulkUnit {
            unit: 1,
            meter: bulk,
            model: BulkModel::A,
        },
        BulkUnit {
            unit: 2,
            meter: bulk,
            model: BulkModel::B,
        },
        BulkUnit {
            unit: 0x11,
            meter: bulk,
            model: BulkModel::C,
        },
    ];
    let sim = ModbusSim::new(fleet.clone(), units, TimeSource::Fixed(t())).unwrap();
    (fleet, bulk, sim)
}

async fn read_n<R: AsyncRead + Unpin>(r: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    timeout(Duration::from_secs(5), r.read_exact(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    buf
}

async fn nothing_within<R: AsyncRead + Unpin>(r: &mut R, ms: u64) -> bool {
    let mut b = [0u8; 1];
    timeout(Duration::from_millis(ms), r.read(&mut b))
        .await
        .is_err()
}

#[tokio::test]
async fn tcp_frames_and_exceptions() {
    let (fleet, bulk, sim) = sim();
    let litres = fleet.register_at(bulk, t()).unwrap().ml() / 1000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Arc::new(sim).serve_tcp(listener));
    let mut c = TcpStream::connect(addr).await.unwrap();

    // Read 2 holding registers at 0 from unit 1, sent one byte at a time.
    let req = [0xAB, 0xCD, 0, 0, 0, 6, 1, 0x03, 0, 0, 0, 2];
    for b in req {
        c.write_all(&[b]).await.unwrap();
        c.flush().await.unwrap();
    }
    let r = read_n(&mut c, 13).await;
    assert_eq!(&r[..9], &[0xAB, 0xCD, 0, 0, 0, 7, 1, 0x03, 4]);
    assert_eq!(
        i64::from(u32::from_be_bytes([r[9], r[10], r[11], r[12]])),
        litres
    );

    // Pipelined in one write: a foreign protocol id (dropped), then three exceptions and a
    // read of model B's input registers.
    let mut burst = vec![0, 1, 0, 7, 0, 6, 1, 0x03, 0, 0, 0, 2];
    burst.extend_from_slice(&[0, 2, 0, 0, 0, 6, 1, 0x04, 0, 0, 0, 2]); // A has no input regs
    burst.extend_from_slice(&[0, 3, 0, 0, 0, 6, 1, 0x03, 0, 3, 0, 2]); // past A's map
    burst.extend_from_slice(&[0, 4, 0, 0, 0, 6, 1, 0x03, 0, 0, 0, 0]); // quantity 0
    burst.extend_from_slice(&[0, 5, 0, 0, 0, 6, 1, 0x03, 0, 0, 0, 126]); // quantity 126
    burst.extend_from_slice(&[0, 6, 0, 0, 0, 6, 9, 0x03, 0, 0, 0, 2]); // no unit 9: silent
    burst.extend_from_slice(&[0, 7, 0, 0, 0, 6, 2, 0x04, 1, 0, 0, 2]);
    c.write_all(&burst).await.unwrap();
    assert_eq!(read_n(&mut c, 9).await, [0, 2, 0, 0, 0, 3, 1, 0x84, 0x01]);
    assert_eq!(read_n(&mut c, 9).await, [0, 3, 0, 0, 0, 3, 1, 0x83, 0x02]);
    assert_eq!(read_n(&mut c, 9).await, [0, 4, 0, 0, 0, 3, 1, 0x83, 0x03]);
    assert_eq!(read_n(&mut c, 9).await, [0, 5, 0, 0, 0, 3, 1, 0x83, 0x03]);
    let r = read_n(&mut c, 13).await;
    assert_eq!(&r[..9], &[0, 7, 0, 0, 0, 7, 2, 0x04, 4]);
    // Low word first: C D A B.
    let m3 = f32::from_be_bytes([r[11], r[12], r[9], r[10]]);
    let ml = fleet.register_at(bulk, t()).unwrap().ml();
    assert_eq!(f64::from(m3), ((ml + 500_000) / 1_000_000) as f64);
    assert!(nothing_within(&mut c, 100).await);

    // A length the stream cannot be framed by ends the connection.
    c.write_all(&[0, 8, 0, 0, 0x01, 0x00, 1, 0x03])
        .await
        .unwrap();
    let mut rest = Vec::new();
    timeout(Duration::from_secs(5), c.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .ok();
    assert!(rest.is_empty());
}

/// CRC-16/MODBUS written out again for the test, table-free, from the spec's description.
fn crc(bytes: &[u8]) -> [u8; 2] {
    let mut reg = 0xFFFFu16;
    for b in bytes {
        reg ^= u16::from(*b);
        for _ in 0..8 {
            let lsb = reg & 1;
            reg >>= 1;
            if lsb == 1 {
                reg ^= 0xA001;
            }
        }
    }
    [reg as u8, (reg >> 8) as u8]
}

fn with_crc(mut f: Vec<u8>) -> Vec<u8> {
    let c = crc(&f);
    f.extend_from_slice(&c);
    f
}

#[tokio::test]
async fn rtu_frames_noise_and_exceptions_on_a_pty() {
    let (fleet, bulk, sim) = sim();
    let ml = fleet.register_at(bulk, t()).unwrap().ml();
    let (sim_end, mut host) = SerialStream::pair().expect("pty pair");
    let faults = sim.faults();
    let task = tokio::spawn(Arc::new(sim).serve_rtu(sim_end));

    // The classic request shape at unit 0x11 (model C): 10-litre pulses, low word first.
    let req = with_crc(vec![0x11, 0x03, 0x02, 0x00, 0x00, 0x03]);
    host.write_all(&req).await.unwrap();
    let r = read_n(&mut host, 11).await;
    assert_eq!(&r[..3], &[0x11, 0x03, 6]);
    assert_eq!(&r[9..], &crc(&r[..9]));
    let pulses = u32::from_be_bytes([r[5], r[6], r[3], r[4]]);
    assert_eq!(i64::from(pulses), ml / 10_000);
    assert_eq!(&r[7..9], &[0, 0], "status word");

    // A flipped bit: no answer. Noise then a good request: answered.
    let mut bad = with_crc(vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x02]);
    bad[4] ^= 0x01;
    host.write_all(&bad).await.unwrap();
    assert!(nothing_within(&mut host, 150).await);
    let mut noisy = vec![0xFF, 0x03, 0x55];
    noisy.extend_from_slice(&with_crc(vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x02]));
    host.write_all(&noisy).await.unwrap();
    let r = read_n(&mut host, 9).await;
    assert_eq!(&r[..3], &[0x01, 0x03, 4]);
    assert_eq!(&r[7..], &crc(&r[..7]));
    assert_eq!(
        i64::from(u32::from_be_bytes([r[3], r[4], r[5], r[6]])),
        ml.div_euclid(1000)
    );

    // Write single register (0x06) is not a read: framed by silence, illegal function.
    host.write_all(&with_crc(vec![0x01, 0x06, 0x00, 0x00, 0x00, 0x01]))
        .await
        .unwrap();
    assert_eq!(read_n(&mut host, 5).await, with_crc(vec![0x01, 0x86, 0x01]));
    // Past model B's map: illegal data address.
    host.write_all(&with_crc(vec![0x02, 0x04, 0x01, 0x03, 0x00, 0x02]))
        .await
        .unwrap();
    assert_eq!(read_n(&mut host, 5).await, with_crc(vec![0x02, 0x84, 0x02]));

    // A silenced unit and an unknown one say nothing; garbled replies carry no valid frame.
    faults.set_silent(1, true);
    host.write_all(&with_crc(vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x02]))
        .await
        .unwrap();
    host.write_all(&with_crc(vec![0x05, 0x03, 0x00, 0x00, 0x00, 0x02]))
        .await
        .unwrap();
    assert!(nothing_within(&mut host, 150).await);
    faults.garble_next_rtu_replies(1);
    host.write_all(&with_crc(vec![0x02, 0x04, 0x01, 0x00, 0x00, 0x02]))
        .await
        .unwrap();
    let noise = read_n(&mut host, 24).await;
    assert!(
        (0..noise.len().saturating_sub(8)).all(|i| {
            let f = &noise[i..i + 9];
            !(f[0] == 0x02 && f[1] == 0x04 && crc(&f[..7]) == f[7..9])
        }),
        "noise must not be a valid reply"
    );
    // Then replies are whole again.
    host.write_all(&with_crc(vec![0x02, 0x04, 0x01, 0x00, 0x00, 0x02]))
        .await
        .unwrap();
    let r = read_n(&mut host, 9).await;
    assert_eq!(&r[..3], &[0x02, 0x04, 4]);
    assert_eq!(&r[7..], &crc(&r[..7]));

    drop(host);
    timeout(Duration::from_secs(5), task)
        .await
        .expect("server stops when the line closes")
        .unwrap()
        .unwrap();
}

#[test]
fn unit_ids_are_checked() {
    let fleet = Arc::new(Fleet::generate(3, 300));
    let bulk = fleet.districts()[0].bulk_meter;
    let unit = |unit| BulkUnit {
        unit,
        meter: bulk,
        model: BulkModel::A,
    };
    let time = TimeSource::Fixed(t());
    assert!(ModbusSim::new(fleet.clone(), vec![unit(0)], time).is_err());
    assert!(ModbusSim::new(fleet.clone(), vec![unit(248)], time).is_err());
    assert!(ModbusSim::new(fleet.clone(), vec![unit(3), unit(3)], time).is_err());
    let far = BulkUnit {
        unit: 4,
        meter: 10_000,
        model: BulkModel::B,
    };
    assert!(ModbusSim::new(fleet, vec![far], time).is_err());
}
