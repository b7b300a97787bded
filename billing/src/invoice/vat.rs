//! VAT per rate, stored with each invoice (`invoice_vat`) when it is issued. A sales invoice's
//! rows are each rate's net sum and the VAT on it (half-up); a correction's rows are the
//! differences between the corrected state (its original plus every correction, this one
//! included) and the stored rows before it, so they sum exactly to the correction's totals
//! — the PDF and the KSeF XML print these rows, never a re-computation.

use super::document::VatRow;
use super::issue::{DraftLine, InvoiceDraft};
use crate::store_error::StoreError;
use ewoda_common::Money;
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;

/// (net, vat) per normalised rate.
type PerRate = BTreeMap<Decimal, (Decimal, Decimal)>;

/// Net sums per rate of some lines.
fn nets(lines: &[DraftLine]) -> BTreeMap<Decimal, Decimal> {
    let mut out = BTreeMap::new();
    for l in lines {
        *out.entry(l.vat_percent.normalize()).or_default() += l.net;
    }
    out
}

/// Fails unless the rows add up to the draft's totals.
fn check_sums(rows: &PerRate, draft: &InvoiceDraft) -> Result<(), StoreError> {
    let net: Decimal = rows.values().map(|(n, _)| *n).sum();
    let vat: Decimal = rows.values().map(|(_, v)| *v).sum();
    if (net, vat) != (draft.net, draft.vat) {
        return Err(StoreError::invalid(
            "vat",
            format!(
                "net {} and VAT {} of the draft differ from the per-rate sums {net} and {vat}",
                draft.net, draft.vat
            ),
        ));
    }
    Ok(())
}

/// A sales invoice: each rate's net sum and its VAT; one rate takes the draft's totals.
fn of_invoice(draft: &InvoiceDraft) -> Result<PerRate, StoreError> {
    let nets = nets(&draft.lines);
    if nets.len() == 1 {
        return Ok(nets
            .into_keys()
            .map(|rate| (rate, (draft.net, draft.vat)))
            .collect());
    }
    let rows: PerRate = nets
        .into_iter()
        .map(|(rate, net)| (rate, (net, Money::vat(net, rate).amount())))
        .collect();
    check_sums(&rows, draft)?;
    Ok(rows)
}

/// The VAT rows a sales invoice from `draft` gets: (rate, net, VAT) per rate, by rate — what
/// [`store_many`] would write; a stored preview keeps them for issue to post.
pub(crate) fn sales_rows(
    draft: &InvoiceDraft,
) -> Result<Vec<(Decimal, Decimal, Decimal)>, StoreError> {
    Ok(of_invoice(draft)?
        .into_iter()
        .map(|(rate, (net, vat))| (rate, net, vat))
        .collect())
}

/// The stored rows of an invoice and its corrections (all but `except`), summed per rate.
async fn stored_state(
    conn: &mut PgConnection,
    original: i64,
    except: i64,
) -> Result<PerRate, StoreError> {
    let rows = sqlx::query(
        "select v.vat_percent, sum(v.net) as net, sum(v.vat) as vat
         from invoice_vat v join invoice i using (invoice_id)
         where (i.invoice_id = $1 or i.corrects_invoice_id = $1) and i.invoice_id <> $2
         group by v.vat_percent",
    )
    .bind(original)
    .bind(except)
    .fetch_all(conn)
    .await?;
    let mut out = PerRate::new();
    for r in rows {
        let rate: Decimal = r.try_get("vat_percent")?;
        out.insert(rate.normalize(), (r.try_get("net")?, r.try_get("vat")?));
    }
    Ok(out)
}

/// A correction: per rate, (state after) − (stored state before), where the state after has
/// the nets before plus the correction's line differences and VAT on those nets.
async fn of_correction(
    conn: &mut PgConnection,
    original: i64,
    correction_id: i64,
    draft: &InvoiceDraft,
) -> Result<PerRate, StoreError> {
    let before = stored_state(conn, original, correction_id).await?;
    let diff = nets(&draft.lines);
    let mut rows = PerRate::new();
    let rates: std::collections::BTreeSet<Decimal> =
        before.keys().chain(diff.keys()).copied().collect();
    for rate in rates {
        let (net_before, vat_before) = before.get(&rate).copied().unwrap_or_default();
        let net_diff = diff.get(&rate).copied().unwrap_or_default();
        let vat_after = Money::vat(net_before + net_diff, rate).amount();
        let vat_diff = vat_after - vat_before;
        if !net_diff.is_zero() || !vat_diff.is_zero() {
            rows.insert(rate, (net_diff, vat_diff));
        }
    }
    // A single rate (no other rate on the invoice) takes the draft's totals as they are.
    if rows.len() == 1 && before.len() <= 1 {
        if let Some(rate) = rows.keys().next().copied() {
            return Ok(PerRate::from([(rate, (draft.net, draft.vat))]));
        }
    }
    check_sums(&rows, draft)?;
    Ok(rows)
}

/// Writes the VAT rows of just-issued invoices (`ids` in draft order), in the caller's
/// transaction; refuses a draft whose totals are not the sums of its per-rate rows.
pub async fn store_many(
    conn: &mut PgConnection,
    drafts: &[InvoiceDraft],
    ids: &[i64],
) -> Result<(), StoreError> {
    let (mut invoice, mut rate, mut net, mut vat) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (d, id) in drafts.iter().zip(ids) {
        let rows = match d.corrects_invoice_id {
            None => of_invoice(d)?,
            Some(original) => of_correction(conn, original, *id, d).await?,
        };
        for (r, (n, v)) in rows {
            invoice.push(*id);
            rate.push(r);
            net.push(n);
            vat.push(v);
        }
    }
    sqlx::query(
        "insert into invoice_vat (invoice_id, vat_percent, net, vat)
         select * from unnest($1::bigint[], $2::numeric[], $3::numeric[], $4::numeric[])",
    )
    .bind(&invoice)
    .bind(&rate)
    .bind(&net)
    .bind(&vat)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored VAT rows of one invoice, by rate.
pub async fn load(conn: &mut PgConnection, invoice_id: i64) -> Result<Vec<VatRow>, StoreError> {
    let rows = sqlx::query(
        "select vat_percent, net, vat from invoice_vat where invoice_id = $1 order by vat_percent",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let vat_percent: Decimal = r.try_get("vat_percent")?;
            let net: Decimal = r.try_get("net")?;
            let vat: Decimal = r.try_get("vat")?;
            Ok(VatRow {
                vat_percent: vat_percent.normalize(),
                net,
                vat,
                gross: net + vat,
            })
        })
        .collect()
}
