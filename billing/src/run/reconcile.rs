//! Reconciling estimated invoices: once the real reading arrives, a correction (KOR) brings
//! the estimate to the volume measured from the invoice's stored opening read, and stores the
//! real closing read so the next period opens there.

use super::load::{inputs, load_contracts, Scope};
use super::price::price;
use super::{chain, Proposal, RunOptions, VolumeBasis};
use crate::invoice::correction;
use crate::invoice::issue::IssuedInvoice;
use crate::readings::{query, MeterReads, StoredRead};
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

/// Prices an invoice's contract and period again from the data now, with the period's reads
/// of some meters fixed (`fixed`: meter → opening and, if known, closing).
async fn reprice(
    conn: &mut PgConnection,
    contract_id: i64,
    period: Period,
    fixed: &[(i64, StoredRead, Option<StoredRead>)],
    opts: &RunOptions,
) -> Result<Option<Proposal>, StoreError> {
    let ids = [contract_id];
    let contracts =
        load_contracts(conn, &Scope::Contracts(&ids), period.from(), period.to()).await?;
    let due = contracts.into_iter().map(|c| (c, period)).collect();
    let mut loaded = inputs(conn, due, period, opts).await?;
    for (meter, opening, closing) in fixed {
        let r = loaded
            .reads
            .entry((*meter, period.from(), period.to()))
            .or_default();
        r.opening = Some(*opening);
        if let Some(closing) = closing {
            (r.before_end, r.after_end) = (Some(*closing), None);
        }
    }
    let Some((c, p)) = loaded.contracts.first() else {
        return Ok(None);
    };
    let (proposal, _) = price(c, *p, &loaded, opts);
    Ok(proposal.filter(|pr| pr.basis == VolumeBasis::Measured))
}

/// Issues the KOR that brings `invoice_id` to `pr` and stores the reads it now rests on.
async fn post(
    conn: &mut PgConnection,
    invoice_id: i64,
    pr: &Proposal,
    reason: &str,
    opts: &RunOptions,
) -> Result<IssuedInvoice, StoreError> {
    let kor = correction::correct(
        conn,
        invoice_id,
        &pr.quote,
        reason,
        opts.issued_on,
        opts.due_on(),
    )
    .await?;
    chain::save(conn, &[(kor.invoice_id, pr.reads.as_slice())]).await?;
    Ok(kor)
}

/// Re-prices an estimated invoice from its stored opening reads and the readings now stored;
/// when the volume is no longer an estimate, issues the KOR that reconciles it (in the
/// caller's transaction), stores the KOR's reads (the real closing read, where the next period
/// then opens) and returns it. When the estimates ran ahead of the meter (a later real read
/// below the estimated closing), [`settle_overestimate`] corrects the estimated invoices of
/// the chain down instead (the last of those KORs is returned). Otherwise None.
pub async fn reconcile_estimate(
    conn: &mut PgConnection,
    invoice_id: i64,
    opts: &RunOptions,
) -> Result<Option<IssuedInvoice>, StoreError> {
    Ok(reconcile_one(conn, invoice_id, opts).await?.pop())
}

async fn reconcile_one(
    conn: &mut PgConnection,
    invoice_id: i64,
    opts: &RunOptions,
) -> Result<Vec<IssuedInvoice>, StoreError> {
    let cur = correction::current(conn, invoice_id).await?;
    let Some(contract_id) = cur.contract_id.filter(|_| cur.estimated) else {
        return Ok(Vec::new());
    };
    let period = cur.period;
    let stored = chain::of_invoice(conn, invoice_id).await?;
    if chained_past(conn, period, &stored).await? {
        return Ok(Vec::new());
    }
    // The estimate opened at these reads: reconcile from them, not from reads re-chosen.
    let fixed: Vec<(i64, StoredRead, Option<StoredRead>)> = stored
        .iter()
        .map(|r| (r.meter_id, r.opening, None))
        .collect();
    if let Some(pr) = reprice(conn, contract_id, period, &fixed, opts).await? {
        let reason = "Rozliczenie faktury szacunkowej według odczytu rzeczywistego";
        return Ok(vec![post(conn, invoice_id, &pr, reason, opts).await?]);
    }
    settle_overestimate(conn, invoice_id, &stored, opts).await
}

/// The estimated invoices a chain of estimates runs through, oldest first, ending with
/// `head`, and the real read the first of them opened at: (invoice, its reads of the meter).
async fn estimated_tail(
    conn: &mut PgConnection,
    head: (i64, MeterReads),
) -> Result<Vec<(i64, MeterReads)>, StoreError> {
    let mut tail = vec![head];
    while let Some((_, first)) = tail.first().copied() {
        if !first.opening.source.estimated() || tail.len() > 120 {
            break;
        }
        let Some(prev) = chain::estimated_before(conn, first.meter_id, first.opening).await? else {
            break;
        };
        let Some(reads) = chain::of_invoice(conn, prev)
            .await?
            .into_iter()
            .find(|r| r.meter_id == first.meter_id)
        else {
            break;
        };
        tail.insert(0, (prev, reads));
    }
    Ok(tail)
}

/// When a real read arrives below what a chain of estimates billed up to, corrects every
/// estimated invoice of the chain down: its closing becomes the register interpolated (by
/// time, whole litres) between the real read the chain opened at and the new real read, so
/// the estimates plus the next period again add up to what the meter shows.
async fn settle_overestimate(
    conn: &mut PgConnection,
    head: i64,
    stored: &[MeterReads],
    opts: &RunOptions,
) -> Result<Vec<IssuedInvoice>, StoreError> {
    let Some(last) = stored
        .iter()
        .find(|r| r.closing.source.estimated())
        .copied()
    else {
        return Ok(Vec::new());
    };
    let tail = estimated_tail(conn, (head, last)).await?;
    let Some(start) = tail.first().map(|(_, r)| r.opening) else {
        return Ok(Vec::new());
    };
    let Some(real) = query::first_real_after(conn, last.meter_id, start.at).await? else {
        return Ok(Vec::new());
    };
    if real.volume_ml >= last.closing.volume_ml || real.volume_ml < start.volume_ml {
        return Ok(Vec::new());
    }
    let span = (real.at - start.at).num_seconds().max(1);
    let rise = real.volume_ml - start.volume_ml;
    // The register at `t` on the straight line between the two real reads, in whole litres
    // (so the corrected volumes add up exactly), never past the later read.
    let at = |t: chrono::DateTime<chrono::Utc>| -> i64 {
        let part = (t - start.at).num_seconds().clamp(0, span);
        let ml = i128::from(rise) * i128::from(part) / i128::from(span);
        start.volume_ml + i64::try_from(ml).unwrap_or(rise) / 1_000 * 1_000
    };
    let mut done = Vec::with_capacity(tail.len());
    let mut opening = start;
    for (invoice_id, reads) in &tail {
        let closing = StoredRead {
            volume_ml: at(reads.closing.at).max(opening.volume_ml),
            ..reads.closing
        };
        let cur = correction::current(conn, *invoice_id).await?;
        let Some(contract) = cur.contract_id else {
            break;
        };
        let fixed = [(reads.meter_id, opening, Some(closing))];
        let Some(pr) = reprice(conn, contract, cur.period, &fixed, opts).await? else {
            break;
        };
        let reason = "Korekta faktur szacunkowych: odczyt rzeczywisty niższy od szacunku";
        done.push(post(conn, *invoice_id, &pr, reason, opts).await?);
        opening = closing;
    }
    Ok(done)
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
        done.extend(reconcile_one(&mut tx, id, opts).await?);
        tx.commit().await?;
    }
    Ok(done)
}
