//! `ewoda collect` keeps its sources running: a radio receiver on a pty that is unplugged
//! (the pty closed) is marked down in `/metrics`, makes `/healthz` answer 503 once down past
//! its grace period, and is reopened by itself when plugged back (a new pty behind the same
//! device path), after which its readings flow again.

use crate::common;
use crate::float_registers::wmbus_frame;

use common::broker::unique;
use ewoda_collector::collect;
use ewoda_collector::config::CollectConfig;
use sqlx::PgPool;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort, SerialStream};

async fn http_get(port: u16, path: &str) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let req = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}

async fn eventually(what: &str, port: u16, path: &str, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = http_get(port, path).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {needle:?} not in {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pty whose slave end `link` points to; returns the master end (the "dongle").
fn plug_in(link: &std::path::Path) -> SerialStream {
    let (master, slave) = SerialStream::pair().unwrap();
    let name = slave.name().expect("pty slave path");
    drop(slave);
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&name, link).unwrap();
    master
}

/// A hex line with an unencrypted telegram of meter ZRI 12345678 at `litres`.
fn telegram_line(litres: u32) -> Vec<u8> {
    let mut records = vec![0x04, 0x13];
    records.extend(litres.to_le_bytes());
    format!("{}\n", hex::encode_upper(wmbus_frame(&records))).into_bytes()
}

async fn readings(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from reading")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn an_unplugged_dongle_is_reported_and_reopened_when_plugged_back(pool: PgPool) {
    sqlx::query("insert into meter (serial, manufacturer, model, radio_id) values ('Z1', 'ZRI', 'X', '12345678')")
        .execute(&pool)
        .await
        .unwrap();
    let opts = pool.connect_options();
    let db_url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        opts.get_port(),
        opts.get_database().unwrap()
    );
    let dir = std::env::temp_dir().join(unique("ewoda-supervised"));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("master.key");
    std::fs::write(&key, "5a".repeat(32)).unwrap();
    let link = dir.join("dongle");
    let mut dongle = plug_in(&link);
    let port = ewoda_common::services::free_port().unwrap();
    let cfg = CollectConfig::parse(
        &format!(
            r#"
            database_url = "{db_url}"
            metrics_port = {port}
            master_key_file = "{}"
            spill_dir = "{}"
            source_grace_secs = 1
            [rules]
            interval_secs = 0
            [[sources]]
            kind = "radio_serial"
            path = "{}"
            framing = "hex_lines"
            "#,
            key.display(),
            dir.join("spill").display(),
            link.display()
        ),
        "test",
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(collect::run(cfg, async move {
        let _ = stopped.await;
    }));
    eventually(
        "running",
        port,
        "/metrics",
        "ewoda_source_up{source=\"radio_serial-0\"} 1",
    )
    .await;
    dongle.write_all(&telegram_line(1_000)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while readings(&pool).await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first reading not stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = http_get(port, "/metrics").await;
    assert!(
        !metrics.contains("ewoda_source_last_reading_timestamp{source=\"radio_serial-0\"} 0\n"),
        "{metrics}"
    );
    let health = http_get(port, "/healthz").await;
    assert!(health.contains(" 200 OK"), "{health}");

    // Unplugged: the line closes, the source is down and, past its grace, unhealthy.
    drop(dongle);
    eventually(
        "down",
        port,
        "/metrics",
        "ewoda_source_up{source=\"radio_serial-0\"} 0",
    )
    .await;
    let health = eventually("unhealthy", port, "/healthz", "radio_serial-0 (down").await;
    assert!(health.contains(" 503 Service Unavailable"), "{health}");

    // Plugged back: the supervisor reopens the path by itself and readings flow again.
    let mut dongle = plug_in(&link);
    eventually(
        "back up",
        port,
        "/metrics",
        "ewoda_source_up{source=\"radio_serial-0\"} 1",
    )
    .await;
    eventually("healthy", port, "/healthz", "200 OK").await;
    dongle.write_all(&telegram_line(2_000)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while readings(&pool).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reading after replug not stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    collector.await.unwrap().unwrap();
    drop(dongle);
    std::fs::remove_dir_all(&dir).unwrap();
}
