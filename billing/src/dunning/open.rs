//! What a customer still owes per invoice, as dunning sees it: the ledger's open items
//! ([`crate::ledger::corrected_gross_sql`]: an invoice's amount after the corrections that
//! lowered it, minus what was allocated to it), and the parts of a debt that bear interest.

use crate::ledger::{self, OpenItem};
use crate::store_error::StoreError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// The customer's debts with something open as of `on` (lowering corrections issued on or
/// before `on`), oldest due first: the ledger's open items, the one definition.
pub async fn open_debts(
    conn: &mut PgConnection,
    customer_id: i64,
    on: NaiveDate,
) -> Result<Vec<OpenItem>, StoreError> {
    let mut all = ledger::open_items_of(conn, &[customer_id], Some(on)).await?;
    Ok(all.pop().map(|(_, items)| items).unwrap_or_default())
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
