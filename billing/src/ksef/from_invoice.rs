//! An issued invoice (or a KOR with its original) from the database as a [`KsefInvoice`]:
//! the utility as seller, the customer as buyer (NIP for businesses, none for persons), the
//! lines, the VAT summary as stored, the due day and the customer's individual account.

use super::model::{
    Address, BankAccount, Buyer, BuyerId, CorrectedInvoice, Correction, CorrectionEffect,
    InvoiceKind, InvoiceLine, KsefInvoice, Payment, PaymentForm, SaleDate, Seller, VatRate,
    VatSummary,
};
use super::{invoice_xml, KsefError};
use crate::invoice::document::{self, Party};
use crate::store_error::StoreError;
use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};

/// Why an invoice could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum KsefExportError {
    /// Loading it failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// It breaks an FA(3) rule.
    #[error("{0}")]
    Ksef(#[from] KsefError),
}

/// The invoice `invoice_id` as a KSeF invoice created now.
pub async fn ksef_invoice(
    conn: &mut PgConnection,
    invoice_id: i64,
) -> Result<KsefInvoice, StoreError> {
    ksef_invoice_at(conn, invoice_id, Utc::now().trunc_subsecs(0)).await
}

/// The invoice `invoice_id` as a KSeF invoice with `created_at` as DataWytworzeniaFa.
pub async fn ksef_invoice_at(
    conn: &mut PgConnection,
    invoice_id: i64,
    created_at: DateTime<Utc>,
) -> Result<KsefInvoice, StoreError> {
    let doc = document::load(conn, invoice_id).await?;
    let r = sqlx::query(
        "select c.kind, o.issued_on, o.number, o.ksef_number, u.bank_name
         from invoice i
         join customer c using (customer_id)
         left join invoice o on o.invoice_id = i.corrects_invoice_id
         cross join (select * from utility order by utility_id limit 1) u
         where i.invoice_id = $1",
    )
    .bind(invoice_id)
    .fetch_one(&mut *conn)
    .await?;
    let customer_kind: String = r.try_get(0)?;
    let kind = match (r.try_get(1)?, r.try_get::<Option<String>, _>(2)?) {
        (Some(issue_date), Some(number)) => InvoiceKind::Correction(Correction {
            reason: doc.correction_reason.clone(),
            effect: Some(CorrectionEffect::CorrectionDate),
            corrected: vec![CorrectedInvoice {
                issue_date,
                number,
                ksef_number: r.try_get(3)?,
            }],
        }),
        _ => InvoiceKind::Vat,
    };
    let bank_name: String = r.try_get(4)?;
    let seller_nip = doc
        .seller
        .nip
        .clone()
        .ok_or_else(|| StoreError::invalid("utility.nip", "the seller has no NIP"))?;
    let buyer_id = match (customer_kind.as_str(), &doc.buyer.nip) {
        ("household", _) => BuyerId::None,
        (_, Some(nip)) => BuyerId::Nip(nip.clone()),
        (kind, None) => {
            return Err(StoreError::invalid(
                "customer.nip",
                format!("a {kind} buyer of {} has no NIP", doc.number),
            ))
        }
    };
    let lines = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(InvoiceLine {
                name: line_name(&l.item, l.from, l.to),
                unit: l.unit.clone(),
                quantity: l.quantity,
                unit_net_price: l.unit_price,
                net: l.net,
                rate: vat_rate(&format!("lines[{i}].vat_percent"), l.vat_percent)?,
                before_correction: false,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let vat_summary = doc
        .vat_rows
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(VatSummary {
                rate: vat_rate(&format!("vat_rows[{i}].vat_percent"), v.vat_percent)?,
                net: v.net,
                vat: v.vat,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let payment = match &doc.account {
        Some(account) if doc.gross > Decimal::ZERO => Some(Payment {
            due_date: doc.due_on,
            form: PaymentForm::Transfer,
            accounts: vec![BankAccount {
                number: account.as_str().to_string(),
                bank_name: Some(bank_name),
                description: Some(format!(
                    "Indywidualny rachunek klienta {}",
                    doc.customer_number
                )),
            }],
        }),
        _ => None,
    };
    Ok(KsefInvoice {
        created_at,
        system_info: Some("ewoda".into()),
        seller: Seller {
            nip: seller_nip,
            name: doc.seller.name.clone(),
            address: address(&doc.seller).ok_or_else(|| {
                StoreError::invalid("utility.street", "the seller has no address")
            })?,
        },
        buyer: Buyer {
            id: buyer_id,
            name: doc.buyer.name.clone(),
            address: address(&doc.buyer),
            customer_number: Some(doc.customer_number.clone()),
            jst_subunit: false,
            vat_group_member: false,
        },
        third_parties: Vec::new(),
        currency: "PLN".into(),
        issue_date: doc.issued_on,
        number: doc.number.clone(),
        sale: SaleDate::Period {
            from: doc.period.from(),
            to: doc.period.to(),
        },
        vat_summary,
        total: doc.gross,
        split_payment: false,
        exemption: None,
        kind,
        notes: Vec::new(),
        lines,
        payment,
    })
}

/// The id of the invoice numbered `number`.
pub async fn invoice_id(conn: &mut PgConnection, number: &str) -> Result<i64, StoreError> {
    sqlx::query_scalar("select invoice_id from invoice where number = $1")
        .bind(number)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("invoice {number}")))
}

/// The FA(3) XML of the invoice `invoice_id`.
pub async fn ksef_xml(conn: &mut PgConnection, invoice_id: i64) -> Result<String, KsefExportError> {
    Ok(invoice_xml(&ksef_invoice(conn, invoice_id).await?)?)
}

fn address(p: &Party) -> Option<Address> {
    let mut lines = p.address.iter();
    let line1 = lines.next()?.clone();
    Some(Address {
        country: "PL".into(),
        line1,
        line2: lines.next().cloned(),
    })
}

fn line_name(item: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    let name = match item {
        "water" => "Dostawa wody",
        "sewage" => "Odprowadzanie ścieków",
        other => other,
    };
    format!("{name} {from} – {to}")
}

fn vat_rate(field: &str, percent: Decimal) -> Result<VatRate, StoreError> {
    let p = percent.normalize();
    Ok(match p.to_string().as_str() {
        "23" => VatRate::R23,
        "22" => VatRate::R22,
        "8" => VatRate::R8,
        "7" => VatRate::R7,
        "5" => VatRate::R5,
        "4" => VatRate::R4,
        "3" => VatRate::R3,
        "0" => VatRate::ZeroDomestic,
        _ => {
            return Err(StoreError::invalid(
                field,
                format!("VAT {p}% has no FA(3) rate"),
            ))
        }
    })
}
