//! The MQTT source on a broker other than Mosquitto: NATS' MQTT gateway (a private
//! nats-server with JetStream, started here), which speaks only MQTT 3.1.1 and accepts a
//! `$share/…` subscription without serving it. Told to speak MQTT 5 the source stops with an
//! error that says so; `auto` falls back to 3.1.1 and stores every reading with
//! `share_group = false`; a shared subscription that stays silent while its topics carry
//! traffic is reported.

use crate::common;
use crate::mqtt::{config, count, reading_msg, start_with, wait_for};

use common::broker::unique;
use common::brokers::{nats_mqtt, publish_to};
use common::*;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::mqtt::{self, Protocol};
use ewoda_collector::pipeline::{self, WriterConfig};
use sqlx::PgPool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn nats_refuses_mqtt_5_by_name_and_auto_falls_back_to_3_1_1(pool: PgPool) {
    meter(&pool, "N1", None).await;
    let nats = nats_mqtt();
    let url = format!("mqtt://127.0.0.1:{}", nats.port);
    let prefix = unique("t-nats");

    let mut five = config(&prefix, &unique("c-five"), "g");
    five.protocol = Protocol::V5;
    five.share_group = None;
    let metrics = Arc::new(Metrics::default());
    let pipe = pipeline::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    let (_stop, rx) = watch::channel(false);
    let run = mqtt::run(
        url.clone(),
        five,
        pipe.sender(),
        metrics,
        rx,
        Duration::from_secs(1),
    );
    let e = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("a refused protocol must end the source, not reconnect forever")
        .expect_err("NATS does not speak MQTT 5")
        .to_string();
    pipe.finish().await;
    assert!(
        e.contains(&format!("the broker {url} refused MQTT 5"))
            && e.contains("set protocol = \"3.1.1\" or \"auto\""),
        "{e}"
    );

    let mut auto = config(&prefix, &unique("c-auto"), "g");
    auto.share_group = None;
    let c = start_with(&pool, auto, url.clone());
    c.subscribed().await;
    let msgs: Vec<_> = (0..50)
        .map(|k| reading_msg(&prefix, "N1", k, 1_000 * k))
        .collect();
    publish_to("127.0.0.1", nats.port, None, &msgs).await;
    wait_for("readings through NATS", || async {
        count(&pool, "select count(*) from reading").await == 50
    })
    .await;
    wait_for("acks", || async {
        c.metrics.mqtt_acked.load(Ordering::SeqCst) == 50
    })
    .await;
    c.shutdown().await;
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_shared_subscription_nats_does_not_serve_is_reported(pool: PgPool) {
    meter(&pool, "N2", None).await;
    let nats = nats_mqtt();
    let url = format!("mqtt://127.0.0.1:{}", nats.port);
    let prefix = unique("t-share");
    let mut cfg = config(&prefix, &unique("c-share"), &unique("g"));
    cfg.silence_check_secs = 2;
    let c = start_with(&pool, cfg, url);
    c.subscribed().await;
    // Devices keep publishing while the check listens.
    let publisher = tokio::spawn(async move {
        for k in 0..40 {
            let m = reading_msg(&prefix, "N2", k, 1_000 * k);
            publish_to("127.0.0.1", nats.port, None, &[m]).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        nats
    });
    wait_for("the silent-subscription warning", || async {
        c.metrics.mqtt_silent_subscriptions.load(Ordering::SeqCst) > 0
    })
    .await;
    assert_eq!(c.metrics.mqtt_received.load(Ordering::SeqCst), 0);
    assert!(c
        .metrics
        .render()
        .contains("\newoda_collector_mqtt_silent_subscriptions_total 1\n"));
    c.shutdown().await;
    drop(publisher.await.unwrap());
}
