//! Issuing an approved run: posts exactly the proposals its preview stored, per batch of
//! customers in one transaction each. Inside each transaction a per-period advisory lock
//! serialises every run of the month (an area run inside an all-areas run included), and a
//! re-check across all runs skips contracts another run invoiced meanwhile; the unique index
//! `invoice_once_per_contract_period` backs that up. Proposals whose input changed since the
//! preview (their fingerprint differs from the one a fresh plan gives) are refused and need a
//! new preview; the others are posted set-based from their stored rows (`post`).

use super::post::post;
use super::price::plan;
use super::store::{self, RunInfo, Stored};
use super::{RunOptions, RunSummary, SkippedContract, Steps};
use crate::invoice::issue::IssuedInvoice;
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
    batch: &[Stored],
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

fn skipped(p: &Stored, reason: String) -> SkippedContract {
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
    batch: &[Stored],
    now: &HashMap<i64, &str>,
    days: (NaiveDate, NaiveDate),
    steps: &mut Steps,
) -> Result<BatchOutcome, StoreError> {
    let t = Instant::now();
    let mut out = BatchOutcome::default();
    let mut tx = pool.begin().await?;
    lock_period(&mut tx, info.month).await?;
    let invoiced = invoiced_now(&mut tx, batch).await?;
    let mut fresh: Vec<i64> = Vec::with_capacity(batch.len());
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
            fresh.push(p.contract_id);
        }
    }
    let refused: Vec<(i64, &str)> = out
        .refused
        .iter()
        .map(|s| (s.contract_id, s.reason.as_str()))
        .collect();
    store::mark_refused(&mut tx, run_id, &refused).await?;
    steps.add("lock and re-check", t.elapsed());
    let posted = post(&mut tx, run_id, &fresh, days, steps).await?;
    (out.issued, out.lines) = (posted.issued, posted.lines);
    let t = Instant::now();
    tx.commit().await?;
    steps.add("commit", t.elapsed());
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
    let mut steps = Steps::default();
    let t = Instant::now();
    let stored = store::pending(&mut conn, run_id).await?;
    steps.add("read back", t.elapsed());
    let t = Instant::now();
    drop(conn);
    let mut plan = plan(pool, opts).await?;
    steps.add("re-check plan", t.elapsed());
    let now: HashMap<i64, &str> = plan
        .proposals
        .iter()
        .map(|p| (p.contract_id, p.fingerprint.as_str()))
        .collect();
    let t0 = Instant::now();
    // The posting looks the batch's proposals up in the run's rows, just stored.
    sqlx::query("analyze run_proposal").execute(pool).await?;
    steps.add("analyze", t0.elapsed());
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
        let days = (opts.issued_on, due_on);
        let b = issue_batch(pool, &info, run_id, batch, &now, days, &mut steps).await?;
        all.issued.extend(b.issued);
        all.lines += b.lines;
        all.skipped.extend(b.skipped);
        all.refused.extend(b.refused);
        start = end;
        batches += 1;
        // The invoices start empty in a first run; without fresh statistics the planner makes
        // the lookups in them (the re-check above, the reference checks of the posting) for
        // an empty table, which turn into sequential scans as it grows. Refreshing at 1, 2, 4,
        // 8, … batches keeps them right; the posting reads no other table it fills.
        if batches.is_power_of_two() {
            let t = Instant::now();
            sqlx::query("analyze invoice").execute(pool).await?;
            steps.add("analyze", t.elapsed());
        }
        progress(start, total);
    }
    drop(now);
    sqlx::query("update billing_run set state = 'issued', issued_at = coalesce(issued_at, now()) where billing_run_id = $1")
        .bind(run_id)
        .execute(pool)
        .await?;
    plan.timings.issue = t0.elapsed();
    plan.steps = steps;
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
