//! Statement import: parse all-or-nothing, then in one transaction store each incoming line
//! once per bank reference, match it to a customer and post and allocate it; lines nobody
//! matches wait in the unmatched queue for a clerk ([`assign_unmatched`]).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};

use crate::statement::{
    parse_csv, parse_mt940, CsvProfile, Mt940Profile, StatementError, StatementLine,
};

use super::allocation::{post_and_allocate, Allocation};
use super::matching::{as_iban, customer_by_virtual_account, invoice_in_title, MatchedBy};
use super::PaymentError;

/// The file format of a statement and the bank's layout of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementFormat {
    /// MT940 with the bank's `:86:` profile.
    Mt940(Mt940Profile),
    /// A bank CSV export with its column profile.
    Csv(CsvProfile),
}

impl StatementFormat {
    /// The `payment.source` of payments from this format.
    pub fn source(&self) -> &'static str {
        match self {
            StatementFormat::Mt940(_) => "mt940",
            StatementFormat::Csv(_) => "csv",
        }
    }
}

/// One statement line stored as a new payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPayment {
    /// The new `payment` row.
    pub payment_id: i64,
    /// The bank's reference of the line.
    pub bank_reference: String,
    /// Amount received.
    pub amount: Decimal,
    /// Whose payment it is; `None` when it waits for a clerk.
    pub customer_id: Option<i64>,
    /// How it was matched.
    pub matched_by: Option<MatchedBy>,
    /// Where the money went (empty for unmatched payments or customers with nothing open).
    pub allocations: Vec<Allocation>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Incoming (credit) lines in the file.
    pub credits: usize,
    /// Outgoing lines and reversals, never posted as payments.
    pub debits_skipped: usize,
    /// Lines stored as new payments, in file order.
    pub imported: Vec<ImportedPayment>,
    /// Bank references already imported before (from this or the other statement format).
    pub duplicates: Vec<String>,
}

impl ImportReport {
    /// How many of the new payments wait for a clerk.
    pub fn unmatched(&self) -> usize {
        self.imported
            .iter()
            .filter(|p| p.customer_id.is_none())
            .count()
    }
}

/// Imports a statement file: nothing is stored unless the whole file parses and every line
/// posts. Re-importing a file stores nothing new and lists its references as duplicates.
pub async fn import_statement(
    pool: &PgPool,
    bytes: &[u8],
    format: &StatementFormat,
) -> Result<ImportReport, PaymentError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        StatementError::field(
            line,
            "encoding",
            format!("not UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    let (credits, debits) = match format {
        StatementFormat::Mt940(profile) => {
            let statements = parse_mt940(text, profile)?;
            let debits = statements.iter().map(|s| s.debits.len()).sum();
            (
                statements
                    .into_iter()
                    .flat_map(|s| s.credits)
                    .collect::<Vec<_>>(),
                debits,
            )
        }
        StatementFormat::Csv(profile) => {
            let s = parse_csv(text, profile)?;
            (s.credits, s.debits.len())
        }
    };
    let mut report = ImportReport {
        credits: credits.len(),
        debits_skipped: debits,
        ..ImportReport::default()
    };
    let mut tx = pool.begin().await?;
    for line in &credits {
        match import_line(&mut tx, line, format.source()).await? {
            Some(p) => report.imported.push(p),
            None => report.duplicates.push(line.bank_reference.clone()),
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Bank statement sources that describe the same bank entries (an MT940 and a CSV export of
/// one account carry the same references), checked together for duplicates.
const STATEMENT_SOURCES: [&str; 2] = ["mt940", "csv"];

async fn import_line(
    conn: &mut PgConnection,
    line: &StatementLine,
    source: &str,
) -> Result<Option<ImportedPayment>, PaymentError> {
    let field = format!("line {}", line.bank_reference);
    if line.currency != "PLN" {
        return Err(PaymentError::invalid(
            field,
            format!(
                "currency {:?}: only PLN payments are accepted",
                line.currency
            ),
        ));
    }
    if line.bank_reference.is_empty() {
        return Err(PaymentError::invalid(field, "empty bank reference"));
    }
    // Serialises concurrent imports of the same reference across both statement sources.
    sqlx::query("select pg_advisory_xact_lock(hashtext('payment:' || $1))")
        .bind(&line.bank_reference)
        .execute(&mut *conn)
        .await?;
    let seen: bool = sqlx::query_scalar(
        "select exists (select 1 from payment where bank_reference = $1 and source = any($2))",
    )
    .bind(&line.bank_reference)
    .bind(&STATEMENT_SOURCES[..])
    .fetch_one(&mut *conn)
    .await?;
    if seen {
        return Ok(None);
    }
    let to_account = line.virtual_account.as_deref().map(as_iban);
    let mut customer = None;
    let mut matched_by = None;
    if let Some(iban) = &to_account {
        if let Some(c) = customer_by_virtual_account(&mut *conn, iban).await? {
            customer = Some(c);
            matched_by = Some(MatchedBy::VirtualAccount);
        }
    }
    let named = invoice_in_title(&mut *conn, &line.title, customer).await?;
    if customer.is_none() {
        if let Some((_, owner)) = named {
            customer = Some(owner);
            matched_by = Some(MatchedBy::InvoiceNumber);
        }
    }
    let payment_id: i64 = sqlx::query_scalar(
        "insert into payment (source, bank_reference, amount, currency, booked_on, payer_name,
             payer_account, title, to_account, customer_id, matched_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning payment_id",
    )
    .bind(source)
    .bind(&line.bank_reference)
    .bind(line.amount)
    .bind(&line.currency)
    .bind(line.booked_on)
    .bind(&line.payer_name)
    .bind(&line.payer_account)
    .bind(&line.title)
    .bind(to_account.filter(|a| a.len() == 28))
    .bind(customer)
    .bind(matched_by.map(MatchedBy::as_str))
    .fetch_one(&mut *conn)
    .await?;
    audit_insert(
        &mut *conn,
        &format!("import:{source}"),
        payment_id,
        serde_json::json!({
            "source": source,
            "bank_reference": line.bank_reference,
            "amount": line.amount.to_string(),
            "booked_on": line.booked_on,
            "customer_id": customer,
            "matched_by": matched_by.map(MatchedBy::as_str),
        }),
    )
    .await?;
    let allocations = match customer {
        Some(c) => {
            post_and_allocate(
                conn,
                payment_id,
                c,
                line.amount,
                line.booked_on,
                named.map(|(invoice, _)| invoice),
                &payment_description(&line.bank_reference),
            )
            .await?
        }
        None => Vec::new(),
    };
    Ok(Some(ImportedPayment {
        payment_id,
        bank_reference: line.bank_reference.clone(),
        amount: line.amount,
        customer_id: customer,
        matched_by,
        allocations,
    }))
}

/// Records a new payment in the audit log (who, when, the row as stored).
pub(crate) async fn audit_insert(
    conn: &mut PgConnection,
    actor: &str,
    payment_id: i64,
    after: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after)
         values ($1, 'insert', 'payment', $2, $3)",
    )
    .bind(actor)
    .bind(payment_id.to_string())
    .bind(after)
    .execute(conn)
    .await
    .map(|_| ())
}

fn payment_description(reference: &str) -> String {
    format!("Wpłata {reference}")
}

/// A payment waiting for a clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedPayment {
    /// The payment.
    pub payment_id: i64,
    /// Where it came from (`mt940`, `csv`, …).
    pub source: String,
    /// The bank's reference.
    pub bank_reference: String,
    /// Amount received.
    pub amount: Decimal,
    /// Booking date.
    pub booked_on: NaiveDate,
    /// The payer's name, if the bank gave it.
    pub payer_name: Option<String>,
    /// The payer's account, if the bank gave it.
    pub payer_account: Option<String>,
    /// Transfer title.
    pub title: Option<String>,
    /// The credited account, if the bank gave it.
    pub to_account: Option<String>,
}

/// The unmatched queue, oldest booking first.
pub async fn list_unmatched(pool: &PgPool) -> Result<Vec<UnmatchedPayment>, PaymentError> {
    let rows = sqlx::query(
        "select payment_id, source, bank_reference, amount, booked_on, payer_name, payer_account,
             title, to_account
         from payment where customer_id is null order by booked_on, payment_id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UnmatchedPayment {
                payment_id: r.try_get(0)?,
                source: r.try_get(1)?,
                bank_reference: r.try_get(2)?,
                amount: r.try_get(3)?,
                booked_on: r.try_get(4)?,
                payer_name: r.try_get(5)?,
                payer_account: r.try_get(6)?,
                title: r.try_get(7)?,
                to_account: r.try_get(8)?,
            })
        })
        .collect()
}

/// A clerk assigns an unmatched payment to a customer: it is posted and allocated (to an
/// invoice of that customer named in the title first), and the change is audited.
pub async fn assign_unmatched(
    pool: &PgPool,
    payment_id: i64,
    customer_id: i64,
    clerk: &str,
) -> Result<Vec<Allocation>, PaymentError> {
    if clerk.trim().is_empty() {
        return Err(PaymentError::invalid("clerk", "must name who assigns"));
    }
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "select customer_id, amount, booked_on, coalesce(title, ''), bank_reference
         from payment where payment_id = $1 for update",
    )
    .bind(payment_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| PaymentError::NotFound {
        what: format!("payment {payment_id}"),
    })?;
    let current: Option<i64> = row.try_get(0)?;
    if let Some(c) = current {
        return Err(PaymentError::invalid(
            "payment_id",
            format!("payment {payment_id} is already assigned to customer {c}"),
        ));
    }
    let amount: Decimal = row.try_get(1)?;
    let booked_on: NaiveDate = row.try_get(2)?;
    let title: String = row.try_get(3)?;
    let reference: String = row.try_get(4)?;
    let named = invoice_in_title(&mut tx, &title, Some(customer_id)).await?;
    let allocations = post_and_allocate(
        &mut tx,
        payment_id,
        customer_id,
        amount,
        booked_on,
        named.map(|(invoice, _)| invoice),
        &payment_description(&reference),
    )
    .await?;
    sqlx::query("update payment set customer_id = $2, matched_by = 'clerk' where payment_id = $1")
        .bind(payment_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
    let after = serde_json::json!({
        "customer_id": customer_id,
        "matched_by": MatchedBy::Clerk.as_str(),
        "allocations": allocations.iter().map(|a| serde_json::json!({
            "invoice_id": a.invoice_id, "amount": a.amount.to_string()
        })).collect::<Vec<_>>(),
    });
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, before, after)
         values ($1, 'update', 'payment', $2, $3, $4)",
    )
    .bind(clerk)
    .bind(payment_id.to_string())
    .bind(serde_json::json!({"customer_id": null, "matched_by": null}))
    .bind(after)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(allocations)
}
