//! Stage 6 of a batch — alarms: the status flags of the stored readings raise or clear
//! their kinds, a falling register raises reverse flow, and the devices' own alarm events
//! are applied. Status flags of repeats were applied with the first copy.

use super::resolve::Candidate;
use super::validate::Accepted;
use super::writer::{count_kind, BatchReport};
use super::AlarmEvent;
use crate::alarms::{self, AlarmKind, Raised};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::HashSet;

/// Raises and clears the alarms the stored readings' status flags and VEE verdicts carry.
pub(super) async fn status_alarms(
    conn: &mut PgConnection,
    candidates: &[Candidate<'_>],
    accepted: &[Accepted],
    stored: &HashSet<(i64, DateTime<Utc>)>,
    report: &mut BatchReport,
) -> Result<(), sqlx::Error> {
    let is_stored = |a: &&Accepted| stored.contains(&(a.row.meter_id, a.row.read_at));
    // Alarms this batch raises: their clears keep their place in time order among the raises;
    // every other clear goes into one statement.
    let raised: HashSet<(i64, AlarmKind)> = accepted
        .iter()
        .filter(is_stored)
        .flat_map(|a| {
            let flags = candidates[a.candidate].reading.status.iter();
            flags
                .filter(|f| f.active)
                .map(|f| (a.row.meter_id, f.kind))
                .chain(
                    a.reverse
                        .then_some((a.row.meter_id, AlarmKind::ReverseFlow)),
                )
                .collect::<Vec<_>>()
        })
        .collect();
    let mut clears: Vec<(i64, AlarmKind, DateTime<Utc>)> = Vec::new();
    for a in accepted.iter().filter(is_stored) {
        let r = &a.row;
        let src = r.source.as_str();
        for f in &candidates[a.candidate].reading.status {
            if f.active {
                let details = serde_json::json!({"from": "status"});
                let raise = alarms::raise(conn, r.meter_id, f.kind, r.read_at, src, &details);
                count_raise(report, f.kind, raise.await?);
            } else if !raised.contains(&(r.meter_id, f.kind)) {
                clears.push((r.meter_id, f.kind, r.read_at));
            } else if alarms::clear(conn, r.meter_id, f.kind, r.read_at)
                .await?
                .is_some()
            {
                report.alarms_cleared += 1;
            }
        }
        if a.reverse {
            let details = serde_json::json!({"rule": "register_decreased",
                                             "volume_ml": r.volume_ml});
            let kind = AlarmKind::ReverseFlow;
            let raise = alarms::raise(conn, r.meter_id, kind, r.read_at, "vee", &details);
            count_raise(report, kind, raise.await?);
        }
    }
    let clears = clearable(conn, clears).await?;
    report.alarms_cleared += alarms::clear_many(conn, &clears).await?.len() as u64;
    Ok(())
}

/// Applies the alarm events devices reported on their own.
pub(super) async fn device_events(
    conn: &mut PgConnection,
    events: &[(&AlarmEvent, i64)],
    report: &mut BatchReport,
) -> Result<(), sqlx::Error> {
    for &(a, meter_id) in events {
        if a.active {
            let src = a.source.as_str();
            let raise = alarms::raise(conn, meter_id, a.kind, a.at, src, &a.details);
            count_raise(report, a.kind, raise.await?);
        } else if alarms::clear(conn, meter_id, a.kind, a.at).await?.is_some() {
            report.alarms_cleared += 1;
        }
    }
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

fn count_raise(report: &mut BatchReport, kind: AlarmKind, r: Raised) {
    match r {
        Raised::Opened(_) => {
            report.alarms_opened += 1;
            count_kind(&mut report.opened_by_kind, kind, 1);
        }
        Raised::Repeated(_) => report.alarms_repeated += 1,
    }
}
