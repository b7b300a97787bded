//! The batched writer: collects inputs into size/time-bounded batches, validates them (VEE),
//! stores readings exactly once (`insert … select from unnest … on conflict do nothing`),
//! updates the affected daily rollups, alarms and dead letters in the same transaction, and
//! fires the inputs' acks only after the commit. Transient database errors (server down,
//! restarting) are retried with backoff, holding the batch and so pushing back on sources.

use super::vee::{self, MeterProfile, Prev, VeeConfig};
use super::{rollup, Ack, AlarmEvent, DeadLetter, Input, Item, MeterReading, MeterRef};
use crate::alarms::{self, AlarmKind, Raised};
use crate::metrics::Metrics;
use crate::store::{self, NewReading, Source};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
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

/// Months (year × 12 + month, UTC) known to have partitions after a commit.
#[derive(Debug, Default, Clone, Copy)]
pub struct PartitionCover(Option<(i32, i32)>);

fn month_index(t: DateTime<Utc>) -> i32 {
    t.year() * 12 + t.month0() as i32
}

impl PartitionCover {
    fn covers(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        matches!(self.0, Some((lo, hi)) if lo <= month_index(a) && month_index(b) <= hi)
    }

    /// Records that partitions for `[a, b]` exist (after the commit that ensured them, or
    /// within the transaction that did).
    pub fn extend(&mut self, a: DateTime<Utc>, b: DateTime<Utc>) {
        let (a, b) = (month_index(a), month_index(b));
        self.0 = Some(match self.0 {
            // Only a contiguous range is known to be complete.
            Some((lo, hi)) if a <= hi + 1 && b + 1 >= lo => (lo.min(a), hi.max(b)),
            _ => (a, b),
        });
    }
}

/// meter_id, installed_at, removed_at, replaced another meter.
type InstallRow = (i64, DateTime<Utc>, Option<DateTime<Utc>>, bool);
/// candidate index, previous read_at, previous volume, already stored.
/// (index, previous read_at, previous volume, stored duplicate, rollup `later`, rollup start).
type PrevRow = (
    i32,
    Option<DateTime<Utc>>,
    Option<i64>,
    bool,
    Option<bool>,
    Option<i64>,
);

#[derive(Debug, Clone)]
struct MeterRow {
    meter_id: i64,
    serial: String,
    register_digits: i16,
    bulk: bool,
}

#[derive(Debug, Clone)]
struct Installation {
    installed_at: DateTime<Utc>,
    removed_at: Option<DateTime<Utc>>,
    replaced_another: bool,
}

struct Candidate<'a> {
    pos: usize,
    reading: &'a MeterReading,
    meter: MeterRow,
    floor: Option<DateTime<Utc>>,
    replaced_another: bool,
}

/// The key a reference is cached under (radio identities are upper case in `meter`).
fn normal_ref(r: &MeterRef) -> MeterRef {
    match r {
        MeterRef::Serial(_) => r.clone(),
        MeterRef::Radio { manufacturer, id } => MeterRef::Radio {
            manufacturer: manufacturer.to_ascii_uppercase(),
            id: id.to_ascii_uppercase(),
        },
    }
}

type MeterDbRow = (i64, String, String, Option<String>, i16, String);

/// Looks the references up with two index lookups: by `serial`, and by
/// `(manufacturer, radio_id)` joined from the arrays (an `or` of both would scan `meter`).
async fn resolve_meters(
    conn: &mut PgConnection,
    refs: &[MeterRef],
) -> Result<HashMap<MeterRef, MeterRow>, sqlx::Error> {
    let mut serials = Vec::new();
    let (mut mans, mut ids) = (Vec::new(), Vec::new());
    for r in refs {
        match r {
            MeterRef::Serial(s) => serials.push(s.as_str()),
            MeterRef::Radio { manufacturer, id } => {
                mans.push(manufacturer.to_ascii_uppercase());
                ids.push(id.to_ascii_uppercase());
            }
        }
    }
    let mut rows: Vec<MeterDbRow> = Vec::new();
    if !serials.is_empty() {
        rows.extend(
            sqlx::query_as::<_, MeterDbRow>(
                "select meter_id, serial, manufacturer::text, radio_id::text, register_digits, role
                 from meter where serial = any($1)",
            )
            .bind(&serials)
            .fetch_all(&mut *conn)
            .await?,
        );
    }
    if !mans.is_empty() {
        rows.extend(
            sqlx::query_as::<_, MeterDbRow>(
                "select m.meter_id, m.serial, m.manufacturer::text, m.radio_id::text,
                        m.register_digits, m.role
                 from unnest($1::text[], $2::text[]) as u(man, rid)
                 join meter m on m.manufacturer = u.man::char(3) and m.radio_id = u.rid::char(8)",
            )
            .bind(&mans)
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?,
        );
    }
    let mut out = HashMap::new();
    for (meter_id, serial, man, radio, digits, role) in rows {
        let row = MeterRow {
            meter_id,
            serial: serial.clone(),
            register_digits: digits,
            bulk: role == "bulk",
        };
        if let Some(radio) = radio {
            out.insert(
                MeterRef::Radio {
                    manufacturer: man,
                    id: radio,
                },
                row.clone(),
            );
        }
        out.insert(MeterRef::Serial(serial), row);
    }
    Ok(out)
}

/// Meters and their installation history as the writer resolved them, kept across batches so
/// steady-state batches look nothing up. A reference not cached is looked up (unknown meters
/// are not remembered, so a meter added later is found at once); the whole cache is dropped
/// every `ttl` so changed meters and installations are seen within that time.
#[derive(Debug)]
pub struct MeterCache {
    meters: HashMap<MeterRef, MeterRow>,
    installs: HashMap<i64, Vec<Installation>>,
    filled_at: std::time::Instant,
    ttl: std::time::Duration,
    /// Keep `last` (only sound when this writer alone stores its meters' readings).
    track_last: bool,
    /// Each owned meter's last stored reading, as of the last commit.
    last: HashMap<i64, LastStored>,
    /// What the batch in flight will make of `last` once it commits (None: forget).
    pending: Vec<(i64, Option<LastStored>)>,
}

/// A meter's last stored reading and the register its local day's consumption starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LastStored {
    read_at: DateTime<Utc>,
    volume_ml: i64,
    /// The last stored register before `read_at`'s local day, else that day's first.
    day_start_ml: i64,
}

impl MeterCache {
    /// An empty cache whose entries live at most `ttl`.
    pub fn new(ttl: std::time::Duration) -> Self {
        MeterCache {
            meters: HashMap::new(),
            installs: HashMap::new(),
            filled_at: std::time::Instant::now(),
            ttl,
            track_last: false,
            last: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Drops every meter's cached last reading (after a failed transaction: the batch's
    /// updates never happened and the stored series may not be what the cache says).
    fn forget_last(&mut self) {
        self.last.clear();
        self.pending.clear();
    }

    /// Applies the last-reading updates of the batch that just committed.
    fn commit_pending(&mut self) {
        for (m, l) in self.pending.drain(..) {
            match l {
                Some(l) => self.last.insert(m, l),
                None => self.last.remove(&m),
            };
        }
    }

    /// The rollup neighbours of `meter` for a first reading at `t1`, when the cache knows them.
    fn neighbours(&self, meter: i64, t1: DateTime<Utc>) -> Option<rollup::Neighbours> {
        let l = self
            .last
            .get(&meter)
            .filter(|l| self.track_last && t1 > l.read_at)?;
        let same_day =
            ewoda_common::time::local_day(t1) == ewoda_common::time::local_day(l.read_at);
        Some(rollup::Neighbours {
            later: false,
            start_ml: Some(if same_day {
                l.day_start_ml
            } else {
                l.volume_ml
            }),
        })
    }

    /// Resolves `refs` into the cache and locks their meters until the end of the
    /// transaction ([`lock_meters`]); unknown references are left for the batch to reject.
    pub async fn resolve_and_lock(
        &mut self,
        conn: &mut PgConnection,
        refs: &[MeterRef],
    ) -> Result<(), sqlx::Error> {
        let set: HashSet<&MeterRef> = refs.iter().collect();
        self.resolve(conn, &set).await?;
        let ids: Vec<i64> = refs
            .iter()
            .filter_map(|r| lookup(&self.meters, &normal_ref(r)))
            .map(|m| m.meter_id)
            .collect();
        lock_meters(conn, &ids).await
    }

    /// Makes sure every reference (and the installations of every meter found) is cached.
    async fn resolve(
        &mut self,
        conn: &mut PgConnection,
        refs: &HashSet<&MeterRef>,
    ) -> Result<(), sqlx::Error> {
        if self.filled_at.elapsed() > self.ttl {
            self.meters.clear();
            self.installs.clear();
            self.filled_at = std::time::Instant::now();
        }
        let missing: Vec<MeterRef> = refs
            .iter()
            .map(|r| normal_ref(r))
            .filter(|r| !self.meters.contains_key(r))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let found = resolve_meters(conn, &missing).await?;
        let new_ids: Vec<i64> = {
            let set: HashSet<i64> = found
                .values()
                .map(|m| m.meter_id)
                .filter(|id| !self.installs.contains_key(id))
                .collect();
            set.into_iter().collect()
        };
        if !new_ids.is_empty() {
            let mut inst = installations(conn, &new_ids).await?;
            for id in new_ids {
                self.installs
                    .insert(id, inst.remove(&id).unwrap_or_default());
            }
        }
        self.meters.extend(found);
        Ok(())
    }
}

fn lookup<'m>(meters: &'m HashMap<MeterRef, MeterRow>, r: &MeterRef) -> Option<&'m MeterRow> {
    match r {
        MeterRef::Serial(_) => meters.get(r),
        MeterRef::Radio { .. } => meters.get(&normal_ref(r)),
    }
}

async fn installations(
    conn: &mut PgConnection,
    meter_ids: &[i64],
) -> Result<HashMap<i64, Vec<Installation>>, sqlx::Error> {
    let rows: Vec<InstallRow> = sqlx::query_as(
        "select i.meter_id, i.installed_at, i.removed_at,
                exists (select 1 from meter_installation o
                        where o.premises_id = i.premises_id and o.meter_id <> i.meter_id
                          and o.role = i.role and o.removed_at <= i.installed_at)
         from meter_installation i where i.meter_id = any($1)",
    )
    .bind(meter_ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Installation>> = HashMap::new();
    for (m, installed_at, removed_at, replaced_another) in rows {
        out.entry(m).or_default().push(Installation {
            installed_at,
            removed_at,
            replaced_another,
        });
    }
    Ok(out)
}

/// Whether the meter hung somewhere at `t`: Ok(covering installation or None when the meter
/// has no installation history), Err(reason class, reason).
fn installation_at<'i>(
    list: Option<&'i Vec<Installation>>,
    serial: &str,
    t: DateTime<Utc>,
) -> Result<Option<&'i Installation>, (&'static str, String)> {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if let Some(i) = list
        .iter()
        .find(|i| i.installed_at <= t && i.removed_at.is_none_or(|r| t <= r))
    {
        return Ok(Some(i));
    }
    match list
        .iter()
        .filter_map(|i| i.removed_at)
        .filter(|r| *r < t)
        .max()
    {
        Some(removed) => Err((
            "meter_removed",
            format!(
                "meter {serial} was removed at {}; reading at {} rejected",
                removed.to_rfc3339(),
                t.to_rfc3339()
            ),
        )),
        None => Err((
            "meter_not_installed",
            format!("meter {serial} was not installed yet at {}", t.to_rfc3339()),
        )),
    }
}

fn reading_payload(r: &MeterReading) -> Vec<u8> {
    serde_json::to_vec(r).unwrap_or_default()
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
    let mut dead: Vec<(usize, Source, Vec<u8>, &'static str, String)> = Vec::new();
    let refs: HashSet<&MeterRef> = items
        .iter()
        .filter_map(|i| match i {
            Item::Reading(r) => Some(&r.meter),
            Item::Alarm(a) => Some(&a.meter),
            Item::DeadLetter(_) => None,
        })
        .collect();
    if !refs.is_empty() {
        cache.resolve(conn, &refs).await?;
    }
    let (meters, installs) = (&cache.meters, &cache.installs);

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut events: Vec<(&AlarmEvent, i64)> = Vec::new();
    for (pos, item) in items.iter().enumerate() {
        match item {
            Item::DeadLetter(d) => {
                dead.push((pos, d.source, d.payload.clone(), d.class, d.reason.clone()))
            }
            Item::Reading(r) => {
                report.readings += 1;
                let Some(m) = lookup(meters, &r.meter) else {
                    dead.push((
                        pos,
                        r.source,
                        reading_payload(r),
                        "unknown_meter",
                        format!("unknown meter {}", r.meter),
                    ));
                    continue;
                };
                match installation_at(installs.get(&m.meter_id), &m.serial, r.read_at) {
                    Ok(inst) => candidates.push(Candidate {
                        pos,
                        reading: r,
                        meter: m.clone(),
                        floor: inst.map(|i| i.installed_at),
                        replaced_another: inst.is_some_and(|i| i.replaced_another),
                    }),
                    Err((class, reason)) => {
                        dead.push((pos, r.source, reading_payload(r), class, reason))
                    }
                }
            }
            Item::Alarm(a) => match lookup(meters, &a.meter) {
                Some(m) => events.push((a, m.meter_id)),
                None => dead.push((
                    pos,
                    a.source,
                    serde_json::to_vec(a).unwrap_or_default(),
                    "unknown_meter",
                    format!("unknown meter {}", a.meter),
                )),
            },
        }
    }

    // Unless this writer alone stores these meters, another transaction (a second collector
    // of the shared group, a file import) may be writing the same series: lock the meters so
    // the later transaction reads the earlier one's committed rows before it builds on them.
    if !cache.track_last {
        let ids: Vec<i64> = candidates
            .iter()
            .map(|c| c.meter.meter_id)
            .chain(events.iter().map(|e| e.1))
            .collect();
        lock_meters(conn, &ids).await?;
    }

    // Previous stored reading (within the current installation) and stored duplicates: from
    // the cache when the reading is newer than the last stored one by more than the dedupe
    // window, else looked up.
    let window = vee_cfg.dedupe_window_secs;
    let n = candidates.len();
    let hits: Vec<Option<LastStored>> = candidates
        .iter()
        .map(|c| {
            let l = cache
                .last
                .get(&c.meter.meter_id)
                .filter(|_| cache.track_last)?;
            let newer = c.reading.read_at - vee_cfg.dedupe_window() > l.read_at;
            let in_install = c.floor.is_none_or(|f| l.read_at >= f);
            (newer && in_install).then_some(*l)
        })
        .collect();
    let miss: Vec<usize> = (0..n).filter(|&i| hits[i].is_none()).collect();
    let idx: Vec<i32> = miss.iter().map(|&i| i as i32).collect();
    let mids: Vec<i64> = miss.iter().map(|&i| candidates[i].meter.meter_id).collect();
    let ats: Vec<DateTime<Utc>> = miss
        .iter()
        .map(|&i| candidates[i].reading.read_at)
        .collect();
    let vols: Vec<i64> = miss
        .iter()
        .map(|&i| candidates[i].reading.volume.ml())
        .collect();
    let floors: Vec<Option<DateTime<Utc>>> = miss.iter().map(|&i| candidates[i].floor).collect();
    // Each meter's earliest candidate also reads the rollup neighbours (valid when it is the
    // meter's first accepted reading; otherwise they are read again after VEE).
    let mut earliest: HashMap<i64, usize> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let e = earliest.entry(c.meter.meter_id).or_insert(i);
        if c.reading.read_at < candidates[*e].reading.read_at {
            *e = i;
        }
    }
    let mut is_first = vec![false; n];
    for &i in earliest.values() {
        is_first[i] = true;
    }
    let firsts_flag: Vec<bool> = miss.iter().map(|&i| is_first[i]).collect();
    let days: Vec<chrono::NaiveDate> = ats
        .iter()
        .map(|t| ewoda_common::time::local_day(*t))
        .collect();
    let looked: Vec<PrevRow> = if miss.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "select u.i, p.read_at, p.volume_ml,
                    -- One index range: a same-time copy lies inside the window too.
                    exists (select 1 from reading r
                            where r.meter_id = u.meter_id
                              and r.read_at between u.read_at - $5 * interval '1 second'
                                                and u.read_at + $5 * interval '1 second'
                              and (r.read_at = u.read_at or r.volume_ml = u.volume_ml)),
                    -- Rollup neighbours (see rollup::neighbours), for each meter's earliest.
                    case when u.first then
                        exists (select 1 from reading r
                                where r.meter_id = u.meter_id and r.read_at >= u.read_at)
                    end,
                    case when u.first then coalesce(
                        -- Without a floor the previous reading is the last before the day
                        -- whenever it lies before the day.
                        case when u.floor is null
                                  and p.read_at < u.day::timestamp at time zone 'Europe/Warsaw'
                             then p.volume_ml
                             else (select r.volume_ml from reading r
                                   where r.meter_id = u.meter_id
                                     and r.read_at < u.day::timestamp at time zone 'Europe/Warsaw'
                                   order by r.read_at desc limit 1)
                        end,
                        (select r.volume_ml from reading r
                         where r.meter_id = u.meter_id
                           and r.read_at >= u.day::timestamp at time zone 'Europe/Warsaw'
                         order by r.read_at limit 1))
                    end
             from unnest($1::int[], $2::bigint[], $3::timestamptz[], $4::bigint[],
                         $6::timestamptz[], $7::bool[], $8::date[])
                  as u(i, meter_id, read_at, volume_ml, floor, first, day)
             left join lateral (
                 select r.read_at, r.volume_ml from reading r
                 where r.meter_id = u.meter_id and r.read_at < u.read_at
                   and (u.floor is null or r.read_at >= u.floor)
                 order by r.read_at desc limit 1) p on true",
        )
        .bind(&idx)
        .bind(&mids)
        .bind(&ats)
        .bind(&vols)
        .bind(window.max(0) as f64)
        .bind(&floors)
        .bind(&firsts_flag)
        .bind(&days)
        .fetch_all(&mut *conn)
        .await?
    };
    let mut db_prev: Vec<Option<Prev>> = hits
        .iter()
        .map(|h| {
            h.map(|l| Prev {
                read_at: l.read_at,
                volume_ml: l.volume_ml,
            })
        })
        .collect();
    let mut db_dup = vec![false; n];
    let mut early_nb: HashMap<i64, (DateTime<Utc>, rollup::Neighbours)> = HashMap::new();
    for (i, at, vol, dup, later, start_ml) in looked {
        let Some(i) = usize::try_from(i).ok().filter(|i| *i < n) else {
            continue;
        };
        db_dup[i] = dup;
        if let Some(later) = later {
            let c = &candidates[i];
            early_nb.insert(
                c.meter.meter_id,
                (c.reading.read_at, rollup::Neighbours { later, start_ml }),
            );
        }
        if let (Some(read_at), Some(volume_ml)) = (at, vol) {
            db_prev[i] = Some(Prev { read_at, volume_ml });
        }
    }

    // VEE in time order per meter, against the later of the stored and the in-batch previous.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (candidates[i].meter.meter_id, candidates[i].reading.read_at));
    let mut accepted: Vec<(usize, NewReading, (bool, bool))> = Vec::new();
    let mut last_in_batch: HashMap<i64, Vec<Prev>> = HashMap::new();
    let win = vee_cfg.dedupe_window();
    for i in order {
        let c = &candidates[i];
        let (mid, at, vol) = (c.meter.meter_id, c.reading.read_at, c.reading.volume.ml());
        let batch_prev = last_in_batch.get(&mid).map(Vec::as_slice).unwrap_or(&[]);
        let dup_in_batch = batch_prev
            .iter()
            .any(|p| p.read_at == at || (p.volume_ml == vol && (p.read_at - at).abs() <= win));
        if db_dup[i] || dup_in_batch {
            report.duplicates += 1;
            continue;
        }
        let prev = match (db_prev[i], batch_prev.last().copied()) {
            (Some(a), Some(b)) => Some(if a.read_at >= b.read_at { a } else { b }),
            (a, b) => a.or(b),
        };
        let profile = MeterProfile {
            register_digits: c.meter.register_digits,
            bulk: c.meter.bulk,
            first_after_replacement: c.replaced_another && prev.is_none(),
        };
        match vee::check(vee_cfg, &profile, prev, at, vol, now) {
            Ok(v) => {
                last_in_batch.entry(mid).or_default().push(Prev {
                    read_at: at,
                    volume_ml: vol,
                });
                accepted.push((
                    i,
                    NewReading {
                        meter_id: mid,
                        read_at: at,
                        volume_ml: vol,
                        source: c.reading.source,
                        quality: v.quality,
                    },
                    (v.reverse_flow(), v.zero_use),
                ));
            }
            Err(e) => dead.push((
                c.pos,
                c.reading.source,
                reading_payload(c.reading),
                "rejected",
                format!("meter {}: {e}", c.meter.serial),
            )),
        }
    }

    // Partitions for months this batch reaches beyond what is known to exist.
    let mut ensured = None;
    if let (Some(lo), Some(hi)) = (
        accepted.iter().map(|a| a.1.read_at).min(),
        accepted.iter().map(|a| a.1.read_at).max(),
    ) {
        if !cover.covers(lo, hi) {
            store::ensure_partitions(conn, lo, hi).await?;
            ensured = Some((lo, hi));
        }
    }

    // Each meter's first accepted reading: the rollup's stored neighbours, read before insert.
    let mut firsts: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for (_, r, _) in &accepted {
        let e = firsts.entry(r.meter_id).or_insert(r.read_at);
        *e = (*e).min(r.read_at);
    }
    let mut neighbours: HashMap<i64, rollup::Neighbours> = HashMap::new();
    let mut missing: Vec<(i64, DateTime<Utc>)> = Vec::new();
    for (mid, t1) in firsts {
        if let Some(nb) = cache.neighbours(mid, t1) {
            neighbours.insert(mid, nb);
            continue;
        }
        match early_nb.get(&mid) {
            Some((at, nb)) if *at == t1 => {
                neighbours.insert(mid, *nb);
            }
            _ => missing.push((mid, t1)),
        }
    }
    if !missing.is_empty() {
        neighbours.extend(rollup::neighbours(conn, &missing).await?);
    }

    // Readings newer than their meter's cached last stored one cannot exist yet (this writer
    // alone stores its meters): they go in with COPY. The rest may be stored already and go
    // through `on conflict do nothing`. Should a COPY'd key exist after all, the transaction
    // fails and its retry runs with the cache forgotten, all through the deduplicating insert.
    let (fresh, rest): (Vec<_>, Vec<_>) = accepted
        .iter()
        .partition(|a| cache.track_last && hits[a.0].is_some());
    let fresh: Vec<NewReading> = fresh.into_iter().map(|a| a.1.clone()).collect();
    let rest: Vec<NewReading> = rest.into_iter().map(|a| a.1.clone()).collect();
    let mut stored: HashSet<(i64, DateTime<Utc>)> = HashSet::with_capacity(accepted.len());
    if !fresh.is_empty() {
        store::copy_readings(conn, &fresh).await?;
        stored.extend(fresh.iter().map(|r| (r.meter_id, r.read_at)));
    }
    stored.extend(store::insert_readings(conn, &rest).await?);
    report.stored = stored.len() as u64;
    report.duplicates += accepted.len() as u64 - report.stored;

    let mut batch_rows: Vec<rollup::BatchRow> = Vec::new();
    let mut wraps: HashMap<i64, i64> = HashMap::new();
    // A reading lost to a concurrent writer: this batch is no append for that meter.
    let mut recompute: HashSet<i64> = HashSet::new();
    // Alarms this batch raises: their clears keep their place in time order among the raises;
    // every other clear goes into one statement.
    let raised: HashSet<(i64, AlarmKind)> = accepted
        .iter()
        .filter(|(_, r, _)| stored.contains(&(r.meter_id, r.read_at)))
        .flat_map(|(i, r, (reverse, _))| {
            let flags = candidates[*i].reading.status.iter();
            flags
                .filter(|f| f.active)
                .map(|f| (r.meter_id, f.kind))
                .chain(reverse.then_some((r.meter_id, AlarmKind::ReverseFlow)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut clears: Vec<(i64, AlarmKind, DateTime<Utc>)> = Vec::new();
    for (i, r, (reverse, zero)) in &accepted {
        if !stored.contains(&(r.meter_id, r.read_at)) {
            recompute.insert(r.meter_id);
            continue;
        }
        report.zero_use += u64::from(*zero);
        batch_rows.push(rollup::BatchRow {
            meter_id: r.meter_id,
            read_at: r.read_at,
            volume_ml: r.volume_ml,
            quality: r.quality,
        });
        let c = &candidates[*i];
        if let Some(w) = rollup::wrap_ml(c.meter.register_digits) {
            wraps.insert(r.meter_id, w);
        }
        let src = r.source.as_str();
        // Status flags of repeats were applied with the first copy.
        for f in &c.reading.status {
            if f.active {
                let details = serde_json::json!({"from": "status"});
                count_raise(
                    &mut report,
                    f.kind,
                    alarms::raise(conn, r.meter_id, f.kind, r.read_at, src, &details).await?,
                );
            } else if !raised.contains(&(r.meter_id, f.kind)) {
                clears.push((r.meter_id, f.kind, r.read_at));
            } else if alarms::clear(conn, r.meter_id, f.kind, r.read_at)
                .await?
                .is_some()
            {
                report.alarms_cleared += 1;
            }
        }
        if *reverse {
            let details = serde_json::json!({"rule": "register_decreased",
                                             "volume_ml": r.volume_ml});
            count_raise(
                &mut report,
                AlarmKind::ReverseFlow,
                alarms::raise(
                    conn,
                    r.meter_id,
                    AlarmKind::ReverseFlow,
                    r.read_at,
                    "vee",
                    &details,
                )
                .await?,
            );
        }
    }
    let clears = clearable(conn, clears).await?;
    report.alarms_cleared += alarms::clear_many(conn, &clears).await?.len() as u64;
    if cache.track_last {
        cache.pending = last_after(&batch_rows, &neighbours, &recompute);
    }
    if !batch_rows.is_empty() {
        let done = rollup::rollup_batch(conn, &batch_rows, &wraps, &neighbours, &recompute).await?;
        report.rollup_rows = done.rows;
        report.rollup_recomputed = done.recomputed_pairs;
    }

    for (a, meter_id) in events {
        if a.active {
            count_raise(
                &mut report,
                a.kind,
                alarms::raise(conn, meter_id, a.kind, a.at, a.source.as_str(), &a.details).await?,
            );
        } else if alarms::clear(conn, meter_id, a.kind, a.at).await?.is_some() {
            report.alarms_cleared += 1;
        }
    }

    if !dead.is_empty() {
        let rows: Vec<(Source, &[u8], &str)> = dead
            .iter()
            .map(|(_, s, p, _, r)| (*s, p.as_slice(), r.as_str()))
            .collect();
        store::insert_dead_letters(conn, &rows).await?;
        report.dead_letters = dead.len() as u64;
        for (pos, _, _, class, reason) in &dead {
            report.rejected.push((*pos, reason.clone()));
            match report.dead_by_class.iter_mut().find(|(k, _)| k == class) {
                Some(e) => e.1 += 1,
                None => report.dead_by_class.push((class, 1)),
            }
        }
    }
    Ok((report, ensured))
}

/// Locks the meters' rows until the end of the transaction, in `meter_id` order (so two
/// writers cannot deadlock on them), serialising transactions that write the same meters'
/// readings, rollups and alarms. Row locks (`for no key update`: the foreign-key checks of
/// other inserts still pass) live in the rows, not in the server's bounded lock table, so a
/// batch or an import may lock any number of meters. Re-locking in the same transaction is
/// a no-op.
pub async fn lock_meters(conn: &mut PgConnection, meter_ids: &[i64]) -> Result<(), sqlx::Error> {
    let mut ids = meter_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "select meter_id from meter where meter_id = any($1)
         order by meter_id for no key update",
    )
    .bind(&ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// The clears whose (meter, kind) has an alarm in a state [`alarms::clear_many`] clears
/// ('open', 'acknowledged', 'assigned'; the partial unique index on them makes this one index
/// probe per meter): most readings carry "not active" flags for every kind, and most meters
/// have no alarm, so this spares `clear_many` joining them all.
async fn clearable(
    conn: &mut PgConnection,
    mut clears: Vec<(i64, AlarmKind, DateTime<Utc>)>,
) -> Result<Vec<(i64, AlarmKind, DateTime<Utc>)>, sqlx::Error> {
    if clears.is_empty() {
        return Ok(clears);
    }
    let mut meters: Vec<i64> = clears.iter().map(|c| c.0).collect();
    meters.sort_unstable();
    meters.dedup();
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "select meter_id, kind from alarm
         where meter_id = any($1) and state in ('open', 'acknowledged', 'assigned')",
    )
    .bind(&meters)
    .fetch_all(&mut *conn)
    .await?;
    let open: HashSet<(i64, AlarmKind)> = rows
        .into_iter()
        .filter_map(|(m, k)| Some((m, AlarmKind::parse(&k)?)))
        .collect();
    clears.retain(|c| open.contains(&(c.0, c.1)));
    Ok(clears)
}

/// Each stored meter's last reading after the batch (None where the batch was no plain append,
/// so the cache forgets the meter and the next batch looks it up).
fn last_after(
    rows: &[rollup::BatchRow],
    neighbours: &HashMap<i64, rollup::Neighbours>,
    recompute: &HashSet<i64>,
) -> Vec<(i64, Option<LastStored>)> {
    let mut by_meter: HashMap<i64, Vec<&rollup::BatchRow>> = HashMap::new();
    for r in rows {
        by_meter.entry(r.meter_id).or_default().push(r);
    }
    by_meter
        .into_iter()
        .map(|(m, mut list)| {
            list.sort_by_key(|r| r.read_at);
            let nb = neighbours.get(&m).filter(|n| !n.later);
            let last = match (nb, recompute.contains(&m)) {
                (Some(nb), false) => {
                    // The same walk over days as the incremental rollup.
                    let mut start = nb.start_ml;
                    let mut day_start = None;
                    let mut day = None;
                    let mut prev_ml = None;
                    for r in &list {
                        let d = ewoda_common::time::local_day(r.read_at);
                        if day != Some(d) {
                            if day.is_some() {
                                start = prev_ml;
                            }
                            day = Some(d);
                            day_start = Some(start.unwrap_or(r.volume_ml));
                        }
                        prev_ml = Some(r.volume_ml);
                    }
                    match (list.last(), day_start) {
                        (Some(l), Some(ds)) => Some(LastStored {
                            read_at: l.read_at,
                            volume_ml: l.volume_ml,
                            day_start_ml: ds,
                        }),
                        _ => None,
                    }
                }
                _ => None,
            };
            (m, last)
        })
        .collect()
}

fn count_raise(report: &mut BatchReport, kind: AlarmKind, r: Raised) {
    match r {
        Raised::Opened(_) => {
            report.alarms_opened += 1;
            count_kind(&mut report.opened_by_kind, kind, 1);
        }
        Raised::Repeated(_) => report.alarms_repeated += 1,
    }
}

fn count_kind(counts: &mut Vec<(AlarmKind, u64)>, kind: AlarmKind, n: u64) {
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
