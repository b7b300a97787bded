//! The wired M-Bus master on a real pty: against the simulator's slaves (values equal the
//! fleet's registers) and against a scripted slave that checks the master's frames (SND_NKE,
//! REQ_UD2 with alternating FCB) and answers with noise, a bad checksum or nothing.

use chrono::{DateTime, TimeZone, Utc};
use ewoda_collector::mbus_master::{self, MbusError, MbusMaster, MbusSerialConfig};
use ewoda_collector::pipeline::{Item, MeterRef};
use ewoda_collector::store::Source;
use ewoda_collector::wmbus::NoKeys;
use ewoda_sim::mbus::{rsp_ud, Slave, TimeSource};
use ewoda_sim::Fleet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::SerialStream;

fn t() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 2, 6, 0, 0).unwrap()
}

fn quick(addresses: Vec<u8>) -> MbusSerialConfig {
    let mut cfg = MbusSerialConfig::new("pty", addresses);
    cfg.timeout_ms = 120;
    cfg.retries = 2;
    cfg.backoff_ms = 10;
    cfg
}

#[tokio::test]
async fn sim_slaves_give_their_registers_and_a_missing_one_times_out() {
    let fleet = Arc::new(Fleet::generate(29, 10));
    let (sim_end, host) = SerialStream::pair().unwrap();
    let slaves = vec![
        Slave {
            primary_address: 3,
            meter: 4,
        },
        Slave {
            primary_address: 250,
            meter: 7,
        },
    ];
    tokio::spawn(ewoda_sim::mbus::serve(
        sim_end,
        fleet.clone(),
        slaves.clone(),
        TimeSource::Fixed(t()),
    ));
    let mut master = MbusMaster::new(host, &quick(vec![3, 250, 17]));
    for s in &slaves {
        let frame = master.read_address(s.primary_address).await.unwrap();
        let Item::Reading(r) = mbus_master::frame_to_item(&frame, &NoKeys, t()) else {
            panic!("slave {} gave no reading", s.primary_address)
        };
        let g = fleet.generation_at(s.meter, t()).unwrap();
        assert_eq!(
            r.meter,
            MeterRef::Radio {
                manufacturer: g.address.manufacturer.to_string(),
                id: g.address.id.as_str().to_ascii_uppercase()
            }
        );
        assert_eq!(
            r.volume.ml(),
            fleet.register_at(s.meter, t()).unwrap().ml() / 1000 * 1000
        );
        assert_eq!(r.source, Source::Mbus);
        // The slave's clock says exactly `t`: trusted.
        assert_eq!(r.read_at, t());
    }
    let e = master.read_address(17).await.unwrap_err();
    assert_eq!(
        e,
        MbusError::Timeout {
            address: 17,
            request: "SND_NKE",
            timeout_ms: 120
        }
    );
    let stats = master.stats();
    assert_eq!(stats.frames.load(Ordering::Relaxed), 2);
    assert_eq!(stats.failures.load(Ordering::Relaxed), 1);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
    assert_eq!(stats.timeouts.load(Ordering::Relaxed), 3);
}

/// Reads one short frame from the master.
async fn short(s: &mut SerialStream) -> [u8; 5] {
    let mut f = [0u8; 5];
    s.read_exact(&mut f).await.unwrap();
    assert_eq!((f[0], f[4]), (0x10, 0x16), "short frame {f:02X?}");
    assert_eq!(
        f[3],
        f[1].wrapping_add(f[2]),
        "short frame checksum {f:02X?}"
    );
    f
}

#[tokio::test]
async fn fcb_alternates_and_noise_or_a_bad_checksum_is_retried() {
    let fleet = Fleet::generate(31, 4);
    let good = rsp_ud(&fleet, 2, 5, t(), 9).unwrap();
    let mut bad = good.clone();
    let cs = bad.len() - 2;
    bad[cs] ^= 0xFF;
    let (mut slave, host) = SerialStream::pair().unwrap();
    let script = {
        let good = good.clone();
        tokio::spawn(async move {
            let mut controls = Vec::new();
            // Round 1: noise, then the frame.
            let f = short(&mut slave).await;
            controls.push(f[1]);
            slave.write_all(&[0xE5]).await.unwrap();
            let f = short(&mut slave).await;
            controls.push(f[1]);
            let mut noisy = vec![0x00, 0xFF, 0x68, 0x01];
            noisy.extend_from_slice(&good);
            slave.write_all(&noisy).await.unwrap();
            // Round 2: no reset, the FCB toggles; a bad checksum, then a retry from SND_NKE.
            let f = short(&mut slave).await;
            controls.push(f[1]);
            slave.write_all(&bad).await.unwrap();
            let f = short(&mut slave).await;
            controls.push(f[1]);
            slave.write_all(&[0xE5]).await.unwrap();
            let f = short(&mut slave).await;
            controls.push(f[1]);
            slave.write_all(&good).await.unwrap();
            // Round 3: the FCB toggles again.
            let f = short(&mut slave).await;
            controls.push(f[1]);
            slave.write_all(&good).await.unwrap();
            // Kept open: closing the pty's master end discards what the master has not read.
            (controls, slave)
        })
    };
    let mut master = MbusMaster::new(host, &quick(vec![5]));
    for _ in 0..3 {
        assert_eq!(master.read_address(5).await.unwrap(), good);
    }
    let (controls, _line) = script.await.unwrap();
    // SND_NKE resets the FCB (the next REQ_UD2 has it set, 0x7B); it alternates after each
    // answered request; a failure starts over with SND_NKE.
    assert_eq!(controls, vec![0x40, 0x7B, 0x5B, 0x40, 0x7B, 0x5B]);
    assert_eq!(master.stats().retries.load(Ordering::Relaxed), 1);
}

#[test]
fn frames_and_configs_are_checked() {
    assert_eq!(
        mbus_master::short_frame(0x5B, 0xFE),
        [0x10, 0x5B, 0xFE, 0x59, 0x16]
    );
    assert_eq!(mbus_master::checksum(&[0x08, 0x05, 0x72]), 0x7F);
    assert!(quick(vec![1, 250]).validate().is_ok());
    assert_eq!(
        quick(vec![]).validate().unwrap_err(),
        "addresses: at least one primary address is needed"
    );
    assert_eq!(
        quick(vec![0]).validate().unwrap_err(),
        "addresses: 0 is not a primary address (1–250)"
    );
    let fleet = Fleet::generate(31, 4);
    let mut frame = rsp_ud(&fleet, 1, 5, t(), 1).unwrap();
    frame[6] ^= 0x01; // CI field: the checksum no longer matches
    let Item::DeadLetter(d) = mbus_master::frame_to_item(&frame, &NoKeys, t()) else {
        panic!("a damaged frame must not give a reading")
    };
    assert_eq!(d.source, Source::Mbus);
    assert_eq!(d.class, "undecodable");
}
