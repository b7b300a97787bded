//! The customer's invoices for eBOK and the API: the filtered, paged list of invoices and
//! corrections, one invoice's detail (lines, VAT per rate, KSeF number, corrections that
//! reference it, payments put against it), and the customer's reminders and interest notes.
//! Every query is scoped by the session's [`CustomerId`]: another customer's invoice id is
//! None.

use super::document::vat_rows;
use super::issue::lines_of;
use crate::store_error::StoreError;
use chrono::NaiveDate;
use ewoda_common::scope::{CustomerId, Page, PageRequest};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// Where an invoice stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing left to pay (a correction lowering the bill counts as settled).
    Paid,
    /// Money open, not yet due.
    Open,
    /// Money open past the due day.
    Overdue,
}

impl PaymentStatus {
    /// The text used in filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Open => "open",
            PaymentStatus::Overdue => "overdue",
        }
    }

    /// Parses `paid`, `open` or `overdue`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        [
            PaymentStatus::Paid,
            PaymentStatus::Open,
            PaymentStatus::Overdue,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| StoreError::invalid("status", format!("{s:?} is not paid, open or overdue")))
    }
}

/// `VAT` (sales invoice) or `KOR` (correction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InvoiceKind {
    /// A sales invoice.
    #[serde(rename = "VAT")]
    Vat,
    /// A corrective invoice.
    #[serde(rename = "KOR")]
    Kor,
}

impl InvoiceKind {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Vat => "VAT",
            InvoiceKind::Kor => "KOR",
        }
    }

    /// Parses `VAT` or `KOR`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "VAT" => Ok(InvoiceKind::Vat),
            "KOR" => Ok(InvoiceKind::Kor),
            _ => Err(StoreError::invalid(
                "kind",
                format!("{s:?} is not VAT or KOR"),
            )),
        }
    }
}

/// Filters of the invoice list; None means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    /// Payment status on the query's day.
    pub status: Option<PaymentStatus>,
    /// Invoices or corrections only.
    pub kind: Option<InvoiceKind>,
    /// Issued on or after.
    pub issued_from: Option<NaiveDate>,
    /// Issued on or before.
    pub issued_to: Option<NaiveDate>,
    /// Of this contract (of the customer).
    pub contract_id: Option<i64>,
}

/// One row of the invoice list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceSummary {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// VAT or KOR.
    pub kind: InvoiceKind,
    /// The corrected invoice (a KOR).
    pub corrects_invoice_id: Option<i64>,
    /// The contract billed.
    pub contract_id: Option<i64>,
    /// Billed period.
    pub period_from: NaiveDate,
    /// Billed period's last day.
    pub period_to: NaiveDate,
    /// Issue day.
    pub issued_on: NaiveDate,
    /// Due day.
    pub due_on: NaiveDate,
    /// Gross (negative on a correction that lowers the bill).
    pub gross: Decimal,
    /// Allocated payments.
    pub paid: Decimal,
    /// gross − paid.
    pub open: Decimal,
    /// Status on the query's day.
    pub status: PaymentStatus,
    /// True when volumes are estimated.
    pub estimated: bool,
    /// KSeF number, once sent.
    pub ksef_number: Option<String>,
}

const SUMMARY_SELECT: &str = "
    select i.invoice_id, i.number, i.kind, i.corrects_invoice_id, i.contract_id, i.period_from,
           i.period_to, i.issued_on, i.due_on, i.gross, i.estimated, i.ksef_number,
           coalesce((select sum(a.amount) from payment_allocation a
                     where a.invoice_id = i.invoice_id), 0) as paid
    from invoice i
    where i.customer_id = $1";

fn status_of(open: Decimal, due_on: NaiveDate, today: NaiveDate) -> PaymentStatus {
    if open <= Decimal::ZERO {
        PaymentStatus::Paid
    } else if due_on < today {
        PaymentStatus::Overdue
    } else {
        PaymentStatus::Open
    }
}

fn summary_row(r: &sqlx::postgres::PgRow, today: NaiveDate) -> Result<InvoiceSummary, StoreError> {
    let gross: Decimal = r.try_get("gross")?;
    let paid: Decimal = r.try_get("paid")?;
    let due_on: NaiveDate = r.try_get("due_on")?;
    Ok(InvoiceSummary {
        invoice_id: r.try_get("invoice_id")?,
        number: r.try_get("number")?,
        kind: InvoiceKind::parse(r.try_get("kind")?)?,
        corrects_invoice_id: r.try_get("corrects_invoice_id")?,
        contract_id: r.try_get("contract_id")?,
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        issued_on: r.try_get("issued_on")?,
        due_on,
        gross,
        paid,
        open: gross - paid,
        status: status_of(gross - paid, due_on, today),
        estimated: r.try_get("estimated")?,
        ksef_number: r.try_get("ksef_number")?,
    })
}

/// The filtered list as SQL; binds $1 customer, $2 kind, $3/$4 issued range, $5 contract,
/// $6 status, $7 today.
fn filtered_sql() -> String {
    format!(
        "select s.* from ({SUMMARY_SELECT}
             and ($2::text is null or i.kind = $2)
             and ($3::date is null or i.issued_on >= $3)
             and ($4::date is null or i.issued_on <= $4)
             and ($5::bigint is null or i.contract_id = $5)) s
         where $6::text is null
            or $6 = case when s.gross - s.paid <= 0 then 'paid'
                         when s.due_on < $7 then 'overdue' else 'open' end"
    )
}

fn bind_filter<'q>(
    sql: &'q str,
    customer: CustomerId,
    filter: &InvoiceFilter,
    today: NaiveDate,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(customer.get())
        .bind(filter.kind.map(InvoiceKind::as_str))
        .bind(filter.issued_from)
        .bind(filter.issued_to)
        .bind(filter.contract_id)
        .bind(filter.status.map(PaymentStatus::as_str))
        .bind(today)
}

/// The customer's invoices and corrections matching `filter`, newest first, one page.
pub async fn list(
    conn: &mut PgConnection,
    customer: CustomerId,
    filter: &InvoiceFilter,
    page: PageRequest,
    today: NaiveDate,
) -> Result<Page<InvoiceSummary>, StoreError> {
    let filtered = filtered_sql();
    let count_sql = format!("select count(*) as total from ({filtered}) f");
    let total: i64 = bind_filter(&count_sql, customer, filter, today)
        .fetch_one(&mut *conn)
        .await?
        .try_get("total")?;
    let page_sql =
        format!("{filtered} order by s.issued_on desc, s.invoice_id desc limit $8 offset $9");
    let rows = bind_filter(&page_sql, customer, filter, today)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await?;
    let items = rows
        .iter()
        .map(|r| summary_row(r, today))
        .collect::<Result<_, _>>()?;
    Ok(Page::new(items, total, page))
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineView {
    /// `water`, `sewage` or a fee's name.
    pub item: String,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
    /// Quantity (m³ to 0.001, or 1).
    pub quantity: Decimal,
    /// `m3`, `period` or `month`.
    pub unit: String,
    /// Net unit price.
    pub unit_price: Decimal,
    /// Net amount.
    pub net: Decimal,
    /// VAT rate in percent.
    pub vat_percent: Decimal,
    /// Estimated quantity.
    pub estimated: bool,
}

/// VAT summary at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatSummary {
    /// Rate in percent.
    pub vat_percent: Decimal,
    /// Σ nets at the rate.
    pub net: Decimal,
    /// VAT at the rate.
    pub vat: Decimal,
    /// net + vat.
    pub gross: Decimal,
}

/// A payment put against the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaidBy {
    /// The payment.
    pub payment_id: i64,
    /// Booking day.
    pub booked_on: NaiveDate,
    /// Part of the payment allocated here.
    pub amount: Decimal,
}

/// Everything the invoice page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceDetail {
    /// The list row (status, amounts, KSeF number).
    pub summary: InvoiceSummary,
    /// Net total.
    pub net: Decimal,
    /// VAT total.
    pub vat: Decimal,
    /// Why it corrects (a KOR).
    pub correction_reason: Option<String>,
    /// The corrected invoice's number (a KOR).
    pub corrects_number: Option<String>,
    /// Lines in position order.
    pub lines: Vec<LineView>,
    /// VAT per rate.
    pub vat_rows: Vec<VatSummary>,
    /// Corrections that reference this invoice, oldest first.
    pub corrections: Vec<InvoiceSummary>,
    /// Payments allocated to it.
    pub payments: Vec<PaidBy>,
}

/// One invoice of the customer with lines, VAT summary, corrections and payments; None when
/// `invoice_id` is not the customer's.
pub async fn detail(
    conn: &mut PgConnection,
    customer: CustomerId,
    invoice_id: i64,
    today: NaiveDate,
) -> Result<Option<InvoiceDetail>, StoreError> {
    let sql = format!(
        "select s.*, x.net, x.vat, x.correction_reason, o.number as corrects_number
         from ({SUMMARY_SELECT} and i.invoice_id = $2) s
         join invoice x on x.invoice_id = s.invoice_id
         left join invoice o on o.invoice_id = x.corrects_invoice_id"
    );
    let Some(r) = sqlx::query(&sql)
        .bind(customer.get())
        .bind(invoice_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let summary = summary_row(&r, today)?;
    let vat: Decimal = r.try_get("vat")?;
    let lines = lines_of(&mut *conn, invoice_id).await?;
    let vat_rows = vat_rows(&lines, vat)
        .into_iter()
        .map(|v| VatSummary {
            vat_percent: v.vat_percent,
            net: v.net,
            vat: v.vat,
            gross: v.gross,
        })
        .collect();
    let lines = lines
        .into_iter()
        .map(|l| LineView {
            item: l.item,
            from: l.from,
            to: l.to,
            quantity: l.quantity,
            unit: l.unit,
            unit_price: l.unit_price,
            net: l.net,
            vat_percent: l.vat_percent,
            estimated: l.estimated,
        })
        .collect();
    Ok(Some(InvoiceDetail {
        summary,
        net: r.try_get("net")?,
        vat,
        correction_reason: r.try_get("correction_reason")?,
        corrects_number: r.try_get("corrects_number")?,
        lines,
        vat_rows,
        corrections: corrections_of(&mut *conn, customer, invoice_id, today).await?,
        payments: paid_by(&mut *conn, invoice_id).await?,
    }))
}

async fn corrections_of(
    conn: &mut PgConnection,
    customer: CustomerId,
    invoice_id: i64,
    today: NaiveDate,
) -> Result<Vec<InvoiceSummary>, StoreError> {
    let sql = format!(
        "{SUMMARY_SELECT} and i.corrects_invoice_id = $2 order by i.issued_on, i.invoice_id"
    );
    let rows = sqlx::query(&sql)
        .bind(customer.get())
        .bind(invoice_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| summary_row(r, today)).collect()
}

async fn paid_by(conn: &mut PgConnection, invoice_id: i64) -> Result<Vec<PaidBy>, StoreError> {
    let rows = sqlx::query(
        "select p.payment_id, p.booked_on, a.amount
         from payment_allocation a join payment p using (payment_id)
         where a.invoice_id = $1 order by p.booked_on, p.payment_id",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PaidBy {
                payment_id: r.try_get("payment_id")?,
                booked_on: r.try_get("booked_on")?,
                amount: r.try_get("amount")?,
            })
        })
        .collect()
}

/// A reminder or interest note of the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeSummary {
    /// The notice.
    pub dunning_notice_id: i64,
    /// Its number.
    pub number: String,
    /// `reminder` or `interest_note`.
    pub kind: String,
    /// Reminder level.
    pub level: i16,
    /// Issue day.
    pub issued_on: NaiveDate,
    /// Open amounts (reminder) or amounts paid late (note).
    pub principal: Decimal,
    /// Interest.
    pub interest: Decimal,
    /// Compensation in PLN (business debtors).
    pub compensation_pln: Option<Decimal>,
}

/// The customer's reminders and interest notes, newest first.
pub async fn notices(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<NoticeSummary>, StoreError> {
    let rows = sqlx::query(
        "select dunning_notice_id, number, kind, level, issued_on, principal, interest,
                compensation_pln
         from dunning_notice where customer_id = $1
         order by issued_on desc, dunning_notice_id desc",
    )
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NoticeSummary {
                dunning_notice_id: r.try_get("dunning_notice_id")?,
                number: r.try_get("number")?,
                kind: r.try_get("kind")?,
                level: r.try_get("level")?,
                issued_on: r.try_get("issued_on")?,
                principal: r.try_get("principal")?,
                interest: r.try_get("interest")?,
                compensation_pln: r.try_get("compensation_pln")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_kind_parse_and_judge() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            status_of(Decimal::ZERO, d("2026-01-01"), d("2026-02-01")),
            PaymentStatus::Paid
        );
        assert_eq!(
            status_of(Decimal::ONE, d("2026-01-01"), d("2026-02-01")),
            PaymentStatus::Overdue
        );
        assert_eq!(
            status_of(Decimal::ONE, d("2026-02-01"), d("2026-02-01")),
            PaymentStatus::Open
        );
        assert_eq!(
            PaymentStatus::parse("overdue").unwrap(),
            PaymentStatus::Overdue
        );
        assert_eq!(
            PaymentStatus::parse("late").unwrap_err().to_string(),
            "status: \"late\" is not paid, open or overdue"
        );
        assert_eq!(InvoiceKind::parse("KOR").unwrap(), InvoiceKind::Kor);
        assert!(InvoiceKind::parse("FV").is_err());
    }
}
