//! Daily rollups (`reading_daily`): one SQL definition used both incrementally for the
//! (meter, day) pairs a batch touched and for a full recompute of a date range
//! ([`crate::store::rollup_days`]), so both give the same rows.

use chrono::NaiveDate;
use sqlx::PgConnection;

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
                                   last_volume_ml, consumption_ml, reading_count, quality)
        select meter_id, day, first_read_at, last_read_at, first_volume_ml, last_volume_ml,
               case
                   when last_volume_ml >= start_ml then last_volume_ml - start_ml
                   -- The same wrap rule as VEE, on values, so the arrival order of readings
                   -- (which decides where VEE put its flags) cannot change a rollup.
                   when start_ml >= wrap / 2 and last_volume_ml < wrap / 2
                       then last_volume_ml - start_ml + wrap
                   else 0
               end,
               n, quality
        from full_row
        on conflict (meter_id, day) do update set
            first_read_at = excluded.first_read_at,
            last_read_at = excluded.last_read_at,
            first_volume_ml = excluded.first_volume_ml,
            last_volume_ml = excluded.last_volume_ml,
            consumption_ml = excluded.consumption_ml,
            reading_count = excluded.reading_count,
            quality = excluded.quality
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
