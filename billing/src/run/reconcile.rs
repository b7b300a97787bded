//! Reconciling estimated invoices: once the real reading arrives, a correction (KOR) brings
//! the estimate to the volume measured from the invoice's stored opening read, and stores the
//! real closing read so the next period opens there.

use super::load::{inputs, load_contracts, Scope};
use super::price::price;
use super::{chain, RunOptions, VolumeBasis};
use crate::invoice::correction;
use crate::invoice::issue::IssuedInvoice;
use crate::readings::MeterReads;
use crate::store_error::StoreError;
use crate::tariff::Period;
use sqlx::{PgConnection, PgPool};

/// True when a later invoice already opened at one of the estimated closing reads: the
/// later invoice's measured volume has then settled the estimate along the chain, and a
/// correction now would bill the difference twice.
async fn chained_past(
    conn: &mut PgConnection,
    period: Period,
    stored: &[MeterReads],
) -> Result<bool, StoreError> {
    let estimated: Vec<&MeterReads> = stored
        .iter()
        .filter(|r| r.closing.source.estimated())
        .collect();
    if estimated.is_empty() {
        return Ok(false);
    }
    Ok(sqlx::query_scalar(
        "select exists (
           select 1 from unnest($1::bigint[], $2::timestamptz[], $3::bigint[]) as x(meter_id, at, ml)
           join invoice_read r on r.meter_id = x.meter_id and r.opening_at = x.at
                              and r.opening_ml = x.ml
           join invoice i using (invoice_id)
           where i.period_to > $4)",
    )
    .bind(estimated.iter().map(|r| r.meter_id).collect::<Vec<_>>())
    .bind(estimated.iter().map(|r| r.closing.at).collect::<Vec<_>>())
    .bind(estimated.iter().map(|r| r.closing.volume_ml).collect::<Vec<_>>())
    .bind(period.to())
    .fetch_one(conn)
    .await?)
}

/// Re-prices an estimated invoice from its stored opening reads and the readings now stored;
/// when the volume is no longer an estimate, issues the KOR that reconciles it (in the
/// caller's transaction), stores the KOR's reads (the real closing read, where the next period
/// then opens) and returns it; otherwise returns None.
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
    let period = cur.period;
    let stored = chain::of_invoice(conn, invoice_id).await?;
    if chained_past(conn, period, &stored).await? {
        return Ok(None);
    }
    let ids = [contract_id];
    let contracts =
        load_contracts(conn, &Scope::Contracts(&ids), period.from(), period.to()).await?;
    let due = contracts.into_iter().map(|c| (c, period)).collect();
    let mut loaded = inputs(conn, due, period, opts).await?;
    // The estimate opened at these reads: reconcile from them, not from reads re-chosen.
    for r in &stored {
        loaded
            .reads
            .entry((r.meter_id, period.from(), period.to()))
            .or_default()
            .opening = Some(r.opening);
    }
    let Some((c, p)) = loaded.contracts.first() else {
        return Ok(None);
    };
    let (proposal, _) = price(c, *p, &loaded, opts);
    let Some(pr) = proposal.filter(|pr| pr.basis == VolumeBasis::Measured) else {
        return Ok(None);
    };
    let due_on = opts.due_on();
    let kor = correction::correct(
        conn,
        invoice_id,
        &pr.quote,
        "Rozliczenie faktury szacunkowej według odczytu rzeczywistego",
        opts.issued_on,
        due_on,
    )
    .await?;
    chain::save(conn, &[(kor.invoice_id, pr.reads.as_slice())]).await?;
    Ok(Some(kor))
}

/// Reconciles every estimated invoice (in the run's area) of a period before the run's month
/// that a correction has not yet settled, each in its own transaction; ones still without
/// readings stay.
pub async fn reconcile_estimates(
    pool: &PgPool,
    opts: &RunOptions,
) -> Result<Vec<IssuedInvoice>, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select i.invoice_id from invoice i
         join contract c using (contract_id)
         join premises p using (premises_id)
         left join district d on d.district_id = p.district_id
         where i.kind = 'VAT' and i.estimated and i.period_to < $1
           and ($2::text is null or d.code = $2)
         order by i.invoice_id",
    )
    .bind(opts.month_period().from())
    .bind(opts.area.as_deref())
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
