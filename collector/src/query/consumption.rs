//! Consumption series of one of the customer's meters per day, month or year from the daily
//! rollups (`reading_daily`), in exact units (integer millilitres, litres and m³ as Decimal),
//! with the same range a year earlier for comparison.

use super::{windows, ViewError};
use chrono::{Months, NaiveDate};
use ewoda_common::scope::CustomerId;
use ewoda_common::Volume;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// How the series is bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One point per local day.
    Day,
    /// One point per calendar month.
    Month,
    /// One point per calendar year.
    Year,
}

impl Granularity {
    /// Parses `day`, `month` or `year`.
    pub fn parse(s: &str) -> Result<Self, ViewError> {
        match s {
            "day" => Ok(Granularity::Day),
            "month" => Ok(Granularity::Month),
            "year" => Ok(Granularity::Year),
            _ => Err(ViewError::field(
                "granularity",
                "invalid",
                format!("{s:?} is not day, month or year"),
            )),
        }
    }

    fn trunc(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Month => "month",
            Granularity::Year => "year",
        }
    }

    /// The longest range (in days) a series of this granularity may span.
    fn max_days(self) -> i64 {
        match self {
            Granularity::Day => 366,
            Granularity::Month => 3_660,
            Granularity::Year => 36_600,
        }
    }
}

/// Use in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumptionPoint {
    /// First day of the bucket (the day, the month's 1st, the year's 1 January).
    pub period: NaiveDate,
    /// Use in millilitres (exact).
    pub ml: i64,
    /// Use in litres.
    pub litres: Decimal,
    /// Use in m³.
    pub m3: Decimal,
    /// Days of the bucket with data.
    pub days: i64,
}

/// A series and its counterpart a year earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumptionSeries {
    /// The meter.
    pub meter_id: i64,
    /// Bucketing.
    pub granularity: Granularity,
    /// First day asked for.
    pub from: NaiveDate,
    /// Last day asked for.
    pub to: NaiveDate,
    /// Buckets with data, in order.
    pub points: Vec<ConsumptionPoint>,
    /// Σ points in millilitres.
    pub total_ml: i64,
    /// The same range one year earlier.
    pub last_year: Vec<ConsumptionPoint>,
    /// Σ last_year in millilitres.
    pub last_year_total_ml: i64,
}

fn point(period: NaiveDate, ml: i64, days: i64) -> ConsumptionPoint {
    ConsumptionPoint {
        period,
        ml,
        litres: Decimal::new(ml, 3),
        m3: Volume::from_ml(ml).m3(),
        days,
    }
}

/// One bucket's statement: the customer's days of the meter between `$from` and `$to` (in
/// the installation windows `w` on their premises), summed per `$3`, tagged `part` = `$part`.
macro_rules! buckets_sql {
    ($part:literal, $from:literal, $to:literal) => {
        concat!(
            "select ",
            $part,
            " as part, date_trunc($3, d.day::timestamp)::date as period,
                    sum(d.consumption_ml)::bigint as ml, count(*) as days
             from reading_daily d
             where d.meter_id = $2 and d.day between ",
            $from,
            " and ",
            $to,
            "
               and exists (select 1 from w
                           where d.day >= w.first_day
                             and (w.last_day is null or d.day <= w.last_day))
             group by 2"
        )
    };
}

/// The buckets of `[$4, $5]` (part 0) and of `[$6, $7]` (part 1) in one statement.
const BUCKETS_SQL: &str = concat!(
    "with ",
    super::meter_windows_cte!(),
    " ",
    buckets_sql!("0", "$4", "$5"),
    " union all ",
    buckets_sql!("1", "$6", "$7"),
    " order by 1, 2"
);

/// The buckets of a range and of the same range a year earlier (one round trip).
async fn buckets(
    conn: &mut PgConnection,
    customer: CustomerId,
    meter_id: i64,
    granularity: Granularity,
    range: (NaiveDate, NaiveDate),
    year_before: (NaiveDate, NaiveDate),
) -> Result<(Vec<ConsumptionPoint>, Vec<ConsumptionPoint>), ViewError> {
    let rows = sqlx::query(BUCKETS_SQL)
        .bind(customer.get())
        .bind(meter_id)
        .bind(granularity.trunc())
        .bind(range.0)
        .bind(range.1)
        .bind(year_before.0)
        .bind(year_before.1)
        .fetch_all(conn)
        .await?;
    let (mut this, mut last) = (Vec::new(), Vec::new());
    for r in &rows {
        let p = point(r.try_get("period")?, r.try_get("ml")?, r.try_get("days")?);
        match r.try_get::<i32, _>("part")? {
            0 => this.push(p),
            _ => last.push(p),
        }
    }
    Ok((this, last))
}

/// The meter's use from `from` through `to` (local days, inclusive) per `granularity`, and the
/// same range a year earlier; None when the meter is not the customer's. Refuses a reversed
/// range (`from`) or one too long for the granularity (`to`).
pub async fn series(
    conn: &mut PgConnection,
    customer: CustomerId,
    meter_id: i64,
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<ConsumptionSeries>, ViewError> {
    if from > to {
        return Err(ViewError::field(
            "from",
            "invalid",
            format!("{from} is after {to}"),
        ));
    }
    if (to - from).num_days() >= granularity.max_days() {
        return Err(ViewError::field(
            "to",
            "too_long",
            format!(
                "at most {} days per {} series",
                granularity.max_days(),
                granularity.trunc()
            ),
        ));
    }
    let year_ago = |d: NaiveDate| d.checked_sub_months(Months::new(12)).unwrap_or(d);
    let (points, last_year) = buckets(
        &mut *conn,
        customer,
        meter_id,
        granularity,
        (from, to),
        (year_ago(from), year_ago(to)),
    )
    .await?;
    // Days were found only within the customer's installations of the meter: the meter is
    // theirs. Only without any is it asked (an empty series, or not their meter).
    if points.is_empty()
        && last_year.is_empty()
        && windows(&mut *conn, customer, meter_id).await?.is_empty()
    {
        return Ok(None);
    }
    Ok(Some(ConsumptionSeries {
        meter_id,
        granularity,
        from,
        to,
        total_ml: points.iter().map(|p| p.ml).sum(),
        last_year_total_ml: last_year.iter().map(|p| p.ml).sum(),
        points,
        last_year,
    }))
}
