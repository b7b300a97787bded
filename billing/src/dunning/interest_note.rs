//! Interest notes (nota odsetkowa): statutory interest on invoices paid late, or still unpaid
//! on the note's day, per debtor kind (households: odsetki ustawowe; businesses, public bodies
//! and housing associations: the commercial-transaction rate plus the 40/70/100 EUR
//! compensation at the NBP mid rate of the last working day of the month before the one in
//! which the debt fell due). A due date on a day off moves to the next working day (art. 115
//! KC). One note per invoice, written with its `interest` ledger posting in the same
//! transaction.

use super::levels::DunningConfig;
use super::open::late_amounts;
use super::{
    plus_days, InterestPart, IssuedNotice, NoteSegment, NoticeDetails, NoticeItem, NoticeKind,
    INTEREST_NOTE_SERIES,
};
use crate::holidays::{effective_due, last_working_day_of_previous_month};
use crate::interest::{compensation_eur, interest, Debtor, InterestInput, StatutoryRates};
use crate::invoice::numbering;
use crate::ledger::{self, NewPosting, PostingKind};
use crate::store_error::StoreError;
use chrono::NaiveDate;
use ewoda_common::Money;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};

/// How far back from the wanted day an NBP table may be (a day NBP published no table).
const EUR_RATE_LOOKBACK_DAYS: u64 = 7;

/// What happened to one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteOutcome {
    /// A note was issued.
    Issued(IssuedNotice),
    /// The invoice already has a note (its number).
    AlreadyIssued(String),
    /// Nothing was paid late and nothing is overdue on the day.
    NotLate,
    /// Interest + compensation below `min_interest` (the amount).
    BelowMinimum(Decimal),
}

/// What a batch of interest notes did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterestNoteReport {
    /// Invoices looked at.
    pub checked: usize,
    /// Notes issued.
    pub issued: Vec<IssuedNotice>,
    /// Invoices whose interest is below the minimum.
    pub below_minimum: usize,
    /// Invoices that failed, with the error (their transaction rolled back).
    pub failed: Vec<(i64, String)>,
}

/// Issues notes dated `on` for every invoice without a note that was paid late by `on` (and,
/// with `include_unpaid`, every invoice still unpaid past due on `on`); one transaction each.
pub async fn issue_interest_notes(
    pool: &PgPool,
    rates: &StatutoryRates,
    cfg: &DunningConfig,
    on: NaiveDate,
    include_unpaid: bool,
) -> Result<InterestNoteReport, StoreError> {
    // Unpaid: the ledger's corrected amount above what was paid on it by the note's day.
    let sql = format!(
        "select i.invoice_id from invoice i
         where i.gross > 0 and i.due_on < $1 and {debt}
           and not exists (select 1 from dunning_notice n where n.kind = 'interest_note'
                           and n.details->>'invoice_id' = i.invoice_id::text)
           and (exists (select 1 from payment_allocation pa join payment p using (payment_id)
                        where pa.invoice_id = i.invoice_id
                          and p.booked_on > i.due_on and p.booked_on <= $1)
                or ($2 and {corrected} > coalesce((select sum(pa.amount)
                        from payment_allocation pa join payment p using (payment_id)
                        where pa.invoice_id = i.invoice_id and p.booked_on <= $1), 0)))
         order by i.invoice_id",
        debt = ledger::IS_DEBT_SQL,
        corrected = ledger::corrected_gross_sql("$1"),
    );
    let ids: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(on)
        .bind(include_unpaid)
        .fetch_all(pool)
        .await?;
    let mut report = InterestNoteReport {
        checked: ids.len(),
        ..InterestNoteReport::default()
    };
    for invoice_id in ids {
        let mut tx = pool.begin().await?;
        match interest_note(&mut tx, invoice_id, rates, cfg, on).await {
            Ok(NoteOutcome::Issued(n)) => {
                tx.commit().await?;
                report.issued.push(n);
            }
            Ok(NoteOutcome::BelowMinimum(_)) => report.below_minimum += 1,
            Ok(NoteOutcome::AlreadyIssued(_) | NoteOutcome::NotLate) => {}
            Err(e) => {
                tracing::warn!(invoice_id, error = %e, "interest note failed");
                report.failed.push((invoice_id, e.to_string()));
            }
        }
    }
    Ok(report)
}

/// The interest note of one invoice dated `on`, in the caller's transaction: interest on each
/// payment booked after the due day (through its booking day) and on what is unpaid on `on`
/// (through `on`); writes the notice and its `interest` posting. Idempotent per invoice.
pub async fn interest_note(
    conn: &mut PgConnection,
    invoice_id: i64,
    rates: &StatutoryRates,
    cfg: &DunningConfig,
    on: NaiveDate,
) -> Result<NoteOutcome, StoreError> {
    // Locking the invoice serialises concurrent notes for it.
    let head = sqlx::query(
        "select i.customer_id, i.number, i.due_on, i.gross, c.kind
         from invoice i join customer c using (customer_id)
         where i.invoice_id = $1 for update of i",
    )
    .bind(invoice_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found(format!("invoice {invoice_id}")))?;
    let customer_id: i64 = head.try_get("customer_id")?;
    let number: String = head.try_get("number")?;
    let due_on: NaiveDate = head.try_get("due_on")?;
    let kind: String = head.try_get("kind")?;
    if let Some(existing) = sqlx::query_scalar::<_, String>(
        "select number from dunning_notice
         where kind = 'interest_note' and details->>'invoice_id' = $1::bigint::text",
    )
    .bind(invoice_id)
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(NoteOutcome::AlreadyIssued(existing));
    }
    let debtor = if kind == "household" {
        Debtor::Household
    } else {
        Debtor::Business
    };
    let payments: Vec<(Decimal, NaiveDate)> = sqlx::query(
        "select pa.amount, p.booked_on from payment_allocation pa join payment p using (payment_id)
         where pa.invoice_id = $1 and p.booked_on <= $2 order by p.booked_on, p.payment_id",
    )
    .bind(invoice_id)
    .bind(on)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Ok((r.try_get("amount")?, r.try_get("booked_on")?)))
    .collect::<Result<_, sqlx::Error>>()?;

    // Interest runs on what was owed: the amount after the corrections that lowered it.
    let gross = ledger::corrected_gross(conn, invoice_id, on).await?;
    let late = late_amounts(gross, &payments, effective_due(due_on), on);
    let paid: Decimal = payments.iter().map(|(a, _)| *a).sum();
    let unpaid = gross - paid;
    if late.is_empty() {
        return Ok(NoteOutcome::NotLate);
    }
    let mut parts = Vec::with_capacity(late.len());
    for (amount, paid_on, through) in late {
        let r = interest(
            &InterestInput {
                debtor,
                amount,
                due: due_on,
                paid: through,
            },
            rates,
        )?;
        parts.push(InterestPart {
            amount,
            paid_on,
            through,
            days: r.days,
            interest: r.interest,
            segments: r
                .segments
                .into_iter()
                .map(|s| NoteSegment {
                    from: s.from,
                    to: s.to,
                    days: s.days,
                    rate_percent: s.rate_percent,
                })
                .collect(),
        });
    }
    let principal: Decimal = parts.iter().map(|p| p.amount).sum();
    let total_interest: Decimal = parts.iter().map(|p| p.interest).sum();
    let eur = compensation_eur(debtor, gross);
    let (compensation_pln, eur_rate) = match eur {
        Some(eur) => {
            let (day, mid) = eur_mid_rate(conn, effective_due(due_on)).await?;
            (
                Some(Money::round(Decimal::from(eur) * mid).amount()),
                Some((day, mid)),
            )
        }
        None => (None, None),
    };
    let total = total_interest + compensation_pln.unwrap_or_default();
    if total < cfg.min_interest || total.is_zero() {
        return Ok(NoteOutcome::BelowMinimum(total));
    }
    let days_late = parts.iter().map(|p| p.days).max().unwrap_or(0);
    let details = NoticeDetails {
        items: vec![NoticeItem {
            invoice_id,
            number: number.clone(),
            due_on,
            gross,
            open: unpaid.max(Decimal::ZERO),
            days_late,
            level: 0,
            parts,
        }],
        invoice_id: Some(invoice_id),
        level_kind: None,
        fee: Decimal::ZERO,
        credit: Decimal::ZERO,
        pay_by: plus_days(on, cfg.payment_days),
        eur_rate,
    };
    let note_number = numbering::next(conn, INTEREST_NOTE_SERIES, on)
        .await?
        .to_string();
    let json = serde_json::to_value(&details)
        .map_err(|e| StoreError::invalid("details", e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "insert into dunning_notice (number, customer_id, kind, level, issued_on, principal,
             interest, compensation_eur, compensation_pln, details)
         values ($1, $2, 'interest_note', 1, $3, $4, $5, $6, $7, $8) returning dunning_notice_id",
    )
    .bind(&note_number)
    .bind(customer_id)
    .bind(on)
    .bind(principal)
    .bind(total_interest)
    .bind(eur.map(Decimal::from))
    .bind(compensation_pln)
    .bind(json)
    .fetch_one(&mut *conn)
    .await?;
    let mut posting = NewPosting::new(
        customer_id,
        on,
        PostingKind::Interest,
        total,
        format!("Nota odsetkowa {note_number} do faktury {number}"),
    );
    posting.invoice_id = Some(invoice_id);
    posting.dunning_notice_id = Some(id);
    ledger::post(conn, &posting).await?;
    Ok(NoteOutcome::Issued(IssuedNotice {
        dunning_notice_id: id,
        number: note_number,
        customer_id,
        kind: NoticeKind::InterestNote,
        level: 1,
        principal,
        interest: total_interest,
        compensation_pln,
        total,
    }))
}

/// The NBP mid rate of EUR of the last working day of the month before the one in which the
/// debt fell due (art. 10 of the late-payment act); a table at most a week older when NBP
/// published none that day.
async fn eur_mid_rate(
    conn: &mut PgConnection,
    due: NaiveDate,
) -> Result<(NaiveDate, Decimal), StoreError> {
    let before = last_working_day_of_previous_month(due);
    let earliest = before
        .checked_sub_days(chrono::Days::new(EUR_RATE_LOOKBACK_DAYS))
        .unwrap_or(NaiveDate::MIN);
    let row = sqlx::query(
        "select day, mid from exchange_rate
         where currency = 'EUR' and day <= $1 and day > $2 order by day desc limit 1",
    )
    .bind(before)
    .bind(earliest)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        StoreError::not_found(format!(
            "exchange_rate EUR (NBP mid) for {before} or the {} days before",
            EUR_RATE_LOOKBACK_DAYS - 1
        ))
    })?;
    Ok((row.try_get("day")?, row.try_get("mid")?))
}
