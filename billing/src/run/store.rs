//! Stored previews: a run's proposals (quote with lines and totals, reads, input fingerprint)
//! and exceptions as the preview computed them. Approval freezes them; issue posts exactly
//! these rows and records on each which invoice it became or why it was refused.

use super::{chain, price, Proposal, RunOptions, RunPlan, Steps, VolumeBasis};
use crate::invoice::issue::InvoiceDraft;
use crate::invoice::vat;
use crate::store_error::StoreError;
use crate::tariff::Period;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, Row};
use std::sync::Arc;
use std::time::Instant;

fn basis_str(b: VolumeBasis) -> &'static str {
    match b {
        VolumeBasis::Measured => "measured",
        VolumeBasis::Estimated => "estimated",
        VolumeBasis::Norm => "norm",
    }
}

/// Computes the plan of the month and area and stores it as a run in state `preview`;
/// returns the run's id and the plan (its `steps` timing the store).
pub async fn create_preview(
    pool: &PgPool,
    opts: &RunOptions,
) -> Result<(i64, RunPlan), StoreError> {
    let mut plan = price::plan(pool, opts).await?;
    let mut t = Instant::now();
    let mut lap = |steps: &mut Steps, name| {
        steps.add(name, t.elapsed());
        t = Instant::now();
    };
    // The documents are built on a blocking thread while the proposal rows are written.
    let proposals = Arc::new(std::mem::take(&mut plan.proposals));
    let docs = tokio::task::spawn_blocking({
        let (proposals, opts) = (Arc::clone(&proposals), opts.clone());
        move || documents(&proposals, &opts)
    });
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
    save_proposals(&mut tx, run_id, &proposals).await?;
    lap(&mut plan.steps, "proposals (documents built meanwhile)");
    let docs = docs
        .await
        .map_err(|e| StoreError::invalid("run_proposal_quote", e.to_string()))??;
    lap(&mut plan.steps, "documents (rest)");
    save_documents(&mut tx, run_id, &proposals, docs).await?;
    lap(&mut plan.steps, "quotes (COPY)");
    plan.proposals = Arc::try_unwrap(proposals).unwrap_or_else(|shared| (*shared).clone());
    save_exceptions(&mut tx, run_id, &plan).await?;
    lap(&mut plan.steps, "exceptions");
    tx.commit().await?;
    lap(&mut plan.steps, "commit");
    Ok((run_id, plan))
}

/// What issue posts of each proposal, as stored: the quote, the reads and the VAT rows, as
/// JSON text.
struct Documents {
    quotes: Vec<String>,
    reads: Vec<String>,
    vat_rows: Vec<String>,
}

/// The stored documents of the proposals; refuses a proposal whose invoice would not add up
/// (the checks issue made on each draft).
fn documents(proposals: &[Proposal], opts: &RunOptions) -> Result<Documents, StoreError> {
    let mut out = Documents {
        quotes: Vec::with_capacity(proposals.len()),
        reads: Vec::with_capacity(proposals.len()),
        vat_rows: Vec::with_capacity(proposals.len()),
    };
    for (i, p) in proposals.iter().enumerate() {
        let draft = InvoiceDraft::from_quote(
            p.customer_id,
            Some(p.contract_id),
            p.period,
            &p.quote,
            opts.issued_on,
            opts.due_on(),
        );
        draft.check(i)?;
        let rows: Vec<Value> = vat::sales_rows(&draft)?
            .into_iter()
            .map(|(rate, net, vat)| json!({"vat_percent": rate, "net": net, "vat": vat}))
            .collect();
        out.vat_rows.push(Value::Array(rows).to_string());
        out.quotes.push(
            serde_json::to_string(&p.quote)
                .map_err(|e| StoreError::invalid("run_proposal.quote", e.to_string()))?,
        );
        out.reads.push(chain::to_json(&p.reads).to_string());
    }
    Ok(out)
}

async fn save_proposals(
    conn: &mut PgConnection,
    run_id: i64,
    proposals: &[Proposal],
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into run_proposal (billing_run_id, contract_id, contract_number, customer_id,
             period_from, period_to, basis, net, vat, gross, fingerprint)
         select $1, * from unnest($2::bigint[], $3::text[], $4::bigint[], $5::date[],
             $6::date[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[], $11::text[])",
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

/// Appends `json` as a field of COPY's text format: a backslash doubles (JSON text has no raw
/// tab, newline or carriage return — serde_json escapes them).
fn push_copy_field(buf: &mut String, json: &str) {
    for ch in json.chars() {
        if ch == '\\' {
            buf.push('\\');
        }
        buf.push(ch);
    }
}

/// Writes the documents with COPY (binding 100,000 JSON documents as one array parameter is
/// several times slower than streaming them).
async fn save_documents(
    conn: &mut PgConnection,
    run_id: i64,
    proposals: &[Proposal],
    docs: Documents,
) -> Result<(), StoreError> {
    let mut copy = conn
        .copy_in_raw(
            "copy run_proposal_quote (billing_run_id, contract_id, quote, reads, vat_rows)
             from stdin",
        )
        .await?;
    let mut buf = String::with_capacity(1 << 20);
    let rows = proposals.iter().zip(
        docs.quotes
            .iter()
            .zip(docs.reads.iter().zip(&docs.vat_rows)),
    );
    for (p, (quote, (reads, vat_rows))) in rows {
        buf.push_str(&format!("{run_id}\t{}\t", p.contract_id));
        push_copy_field(&mut buf, quote);
        buf.push('\t');
        push_copy_field(&mut buf, reads);
        buf.push('\t');
        push_copy_field(&mut buf, vat_rows);
        buf.push('\n');
        if buf.len() >= 1 << 20 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
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

/// A stored proposal as issue compares it with the data now (its documents stay on the
/// server, where issue posts them from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) contract_id: i64,
    pub(super) contract_number: String,
    pub(super) customer_id: i64,
    pub(super) period: Period,
    pub(super) fingerprint: String,
}

/// The stored proposals of a run not yet issued nor refused, by customer.
pub(super) async fn pending(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<Vec<Stored>, StoreError> {
    let rows = sqlx::query(
        "select contract_id, contract_number, customer_id, period_from, period_to, fingerprint
         from run_proposal
         where billing_run_id = $1 and invoice_id is null and refused is null
         order by customer_id, contract_id",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Stored {
                contract_id: r.try_get("contract_id")?,
                contract_number: r.try_get("contract_number")?,
                customer_id: r.try_get("customer_id")?,
                period: Period::new(r.try_get("period_from")?, r.try_get("period_to")?)?,
                fingerprint: r.try_get("fingerprint")?,
            })
        })
        .collect()
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
