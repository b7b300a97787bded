//! The printable form of an issued invoice (seller, buyer, lines, VAT summary, payment data),
//! loaded from the database; the PDF renderer draws exactly this.

use super::issue::{self, DraftLine};
use crate::account::Iban;
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::NaiveDate;
use ewoda_common::Money;
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;

/// Seller or buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Name (person or company).
    pub name: String,
    /// Address lines.
    pub address: Vec<String>,
    /// NIP, when there is one.
    pub nip: Option<String>,
}

/// One row of the VAT summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatRow {
    /// Rate in percent.
    pub vat_percent: Decimal,
    /// Σ nets at this rate.
    pub net: Decimal,
    /// VAT at this rate.
    pub vat: Decimal,
    /// net + vat.
    pub gross: Decimal,
}

/// Everything printed on an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDocument {
    /// Number, e.g. `FW/2026/10/000123`.
    pub number: String,
    /// The corrected invoice's number (a KOR), else None.
    pub corrects: Option<String>,
    /// Why it corrects.
    pub correction_reason: Option<String>,
    /// Issue day.
    pub issued_on: NaiveDate,
    /// Billed period.
    pub period: Period,
    /// Due day.
    pub due_on: NaiveDate,
    /// The utility.
    pub seller: Party,
    /// The utility's short name (payment QR recipient).
    pub seller_short_name: String,
    /// The buyer.
    pub buyer: Party,
    /// Customer number.
    pub customer_number: String,
    /// Contract number.
    pub contract_number: Option<String>,
    /// Lines.
    pub lines: Vec<DraftLine>,
    /// VAT per rate.
    pub vat_rows: Vec<VatRow>,
    /// Net total.
    pub net: Decimal,
    /// VAT total.
    pub vat: Decimal,
    /// Gross total (to pay; negative on a correction that refunds).
    pub gross: Decimal,
    /// The customer's individual account to pay to.
    pub account: Option<Iban>,
    /// True when volumes are estimated.
    pub estimated: bool,
}

/// VAT per rate: the rate's net sum and VAT on it, half-up (as [`crate::quote`] computes it);
/// with a single rate the stored VAT total is used as is, so a correction's difference shows.
pub fn vat_rows(lines: &[DraftLine], total_vat: Decimal) -> Vec<VatRow> {
    let mut per: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for l in lines {
        *per.entry(l.vat_percent.normalize()).or_default() += l.net;
    }
    let single = per.len() == 1;
    per.into_iter()
        .map(|(rate, net)| {
            let vat = if single {
                total_vat
            } else {
                Money::vat(net, rate).amount()
            };
            VatRow {
                vat_percent: rate,
                net,
                vat,
                gross: net + vat,
            }
        })
        .collect()
}

/// Loads the document of an invoice: the utility as seller, the customer and the contract's
/// premises address as buyer, the lines, and the customer's virtual account.
pub async fn load(conn: &mut PgConnection, invoice_id: i64) -> Result<InvoiceDocument, StoreError> {
    let r = sqlx::query(
        "select i.number, o.number, i.correction_reason, i.issued_on, i.period_from, i.period_to,
                i.due_on, i.net, i.vat, i.gross, i.estimated,
                cu.number, coalesce(cu.company_name, concat_ws(' ', cu.first_name, cu.last_name)),
                cu.nip, c.number,
                a.street, a.building, a.flat, a.postcode, a.city,
                u.name, u.short_name, u.nip, u.street, u.postcode, u.city, va.iban
         from invoice i
         join customer cu on cu.customer_id = i.customer_id
         left join invoice o on o.invoice_id = i.corrects_invoice_id
         left join contract c on c.contract_id = i.contract_id
         left join premises p on p.premises_id = c.premises_id
         left join address a on a.address_id = p.address_id
         left join virtual_account va on va.customer_id = i.customer_id
         cross join (select * from utility order by utility_id limit 1) u
         where i.invoice_id = $1",
    )
    .bind(invoice_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found(format!("invoice {invoice_id} (or the utility)")))?;
    let lines = issue::lines_of(conn, invoice_id).await?;
    let vat: Decimal = r.try_get(8)?;
    let street: Option<String> = r.try_get(15)?;
    let building: Option<String> = r.try_get(16)?;
    let flat: Option<String> = r.try_get(17)?;
    let postcode: Option<String> = r.try_get(18)?;
    let city: Option<String> = r.try_get(19)?;
    let mut buyer_address = Vec::new();
    if let (Some(s), Some(b)) = (street, building) {
        buyer_address.push(match flat {
            Some(f) => format!("{s} {b}/{f}"),
            None => format!("{s} {b}"),
        });
    }
    if let (Some(p), Some(c)) = (postcode, city) {
        buyer_address.push(format!("{p} {c}"));
    }
    let iban: Option<String> = r.try_get(26)?;
    Ok(InvoiceDocument {
        number: r.try_get(0)?,
        corrects: r.try_get(1)?,
        correction_reason: r.try_get(2)?,
        issued_on: r.try_get(3)?,
        period: Period::new(r.try_get(4)?, r.try_get(5)?)?,
        due_on: r.try_get(6)?,
        net: r.try_get(7)?,
        vat,
        gross: r.try_get(9)?,
        estimated: r.try_get(10)?,
        customer_number: r.try_get(11)?,
        buyer: Party {
            name: r.try_get(12)?,
            address: buyer_address,
            nip: r.try_get(13)?,
        },
        contract_number: r.try_get(14)?,
        seller: Party {
            name: r.try_get(20)?,
            address: vec![
                r.try_get(23)?,
                format!(
                    "{} {}",
                    r.try_get::<String, _>(24)?,
                    r.try_get::<String, _>(25)?
                ),
            ],
            nip: r.try_get(22)?,
        },
        seller_short_name: r.try_get(21)?,
        vat_rows: match super::vat::load(conn, invoice_id).await? {
            stored if !stored.is_empty() => stored,
            _ => vat_rows(&lines, vat),
        },
        lines,
        account: iban.map(|s| Iban::parse(&s)).transpose()?,
    })
}
