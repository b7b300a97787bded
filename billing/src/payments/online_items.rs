//! Online payment of one or several of the customer's open items from eBOK: checks that every
//! item is the customer's and open, then records and registers the transaction through
//! [`online_store::start_online_payment`] (the Przelewy24-style flow) for the items' open sum.
//! The operator's notification posts the payment there; it is allocated to the first item
//! chosen, then to the oldest due debt.

use super::online::{OnlineOrder, PaymentOperator, Registration};
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
        "insert into online_transaction_item (session_id, invoice_id, amount)
         select $1, i, a from unnest($2::bigint[], $3::numeric[]) as x(i, a)",
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
