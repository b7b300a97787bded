//! Online payments with their registrations kept in PostgreSQL (`online_transaction`): the
//! portal starts a payment here and hands the operator's notification back here, and the
//! notification is checked against what was registered (session, amount, currency).

use super::online::{
    handle_notification, Notification, OnlineOrder, OnlineOutcome, PaymentOperator,
    RegisteredTransaction, Registration, CURRENCY,
};
use super::PaymentError;
use sqlx::PgPool;

/// Records the order, registers it with the operator and returns the payer's redirect. A
/// session id is used once; a failed registration is marked `failed`.
pub async fn start_online_payment<O: PaymentOperator>(
    pool: &PgPool,
    operator: &O,
    order: &OnlineOrder,
) -> Result<Registration, PaymentError> {
    let inserted = sqlx::query(
        "insert into online_transaction (session_id, customer_id, invoice_id, amount, currency, description)
         values ($1, $2, $3, $4, $5, $6) on conflict (session_id) do nothing",
    )
    .bind(&order.session_id)
    .bind(order.customer_id)
    .bind(order.invoice_id)
    .bind(order.amount)
    .bind(CURRENCY)
    .bind(&order.description)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(PaymentError::Rejected(format!(
            "session {:?} was already used",
            order.session_id
        )));
    }
    match operator.register(order).await {
        Ok(reg) => {
            sqlx::query(
                "update online_transaction set status = 'registered', token = $2, updated_at = now()
                 where session_id = $1",
            )
            .bind(&order.session_id)
            .bind(&reg.token)
            .execute(pool)
            .await?;
            Ok(reg)
        }
        Err(e) => {
            sqlx::query(
                "update online_transaction set status = 'failed', updated_at = now() where session_id = $1",
            )
            .bind(&order.session_id)
            .execute(pool)
            .await?;
            Err(e)
        }
    }
}

/// The registered transaction of a session.
pub async fn registered(
    pool: &PgPool,
    session_id: &str,
) -> Result<RegisteredTransaction, PaymentError> {
    let row: Option<(i64, Option<i64>, rust_decimal::Decimal, String)> = sqlx::query_as(
        "select customer_id, invoice_id, amount, currency from online_transaction
         where session_id = $1 and status in ('registered', 'paid')",
    )
    .bind(session_id)
    .fetch_optional(pool)
    .await?;
    let (customer_id, invoice_id, amount, currency) = row.ok_or_else(|| {
        PaymentError::Rejected(format!("session {session_id:?} was never registered"))
    })?;
    Ok(RegisteredTransaction {
        session_id: session_id.to_string(),
        customer_id,
        invoice_id,
        amount,
        currency,
    })
}

/// Handles the operator's notification for a stored registration; marks it paid.
pub async fn notify<O: PaymentOperator>(
    pool: &PgPool,
    operator: &O,
    n: &Notification,
) -> Result<OnlineOutcome, PaymentError> {
    let reg = registered(pool, &n.session_id).await?;
    let outcome = handle_notification(pool, operator, &reg, n).await?;
    let payment_id = match &outcome {
        OnlineOutcome::Posted { payment_id, .. } | OnlineOutcome::AlreadyPosted { payment_id } => {
            *payment_id
        }
    };
    sqlx::query(
        "update online_transaction set status = 'paid', payment_id = $2, updated_at = now()
         where session_id = $1",
    )
    .bind(&n.session_id)
    .bind(payment_id)
    .execute(pool)
    .await?;
    Ok(outcome)
}
