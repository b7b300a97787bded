//! `collect::run` as `ewoda collect` runs it: MQTT and reading-set sources from a TOML config,
//! `/metrics`, and a draining shutdown.

use crate::common;

use common::broker::*;
use common::*;
use ewoda_collector::collect;
use ewoda_collector::config::CollectConfig;
use sqlx::PgPool;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get_metrics(port: u16) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn collect_runs_sources_serves_metrics_and_drains(pool: PgPool) {
    meter(&pool, "0012345", None).await;
    meter(&pool, "0012346", None).await;
    let opts = pool.connect_options();
    let db_url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        opts.get_port(),
        opts.get_database().unwrap()
    );
    let mqtt_url = mqtt_url();
    let tag = unique("c");
    let inbox = std::env::temp_dir().join(format!("ewoda-inbox-{tag}"));
    std::fs::create_dir_all(&inbox).unwrap();
    let port = ewoda_common::services::free_port().unwrap();
    let cfg = CollectConfig::parse(
        &format!(
            r#"
            database_url = "{db_url}"
            mqtt_url = "{mqtt_url}"
            metrics_port = {port}
            [rules]
            interval_secs = 0
            [[sources]]
            kind = "mqtt"
            client_id = "collect-{tag}"
            share_group = "g-{tag}"
            topic_filter = "t-{tag}/meters/+/+"
            [[sources]]
            kind = "reading_set"
            watch_dir = "{}"
            poll_secs = 1
            "#,
            inbox.display()
        ),
        "test",
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(collect::run(cfg, async move {
        let _ = stopped.await;
    }));
    // Wait for the subscription through the metrics endpoint.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Ok(text)) = tokio::time::timeout(Duration::from_secs(1), async {
            Ok::<_, ()>(
                match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    Ok(_) => get_metrics(port).await,
                    Err(_) => String::new(),
                },
            )
        })
        .await
        {
            if text.contains("ewoda_collector_mqtt_subscriptions_total 1") {
                break;
            }
        }
        if collector.is_finished() {
            panic!("collector ended: {:?}", collector.await);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "collector did not subscribe: {}",
            get_metrics(port).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let msgs: Vec<(String, Vec<u8>)> = (0..20)
        .map(|k| {
            let payload = format!(
                r#"{{"serial":"0012345","read_at":"{}","volume_m3":"{}.5"}}"#,
                at(k * 60).to_rfc3339(),
                100 + k
            );
            (
                format!("t-{tag}/meters/0012345/reading"),
                payload.into_bytes(),
            )
        })
        .collect();
    publish_all(&msgs).await;
    std::fs::write(
        inbox.join("set.txt"),
        "0012346;2026-05-04 10:15:00;7,000;TAK\r\n",
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(&pool, "select count(*) from reading").await < 21
        || !inbox.join("done/set.txt").exists()
    {
        assert!(tokio::time::Instant::now() < deadline, "not all stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = get_metrics(port).await;
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(
        text.contains("ewoda_collector_readings_stored_total 20\n"),
        "{text}"
    );
    assert!(text.contains("ewoda_collector_mqtt_inflight 0\n"), "{text}");
    // Both sources run under the supervisor: the MQTT one is up while connected.
    assert!(
        text.contains("ewoda_source_up{source=\"mqtt-0\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("ewoda_source_up{source=\"reading_set-1\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("ewoda_source_last_reading_timestamp{source=\"mqtt-0\"} 0\n"),
        "{text}"
    );
    assert_eq!(
        count(&pool, "select count(*) from alarm where kind = 'leak'").await,
        1
    );

    // A rejected file moves to failed/ with its line errors beside it.
    std::fs::write(
        inbox.join("bad.txt"),
        "0012346;2026-05-05 10:15:00;7,5;TAK\n0012346;2026-13-05 10:15:00;8;NIE\n",
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !inbox.join("failed/bad.txt.error.txt").exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bad file not rejected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        std::fs::read_to_string(inbox.join("failed/bad.txt.error.txt")).unwrap(),
        "line 2: meter 0012346: read 2026-13-05: invalid month\n"
    );

    stop.send(()).unwrap();
    let totals = collector.await.unwrap().unwrap();
    assert_eq!(totals.stored, 20);
    assert_eq!(count(&pool, "select count(*) from reading").await, 21);
    std::fs::remove_dir_all(&inbox).unwrap();
    forget_session(&format!("collect-{tag}")).await;
}
