//! Issuing invoices: numbers, the invoice rows, their lines and the ledger postings, all in the
//! caller's transaction and in bulk (UNNEST), so a batch is all-or-nothing.

use super::numbering::{self, CORRECTION_SERIES, SALES_SERIES};
use crate::ledger::{self, NewPosting, PostingKind};
use crate::quote::{LineUnit, Quote};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use std::collections::{BTreeMap, HashMap};

/// One line of an invoice to issue (or of a stored one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLine {
    /// `water`, `sewage` or a fee's name.
    pub item: String,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
    /// m³ to 0.001, or 1 for a fee (a difference on a correction).
    pub quantity: Decimal,
    /// `m3`, `period` or `month`.
    pub unit: String,
    /// Net unit price.
    pub unit_price: Decimal,
    /// Net amount (a difference on a correction).
    pub net: Decimal,
    /// VAT rate in percent.
    pub vat_percent: Decimal,
    /// True when the quantity is estimated.
    pub estimated: bool,
}

/// An invoice ready to issue: a sales invoice from a quote, or a correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDraft {
    /// The buyer.
    pub customer_id: i64,
    /// The contract billed.
    pub contract_id: Option<i64>,
    /// The billing run that made it.
    pub billing_run_id: Option<i64>,
    /// The invoice corrected (makes this a KOR).
    pub corrects_invoice_id: Option<i64>,
    /// Why it is corrected.
    pub correction_reason: Option<String>,
    /// The billed period.
    pub period: Period,
    /// Issue day (sets the number's year and month).
    pub issued_on: NaiveDate,
    /// Payment due day.
    pub due_on: NaiveDate,
    /// True when any volume is estimated.
    pub estimated: bool,
    /// The lines.
    pub lines: Vec<DraftLine>,
    /// Σ line nets.
    pub net: Decimal,
    /// VAT per rate on the rate's net sum (from [`crate::quote`]).
    pub vat: Decimal,
    /// net + vat.
    pub gross: Decimal,
}

/// The text of a quote line's unit as stored.
pub fn unit_str(unit: LineUnit) -> &'static str {
    match unit {
        LineUnit::M3 => "m3",
        LineUnit::Period => "period",
        LineUnit::Month => "month",
    }
}

impl InvoiceDraft {
    /// A sales invoice carrying a quote's lines and totals unchanged.
    pub fn from_quote(
        customer_id: i64,
        contract_id: Option<i64>,
        period: Period,
        quote: &Quote,
        issued_on: NaiveDate,
        due_on: NaiveDate,
    ) -> Self {
        let lines = quote
            .lines
            .iter()
            .map(|l| DraftLine {
                item: l.item.clone(),
                from: l.from,
                to: l.to,
                quantity: l.quantity,
                unit: unit_str(l.unit).to_string(),
                unit_price: l.unit_price,
                net: l.net,
                vat_percent: l.vat_percent,
                estimated: quote.estimated && l.unit == LineUnit::M3,
            })
            .collect();
        InvoiceDraft {
            customer_id,
            contract_id,
            billing_run_id: None,
            corrects_invoice_id: None,
            correction_reason: None,
            period,
            issued_on,
            due_on,
            estimated: quote.estimated,
            lines,
            net: quote.net,
            vat: quote.vat,
            gross: quote.gross,
        }
    }

    fn kind(&self) -> &'static str {
        if self.corrects_invoice_id.is_some() {
            "KOR"
        } else {
            "VAT"
        }
    }

    fn series(&self) -> &'static str {
        if self.corrects_invoice_id.is_some() {
            CORRECTION_SERIES
        } else {
            SALES_SERIES
        }
    }

    /// Refuses a draft whose totals do not add up, due before issue or a negative sale.
    pub(crate) fn check(&self, index: usize) -> Result<(), StoreError> {
        let field = |f: &str| format!("drafts[{index}].{f}");
        if self.gross != self.net + self.vat {
            return Err(StoreError::invalid(
                field("gross"),
                format!("{} is not net {} + vat {}", self.gross, self.net, self.vat),
            ));
        }
        let sum: Decimal = self.lines.iter().map(|l| l.net).sum();
        if sum != self.net {
            return Err(StoreError::invalid(
                field("net"),
                format!("{} is not the sum of the lines' nets {sum}", self.net),
            ));
        }
        if self.due_on < self.issued_on {
            return Err(StoreError::invalid(
                field("due_on"),
                format!("{} is before the issue day {}", self.due_on, self.issued_on),
            ));
        }
        if self.corrects_invoice_id.is_none() && self.gross.is_sign_negative() {
            return Err(StoreError::invalid(
                field("gross"),
                format!("{} is negative on a sales invoice", self.gross),
            ));
        }
        Ok(())
    }
}

/// An issued invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvoice {
    /// Its id.
    pub invoice_id: i64,
    /// Its number, e.g. `FW/2026/05/000123`.
    pub number: String,
    /// The buyer.
    pub customer_id: i64,
    /// The contract billed.
    pub contract_id: Option<i64>,
    /// Gross amount (the ledger posting's amount).
    pub gross: Decimal,
}

/// Issues one invoice (see [`issue_many`]).
pub async fn issue(
    conn: &mut PgConnection,
    draft: &InvoiceDraft,
) -> Result<IssuedInvoice, StoreError> {
    issue_many(conn, std::slice::from_ref(draft))
        .await?
        .pop()
        .ok_or_else(|| StoreError::invalid("drafts", "nothing issued"))
}

/// Issues invoices in the caller's transaction: takes gap-free numbers (in draft order per
/// series and year), inserts invoices and lines, and posts each non-zero gross to the ledger
/// (a `charge` for a sales invoice, a `correction` for a KOR). Returned in draft order.
pub async fn issue_many(
    conn: &mut PgConnection,
    drafts: &[InvoiceDraft],
) -> Result<Vec<IssuedInvoice>, StoreError> {
    for (i, d) in drafts.iter().enumerate() {
        d.check(i)?;
    }
    // Numbers: one reservation per (series, year), handed out in draft order.
    let mut wanted: BTreeMap<(&str, i32), Vec<usize>> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        wanted
            .entry((d.series(), d.issued_on.year()))
            .or_default()
            .push(i);
    }
    let mut numbers: Vec<Option<numbering::InvoiceNumber>> = vec![None; drafts.len()];
    for ((series, _), idx) in &wanted {
        let Some(first) = idx.first().and_then(|i| drafts.get(*i)) else {
            continue;
        };
        let reserved = numbering::reserve(conn, series, first.issued_on, idx.len()).await?;
        for (i, mut n) in idx.iter().zip(reserved) {
            if let (Some(slot), Some(d)) = (numbers.get_mut(*i), drafts.get(*i)) {
                n.month = d.issued_on.month();
                *slot = Some(n);
            }
        }
    }
    let numbers: Vec<numbering::InvoiceNumber> = numbers
        .into_iter()
        .map(|n| n.ok_or_else(|| StoreError::invalid("drafts", "a draft got no number")))
        .collect::<Result<_, _>>()?;
    let texts: Vec<String> = numbers.iter().map(ToString::to_string).collect();

    let rows = sqlx::query(
        "insert into invoice (number, series, year, seq, kind, corrects_invoice_id,
             correction_reason, customer_id, contract_id, billing_run_id, period_from, period_to,
             issued_on, due_on, net, vat, gross, estimated)
         select * from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[],
             $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::date[],
             $12::date[], $13::date[], $14::date[], $15::numeric[], $16::numeric[],
             $17::numeric[], $18::bool[])
         returning invoice_id, number",
    )
    .bind(&texts)
    .bind(
        numbers
            .iter()
            .map(|n| n.series.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(numbers.iter().map(|n| n.year).collect::<Vec<_>>())
    .bind(numbers.iter().map(|n| n.seq).collect::<Vec<_>>())
    .bind(drafts.iter().map(InvoiceDraft::kind).collect::<Vec<_>>())
    .bind(
        drafts
            .iter()
            .map(|d| d.corrects_invoice_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        drafts
            .iter()
            .map(|d| d.correction_reason.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(drafts.iter().map(|d| d.customer_id).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.contract_id).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.billing_run_id).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.period.from()).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.period.to()).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.issued_on).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.due_on).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.net).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.vat).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.gross).collect::<Vec<_>>())
    .bind(drafts.iter().map(|d| d.estimated).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    let mut id_of: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for r in rows {
        id_of.insert(r.try_get(1)?, r.try_get(0)?);
    }
    let ids: Vec<i64> = texts
        .iter()
        .map(|t| {
            id_of
                .get(t)
                .copied()
                .ok_or_else(|| StoreError::invalid("invoice", format!("{t} was not inserted")))
        })
        .collect::<Result<_, _>>()?;

    insert_lines(conn, drafts, &ids).await?;
    super::vat::store_many(conn, drafts, &ids).await?;

    let postings: Vec<NewPosting> = drafts
        .iter()
        .zip(&ids)
        .zip(&texts)
        .filter(|((d, _), _)| !d.gross.is_zero())
        .map(|((d, id), number)| {
            let (kind, what) = if d.corrects_invoice_id.is_some() {
                (PostingKind::Correction, "Korekta")
            } else {
                (PostingKind::Charge, "Faktura")
            };
            NewPosting {
                invoice_id: Some(*id),
                ..NewPosting::new(
                    d.customer_id,
                    d.issued_on,
                    kind,
                    d.gross,
                    format!("{what} {number}"),
                )
            }
        })
        .collect();
    ledger::post_many(conn, &postings).await?;

    Ok(drafts
        .iter()
        .zip(ids)
        .zip(texts)
        .map(|((d, invoice_id), number)| IssuedInvoice {
            invoice_id,
            number,
            customer_id: d.customer_id,
            contract_id: d.contract_id,
            gross: d.gross,
        })
        .collect())
}

async fn insert_lines(
    conn: &mut PgConnection,
    drafts: &[InvoiceDraft],
    ids: &[i64],
) -> Result<(), StoreError> {
    let n: usize = drafts.iter().map(|d| d.lines.len()).sum();
    let mut invoice_id = Vec::with_capacity(n);
    let mut position = Vec::with_capacity(n);
    let mut item = Vec::with_capacity(n);
    let mut from = Vec::with_capacity(n);
    let mut to = Vec::with_capacity(n);
    let mut quantity = Vec::with_capacity(n);
    let mut unit = Vec::with_capacity(n);
    let mut unit_price = Vec::with_capacity(n);
    let mut net = Vec::with_capacity(n);
    let mut vat_percent = Vec::with_capacity(n);
    let mut estimated = Vec::with_capacity(n);
    for (d, id) in drafts.iter().zip(ids) {
        for (p, l) in d.lines.iter().enumerate() {
            invoice_id.push(*id);
            position.push(p as i32 + 1);
            item.push(l.item.as_str());
            from.push(l.from);
            to.push(l.to);
            quantity.push(l.quantity);
            unit.push(l.unit.as_str());
            unit_price.push(l.unit_price);
            net.push(l.net);
            vat_percent.push(l.vat_percent);
            estimated.push(l.estimated);
        }
    }
    if n == 0 {
        return Ok(());
    }
    sqlx::query(
        "insert into invoice_line (invoice_id, position, item, period_from, period_to, quantity,
             unit, unit_price, net, vat_percent, estimated)
         select * from unnest($1::bigint[], $2::int[], $3::text[], $4::date[], $5::date[],
             $6::numeric[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[], $11::bool[])",
    )
    .bind(invoice_id)
    .bind(position)
    .bind(item)
    .bind(from)
    .bind(to)
    .bind(quantity)
    .bind(unit)
    .bind(unit_price)
    .bind(net)
    .bind(vat_percent)
    .bind(estimated)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored lines of an invoice, in position order.
pub async fn lines_of(
    conn: &mut PgConnection,
    invoice_id: i64,
) -> Result<Vec<DraftLine>, StoreError> {
    let rows = sqlx::query(
        "select item, period_from, period_to, quantity, unit, unit_price, net, vat_percent, estimated
         from invoice_line where invoice_id = $1 order by position",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(DraftLine {
                item: r.try_get(0)?,
                from: r.try_get(1)?,
                to: r.try_get(2)?,
                quantity: r.try_get(3)?,
                unit: r.try_get(4)?,
                unit_price: r.try_get(5)?,
                net: r.try_get(6)?,
                vat_percent: r.try_get(7)?,
                estimated: r.try_get(8)?,
            })
        })
        .collect()
}
