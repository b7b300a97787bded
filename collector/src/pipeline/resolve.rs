//! Stage 1 of a batch — resolve meters: every reference is looked up (through the
//! [`MeterCache`] kept across batches), each reading is checked against its meter's
//! installation history, and what cannot be used becomes a [`Rejected`] item. Unless the
//! writer alone stores these meters, their rows are locked for the rest of the transaction.

use super::{rollup, AlarmEvent, DeadLetter, Item, MeterReading, MeterRef};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

/// An input that becomes a dead letter, with its position in the batch.
#[derive(Debug)]
pub(super) struct Rejected {
    pub pos: usize,
    pub letter: DeadLetter,
}

impl Rejected {
    pub(super) fn reading(
        pos: usize,
        r: &MeterReading,
        class: &'static str,
        reason: String,
    ) -> Self {
        Rejected {
            pos,
            letter: DeadLetter {
                source: r.source,
                payload: reading_payload(r),
                class,
                reason,
            },
        }
    }
}

/// A reading of a known meter that hung somewhere at its time: what the later stages use.
pub(super) struct Candidate<'a> {
    /// Position of the item in the batch.
    pub pos: usize,
    pub reading: &'a MeterReading,
    pub meter: MeterRow,
    /// Start of the installation covering the reading (earlier readings are another's).
    pub floor: Option<DateTime<Utc>>,
    pub replaced_another: bool,
}

/// What stage 1 made of a batch.
pub(super) struct Resolved<'a> {
    pub candidates: Vec<Candidate<'a>>,
    /// Device alarm events of known meters, with their `meter_id`.
    pub events: Vec<(&'a AlarmEvent, i64)>,
    pub dead: Vec<Rejected>,
    /// Readings in the batch (usable or not).
    pub readings: u64,
}

/// Resolves the batch's meter references, sorts its items into candidates, alarm events
/// and rejections, and locks the meters unless the cache owns them.
pub(super) async fn resolve_batch<'a>(
    conn: &mut PgConnection,
    cache: &mut MeterCache,
    items: &'a [Item],
) -> Result<Resolved<'a>, sqlx::Error> {
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
    let resolved = classify(cache, items);
    // Unless this writer alone stores these meters, another transaction (a second collector
    // of the shared group, a file import) may be writing the same series: lock the meters so
    // the later transaction reads the earlier one's committed rows before it builds on them.
    if !cache.track_last {
        let ids: Vec<i64> = resolved
            .candidates
            .iter()
            .map(|c| c.meter.meter_id)
            .chain(resolved.events.iter().map(|e| e.1))
            .collect();
        lock_meters(conn, &ids).await?;
    }
    Ok(resolved)
}

/// Sorts the items against the resolved meters (no database access).
fn classify<'a>(cache: &MeterCache, items: &'a [Item]) -> Resolved<'a> {
    let (meters, installs) = (&cache.meters, &cache.installs);
    let mut out = Resolved {
        candidates: Vec::new(),
        events: Vec::new(),
        dead: Vec::new(),
        readings: 0,
    };
    for (pos, item) in items.iter().enumerate() {
        match item {
            Item::DeadLetter(d) => out.dead.push(Rejected {
                pos,
                letter: d.clone(),
            }),
            Item::Reading(r) => {
                out.readings += 1;
                let Some(m) = lookup(meters, &r.meter) else {
                    let reason = format!("unknown meter {}", r.meter);
                    out.dead
                        .push(Rejected::reading(pos, r, "unknown_meter", reason));
                    continue;
                };
                match installation_at(installs.get(&m.meter_id), &m.serial, r.read_at) {
                    Ok(inst) => out.candidates.push(Candidate {
                        pos,
                        reading: r,
                        meter: m.clone(),
                        floor: inst.map(|i| i.installed_at),
                        replaced_another: inst.is_some_and(|i| i.replaced_another),
                    }),
                    Err((class, reason)) => out.dead.push(Rejected::reading(pos, r, class, reason)),
                }
            }
            Item::Alarm(a) => match lookup(meters, &a.meter) {
                Some(m) => out.events.push((a, m.meter_id)),
                None => out.dead.push(Rejected {
                    pos,
                    letter: DeadLetter {
                        source: a.source,
                        payload: serde_json::to_vec(a).unwrap_or_default(),
                        class: "unknown_meter",
                        reason: format!("unknown meter {}", a.meter),
                    },
                }),
            },
        }
    }
    out
}

fn reading_payload(r: &MeterReading) -> Vec<u8> {
    serde_json::to_vec(r).unwrap_or_default()
}

/// meter_id, installed_at, removed_at, replaced another meter.
type InstallRow = (i64, DateTime<Utc>, Option<DateTime<Utc>>, bool);

/// A meter as the writer needs it.
#[derive(Debug, Clone)]
pub(super) struct MeterRow {
    pub meter_id: i64,
    pub serial: String,
    pub register_digits: i16,
    pub bulk: bool,
}

#[derive(Debug, Clone)]
struct Installation {
    installed_at: DateTime<Utc>,
    removed_at: Option<DateTime<Utc>>,
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
    pub(super) track_last: bool,
    /// Each owned meter's last stored reading, as of the last commit.
    pub(super) last: HashMap<i64, LastStored>,
    /// What the batch in flight will make of `last` once it commits (None: forget).
    pub(super) pending: Vec<(i64, Option<LastStored>)>,
}

/// A meter's last stored reading and the register its local day's consumption starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LastStored {
    pub read_at: DateTime<Utc>,
    pub volume_ml: i64,
    /// The last stored register before `read_at`'s local day, else that day's first.
    pub day_start_ml: i64,
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
    pub(super) fn forget_last(&mut self) {
        self.last.clear();
        self.pending.clear();
    }

    /// Applies the last-reading updates of the batch that just committed.
    pub(super) fn commit_pending(&mut self) {
        for (m, l) in self.pending.drain(..) {
            match l {
                Some(l) => self.last.insert(m, l),
                None => self.last.remove(&m),
            };
        }
    }

    /// The rollup neighbours of `meter` for a first reading at `t1`, when the cache knows them.
    pub(super) fn neighbours(&self, meter: i64, t1: DateTime<Utc>) -> Option<rollup::Neighbours> {
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
