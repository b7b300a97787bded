//! `ewoda bench ingest`: the end-to-end ingest rate against the raw `COPY` rate of the same
//! rows into an empty `reading` table, in a fresh database on the same machine. Two paths:
//! - serial: a simulated iM871A dongle writes encrypted wM-Bus telegrams (OMS mode 5) to a pty
//!   → the collector's radio source (HCI framing, AES decryption with the database's keys,
//!   status profile, spill queue) → VEE → batched writer → PostgreSQL commit;
//! - mqtt: QoS 1 publishes → the broker → the collector's MQTT sources (a shared subscription,
//!   or one subscriber per topic partition) → VEE → batched writer → PostgreSQL commit →
//!   PUBACK; beside it the bare broker rate: the same publishes to as many plain subscribers,
//!   no database, so the collector's own share of the limit shows.
//!
//! PostgreSQL is `DATABASE_URL` (or a private cluster), the broker each `--mqtt-url` in turn
//! (else `MQTT_URL`, else a private mosquitto). The last line printed is
//! `ingest: <N> readings/s, <P>% of COPY`.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};
use ewoda_collector::error::Error;
use ewoda_collector::keystore::KeyStore;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::mqtt::{self, MqttSourceConfig};
use ewoda_collector::pipeline::{self, WriterConfig};
use ewoda_collector::radio::{self, RadioContext, RadioSerialConfig, ReadClock};
use ewoda_collector::store::{self, NewReading, Source};
use ewoda_common::crypto::MasterKey;
use ewoda_common::services::{ServiceOptions, Services};
use ewoda_sim::im871a::{rx_message, DeviceInfo, Dongle, RxOptions};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::Fleet;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The source the readings come through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestPath {
    /// A simulated iM871A radio dongle on a pty pair.
    Serial,
    /// QoS 1 MQTT through the broker.
    Mqtt,
}

impl std::str::FromStr for IngestPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "serial" => Ok(IngestPath::Serial),
            "mqtt" => Ok(IngestPath::Mqtt),
            other => Err(format!("unknown ingest path {other:?} (serial or mqtt)")),
        }
    }
}

/// What the benchmark measures.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOptions {
    pub path: IngestPath,
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
    /// Serial: telegrams the simulated dongle may be ahead of the committed readings (a real
    /// line is paced by the radio; a pty is not, and the rest would wait in the spill queue).
    pub serial_window: usize,
    pub writer: WriterConfig,
    /// MQTT: the brokers to measure one after the other (empty: `MQTT_URL` or a private one).
    pub mqtt_urls: Vec<String>,
    /// MQTT: each subscriber on its own topic partition instead of one shared subscription
    /// (brokers without shared subscriptions, e.g. NATS).
    pub partitions: bool,
    /// MQTT: the user name and password every client sends (the private mosquitto's own,
    /// set by [`run_with`] when it started one).
    pub login: Option<(String, ewoda_common::secret::Password)>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            path: IngestPath::Serial,
            meters: 2_000,
            readings_per_meter: 100,
            subscribers: 10,
            receive_maximum: 1000,
            writers: 2,
            serial_window: 20_000,
            writer: WriterConfig {
                batch_size: 5_000,
                channel_capacity: 8_192,
                idle_ms: 2,
                ..WriterConfig::default()
            },
            mqtt_urls: Vec::new(),
            partitions: false,
            login: None,
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
        mqtt_url: opts
            .mqtt_urls
            .first()
            .cloned()
            .or_else(|| std::env::var("MQTT_URL").ok())
            .filter(|s| !s.is_empty()),
        data_dir: data_dir.clone(),
        install_missing: true,
    })?;
    let brokers = match opts.path {
        IngestPath::Mqtt if !opts.mqtt_urls.is_empty() => opts.mqtt_urls.clone(),
        _ => vec![services.mqtt_url.clone()],
    };
    // The private mosquitto asks for its generated login; brokers given by URL get none.
    let private_login = services
        .private_mosquitto()
        .map(|m| (m.username().to_string(), m.password().clone()));
    let mut result = Err(Error::Bench("no broker to measure".into()));
    for broker in &brokers {
        let opts = IngestOptions {
            login: opts.login.clone().or_else(|| {
                private_login
                    .clone()
                    .filter(|_| *broker == services.mqtt_url)
            }),
            ..opts.clone()
        };
        result = measure_in_fresh_database(out, &services.database_url, broker, &opts).await;
        if result.is_err() {
            break;
        }
    }
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

/// One measurement in a database made for it (and dropped after); on the MQTT path followed
/// by the bare broker rate and a summary line for the broker.
async fn measure_in_fresh_database(
    out: &mut dyn Write,
    database_url: &str,
    broker: &str,
    opts: &IngestOptions,
) -> Result<IngestFigures, Error> {
    let db_name = format!("ewoda_bench_ingest_{}", std::process::id());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await?;
    sqlx::query(&format!("drop database if exists {db_name}"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("create database {db_name}"))
        .execute(&admin)
        .await?;
    let url = with_database(database_url, &db_name);
    let result = measure(out, &url, broker, opts).await;
    let _ = sqlx::query(&format!("drop database if exists {db_name} with (force)"))
        .execute(&admin)
        .await;
    admin.close().await;
    let figures = result?;
    if opts.path == IngestPath::Mqtt {
        let bare = broker_rate(broker, opts).await?;
        writeln!(
            out,
            "broker {broker}: ingest {:.0} readings/s, {:.0}% of COPY; the broker alone (publish → subscribe, no database) {bare:.0} messages/s",
            figures.ingest_per_s,
            figures.percent_of_copy()
        )
        .map_err(io_err("stdout"))?;
    }
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

/// What one ingest run did.
struct Ingested {
    seconds: f64,
    totals: pipeline::BatchReport,
    /// Telegrams the decoder refused (stored as dead letters).
    undecodable: u64,
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
    let metrics = Arc::new(Metrics::default());
    // One pipeline routing each meter to one of its writers, so a writer owns its meters.
    let writer = WriterConfig {
        writers: opts.writers.max(1),
        owns_meters: true,
        ..opts.writer.clone()
    };
    let (ingested, source) = match opts.path {
        IngestPath::Mqtt => {
            let meter_ids = insert_meters(&pool, opts.meters).await?;
            if meter_ids.len() != opts.meters {
                return Err(Error::Bench("meters missing".into()));
            }
            writeln!(
                out,
                "path: MQTT — QoS 1 publishes → broker {mqtt_url} → {} subscribers (MQTT 5 with Receive Maximum {}, or 3.1.1 where the broker refuses 5) {} → VEE → {} writers → PostgreSQL commit → PUBACK",
                opts.subscribers, opts.receive_maximum,
                if opts.partitions { "each on its own topic partition" } else { "in one shared group" },
                writer.writers
            )
            .map_err(io_err("stdout"))?;
            (
                ingest_mqtt(&pool, mqtt_url, opts, writer, &metrics, n).await?,
                Source::Mqtt,
            )
        }
        IngestPath::Serial => {
            writeln!(
                out,
                "path: serial — simulated iM871A dongle on a pty pair (not paced at the line's baud rate; at most {} telegrams ahead of the stored readings) → radio source (HCI frames, OMS mode 5 AES, status profile, spill queue) → VEE → {} writers → PostgreSQL commit",
                opts.serial_window, writer.writers
            )
            .map_err(io_err("stdout"))?;
            (
                ingest_serial(&pool, opts, writer, &metrics, n).await?,
                Source::Wmbus,
            )
        }
    };
    writeln!(
        out,
        "database {}; {n} readings of {} meters, 15 minutes apart; writer batch {} / idle {} ms",
        ewoda_common::db::describe(url),
        opts.meters,
        opts.writer.batch_size,
        opts.writer.idle_ms
    )
    .map_err(io_err("stdout"))?;
    let Ingested {
        seconds,
        totals,
        undecodable,
    } = ingested;
    let batches = metrics.batches.load(Ordering::Relaxed).max(1);
    let batch_ms = metrics.batch_seconds_sum_us.load(Ordering::Relaxed) as f64 / 1000.0;
    writeln!(
        out,
        "end to end: {} stored ({} duplicates, {} dead letters) in {seconds:.2} s; {batches} batches, mean {:.0} readings and {:.1} ms each ({:.0}% of the wall time in commits)",
        totals.stored,
        totals.duplicates,
        totals.dead_letters,
        totals.readings as f64 / batches as f64,
        batch_ms / batches as f64,
        100.0 * batch_ms / 1000.0 / seconds
    )
    .map_err(io_err("stdout"))?;

    // The writer's rollups must equal a full recompute of the stored readings.
    let daily_sql = "select meter_id, day, first_read_at, last_read_at, first_volume_ml,
                            last_volume_ml, consumption_ml, reading_count, quality
                     from reading_daily order by meter_id, day";
    type Daily = (
        i64,
        NaiveDate,
        DateTime<Utc>,
        DateTime<Utc>,
        i64,
        i64,
        i64,
        i32,
        i16,
    );
    let incremental: Vec<Daily> = sqlx::query_as(daily_sql).fetch_all(&pool).await?;
    let mut tx = pool.begin().await?;
    let first = ewoda_common::time::local_day(epoch()) - chrono::Days::new(1);
    let last = ewoda_common::time::local_day(reading_of(0, opts.readings_per_meter).0)
        + chrono::Days::new(1);
    store::rollup_days(&mut tx, first, last).await?;
    let recomputed: Vec<Daily> = sqlx::query_as(daily_sql).fetch_all(&mut *tx).await?;
    tx.rollback().await?;
    if incremental != recomputed {
        return Err(Error::Bench(format!(
            "the rollups ({} rows) differ from a full recompute ({} rows)",
            incremental.len(),
            recomputed.len()
        )));
    }
    writeln!(
        out,
        "rollups: {} reading_daily rows, equal to a full recompute",
        incremental.len()
    )
    .map_err(io_err("stdout"))?;

    // The very rows stored, with COPY into the emptied table (partitions already exist).
    let stored: Vec<(i64, DateTime<Utc>, i64, i16)> = sqlx::query_as(
        "select meter_id, read_at, volume_ml, quality from reading order by read_at, meter_id",
    )
    .fetch_all(&pool)
    .await?;
    if stored.len() as u64 + undecodable != n || totals.dead_letters != undecodable {
        return Err(Error::Bench(format!(
            "{} readings in the table and {} dead letters, expected {n} readings",
            stored.len(),
            totals.dead_letters
        )));
    }
    if undecodable > 0 {
        writeln!(
            out,
            "{undecodable} telegrams the decoder refused are dead letters (counted as handled)"
        )
        .map_err(io_err("stdout"))?;
    }
    let rows: Vec<NewReading> = stored
        .into_iter()
        .map(|(meter_id, read_at, volume_ml, quality)| NewReading {
            meter_id,
            read_at,
            volume_ml,
            source,
            quality,
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
        ingest_per_s: n as f64 / seconds,
        copy_per_s: copied as f64 / copy_s.max(1e-9),
    })
}

/// Readings and dead letters committed so far.
fn committed(metrics: &Metrics) -> u64 {
    metrics.readings_received.load(Ordering::Relaxed)
        + [
            "undecodable",
            "unknown_meter",
            "wrong_key",
            "no_volume",
            "malformed",
        ]
        .iter()
        .map(|c| metrics.dead_letters(c))
        .sum::<u64>()
}

/// Waits until the pipeline has committed `n` inputs (readings stored, duplicate or
/// rejected, and dead letters).
async fn wait_committed(
    metrics: &Metrics,
    n: u64,
    feeder: &mut Option<tokio::task::JoinHandle<Result<(), Error>>>,
) -> Result<(), Error> {
    let mut last = (Instant::now(), 0u64);
    loop {
        let done = committed(metrics);
        if done >= n {
            return Ok(());
        }
        if done != last.1 {
            last = (Instant::now(), done);
        } else if last.0.elapsed() > Duration::from_secs(60) {
            return Err(Error::Bench(format!(
                "ingest stalled at {done} of {n} readings"
            )));
        }
        if let Some(p) = feeder.take_if(|p| p.is_finished()) {
            match p.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(Error::Bench(format!("feeder: {e}"))),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn ingest_mqtt(
    pool: &PgPool,
    mqtt_url: &str,
    opts: &IngestOptions,
    writer: WriterConfig,
    metrics: &Arc<Metrics>,
    n: u64,
) -> Result<Ingested, Error> {
    // The collector side: one pipeline, several shared-subscription sources.
    let pipes = [pipeline::spawn(pool.clone(), writer, metrics.clone())];
    let (stop, stop_rx) = watch::channel(false);
    let group = format!("bench{}", std::process::id());
    let topic_root = format!("ewoda-bench/{}", std::process::id());
    let mut sources = Vec::new();
    for s in 0..opts.subscribers.max(1) {
        let mut cfg = MqttSourceConfig::new(format!("{group}-c{s}"));
        (cfg.topic_filter, cfg.share_group) = subscription(opts, &topic_root, &group, s);
        cfg.receive_maximum = opts.receive_maximum;
        cfg.security = security(opts);
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
    let consumed = metrics.clone();
    let mut publisher = Some(tokio::spawn(publish_all(
        mqtt_url.to_string(),
        opts.login.clone(),
        topic_root.clone(),
        opts.meters,
        opts.readings_per_meter,
        partitions(opts),
        Box::new(move || consumed.readings_received.load(Ordering::Relaxed)),
        // Mosquitto drops QoS 1 messages beyond a subscriber's queue (max_queued_messages,
        // 1000 by default): the publisher keeps at most the subscribers' windows plus part of
        // their queues of unstored readings out.
        (opts.subscribers.max(1) * (usize::from(opts.receive_maximum) + 100)) as u64,
    )));
    wait_committed(metrics, n, &mut publisher).await?;
    let seconds = started.elapsed().as_secs_f64();
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
    Ok(Ingested {
        seconds,
        totals,
        undecodable: 0,
    })
}

async fn ingest_serial(
    pool: &PgPool,
    opts: &IngestOptions,
    writer: WriterConfig,
    metrics: &Arc<Metrics>,
    n: u64,
) -> Result<Ingested, Error> {
    let sim = |e: ewoda_sim::SimError| Error::Bench(format!("simulator: {e}"));
    // The fleet's meters with their sealed AES keys, as an installer would register them.
    let fleet = Fleet::generate_at(7, opts.meters, epoch());
    let master = MasterKey::from_hex(&"5a".repeat(32))
        .map_err(|e| Error::Bench(format!("master key: {e}")))?;
    let times: Vec<DateTime<Utc>> = (0..opts.readings_per_meter)
        .map(|j| reading_of(0, j).0)
        .collect();
    let mut registered = std::collections::HashSet::new();
    let (mut serials, mut mans, mut ids, mut keys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for k in 0..opts.meters {
        for t in [times.first(), times.last()].into_iter().flatten() {
            let g = fleet.generation_at(k, *t).map_err(sim)?;
            if registered.insert(g.serial.clone()) {
                let nonce = (registered.len() as u64).to_le_bytes();
                let mut n12 = [0u8; 12];
                n12[..8].copy_from_slice(&nonce);
                serials.push(g.serial.clone());
                mans.push(g.address.manufacturer.to_string());
                ids.push(g.address.id.as_str().to_ascii_uppercase());
                keys.push(master.seal(&g.key, n12));
            }
        }
    }
    sqlx::query(
        "insert into meter (serial, manufacturer, model, radio_id, aes_key_enc, register_digits)
         select s, m, 'SIM', r, k, 8
         from unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) as u(s, m, r, k)",
    )
    .bind(&serials)
    .bind(&mans)
    .bind(&ids)
    .bind(&keys)
    .execute(pool)
    .await?;
    let keystore = KeyStore::load(pool.clone(), master).await?;

    // Every telegram, time-ordered as the radio hears them, framed as the dongle sends them
    // (made before the clock starts: the encryption is the meters' work).
    let rx = RxOptions {
        timestamp: true,
        rssi: true,
        crc: true,
        include_l_field: false,
    };
    const CHUNK: usize = 250;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut buf = Vec::new();
    let mut in_chunk = 0;
    for t in &times {
        for k in 0..opts.meters {
            let frame = fleet.telegram(k, *t, FrameFormat::NoCrc).map_err(sim)?;
            let ts = u32::try_from(t.timestamp()).unwrap_or_default();
            buf.extend(
                rx_message(&frame, rx, ts, 0x60)
                    .map_err(sim)?
                    .encode()
                    .map_err(sim)?,
            );
            in_chunk += 1;
            if in_chunk == CHUNK {
                chunks.push(std::mem::take(&mut buf));
                in_chunk = 0;
            }
        }
    }
    if !buf.is_empty() {
        chunks.push(buf);
    }

    let pipe = pipeline::spawn(pool.clone(), writer, metrics.clone());
    let spill_dir = std::env::temp_dir().join(format!("ewoda-bench-serial-{}", std::process::id()));
    let mut cfg = RadioSerialConfig::new("bench-pty");
    // Each telegram's reading time is the dongle's reception timestamp (walk-by and replay
    // receivers stamp them so), as the readings are from the past.
    cfg.clock = ReadClock::DongleUnix;
    cfg.spill_memory_items = opts.serial_window + CHUNK;
    let ctx = RadioContext::new(
        &cfg,
        keystore,
        &spill_dir.join("radio.spill"),
        pipe.sender(),
        metrics.clone(),
        Duration::from_secs(10),
    )?;
    let stats = ctx.stats.clone();
    let (sim_end, host) = tokio_serial::SerialStream::pair().map_err(|e| Error::Io {
        path: "pty pair".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let dongle = Dongle::spawn(sim_end, DeviceInfo::default());
    let (stop, stop_rx) = watch::channel(false);
    let source = tokio::spawn(async move { radio::run_on(host, &cfg, ctx, stop_rx).await });

    let started = Instant::now();
    let window = opts.serial_window as u64;
    let m = metrics.clone();
    let line = Arc::new(dongle);
    let d = line.clone();
    let mut feeder = Some(tokio::spawn(async move {
        let mut sent = 0u64;
        for c in chunks {
            while sent >= window + committed(&m) {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            sent += CHUNK as u64;
            d.send_raw(c).await.map_err(sim)?;
        }
        Ok(())
    }));
    let committed = wait_committed(metrics, n, &mut feeder).await;
    let seconds = started.elapsed().as_secs_f64();
    if let Err(e) = committed {
        let s = radio::stats_snapshot(&stats);
        return Err(Error::Bench(format!("{e}; radio source: {s:?}")));
    }
    let _ = stop.send(true);
    match source.await {
        Ok(r) => r?,
        Err(e) => return Err(Error::Bench(format!("radio source: {e}"))),
    }
    let totals = pipe.finish().await;
    if let Some(f) = feeder {
        f.abort();
    }
    // The line stays open until everything is read: closing a pty drops unread bytes.
    if let Ok(d) = Arc::try_unwrap(line) {
        d.close().await.map_err(sim)?;
    }
    let _ = std::fs::remove_dir_all(&spill_dir);
    let lost = stats.bad_frames.load(Ordering::Relaxed)
        + stats.unknown_meters.load(Ordering::Relaxed)
        + stats.dead_letters_lost.load(Ordering::Relaxed)
        + stats.readings_lost.load(Ordering::Relaxed);
    if lost > 0 {
        return Err(Error::Bench(format!(
            "telegrams lost: {:?}",
            radio::stats_snapshot(&stats)
        )));
    }
    Ok(Ingested {
        seconds,
        totals,
        undecodable: stats.undecodable.load(Ordering::Relaxed),
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

/// Topic partitions of the publishes (1 with a shared subscription).
fn partitions(opts: &IngestOptions) -> usize {
    if opts.partitions {
        opts.subscribers.max(1)
    } else {
        1
    }
}

/// Subscriber `s`'s topic filter and share group.
fn subscription(
    opts: &IngestOptions,
    topic_root: &str,
    group: &str,
    s: usize,
) -> (String, Option<String>) {
    if opts.partitions {
        (format!("{topic_root}/p{s}/meters/+/+"), None)
    } else {
        (
            format!("{topic_root}/p0/meters/+/+"),
            Some(group.to_string()),
        )
    }
}

/// Publishes with QoS 1 to as many plain subscribers (auto-acked, no database) as the
/// collector had, and returns messages/s from the first publish to the last delivery.
async fn broker_rate(url: &str, opts: &IngestOptions) -> Result<f64, Error> {
    let resolved = security(opts).resolve(url)?;
    let protocol = broker_protocol(&resolved).await;
    let group = format!("bare{}", std::process::id());
    let topic_root = format!("ewoda-bench-bare/{}", std::process::id());
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let subscribed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut subscribers = Vec::new();
    for s in 0..opts.subscribers.max(1) {
        let (client, mut conn) = mqtt::client::open(
            protocol,
            &mqtt::client::Options {
                client_id: format!("{group}-s{s}"),
                persistent: false,
                keep_alive: Duration::from_secs(30),
                receive_maximum: opts.receive_maximum,
                max_packet_bytes: 1 << 20,
                resolved: &resolved,
                capacity: 10_000,
            },
        );
        let (filter, share) = subscription(opts, &topic_root, &group, s);
        let filter = match share {
            Some(g) => format!("$share/{g}/{filter}"),
            None => filter,
        };
        let (received, subscribed) = (received.clone(), subscribed.clone());
        subscribers.push(tokio::spawn(async move {
            while let Ok(ev) = conn.poll().await {
                match ev {
                    mqtt::client::Ev::Connected { .. } => {
                        let _ = client.subscribe(&filter, true);
                    }
                    mqtt::client::Ev::Subscribed(None) => {
                        subscribed.fetch_add(1, Ordering::SeqCst);
                    }
                    mqtt::client::Ev::Message { .. } => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while subscribed.load(Ordering::SeqCst) < opts.subscribers.max(1) as u64 {
        if Instant::now() > deadline {
            return Err(Error::Mqtt(format!(
                "bare broker rate: {url} did not confirm the subscriptions"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = (opts.meters * opts.readings_per_meter) as u64;
    let started = Instant::now();
    let consumed = received.clone();
    let publisher = tokio::spawn(publish_all(
        url.to_string(),
        opts.login.clone(),
        topic_root,
        opts.meters,
        opts.readings_per_meter,
        partitions(opts),
        Box::new(move || consumed.load(Ordering::Relaxed)),
        (opts.subscribers.max(1) * (usize::from(opts.receive_maximum) + 100)) as u64,
    ));
    let mut last = (Instant::now(), 0);
    while received.load(Ordering::Relaxed) < n {
        let done = received.load(Ordering::Relaxed);
        if done != last.1 {
            last = (Instant::now(), done);
        } else if last.0.elapsed() > Duration::from_secs(30) {
            return Err(Error::Bench(format!(
                "bare broker rate stalled at {done} of {n} messages"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    publisher.abort();
    for s in subscribers {
        s.abort();
    }
    Ok(n as f64 / seconds)
}

/// MQTT 5 when the broker answers a 5 CONNECT, else 3.1.1 (as a source with `auto` does).
async fn broker_protocol(resolved: &ewoda_collector::mqtt::security::Resolved) -> mqtt::Protocol {
    let (client, mut conn) = mqtt::client::open(
        mqtt::Protocol::V5,
        &mqtt::client::Options {
            client_id: format!("bench-probe-{}", std::process::id()),
            persistent: false,
            keep_alive: Duration::from_secs(30),
            receive_maximum: 10,
            max_packet_bytes: 1 << 20,
            resolved,
            capacity: 10,
        },
    );
    let answered = tokio::time::timeout(Duration::from_secs(5), conn.poll()).await;
    client.disconnect();
    match answered {
        Ok(Ok(mqtt::client::Ev::Connected { .. })) => mqtt::Protocol::V5,
        _ => mqtt::Protocol::V311,
    }
}

/// The bench clients' MQTT security: loopback brokers without TLS, with the login if any.
fn security(opts: &IngestOptions) -> ewoda_collector::mqtt::MqttSecurity {
    ewoda_collector::mqtt::MqttSecurity {
        allow_insecure: true,
        username: opts.login.as_ref().map(|(u, _)| u.clone()),
        password: opts
            .login
            .as_ref()
            .map(|(_, p)| ewoda_collector::mqtt::Secret::new(p.expose())),
        ..Default::default()
    }
}

/// How many published messages the other side has taken in.
type Consumed = Box<dyn Fn() -> u64 + Send + Sync>;

/// Publishes every reading with QoS 1 from one client (MQTT 3.1.1, which every broker
/// speaks) and waits for the broker's PUBACKs; at most `window` ahead of `consumed`.
#[allow(clippy::too_many_arguments)]
async fn publish_all(
    url: String,
    login: Option<(String, ewoda_common::secret::Password)>,
    topic_root: String,
    meters: usize,
    per_meter: usize,
    partitions: usize,
    consumed: Consumed,
    window: u64,
) -> Result<(), Error> {
    let (host, port) = mqtt::parse_mqtt_url(&url)?;
    let mut o = MqttOptions::new(format!("bench-pub-{}", std::process::id()), host, port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000)
        .set_clean_session(true);
    if let Some((user, password)) = login {
        o.set_credentials(user, password.expose());
    }
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
            while published >= window + consumed() {
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
                    format!("{topic_root}/p{}/meters/{s}/reading", k % partitions),
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
