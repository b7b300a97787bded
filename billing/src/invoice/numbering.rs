//! Gap-free invoice numbers per series and year.
//!
//! Format: `SERIES/YYYY/MM/NNNNNN`, e.g. `FW/2026/05/000123` — series, the issue year, the
//! issue month (for readers; it does not restart the count) and the sequence within the series
//! and year, zero-padded to six digits (wider when it outgrows them). Sales invoices use series
//! `FW`, corrective invoices `KOR`.
//!
//! The counter is the `invoice_series` row of (series, year), updated inside the issuing
//! transaction: the update locks the row until commit, so a concurrent issuer waits, and a
//! rollback returns the numbers — nothing is skipped and nothing reused.

use crate::store_error::StoreError;
use chrono::{Datelike, NaiveDate};
use sqlx::PgConnection;
use std::fmt;

/// The series of sales (VAT) invoices.
pub const SALES_SERIES: &str = "FW";
/// The series of corrective invoices.
pub const CORRECTION_SERIES: &str = "KOR";

/// One invoice number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvoiceNumber {
    /// Series code, e.g. `FW`.
    pub series: String,
    /// Issue year (the counter's year).
    pub year: i32,
    /// Issue month, 1–12 (printed only).
    pub month: u32,
    /// Sequence within series and year, from 1.
    pub seq: i32,
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{:04}/{:02}/{:06}",
            self.series, self.year, self.month, self.seq
        )
    }
}

/// Reserves `count` consecutive numbers of `series` for invoices issued on `issued_on`, inside
/// the caller's transaction (the counter row stays locked until it ends).
pub async fn reserve(
    conn: &mut PgConnection,
    series: &str,
    issued_on: NaiveDate,
    count: usize,
) -> Result<Vec<InvoiceNumber>, StoreError> {
    if series.is_empty() || series.contains('/') {
        return Err(StoreError::invalid(
            "series",
            format!("{series:?} must be non-empty and without '/'"),
        ));
    }
    let n = i32::try_from(count)
        .map_err(|_| StoreError::invalid("count", format!("{count} numbers at once")))?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let year = issued_on.year();
    sqlx::query("insert into invoice_series (series, year) values ($1, $2) on conflict do nothing")
        .bind(series)
        .bind(year)
        .execute(&mut *conn)
        .await?;
    let last: i32 = sqlx::query_scalar(
        "update invoice_series set last_number = last_number + $3
         where series = $1 and year = $2 returning last_number",
    )
    .bind(series)
    .bind(year)
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    Ok((last - n + 1..=last)
        .map(|seq| InvoiceNumber {
            series: series.to_string(),
            year,
            month: issued_on.month(),
            seq,
        })
        .collect())
}

/// Takes the next number of `series` (see [`reserve`]).
pub async fn next(
    conn: &mut PgConnection,
    series: &str,
    issued_on: NaiveDate,
) -> Result<InvoiceNumber, StoreError> {
    reserve(conn, series, issued_on, 1)
        .await?
        .pop()
        .ok_or_else(|| StoreError::invalid("series", "no number reserved"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_format() {
        let n = InvoiceNumber {
            series: "FW".into(),
            year: 2026,
            month: 5,
            seq: 123,
        };
        assert_eq!(n.to_string(), "FW/2026/05/000123");
        let n = InvoiceNumber {
            series: "KOR".into(),
            year: 2026,
            month: 12,
            seq: 1_234_567,
        };
        assert_eq!(n.to_string(), "KOR/2026/12/1234567");
    }
}
