//! The customer's view of the meter data for eBOK and the API: meters of their premises with
//! the last reading, readings history, consumption series, alarms with plain-language
//! explanations, and readings the customer submits for a clerk to accept. A meter is the
//! customer's while it is (or was) installed on premises of one of their contracts; readings
//! count only inside that installation. Another customer's meter id reads as None.

pub mod alarms;
pub mod consumption;
pub mod meters;
pub mod submission;

use chrono::{DateTime, Utc};
use ewoda_common::scope::{CustomerId, FieldError};
use sqlx::{PgConnection, Row};

/// Why a customer-view query or command failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The input was refused; each error names its field.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The record is not there, or not the caller's.
    #[error("{0} not found")]
    NotFound(String),
}

impl ViewError {
    pub(crate) fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        ViewError::Invalid(vec![FieldError::new(field, code, message)])
    }
}

/// Where and when a meter hangs on the customer's premises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterWindow {
    /// The meter.
    pub meter_id: i64,
    /// The premises.
    pub premises_id: i64,
    /// `main`, `sub` or `bulk`.
    pub role: String,
    /// Installed at.
    pub installed_at: DateTime<Utc>,
    /// Removed at (None while installed).
    pub removed_at: Option<DateTime<Utc>>,
    /// Register at installation, in millilitres.
    pub installed_read_ml: i64,
}

/// The installations of `meter_id` on premises of the customer's contracts, latest first;
/// empty when the meter is not the customer's.
pub(crate) async fn windows(
    conn: &mut PgConnection,
    customer: CustomerId,
    meter_id: i64,
) -> Result<Vec<MeterWindow>, sqlx::Error> {
    let rows = sqlx::query(
        "select i.meter_id, i.premises_id, i.role, i.installed_at, i.removed_at, i.installed_read_ml
         from meter_installation i
         where i.meter_id = $2
           and exists (select 1 from contract k
                       where k.customer_id = $1 and k.premises_id = i.premises_id)
         order by i.installed_at desc",
    )
    .bind(customer.get())
    .bind(meter_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MeterWindow {
                meter_id: r.try_get("meter_id")?,
                premises_id: r.try_get("premises_id")?,
                role: r.try_get("role")?,
                installed_at: r.try_get("installed_at")?,
                removed_at: r.try_get("removed_at")?,
                installed_read_ml: r.try_get("installed_read_ml")?,
            })
        })
        .collect()
}

/// SQL: the CTE `w` of the installations of meter `$2` on premises of customer `$1`, with
/// each window's bounds as local days. Materialized, so a query that asks it of every day
/// asks these two small tables once. (A macro, for `concat!`.)
macro_rules! meter_windows_cte {
    () => {
        "w as materialized (
            select (i.installed_at at time zone 'Europe/Warsaw')::date as first_day,
                   (i.removed_at at time zone 'Europe/Warsaw')::date as last_day
            from meter_installation i
            where i.meter_id = $2
              and exists (select 1 from contract k
                          where k.customer_id = $1 and k.premises_id = i.premises_id))"
    };
}
pub(crate) use meter_windows_cte;

/// SQL condition: reading alias `r` falls inside an installation of its meter on premises of
/// customer `$1`.
pub(crate) const READING_IN_SCOPE: &str = "exists (
    select 1 from meter_installation i join contract k on k.premises_id = i.premises_id
    where i.meter_id = r.meter_id and k.customer_id = $1
      and r.read_at >= i.installed_at and (i.removed_at is null or r.read_at <= i.removed_at))";
