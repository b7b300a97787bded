//! Corrective invoices (faktura korygująca, series KOR): reference the original, carry the
//! differences (new minus the original as already corrected) per line and in the totals, and
//! post the gross difference to the ledger. Used by clerks and to reconcile an estimated
//! invoice once the real reading arrives.

use super::issue::{self, DraftLine, InvoiceDraft, IssuedInvoice};
use crate::quote::Quote;
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;

/// What identifies "the same line" across an invoice and its correction.
type LineKey = (String, NaiveDate, NaiveDate, String, Decimal, Decimal);

fn key(l: &DraftLine) -> LineKey {
    (
        l.item.clone(),
        l.from,
        l.to,
        l.unit.clone(),
        l.unit_price.normalize(),
        l.vat_percent.normalize(),
    )
}

/// Lines summed by (item, days, unit, unit price, VAT rate).
fn aggregate(lines: &[DraftLine]) -> BTreeMap<LineKey, DraftLine> {
    let mut out: BTreeMap<LineKey, DraftLine> = BTreeMap::new();
    for l in lines {
        out.entry(key(l))
            .and_modify(|a| {
                a.quantity += l.quantity;
                a.net += l.net;
                a.estimated = l.estimated;
            })
            .or_insert_with(|| l.clone());
    }
    out
}

/// The lines of a correction: for every line of either side, new − current in quantity and
/// net; lines that do not change are left out. Ordered by item, days and price.
pub fn diff_lines(current: &[DraftLine], new: &[DraftLine]) -> Vec<DraftLine> {
    let cur = aggregate(current);
    let new = aggregate(new);
    let mut keys: Vec<&LineKey> = cur.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (c, n) = (cur.get(k), new.get(k));
            let base = n.or(c)?;
            let q =
                n.map_or(Decimal::ZERO, |l| l.quantity) - c.map_or(Decimal::ZERO, |l| l.quantity);
            let net = n.map_or(Decimal::ZERO, |l| l.net) - c.map_or(Decimal::ZERO, |l| l.net);
            (!q.is_zero() || !net.is_zero()).then(|| DraftLine {
                quantity: q,
                net,
                estimated: n.is_some_and(|l| l.estimated),
                ..base.clone()
            })
        })
        .collect()
}

/// An invoice as it stands after all its corrections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentInvoice {
    /// The original (VAT) invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// Buyer.
    pub customer_id: i64,
    /// Contract billed.
    pub contract_id: Option<i64>,
    /// Billed period.
    pub period: Period,
    /// Whether the state is still an estimate.
    pub estimated: bool,
    /// Original lines followed by every correction's difference lines.
    pub lines: Vec<DraftLine>,
    /// Net after corrections.
    pub net: Decimal,
    /// VAT after corrections.
    pub vat: Decimal,
    /// Gross after corrections.
    pub gross: Decimal,
}

/// Loads a sales invoice with its corrections applied, locking it so that concurrent
/// corrections of the same invoice queue up.
pub async fn current(
    conn: &mut PgConnection,
    invoice_id: i64,
) -> Result<CurrentInvoice, StoreError> {
    let head = sqlx::query(
        "select number, kind, customer_id, contract_id, period_from, period_to, net, vat, gross,
                estimated
         from invoice where invoice_id = $1 for update",
    )
    .bind(invoice_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found(format!("invoice {invoice_id}")))?;
    let kind: String = head.try_get(1)?;
    let number: String = head.try_get(0)?;
    if kind != "VAT" {
        return Err(StoreError::invalid(
            "invoice",
            format!("{number} is a correction; correct the original invoice instead"),
        ));
    }
    let mut lines = issue::lines_of(conn, invoice_id).await?;
    let (mut net, mut vat, mut gross): (Decimal, Decimal, Decimal) =
        (head.try_get(6)?, head.try_get(7)?, head.try_get(8)?);
    let mut estimated: bool = head.try_get(9)?;
    let corrections = sqlx::query(
        "select invoice_id, net, vat, gross, estimated from invoice
         where corrects_invoice_id = $1 order by invoice_id",
    )
    .bind(invoice_id)
    .fetch_all(&mut *conn)
    .await?;
    for c in corrections {
        lines.extend(issue::lines_of(conn, c.try_get(0)?).await?);
        net += c.try_get::<Decimal, _>(1)?;
        vat += c.try_get::<Decimal, _>(2)?;
        gross += c.try_get::<Decimal, _>(3)?;
        estimated = c.try_get(4)?;
    }
    Ok(CurrentInvoice {
        invoice_id,
        number,
        customer_id: head.try_get(2)?,
        contract_id: head.try_get(3)?,
        period: Period::new(head.try_get(4)?, head.try_get(5)?)?,
        estimated,
        lines,
        net,
        vat,
        gross,
    })
}

/// Issues a KOR for `invoice_id` that brings it (as already corrected) to the newly computed
/// `quote`, in the caller's transaction. Errors when nothing would change.
pub async fn correct(
    conn: &mut PgConnection,
    invoice_id: i64,
    quote: &Quote,
    reason: &str,
    issued_on: NaiveDate,
    due_on: NaiveDate,
) -> Result<IssuedInvoice, StoreError> {
    if reason.trim().is_empty() {
        return Err(StoreError::invalid("reason", "a correction needs a reason"));
    }
    let cur = current(conn, invoice_id).await?;
    let target = InvoiceDraft::from_quote(
        cur.customer_id,
        cur.contract_id,
        cur.period,
        quote,
        issued_on,
        due_on,
    );
    let lines = diff_lines(&aggregate_lines(&cur.lines), &target.lines);
    if lines.is_empty() && target.gross == cur.gross {
        return Err(StoreError::invalid(
            "quote",
            format!("{} already matches; nothing to correct", cur.number),
        ));
    }
    let draft = InvoiceDraft {
        corrects_invoice_id: Some(invoice_id),
        correction_reason: Some(reason.to_string()),
        lines,
        net: target.net - cur.net,
        vat: target.vat - cur.vat,
        gross: target.gross - cur.gross,
        ..target
    };
    issue::issue(conn, &draft).await
}

fn aggregate_lines(lines: &[DraftLine]) -> Vec<DraftLine> {
    aggregate(lines).into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn line(item: &str, q: Decimal, price: Decimal, net: Decimal) -> DraftLine {
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        DraftLine {
            item: item.into(),
            from: d,
            to: d,
            quantity: q,
            unit: "m3".into(),
            unit_price: price,
            net,
            vat_percent: dec!(8),
            estimated: false,
        }
    }

    #[test]
    fn diff_keeps_only_changes_and_handles_added_and_removed_lines() {
        let old = vec![
            line("water", dec!(10.000), dec!(6.95), dec!(69.50)),
            line("fee", dec!(1), dec!(3.50), dec!(3.50)),
            line("sewage", dec!(10.000), dec!(12.35), dec!(123.50)),
        ];
        let new = vec![
            line("water", dec!(12.000), dec!(6.95), dec!(83.40)),
            line("fee", dec!(1), dec!(3.50), dec!(3.50)),
        ];
        let d = diff_lines(&old, &new);
        let got: Vec<(String, Decimal, Decimal)> = d
            .iter()
            .map(|l| (l.item.clone(), l.quantity, l.net))
            .collect();
        assert_eq!(
            got,
            vec![
                ("sewage".into(), dec!(-10.000), dec!(-123.50)),
                ("water".into(), dec!(2.000), dec!(13.90)),
            ]
        );
    }
}
