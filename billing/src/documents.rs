//! The customer's documents for eBOK and the API: contracts and annexes (stored files in
//! `customer_document`) and every issued document (invoices, corrections, reminders, interest
//! notes), listed together and downloadable by id — always within the session's customer.

use crate::dunning::pdf::{load as load_notice, render_dunning_pdf};
use crate::invoice::pdf::InvoicePdfRenderer;
use crate::invoice::pdf_store;
use crate::store_error::StoreError;
use chrono::NaiveDate;
use ewoda_common::scope::CustomerId;
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// Which document: an invoice, a dunning notice or a stored file. In URLs and JSON it reads
/// `invoice-12`, `notice-3`, `file-5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentRef {
    /// `invoice.invoice_id` (sales invoice or correction).
    Invoice(i64),
    /// `dunning_notice.dunning_notice_id`.
    Notice(i64),
    /// `customer_document.customer_document_id`.
    File(i64),
}

impl DocumentRef {
    /// Parses `invoice-12`, `notice-3` or `file-5`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::invalid("document", format!("{s:?} is not a document id"));
        let (kind, id) = s.split_once('-').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        match kind {
            "invoice" => Ok(DocumentRef::Invoice(id)),
            "notice" => Ok(DocumentRef::Notice(id)),
            "file" => Ok(DocumentRef::File(id)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for DocumentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentRef::Invoice(id) => write!(f, "invoice-{id}"),
            DocumentRef::Notice(id) => write!(f, "notice-{id}"),
            DocumentRef::File(id) => write!(f, "file-{id}"),
        }
    }
}

impl Serialize for DocumentRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One entry of the documents list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentEntry {
    /// The id to download it by.
    pub id: DocumentRef,
    /// `invoice`, `correction`, `reminder`, `interest_note`, `contract`, `annex` or `other`.
    pub kind: String,
    /// Number or title.
    pub title: String,
    /// Issue day.
    pub issued_on: NaiveDate,
    /// The contract it belongs to, when known.
    pub contract_id: Option<i64>,
}

/// Every document of the customer, newest first.
pub async fn list(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<DocumentEntry>, StoreError> {
    let rows = sqlx::query(
        "select 'invoice' as src, invoice_id as id,
                case kind when 'KOR' then 'correction' else 'invoice' end as kind,
                number as title, issued_on, contract_id
           from invoice where customer_id = $1
         union all
         select 'notice', dunning_notice_id, kind, number, issued_on, null
           from dunning_notice where customer_id = $1
         union all
         select 'file', customer_document_id, kind, title, issued_on, contract_id
           from customer_document where customer_id = $1
         order by issued_on desc, title",
    )
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            let src: String = r.try_get("src")?;
            Ok(DocumentEntry {
                id: match src.as_str() {
                    "invoice" => DocumentRef::Invoice(id),
                    "notice" => DocumentRef::Notice(id),
                    _ => DocumentRef::File(id),
                },
                kind: r.try_get("kind")?,
                title: r.try_get("title")?,
                issued_on: r.try_get("issued_on")?,
                contract_id: r.try_get("contract_id")?,
            })
        })
        .collect()
}

/// A file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFile {
    /// Download name.
    pub filename: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Downloads one of the customer's documents; None when it is not theirs (or does not exist).
/// Invoices come from the PDF store, notices are rendered, files are read as stored.
pub async fn download(
    conn: &mut PgConnection,
    renderer: &InvoicePdfRenderer,
    customer: CustomerId,
    id: DocumentRef,
) -> Result<Option<DocumentFile>, StoreError> {
    match id {
        DocumentRef::Invoice(invoice_id) => {
            let pdf = pdf_store::for_customer(conn, renderer, customer, invoice_id).await?;
            Ok(pdf.map(|p| DocumentFile {
                filename: p.filename,
                content_type: "application/pdf".into(),
                bytes: p.bytes,
            }))
        }
        DocumentRef::Notice(notice_id) => {
            let number: Option<String> = sqlx::query_scalar(
                "select number from dunning_notice where dunning_notice_id = $1 and customer_id = $2",
            )
            .bind(notice_id)
            .bind(customer.get())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(number) = number else {
                return Ok(None);
            };
            let doc = load_notice(conn, &number).await?;
            let bytes = render_dunning_pdf(renderer, &doc)
                .map_err(|e| StoreError::invalid(format!("notice {number}"), e.to_string()))?;
            Ok(Some(DocumentFile {
                filename: pdf_store::filename_of(&number),
                content_type: "application/pdf".into(),
                bytes,
            }))
        }
        DocumentRef::File(file_id) => {
            let row = sqlx::query(
                "select filename, content_type, data from customer_document
                 where customer_document_id = $1 and customer_id = $2",
            )
            .bind(file_id)
            .bind(customer.get())
            .fetch_optional(conn)
            .await?;
            row.map(|r| {
                Ok(DocumentFile {
                    filename: r.try_get("filename")?,
                    content_type: r.try_get("content_type")?,
                    bytes: r.try_get("data")?,
                })
            })
            .transpose()
        }
    }
}

/// A contract, annex or other paper to offer the customer (the office or the demo adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    /// The contract it belongs to (must be the customer's).
    pub contract_id: Option<i64>,
    /// `contract`, `annex` or `other`.
    pub kind: String,
    /// Title shown in the list.
    pub title: String,
    /// Download name.
    pub filename: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Issue day.
    pub issued_on: NaiveDate,
}

/// Stores a document for the customer; refuses a contract of another customer (`contract_id`).
pub async fn add(
    conn: &mut PgConnection,
    customer: CustomerId,
    doc: &NewDocument,
) -> Result<DocumentRef, StoreError> {
    if let Some(k) = doc.contract_id {
        let owner: Option<i64> =
            sqlx::query_scalar("select customer_id from contract where contract_id = $1")
                .bind(k)
                .fetch_optional(&mut *conn)
                .await?;
        if owner != Some(customer.get()) {
            return Err(StoreError::invalid(
                "contract_id",
                format!("contract {k} is not a contract of customer {customer}"),
            ));
        }
    }
    let id: i64 = sqlx::query_scalar(
        "insert into customer_document (customer_id, contract_id, kind, title, filename,
             content_type, data, issued_on)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning customer_document_id",
    )
    .bind(customer.get())
    .bind(doc.contract_id)
    .bind(&doc.kind)
    .bind(&doc.title)
    .bind(&doc.filename)
    .bind(&doc.content_type)
    .bind(&doc.bytes)
    .bind(doc.issued_on)
    .fetch_one(conn)
    .await?;
    Ok(DocumentRef::File(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_round_trip() {
        for r in [
            DocumentRef::Invoice(12),
            DocumentRef::Notice(3),
            DocumentRef::File(5),
        ] {
            assert_eq!(DocumentRef::parse(&r.to_string()).unwrap(), r);
        }
        assert!(DocumentRef::parse("invoice-x").is_err());
        assert!(DocumentRef::parse("secret-1").is_err());
        assert!(DocumentRef::parse("12").is_err());
    }
}
