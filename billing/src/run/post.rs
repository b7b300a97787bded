//! Posting stored proposals set-based on the server: the invoices, their lines, VAT rows and
//! reads, and the ledger charges are each one `insert … select` from the preview's
//! `run_proposal` / `run_proposal_quote` rows — exactly what the preview stored, without
//! sending it to the client and back. Numbers come from [`numbering::reserve`] in the order
//! the proposals are given; the invoice rows are inserted in that order, so ids follow numbers.

use super::Steps;
use crate::invoice::issue::IssuedInvoice;
use crate::invoice::numbering::{self, SALES_SERIES};
use crate::ledger::PostingKind;
use crate::store_error::StoreError;
use chrono::NaiveDate;
use sqlx::{PgConnection, Row};
use std::time::Instant;

/// What one posting did.
pub(super) struct Posted {
    /// The invoices, in number order.
    pub(super) issued: Vec<IssuedInvoice>,
    /// Their lines.
    pub(super) lines: usize,
}

/// Posts the stored proposals of `contracts` (in this order) as sales invoices issued on
/// `days.0`, due on `days.1`, in the caller's transaction; records each invoice on its
/// proposal.
pub(super) async fn post(
    conn: &mut PgConnection,
    run_id: i64,
    contracts: &[i64],
    days: (NaiveDate, NaiveDate),
    steps: &mut Steps,
) -> Result<Posted, StoreError> {
    if contracts.is_empty() {
        return Ok(Posted {
            issued: Vec::new(),
            lines: 0,
        });
    }
    let mut t = Instant::now();
    let mut lap = |steps: &mut Steps, name| {
        steps.add(name, t.elapsed());
        t = Instant::now();
    };
    let issued = invoices(conn, run_id, contracts, days).await?;
    lap(steps, "invoices");
    let lines = child_rows(conn, Child::Lines, run_id, contracts).await?;
    lap(steps, "lines");
    child_rows(conn, Child::VatRows, run_id, contracts).await?;
    lap(steps, "VAT rows");
    child_rows(conn, Child::Reads, run_id, contracts).await?;
    lap(steps, "reads");
    ledger(conn, run_id, contracts).await?;
    lap(steps, "ledger");
    let lines = usize::try_from(lines).unwrap_or(usize::MAX);
    Ok(Posted { issued, lines })
}

/// Inserts the invoice rows (numbers reserved here) and records each on its proposal.
async fn invoices(
    conn: &mut PgConnection,
    run_id: i64,
    contracts: &[i64],
    (issued_on, due_on): (NaiveDate, NaiveDate),
) -> Result<Vec<IssuedInvoice>, StoreError> {
    let numbers = numbering::reserve(conn, SALES_SERIES, issued_on, contracts.len()).await?;
    let texts: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    let year = numbers.first().map_or(0, |n| n.year);
    let rows = sqlx::query(
        "with x as (
             select * from unnest($2::bigint[], $3::text[], $4::int[]) with ordinality
                 as x(contract_id, number, seq, n)),
         ins as (
             insert into invoice (number, series, year, seq, kind, customer_id, contract_id,
                 billing_run_id, period_from, period_to, issued_on, due_on, net, vat, gross,
                 estimated)
             select x.number, $5, $6, x.seq, 'VAT', p.customer_id, p.contract_id,
                    p.billing_run_id, p.period_from, p.period_to, $7, $8, p.net, p.vat, p.gross,
                    (q.quote->>'estimated')::boolean
             from x
             join run_proposal p on p.billing_run_id = $1 and p.contract_id = x.contract_id
                                 and p.invoice_id is null and p.refused is null
             join run_proposal_quote q on q.billing_run_id = $1 and q.contract_id = x.contract_id
             order by x.n
             returning invoice_id, number, customer_id, contract_id, gross),
         marked as (
             update run_proposal p set invoice_id = ins.invoice_id from ins
             where p.billing_run_id = $1 and p.contract_id = ins.contract_id)
         select invoice_id, number, customer_id, contract_id, gross from ins
         order by invoice_id",
    )
    .bind(run_id)
    .bind(contracts)
    .bind(&texts)
    .bind(numbers.iter().map(|n| n.seq).collect::<Vec<_>>())
    .bind(SALES_SERIES)
    .bind(year)
    .bind(issued_on)
    .bind(due_on)
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() != contracts.len() {
        return Err(StoreError::invalid(
            "run_proposal",
            format!(
                "{} of {} proposals of run {run_id} have their stored quote",
                rows.len(),
                contracts.len()
            ),
        ));
    }
    rows.iter()
        .map(|r| {
            Ok(IssuedInvoice {
                invoice_id: r.try_get("invoice_id")?,
                number: r.try_get("number")?,
                customer_id: r.try_get("customer_id")?,
                contract_id: r.try_get("contract_id")?,
                gross: r.try_get("gross")?,
            })
        })
        .collect()
}

/// The rows each posted invoice gets from its stored quote.
#[derive(Debug, Clone, Copy)]
enum Child {
    /// The quote's lines in order; a volume line of an estimate is estimated (as
    /// `InvoiceDraft::from_quote` marks it).
    Lines,
    /// The VAT rows as the preview computed them.
    VatRows,
    /// The reads the invoice stands on (the read chain).
    Reads,
}

impl Child {
    /// The insert with its select list, and the JSON array it takes the rows from.
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Child::Lines => (
                "insert into invoice_line (invoice_id, position, item, period_from, period_to,
                     quantity, unit, unit_price, net, vat_percent, estimated)
                 select p.invoice_id, l.n, l.j->>'item', (l.j->>'from')::date,
                        (l.j->>'to')::date, (l.j->>'quantity')::numeric, l.j->>'unit',
                        (l.j->>'unit_price')::numeric, (l.j->>'net')::numeric,
                        (l.j->>'vat_percent')::numeric,
                        (q.quote->>'estimated')::boolean and l.j->>'unit' = 'm3'",
                "jsonb_array_elements(q.quote->'lines') with ordinality as l(j, n)",
            ),
            Child::VatRows => (
                "insert into invoice_vat (invoice_id, vat_percent, net, vat)
                 select p.invoice_id, (v->>'vat_percent')::numeric, (v->>'net')::numeric,
                        (v->>'vat')::numeric",
                "jsonb_array_elements(q.vat_rows) as v",
            ),
            Child::Reads => (
                "insert into invoice_read (invoice_id, meter_id, role, opening_at,
                     opening_ml, opening_source, opening_estimated, closing_at, closing_ml,
                     closing_source, closing_estimated)
                 select p.invoice_id, (m->>'meter_id')::bigint, m->>'role',
                        (m->'opening'->>'at')::timestamptz, (m->'opening'->>'ml')::bigint,
                        m->'opening'->>'source', (m->'opening'->>'estimated')::boolean,
                        (m->'closing'->>'at')::timestamptz, (m->'closing'->>'ml')::bigint,
                        m->'closing'->>'source', (m->'closing'->>'estimated')::boolean",
                "jsonb_array_elements(q.reads) as m",
            ),
        }
    }
}

/// Inserts one kind of child rows of the posted proposals of `contracts`; the rows inserted.
async fn child_rows(
    conn: &mut PgConnection,
    child: Child,
    run_id: i64,
    contracts: &[i64],
) -> Result<u64, StoreError> {
    let (insert, source) = child.sql();
    let sql = format!(
        "{insert}
         from run_proposal p
         join run_proposal_quote q using (billing_run_id, contract_id)
         cross join lateral {source}
         where p.billing_run_id = $1 and p.contract_id = any($2) and p.invoice_id is not null
         order by p.invoice_id"
    );
    let done = sqlx::query(&sql)
        .bind(run_id)
        .bind(contracts)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// A charge per posted invoice of non-zero gross ("Faktura <number>").
async fn ledger(conn: &mut PgConnection, run_id: i64, contracts: &[i64]) -> Result<(), StoreError> {
    sqlx::query(
        "insert into ledger_posting (customer_id, value_date, kind, amount, invoice_id,
             description)
         select i.customer_id, i.issued_on, $3, i.gross, i.invoice_id, 'Faktura ' || i.number
         from run_proposal p join invoice i on i.invoice_id = p.invoice_id
         where p.billing_run_id = $1 and p.contract_id = any($2) and i.gross <> 0
         order by i.invoice_id",
    )
    .bind(run_id)
    .bind(contracts)
    .bind(PostingKind::Charge.as_str())
    .execute(conn)
    .await?;
    Ok(())
}
