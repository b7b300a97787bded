//! The radio source keeps the compact-frame formats its full frames taught: over a pty, a
//! compact frame (CI 0x79) sent after its meter's full frame is stored with its own volume,
//! one sent before any full frame is a dead letter saying the format is not yet learned.

use crate::wmbus_accuracy::{compact_frame, full_frame};
use ewoda_collector::keystore::KeyStore;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::pipeline::{self, WriterConfig};
use ewoda_collector::radio::{self, RadioContext, RadioSerialConfig};
use ewoda_common::crypto::MasterKey;
use ewoda_sim::im871a::{DeviceInfo, Dongle, RxOptions};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_serial::SerialStream;

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn compact_frames_decode_from_the_format_the_source_learned(pool: PgPool) {
    sqlx::query(
        "insert into meter (serial, manufacturer, model, radio_id, register_digits)
         values ('ELS-87654321', 'ELS', 'compact', '87654321', 8)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let master = MasterKey::from_hex(&"11".repeat(32)).unwrap();
    let keys = KeyStore::load(pool.clone(), master).await.unwrap();
    let metrics = Arc::new(Metrics::default());
    let pipe = pipeline::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    let dir = std::env::temp_dir().join(format!("ewoda-serial-compact-{}", std::process::id()));
    let cfg = RadioSerialConfig::new("pty-compact");
    let ctx = RadioContext::new(
        &cfg,
        keys,
        &dir.join("radio.spill"),
        pipe.sender(),
        metrics,
        Duration::from_secs(10),
    )
    .unwrap();
    let (sim_end, host) = SerialStream::pair().unwrap();
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let source = tokio::spawn(async move { radio::run_on(host, &cfg, ctx, stop_rx).await });
    let opts = RxOptions {
        timestamp: true,
        rssi: true,
        crc: true,
        include_l_field: false,
    };
    // Compact before its full frame, then the full frame, then (a second later) compact again.
    dongle
        .send_frame(&compact_frame(), opts, 0, 0x60)
        .await
        .unwrap();
    dongle
        .send_frame(&full_frame(), opts, 0, 0x60)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    dongle
        .send_frame(&compact_frame(), opts, 0, 0x60)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(&pool, "select count(*) from reading").await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "readings not stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    source.await.unwrap().unwrap();
    pipe.finish().await;
    dongle.close().await.unwrap();
    let volumes: Vec<i64> = sqlx::query_scalar("select volume_ml from reading order by read_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(volumes, vec![1_000_000, 2_000_000]);
    let reasons: Vec<String> = sqlx::query_scalar("select reason from dead_letter")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("not yet learned"), "{reasons:?}");
    let _ = std::fs::remove_dir_all(dir);
}
