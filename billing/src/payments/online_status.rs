//! Where one of the customer's online payments stands, for the page the payer returns to.

use super::PaymentError;
use ewoda_common::scope::CustomerId;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// An online payment as the payer sees it after coming back from the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineStatus {
    /// The shop's session id.
    pub session_id: String,
    /// Amount paid or being paid.
    pub amount: Decimal,
    /// `registering`, `registered` (waiting for the operator), `failed` or `paid`.
    pub status: String,
}

/// The customer's online payment `session_id`; None when it is not theirs or unknown.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    session_id: &str,
) -> Result<Option<OnlineStatus>, PaymentError> {
    let row = sqlx::query(
        "select session_id, amount, status from online_transaction
         where customer_id = $1 and session_id = $2",
    )
    .bind(customer.get())
    .bind(session_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(OnlineStatus {
            session_id: r.try_get("session_id")?,
            amount: r.try_get("amount")?,
            status: r.try_get("status")?,
        })
    })
    .transpose()
}
