//! Storage of readings: partitions ahead of time, bulk insert with COPY, daily rollups.
//! The collector owns `reading`, `reading_daily`, `meter`, `district`, `alarm`, `dead_letter`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use std::fmt::Write as _;

/// Where a reading came from (the `reading.source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Wmbus,
    Mbus,
    Modbus,
    Mqtt,
    Handheld,
    File,
    Manual,
    Ebok,
    Estimate,
    Seed,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Wmbus => "wmbus",
            Source::Mbus => "mbus",
            Source::Modbus => "modbus",
            Source::Mqtt => "mqtt",
            Source::Handheld => "handheld",
            Source::File => "file",
            Source::Manual => "manual",
            Source::Ebok => "ebok",
            Source::Estimate => "estimate",
            Source::Seed => "seed",
        }
    }
}

/// One register reading ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReading {
    pub meter_id: i64,
    pub read_at: DateTime<Utc>,
    pub volume_ml: i64,
    pub source: Source,
    pub quality: i16,
}

/// Makes sure monthly partitions exist from `from` through `to` (no-op under TimescaleDB).
pub async fn ensure_partitions(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select reading_ensure_partitions($1, $2)")
        .bind(from)
        .bind(to)
        .fetch_one(conn)
        .await
}

/// Bulk-loads readings with COPY (the fastest path PostgreSQL has). The rows must not exist
/// yet: COPY is all-or-nothing, a duplicate key fails the whole batch. Used for seeding and
/// history imports; live ingestion deduplicates instead.
pub async fn copy_readings(
    conn: &mut PgConnection,
    rows: &[NewReading],
) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw("copy reading (meter_id, read_at, volume_ml, source, quality) from stdin")
        .await?;
    let mut buf = String::with_capacity(64 * 8192);
    for chunk in rows.chunks(8192) {
        buf.clear();
        for r in chunk {
            let _ = writeln!(
                buf,
                "{}\t{}\t{}\t{}\t{}",
                r.meter_id,
                r.read_at.format("%Y-%m-%d %H:%M:%S%.6f+00"),
                r.volume_ml,
                r.source.as_str(),
                r.quality
            );
        }
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await
}

/// Recomputes the daily rollups (Europe/Warsaw days) of every meter for `[from, to]`.
/// Runs in the caller's transaction.
pub async fn rollup_days(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, sqlx::Error> {
    sqlx::query("delete from reading_daily where day between $1 and $2")
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    // Consumption of a day = last register of the day − last register before the day (or the
    // first of the day for a meter's first day); never negative (reverse flow is an alarm,
    // not negative use).
    let done = sqlx::query(
        r#"
        insert into reading_daily (meter_id, day, first_read_at, last_read_at, first_volume_ml,
                                   last_volume_ml, consumption_ml, reading_count, quality)
        with r as (
            select meter_id, read_at, volume_ml, quality,
                   (read_at at time zone 'Europe/Warsaw')::date as day
            from reading
            where read_at >= ($1::date - 1)::timestamp at time zone 'Europe/Warsaw'
              and read_at < ($2::date + 1)::timestamp at time zone 'Europe/Warsaw'
        ), d as (
            select meter_id, day,
                   min(read_at) as first_read_at, max(read_at) as last_read_at,
                   (array_agg(volume_ml order by read_at))[1] as first_volume_ml,
                   (array_agg(volume_ml order by read_at desc))[1] as last_volume_ml,
                   count(*) as n, bit_or(quality) as quality
            from r group by meter_id, day
        ), w as (
            select d.*, lag(last_volume_ml) over (partition by meter_id order by day) as prev_last
            from d
        )
        select meter_id, day, first_read_at, last_read_at, first_volume_ml, last_volume_ml,
               greatest(last_volume_ml - coalesce(prev_last, first_volume_ml), 0),
               n, quality
        from w
        where day between $1 and $2
        "#,
    )
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done)
}
