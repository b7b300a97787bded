//! The customer's payments history for eBOK and the API: each payment with the invoices it
//! was allocated to and what was left over as credit, newest first, paged, scoped by the
//! session's [`CustomerId`].

use super::PaymentError;
use chrono::NaiveDate;
use ewoda_common::scope::{CustomerId, Page, PageRequest};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// Part of a payment put against one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationView {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// The amount allocated.
    pub amount: Decimal,
}

/// One payment of the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentView {
    /// The payment.
    pub payment_id: i64,
    /// Booking day.
    pub booked_on: NaiveDate,
    /// Amount received.
    pub amount: Decimal,
    /// `mt940`, `csv`, `online`, `cash` or `manual`.
    pub source: String,
    /// Transfer title.
    pub title: Option<String>,
    /// Where it went.
    pub allocations: Vec<AllocationView>,
    /// amount − Σ allocations: kept as credit (overpayment).
    pub unallocated: Decimal,
}

/// One page of the customer's payments, newest first.
pub async fn history(
    conn: &mut PgConnection,
    customer: CustomerId,
    page: PageRequest,
) -> Result<Page<PaymentView>, PaymentError> {
    let total: i64 = sqlx::query_scalar("select count(*) from payment where customer_id = $1")
        .bind(customer.get())
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query(
        "select p.payment_id, p.booked_on, p.amount, p.source, p.title,
                coalesce(jsonb_agg(jsonb_build_object('invoice_id', i.invoice_id,
                    'number', i.number, 'amount', a.amount::text) order by i.number)
                    filter (where a.invoice_id is not null), '[]') as allocations
         from payment p
         left join payment_allocation a using (payment_id)
         left join invoice i on i.invoice_id = a.invoice_id
         where p.customer_id = $1
         group by p.payment_id
         order by p.booked_on desc, p.payment_id desc
         limit $2 offset $3",
    )
    .bind(customer.get())
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&mut *conn)
    .await?;
    let items = rows.iter().map(payment_row).collect::<Result<_, _>>()?;
    Ok(Page::new(items, total, page))
}

#[derive(serde::Deserialize)]
struct RawAllocation {
    invoice_id: i64,
    number: String,
    amount: Decimal,
}

fn payment_row(r: &sqlx::postgres::PgRow) -> Result<PaymentView, PaymentError> {
    let amount: Decimal = r.try_get("amount")?;
    let raw: serde_json::Value = r.try_get("allocations")?;
    let raw: Vec<RawAllocation> = serde_json::from_value(raw)
        .map_err(|e| PaymentError::invalid("allocations", e.to_string()))?;
    let allocations: Vec<AllocationView> = raw
        .into_iter()
        .map(|a| AllocationView {
            invoice_id: a.invoice_id,
            number: a.number,
            amount: a.amount,
        })
        .collect();
    Ok(PaymentView {
        payment_id: r.try_get("payment_id")?,
        booked_on: r.try_get("booked_on")?,
        source: r.try_get("source")?,
        title: r.try_get("title")?,
        unallocated: amount - allocations.iter().map(|a| a.amount).sum::<Decimal>(),
        allocations,
        amount,
    })
}
