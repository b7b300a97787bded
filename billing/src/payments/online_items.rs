//! Online payment of one or several of the customer's open items from eBOK: checks that every
//! item is the customer's and open, then records and registers the transaction through
//! [`online_store::start_online_payment`] (the Przelewy24-style flow) for the items' open sum.
//! The shop's status endpoint hands the operator's notification to [`notify`], which posts
//! it through [`online_store::notify`] and then puts the money on the items chosen (in the
//! order chosen), anything left on the oldest due debt.

use super::allocation::{plan_allocation, Allocation};
use super::online::{Notification, OnlineOrder, OnlineOutcome, PaymentOperator, Registration};
use super::{online_store, PaymentError};
use crate::ledger;
use ewoda_common::scope::CustomerId;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

/// Where the payer comes back to and where the operator notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerLinks {
    /// The payer's e-mail for the operator.
    pub email: String,
    /// Where the payer returns after paying.
    pub url_return: String,
    /// The shop's notification endpoint.
    pub url_status: String,
}

/// A started online payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartedPayment {
    /// The shop's session id (also in `online_transaction`).
    pub session_id: String,
    /// Σ open of the items.
    pub amount: Decimal,
    /// The operator's token.
    pub token: String,
    /// Where to send the payer.
    pub redirect_url: String,
}

/// Starts paying `item_ids` (invoice ids) online. Refuses, naming `items[i]`, an id that is
/// not an open item of this customer (another customer's invoice reads the same as a paid or
/// unknown one), a repeated id, or an empty list; nothing is recorded then.
pub async fn start_online_payment<O: PaymentOperator>(
    pool: &PgPool,
    operator: &O,
    customer: CustomerId,
    item_ids: &[i64],
    links: &PayerLinks,
) -> Result<StartedPayment, PaymentError> {
    if item_ids.is_empty() {
        return Err(PaymentError::invalid(
            "items",
            "choose at least one open item",
        ));
    }
    let open = ledger::open_items(&mut *pool.acquire().await?, customer.get()).await?;
    let mut chosen = Vec::with_capacity(item_ids.len());
    for (i, id) in item_ids.iter().enumerate() {
        if item_ids[..i].contains(id) {
            return Err(PaymentError::invalid(
                format!("items[{i}]"),
                format!("invoice {id} is listed twice"),
            ));
        }
        match open
            .iter()
            .find(|o| o.invoice_id == *id && o.open > Decimal::ZERO)
        {
            Some(o) => chosen.push(o),
            None => {
                return Err(PaymentError::invalid(
                    format!("items[{i}]"),
                    format!("invoice {id} is not an open item of this customer"),
                ))
            }
        }
    }
    let amount: Decimal = chosen.iter().map(|o| o.open).sum();
    let numbers: Vec<&str> = chosen.iter().map(|o| o.number.as_str()).collect();
    let session_id: String = sqlx::query_scalar("select 'ebok-' || $1 || '-' || gen_random_uuid()")
        .bind(customer.get().to_string())
        .fetch_one(pool)
        .await?;
    let order = OnlineOrder {
        session_id: session_id.clone(),
        customer_id: customer.get(),
        invoice_id: Some(chosen[0].invoice_id),
        amount,
        description: description(&numbers),
        email: links.email.clone(),
        url_return: links.url_return.clone(),
        url_status: links.url_status.clone(),
    };
    let registered = online_store::start_online_payment(pool, operator, &order).await;
    // The items are recorded whether or not the operator accepted, as the transaction row is.
    sqlx::query(
        "insert into online_transaction_item (session_id, invoice_id, amount, position)
         select $1, i, a, n - 1 from unnest($2::bigint[], $3::numeric[]) with ordinality as x(i, a, n)",
    )
    .bind(&session_id)
    .bind(chosen.iter().map(|o| o.invoice_id).collect::<Vec<_>>())
    .bind(chosen.iter().map(|o| o.open).collect::<Vec<_>>())
    .execute(pool)
    .await?;
    let Registration {
        token,
        redirect_url,
    } = registered?;
    Ok(StartedPayment {
        session_id,
        amount,
        token,
        redirect_url,
    })
}

/// Handles the operator's notification (see [`online_store::notify`]) and allocates the
/// payment to the items the customer chose. Idempotent: a repeated notification allocates the
/// same way again.
pub async fn notify<O: PaymentOperator>(
    pool: &PgPool,
    operator: &O,
    n: &Notification,
) -> Result<OnlineOutcome, PaymentError> {
    let outcome = online_store::notify(pool, operator, n).await?;
    Ok(match outcome {
        OnlineOutcome::Posted { payment_id, .. } => OnlineOutcome::Posted {
            payment_id,
            allocations: allocate_to_items(pool, &n.session_id, payment_id).await?,
        },
        OnlineOutcome::AlreadyPosted { payment_id } => {
            allocate_to_items(pool, &n.session_id, payment_id).await?;
            OnlineOutcome::AlreadyPosted { payment_id }
        }
    })
}

/// Re-plans the payment's allocations with the session's items first, in one transaction
/// under the customer's lock (as every allocation takes it). A session without recorded items
/// keeps the allocation it got.
async fn allocate_to_items(
    pool: &PgPool,
    session_id: &str,
    payment_id: i64,
) -> Result<Vec<Allocation>, PaymentError> {
    let mut tx = pool.begin().await?;
    let items: Vec<i64> = sqlx::query_scalar(
        "select invoice_id from online_transaction_item
         where session_id = $1 order by position, invoice_id",
    )
    .bind(session_id)
    .fetch_all(&mut *tx)
    .await?;
    let (customer_id, amount): (i64, Decimal) = sqlx::query_as(
        "select c.customer_id, p.amount from payment p join customer c using (customer_id)
         where p.payment_id = $1 for update of c",
    )
    .bind(payment_id)
    .fetch_one(&mut *tx)
    .await?;
    if items.is_empty() {
        tx.rollback().await?;
        return Ok(Vec::new());
    }
    sqlx::query("delete from payment_allocation where payment_id = $1")
        .bind(payment_id)
        .execute(&mut *tx)
        .await?;
    let open = ledger::open_items(&mut tx, customer_id).await?;
    let mut ordered: Vec<ledger::OpenItem> = items
        .iter()
        .filter_map(|id| open.iter().find(|o| o.invoice_id == *id).cloned())
        .collect();
    ordered.extend(
        open.iter()
            .filter(|o| !items.contains(&o.invoice_id))
            .cloned(),
    );
    let plan = plan_allocation(&ordered, amount, None);
    sqlx::query(
        "insert into payment_allocation (payment_id, invoice_id, amount)
         select $1, i, a from unnest($2::bigint[], $3::numeric[]) as x(i, a)",
    )
    .bind(payment_id)
    .bind(plan.iter().map(|a| a.invoice_id).collect::<Vec<_>>())
    .bind(plan.iter().map(|a| a.amount).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(plan)
}

/// The payment title: the invoice numbers, cut to what a transfer title holds.
fn description(numbers: &[&str]) -> String {
    let all = if numbers.len() == 1 {
        format!("Faktura {}", numbers[0])
    } else {
        format!("Faktury {}", numbers.join(", "))
    };
    all.chars().take(140).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn description_names_the_invoices() {
        assert_eq!(super::description(&["FW/1"]), "Faktura FW/1");
        assert_eq!(super::description(&["FW/1", "FW/2"]), "Faktury FW/1, FW/2");
        assert_eq!(
            super::description(&["X".repeat(300).as_str()])
                .chars()
                .count(),
            140
        );
    }
}
