//! `ewoda bench ingest`: the end-to-end ingest rate (MQTT publish → the collector's MQTT
//! sources → VEE → batched writer → PostgreSQL commit → PUBACK) against the raw `COPY` rate of
//! the same rows into an empty `reading` table, in a fresh database on the same machine.
//! PostgreSQL is `DATABASE_URL` (or a private cluster), the broker `MQTT_URL` (or a private
//! mosquitto). The last line printed is `ingest: <N> readings/s, <P>% of COPY`.

use crate::error::Error;
use crate::metrics::Metrics;
use crate::mqtt::{self, MqttSourceConfig};
use crate::pipeline::{self, WriterConfig};
use crate::store::{self, NewReading, Source};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use ewoda_common::services::{ServiceOptions, Services};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What the benchmark measures.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOptions {
    /// Meters in the fresh database.
    pub meters: usize,
    /// Readings per meter (15 minutes apart).
    pub readings_per_meter: usize,
    /// MQTT sources in one shared-subscription group.
    pub subscribers: usize,
    /// Each source's MQTT 5 Receive Maximum (its window of unacknowledged messages).
    pub receive_maximum: u16,
    /// Writers (each with its own transaction stream) of the one pipeline; each meter is
    /// routed to one of them.
    pub writers: usize,
    pub writer: WriterConfig,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            meters: 2_000,
            readings_per_meter: 100,
            subscribers: 100,
            receive_maximum: 20,
            writers: 2,
            writer: WriterConfig {
                batch_size: 5_000,
                channel_capacity: 8_192,
                idle_ms: 2,
                ..WriterConfig::default()
            },
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IngestFigures {
    pub readings: u64,
    pub ingest_per_s: f64,
    pub copy_per_s: f64,
}

impl IngestFigures {
    /// Ingest as a percentage of COPY.
    pub fn percent_of_copy(&self) -> f64 {
        if self.copy_per_s > 0.0 {
            100.0 * self.ingest_per_s / self.copy_per_s
        } else {
            0.0
        }
    }
}

/// Runs the benchmark with the default size and prints the report to `out`.
pub async fn run(
    out: &mut dyn Write,
    database_url: Option<String>,
) -> Result<IngestFigures, Error> {
    run_with(out, database_url, &IngestOptions::default()).await
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: what.to_string(),
        source,
    }
}

/// Runs the benchmark with explicit options.
pub async fn run_with(
    out: &mut dyn Write,
    database_url: Option<String>,
    opts: &IngestOptions,
) -> Result<IngestFigures, Error> {
    let data_dir = std::env::temp_dir().join(format!("ewoda-bench-ingest-{}", std::process::id()));
    let services = Services::start(&ServiceOptions {
        database_url: database_url.filter(|s| !s.is_empty()),
        mqtt_url: std::env::var("MQTT_URL").ok().filter(|s| !s.is_empty()),
        data_dir: data_dir.clone(),
        install_missing: true,
    })?;
    let db_name = format!("ewoda_bench_ingest_{}", std::process::id());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&services.database_url)
        .await?;
    sqlx::query(&format!("drop database if exists {db_name}"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("create database {db_name}"))
        .execute(&admin)
        .await?;
    let url = with_database(&services.database_url, &db_name);
    let result = measure(out, &url, &services.mqtt_url, opts).await;
    let _ = sqlx::query(&format!("drop database if exists {db_name} with (force)"))
        .execute(&admin)
        .await;
    admin.close().await;
    services.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
    let figures = result?;
    writeln!(
        out,
        "ingest: {:.0} readings/s, {:.0}% of COPY",
        figures.ingest_per_s,
        figures.percent_of_copy()
    )
    .map_err(io_err("stdout"))?;
    Ok(figures)
}

fn serial(k: usize) -> String {
    format!("BENCH{k:06}")
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Reading `j` of meter `k`: every 15 minutes, 10 to 70 litres more each time.
fn reading_of(k: usize, j: usize) -> (DateTime<Utc>, i64) {
    let at = epoch() + ChronoDuration::minutes(15 * j as i64);
    let ml = 1_000_000 * k as i64 + 10_000 * (j as i64) * (1 + (k as i64 % 7));
    (at, ml)
}

async fn measure(
    out: &mut dyn Write,
    url: &str,
    mqtt_url: &str,
    opts: &IngestOptions,
) -> Result<IngestFigures, Error> {
    let pool = ewoda_common::db::connect(url, 8).await?;
    ewoda_common::db::migrate(&pool).await?;
    let n = (opts.meters * opts.readings_per_meter) as u64;
    let meter_ids = insert_meters(&pool, opts.meters).await?;
    writeln!(
        out,
        "database {}, broker {mqtt_url}",
        ewoda_common::db::describe(url)
    )
    .map_err(io_err("stdout"))?;
    writeln!(
        out,
        "{n} readings of {} meters; {} MQTT 5 subscribers (Receive Maximum {}) in one shared group over {} writers of one pipeline; writer batch {} / idle {} ms",
        opts.meters, opts.subscribers, opts.receive_maximum, opts.writers.max(1), opts.writer.batch_size, opts.writer.idle_ms
    )
    .map_err(io_err("stdout"))?;

    // The collector side: one pipeline, several shared-subscription sources.
    let metrics = Arc::new(Metrics::default());
    // One pipeline routing each meter to one of its writers, so a writer owns its meters.
    let writer = WriterConfig {
        writers: opts.writers.max(1),
        owns_meters: true,
        ..opts.writer.clone()
    };
    let pipes = [pipeline::spawn(pool.clone(), writer, metrics.clone())];
    let (stop, stop_rx) = watch::channel(false);
    let group = format!("bench{}", std::process::id());
    let topic_root = format!("ewoda-bench/{}", std::process::id());
    let mut sources = Vec::new();
    for s in 0..opts.subscribers.max(1) {
        let mut cfg = MqttSourceConfig::new(format!("{group}-c{s}"));
        cfg.topic_filter = format!("{topic_root}/meters/+/+");
        cfg.share_group = Some(group.clone());
        cfg.receive_maximum = opts.receive_maximum;
        sources.push(tokio::spawn(mqtt::run(
            mqtt_url.to_string(),
            cfg,
            pipes[s % pipes.len()].sender(),
            metrics.clone(),
            stop_rx.clone(),
            Duration::from_secs(5),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while metrics.mqtt_subscribed.load(Ordering::SeqCst) < opts.subscribers.max(1) as u64 {
        if Instant::now() > deadline {
            return Err(Error::Mqtt(format!(
                "the broker at {mqtt_url} did not confirm the subscriptions within 20 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Publish everything, time-ordered as telemetry arrives, and wait until all is committed.
    let started = Instant::now();
    let mut publisher = Some(tokio::spawn(publish_all(
        mqtt_url.to_string(),
        topic_root.clone(),
        opts.meters,
        opts.readings_per_meter,
        metrics.clone(),
        // Mosquitto drops QoS 1 messages beyond a subscriber's queue (max_queued_messages,
        // 1000 by default): the publisher keeps at most the subscribers' windows plus part of
        // their queues of unstored readings out.
        (opts.subscribers.max(1) * (usize::from(opts.receive_maximum) + 100)) as u64,
    )));
    let mut last = (Instant::now(), 0u64);
    loop {
        // Every reading committed (stored, duplicate or rejected).
        let stored = metrics.readings_received.load(Ordering::Relaxed);
        if stored >= n {
            break;
        }
        if stored != last.1 {
            last = (Instant::now(), stored);
        } else if last.0.elapsed() > Duration::from_secs(60) {
            return Err(Error::Mqtt(format!(
                "ingest stalled at {stored} of {n} readings"
            )));
        }
        if let Some(p) = publisher.take_if(|p| p.is_finished()) {
            match p.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(Error::Mqtt(format!("bench publisher: {e}"))),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    for s in sources {
        let _ = s.await;
    }
    let mut totals = pipeline::BatchReport::default();
    for p in pipes {
        let t = p.finish().await;
        totals.readings += t.readings;
        totals.stored += t.stored;
        totals.duplicates += t.duplicates;
        totals.dead_letters += t.dead_letters;
    }
    if let Some(p) = publisher {
        p.abort();
    }
    let batches = metrics.batches.load(Ordering::Relaxed).max(1);
    let batch_ms = metrics.batch_seconds_sum_us.load(Ordering::Relaxed) as f64 / 1000.0;
    let stored: i64 = sqlx::query_scalar("select count(*) from reading")
        .fetch_one(&pool)
        .await?;
    writeln!(
        out,
        "end to end: {} stored ({} duplicates, {} dead letters) in {ingest_s:.2} s; {batches} batches, mean {:.0} readings and {:.1} ms each ({:.0}% of the wall time in commits)",
        totals.stored,
        totals.duplicates,
        totals.dead_letters,
        totals.readings as f64 / batches as f64,
        batch_ms / batches as f64,
        100.0 * batch_ms / 1000.0 / ingest_s
    )
    .map_err(io_err("stdout"))?;
    if stored as u64 != n {
        return Err(Error::Mqtt(format!(
            "{stored} readings in the table, expected {n}"
        )));
    }

    // The same rows with COPY into the emptied table (partitions already exist).
    let rows: Vec<NewReading> = (0..opts.readings_per_meter)
        .flat_map(|j| {
            meter_ids.iter().enumerate().map(move |(k, id)| {
                let (read_at, volume_ml) = reading_of(k, j);
                NewReading {
                    meter_id: *id,
                    read_at,
                    volume_ml,
                    source: Source::Mqtt,
                    quality: 1,
                }
            })
        })
        .collect();
    sqlx::query("truncate reading, reading_daily")
        .execute(&pool)
        .await?;
    let mut conn = pool.acquire().await?;
    let t = Instant::now();
    let copied = store::copy_readings(&mut conn, &rows).await?;
    let copy_s = t.elapsed().as_secs_f64();
    drop(conn);
    writeln!(out, "COPY: {copied} rows in {copy_s:.2} s").map_err(io_err("stdout"))?;
    pool.close().await;
    Ok(IngestFigures {
        readings: n,
        ingest_per_s: n as f64 / ingest_s,
        copy_per_s: copied as f64 / copy_s.max(1e-9),
    })
}

async fn insert_meters(pool: &PgPool, meters: usize) -> Result<Vec<i64>, Error> {
    let serials: Vec<String> = (0..meters).map(serial).collect();
    let ids: Vec<(i64, String)> = sqlx::query_as(
        "insert into meter (serial, manufacturer, model, register_digits)
         select s, 'APA', 'BENCH', 8 from unnest($1::text[]) s
         returning meter_id, serial",
    )
    .bind(&serials)
    .fetch_all(pool)
    .await?;
    let mut by_serial: std::collections::HashMap<String, i64> =
        ids.into_iter().map(|(id, s)| (s, id)).collect();
    Ok(serials.iter().filter_map(|s| by_serial.remove(s)).collect())
}

/// Publishes every reading with QoS 1 from one client and waits for the broker's PUBACKs.
async fn publish_all(
    url: String,
    topic_root: String,
    meters: usize,
    per_meter: usize,
    metrics: Arc<Metrics>,
    window: u64,
) -> Result<(), Error> {
    let (host, port) = mqtt::parse_mqtt_url(&url)?;
    let mut o = MqttOptions::new(format!("bench-pub-{}", std::process::id()), host, port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000)
        .set_clean_session(true);
    let (client, mut events) = AsyncClient::new(o, 10_000);
    let total = meters * per_meter;
    let driver = tokio::spawn(async move {
        let mut acked = 0usize;
        while acked < total {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => return Err(Error::Mqtt(format!("bench publisher: {e}"))),
            }
        }
        Ok(())
    });
    let mut published = 0u64;
    for j in 0..per_meter {
        for k in 0..meters {
            while published >= window + metrics.readings_received.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            published += 1;
            let (at, ml) = reading_of(k, j);
            let s = serial(k);
            let payload = format!(
                r#"{{"serial":"{s}","read_at":"{}","volume_m3":"{}.{:06}"}}"#,
                at.format("%Y-%m-%dT%H:%M:%SZ"),
                ml / 1_000_000,
                ml % 1_000_000
            );
            client
                .publish(
                    format!("{topic_root}/meters/{s}/reading"),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await
                .map_err(|e| Error::Mqtt(format!("bench publisher: {e}")))?;
        }
    }
    let r = driver
        .await
        .map_err(|e| Error::Mqtt(format!("bench publisher: {e}")))?;
    let _ = client.try_disconnect();
    r
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base.get(scheme_end..).and_then(|r| r.find('/')) {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_bench_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u@h/x?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "b"), "postgres://u@h/b");
    }

    #[test]
    fn readings_grow_and_percentages_are_of_copy() {
        let (a0, v0) = reading_of(3, 0);
        let (a1, v1) = reading_of(3, 1);
        assert_eq!(a1 - a0, ChronoDuration::minutes(15));
        assert_eq!(v1 - v0, 40_000);
        let f = IngestFigures {
            readings: 10,
            ingest_per_s: 50.0,
            copy_per_s: 200.0,
        };
        assert_eq!(f.percent_of_copy(), 25.0);
    }
}
