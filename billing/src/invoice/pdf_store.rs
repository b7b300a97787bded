//! Stored invoice PDFs: an issued invoice is a document, so its PDF is rendered once (at issue
//! via [`store`], or on the first download) into `invoice_pdf` and every later download is a
//! read of those bytes — what keeps the portal's PDF downloads fast.

use super::document;
use super::pdf::InvoicePdfRenderer;
use crate::store_error::StoreError;
use ewoda_common::scope::CustomerId;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Row};

/// An invoice PDF ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPdf {
    /// Download name, e.g. `FW_2026_05_000123.pdf`.
    pub filename: String,
    /// The PDF bytes.
    pub bytes: Vec<u8>,
}

/// `FW/2026/05/000123` → `FW_2026_05_000123.pdf`.
pub fn filename_of(number: &str) -> String {
    let safe: String = number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.pdf")
}

/// Renders the invoice's PDF and stores it unless it is stored already; returns the stored
/// bytes (the first stored copy wins, so concurrent first downloads agree).
pub async fn store(
    conn: &mut PgConnection,
    renderer: &InvoicePdfRenderer,
    invoice_id: i64,
) -> Result<Vec<u8>, StoreError> {
    let doc = document::load(&mut *conn, invoice_id).await?;
    let bytes = renderer
        .render(&doc)
        .map_err(|e| StoreError::invalid(format!("invoice {invoice_id}.pdf"), e.to_string()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    sqlx::query(
        "insert into invoice_pdf (invoice_id, pdf, sha256) values ($1, $2, $3)
         on conflict (invoice_id) do nothing",
    )
    .bind(invoice_id)
    .bind(&bytes)
    .bind(&sha)
    .execute(&mut *conn)
    .await?;
    let stored: Vec<u8> = sqlx::query_scalar("select pdf from invoice_pdf where invoice_id = $1")
        .bind(invoice_id)
        .fetch_one(conn)
        .await?;
    Ok(stored)
}

/// The PDF of one of the customer's invoices, from storage (rendered and stored on the first
/// request); None when the invoice is not the customer's.
pub async fn for_customer(
    conn: &mut PgConnection,
    renderer: &InvoicePdfRenderer,
    customer: CustomerId,
    invoice_id: i64,
) -> Result<Option<StoredPdf>, StoreError> {
    let Some(r) = sqlx::query(
        "select i.number, p.pdf from invoice i
         left join invoice_pdf p using (invoice_id)
         where i.invoice_id = $1 and i.customer_id = $2",
    )
    .bind(invoice_id)
    .bind(customer.get())
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let number: String = r.try_get("number")?;
    let bytes = match r.try_get::<Option<Vec<u8>>, _>("pdf")? {
        Some(b) => b,
        None => store(conn, renderer, invoice_id).await?,
    };
    Ok(Some(StoredPdf {
        filename: filename_of(&number),
        bytes,
    }))
}

/// Renders and stores the PDFs of up to `limit` issued invoices that have none yet (oldest
/// first) — for a job after a billing run or the demo seed, so downloads never render.
/// Returns how many it stored.
pub async fn render_missing(
    conn: &mut PgConnection,
    renderer: &InvoicePdfRenderer,
    limit: i64,
) -> Result<usize, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select i.invoice_id from invoice i
         where not exists (select 1 from invoice_pdf p where p.invoice_id = i.invoice_id)
         order by i.invoice_id limit $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    for id in &ids {
        store(&mut *conn, renderer, *id).await?;
    }
    Ok(ids.len())
}

/// Whether the invoice's PDF is stored.
pub async fn is_stored(conn: &mut PgConnection, invoice_id: i64) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("select exists (select 1 from invoice_pdf where invoice_id = $1)")
            .bind(invoice_id)
            .fetch_one(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn filenames_are_safe() {
        assert_eq!(
            super::filename_of("FW/2026/05/000123"),
            "FW_2026_05_000123.pdf"
        );
        assert_eq!(super::filename_of("KOR/2026/../x"), "KOR_2026____x.pdf");
    }
}
