//! Issuing an approved run: posts exactly the proposals its preview stored, per batch of
//! customers in one transaction each. Inside each transaction a per-period advisory lock
//! serialises every run of the month (an area run inside an all-areas run included), and a
//! re-check across all runs skips contracts another run invoiced meanwhile; the unique index
//! `invoice_once_per_contract_period` backs that up. Proposals whose input changed since the
//! preview are refused and need a new preview.

use super::price::plan;
use super::store::{self, RunInfo};
use super::{chain, Proposal, RunOptions, RunSummary, SkippedContract};
use crate::invoice::issue::{issue_many, InvoiceDraft, IssuedInvoice};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::{Datelike, NaiveDate};
use sqlx::{PgConnection, PgPool, Row};
use std::collections::HashMap;
use std::time::Instant;

/// Class of the advisory locks billing runs take (ASCII "bill").
const PERIOD_LOCK_CLASS: i32 = 0x6269_6c6c;

/// Waits for, and holds to the end of the transaction, the lock of the run month: two runs
/// of the same month issue one batch at a time, so the re-check after it sees the other's.
async fn lock_period(conn: &mut PgConnection, month: Period) -> Result<(), StoreError> {
    let key = month.from().year() * 100 + i32::try_from(month.from().month()).unwrap_or(0);
    sqlx::query("select pg_advisory_xact_lock($1, $2)")
        .bind(PERIOD_LOCK_CLASS)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Contracts of `batch` that already have a sales invoice (of any run) for an overlapping
/// period: contract → why it is skipped.
async fn invoiced_now(
    conn: &mut PgConnection,
    batch: &[Proposal],
) -> Result<HashMap<i64, String>, StoreError> {
    let rows = sqlx::query(
        "select x.contract_id, i.number, i.billing_run_id
         from unnest($1::bigint[], $2::date[], $3::date[]) as x(contract_id, period_from, period_to)
         join invoice i on i.contract_id = x.contract_id and i.kind = 'VAT'
                       and i.period_from <= x.period_to and i.period_to >= x.period_from",
    )
    .bind(batch.iter().map(|p| p.contract_id).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.period.from()).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.period.to()).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let number: String = r.try_get("number")?;
        let run: Option<i64> = r.try_get("billing_run_id")?;
        out.insert(
            r.try_get("contract_id")?,
            match run {
                Some(run) => format!("already invoiced: {number} (run {run})"),
                None => format!("already invoiced: {number}"),
            },
        );
    }
    Ok(out)
}

fn skipped(p: &Proposal, reason: String) -> SkippedContract {
    SkippedContract {
        contract_id: p.contract_id,
        contract_number: p.contract_number.clone(),
        customer_id: p.customer_id,
        reason,
    }
}

/// What one batch did.
#[derive(Default)]
struct BatchOutcome {
    issued: Vec<IssuedInvoice>,
    lines: usize,
    skipped: Vec<SkippedContract>,
    refused: Vec<SkippedContract>,
}

/// Issues one batch in one transaction: lock, re-check, compare fingerprints, post.
async fn issue_batch(
    pool: &PgPool,
    info: &RunInfo,
    run_id: i64,
    batch: &[Proposal],
    now: &HashMap<i64, &str>,
    days: (NaiveDate, NaiveDate),
) -> Result<BatchOutcome, StoreError> {
    let mut out = BatchOutcome::default();
    let mut tx = pool.begin().await?;
    lock_period(&mut tx, info.month).await?;
    let invoiced = invoiced_now(&mut tx, batch).await?;
    let mut fresh: Vec<&Proposal> = Vec::with_capacity(batch.len());
    for p in batch {
        if let Some(why) = invoiced.get(&p.contract_id) {
            out.skipped.push(skipped(p, why.clone()));
        } else if now.get(&p.contract_id) != Some(&p.fingerprint.as_str()) {
            let why = if now.contains_key(&p.contract_id) {
                "input changed since the preview (reads, tariff or contract): preview again"
            } else {
                "no longer proposed (now an exception or not due): preview again"
            };
            out.refused.push(skipped(p, why.to_string()));
        } else {
            fresh.push(p);
        }
    }
    let drafts: Vec<InvoiceDraft> = fresh
        .iter()
        .map(|p| InvoiceDraft {
            billing_run_id: Some(run_id),
            ..InvoiceDraft::from_quote(
                p.customer_id,
                Some(p.contract_id),
                p.period,
                &p.quote,
                days.0,
                days.1,
            )
        })
        .collect();
    out.issued = issue_many(&mut tx, &drafts).await?;
    out.lines = drafts.iter().map(|d| d.lines.len()).sum();
    let reads: Vec<(i64, &[crate::readings::MeterReads])> = out
        .issued
        .iter()
        .zip(&fresh)
        .map(|(i, p)| (i.invoice_id, p.reads.as_slice()))
        .collect();
    chain::save(&mut tx, &reads).await?;
    let posted: Vec<(i64, i64)> = fresh
        .iter()
        .zip(&out.issued)
        .map(|(p, i)| (p.contract_id, i.invoice_id))
        .collect();
    store::mark_issued(&mut tx, run_id, &posted).await?;
    let refused: Vec<(i64, &str)> = out
        .refused
        .iter()
        .map(|s| (s.contract_id, s.reason.as_str()))
        .collect();
    store::mark_refused(&mut tx, run_id, &refused).await?;
    tx.commit().await?;
    Ok(out)
}

/// Checks that the run may be issued with these options.
fn check_run(info: &RunInfo, run_id: i64, opts: &RunOptions) -> Result<(), StoreError> {
    if info.state == "preview" {
        return Err(StoreError::invalid(
            "billing_run",
            format!("run {run_id} is not approved"),
        ));
    }
    if info.month != opts.month_period() || info.area != opts.area {
        return Err(StoreError::invalid(
            "billing_run",
            format!(
                "run {run_id} is for {} – {} area {:?}, not the options' month and area",
                info.month.from(),
                info.month.to(),
                info.area
            ),
        ));
    }
    Ok(())
}

/// Issues an approved run: compares each stored proposal with the data now (fingerprints),
/// then per batch of customers (one transaction each) issues invoices with their lines, reads
/// and ledger charges. `progress(done, total)` is called after each batch. Re-issuing an
/// issued run issues nothing new.
pub async fn issue(
    pool: &PgPool,
    run_id: i64,
    opts: &RunOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<RunSummary, StoreError> {
    let mut conn = pool.acquire().await?;
    let info = store::run_info(&mut conn, run_id).await?;
    check_run(&info, run_id, opts)?;
    let stored = store::pending(&mut conn, run_id).await?;
    let mut plan = plan(&mut conn, opts).await?;
    drop(conn);
    let now: HashMap<i64, &str> = plan
        .proposals
        .iter()
        .map(|p| (p.contract_id, p.fingerprint.as_str()))
        .collect();
    let t0 = Instant::now();
    let due_on = opts.due_on();
    let total = stored.len();
    let mut all = BatchOutcome::default();
    let mut start = 0;
    let mut batches = 0u32;
    progress(0, total);
    while start < total {
        // A batch ends at a customer boundary so a customer's invoices share a transaction.
        let mut end = (start + opts.batch_customers.max(1)).min(total);
        while end < total
            && stored.get(end).map(|d| d.customer_id) == stored.get(end - 1).map(|d| d.customer_id)
        {
            end += 1;
        }
        let batch = stored.get(start..end).unwrap_or_default();
        let b = issue_batch(pool, &info, run_id, batch, &now, (opts.issued_on, due_on)).await?;
        all.issued.extend(b.issued);
        all.lines += b.lines;
        all.skipped.extend(b.skipped);
        all.refused.extend(b.refused);
        start = end;
        batches += 1;
        // The tables start empty in a first run; without fresh statistics the planner keeps
        // plans (foreign-key checks, the lookups above) made for empty tables, which turn into
        // sequential scans as they grow. Refreshing at 1, 2, 4, 8, … batches keeps them right.
        if batches.is_power_of_two() {
            sqlx::query("analyze invoice, invoice_line, ledger_posting, invoice_read")
                .execute(pool)
                .await?;
        }
        progress(start, total);
    }
    drop(now);
    sqlx::query("update billing_run set state = 'issued', issued_at = coalesce(issued_at, now()) where billing_run_id = $1")
        .bind(run_id)
        .execute(pool)
        .await?;
    plan.timings.issue = t0.elapsed();
    Ok(RunSummary {
        run_id,
        issued: all.issued.len(),
        lines: all.lines,
        gross: all.issued.iter().map(|i| i.gross).sum(),
        numbers: all
            .issued
            .first()
            .zip(all.issued.last())
            .map(|(a, b)| (a.number.clone(), b.number.clone())),
        skipped: all.skipped,
        refused: all.refused,
        plan,
    })
}
