//! A source that cannot be re-asked (radio) while PostgreSQL is unreachable: readings spill
//! to disk and are all stored, once, after the database comes back.

use crate::common;

use common::proxy::pool_behind_proxy;
use common::*;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::pipeline::{self, MeterReading, MeterRef, WriterConfig};
use ewoda_collector::spill::{self, SpillQueue};
use ewoda_collector::store::Source;
use ewoda_common::Volume;
use sqlx::PgPool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn radio_readings_spill_while_the_database_is_down(pool: PgPool) {
    let m = meter(&pool, "R1", Some("00112233")).await;
    let (proxy, via_proxy) = pool_behind_proxy(&pool).await;
    let metrics = Arc::new(Metrics::default());
    let cfg = WriterConfig {
        channel_capacity: 8,
        batch_size: 16,
        ..WriterConfig::default()
    };
    let pipe = pipeline::spawn(via_proxy, cfg, metrics.clone());
    let dir = std::env::temp_dir().join(format!("ewoda-spill-it-{}", std::process::id()));
    let q = SpillQueue::open(&dir.join("radio.spill"), 20, 10 << 20, metrics.clone()).unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let pump = tokio::spawn(spill::pump(q.clone(), pipe.sender(), stop_rx));

    proxy.down();
    let reading = |i: i64| MeterReading {
        meter: MeterRef::Radio {
            manufacturer: "APA".into(),
            id: "00112233".into(),
        },
        read_at: at(i),
        volume: Volume::from_ml(1_000_000 + i * 2_000),
        status: vec![],
        source: Source::Wmbus,
    };
    for i in 0..300 {
        q.push(reading(i)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n: i64 = sqlx::query_scalar("select count(*) from reading")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert!(q.file_len() > 0, "the backlog went to disk");
    assert!(metrics.spill_depth.load(Ordering::SeqCst) > 250);

    proxy.up();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = sqlx::query_scalar("select count(*) from reading")
            .fetch_one(&pool)
            .await
            .unwrap();
        if n == 300 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {n} stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = stored(&pool, m).await;
    let expected: Vec<(chrono::DateTime<chrono::Utc>, i64)> =
        (0..300).map(|i| (at(i), 1_000_000 + i * 2_000)).collect();
    assert_eq!(
        rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        expected
    );
    assert!(metrics.batch_retries.load(Ordering::SeqCst) > 0);
    // Drained and committed: the file empties.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while q.file_len() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "spill file not truncated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    pump.await.unwrap().unwrap();
    pipe.finish().await;
    std::fs::remove_dir_all(dir).unwrap();
}
