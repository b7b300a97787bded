//! What a customer still owes per invoice, as dunning sees it: an invoice's amount after the
//! corrections that lowered it, minus what was paid on it. A correction that lowers a bill
//! (negative KOR) reduces the debt of its original from the original's due day on — the money
//! was never owed — so no reminder or interest note ever demands what a KOR took off; a
//! correction that raises the bill is a debt of its own with its own due day.

use crate::store_error::StoreError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};

/// One debt: an invoice (or a correction raising one) with its corrected amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDebt {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// Its due day.
    pub due_on: NaiveDate,
    /// Its gross amount as issued.
    pub gross: Decimal,
    /// Gross after the lowering corrections issued by the day asked about.
    pub corrected: Decimal,
    /// Payments allocated to it.
    pub allocated: Decimal,
    /// corrected − allocated (≤ 0 when nothing is owed).
    pub open: Decimal,
}

/// The customer's debts as of `on` (corrections issued on or before `on`), oldest due first,
/// including those with nothing open (the caller filters).
pub async fn open_debts(
    conn: &mut PgConnection,
    customer_id: i64,
    on: NaiveDate,
) -> Result<Vec<OpenDebt>, StoreError> {
    let rows = sqlx::query(
        "select i.invoice_id, i.number, i.due_on, i.gross,
                i.gross + coalesce(k.lowered, 0) as corrected,
                coalesce(a.allocated, 0) as allocated
         from invoice i
         left join lateral (select sum(c.gross) as lowered from invoice c
                            where c.corrects_invoice_id = i.invoice_id and c.gross < 0
                              and c.issued_on <= $2) k on true
         left join lateral (select sum(pa.amount) as allocated from payment_allocation pa
                            where pa.invoice_id = i.invoice_id) a on true
         where i.customer_id = $1 and not (i.kind = 'KOR' and i.gross < 0)
         order by i.due_on, i.invoice_id",
    )
    .bind(customer_id)
    .bind(on)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let corrected: Decimal = r.try_get("corrected")?;
            let allocated: Decimal = r.try_get("allocated")?;
            Ok(OpenDebt {
                invoice_id: r.try_get("invoice_id")?,
                number: r.try_get("number")?,
                due_on: r.try_get("due_on")?,
                gross: r.try_get("gross")?,
                corrected,
                allocated,
                open: corrected - allocated,
            })
        })
        .collect()
}

/// The gross of one invoice after its lowering corrections issued by `on`.
pub async fn corrected_gross(
    conn: &mut PgConnection,
    invoice_id: i64,
    on: NaiveDate,
) -> Result<Decimal, StoreError> {
    let gross: Option<Decimal> = sqlx::query_scalar(
        "select i.gross + coalesce((select sum(c.gross) from invoice c
                                    where c.corrects_invoice_id = i.invoice_id and c.gross < 0
                                      and c.issued_on <= $2), 0)
         from invoice i where i.invoice_id = $1",
    )
    .bind(invoice_id)
    .bind(on)
    .fetch_optional(conn)
    .await?;
    gross.ok_or_else(|| StoreError::not_found(format!("invoice {invoice_id}")))
}

/// The amounts of a debt of `owed` that bear interest: each payment booked after `due_on`
/// (interest through its day) as far as it pays what was owed — a payment beyond the
/// corrected amount is an overpayment, not a late debt — and what is still unpaid on `on`
/// (through `on`). Payments in booking order; returns (amount, paid on, last day of interest).
pub fn late_amounts(
    owed: Decimal,
    payments: &[(Decimal, NaiveDate)],
    due_on: NaiveDate,
    on: NaiveDate,
) -> Vec<(Decimal, Option<NaiveDate>, NaiveDate)> {
    let mut left = owed.max(Decimal::ZERO);
    let mut out = Vec::new();
    for (amount, day) in payments {
        let counted = (*amount).min(left);
        left -= counted;
        if counted > Decimal::ZERO && *day > due_on {
            out.push((counted, Some(*day), *day));
        }
    }
    if left > Decimal::ZERO && on > due_on {
        out.push((left, None, on));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn late_amounts_stop_at_what_was_owed() {
        let due = d("2026-03-10");
        // 100 owed after a KOR took 30 off: 50 on time, 80 late → only 50 of them was owed.
        let parts = late_amounts(
            dec!(100),
            &[(dec!(50), d("2026-03-09")), (dec!(80), d("2026-04-01"))],
            due,
            d("2026-05-01"),
        );
        assert_eq!(
            parts,
            vec![(dec!(50), Some(d("2026-04-01")), d("2026-04-01"))]
        );
        // Partly paid late, the rest unpaid on the note's day.
        let parts = late_amounts(
            dec!(100),
            &[(dec!(40), d("2026-04-01"))],
            due,
            d("2026-05-01"),
        );
        assert_eq!(
            parts,
            vec![
                (dec!(40), Some(d("2026-04-01")), d("2026-04-01")),
                (dec!(60), None, d("2026-05-01")),
            ]
        );
        // Corrected to nothing: nothing bears interest.
        assert!(late_amounts(dec!(0), &[], due, d("2026-05-01")).is_empty());
    }
}
