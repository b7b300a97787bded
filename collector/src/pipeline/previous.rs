//! Stage 2 of a batch — previous readings and duplicates: for each candidate, the meter's
//! previous stored reading within the current installation and whether a copy is stored
//! already (same time, or the same register within the dedupe window). From the cache when
//! the reading is newer than the last stored one by more than the window, else looked up in
//! one statement that also reads the rollup neighbours of each meter's earliest candidate.

use super::resolve::{Candidate, LastStored, MeterCache};
use super::rollup;
use super::vee::{Prev, VeeConfig};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use std::collections::HashMap;

/// What is stored before each candidate (indexed like the candidates).
pub(super) struct Previous {
    /// The cache's last stored reading, where it stands for the lookup.
    pub hits: Vec<Option<LastStored>>,
    pub prev: Vec<Option<Prev>>,
    /// A copy of the reading is stored already.
    pub dup: Vec<bool>,
    /// Rollup neighbours read for a meter's earliest candidate (its time, the neighbours).
    pub early_nb: HashMap<i64, (DateTime<Utc>, rollup::Neighbours)>,
}

/// (index, previous read_at, previous volume, stored duplicate, rollup `later`, rollup start).
type PrevRow = (
    i32,
    Option<DateTime<Utc>>,
    Option<i64>,
    bool,
    Option<bool>,
    Option<i64>,
);

/// Finds the previous reading and stored duplicates of every candidate.
pub(super) async fn previous_and_duplicates(
    conn: &mut PgConnection,
    cache: &MeterCache,
    vee_cfg: &VeeConfig,
    candidates: &[Candidate<'_>],
) -> Result<Previous, sqlx::Error> {
    let n = candidates.len();
    let hits = cache_hits(cache, vee_cfg, candidates);
    let miss: Vec<usize> = (0..n).filter(|&i| hits[i].is_none()).collect();
    let looked = if miss.is_empty() {
        Vec::new()
    } else {
        let is_first = earliest_per_meter(candidates);
        look_up(conn, vee_cfg, candidates, &miss, &is_first).await?
    };
    let mut out = Previous {
        prev: hits
            .iter()
            .map(|h| {
                h.map(|l| Prev {
                    read_at: l.read_at,
                    volume_ml: l.volume_ml,
                })
            })
            .collect(),
        hits,
        dup: vec![false; n],
        early_nb: HashMap::new(),
    };
    for (i, at, vol, dup, later, start_ml) in looked {
        let Some(i) = usize::try_from(i).ok().filter(|i| *i < n) else {
            continue;
        };
        out.dup[i] = dup;
        if let Some(later) = later {
            let c = &candidates[i];
            out.early_nb.insert(
                c.meter.meter_id,
                (c.reading.read_at, rollup::Neighbours { later, start_ml }),
            );
        }
        if let (Some(read_at), Some(volume_ml)) = (at, vol) {
            out.prev[i] = Some(Prev { read_at, volume_ml });
        }
    }
    Ok(out)
}

/// The cached last stored reading of each candidate's meter, where it is the previous one:
/// the reading is newer by more than the dedupe window and within the same installation.
fn cache_hits(
    cache: &MeterCache,
    vee_cfg: &VeeConfig,
    candidates: &[Candidate<'_>],
) -> Vec<Option<LastStored>> {
    candidates
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
        .collect()
}

/// Marks each meter's earliest candidate, which also reads the rollup neighbours (valid when
/// it is the meter's first accepted reading; otherwise they are read again after VEE).
fn earliest_per_meter(candidates: &[Candidate<'_>]) -> Vec<bool> {
    let mut earliest: HashMap<i64, usize> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let e = earliest.entry(c.meter.meter_id).or_insert(i);
        if c.reading.read_at < candidates[*e].reading.read_at {
            *e = i;
        }
    }
    let mut is_first = vec![false; candidates.len()];
    for &i in earliest.values() {
        is_first[i] = true;
    }
    is_first
}

/// The one statement for the candidates the cache could not answer (`miss`).
async fn look_up(
    conn: &mut PgConnection,
    vee_cfg: &VeeConfig,
    candidates: &[Candidate<'_>],
    miss: &[usize],
    is_first: &[bool],
) -> Result<Vec<PrevRow>, sqlx::Error> {
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
    let firsts_flag: Vec<bool> = miss.iter().map(|&i| is_first[i]).collect();
    let days: Vec<NaiveDate> = ats
        .iter()
        .map(|t| ewoda_common::time::local_day(*t))
        .collect();
    sqlx::query_as(PREVIOUS_SQL)
        .bind(&idx)
        .bind(&mids)
        .bind(&ats)
        .bind(&vols)
        .bind(vee_cfg.dedupe_window_secs.max(0) as f64)
        .bind(&floors)
        .bind(&firsts_flag)
        .bind(&days)
        .fetch_all(&mut *conn)
        .await
}

const PREVIOUS_SQL: &str = "select u.i, p.read_at, p.volume_ml,
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
                 order by r.read_at desc limit 1) p on true";
