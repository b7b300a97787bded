//! Issuing an approved run: per batch of customers, one transaction each, invoices with their
//! lines and ledger charges.

use super::price::plan;
use super::{RunOptions, RunSummary};
use crate::invoice::issue::{issue_many, InvoiceDraft, IssuedInvoice};
use crate::store_error::StoreError;
use chrono::Days;
use sqlx::PgPool;
use std::collections::HashSet;
use std::time::Instant;

/// Issues an approved run: recomputes the plan, then per batch of customers (one transaction
/// each) issues invoices with their lines and ledger charges, skipping contracts that got an
/// invoice in the meantime. `progress(done, total)` is called after each batch. Re-issuing an
/// issued run issues nothing new.
pub async fn issue(
    pool: &PgPool,
    run_id: i64,
    opts: &RunOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<RunSummary, StoreError> {
    let state: Option<String> =
        sqlx::query_scalar("select state from billing_run where billing_run_id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?;
    match state.as_deref() {
        None => return Err(StoreError::not_found(format!("billing run {run_id}"))),
        Some("preview") => {
            return Err(StoreError::invalid(
                "billing_run",
                format!("run {run_id} is not approved"),
            ))
        }
        _ => {}
    }
    let mut conn = pool.acquire().await?;
    let mut plan = plan(&mut conn, opts).await?;
    drop(conn);
    let t0 = Instant::now();
    let due_on = opts
        .issued_on
        .checked_add_days(Days::new(u64::from(opts.due_days)))
        .unwrap_or(opts.issued_on);
    let drafts: Vec<InvoiceDraft> = plan
        .proposals
        .iter()
        .map(|p| InvoiceDraft {
            billing_run_id: Some(run_id),
            ..InvoiceDraft::from_quote(
                p.customer_id,
                Some(p.contract_id),
                p.period,
                &p.quote,
                opts.issued_on,
                due_on,
            )
        })
        .collect();
    let total = drafts.len();
    let mut issued: Vec<IssuedInvoice> = Vec::with_capacity(total);
    let mut lines = 0;
    let mut start = 0;
    let mut batches = 0u32;
    progress(0, total);
    while start < total {
        let batch_started = Instant::now();
        // A batch ends at a customer boundary so a customer's invoices share a transaction.
        let mut end = (start + opts.batch_customers.max(1)).min(total);
        while end < total
            && drafts.get(end).map(|d| d.customer_id) == drafts.get(end - 1).map(|d| d.customer_id)
        {
            end += 1;
        }
        let batch = drafts.get(start..end).unwrap_or_default();
        let mut tx = pool.begin().await?;
        // Serialises concurrent issuers of the same run, then drops what they already issued.
        sqlx::query("select 1 from billing_run where billing_run_id = $1 for update")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<i64> = batch.iter().filter_map(|d| d.contract_id).collect();
        let existing: HashSet<i64> = sqlx::query_scalar(
            "select contract_id from invoice where billing_run_id = $1 and kind = 'VAT'
               and contract_id = any($2)",
        )
        .bind(run_id)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let fresh: Vec<InvoiceDraft> = batch
            .iter()
            .filter(|d| d.contract_id.is_none_or(|c| !existing.contains(&c)))
            .cloned()
            .collect();
        let done = issue_many(&mut tx, &fresh).await?;
        tx.commit().await?;
        lines += fresh.iter().map(|d| d.lines.len()).sum::<usize>();
        issued.extend(done);
        start = end;
        batches += 1;
        // The tables start empty in a first run; without fresh statistics the planner keeps
        // plans (foreign-key checks, the lookups above) made for empty tables, which turn into
        // sequential scans as they grow. Refreshing at 1, 2, 4, 8, … batches keeps them right.
        if batches.is_power_of_two() {
            sqlx::query("analyze invoice, invoice_line, ledger_posting")
                .execute(pool)
                .await?;
        }
        tracing::debug!(
            batch = batches,
            invoices = end,
            ms = batch_started.elapsed().as_millis() as u64,
            "issued batch"
        );
        progress(start, total);
    }
    sqlx::query("update billing_run set state = 'issued', issued_at = coalesce(issued_at, now()) where billing_run_id = $1")
        .bind(run_id)
        .execute(pool)
        .await?;
    plan.timings.issue = t0.elapsed();
    Ok(RunSummary {
        run_id,
        issued: issued.len(),
        lines,
        gross: issued.iter().map(|i| i.gross).sum(),
        numbers: issued
            .first()
            .zip(issued.last())
            .map(|(a, b)| (a.number.clone(), b.number.clone())),
        plan,
    })
}
