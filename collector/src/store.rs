//! Storage of readings: partitions ahead of time, bulk insert with COPY, daily rollups.
//! The collector owns `reading`, `reading_daily`, `meter`, `district`, `alarm`, `dead_letter`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use std::fmt::Write as _;

/// Where a reading came from (the `reading.source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// Submitted by the customer in eBOK and accepted by a clerk.
    Customer,
}

impl Source {
    /// The column value.
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
            Source::Customer => "customer",
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

/// Bulk-loads readings with binary COPY (the fastest path PostgreSQL has). The rows must not
/// exist yet: COPY is all-or-nothing, a duplicate key fails the whole batch. Used for seeding,
/// history imports and the writer's readings known to be new; live ingestion otherwise
/// deduplicates instead.
pub async fn copy_readings(
    conn: &mut PgConnection,
    rows: &[NewReading],
) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(
            "copy reading (meter_id, read_at, volume_ml, source, quality) from stdin
             with (format binary)",
        )
        .await?;
    let mut buf = Vec::with_capacity(64 * 8192);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes()); // flags
    buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for chunk in rows.chunks(8192) {
        for r in chunk {
            encode_binary_row(&mut buf, r);
        }
        copy.send(std::mem::take(&mut buf)).await?;
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    copy.finish().await
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// One `reading` row in COPY's binary format: field count, then each field's length and
/// big-endian value (`timestamptz` as microseconds since 2000-01-01 UTC).
fn encode_binary_row(buf: &mut Vec<u8>, r: &NewReading) {
    let source = r.source.as_str().as_bytes();
    buf.extend_from_slice(&5i16.to_be_bytes());
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&r.meter_id.to_be_bytes());
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&(r.read_at.timestamp_micros() - PG_EPOCH_OFFSET_US).to_be_bytes());
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&r.volume_ml.to_be_bytes());
    buf.extend_from_slice(&(source.len() as i32).to_be_bytes());
    buf.extend_from_slice(source);
    buf.extend_from_slice(&2i32.to_be_bytes());
    buf.extend_from_slice(&r.quality.to_be_bytes());
}

/// One `reading_daily` row, computed by the caller (bulk loads that know their series).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRollup {
    pub meter_id: i64,
    pub day: NaiveDate,
    pub first_read_at: DateTime<Utc>,
    pub last_read_at: DateTime<Utc>,
    pub first_volume_ml: i64,
    pub last_volume_ml: i64,
    pub consumption_ml: i64,
    pub reading_count: i32,
    pub quality: i16,
    /// The day's last reading's source and quality flags.
    pub last_source: Source,
    pub last_quality: i16,
}

/// Bulk-loads daily rollups with COPY; the rows must not exist yet. For history loads whose
/// rollups are known as they are generated — cheaper than [`rollup_days`] over the same rows.
pub async fn copy_daily(conn: &mut PgConnection, rows: &[DailyRollup]) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(
            "copy reading_daily (meter_id, day, first_read_at, last_read_at, first_volume_ml,
                                 last_volume_ml, consumption_ml, reading_count, quality,
                                 last_source, last_quality) from stdin",
        )
        .await?;
    let mut buf = String::with_capacity(128 * 8192);
    for chunk in rows.chunks(8192) {
        buf.clear();
        for r in chunk {
            let _ = writeln!(
                buf,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.meter_id,
                r.day,
                r.first_read_at.format("%Y-%m-%d %H:%M:%S%.6f+00"),
                r.last_read_at.format("%Y-%m-%d %H:%M:%S%.6f+00"),
                r.first_volume_ml,
                r.last_volume_ml,
                r.consumption_ml,
                r.reading_count,
                r.quality,
                r.last_source.as_str(),
                r.last_quality
            );
        }
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await
}

/// Recomputes the daily rollups (Europe/Warsaw days) of every meter for `[from, to]`.
/// Runs in the caller's transaction. Same SQL as the writer's incremental rollups.
pub async fn rollup_days(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, sqlx::Error> {
    crate::pipeline::rollup::rollup_range(conn, from, to).await
}

/// Inserts readings that may already exist (`on conflict do nothing`) in one statement and
/// returns the keys actually stored: the exactly-once path of live ingestion.
pub async fn insert_readings(
    conn: &mut PgConnection,
    rows: &[NewReading],
) -> Result<Vec<(i64, DateTime<Utc>)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.meter_id).collect();
    let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.read_at).collect();
    let vol: Vec<i64> = rows.iter().map(|r| r.volume_ml).collect();
    let src: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let q: Vec<i16> = rows.iter().map(|r| r.quality).collect();
    sqlx::query_as(
        "insert into reading (meter_id, read_at, volume_ml, source, quality)
         select * from unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::smallint[])
         on conflict do nothing
         returning meter_id, read_at",
    )
    .bind(ids)
    .bind(at)
    .bind(vol)
    .bind(src)
    .bind(q)
    .fetch_all(conn)
    .await
}

/// Stores unusable input with the reason (`dead_letter`).
pub async fn insert_dead_letters(
    conn: &mut PgConnection,
    rows: &[(Source, &[u8], &str)],
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let src: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let payload: Vec<&[u8]> = rows.iter().map(|r| r.1).collect();
    let reason: Vec<&str> = rows.iter().map(|r| r.2).collect();
    Ok(sqlx::query(
        "insert into dead_letter (source, payload, reason)
         select * from unnest($1::text[], $2::bytea[], $3::text[])",
    )
    .bind(src)
    .bind(payload)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected())
}
