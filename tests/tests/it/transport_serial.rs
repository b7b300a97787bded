//! Serial transports end to end: the simulator's radio dongle, handheld walk-by session and
//! wired M-Bus slaves on real ptys → the collector's serial sources → the pipeline → a fresh
//! PostgreSQL database. Stored readings must equal the simulator's ground truth, injected
//! faults must open the right alarms, and bad input must become dead letters without
//! disturbing the valid telegrams around it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ewoda_collector::keystore::KeyStore;
use ewoda_collector::mbus_master::{self, MbusSerialConfig};
use ewoda_collector::metrics::Metrics;
use ewoda_collector::pipeline::{self, BatchReport, WriterConfig};
use ewoda_collector::radio::{
    self, DongleInfo, Framing, RadioContext, RadioSerialConfig, ReadClock,
};
use ewoda_collector::wmbus::NoKeys;
use ewoda_common::crypto::MasterKey;
use ewoda_sim::im871a::{DeviceInfo, Dongle, RxOptions, WalkBy};
use ewoda_sim::mbus::{Slave, TimeSource};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::{Fault, FaultKind, Fleet};
use ewoda_tests::{insert_fleet, Scratch, TestDb};
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio_serial::SerialStream;

fn master() -> MasterKey {
    MasterKey::from_hex(&"42".repeat(32)).unwrap()
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Stored readings as serial → [(read_at, volume_ml, source)].
async fn stored(pool: &PgPool) -> BTreeMap<String, Vec<(DateTime<Utc>, i64, String)>> {
    let rows: Vec<(String, DateTime<Utc>, i64, String)> = sqlx::query_as(
        "select m.serial, r.read_at, r.volume_ml, r.source from reading r join meter m using (meter_id)
         order by m.serial, r.read_at",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (s, at, v, src) in rows {
        out.entry(s).or_default().push((at, v, src));
    }
    out
}

async fn wait_for_rows(pool: &PgPool, sql: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if got >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {got} of {n} rows after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A radio source on the collector end of a pty, feeding a pipeline on `db`.
struct RadioRig {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), ewoda_collector::error::Error>>,
    pipe: pipeline::PipelineHandle,
    stats: Arc<radio::RadioStats>,
    _scratch: Scratch,
}

impl RadioRig {
    async fn start(db: &TestDb, host: SerialStream, cfg: RadioSerialConfig) -> RadioRig {
        let metrics = Arc::new(Metrics::default());
        let keys = KeyStore::load(db.pool.clone(), master()).await.unwrap();
        let pipe = pipeline::spawn(db.pool.clone(), WriterConfig::default(), metrics.clone());
        let scratch = Scratch::new("radio-spill");
        let ctx = RadioContext::new(
            &cfg,
            keys,
            &scratch.0.join("radio.spill"),
            pipe.sender(),
            metrics,
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let stats = ctx.stats.clone();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move { radio::run_on(host, &cfg, ctx, stop_rx).await });
        RadioRig {
            stop,
            task,
            pipe,
            stats,
            _scratch: scratch,
        }
    }

    async fn finish(self) -> (BatchReport, Arc<radio::RadioStats>) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap();
        (self.pipe.finish().await, self.stats)
    }
}

const OPTS: RxOptions = RxOptions {
    timestamp: true,
    rssi: true,
    crc: true,
    include_l_field: false,
};

#[tokio::test]
async fn dongle_telegrams_are_stored_as_the_truth_with_their_alarms() {
    let mut fleet = Fleet::generate(7, 60);
    let at = start() + Duration::days(40) + Duration::minutes(17);
    let faults = [
        (
            3,
            FaultKind::Leak {
                litres_per_hour: 20,
            },
            "leak",
        ),
        (4, FaultKind::Backflow { litres_per_hour: 5 }, "backflow"),
        (5, FaultKind::LowBattery, "battery_low"),
        (
            6,
            FaultKind::Burst {
                litres_per_hour: 900,
            },
            "burst",
        ),
        (7, FaultKind::MagneticTamper, "tamper"),
        (8, FaultKind::DryPipe, "dry"),
    ];
    for (i, kind, _) in faults {
        fleet
            .inject(i, Fault::new(kind, at - Duration::hours(6)))
            .unwrap();
    }
    let db = TestDb::new("radio").await;
    let serials = insert_fleet(&db.pool, &fleet, at, &master()).await;

    let (sim_end, host) = SerialStream::pair().expect("pty pair");
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let rig = RadioRig::start(&db, host, RadioSerialConfig::new("pty-radio")).await;
    for i in 0..fleet.len() {
        let frame = fleet.telegram(i, at, FrameFormat::NoCrc).unwrap();
        dongle
            .send_frame(&frame, OPTS, at.timestamp() as u32, 0x40)
            .await
            .unwrap();
    }
    wait_for_rows(&db.pool, "select count(*) from reading", fleet.len() as i64).await;
    let (totals, stats) = rig.finish().await;
    dongle.close().await.unwrap();

    assert_eq!(totals.stored, fleet.len() as u64);
    assert_eq!(totals.dead_letters, 0);
    assert_eq!(stats.frames.load(Ordering::Relaxed), fleet.len() as u64);
    let info = DeviceInfo::default();
    assert_eq!(
        *stats.dongle.lock().unwrap(),
        Some(DongleInfo {
            module_type: 0x33,
            firmware: info.firmware,
            hci_version: info.hci_version,
            device_id: info.device_id,
        }),
        "the dongle's device info was asked for and read"
    );
    let rows = stored(&db.pool).await;
    for (i, serial) in serials.iter().enumerate() {
        let truth_l = fleet.register_at(i, at).unwrap().ml() / 1000;
        let got = &rows[serial];
        assert_eq!(got.len(), 1, "meter {i}");
        assert_eq!(got[0].1, truth_l * 1000, "meter {i} volume");
        assert_eq!(got[0].2, "wmbus");
    }
    let open: BTreeSet<(String, String)> = sqlx::query_as(
        "select m.serial, a.kind from alarm a join meter m using (meter_id) where a.state = 'open'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let expected: BTreeSet<(String, String)> = faults
        .iter()
        .map(|(i, _, kind)| (serials[*i].clone(), kind.to_string()))
        .collect();
    assert_eq!(open, expected);
    db.drop_db().await;
}

#[tokio::test]
async fn a_walk_by_session_stores_each_reading_once() {
    let fleet = Fleet::generate(11, 40);
    let walk_start = start() + Duration::days(20) + Duration::hours(9);
    let db = TestDb::new("walkby").await;
    let serials = insert_fleet(&db.pool, &fleet, walk_start, &master()).await;
    let walk = WalkBy {
        route: fleet.route_by_address(None),
        start: walk_start,
        seconds_per_meter: 45,
        repeats: 2,
    };
    let (sim_end, host) = SerialStream::pair().expect("pty pair");
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let mut cfg = RadioSerialConfig::new("pty-handheld");
    cfg.handheld = true;
    cfg.clock = ReadClock::DongleUnix;
    let rig = RadioRig::start(&db, host, cfg).await;
    let sent = walk.run(&fleet, &dongle, OPTS, None).await.unwrap();
    assert_eq!(sent, 2 * walk.route.len());
    wait_for_rows(
        &db.pool,
        "select count(*) from reading",
        walk.route.len() as i64,
    )
    .await;
    let (totals, stats) = rig.finish().await;
    dongle.close().await.unwrap();

    assert_eq!(stats.frames.load(Ordering::Relaxed), sent as u64);
    assert_eq!(totals.stored, walk.route.len() as u64);
    assert_eq!(totals.duplicates, walk.route.len() as u64);
    let rows = stored(&db.pool).await;
    assert_eq!(rows.len(), walk.route.len());
    for (k, &i) in walk.route.iter().enumerate() {
        let heard = walk_start + Duration::seconds(45 * k as i64);
        let got = &rows[&serials[i]];
        assert_eq!(got.len(), 1, "meter {i} stored once");
        let (read_at, ml, source) = &got[0];
        assert_eq!(
            *ml,
            fleet.register_at(i, heard).unwrap().ml() / 1000 * 1000,
            "meter {i}"
        );
        assert_eq!(source, "handheld");
        // The meter's clock (minute resolution) is trusted: it agrees with the set's stamp.
        assert!(
            *read_at <= heard && heard - *read_at < Duration::minutes(1),
            "meter {i}: read at {read_at}, heard at {heard}"
        );
    }
    db.drop_db().await;
}

#[tokio::test]
async fn garbage_and_a_corrupt_frame_become_counts_and_a_dead_letter() {
    let fleet = Fleet::generate(13, 12);
    let at = start() + Duration::days(33);
    let db = TestDb::new("garbage").await;
    let serials = insert_fleet(&db.pool, &fleet, at, &master()).await;
    let (sim_end, host) = SerialStream::pair().expect("pty pair");
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let rig = RadioRig::start(&db, host, RadioSerialConfig::new("pty-noisy")).await;
    let corrupt = 5;
    for i in 0..fleet.len() {
        let mut frame = fleet.telegram(i, at, FrameFormat::NoCrc).unwrap();
        if i == corrupt {
            // A bit flipped in the first encrypted block (after the 15-byte short header): the
            // HCI CRC is computed over the damaged frame, so only decryption can notice.
            frame[15] ^= 0x01;
        }
        dongle
            .send_raw(vec![0x00, 0x13, 0x37, 0xFF, 0x42])
            .await
            .unwrap();
        dongle
            .send_frame(&frame, OPTS, at.timestamp() as u32, 0x50)
            .await
            .unwrap();
    }
    wait_for_rows(
        &db.pool,
        "select count(*) from reading",
        fleet.len() as i64 - 1,
    )
    .await;
    wait_for_rows(&db.pool, "select count(*) from dead_letter", 1).await;
    let (totals, stats) = rig.finish().await;
    dongle.close().await.unwrap();

    assert_eq!(totals.stored, fleet.len() as u64 - 1);
    assert_eq!(
        stats.garbage_bytes.load(Ordering::Relaxed),
        5 * fleet.len() as u64
    );
    assert_eq!(stats.undecodable.load(Ordering::Relaxed), 1);
    let rows = stored(&db.pool).await;
    for (i, serial) in serials.iter().enumerate() {
        if i == corrupt {
            assert!(!rows.contains_key(serial));
        } else {
            assert_eq!(
                rows[serial][0].1,
                fleet.register_at(i, at).unwrap().ml() / 1000 * 1000
            );
        }
    }
    let dead: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("select source, reason, payload from dead_letter")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(dead.len(), 1);
    let g = fleet.generation_at(corrupt, at).unwrap();
    assert_eq!(dead[0].0, "wmbus");
    assert!(
        dead[0].1.starts_with(&format!(
            "wrong key for {} {}",
            g.address.manufacturer,
            g.address.id.as_str()
        )),
        "{}",
        dead[0].1
    );
    assert_eq!(
        dead[0].2.len(),
        fleet
            .telegram(corrupt, at, FrameFormat::NoCrc)
            .unwrap()
            .len()
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_hex_line_receiver_is_read_too() {
    let fleet = Fleet::generate(17, 8);
    let at = start() + Duration::days(12);
    let db = TestDb::new("hexlines").await;
    let serials = insert_fleet(&db.pool, &fleet, at, &master()).await;
    let (mut sim_end, host) = SerialStream::pair().expect("pty pair");
    let mut cfg = RadioSerialConfig::new("pty-hex");
    cfg.framing = Framing::HexLines;
    let rig = RadioRig::start(&db, host, cfg).await;
    let mut text = String::new();
    for i in 0..fleet.len() {
        // Format A with link CRCs, as many receivers print them.
        text.push_str(&hex_upper(&fleet.telegram(i, at, FrameFormat::A).unwrap()));
        text.push_str("\r\n");
        if i == 2 {
            text.push_str("RSSI -71 dBm\n");
        }
    }
    sim_end.write_all(text.as_bytes()).await.unwrap();
    sim_end.flush().await.unwrap();
    wait_for_rows(&db.pool, "select count(*) from reading", fleet.len() as i64).await;
    let (totals, stats) = rig.finish().await;
    assert_eq!(totals.stored, fleet.len() as u64);
    assert_eq!(stats.bad_frames.load(Ordering::Relaxed), 1);
    let rows = stored(&db.pool).await;
    for (i, serial) in serials.iter().enumerate() {
        assert_eq!(
            rows[serial][0].1,
            fleet.register_at(i, at).unwrap().ml() / 1000 * 1000
        );
    }
    db.drop_db().await;
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[tokio::test]
async fn wired_mbus_slaves_are_read_and_a_silent_one_does_not_block_the_others() {
    let fleet = Arc::new(Fleet::generate(19, 20));
    let t = start() + Duration::days(50) + Duration::hours(7);
    let db = TestDb::new("mbus").await;
    let serials = insert_fleet(&db.pool, &fleet, t, &master()).await;
    let slaves: Vec<Slave> = (0..5)
        .map(|k| Slave {
            primary_address: 1 + k as u8,
            meter: 2 * k,
        })
        .collect();
    let (sim_end, host) = SerialStream::pair().expect("pty pair");
    tokio::spawn(ewoda_sim::mbus::serve(
        sim_end,
        fleet.clone(),
        slaves.clone(),
        TimeSource::Fixed(t),
    ));
    let mut cfg = MbusSerialConfig::new("pty-mbus", vec![1, 2, 9, 3, 4, 5]);
    cfg.timeout_ms = 150;
    cfg.retries = 1;
    cfg.backoff_ms = 20;
    cfg.interval_secs = 3600;
    let metrics = Arc::new(Metrics::default());
    let pipe = pipeline::spawn(db.pool.clone(), WriterConfig::default(), metrics);
    let (stop, stop_rx) = watch::channel(false);
    let sink = pipe.sender();
    let task = tokio::spawn(async move {
        mbus_master::run_on(host, &cfg, Arc::new(NoKeys), sink, stop_rx).await
    });
    wait_for_rows(
        &db.pool,
        "select count(*) from reading",
        slaves.len() as i64,
    )
    .await;
    stop.send(true).unwrap();
    let stats = task.await.unwrap().unwrap();
    let totals = pipe.finish().await;

    assert_eq!(totals.stored, slaves.len() as u64);
    assert_eq!(stats.frames.load(Ordering::Relaxed), slaves.len() as u64);
    assert_eq!(
        stats.failures.load(Ordering::Relaxed),
        1,
        "address 9 is silent"
    );
    assert_eq!(stats.retries.load(Ordering::Relaxed), 1);
    let rows = stored(&db.pool).await;
    assert_eq!(rows.len(), slaves.len());
    for s in &slaves {
        let got = &rows[&serials[s.meter]];
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].1,
            fleet.register_at(s.meter, t).unwrap().ml() / 1000 * 1000,
            "slave {}",
            s.primary_address
        );
        assert_eq!(got[0].2, "mbus");
    }
    db.drop_db().await;
}
