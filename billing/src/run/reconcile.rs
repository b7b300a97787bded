//! Reconciling estimated invoices: once the real readings arrive, a correction (KOR) brings
//! the estimate to the measured volume.

use super::load::{load, load_contracts, ContractRow, Scope};
use super::price::price;
use super::{RunOptions, VolumeBasis};
use crate::invoice::correction;
use crate::invoice::issue::IssuedInvoice;
use crate::readings::{self, query};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::Days;
use sqlx::{PgConnection, PgPool};

/// Re-prices an estimated invoice from the readings now stored; when the volume is no longer
/// an estimate, issues the KOR that reconciles it (in the caller's transaction) and returns
/// it, otherwise returns None.
pub async fn reconcile_estimate(
    conn: &mut PgConnection,
    invoice_id: i64,
    opts: &RunOptions,
) -> Result<Option<IssuedInvoice>, StoreError> {
    let cur = correction::current(conn, invoice_id).await?;
    if !cur.estimated {
        return Ok(None);
    }
    let Some(contract_id) = cur.contract_id else {
        return Ok(None);
    };
    let ids = [contract_id];
    let period = cur.period;
    let fixed = move |_: &ContractRow| Some(period);
    let mut loaded = load(conn, &Scope::Contracts(&ids), &fixed, period, opts).await?;
    // `load` drops contracts invoiced for the period — this one is; price it all the same.
    if loaded.contracts.is_empty() {
        let again =
            load_contracts(conn, &Scope::Contracts(&ids), period.from(), period.to()).await?;
        loaded.contracts = again.into_iter().map(|c| (c, period)).collect();
        let premises: Vec<i64> = loaded
            .contracts
            .iter()
            .map(|(c, _)| c.premises_id)
            .collect();
        let (s, e) = readings::bounds(period);
        loaded.installations = query::installations(conn, &premises, s, e).await?;
        let wanted: Vec<(i64, Period)> = loaded
            .installations
            .values()
            .flatten()
            .map(|i| (i.meter_id, period))
            .collect();
        loaded.reads = query::bound_reads(conn, &wanted, opts.read_tolerance_days).await?;
    }
    let Some((c, p)) = loaded.contracts.first() else {
        return Ok(None);
    };
    let (proposal, _) = price(c, *p, &loaded, opts);
    match proposal {
        Some(pr) if pr.basis == VolumeBasis::Measured => {
            let due_on = opts
                .issued_on
                .checked_add_days(Days::new(u64::from(opts.due_days)))
                .unwrap_or(opts.issued_on);
            let kor = correction::correct(
                conn,
                invoice_id,
                &pr.quote,
                "Rozliczenie faktury szacunkowej według odczytu rzeczywistego",
                opts.issued_on,
                due_on,
            )
            .await?;
            Ok(Some(kor))
        }
        _ => Ok(None),
    }
}

/// Reconciles every estimated invoice of a period before the run's month that a correction
/// has not yet settled, each in its own transaction; ones still without readings stay.
pub async fn reconcile_estimates(
    pool: &PgPool,
    opts: &RunOptions,
) -> Result<Vec<IssuedInvoice>, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select invoice_id from invoice
         where kind = 'VAT' and estimated and period_to < $1 order by invoice_id",
    )
    .bind(opts.month_period().from())
    .fetch_all(pool)
    .await?;
    let mut done = Vec::new();
    for id in ids {
        let mut tx = pool.begin().await?;
        if let Some(kor) = reconcile_estimate(&mut tx, id, opts).await? {
            done.push(kor);
        }
        tx.commit().await?;
    }
    Ok(done)
}
