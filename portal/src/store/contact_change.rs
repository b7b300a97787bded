//! Contact-data change requests: the customer submits new contact data, follows the status
//! and reads the clerk's answer; on approval the change reaches billing's customer row
//! ([`ewoda_billing::customer::apply_contact_change`], audit-logged) in the same transaction
//! that marks the request approved.

use super::StoreError;
use chrono::{DateTime, Utc};
use ewoda_billing::customer::{apply_contact_change, ContactChange};
use ewoda_common::scope::CustomerId;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

/// A request as the customer or the clerk sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactChangeView {
    /// The request.
    pub contact_change_request_id: i64,
    /// Whose.
    pub customer_id: i64,
    /// What should change.
    pub changes: ContactChange,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The clerk's answer.
    pub answer: Option<String>,
    /// Submitted at.
    pub created_at: DateTime<Utc>,
    /// Decided at.
    pub decided_at: Option<DateTime<Utc>>,
}

/// Submits a request; refuses invalid data (`email`, `phone`) and a second pending request
/// (`changes`). Returns its id.
pub async fn submit(
    pool: &PgPool,
    customer: CustomerId,
    change: &ContactChange,
) -> Result<i64, StoreError> {
    let errors = change.validate();
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let mut tx = pool.begin().await?;
    sqlx::query("select 1 from customer where customer_id = $1 for update")
        .bind(customer.get())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("customer {customer}")))?;
    let pending: bool = sqlx::query_scalar(
        "select exists (select 1 from contact_change_request where customer_id = $1 and status = 'pending')",
    )
    .bind(customer.get())
    .fetch_one(&mut *tx)
    .await?;
    if pending {
        return Err(StoreError::field(
            "changes",
            "pending",
            "an earlier change is still waiting for approval",
        ));
    }
    let changes = serde_json::to_value(change)
        .map_err(|e| StoreError::field("changes", "invalid", e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "insert into contact_change_request (customer_id, changes) values ($1, $2)
         returning contact_change_request_id",
    )
    .bind(customer.get())
    .bind(changes)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

const SELECT: &str = "select contact_change_request_id, customer_id, changes, status, answer,
    created_at, decided_at from contact_change_request";

fn view(r: &sqlx::postgres::PgRow) -> Result<ContactChangeView, StoreError> {
    let changes: serde_json::Value = r.try_get("changes")?;
    Ok(ContactChangeView {
        contact_change_request_id: r.try_get("contact_change_request_id")?,
        customer_id: r.try_get("customer_id")?,
        changes: serde_json::from_value(changes)
            .map_err(|e| StoreError::field("changes", "invalid", e.to_string()))?,
        status: r.try_get("status")?,
        answer: r.try_get("answer")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// The customer's requests, newest first.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<ContactChangeView>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} where customer_id = $1 order by created_at desc, contact_change_request_id desc"
    ))
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    rows.iter().map(view).collect()
}

/// The clerk's queue, oldest first.
pub async fn pending(conn: &mut PgConnection) -> Result<Vec<ContactChangeView>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} where status = 'pending' order by created_at, contact_change_request_id"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(view).collect()
}

async fn lock_pending(conn: &mut PgConnection, id: i64) -> Result<ContactChangeView, StoreError> {
    let r = sqlx::query(&format!(
        "{SELECT} where contact_change_request_id = $1 and status = 'pending' for update"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("pending contact change {id}")))?;
    view(&r)
}

async fn decide(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    clerk_user_id: i64,
    answer: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update contact_change_request set status = $2, decided_by = $3, decided_at = now(),
             answer = $4, applied_at = case when $2 = 'approved' then now() end
         where contact_change_request_id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(clerk_user_id)
    .bind(answer)
    .execute(conn)
    .await?;
    Ok(())
}

/// Approves a pending request: applies it to billing's customer row (audit-logged as
/// `clerk_login`) and marks it approved, in one transaction.
pub async fn approve(
    pool: &PgPool,
    id: i64,
    clerk_user_id: i64,
    clerk_login: &str,
    answer: Option<&str>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let req = lock_pending(&mut tx, id).await?;
    let customer = CustomerId::new(req.customer_id);
    apply_contact_change(
        &mut tx,
        customer,
        &req.changes,
        &format!("user:{clerk_login}"),
    )
    .await?;
    decide(
        &mut tx,
        id,
        "approved",
        clerk_user_id,
        answer.map(str::trim).filter(|a| !a.is_empty()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Rejects a pending request with the clerk's `answer` (required).
pub async fn reject(
    pool: &PgPool,
    id: i64,
    clerk_user_id: i64,
    answer: &str,
) -> Result<(), StoreError> {
    if answer.trim().is_empty() {
        return Err(StoreError::field(
            "answer",
            "required",
            "say why the change is rejected",
        ));
    }
    let mut tx = pool.begin().await?;
    lock_pending(&mut tx, id).await?;
    decide(&mut tx, id, "rejected", clerk_user_id, Some(answer.trim())).await?;
    tx.commit().await?;
    Ok(())
}
