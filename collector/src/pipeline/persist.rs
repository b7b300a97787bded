//! Stage 4 of a batch — store: partitions for the months the accepted readings reach, the
//! readings themselves (COPY where they cannot exist yet, else the deduplicating insert),
//! and, last, the batch's dead letters.

use super::resolve::{LastStored, Rejected};
use super::validate::Accepted;
use super::writer::BatchReport;
use crate::store::{self, NewReading, Source};
use chrono::{DateTime, Datelike, Utc};
use sqlx::PgConnection;
use std::collections::HashSet;

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

/// Ensures partitions for months the accepted readings reach beyond what is known to exist;
/// returns the range it ensured.
pub(super) async fn ensure_partitions(
    conn: &mut PgConnection,
    cover: &PartitionCover,
    accepted: &[Accepted],
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let times = || accepted.iter().map(|a| a.row.read_at);
    if let (Some(lo), Some(hi)) = (times().min(), times().max()) {
        if !cover.covers(lo, hi) {
            store::ensure_partitions(conn, lo, hi).await?;
            return Ok(Some((lo, hi)));
        }
    }
    Ok(None)
}

/// Stores the accepted readings; returns the keys this transaction stored (the others were
/// stored already: duplicates).
///
/// Readings newer than their meter's cached last stored one (`hits`, only when the writer
/// owns its meters) cannot exist yet: they go in with COPY. The rest may be stored already
/// and go through `on conflict do nothing`. Should a COPY'd key exist after all, the
/// transaction fails and its retry runs with the cache forgotten, all through the
/// deduplicating insert.
pub(super) async fn store_readings(
    conn: &mut PgConnection,
    track_last: bool,
    hits: &[Option<LastStored>],
    accepted: &[Accepted],
) -> Result<HashSet<(i64, DateTime<Utc>)>, sqlx::Error> {
    let (fresh, rest): (Vec<_>, Vec<_>) = accepted
        .iter()
        .partition(|a| track_last && hits[a.candidate].is_some());
    let fresh: Vec<NewReading> = fresh.into_iter().map(|a| a.row.clone()).collect();
    let rest: Vec<NewReading> = rest.into_iter().map(|a| a.row.clone()).collect();
    let mut stored: HashSet<(i64, DateTime<Utc>)> = HashSet::with_capacity(accepted.len());
    if !fresh.is_empty() {
        store::copy_readings(conn, &fresh).await?;
        stored.extend(fresh.iter().map(|r| (r.meter_id, r.read_at)));
    }
    stored.extend(store::insert_readings(conn, &rest).await?);
    Ok(stored)
}

/// Stores the dead letters and counts them in the report.
pub(super) async fn store_dead_letters(
    conn: &mut PgConnection,
    dead: &[Rejected],
    report: &mut BatchReport,
) -> Result<(), sqlx::Error> {
    if dead.is_empty() {
        return Ok(());
    }
    let rows: Vec<(Source, &[u8], &str)> = dead
        .iter()
        .map(|d| {
            let l = &d.letter;
            (l.source, l.payload.as_slice(), l.reason.as_str())
        })
        .collect();
    store::insert_dead_letters(conn, &rows).await?;
    report.dead_letters = dead.len() as u64;
    for d in dead {
        let class = d.letter.class;
        report.rejected.push((d.pos, d.letter.reason.clone()));
        match report.dead_by_class.iter_mut().find(|(k, _)| *k == class) {
            Some(e) => e.1 += 1,
            None => report.dead_by_class.push((class, 1)),
        }
    }
    Ok(())
}
