//! Returned and reversed credits (MT940 `RC`, "zwrot"): the bank takes back money it credited.
//! Each such entry is stored once; when the credit it reverses is found (by its reference, or
//! by account, payer and amount — exactly one candidate), a `reversal` posting puts the amount
//! back on the customer's account and the credit's allocations are removed, so the invoices
//! it paid are open again. A reversed debit (`RD`) is usually a refund the payee's bank sent
//! back: when the exported refund is found (amount and payee account, exactly one), a negative
//! `reversal` posting gives the customer the credit back. Every reversal, found or not, waits
//! for the clerk's review.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};

use crate::ledger::{self, NewPosting, PostingKind};
use crate::statement::identity::has_reference;
use crate::statement::{EntryMark, StatementLine};

use super::PaymentError;

/// A reversal entry of an imported statement: its line, statement and identity keys.
pub(crate) struct ReversalLine<'a> {
    pub line: &'a StatementLine,
    pub account: String,
    pub number: String,
    pub key: String,
    /// The entry without its statement's number ([`crate::statement::identity`]).
    pub credit: String,
}

/// A reversal stored by an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedReversal {
    /// The `payment_reversal` row.
    pub reversal_id: i64,
    /// `RC` or `RD`.
    pub mark: &'static str,
    /// Amount taken back.
    pub amount: Decimal,
    /// The credit it reverses (RC), when found.
    pub payment_id: Option<i64>,
    /// The refund it returns (RD), when found.
    pub refund_id: Option<i64>,
    /// Whose account got the reversal posting.
    pub customer_id: Option<i64>,
    /// The allocations removed: (invoice, amount) — those invoices are open again.
    pub reopened: Vec<(i64, Decimal)>,
}

/// Stores the reversal entries (each once) and applies those whose credit is found. An entry
/// repeated from another statement of the account (the monthly statement after the daily
/// ones) is that statement's return: counted in `repeated`, not stored again.
pub(crate) async fn apply_reversals(
    conn: &mut PgConnection,
    lines: &[ReversalLine<'_>],
    source: &str,
    repeated: &mut Vec<i64>,
) -> Result<Vec<ImportedReversal>, PaymentError> {
    let mut out = Vec::new();
    // How many stored returns each (statement, entry) has been matched to so far: the n-th
    // identical entry of a statement is the n-th stored one.
    let mut matched: HashMap<(&str, &str, &str), i64> = HashMap::new();
    for r in lines {
        let nth = matched
            .entry((r.account.as_str(), r.number.as_str(), r.credit.as_str()))
            .or_insert(0);
        if let Some(stored) = stored_elsewhere(conn, r, *nth).await? {
            *nth += 1;
            repeated.push(stored);
            continue;
        }
        let Some(reversal_id) = insert_reversal(conn, r, source).await? else {
            continue;
        };
        out.push(apply_one(conn, r, reversal_id).await?);
    }
    Ok(out)
}

fn mark_of(line: &StatementLine) -> &'static str {
    if line.mark == EntryMark::ReversalOfCredit {
        "RC"
    } else {
        "RD"
    }
}

/// The `nth` return with this entry's credit key stored from another statement of the same
/// account, if there is one.
async fn stored_elsewhere(
    conn: &mut PgConnection,
    r: &ReversalLine<'_>,
    nth: i64,
) -> Result<Option<i64>, PaymentError> {
    if r.account.is_empty() {
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "select payment_reversal_id from payment_reversal
         where statement_account = $1 and credit_key = $2 and statement_number is distinct from $3
         order by payment_reversal_id offset $4 limit 1",
    )
    .bind(&r.account)
    .bind(&r.credit)
    .bind(&r.number)
    .bind(nth)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Stores the entry; None when this very entry of this statement is stored already.
async fn insert_reversal(
    conn: &mut PgConnection,
    r: &ReversalLine<'_>,
    source: &str,
) -> Result<Option<i64>, PaymentError> {
    Ok(sqlx::query_scalar(
        "insert into payment_reversal (entry_key, source, mark, bank_reference, amount,
             booked_on, statement_account, payer_name, payer_account, title, credit_key,
             statement_number)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (entry_key) do nothing returning payment_reversal_id",
    )
    .bind(&r.key)
    .bind(source)
    .bind(mark_of(r.line))
    .bind(&r.line.bank_reference)
    .bind(r.line.amount)
    .bind(r.line.booked_on)
    .bind(Some(&r.account).filter(|a| !a.is_empty()))
    .bind(&r.line.payer_name)
    .bind(&r.line.payer_account)
    .bind(&r.line.title)
    .bind(&r.credit)
    .bind(Some(&r.number).filter(|n| !n.is_empty()))
    .fetch_optional(&mut *conn)
    .await?)
}

/// Finds what a stored return takes back and undoes it: the credit (RC) or the refund (RD).
async fn apply_one(
    conn: &mut PgConnection,
    r: &ReversalLine<'_>,
    reversal_id: i64,
) -> Result<ImportedReversal, PaymentError> {
    let mark = mark_of(r.line);
    let mut imported = ImportedReversal {
        reversal_id,
        mark,
        amount: r.line.amount,
        payment_id: None,
        refund_id: None,
        customer_id: None,
        reopened: Vec::new(),
    };
    if mark == "RC" {
        if let Some((payment_id, customer)) = reversed_credit(conn, r.line).await? {
            imported.payment_id = Some(payment_id);
            imported.customer_id = customer;
            imported.reopened = undo_credit(conn, &imported, r.line).await?;
        }
    } else if let Some((refund_id, customer)) = returned_refund(conn, r.line).await? {
        imported.refund_id = Some(refund_id);
        imported.customer_id = customer;
        undo_refund(conn, &imported, r.line).await?;
    }
    Ok(imported)
}

/// The one stored, not yet reversed credit this entry takes back: same amount, booked no
/// later, named by one of the entry's references (or a reference-like word of its title), or
/// else paid to the same account by the same payer. None when there is no or more than one.
async fn reversed_credit(
    conn: &mut PgConnection,
    line: &StatementLine,
) -> Result<Option<(i64, Option<i64>)>, PaymentError> {
    let mut refs: Vec<String> = [&line.bank_reference, &line.customer_reference]
        .into_iter()
        .filter(|r| has_reference(r))
        .cloned()
        .collect();
    refs.extend(
        line.title
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.len() >= 8 && w.bytes().any(|b| b.is_ascii_digit()))
            .map(str::to_string),
    );
    let to_account = line
        .virtual_account
        .as_deref()
        .map(super::matching::as_iban);
    let rows = sqlx::query(
        "select payment_id, customer_id from payment p
         where source in ('mt940', 'csv') and amount = $1 and booked_on <= $2
           and not exists (select 1 from payment_reversal r where r.payment_id = p.payment_id)
           and (bank_reference = any($3)
                or ($4::text is not null and to_account = $4
                    and payer_account is not distinct from $5))
         order by payment_id limit 2",
    )
    .bind(line.amount)
    .bind(line.booked_on)
    .bind(&refs)
    .bind(to_account)
    .bind(&line.payer_account)
    .fetch_all(&mut *conn)
    .await?;
    only_candidate(&rows, "payment_id")
}

/// (id, customer) of the one candidate row; None when there are none or several, since a
/// guess could undo the wrong customer's money.
fn only_candidate(
    rows: &[sqlx::postgres::PgRow],
    id: &str,
) -> Result<Option<(i64, Option<i64>)>, PaymentError> {
    match rows {
        [row] => Ok(Some((row.try_get(id)?, row.try_get("customer_id")?))),
        _ => Ok(None),
    }
}

/// The one exported refund this reversed debit returns: same amount, to the account the money
/// came back from, not returned before. None when there is no or more than one.
async fn returned_refund(
    conn: &mut PgConnection,
    line: &StatementLine,
) -> Result<Option<(i64, Option<i64>)>, PaymentError> {
    let Some(payee) = line.payer_account.as_deref().map(super::matching::as_iban) else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "select refund_id, customer_id from refund f
         where amount = $1 and iban = $2 and exported_at is not null
           and not exists (select 1 from payment_reversal r where r.refund_id = f.refund_id)
         order by refund_id limit 2",
    )
    .bind(line.amount)
    .bind(payee)
    .fetch_all(&mut *conn)
    .await?;
    only_candidate(&rows, "refund_id")
}

/// Gives a returned refund back to the customer as credit (a negative reversal posting) and
/// links the reversal to it.
async fn undo_refund(
    conn: &mut PgConnection,
    reversal: &ImportedReversal,
    line: &StatementLine,
) -> Result<(), PaymentError> {
    let Some(customer) = reversal.customer_id else {
        return Ok(());
    };
    sqlx::query("select 1 from customer where customer_id = $1 for update")
        .bind(customer)
        .execute(&mut *conn)
        .await?;
    let mut posting = NewPosting::new(
        customer,
        line.booked_on,
        PostingKind::Reversal,
        -reversal.amount,
        format!("Zwrot nadpłaty odesłany przez bank {}", line.bank_reference),
    );
    posting.refund_id = reversal.refund_id;
    ledger::post(&mut *conn, &posting).await?;
    sqlx::query(
        "update payment_reversal set refund_id = $2, customer_id = $3
         where payment_reversal_id = $1",
    )
    .bind(reversal.reversal_id)
    .bind(reversal.refund_id)
    .bind(customer)
    .execute(&mut *conn)
    .await?;
    audit_reversal(conn, reversal, serde_json::json!([])).await
}

/// Records an applied reversal in the audit log.
async fn audit_reversal(
    conn: &mut PgConnection,
    reversal: &ImportedReversal,
    undone: serde_json::Value,
) -> Result<(), PaymentError> {
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after)
         values ('import:reversal', 'insert', 'payment_reversal', $1, $2)",
    )
    .bind(reversal.reversal_id.to_string())
    .bind(serde_json::json!({"payment_id": reversal.payment_id,
        "refund_id": reversal.refund_id, "customer_id": reversal.customer_id,
        "amount": reversal.amount.to_string(), "undone": undone}))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Links the reversal to its credit; for a posted credit, posts the reversal and removes the
/// credit's allocations (kept in `undone` and the audit log). Returns the reopened invoices.
async fn undo_credit(
    conn: &mut PgConnection,
    reversal: &ImportedReversal,
    line: &StatementLine,
) -> Result<Vec<(i64, Decimal)>, PaymentError> {
    let payment_id = reversal.payment_id;
    let mut reopened: Vec<(i64, Decimal)> = Vec::new();
    if let Some(customer) = reversal.customer_id {
        sqlx::query("select 1 from customer where customer_id = $1 for update")
            .bind(customer)
            .execute(&mut *conn)
            .await?;
        let mut posting = NewPosting::new(
            customer,
            line.booked_on,
            PostingKind::Reversal,
            reversal.amount,
            format!("Zwrot wpłaty {}", line.bank_reference),
        );
        posting.payment_id = payment_id;
        ledger::post(&mut *conn, &posting).await?;
        for r in sqlx::query(
            "delete from payment_allocation where payment_id = $1
             returning invoice_id, amount",
        )
        .bind(payment_id)
        .fetch_all(&mut *conn)
        .await?
        {
            reopened.push((r.try_get("invoice_id")?, r.try_get("amount")?));
        }
        reopened.sort_unstable();
    }
    let undone = serde_json::json!(reopened
        .iter()
        .map(|(i, a)| serde_json::json!({"invoice_id": i, "amount": a.to_string()}))
        .collect::<Vec<_>>());
    sqlx::query(
        "update payment_reversal set payment_id = $2, customer_id = $3, undone = $4
         where payment_reversal_id = $1",
    )
    .bind(reversal.reversal_id)
    .bind(payment_id)
    .bind(reversal.customer_id)
    .bind(&undone)
    .execute(&mut *conn)
    .await?;
    audit_reversal(conn, reversal, undone).await?;
    Ok(reopened)
}

/// A reversal waiting for the clerk's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalToReview {
    /// The `payment_reversal` row.
    pub reversal_id: i64,
    /// `RC` or `RD`.
    pub mark: String,
    /// The bank's reference.
    pub bank_reference: String,
    /// Amount taken back.
    pub amount: Decimal,
    /// Booking date.
    pub booked_on: chrono::NaiveDate,
    /// Transfer title.
    pub title: Option<String>,
    /// The credit reversed (RC); `None` when it was not found (the clerk must find it).
    pub payment_id: Option<i64>,
    /// The refund returned (RD), when found.
    pub refund_id: Option<i64>,
    /// The customer charged back.
    pub customer_id: Option<i64>,
    /// The invoices reopened (JSON array of invoice_id, amount).
    pub undone: serde_json::Value,
}

/// Reversals the clerk has not reviewed yet, oldest first.
pub async fn list_reversals(pool: &PgPool) -> Result<Vec<ReversalToReview>, PaymentError> {
    let rows = sqlx::query(
        "select payment_reversal_id, mark, bank_reference, amount, booked_on, title, payment_id,
             refund_id, customer_id, undone
         from payment_reversal where reviewed_at is null
         order by booked_on, payment_reversal_id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ReversalToReview {
                reversal_id: r.try_get("payment_reversal_id")?,
                mark: r.try_get("mark")?,
                bank_reference: r.try_get("bank_reference")?,
                amount: r.try_get("amount")?,
                booked_on: r.try_get("booked_on")?,
                title: r.try_get("title")?,
                payment_id: r.try_get("payment_id")?,
                refund_id: r.try_get("refund_id")?,
                customer_id: r.try_get("customer_id")?,
                undone: r.try_get("undone")?,
            })
        })
        .collect()
}

/// The clerk has reviewed a reversal (and placed it by hand where it was not found): it leaves
/// the queue. Audited.
pub async fn review_reversal(
    pool: &PgPool,
    reversal_id: i64,
    clerk: &str,
) -> Result<(), PaymentError> {
    if clerk.trim().is_empty() {
        return Err(PaymentError::invalid("clerk", "must name who reviews"));
    }
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "update payment_reversal set reviewed_at = now(), reviewed_by = $2
         where payment_reversal_id = $1 and reviewed_at is null",
    )
    .bind(reversal_id)
    .bind(clerk)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(PaymentError::invalid(
            "reversal_id",
            format!("reversal {reversal_id} is not waiting for review"),
        ));
    }
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after)
         values ($1, 'update', 'payment_reversal', $2, $3)",
    )
    .bind(clerk)
    .bind(reversal_id.to_string())
    .bind(serde_json::json!({"reviewed": true}))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
