//! The batched writer: collects inputs into size/time-bounded batches, validates them (VEE),
//! stores readings exactly once (`insert … select from unnest … on conflict do nothing`),
//! updates the affected daily rollups, alarms and dead letters in the same transaction, and
//! fires the inputs' acks only after the commit. Transient database errors (server down,
//! restarting) are retried with backoff, holding the batch and so pushing back on sources.
//!
//! One batch ([`process_batch_cached`]) runs six stages, each in its own module:
//! [`resolve`](super::resolve) meters, [`previous`](super::previous) readings and
//! duplicates, VEE ([`validate`](super::validate)), store ([`persist`](super::persist)),
//! rollups ([`rollup_stage`](super::rollup_stage)) and alarms
//! ([`alarm_stage`](super::alarm_stage)).

pub use super::persist::PartitionCover;
pub use super::resolve::{lock_meters, MeterCache};

use super::persist;
use super::vee::VeeConfig;
use super::{alarm_stage, previous, resolve, rollup_stage, validate};
use super::{Ack, AlarmEvent, DeadLetter, Input, Item, MeterReading};
use crate::alarms::AlarmKind;
use crate::metrics::Metrics;
use crate::store::{self, Source};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Tunables of the writer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// At most this many inputs per transaction.
    pub batch_size: usize,
    /// A batch is committed at the latest this long after its first input arrived.
    pub linger_ms: u64,
    /// A batch is also committed when no input arrived for this long (sources such as MQTT
    /// send no more until earlier messages are acked).
    pub idle_ms: u64,
    /// Inputs waiting for the writer (bounded: sources wait when it is full).
    pub channel_capacity: usize,
    /// Longest pause between retries while the database is unreachable.
    pub max_backoff_ms: u64,
    /// Resolved meters and installations are reused for at most this long.
    pub meter_cache_secs: u64,
    /// Writer tasks in the pipeline; each meter is routed to one of them (by a hash of its
    /// reference), so a writer owns its meters' series.
    pub writers: usize,
    /// Nothing but this pipeline stores readings of the meters it is fed, so each writer may
    /// trust its cache of every owned meter's last stored reading. Turn off when several
    /// pipelines or processes write readings of the same meters.
    pub owns_meters: bool,
    pub vee: VeeConfig,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_size: 1000,
            linger_ms: 200,
            idle_ms: 5,
            channel_capacity: 4096,
            max_backoff_ms: 2000,
            meter_cache_secs: 60,
            writers: 1,
            // Safe by default: several collectors in one shared MQTT group, or a file import
            // next to a running collector, write the same meters.
            owns_meters: false,
            vee: VeeConfig::default(),
        }
    }
}

/// What one committed batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub readings: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Stored readings whose register did not move since the previous one.
    pub zero_use: u64,
    pub dead_letters: u64,
    pub alarms_opened: u64,
    pub alarms_repeated: u64,
    pub alarms_cleared: u64,
    pub rollup_rows: u64,
    /// (meter, day) rollups recomputed in full (late or out-of-order readings).
    pub rollup_recomputed: u64,
    /// Alarms opened, by kind.
    pub opened_by_kind: Vec<(AlarmKind, u64)>,
    /// Dead letters by reason class.
    pub dead_by_class: Vec<(&'static str, u64)>,
    /// Items that became dead letters: (position in the batch, reason).
    pub rejected: Vec<(usize, String)>,
}

impl BatchReport {
    fn add(&mut self, o: &BatchReport) {
        self.readings += o.readings;
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.zero_use += o.zero_use;
        self.dead_letters += o.dead_letters;
        self.alarms_opened += o.alarms_opened;
        self.alarms_repeated += o.alarms_repeated;
        self.alarms_cleared += o.alarms_cleared;
        self.rollup_rows += o.rollup_rows;
        self.rollup_recomputed += o.rollup_recomputed;
        for (k, n) in &o.opened_by_kind {
            count_kind(&mut self.opened_by_kind, *k, *n);
        }
        for (c, n) in &o.dead_by_class {
            match self.dead_by_class.iter_mut().find(|(k, _)| k == c) {
                Some(e) => e.1 += n,
                None => self.dead_by_class.push((c, *n)),
            }
        }
    }
}

/// The running writer: clone [`PipelineHandle::sender`] into sources; [`PipelineHandle::finish`]
/// waits until every sender is dropped and everything received is committed.
#[derive(Debug)]
pub struct PipelineHandle {
    tx: mpsc::Sender<Input>,
    join: JoinHandle<BatchReport>,
}

impl PipelineHandle {
    /// A sender for a source.
    pub fn sender(&self) -> mpsc::Sender<Input> {
        self.tx.clone()
    }

    /// Drops this handle's sender and waits for the writer to drain; returns the totals.
    pub async fn finish(self) -> BatchReport {
        drop(self.tx);
        self.join.await.unwrap_or_default()
    }

    /// Stops the writer at once, committing nothing more (tests simulate a crash with it).
    pub fn abort(self) {
        self.join.abort();
    }
}

/// Starts the writer tasks (and, with several, the router feeding each its own meters).
pub fn spawn(pool: PgPool, cfg: WriterConfig, metrics: Arc<Metrics>) -> PipelineHandle {
    let cap = cfg.channel_capacity.max(1);
    let (tx, rx) = mpsc::channel(cap);
    let n = cfg.writers.max(1);
    if n == 1 {
        let join = tokio::spawn(run(pool, cfg, metrics, rx));
        return PipelineHandle { tx, join };
    }
    let mut txs = Vec::with_capacity(n);
    let mut joins = Vec::with_capacity(n);
    for _ in 0..n {
        let (t, r) = mpsc::channel(cap);
        joins.push(tokio::spawn(run(
            pool.clone(),
            cfg.clone(),
            metrics.clone(),
            r,
        )));
        txs.push(t);
    }
    let join = tokio::spawn(async move {
        let mut rx = rx;
        while let Some(input) = rx.recv().await {
            let k = route(&input.item, n);
            let Some(t) = txs.get(k) else { break };
            if t.send(input).await.is_err() {
                break;
            }
        }
        drop(txs);
        let mut total = BatchReport::default();
        for j in joins {
            total.add(&j.await.unwrap_or_default());
        }
        total
    });
    PipelineHandle { tx, join }
}

/// The writer (of `n`) owning the item's meter; dead letters go to the first.
fn route(item: &Item, n: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let meter = match item {
        Item::Reading(r) => &r.meter,
        Item::Alarm(a) => &a.meter,
        Item::DeadLetter(_) => return 0,
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    meter.hash(&mut h);
    (h.finish() % n as u64) as usize
}

async fn run(
    pool: PgPool,
    cfg: WriterConfig,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Input>,
) -> BatchReport {
    let mut cover = PartitionCover::default();
    let mut cache = MeterCache::new(std::time::Duration::from_secs(cfg.meter_cache_secs));
    cache.track_last = cfg.owns_meters;
    let mut total = BatchReport::default();
    let linger = std::time::Duration::from_millis(cfg.linger_ms);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < cfg.batch_size.max(1) {
            let idle = tokio::time::Instant::now() + std::time::Duration::from_millis(cfg.idle_ms);
            match tokio::time::timeout_at(deadline.min(idle), rx.recv()).await {
                Ok(Some(i)) => batch.push(i),
                Ok(None) | Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let (items, acks): (Vec<Item>, Vec<Option<Ack>>) =
            batch.into_iter().map(|i| (i.item, i.ack)).unzip();
        let report = commit_with_retry(&pool, &cfg, &metrics, &mut cover, &mut cache, &items).await;
        for ack in acks.into_iter().flatten() {
            ack.fire();
        }
        record(&metrics, &report, started.elapsed());
        total.add(&report);
    }
    total
}

fn record(m: &Metrics, r: &BatchReport, took: std::time::Duration) {
    m.readings_received.fetch_add(r.readings, Ordering::Relaxed);
    m.readings_stored.fetch_add(r.stored, Ordering::Relaxed);
    m.readings_zero_use.fetch_add(r.zero_use, Ordering::Relaxed);
    m.readings_duplicate
        .fetch_add(r.duplicates, Ordering::Relaxed);
    m.alarms_opened
        .fetch_add(r.alarms_opened, Ordering::Relaxed);
    m.alarms_cleared
        .fetch_add(r.alarms_cleared, Ordering::Relaxed);
    for (c, n) in &r.dead_by_class {
        m.dead_letter(c, *n);
    }
    m.batches.fetch_add(1, Ordering::Relaxed);
    m.batch_seconds_sum_us.fetch_add(
        u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// Errors worth retrying: the server is unreachable, restarting or shedding load, or a
/// concurrent writer won a race (deadlock, serialization, a partition created meanwhile).
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(&*code, "40001" | "40P01" | "42P07" | "23505" | "53300")
        }
        _ => false,
    }
}

/// Commits the batch, retrying transient errors forever with backoff; on a permanent error
/// (a bug or an input the database refuses) falls back to one transaction per item so one bad
/// item becomes a dead letter and nothing valid around it is lost.
async fn commit_with_retry(
    pool: &PgPool,
    cfg: &WriterConfig,
    metrics: &Metrics,
    cover: &mut PartitionCover,
    cache: &mut MeterCache,
    items: &[Item],
) -> BatchReport {
    match commit_transient_retry(pool, cfg, metrics, cover, cache, items).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, items = items.len(), "batch failed; retrying item by item");
            let mut total = BatchReport::default();
            for item in items {
                let one = std::slice::from_ref(item);
                match commit_transient_retry(pool, cfg, metrics, cover, cache, one).await {
                    Ok(r) => total.add(&r),
                    Err(e) => {
                        let dl = Item::DeadLetter(DeadLetter {
                            source: item_source(item),
                            payload: format!("{item:?}").into_bytes(),
                            class: "database_refused",
                            reason: format!("the database refused it: {e}"),
                        });
                        match commit_transient_retry(pool, cfg, metrics, cover, cache, &[dl]).await
                        {
                            Ok(r) => total.add(&r),
                            Err(e) => {
                                tracing::error!(error = %e, "could not even store the dead letter")
                            }
                        }
                    }
                }
            }
            total
        }
    }
}

fn item_source(item: &Item) -> Source {
    match item {
        Item::Reading(r) => r.source,
        Item::Alarm(a) => a.source,
        Item::DeadLetter(d) => d.source,
    }
}

async fn commit_transient_retry(
    pool: &PgPool,
    cfg: &WriterConfig,
    metrics: &Metrics,
    cover: &mut PartitionCover,
    cache: &mut MeterCache,
    items: &[Item],
) -> Result<BatchReport, sqlx::Error> {
    let mut backoff = 50u64;
    loop {
        let attempt = async {
            let mut tx = pool.begin().await?;
            let (report, range) =
                process_batch_cached(&mut tx, &cfg.vee, cover, cache, items, Utc::now()).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>((report, range))
        }
        .await;
        match attempt {
            Ok((report, range)) => {
                cache.commit_pending();
                if let Some((a, b)) = range {
                    cover.extend(a, b);
                }
                return Ok(report);
            }
            Err(e) if is_transient(&e) => {
                // The retry trusts nothing cached about stored readings.
                cache.forget_last();
                metrics.batch_retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, backoff_ms = backoff, "database unavailable; batch held");
                tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                backoff = (backoff * 2).min(cfg.max_backoff_ms.max(50));
            }
            Err(e) => {
                cache.forget_last();
                return Err(e);
            }
        }
    }
}

/// `t` cut to whole microseconds, PostgreSQL's `timestamptz` precision.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let sub = t.timestamp_subsec_nanos() % 1_000;
    t - Duration::nanoseconds(i64::from(sub))
}

/// The items with every time cut to microseconds: the writer matches stored keys
/// (`returning read_at`) against the in-memory times, so they must be what the database keeps.
fn to_micros(items: &[Item]) -> std::borrow::Cow<'_, [Item]> {
    let exact = |t: DateTime<Utc>| t.timestamp_subsec_nanos() % 1_000 == 0;
    let all_exact = items.iter().all(|i| match i {
        Item::Reading(r) => exact(r.read_at),
        Item::Alarm(a) => exact(a.at),
        Item::DeadLetter(_) => true,
    });
    if all_exact {
        return std::borrow::Cow::Borrowed(items);
    }
    std::borrow::Cow::Owned(
        items
            .iter()
            .map(|i| match i {
                Item::Reading(r) => Item::Reading(MeterReading {
                    read_at: micros(r.read_at),
                    ..r.clone()
                }),
                Item::Alarm(a) => Item::Alarm(AlarmEvent {
                    at: micros(a.at),
                    ..a.clone()
                }),
                Item::DeadLetter(d) => Item::DeadLetter(d.clone()),
            })
            .collect(),
    )
}

/// Validates and stores one batch in the caller's transaction. Returns the report and the
/// month range whose partitions it ensured (to remember after the commit).
pub async fn process_batch(
    conn: &mut PgConnection,
    vee_cfg: &VeeConfig,
    cover: &PartitionCover,
    items: &[Item],
    now: DateTime<Utc>,
) -> Result<(BatchReport, Option<(DateTime<Utc>, DateTime<Utc>)>), sqlx::Error> {
    let mut cache = MeterCache::new(std::time::Duration::ZERO);
    process_batch_cached(conn, vee_cfg, cover, &mut cache, items, now).await
}

/// [`process_batch`] resolving meters through a cache the caller keeps across batches.
pub async fn process_batch_cached(
    conn: &mut PgConnection,
    vee_cfg: &VeeConfig,
    cover: &PartitionCover,
    cache: &mut MeterCache,
    items: &[Item],
    now: DateTime<Utc>,
) -> Result<(BatchReport, Option<(DateTime<Utc>, DateTime<Utc>)>), sqlx::Error> {
    let items = to_micros(items);
    let items: &[Item] = &items;
    cache.pending.clear();
    // The batch's statements are index probes over every partition of `reading`: their plans
    // cost enough to trigger JIT compilation, which takes far longer (hundreds of ms for a
    // few thousand rows) than running them.
    sqlx::query("set local jit = off")
        .execute(&mut *conn)
        .await?;
    let mut report = BatchReport::default();
    let resolved = resolve::resolve_batch(conn, cache, items).await?;
    report.readings = resolved.readings;
    let candidates = resolved.candidates;
    let mut dead = resolved.dead;

    let previous = previous::previous_and_duplicates(conn, cache, vee_cfg, &candidates).await?;
    let checked = validate::validate(vee_cfg, &candidates, &previous, now);
    report.duplicates += checked.duplicates;
    dead.extend(checked.rejected);
    let accepted = checked.accepted;

    let ensured = persist::ensure_partitions(conn, cover, &accepted).await?;
    let neighbours =
        rollup_stage::batch_neighbours(conn, cache, &previous.early_nb, &accepted).await?;
    let stored = persist::store_readings(conn, cache.track_last, &previous.hits, &accepted).await?;
    report.stored = stored.len() as u64;
    report.duplicates += accepted.len() as u64 - report.stored;

    let rows = rollup_stage::stored_rows(&candidates, &accepted, &stored);
    report.zero_use += rows.zero_use;
    alarm_stage::status_alarms(conn, &candidates, &accepted, &stored, &mut report).await?;
    rollup_stage::roll_up(conn, cache, &rows, &neighbours, &mut report).await?;
    alarm_stage::device_events(conn, &resolved.events, &mut report).await?;
    persist::store_dead_letters(conn, &dead, &mut report).await?;
    Ok((report, ensured))
}

pub(super) fn count_kind(counts: &mut Vec<(AlarmKind, u64)>, kind: AlarmKind, n: u64) {
    match counts.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, c)) => *c += n,
        None => counts.push((kind, n)),
    }
}

/// Keeps partitions ahead of time: every `every`, ensures months from last month through
/// `months_ahead` months from now. Runs until the task is dropped.
pub async fn partition_keeper(pool: PgPool, every: std::time::Duration, months_ahead: i64) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = Utc::now();
        let res = async {
            let mut conn = pool.acquire().await?;
            store::ensure_partitions(
                &mut conn,
                now - Duration::days(31),
                now + Duration::days(31 * months_ahead),
            )
            .await
        }
        .await;
        match res {
            Ok(n) if n > 0 => tracing::info!(created = n, "reading partitions created"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not ensure reading partitions"),
        }
    }
}

/// Validates and stores `items` in one transaction (no retry): the writer's core for one-shot
/// callers such as file imports and tests.
pub async fn write_items(
    pool: &PgPool,
    vee_cfg: &VeeConfig,
    items: &[Item],
) -> Result<BatchReport, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (report, _) = process_batch(
        &mut tx,
        vee_cfg,
        &PartitionCover::default(),
        items,
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
