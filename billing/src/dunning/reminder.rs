//! The dunning run: for every customer with overdue open invoices, a reminder at the next level
//! each invoice has reached (one numbered notice per customer, in one transaction per customer).
//! Re-running on the same day issues nothing new: an invoice moves up only when it qualifies
//! for a higher level and its previous reminder is `min_days_between` days old. Amounts are
//! what is open after corrections and partial payments ([`super::open`]).

use super::levels::DunningConfig;
use super::open::open_debts;
use super::{plus_days, IssuedNotice, NoticeDetails, NoticeItem, NoticeKind, REMINDER_SERIES};
use crate::invoice::numbering;
use crate::ledger;
use crate::store_error::StoreError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::HashMap;

/// What a dunning run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DunningReport {
    /// Customers with overdue open invoices.
    pub customers_checked: usize,
    /// Reminders issued, in customer order.
    pub issued: Vec<IssuedNotice>,
    /// Customers whose overdue debt (or balance) is below `min_amount`.
    pub below_minimum: usize,
    /// Customers whose invoices have all had their due reminder already.
    pub up_to_date: usize,
    /// Customers that failed, with the error (their transaction rolled back).
    pub failed: Vec<(i64, String)>,
}

enum Outcome {
    Issued(IssuedNotice),
    BelowMinimum,
    UpToDate,
}

/// Runs dunning for `today`: see the module documentation.
pub async fn run_dunning(
    pool: &PgPool,
    cfg: &DunningConfig,
    today: NaiveDate,
) -> Result<DunningReport, StoreError> {
    cfg.validate()?;
    let first = cfg.levels.first().map_or(0, |l| l.days_overdue);
    let cutoff = today
        .checked_sub_days(chrono::Days::new(u64::from(first)))
        .ok_or_else(|| StoreError::invalid("today", format!("{today} is out of range")))?;
    // Candidates by the ledger's open amount (after lowering corrections issued by today).
    let sql = format!(
        "select i.customer_id from invoice i
         where i.due_on < $1 and {} and {} > {}
         group by i.customer_id order by i.customer_id",
        ledger::IS_DEBT_SQL,
        ledger::corrected_gross_sql("$2"),
        ledger::ALLOCATED_SQL,
    );
    let customers: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(cutoff)
        .bind(today)
        .fetch_all(pool)
        .await?;
    let mut report = DunningReport {
        customers_checked: customers.len(),
        ..DunningReport::default()
    };
    for customer_id in customers {
        let mut tx = pool.begin().await?;
        match remind_customer(&mut tx, cfg, today, customer_id).await {
            Ok(Outcome::Issued(n)) => {
                tx.commit().await?;
                report.issued.push(n);
            }
            Ok(Outcome::BelowMinimum) => report.below_minimum += 1,
            Ok(Outcome::UpToDate) => report.up_to_date += 1,
            Err(e) => {
                tracing::warn!(customer_id, error = %e, "dunning failed");
                report.failed.push((customer_id, e.to_string()));
            }
        }
    }
    Ok(report)
}

async fn remind_customer(
    conn: &mut PgConnection,
    cfg: &DunningConfig,
    today: NaiveDate,
    customer_id: i64,
) -> Result<Outcome, StoreError> {
    // The row lock serialises concurrent runs for one customer, so a level is sent once.
    sqlx::query("select 1 from customer where customer_id = $1 for update")
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("customer {customer_id}")))?;
    let sent: HashMap<i64, (u16, NaiveDate)> = sqlx::query(
        "select (it->>'invoice_id')::bigint as invoice_id, max((it->>'level')::int) as level,
                max(n.issued_on) as last_sent
         from dunning_notice n, jsonb_array_elements(n.details->'items') it
         where n.customer_id = $1 and n.kind = 'reminder'
         group by 1",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| -> Result<(i64, (u16, NaiveDate)), StoreError> {
        let level: i32 = r.try_get("level")?;
        Ok((
            r.try_get("invoice_id")?,
            (u16::try_from(level).unwrap_or(0), r.try_get("last_sent")?),
        ))
    })
    .collect::<Result<_, _>>()?;

    let mut items = Vec::new();
    let mut top_level = 0u16;
    for it in open_debts(conn, customer_id, today).await? {
        // Art. 115 KC: lateness counts from the next working day when due on a day off.
        let days_late = (today - crate::holidays::effective_due(it.due_on)).num_days();
        let qualified = cfg.qualified_level(days_late);
        if it.open <= Decimal::ZERO || qualified == 0 {
            continue;
        }
        let (prev, last_sent) = sent
            .get(&it.invoice_id)
            .copied()
            .unwrap_or((0, NaiveDate::MIN));
        let rested = (today - last_sent).num_days() >= i64::from(cfg.min_days_between);
        let level = if qualified > prev && (prev == 0 || rested) {
            top_level = top_level.max(prev + 1);
            prev + 1
        } else {
            prev
        };
        items.push(NoticeItem {
            invoice_id: it.invoice_id,
            number: it.number,
            due_on: it.due_on,
            gross: it.corrected,
            open: it.open,
            days_late,
            level,
            parts: Vec::new(),
        });
    }
    if top_level == 0 {
        return Ok(Outcome::UpToDate);
    }
    // A credit elsewhere on the account (a correction of a paid invoice, an overpayment) is
    // set against the items: never demand more than the customer owes in all.
    let overdue: Decimal = items.iter().map(|i| i.open).sum();
    let balance = ledger::balance(conn, customer_id).await?;
    let principal = overdue.min(balance);
    if principal < cfg.min_amount {
        return Ok(Outcome::BelowMinimum);
    }
    let level = cfg
        .level(top_level)
        .ok_or_else(|| StoreError::invalid("levels", format!("no level {top_level}")))?;
    let details = NoticeDetails {
        items,
        invoice_id: None,
        level_kind: Some(level.kind),
        fee: level.fee,
        credit: overdue - principal,
        pay_by: plus_days(today, cfg.payment_days),
        eur_rate: None,
    };
    let number = numbering::next(conn, REMINDER_SERIES, today)
        .await?
        .to_string();
    let json = serde_json::to_value(&details)
        .map_err(|e| StoreError::invalid("details", e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "insert into dunning_notice (number, customer_id, kind, level, issued_on, principal, details)
         values ($1, $2, 'reminder', $3, $4, $5, $6) returning dunning_notice_id",
    )
    .bind(&number)
    .bind(customer_id)
    .bind(i16::try_from(top_level).unwrap_or(i16::MAX))
    .bind(today)
    .bind(principal)
    .bind(json)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Outcome::Issued(IssuedNotice {
        dunning_notice_id: id,
        number,
        customer_id,
        kind: NoticeKind::Reminder,
        level: top_level,
        principal,
        interest: Decimal::ZERO,
        compensation_pln: None,
        total: principal + level.fee,
    }))
}
