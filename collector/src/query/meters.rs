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

/// The meters with each installation's last reading as its last day's rollup (`reading_daily`,
/// one small table) has it.
const METERS_BY_DAILY_SQL: &str = meters_sql!(
    "l.last_read_at as read_at, l.last_volume_ml as volume_ml, l.last_source as source,
     l.last_quality as quality",
    "select d.last_read_at, d.last_volume_ml, d.last_source, d.last_quality
     from reading_daily d
     where d.meter_id = i.meter_id
       and d.day >= (i.installed_at at time zone 'Europe/Warsaw')::date
       and (i.removed_at is null or d.day <= (i.removed_at at time zone 'Europe/Warsaw')::date)
     order by d.day desc limit 1"
);

/// The meters of `premises` (or of all the customer's premises), each with its last reading.
///
/// A query on `reading` locks each of its monthly partitions on every run when its plan is
/// generic (as the portal's are), which cost more than everything else on the dashboard. So
/// the last reading comes from the day rollups, which keep the day's last reading whole. Where
/// they do not give it — no rollup in the installation's days, a rollup without the reading's
/// source (written before it was kept), or a rollup's last reading outside the installation's
/// window — the whole history is searched.
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
    for r in &rows {
        let known = r.try_get::<Option<String>, _>("source")?.is_some();
        let mut m = meter_row_without_reading(r)?;
        m.last_reading = known.then(|| reading_row(r)).transpose()?;
        meters.push(m);
    }
    let complete = meters
        .iter()
        .all(|m| m.last_reading.as_ref().is_some_and(|r| in_window(m, r)));
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

fn meter_row(r: &PgRow) -> Result<MeterView, sqlx::Error> {
    let read_at: Option<DateTime<Utc>> = r.try_get("read_at")?;
    let mut m = meter_row_without_reading(r)?;
    m.last_reading = read_at.map(|_| reading_row(r)).transpose()?;
    Ok(m)
}

fn meter_row_without_reading(r: &PgRow) -> Result<MeterView, sqlx::Error> {
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
        last_reading: None,
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
/// newest first; None when the meter is not the customer's.
pub async fn readings(
    conn: &mut PgConnection,
    customer: CustomerId,
    meter_id: i64,
    page: PageRequest,
) -> Result<Option<Page<ReadingView>>, ViewError> {
    let history = History {
        columns: "r.read_at, r.volume_ml, r.source, r.quality",
        from_where: &format!("reading r where r.meter_id = $2 and {READING_IN_SCOPE}"),
        order: "r.read_at desc",
    };
    history.page(conn, customer, meter_id, page).await
}

/// One page of a meter's history by day: each day's last reading within the meter's
/// installations on the customer's premises, newest first, from the day rollups (one row a
/// day however often the meter reports); None when the meter is not the customer's. A day's
/// last reading outside the installation (the day it was moved to other premises) is left
/// out, as are rollups written before the reading's source was kept.
pub async fn days(
    conn: &mut PgConnection,
    customer: CustomerId,
    meter_id: i64,
    page: PageRequest,
) -> Result<Option<Page<ReadingView>>, ViewError> {
    let history = History {
        columns: "d.last_read_at as read_at, d.last_volume_ml as volume_ml,
                  d.last_source as source, d.last_quality as quality",
        from_where: &format!(
            "reading_daily d where d.meter_id = $2 and d.last_source is not null
             and {DAY_IN_SCOPE}"
        ),
        order: "d.day desc",
    };
    history.page(conn, customer, meter_id, page).await
}

/// A history statement over customer `$1`'s meter `$2`: the reading columns it selects, what
/// it selects them from, and its order.
struct History<'a> {
    columns: &'a str,
    from_where: &'a str,
    order: &'a str,
}

impl History<'_> {
    /// One page and the count of all in one statement; only a page past the last counts
    /// again. Rows in the customer's installations prove the meter theirs; only without any
    /// is it asked (no readings yet, or not their meter).
    async fn page(
        &self,
        conn: &mut PgConnection,
        customer: CustomerId,
        meter_id: i64,
        page: PageRequest,
    ) -> Result<Option<Page<ReadingView>>, ViewError> {
        let rows = sqlx::query(&format!(
            "select {}, count(*) over () as total from {} order by {} limit $3 offset $4",
            self.columns, self.from_where, self.order
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
                sqlx::query_scalar(&format!("select count(*) from {}", self.from_where))
                    .bind(customer.get())
                    .bind(meter_id)
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
        if total == 0 && windows(&mut *conn, customer, meter_id).await?.is_empty() {
            return Ok(None);
        }
        let items = rows.iter().map(reading_row).collect::<Result<_, _>>()?;
        Ok(Some(Page::new(items, total, page)))
    }
}

/// SQL condition: the last reading of rollup alias `d` falls inside an installation of its
/// meter on premises of customer `$1`.
const DAY_IN_SCOPE: &str = "exists (
    select 1 from meter_installation i join contract k on k.premises_id = i.premises_id
    where i.meter_id = d.meter_id and k.customer_id = $1
      and d.last_read_at >= i.installed_at
      and (i.removed_at is null or d.last_read_at <= i.removed_at))";
