//! Allocating a payment: one `payment` posting for the whole amount, then allocations to the
//! open invoices — the one the payer named first, then the oldest due — and whatever is left
//! stays as the customer's credit (a negative balance).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::ledger::{self, NewPosting, OpenItem, PostingKind};

use super::PaymentError;

/// Part of a payment put against one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The invoice.
    pub invoice_id: i64,
    /// How much of the payment goes to it (> 0).
    pub amount: Decimal,
}

/// Splits `amount` over `open` items (oldest due first, as [`ledger::open_items`] returns them),
/// starting with `preferred` when it is among them; items with nothing positive open are
/// skipped. The sum of the result never exceeds `amount` nor any item's open amount.
pub fn plan_allocation(
    open: &[OpenItem],
    amount: Decimal,
    preferred: Option<i64>,
) -> Vec<Allocation> {
    let mut order: Vec<&OpenItem> = Vec::with_capacity(open.len());
    order.extend(open.iter().filter(|o| Some(o.invoice_id) == preferred));
    order.extend(open.iter().filter(|o| Some(o.invoice_id) != preferred));
    let mut left = amount;
    let mut out = Vec::new();
    for item in order {
        if left <= Decimal::ZERO {
            break;
        }
        if item.open <= Decimal::ZERO {
            continue;
        }
        let part = left.min(item.open);
        out.push(Allocation {
            invoice_id: item.invoice_id,
            amount: part,
        });
        left -= part;
    }
    out
}

/// Posts a stored payment to `customer_id` and allocates it, in the caller's transaction.
/// Locks the customer's open items (by the customer row) so concurrent allocations do not
/// both fill the same invoice.
pub(crate) async fn post_and_allocate(
    conn: &mut PgConnection,
    payment_id: i64,
    customer_id: i64,
    amount: Decimal,
    booked_on: NaiveDate,
    preferred: Option<i64>,
    description: &str,
) -> Result<Vec<Allocation>, PaymentError> {
    let exists: Option<i64> =
        sqlx::query_scalar("select customer_id from customer where customer_id = $1 for update")
            .bind(customer_id)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Err(PaymentError::NotFound {
            what: format!("customer {customer_id}"),
        });
    }
    let mut posting = NewPosting::new(
        customer_id,
        booked_on,
        PostingKind::Payment,
        -amount,
        description,
    );
    posting.payment_id = Some(payment_id);
    ledger::post(&mut *conn, &posting).await?;
    let open = ledger::open_items(&mut *conn, customer_id).await?;
    let plan = plan_allocation(&open, amount, preferred);
    if !plan.is_empty() {
        sqlx::query(
            "insert into payment_allocation (payment_id, invoice_id, amount)
             select $1, i, a from unnest($2::bigint[], $3::numeric[]) as x(i, a)",
        )
        .bind(payment_id)
        .bind(plan.iter().map(|a| a.invoice_id).collect::<Vec<_>>())
        .bind(plan.iter().map(|a| a.amount).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn item(id: i64, open: Decimal) -> OpenItem {
        OpenItem {
            invoice_id: id,
            number: format!("FW/2026/01/{id:06}"),
            due_on: NaiveDate::MIN,
            gross: open,
            corrected: open,
            allocated: Decimal::ZERO,
            open,
        }
    }

    #[test]
    fn oldest_first_preferred_first_credit_left() {
        let open = [item(1, dec!(10)), item(2, dec!(-5)), item(3, dec!(20))];
        assert_eq!(
            plan_allocation(&open, dec!(15), None),
            vec![
                Allocation {
                    invoice_id: 1,
                    amount: dec!(10)
                },
                Allocation {
                    invoice_id: 3,
                    amount: dec!(5)
                }
            ]
        );
        assert_eq!(
            plan_allocation(&open, dec!(25), Some(3)),
            vec![
                Allocation {
                    invoice_id: 3,
                    amount: dec!(20)
                },
                Allocation {
                    invoice_id: 1,
                    amount: dec!(5)
                }
            ]
        );
        assert_eq!(
            plan_allocation(&open, dec!(100), Some(99))
                .iter()
                .map(|a| a.amount)
                .sum::<Decimal>(),
            dec!(30)
        );
        assert!(plan_allocation(&[], dec!(1), None).is_empty());
    }
}
