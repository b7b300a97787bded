//! Meters of the customer's premises (main meters and sub-meters such as a garden meter) with
//! their last reading, and one meter's readings history, newest first, paged.

use super::{windows, ViewError, READING_IN_SCOPE};
use crate::quality;
use chrono::{DateTime, Utc};
use ewoda_common::scope::{CustomerId, Page, PageRequest};
use ewoda_common::Volume;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;

/// One stored register reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadingView {
    /// When it was read.
    pub read_at: DateTime<Utc>,
    /// Register in millilitres (exact).
    pub volume_ml: i64,
    /// Register in m³ (exact, up to 0.000001).
    pub volume_m3: Decimal,
    /// Where it came from (`wmbus`, `handheld`, `customer`, …).
    pub source: String,
    /// Quality flags (`validated`, `estimated`, `replacement`, …).
    pub quality: Vec<&'static str>,
}

fn reading_row(r: &PgRow) -> Result<ReadingView, sqlx::Error> {
    let ml: i64 = r.try_get("volume_ml")?;
    Ok(ReadingView {
        read_at: r.try_get("read_at")?,
        volume_ml: ml,
        volume_m3: Volume::from_ml(ml).m3(),
        source: r.try_get("source")?,
        quality: quality::names(r.try_get("quality")?),
    })
}

/// A meter on one of the customer's premises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterView {
    /// The meter.
    pub meter_id: i64,
    /// The number printed on it.
    pub serial: String,
    /// Model.
    pub model: String,
    /// `water`, `hot_water`, …
    pub medium: String,
    /// `main` or `sub` (a sub-meter, e.g. garden, is deducted from sewage).
    pub role: String,
    /// The main meter of a sub-meter.
    pub parent_meter_id: Option<i64>,
    /// The premises.
    pub premises_id: i64,
    /// Installed at.
    pub installed_at: DateTime<Utc>,
    /// Removed at (None while installed).
    pub removed_at: Option<DateTime<Utc>>,
    /// Legal verification valid until.
    pub verified_until: Option<chrono::NaiveDate>,
    /// The last reading within this installation.
    pub last_reading: Option<ReadingView>,
}

/// The meters of the customer's premises (all, or one premises: `$2`), installations current
/// first, with the columns `$last` of the lateral subquery `$lateral` (aliased `l`) on each.
macro_rules! meters_sql {
    ($last:literal, $lateral:literal) => {
        concat!(
            "select m.meter_id, m.serial, m.model, m.medium, i.role, i.parent_meter_id,
                    i.premises_id, i.installed_at, i.removed_at, m.verified_until, ",
            $last,
            " from meter_installation i
             join meter m on m.meter_id = i.meter_id
             left join lateral (",
            $lateral,
            ") l on true
             where exists (select 1 from contract k
                           where k.customer_id = $1 and k.premises_id = i.premises_id)
               and ($2::bigint is null or i.premises_id = $2)
             order by i.premises_id, i.removed_at is not null, i.role, m.serial,
                      i.installed_at desc"
        )
    };
}

/// The meters with each installation's last reading searched in `reading` (every monthly
/// partition of it).
const METERS_SQL: &str = meters_sql!(
    "l.read_at, l.volume_ml, l.source, l.quality",
    "select r.read_at, r.volume_ml, r.source, r.quality from reading r
     where r.meter_id = i.meter_id and r.read_at >= i.installed_at
       and (i.removed_at is null or r.read_at <= i.removed_at)
     order by r.read_at desc limit 1"
);

/// The meters with the time of each installation's last reading as its day's rollup
/// (`reading_daily`, one small table) has it; the reading itself is read afterwards (see
/// [`meters_with_last_reading`]).
const METERS_BY_DAILY_SQL: &str = meters_sql!(
    "l.last_read_at, null::timestamptz as read_at",
    "select d.last_read_at from reading_daily d
     where d.meter_id = i.meter_id
       and d.day >= (i.installed_at at time zone 'Europe/Warsaw')::date
       and (i.removed_at is null or d.day <= (i.removed_at at time zone 'Europe/Warsaw')::date)
     order by d.day desc limit 1"
);

/// The meters of `premises` (or of all the customer's premises), each with its last reading.
///
/// A query on `reading` locks each of its monthly partitions on every run when its plan is
/// generic (as the portal's are), which cost more than everything else on the dashboard. So
/// the last reading's time comes from the day rollups, and the reading itself from a query
/// whose timestamps are written into its text: planned for them, it opens only their
/// partitions. Where the rollups do not give it — no rollup in the installation's days, or a
/// rollup's last reading outside the installation's window — the whole history is searched.
async fn meters_with_last_reading(
    conn: &mut PgConnection,
    customer: CustomerId,
    premises: Option<i64>,
) -> Result<Vec<MeterView>, ViewError> {
    let rows = sqlx::query(METERS_BY_DAILY_SQL)
        .bind(customer.get())
        .bind(premises)
        .fetch_all(&mut *conn)
        .await?;
    let mut meters = Vec::with_capacity(rows.len());
    let mut last_at = Vec::with_capacity(rows.len());
    for r in &rows {
        meters.push(meter_row(r)?);
        last_at.push(r.try_get::<Option<DateTime<Utc>>, _>("last_read_at")?);
    }
    let wanted: Vec<(i64, DateTime<Utc>)> = meters
        .iter()
        .zip(&last_at)
        .filter_map(|(m, at)| at.map(|at| (m.meter_id, at)))
        .collect();
    let found = readings_at(conn, &wanted).await?;
    // Complete when every installation's reading was found where the rollup said, in its window.
    let complete = meters.iter_mut().zip(&last_at).all(|(m, at)| {
        m.last_reading = at.and_then(|at| found.get(&(m.meter_id, at)).cloned());
        m.last_reading.as_ref().is_some_and(|r| in_window(m, r))
    });
    if complete {
        return Ok(meters);
    }
    let rows = sqlx::query(METERS_SQL)
        .bind(customer.get())
        .bind(premises)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(meter_row).collect::<Result<_, _>>()?)
}

/// Whether a reading lies within the installation's window.
fn in_window(m: &MeterView, r: &ReadingView) -> bool {
    r.read_at >= m.installed_at && m.removed_at.is_none_or(|removed| r.read_at <= removed)
}

/// The stored readings at exactly these (meter, time) pairs. The values are typed numbers and
/// timestamps written into the statement's text (nothing a user typed), so PostgreSQL plans it
/// for them and opens only the partitions they fall in.
async fn readings_at(
    conn: &mut PgConnection,
    wanted: &[(i64, DateTime<Utc>)],
) -> Result<HashMap<(i64, DateTime<Utc>), ReadingView>, ViewError> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let pairs: Vec<String> = wanted
        .iter()
        .map(|(meter, at)| {
            format!(
                "({meter}::bigint, '{}'::timestamptz)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            )
        })
        .collect();
    let sql = format!(
        "select r.meter_id, r.read_at, r.volume_ml, r.source, r.quality from reading r
         where (r.meter_id, r.read_at) in ({})",
        pairs.join(", ")
    );
    // No parameters: its plan, generic or not, is made for these values; not kept either.
    let rows = sqlx::query(&sql).persistent(false).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let key = (r.try_get("meter_id")?, r.try_get("read_at")?);
            Ok((key, reading_row(r)?))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(ViewError::from)
}

fn meter_row(r: &PgRow) -> Result<MeterView, sqlx::Error> {
    let read_at: Option<DateTime<Utc>> = r.try_get("read_at")?;
    Ok(MeterView {
        meter_id: r.try_get("meter_id")?,
        serial: r.try_get("serial")?,
        model: r.try_get("model")?,
        medium: r.try_get("medium")?,
        role: r.try_get("role")?,
        parent_meter_id: r.try_get("parent_meter_id")?,
        premises_id: r.try_get("premises_id")?,
        installed_at: r.try_get("installed_at")?,
        removed_at: r.try_get("removed_at")?,
        verified_until: r.try_get("verified_until")?,
        last_reading: read_at.map(|_| reading_row(r)).transpose()?,
    })
}

/// Every meter installed (now or before) on the customer's premises, current ones first per
/// premises, main before sub.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<MeterView>, ViewError> {
    meters_with_last_reading(conn, customer, None).await
}

/// The meters of one premises of the customer; None when the premises is not theirs.
pub async fn of_premises(
    conn: &mut PgConnection,
    customer: CustomerId,
    premises_id: i64,
) -> Result<Option<Vec<MeterView>>, ViewError> {
    let theirs: bool = sqlx::query_scalar(
        "select exists (select 1 from contract where customer_id = $1 and premises_id = $2)",
    )
    .bind(customer.get())
    .bind(premises_id)
    .fetch_one(&mut *conn)
    .await?;
    if !theirs {
        return Ok(None);
    }
    meters_with_last_reading(conn, customer, Some(premises_id))
        .await
        .map(Some)
}

/// One page of a meter's readings within its installations on the customer's premises,
/// newest first; None when the meter is not the customer's. The page and the number of
/// readings come in one statement; only a page past the last, or no readings at all, asks
/// more (the count, or whose meter it is).
pub async fn readings(
    conn: &mut PgConnection,
    customer: CustomerId,
    meter_id: i64,
    page: PageRequest,
) -> Result<Option<Page<ReadingView>>, ViewError> {
    let rows = sqlx::query(&format!(
        "select r.read_at, r.volume_ml, r.source, r.quality, count(*) over () as total
         from reading r
         where r.meter_id = $2 and {READING_IN_SCOPE}
         order by r.read_at desc limit $3 offset $4"
    ))
    .bind(customer.get())
    .bind(meter_id)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 = match rows.first() {
        Some(r) => r.try_get("total")?,
        None if page.offset() == 0 => 0,
        None => {
            sqlx::query_scalar(&format!(
                "select count(*) from reading r where r.meter_id = $2 and {READING_IN_SCOPE}"
            ))
            .bind(customer.get())
            .bind(meter_id)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    // Readings counted in the customer's installations prove the meter theirs; only without
    // any is it asked (no readings yet, or not their meter).
    if total == 0 && windows(&mut *conn, customer, meter_id).await?.is_empty() {
        return Ok(None);
    }
    let items = rows.iter().map(reading_row).collect::<Result<_, _>>()?;
    Ok(Some(Page::new(items, total, page)))
}
