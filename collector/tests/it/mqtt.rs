//! The MQTT source end to end with a real Mosquitto and PostgreSQL: exactly-once storage,
//! acks only after commit (redelivery after a crash), dead letters, shared subscriptions,
//! and a PostgreSQL restart in the middle of a stream.

use crate::common;

use common::broker::*;
use common::*;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::mqtt::{self, MqttSourceConfig};
use ewoda_collector::pipeline::{self, PipelineHandle, WriterConfig};
use sqlx::PgPool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) fn reading_msg(prefix: &str, serial: &str, minute: i64, ml: i64) -> (String, Vec<u8>) {
    let m3 = ewoda_common::Volume::from_ml(ml).m3();
    (
        format!("{prefix}/meters/{serial}/reading"),
        format!(
            r#"{{"serial":"{serial}","read_at":"{}","volume_m3":"{m3}"}}"#,
            at(minute).to_rfc3339()
        )
        .into_bytes(),
    )
}

pub(crate) struct Collector {
    pub stop: watch::Sender<bool>,
    pub source: JoinHandle<Result<(), ewoda_collector::error::Error>>,
    pub pipeline: PipelineHandle,
    pub metrics: Arc<Metrics>,
}

/// A source config for the test's topics, client and group.
pub(crate) fn config(prefix: &str, client_id: &str, group: &str) -> MqttSourceConfig {
    MqttSourceConfig {
        topic_filter: format!("{prefix}/meters/+/+"),
        share_group: Some(group.into()),
        keep_alive_secs: 5,
        receive_maximum: 100,
        ..MqttSourceConfig::new(client_id)
    }
}

fn start(pool: &PgPool, prefix: &str, client_id: &str, group: &str) -> Collector {
    start_with(pool, config(prefix, client_id, group), mqtt_url())
}

/// A pipeline and one source of `cfg` on the broker at `url`.
pub(crate) fn start_with(pool: &PgPool, cfg: MqttSourceConfig, url: String) -> Collector {
    let metrics = Arc::new(Metrics::default());
    let pipeline = pipeline::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    let (stop, rx) = watch::channel(false);
    let source = tokio::spawn(mqtt::run(
        url,
        cfg,
        pipeline.sender(),
        metrics.clone(),
        rx,
        Duration::from_secs(10),
    ));
    Collector {
        stop,
        source,
        pipeline,
        metrics,
    }
}

impl Collector {
    pub(crate) async fn subscribed(&self) {
        wait_for("subscription", || async {
            self.metrics.mqtt_subscribed.load(Ordering::SeqCst) > 0
        })
        .await;
    }

    pub(crate) async fn shutdown(self) {
        self.stop.send(true).unwrap();
        self.source.await.unwrap().unwrap();
        self.pipeline.finish().await;
    }

    /// A crash: tasks gone, nothing flushed.
    fn kill(self) {
        self.source.abort();
        self.pipeline.abort();
    }
}

pub(crate) async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(-1)
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn n_readings_stored_exactly_once_and_bad_messages_dead_lettered(pool: PgPool) {
    for s in ["M1", "M2", "M3"] {
        meter(&pool, s, None).await;
    }
    let prefix = unique("t-once");
    let id = unique("c-once");
    let c = start(&pool, &prefix, &id, &unique("g"));
    c.subscribed().await;
    let mut msgs: Vec<(String, Vec<u8>)> = Vec::new();
    for k in 0..100 {
        for s in ["M1", "M2", "M3"] {
            msgs.push(reading_msg(&prefix, s, k * 15, 1_000_000 + k * 3_000));
        }
    }
    // The same reading published again (a device retry): stored once.
    msgs.push(reading_msg(&prefix, "M1", 0, 1_000_000));
    msgs.push((
        format!("{prefix}/meters/M1/reading"),
        b"{\"serial\":".to_vec(),
    ));
    msgs.push(reading_msg(&prefix, "UNKNOWN", 0, 1));
    msgs.push((
        format!("{prefix}/meters/M2/alarm"),
        format!(r#"{{"serial":"M2","kind":"leak","active":true,"at":"{}","details":{{"flow_m3h":"0.4"}}}}"#, at(30).to_rfc3339()).into_bytes(),
    ));
    publish_all(&msgs).await;
    wait_for("all acked", || async {
        c.metrics.mqtt_acked.load(Ordering::SeqCst) == msgs.len() as u64
    })
    .await;
    assert_eq!(count(&pool, "select count(*) from reading").await, 300);
    assert_eq!(
        count(
            &pool,
            "select count(distinct (meter_id, read_at)) from reading"
        )
        .await,
        300
    );
    let reasons = dead_reasons(&pool).await;
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("invalid JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"unknown meter UNKNOWN".to_string()),
        "{reasons:?}"
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from alarm where kind = 'leak' and state = 'open'"
        )
        .await,
        1
    );
    assert_eq!(c.metrics.readings_duplicate.load(Ordering::SeqCst), 1);
    assert_eq!(c.metrics.dead_letters("malformed"), 1);
    assert_eq!(c.metrics.dead_letters("unknown_meter"), 1);
    assert_eq!(c.metrics.mqtt_inflight.load(Ordering::SeqCst), 0);
    c.shutdown().await;
    forget_session(&id).await;
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn nothing_is_acked_before_commit_so_a_crash_loses_nothing(pool: PgPool) {
    meter(&pool, "K1", None).await;
    let prefix = unique("t-crash");
    let id = unique("c-crash");
    let group = unique("g");
    // First life: the database is unreachable, so nothing commits and nothing is acked.
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let c = start(&dead, &prefix, &id, &group);
    c.subscribed().await;
    let msgs: Vec<_> = (0..60)
        .map(|k| reading_msg(&prefix, "K1", k, 1_000 * k))
        .collect();
    publish_all(&msgs).await;
    wait_for("deliveries", || async {
        c.metrics.mqtt_received.load(Ordering::SeqCst) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.metrics.mqtt_acked.load(Ordering::SeqCst), 0);
    c.kill();
    // Second life, same client id: the broker redelivers everything unacked.
    let c = start(&pool, &prefix, &id, &group);
    wait_for("redelivery", || async {
        count(&pool, "select count(*) from reading").await == 60
    })
    .await;
    wait_for("acks", || async {
        c.metrics.mqtt_inflight.load(Ordering::SeqCst) == 0
    })
    .await;
    // Third life after a crash right after commit: redeliveries are stored once.
    c.kill();
    let c = start(&pool, &prefix, &id, &group);
    c.subscribed().await;
    publish_all(&msgs[..10]).await;
    wait_for("acks", || async {
        c.metrics.mqtt_acked.load(Ordering::SeqCst) >= 10
    })
    .await;
    assert_eq!(count(&pool, "select count(*) from reading").await, 60);
    c.shutdown().await;
    forget_session(&id).await;
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn two_collectors_on_one_shared_subscription_store_each_message_once(pool: PgPool) {
    meter(&pool, "S1", None).await;
    meter(&pool, "S2", None).await;
    let prefix = unique("t-share");
    let group = unique("g");
    let (id_a, id_b) = (unique("c-a"), unique("c-b"));
    let a = start(&pool, &prefix, &id_a, &group);
    let b = start(&pool, &prefix, &id_b, &group);
    a.subscribed().await;
    b.subscribed().await;
    let msgs: Vec<_> = (0..200)
        .map(|k| reading_msg(&prefix, if k % 2 == 0 { "S1" } else { "S2" }, k, 10_000 * k))
        .collect();
    publish_all(&msgs).await;
    wait_for("all stored", || async {
        count(&pool, "select count(*) from reading").await == 200
    })
    .await;
    let (ra, rb) = (
        a.metrics.mqtt_received.load(Ordering::SeqCst),
        b.metrics.mqtt_received.load(Ordering::SeqCst),
    );
    assert_eq!(ra + rb, 200, "each message went to one collector");
    assert!(ra > 0 && rb > 0, "the group split the load: {ra} / {rb}");
    assert_eq!(
        a.metrics.readings_duplicate.load(Ordering::SeqCst)
            + b.metrics.readings_duplicate.load(Ordering::SeqCst),
        0
    );
    a.shutdown().await;
    b.shutdown().await;
    forget_session(&id_a).await;
    forget_session(&id_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_stream_loses_and_duplicates_nothing() {
    let dir =
        std::path::PathBuf::from(format!("/var/tmp/{}", unique("ewoda-pg-restart"))).join("pg");
    let pg = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || ewoda_common::services::PrivatePostgres::start(&dir, false)
    })
    .await
    .unwrap()
    .expect("private PostgreSQL starts");
    let pool = ewoda_common::db::connect(&pg.url("ewoda"), 4)
        .await
        .unwrap();
    ewoda_common::db::migrate(&pool).await.unwrap();
    meter(&pool, "P1", None).await;
    meter(&pool, "P2", None).await;
    let prefix = unique("t-pgrestart");
    let id = unique("c-pgrestart");
    let c = start(&pool, &prefix, &id, &unique("g"));
    c.subscribed().await;
    let msgs: Vec<_> = (0..400)
        .map(|k| reading_msg(&prefix, if k % 2 == 0 { "P1" } else { "P2" }, k, 5_000 * k))
        .collect();
    // The stream keeps coming while the server stops and starts.
    let publisher = tokio::spawn({
        let msgs = msgs.clone();
        async move {
            for chunk in msgs.chunks(20) {
                publish_all(chunk).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    wait_for("first readings", || async {
        count(&pool, "select count(*) from reading").await >= 60
    })
    .await;
    let stored_before_restart = count(&pool, "select count(*) from reading").await;
    let pg = tokio::task::spawn_blocking(move || {
        let mut pg = pg;
        pg.restart().expect("PostgreSQL restarts");
        pg
    })
    .await
    .unwrap();
    publisher.await.unwrap();
    wait_for("all stored", || async {
        count(&pool, "select count(*) from reading").await == 400
    })
    .await;
    wait_for("acks", || async {
        c.metrics.mqtt_inflight.load(Ordering::SeqCst) == 0
    })
    .await;
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
        "select m.serial, r.read_at, r.volume_ml from reading r join meter m using (meter_id) order by r.read_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected: Vec<(String, chrono::DateTime<chrono::Utc>, i64)> = (0..400)
        .map(|k| {
            (
                if k % 2 == 0 { "P1" } else { "P2" }.to_string(),
                at(k),
                5_000 * k,
            )
        })
        .collect();
    assert_eq!(rows, expected);
    // The stream really straddled the restart (the writer's retry path itself is covered by
    // the spill test, where the database stays away long enough to fail transactions).
    assert!(stored_before_restart < 400, "{stored_before_restart}");
    c.shutdown().await;
    forget_session(&id).await;
    pool.close().await;
    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn oversized_and_non_plain_messages_become_dead_letters_with_reasons(pool: PgPool) {
    meter(&pool, "L1", None).await;
    let prefix = unique("t-limits");
    let id = unique("c-limits");
    let mut cfg = config(&prefix, &id, &unique("g"));
    cfg.max_payload_bytes = 4096;
    let c = start_with(&pool, cfg, mqtt_url());
    c.subscribed().await;
    let topic = format!("{prefix}/meters/L1/reading");
    // 300 kB: over the payload limit, and over the 256 KiB packet limit the client used to
    // announce, past which the broker acked the publish and then dropped it unseen.
    let big = format!(
        r#"{{"serial":"L1","read_at":"{}","volume_m3":"1.5","pad":"{}"}}"#,
        at(1).to_rfc3339(),
        "x".repeat(300_000)
    );
    let plain = |read_at: &str, volume: &str| {
        format!(r#"{{"serial":"L1","read_at":"{read_at}","volume_m3":"{volume}"}}"#).into_bytes()
    };
    let big_len = big.len();
    let msgs = vec![
        reading_msg(&prefix, "L1", 0, 1_000_000),
        (topic.clone(), big.into_bytes()),
        (topic.clone(), plain(&at(2).to_rfc3339(), "1e1")),
        (topic.clone(), plain("2026-05-04T10:15:00", "2")),
        reading_msg(&prefix, "L1", 3, 2_000_000),
    ];
    publish_all(&msgs).await;
    wait_for("all acked", || async {
        c.metrics.mqtt_acked.load(Ordering::SeqCst) == msgs.len() as u64
    })
    .await;
    assert_eq!(count(&pool, "select count(*) from reading").await, 2);
    let reasons = dead_reasons(&pool).await;
    assert_eq!(
        reasons,
        [
            format!("topic {topic}: payload of {big_len} bytes is over max_payload_bytes 4096 (its first 1024 bytes kept)"),
            format!("topic {topic}: volume_m3 \"1e1\" is not a plain decimal number (digits with an optional '.', e.g. \"123.456\")"),
            format!("topic {topic}: read_at \"2026-05-04T10:15:00\" has no UTC offset: add Z or e.g. +02:00 (RFC 3339)"),
        ]
    );
    assert_eq!(
        count(
            &pool,
            "select max(length(payload))::bigint from dead_letter"
        )
        .await,
        1024
    );
    assert_eq!(c.metrics.mqtt_oversized.load(Ordering::SeqCst), 1);
    assert_eq!(c.metrics.dead_letters("too_large"), 1);
    assert!(c
        .metrics
        .render()
        .contains("\newoda_collector_mqtt_oversized_total 1\n"));
    c.shutdown().await;
    forget_session(&id).await;
}
