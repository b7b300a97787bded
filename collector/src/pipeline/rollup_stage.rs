//! Stage 5 of a batch — rollups: the stored neighbours of each meter's first accepted
//! reading (read before the insert), the batch's stored rows, and the incremental daily
//! rollup over them ([`rollup::rollup_batch`]); also what the cache will know as each
//! meter's last stored reading once the batch commits.

use super::resolve::{Candidate, LastStored, MeterCache};
use super::rollup;
use super::validate::Accepted;
use super::writer::BatchReport;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

/// The rollup neighbours of each meter's first accepted reading: from the cache, from the
/// previous-reading lookup when it was made for that very reading, else read now (before
/// the insert, so they are the stored ones).
pub(super) async fn batch_neighbours(
    conn: &mut PgConnection,
    cache: &MeterCache,
    early_nb: &HashMap<i64, (DateTime<Utc>, rollup::Neighbours)>,
    accepted: &[Accepted],
) -> Result<HashMap<i64, rollup::Neighbours>, sqlx::Error> {
    let mut firsts: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for a in accepted {
        let e = firsts.entry(a.row.meter_id).or_insert(a.row.read_at);
        *e = (*e).min(a.row.read_at);
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
    Ok(neighbours)
}

/// The accepted readings this transaction stored, as the rollup takes them.
pub(super) struct StoredRows {
    pub rows: Vec<rollup::BatchRow>,
    /// Register wrap of each meter with a bounded register.
    pub wraps: HashMap<i64, i64>,
    /// Meters a reading was lost for to a concurrent writer: no append, recompute.
    pub recompute: HashSet<i64>,
    pub zero_use: u64,
}

/// Sorts the accepted readings into stored rows and meters to recompute.
pub(super) fn stored_rows(
    candidates: &[Candidate<'_>],
    accepted: &[Accepted],
    stored: &HashSet<(i64, DateTime<Utc>)>,
) -> StoredRows {
    let mut out = StoredRows {
        rows: Vec::new(),
        wraps: HashMap::new(),
        recompute: HashSet::new(),
        zero_use: 0,
    };
    for a in accepted {
        let r = &a.row;
        if !stored.contains(&(r.meter_id, r.read_at)) {
            out.recompute.insert(r.meter_id);
            continue;
        }
        out.zero_use += u64::from(a.zero_use);
        out.rows.push(rollup::BatchRow {
            meter_id: r.meter_id,
            read_at: r.read_at,
            volume_ml: r.volume_ml,
            source: r.source,
            quality: r.quality,
        });
        if let Some(w) = rollup::wrap_ml(candidates[a.candidate].meter.register_digits) {
            out.wraps.insert(r.meter_id, w);
        }
    }
    out
}

/// Rolls the stored rows up and notes the cache's last readings to apply after the commit.
pub(super) async fn roll_up(
    conn: &mut PgConnection,
    cache: &mut MeterCache,
    stored: &StoredRows,
    neighbours: &HashMap<i64, rollup::Neighbours>,
    report: &mut BatchReport,
) -> Result<(), sqlx::Error> {
    if cache.track_last {
        cache.pending = last_after(&stored.rows, neighbours, &stored.recompute);
    }
    if !stored.rows.is_empty() {
        let done = rollup::rollup_batch(
            conn,
            &stored.rows,
            &stored.wraps,
            neighbours,
            &stored.recompute,
        )
        .await?;
        report.rollup_rows = done.rows;
        report.rollup_recomputed = done.recomputed_pairs;
    }
    Ok(())
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
