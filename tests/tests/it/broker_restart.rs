//! The MQTT path survives a broker restart in the middle of a stream: the simulator's devices
//! publish with QoS 1, the broker (a private Mosquitto with persistence) is restarted while the
//! collector is reading, and every reading ends up stored exactly once.

use chrono::{Duration, TimeZone, Utc};
use ewoda_collector::collect;
use ewoda_collector::config::CollectConfig;
use ewoda_common::crypto::MasterKey;
use ewoda_common::services::PrivateMosquitto;
use ewoda_sim::mqtt::{reading_message, Publisher};
use ewoda_sim::Fleet;
use ewoda_tests::{insert_fleet, Scratch, TestDb};
use tokio::sync::watch;

#[tokio::test]
async fn every_reading_is_stored_once_across_a_broker_restart() {
    let fleet = Fleet::generate(61, 150);
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let key = MasterKey::from_hex(&"61".repeat(32)).unwrap();
    let db = TestDb::new("broker_restart").await;
    insert_fleet(&db.pool, &fleet, start, &key).await;
    let dir = Scratch::new("broker-restart");
    let mut broker = tokio::task::spawn_blocking({
        let d = dir.0.join("mqtt");
        move || PrivateMosquitto::start(&d, false)
    })
    .await
    .unwrap()
    .unwrap();
    let url = broker.url();

    // 150 meters × 8 quarter-hours = 1,200 readings, published in four rounds.
    let rounds: Vec<Vec<_>> = (0..4)
        .map(|r| {
            (0..2)
                .flat_map(|q| {
                    let t = start + Duration::minutes(15 * (2 * r + q));
                    (0..fleet.len()).map(move |m| (m, t))
                })
                .map(|(m, t)| reading_message(&fleet, "ewoda/v1", m, t).unwrap())
                .collect()
        })
        .collect();
    let total: usize = rounds.iter().map(Vec::len).sum();

    let cfg = CollectConfig::parse(
        &format!(
            r#"
            database_url = "{}"
            mqtt_url = "{url}"
            metrics_port = 0
            drain_secs = 5
            [rules]
            interval_secs = 0
            [[sources]]
            kind = "mqtt"
            client_id = "restart-collector"
            share_group = "restart"
            [sources.security]
            username = "{user}"
            password_file = "{password_file}"
            "#,
            db.url(),
            user = broker.username(),
            password_file = broker.password_file().display(),
        ),
        "test",
    )
    .unwrap();
    let (stop, mut stopped) = watch::channel(false);
    let collector = tokio::spawn(collect::run(cfg, async move {
        let _ = stopped.changed().await;
    }));
    // Let the collector subscribe before anything is published.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    // The private broker requires its generated password from everyone.
    let login = (broker.username().to_string(), broker.password().clone());
    let mut publisher =
        Publisher::connect_as(&url, "restart-devices", Some((&login.0, login.1.expose())))
            .await
            .unwrap();
    publisher.publish_all(&rounds[0]).await.unwrap();
    publisher.publish_all(&rounds[1]).await.unwrap();
    // Restart the broker mid-stream; the publisher and the collector reconnect by themselves.
    broker = tokio::task::spawn_blocking(move || {
        broker.restart().unwrap();
        broker
    })
    .await
    .unwrap();
    publisher.publish_all(&rounds[2]).await.unwrap();
    publisher.publish_all(&rounds[3]).await.unwrap();
    publisher.close().await;

    let mut stored = 0i64;
    for _ in 0..120 {
        stored = sqlx::query_scalar("select count(*) from reading")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if stored as usize >= total {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let _ = stop.send(true);
    collector.await.unwrap().unwrap();
    tokio::task::spawn_blocking(move || broker.stop())
        .await
        .unwrap();

    assert_eq!(stored as usize, total, "every published reading stored");
    // Stored once each (the primary key makes duplicates impossible; check the values too).
    let wrong: i64 = sqlx::query_scalar("select count(*) from dead_letter")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(wrong, 0);
    for (m, t) in [(0usize, start), (149, start + Duration::minutes(105))] {
        let serial = fleet.generation_at(m, t).unwrap().serial.clone();
        let v: i64 = sqlx::query_scalar(
            "select volume_ml from reading join meter using (meter_id) where serial = $1 and read_at = $2",
        )
        .bind(&serial)
        .bind(t)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(v, fleet.register_at(m, t).unwrap().ml(), "meter {m} at {t}");
    }
    db.drop_db().await;
}
