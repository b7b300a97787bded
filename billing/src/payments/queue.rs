//! The clerk's queue: payments nobody matched and lines held as possible duplicates (stored,
//! never posted until a clerk decides), with the clerk's two answers — assign to a customer
//! (posted and allocated) or dismiss as the same money already stored.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgPool, Row};

use super::allocation::{post_and_allocate, Allocation};
use super::import::payment_description;
use super::matching::{invoice_in_title, MatchedBy};
use super::PaymentError;

/// A payment waiting for a clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedPayment {
    /// The payment.
    pub payment_id: i64,
    /// Where it came from (`mt940`, `csv`, …).
    pub source: String,
    /// The bank's reference.
    pub bank_reference: String,
    /// Amount received.
    pub amount: Decimal,
    /// Booking date.
    pub booked_on: NaiveDate,
    /// The payer's name, if the bank gave it.
    pub payer_name: Option<String>,
    /// The payer's account, if the bank gave it.
    pub payer_account: Option<String>,
    /// Transfer title.
    pub title: Option<String>,
    /// The credited account, if the bank gave it.
    pub to_account: Option<String>,
    /// Why it is held although it may match: `possible_duplicate`.
    pub review: Option<String>,
    /// The stored payment it may repeat.
    pub duplicate_of: Option<i64>,
    /// Optional subfields left out of the line because they failed validation.
    pub warnings: Vec<String>,
}

/// The unmatched queue, oldest booking first: not assigned, not dismissed, not reversed.
pub async fn list_unmatched(pool: &PgPool) -> Result<Vec<UnmatchedPayment>, PaymentError> {
    let rows = sqlx::query(
        "select payment_id, source, bank_reference, amount, booked_on, payer_name, payer_account,
             title, to_account::text as to_account, review, duplicate_of, warnings
         from payment p where customer_id is null and dismissed_at is null
           and not exists (select 1 from payment_reversal r where r.payment_id = p.payment_id)
         order by booked_on, payment_id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UnmatchedPayment {
                payment_id: r.try_get("payment_id")?,
                source: r.try_get("source")?,
                bank_reference: r.try_get("bank_reference")?,
                amount: r.try_get("amount")?,
                booked_on: r.try_get("booked_on")?,
                payer_name: r.try_get("payer_name")?,
                payer_account: r.try_get("payer_account")?,
                title: r.try_get("title")?,
                to_account: r.try_get("to_account")?,
                review: r.try_get("review")?,
                duplicate_of: r.try_get("duplicate_of")?,
                warnings: r.try_get("warnings")?,
            })
        })
        .collect()
}

/// A clerk assigns an unmatched payment to a customer: it is posted and allocated (to an
/// invoice of that customer named in the title first), and the change is audited.
pub async fn assign_unmatched(
    pool: &PgPool,
    payment_id: i64,
    customer_id: i64,
    clerk: &str,
) -> Result<Vec<Allocation>, PaymentError> {
    if clerk.trim().is_empty() {
        return Err(PaymentError::invalid("clerk", "must name who assigns"));
    }
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "select customer_id, amount, booked_on, coalesce(title, '') as title, bank_reference,
             dismissed_at is not null as dismissed,
             exists (select 1 from payment_reversal r where r.payment_id = p.payment_id)
                 as reversed
         from payment p where payment_id = $1 for update",
    )
    .bind(payment_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| PaymentError::NotFound {
        what: format!("payment {payment_id}"),
    })?;
    let current: Option<i64> = row.try_get("customer_id")?;
    if let Some(c) = current {
        return Err(PaymentError::invalid(
            "payment_id",
            format!("payment {payment_id} is already assigned to customer {c}"),
        ));
    }
    if row.try_get::<bool, _>("dismissed")? || row.try_get::<bool, _>("reversed")? {
        return Err(PaymentError::invalid(
            "payment_id",
            format!("payment {payment_id} was dismissed as a duplicate or reversed by the bank"),
        ));
    }
    let amount: Decimal = row.try_get("amount")?;
    let booked_on: NaiveDate = row.try_get("booked_on")?;
    let title: String = row.try_get("title")?;
    let reference: String = row.try_get("bank_reference")?;
    let named = invoice_in_title(&mut tx, &title, Some(customer_id)).await?;
    let allocations = post_and_allocate(
        &mut tx,
        payment_id,
        customer_id,
        amount,
        booked_on,
        named.map(|(invoice, _)| invoice),
        &payment_description(&reference),
    )
    .await?;
    sqlx::query("update payment set customer_id = $2, matched_by = 'clerk' where payment_id = $1")
        .bind(payment_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
    let after = serde_json::json!({
        "customer_id": customer_id,
        "matched_by": MatchedBy::Clerk.as_str(),
        "allocations": allocations.iter().map(|a| serde_json::json!({
            "invoice_id": a.invoice_id, "amount": a.amount.to_string()
        })).collect::<Vec<_>>(),
    });
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, before, after)
         values ($1, 'update', 'payment', $2, $3, $4)",
    )
    .bind(clerk)
    .bind(payment_id.to_string())
    .bind(serde_json::json!({"customer_id": null, "matched_by": null}))
    .bind(after)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(allocations)
}

/// A clerk dismisses a held line as the same money as the payment it may repeat: it stays
/// stored (nothing is deleted) but leaves the queue and is never posted. Audited.
pub async fn dismiss_duplicate(
    pool: &PgPool,
    payment_id: i64,
    clerk: &str,
) -> Result<(), PaymentError> {
    if clerk.trim().is_empty() {
        return Err(PaymentError::invalid("clerk", "must name who dismisses"));
    }
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "update payment set dismissed_at = now(), dismissed_by = $2
         where payment_id = $1 and customer_id is null and dismissed_at is null
           and review = 'possible_duplicate'",
    )
    .bind(payment_id)
    .bind(clerk)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(PaymentError::invalid(
            "payment_id",
            format!("payment {payment_id} is not a possible duplicate waiting in the queue"),
        ));
    }
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after)
         values ($1, 'update', 'payment', $2, $3)",
    )
    .bind(clerk)
    .bind(payment_id.to_string())
    .bind(serde_json::json!({"dismissed": "duplicate"}))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
