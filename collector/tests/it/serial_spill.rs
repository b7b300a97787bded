//! The radio source while PostgreSQL is unreachable: telegrams keep arriving on the pty (a
//! dongle cannot be asked again), readings spill to disk, and once the database is back every
//! one is stored exactly once, equal to the simulator's registers.

use crate::common;

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use common::proxy::pool_behind_proxy;
use ewoda_collector::keystore::KeyStore;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::pipeline::{self, WriterConfig};
use ewoda_collector::radio::{self, RadioContext, RadioSerialConfig};
use ewoda_common::crypto::MasterKey;
use ewoda_sim::im871a::{DeviceInfo, Dongle, RxOptions};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::Fleet;
use sqlx::PgPool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_serial::SerialStream;

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn radio_readings_survive_a_database_outage(pool: PgPool) {
    let fleet = Fleet::generate(37, 60);
    let at = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap() + ChronoDuration::days(3);
    let master = MasterKey::from_hex(&"11".repeat(32)).unwrap();
    for i in 0..fleet.len() {
        let g = fleet.generation_at(i, at).unwrap();
        sqlx::query(
            "insert into meter (serial, manufacturer, model, radio_id, aes_key_enc, register_digits)
             values ($1, $2, 'SIM', $3, $4, 8)",
        )
        .bind(&g.serial)
        .bind(g.address.manufacturer.to_string())
        .bind(g.address.id.as_str().to_ascii_uppercase())
        .bind(master.seal(&g.key, [i as u8; 12]))
        .execute(&pool)
        .await
        .unwrap();
    }
    let keys = KeyStore::load(pool.clone(), master).await.unwrap();
    assert_eq!(keys.len(), fleet.len());

    let (proxy, via_proxy) = pool_behind_proxy(&pool).await;
    let metrics = Arc::new(Metrics::default());
    let writer = WriterConfig {
        channel_capacity: 4,
        batch_size: 8,
        ..WriterConfig::default()
    };
    let pipe = pipeline::spawn(via_proxy, writer, metrics.clone());
    let dir = std::env::temp_dir().join(format!("ewoda-serial-spill-{}", std::process::id()));
    let mut cfg = RadioSerialConfig::new("pty-outage");
    cfg.spill_memory_items = 5;
    let ctx = RadioContext::new(
        &cfg,
        keys,
        &dir.join("radio.spill"),
        pipe.sender(),
        metrics.clone(),
        Duration::from_secs(10),
    )
    .unwrap();
    let queue = ctx.queue.clone();
    let (sim_end, host) = SerialStream::pair().unwrap();
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let source = tokio::spawn(async move { radio::run_on(host, &cfg, ctx, stop_rx).await });

    proxy.down();
    let opts = RxOptions {
        timestamp: true,
        rssi: true,
        crc: true,
        include_l_field: false,
    };
    for i in 0..fleet.len() {
        let frame = fleet.telegram(i, at, FrameFormat::NoCrc).unwrap();
        dongle.send_frame(&frame, opts, 0, 0x60).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while queue.file_len() == 0 || metrics.spill_depth.load(Ordering::SeqCst) < 30 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "backlog did not reach the disk (depth {})",
            metrics.spill_depth.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n: i64 = sqlx::query_scalar("select count(*) from reading")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing can be stored while the database is down");

    proxy.up();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = sqlx::query_scalar("select count(*) from reading")
            .fetch_one(&pool)
            .await
            .unwrap();
        if n == fleet.len() as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {n} stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    source.await.unwrap().unwrap();
    let totals = pipe.finish().await;
    dongle.close().await.unwrap();
    assert_eq!(totals.duplicates, 0);
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select m.serial, r.volume_ml from reading r join meter m using (meter_id) order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut expected: Vec<(String, i64)> = (0..fleet.len())
        .map(|i| {
            (
                fleet.generation_at(i, at).unwrap().serial.clone(),
                fleet.register_at(i, at).unwrap().ml() / 1000 * 1000,
            )
        })
        .collect();
    expected.sort();
    assert_eq!(rows, expected);
    assert!(metrics.batch_retries.load(Ordering::SeqCst) > 0);
    let _ = std::fs::remove_dir_all(dir);
}
