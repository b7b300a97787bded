//! Daily rollups (`reading_daily`): the writer's common, in-order case is computed from the
//! batch's own rows plus one stored neighbour per meter ([`rollup_batch`]); anything else
//! (late readings, a batch landing before stored readings) recomputes the touched
//! (meter, day) pairs with the one SQL definition also used for a full recompute of a date
//! range ([`crate::store::rollup_days`]), so all paths give the same rows.

use crate::store::Source;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Computes and upserts the rollups of the days in the `pairs` CTE the caller supplies
/// (columns `meter_id`, `day`). Consumption of a day = last register of the day − last
/// register before the day (the first of the day for a meter's first reading); a decrease
/// from the upper to the lower half of the register is a rollover and adds the wrap; any
/// other decrease counts as zero (reverse flow is an alarm, not negative use).
fn upsert_sql(pairs_cte: &str) -> String {
    format!(
        r#"
        with {pairs_cte},
        agg as (
            select p.meter_id, p.day, s.*
            from (select distinct meter_id, day from pairs) p
            cross join lateral (
                select min(r.read_at) as first_read_at, max(r.read_at) as last_read_at,
                       (array_agg(r.volume_ml order by r.read_at))[1] as first_volume_ml,
                       (array_agg(r.volume_ml order by r.read_at desc))[1] as last_volume_ml,
                       (array_agg(r.source order by r.read_at desc))[1] as last_source,
                       (array_agg(r.quality order by r.read_at desc))[1] as last_quality,
                       count(*)::int as n, coalesce(bit_or(r.quality), 0)::smallint as quality
                from reading r
                where r.meter_id = p.meter_id
                  and r.read_at >= p.day::timestamp at time zone 'Europe/Warsaw'
                  and r.read_at < (p.day + 1)::timestamp at time zone 'Europe/Warsaw'
            ) s
        ), full_row as (
            select a.*, (10::numeric ^ m.register_digits)::bigint * 1000000 as wrap,
                   coalesce((select r.volume_ml from reading r
                     where r.meter_id = a.meter_id
                       and r.read_at < a.day::timestamp at time zone 'Europe/Warsaw'
                     order by r.read_at desc limit 1), a.first_volume_ml) as start_ml
            from agg a join meter m using (meter_id)
            where a.n > 0
        )
        insert into reading_daily (meter_id, day, first_read_at, last_read_at, first_volume_ml,
                                   last_volume_ml, consumption_ml, reading_count, quality,
                                   last_source, last_quality)
        select meter_id, day, first_read_at, last_read_at, first_volume_ml, last_volume_ml,
               case
                   when last_volume_ml >= start_ml then last_volume_ml - start_ml
                   -- The same wrap rule as VEE, on values, so the arrival order of readings
                   -- (which decides where VEE put its flags) cannot change a rollup.
                   when start_ml >= wrap / 2 and last_volume_ml < wrap / 2
                       then last_volume_ml - start_ml + wrap
                   else 0
               end,
               n, quality, last_source, last_quality
        from full_row
        on conflict (meter_id, day) do update set
            first_read_at = excluded.first_read_at,
            last_read_at = excluded.last_read_at,
            first_volume_ml = excluded.first_volume_ml,
            last_volume_ml = excluded.last_volume_ml,
            consumption_ml = excluded.consumption_ml,
            reading_count = excluded.reading_count,
            quality = excluded.quality,
            last_source = excluded.last_source,
            last_quality = excluded.last_quality
        "#
    )
}

/// Updates the rollups of the given (meter, local day) pairs and of the next rolled-up day of
/// each meter after them (its consumption starts from the changed day's last register).
/// Runs in the caller's transaction; returns the rows written.
pub async fn rollup_pairs(
    conn: &mut PgConnection,
    meter_ids: &[i64],
    days: &[NaiveDate],
) -> Result<u64, sqlx::Error> {
    if meter_ids.is_empty() {
        return Ok(0);
    }
    let sql = upsert_sql(
        r#"given as (select * from unnest($1::bigint[], $2::date[]) as g(meter_id, day)),
        pairs as (
            select meter_id, day from given
            union
            select g.meter_id, n.day from given g
            cross join lateral (select min(d.day) as day from reading_daily d
                                where d.meter_id = g.meter_id and d.day > g.day) n
            where n.day is not null
        )"#,
    );
    Ok(sqlx::query(&sql)
        .bind(meter_ids)
        .bind(days)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Recomputes every rollup of `[from, to]` from scratch (deletes the range first).
pub async fn rollup_range(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, sqlx::Error> {
    sqlx::query("delete from reading_daily where day between $1 and $2")
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    let sql = upsert_sql(
        r#"pairs as (
            select distinct meter_id, (read_at at time zone 'Europe/Warsaw')::date as day
            from reading
            where read_at >= $1::date::timestamp at time zone 'Europe/Warsaw'
              and read_at < ($2::date + 1)::timestamp at time zone 'Europe/Warsaw'
        )"#,
    );
    Ok(sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .execute(conn)
        .await?
        .rows_affected())
}

/// A reading the batch stored, as the rollup needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRow {
    pub meter_id: i64,
    pub read_at: DateTime<Utc>,
    pub volume_ml: i64,
    pub source: Source,
    pub quality: i16,
}

/// What the stored series of a meter looks like around a batch, read before the batch is
/// inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbours {
    /// A stored reading at or after the batch's first one: the batch is not an append.
    pub later: bool,
    /// The register the first touched day's consumption starts from: the last stored reading
    /// before that day, else the day's first stored reading (None: the batch's own first).
    pub start_ml: Option<i64>,
}

/// Reads the [`Neighbours`] of each meter given the batch's first reading time of it.
pub async fn neighbours(
    conn: &mut PgConnection,
    firsts: &[(i64, DateTime<Utc>)],
) -> Result<HashMap<i64, Neighbours>, sqlx::Error> {
    if firsts.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<i64> = firsts.iter().map(|f| f.0).collect();
    let ats: Vec<DateTime<Utc>> = firsts.iter().map(|f| f.1).collect();
    let days: Vec<NaiveDate> = firsts
        .iter()
        .map(|f| ewoda_common::time::local_day(f.1))
        .collect();
    let rows: Vec<(i64, bool, Option<i64>)> = sqlx::query_as(
        "select u.meter_id,
                exists (select 1 from reading r
                        where r.meter_id = u.meter_id and r.read_at >= u.t1),
                coalesce(
                    (select r.volume_ml from reading r
                     where r.meter_id = u.meter_id
                       and r.read_at < u.day::timestamp at time zone 'Europe/Warsaw'
                     order by r.read_at desc limit 1),
                    (select r.volume_ml from reading r
                     where r.meter_id = u.meter_id
                       and r.read_at >= u.day::timestamp at time zone 'Europe/Warsaw'
                     order by r.read_at limit 1))
         from unnest($1::bigint[], $2::timestamptz[], $3::date[]) as u(meter_id, t1, day)",
    )
    .bind(&ids)
    .bind(&ats)
    .bind(&days)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(m, later, start_ml)| (m, Neighbours { later, start_ml }))
        .collect())
}

/// The register wrap (millilitres) of a `digits`-digit m³ register.
pub fn wrap_ml(digits: i16) -> Option<i64> {
    10i64
        .checked_pow(u32::try_from(digits).ok()?)?
        .checked_mul(1_000_000)
}

/// A day's consumption from the register it starts from to its last register: the same rule
/// as the SQL in [`upsert_sql`] (a rollover from the upper to the lower half of the register
/// adds the wrap; any other decrease is zero).
pub fn consumption(start_ml: i64, last_ml: i64, wrap: i64) -> i64 {
    if last_ml >= start_ml {
        last_ml - start_ml
    } else if start_ml >= wrap / 2 && last_ml < wrap / 2 {
        last_ml - start_ml + wrap
    } else {
        0
    }
}

/// `reading_daily` rows to upsert, as columns for `unnest`.
#[derive(Default)]
struct DailyColumns {
    meter: Vec<i64>,
    day: Vec<NaiveDate>,
    first_at: Vec<DateTime<Utc>>,
    last_at: Vec<DateTime<Utc>>,
    first_ml: Vec<i64>,
    last_ml: Vec<i64>,
    used: Vec<i64>,
    count: Vec<i32>,
    quality: Vec<i16>,
    last_source: Vec<&'static str>,
    last_quality: Vec<i16>,
}

/// What [`rollup_batch`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupOutcome {
    /// Rows upserted (incremental and recomputed).
    pub rows: u64,
    /// (meter, day) pairs that needed the full recompute.
    pub recomputed_pairs: u64,
}

/// Updates the rollups for the rows a batch stored. Meters whose rows were appended after
/// every stored reading (per `neighbours`) are rolled up from the batch alone with one upsert
/// (counts and quality merged arithmetically with the stored row); the rest, and meters in
/// `recompute` or without a known wrap, fall back to [`rollup_pairs`].
pub async fn rollup_batch(
    conn: &mut PgConnection,
    rows: &[BatchRow],
    wraps: &HashMap<i64, i64>,
    neighbours: &HashMap<i64, Neighbours>,
    recompute: &HashSet<i64>,
) -> Result<RollupOutcome, sqlx::Error> {
    let mut by_meter: BTreeMap<i64, Vec<BatchRow>> = BTreeMap::new();
    for r in rows {
        by_meter.entry(r.meter_id).or_default().push(*r);
    }
    let mut full: Vec<(i64, NaiveDate)> = Vec::new();
    let mut up = DailyColumns::default();
    for (meter_id, mut list) in by_meter {
        list.sort_by_key(|r| r.read_at);
        let mut days: BTreeMap<NaiveDate, Vec<BatchRow>> = BTreeMap::new();
        for r in &list {
            days.entry(ewoda_common::time::local_day(r.read_at))
                .or_default()
                .push(*r);
        }
        let nb = neighbours.get(&meter_id);
        let wrap = wraps.get(&meter_id).copied();
        let (Some(nb), Some(wrap)) = (nb.filter(|n| !n.later), wrap) else {
            full.extend(days.keys().map(|d| (meter_id, *d)));
            continue;
        };
        if recompute.contains(&meter_id) {
            full.extend(days.keys().map(|d| (meter_id, *d)));
            continue;
        }
        let mut start = nb.start_ml;
        for (day, rs) in days {
            let (Some(first), Some(last)) = (rs.first(), rs.last()) else {
                continue;
            };
            let from = start.unwrap_or(first.volume_ml);
            up.meter.push(meter_id);
            up.day.push(day);
            up.first_at.push(first.read_at);
            up.last_at.push(last.read_at);
            up.first_ml.push(first.volume_ml);
            up.last_ml.push(last.volume_ml);
            up.used.push(consumption(from, last.volume_ml, wrap));
            up.count.push(i32::try_from(rs.len()).unwrap_or(i32::MAX));
            up.quality.push(rs.iter().fold(0, |q, r| q | r.quality));
            up.last_source.push(last.source.as_str());
            up.last_quality.push(last.quality);
            start = Some(last.volume_ml);
        }
    }
    let mut out = RollupOutcome::default();
    if !up.meter.is_empty() {
        // Appends: the stored row keeps its first reading, gains the batch's last one.
        out.rows += sqlx::query(
            "insert into reading_daily (meter_id, day, first_read_at, last_read_at,
                                        first_volume_ml, last_volume_ml, consumption_ml,
                                        reading_count, quality, last_source, last_quality)
             select * from unnest($1::bigint[], $2::date[], $3::timestamptz[],
                                  $4::timestamptz[], $5::bigint[], $6::bigint[], $7::bigint[],
                                  $8::int[], $9::smallint[], $10::text[], $11::smallint[])
             on conflict (meter_id, day) do update set
                 last_read_at = excluded.last_read_at,
                 last_volume_ml = excluded.last_volume_ml,
                 last_source = excluded.last_source,
                 last_quality = excluded.last_quality,
                 consumption_ml = excluded.consumption_ml,
                 reading_count = reading_daily.reading_count + excluded.reading_count,
                 quality = reading_daily.quality | excluded.quality",
        )
        .bind(&up.meter)
        .bind(&up.day)
        .bind(&up.first_at)
        .bind(&up.last_at)
        .bind(&up.first_ml)
        .bind(&up.last_ml)
        .bind(&up.used)
        .bind(&up.count)
        .bind(&up.quality)
        .bind(&up.last_source)
        .bind(&up.last_quality)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    if !full.is_empty() {
        out.recomputed_pairs = full.len() as u64;
        let (m, d): (Vec<i64>, Vec<NaiveDate>) = full.into_iter().unzip();
        out.rows += rollup_pairs(conn, &m, &d).await?;
    }
    Ok(out)
}
