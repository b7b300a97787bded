//! Stored previews: a run's proposals (quote with lines and totals, reads, input fingerprint)
//! and exceptions as the preview computed them. Approval freezes them; issue posts exactly
//! these rows and records on each which invoice it became or why it was refused.

use super::{chain, price, Proposal, RunOptions, RunPlan, VolumeBasis};
use crate::store_error::StoreError;
use crate::tariff::Period;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};

fn basis_str(b: VolumeBasis) -> &'static str {
    match b {
        VolumeBasis::Measured => "measured",
        VolumeBasis::Estimated => "estimated",
        VolumeBasis::Norm => "norm",
    }
}

fn parse_basis(s: &str) -> VolumeBasis {
    match s {
        "estimated" => VolumeBasis::Estimated,
        "norm" => VolumeBasis::Norm,
        _ => VolumeBasis::Measured,
    }
}

/// Computes the plan of the month and area and stores it as a run in state `preview`;
/// returns the run's id and the plan.
pub async fn create_preview(
    pool: &PgPool,
    opts: &RunOptions,
) -> Result<(i64, RunPlan), StoreError> {
    let mut conn = pool.acquire().await?;
    let plan = price::plan(&mut conn, opts).await?;
    drop(conn);
    let month = opts.month_period();
    let mut tx = pool.begin().await?;
    let run_id: i64 = sqlx::query_scalar(
        "insert into billing_run (period_from, period_to, area) values ($1, $2, $3)
         returning billing_run_id",
    )
    .bind(month.from())
    .bind(month.to())
    .bind(opts.area.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    save_proposals(&mut tx, run_id, &plan.proposals).await?;
    save_exceptions(&mut tx, run_id, &plan).await?;
    tx.commit().await?;
    Ok((run_id, plan))
}

async fn save_proposals(
    conn: &mut PgConnection,
    run_id: i64,
    proposals: &[Proposal],
) -> Result<(), StoreError> {
    let quotes = proposals
        .iter()
        .map(|p| serde_json::to_value(&p.quote))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| StoreError::invalid("run_proposal.quote", e.to_string()))?;
    sqlx::query(
        "insert into run_proposal (billing_run_id, contract_id, contract_number, customer_id,
             period_from, period_to, basis, quote, reads, net, vat, gross, fingerprint)
         select $1, * from unnest($2::bigint[], $3::text[], $4::bigint[], $5::date[],
             $6::date[], $7::text[], $8::jsonb[], $9::jsonb[], $10::numeric[], $11::numeric[],
             $12::numeric[], $13::text[])",
    )
    .bind(run_id)
    .bind(proposals.iter().map(|p| p.contract_id).collect::<Vec<_>>())
    .bind(
        proposals
            .iter()
            .map(|p| p.contract_number.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(proposals.iter().map(|p| p.customer_id).collect::<Vec<_>>())
    .bind(
        proposals
            .iter()
            .map(|p| p.period.from())
            .collect::<Vec<_>>(),
    )
    .bind(proposals.iter().map(|p| p.period.to()).collect::<Vec<_>>())
    .bind(
        proposals
            .iter()
            .map(|p| basis_str(p.basis))
            .collect::<Vec<_>>(),
    )
    .bind(quotes)
    .bind(
        proposals
            .iter()
            .map(|p| chain::to_json(&p.reads))
            .collect::<Vec<_>>(),
    )
    .bind(proposals.iter().map(|p| p.quote.net).collect::<Vec<_>>())
    .bind(proposals.iter().map(|p| p.quote.vat).collect::<Vec<_>>())
    .bind(proposals.iter().map(|p| p.quote.gross).collect::<Vec<_>>())
    .bind(
        proposals
            .iter()
            .map(|p| p.fingerprint.as_str())
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn save_exceptions(
    conn: &mut PgConnection,
    run_id: i64,
    plan: &RunPlan,
) -> Result<(), StoreError> {
    let e = &plan.exceptions;
    sqlx::query(
        "insert into run_exception (billing_run_id, contract_id, contract_number, customer_id,
             kind, message)
         select $1, * from unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[])",
    )
    .bind(run_id)
    .bind(e.iter().map(|x| x.contract_id).collect::<Vec<_>>())
    .bind(
        e.iter()
            .map(|x| x.contract_number.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(e.iter().map(|x| x.customer_id).collect::<Vec<_>>())
    .bind(e.iter().map(|x| x.kind.as_str()).collect::<Vec<_>>())
    .bind(e.iter().map(|x| x.message.as_str()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// A run's month, area and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The run month.
    pub month: Period,
    /// District filter.
    pub area: Option<String>,
    /// `preview`, `approved` or `issued`.
    pub state: String,
}

/// Looks a run up.
pub async fn run_info(conn: &mut PgConnection, run_id: i64) -> Result<RunInfo, StoreError> {
    let r = sqlx::query(
        "select period_from, period_to, area, state from billing_run where billing_run_id = $1",
    )
    .bind(run_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| StoreError::not_found(format!("billing run {run_id}")))?;
    Ok(RunInfo {
        month: Period::new(r.try_get("period_from")?, r.try_get("period_to")?)?,
        area: r.try_get("area")?,
        state: r.try_get("state")?,
    })
}

/// The stored proposals of a run not yet issued nor refused, by customer.
pub(super) async fn pending(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<Vec<Proposal>, StoreError> {
    let rows = sqlx::query(
        "select contract_id, contract_number, customer_id, period_from, period_to, basis, quote,
                reads, fingerprint
         from run_proposal
         where billing_run_id = $1 and invoice_id is null and refused is null
         order by customer_id, contract_id",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let contract_id: i64 = r.try_get("contract_id")?;
            let quote: Value = r.try_get("quote")?;
            let basis: String = r.try_get("basis")?;
            Ok(Proposal {
                contract_id,
                contract_number: r.try_get("contract_number")?,
                customer_id: r.try_get("customer_id")?,
                period: Period::new(r.try_get("period_from")?, r.try_get("period_to")?)?,
                basis: parse_basis(&basis),
                quote: serde_json::from_value(quote).map_err(|e| {
                    StoreError::invalid(
                        "run_proposal.quote",
                        format!("contract {contract_id}: {e}"),
                    )
                })?,
                reads: chain::from_json(&r.try_get("reads")?)?,
                fingerprint: r.try_get("fingerprint")?,
            })
        })
        .collect()
}

/// Records which invoice each issued proposal became.
pub(super) async fn mark_issued(
    conn: &mut PgConnection,
    run_id: i64,
    issued: &[(i64, i64)],
) -> Result<(), StoreError> {
    sqlx::query(
        "update run_proposal p set invoice_id = x.invoice_id
         from unnest($2::bigint[], $3::bigint[]) as x(contract_id, invoice_id)
         where p.billing_run_id = $1 and p.contract_id = x.contract_id",
    )
    .bind(run_id)
    .bind(issued.iter().map(|(c, _)| *c).collect::<Vec<_>>())
    .bind(issued.iter().map(|(_, i)| *i).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records why issue refused proposals (their input changed since the preview).
pub(super) async fn mark_refused(
    conn: &mut PgConnection,
    run_id: i64,
    refused: &[(i64, &str)],
) -> Result<(), StoreError> {
    sqlx::query(
        "update run_proposal p set refused = x.reason
         from unnest($2::bigint[], $3::text[]) as x(contract_id, reason)
         where p.billing_run_id = $1 and p.contract_id = x.contract_id",
    )
    .bind(run_id)
    .bind(refused.iter().map(|(c, _)| *c).collect::<Vec<_>>())
    .bind(refused.iter().map(|(_, r)| *r).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}
